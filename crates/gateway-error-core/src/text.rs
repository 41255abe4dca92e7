//! The sanitizing rules for caller- and upstream-supplied text.
//!
//! Applied once, when a value enters an error, so every format carries the
//! same string: control characters and Unicode noncharacters become a space,
//! and the text is cut to a byte budget on a character boundary.

use std::borrow::Cow;

/// Text held by an error: borrowed when `'static`, owned otherwise.
pub(crate) type Text = Cow<'static, str>;

/// The most bytes of client-facing details an error keeps.
///
/// # Examples
///
/// ```
/// use gateway_error::{BadGateway, MAX_DETAILS_LEN};
///
/// let err = BadGateway::new().with_details("x".repeat(10_000));
/// assert_eq!(err.details().map(str::len), Some(MAX_DETAILS_LEN));
/// ```
pub const MAX_DETAILS_LEN: usize = 1024;
/// The most bytes of an upstream name or next hop an error keeps.
///
/// # Examples
///
/// ```
/// use gateway_error::{BadGateway, MAX_NAME_LEN};
///
/// let err = BadGateway::upstream("é".repeat(100));
/// assert!(err.upstream_name().is_some_and(|name| name.len() <= MAX_NAME_LEN));
/// ```
pub const MAX_NAME_LEN: usize = 128;
/// The most bytes of a request id an error keeps.
///
/// # Examples
///
/// ```
/// use gateway_error::{BadGateway, RequestId};
///
/// let err = BadGateway::new().with_request_id("r".repeat(500));
/// assert_eq!(err.request_id().map(str::len), Some(RequestId::MAX_LEN));
/// ```
pub(crate) const MAX_REQUEST_ID_LEN: usize = 128;

fn is_forbidden(c: char) -> bool {
    c.is_control() || matches!(c as u32, 0xFDD0..=0xFDEF) || (c as u32 & 0xFFFE) == 0xFFFE
}

/// Cuts `s` to at most `max` bytes, on a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Client-facing text: control characters and noncharacters become spaces,
/// at most `max` bytes. Borrows when nothing changes.
pub(crate) fn clean(text: Text, max: usize) -> Text {
    let cut = truncate(&text, max);
    // Printable ASCII, the usual case, is checked by byte.
    let printable = |b: &u8| (b' '..=b'~').contains(b);
    if cut.len() == text.len() && cut.as_bytes().iter().all(printable) {
        return text;
    }
    if cut.len() == text.len() && !cut.contains(is_forbidden) {
        return text;
    }
    let cleaned: String = cut
        .chars()
        .map(|c| if is_forbidden(c) { ' ' } else { c })
        .collect();
    Cow::Owned(cleaned)
}

/// The printable-ASCII form RFC 8941 Strings need (non-ASCII becomes `?`).
pub(crate) fn printable_ascii(s: &str) -> Cow<'_, str> {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(
            s.chars()
                .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
                .collect(),
        )
    }
}

/// Whether `base` followed by a kind token is an RFC 3986 URI reference:
/// `scheme://host[:port]/path`, `scheme:path` or `/path`.
pub(crate) fn is_type_base(base: &str) -> bool {
    fn path_ok(p: &[u8]) -> bool {
        let mut i = 0;
        while let Some(&c) = p.get(i) {
            if c == b'%' {
                if !p
                    .get(i + 1..i + 3)
                    .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
                {
                    return false;
                }
                i += 3;
            } else if c.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&c) {
                i += 1;
            } else {
                return false;
            }
        }
        true
    }
    let b = base.as_bytes();
    if b.first() == Some(&b'/') {
        return b.get(1) != Some(&b'/') && path_ok(b);
    }
    let Some(colon) = b.iter().position(|&c| c == b':') else {
        return false;
    };
    let (scheme, rest) = (&b[..colon], &b[colon + 1..]);
    let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"+-.".contains(c));
    let Some(authority) = rest.strip_prefix(b"//") else {
        return scheme_ok && rest.first().is_some_and(|&c| c != b'/') && path_ok(rest);
    };
    let Some(slash) = authority.iter().position(|&c| c == b'/') else {
        return false;
    };
    let (host, path) = authority.split_at(slash);
    let (name, port) = match host.iter().position(|&c| c == b':') {
        Some(i) => (&host[..i], &host[i + 1..]),
        None => (host, &b""[..]),
    };
    scheme_ok
        && !name.is_empty()
        && name
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-.".contains(c))
        && port.iter().all(u8::is_ascii_digit)
        && path_ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_borrows_clean_text() {
        let t = clean(Cow::Borrowed("product-service"), MAX_NAME_LEN);
        assert!(matches!(t, Cow::Borrowed("product-service")));
    }

    #[test]
    fn clean_replaces_controls_and_noncharacters() {
        let t = clean(
            Cow::Borrowed("a\r\nb\0c\u{7f}d\u{85}e\u{FFFE}f\u{FDD0}g\u{1FFFF}h"),
            100,
        );
        assert_eq!(t, "a  b c d e f g h");
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(
            clean(Cow::Owned("€".repeat(400)), MAX_DETAILS_LEN).len(),
            1023
        );
        assert_eq!(truncate("abc", 3), "abc");
    }

    #[test]
    fn printable_ascii_maps_the_rest() {
        assert_eq!(printable_ascii("10.0.0.1:8080"), "10.0.0.1:8080");
        assert_eq!(printable_ascii("héllo\t"), "h?llo?");
    }
}
