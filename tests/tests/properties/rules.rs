//! The documented sanitizing rules, written independently of the crate.

use super::*;

/// Control characters (Unicode `Cc`: U+0000..=U+001F, U+007F..=U+009F) and
/// noncharacters (U+FDD0..=U+FDEF and the last two code points of every
/// plane).
pub(crate) fn forbidden(c: char) -> bool {
    let u = u32::from(c);
    u <= 0x1f
        || (0x7f..=0x9f).contains(&u)
        || (0xfdd0..=0xfdef).contains(&u)
        || u & 0xfffe == 0xfffe
}

/// The longest prefix of whole characters that fits in `max` bytes.
pub(crate) fn cut(s: &str, max: usize) -> &str {
    let mut end = 0;
    for c in s.chars() {
        if end + c.len_utf8() > max {
            break;
        }
        end += c.len_utf8();
    }
    &s[..end]
}

/// Details, upstream names, next hops: cut to the cap on a character
/// boundary, forbidden characters become spaces.
pub(crate) fn sanitized(s: &str, max: usize) -> String {
    cut(s, max)
        .chars()
        .map(|c| if forbidden(c) { ' ' } else { c })
        .collect()
}

/// A request id set on an error: visible ASCII, every other character
/// becomes `_`, at most 128 bytes; an empty id is dropped.
pub(crate) fn sanitized_request_id(s: &str) -> Option<String> {
    let mapped: String = s
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .take(gateway_error::RequestId::MAX_LEN)
        .collect();
    (!mapped.is_empty()).then_some(mapped)
}

/// A request id given to the render context is used only when it is
/// already valid: 1..=128 bytes of visible ASCII.
pub(crate) fn valid_context_id(s: &str) -> bool {
    (1..=gateway_error::RequestId::MAX_LEN).contains(&s.len())
        && s.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// RFC 8941 Strings are printable ASCII: a sanitized name with every other
/// character as `?`.
pub(crate) fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect()
}

/// The name a policy keeps for `Proxy-Status`: sanitized, printable ASCII,
/// `None` when only spaces are left.
pub(crate) fn expected_proxy_name(s: &str) -> Option<String> {
    let name = printable(&sanitized(s, MAX_NAME_LEN));
    (!name.trim_matches(' ').is_empty()).then_some(name)
}

pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[test]
fn the_reference_sanitizer_matches_documented_examples() {
    assert_eq!(
        sanitized("a\r\nb\0c\u{7f}d\u{85}e\u{FFFE}f\u{FDD0}g\u{1FFFF}h", 100),
        "a  b c d e f g h"
    );
    assert_eq!(sanitized(&"€".repeat(400), MAX_DETAILS_LEN).len(), 1023);
    assert_eq!(sanitized_request_id("a b\r\né").as_deref(), Some("a_b___"));
    assert_eq!(sanitized_request_id(""), None);
    assert_eq!(printable("héllo\t"), "h?llo?");
}
