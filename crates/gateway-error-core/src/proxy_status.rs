//! The RFC 9209 `Proxy-Status` field: our member, and the upstream's
//! members it is appended to.

use std::ops::Range;

use http::{HeaderName, HeaderValue};
use sfv::{ListEntry, Parser, Version};

use crate::context::RenderContext;
use crate::error::Inner;
use crate::negotiate::is_tchar;
use crate::text::printable_ascii;

/// The `Proxy-Status` field name (RFC 9209).
///
/// # Examples
///
/// ```
/// assert_eq!(gateway_error_core::PROXY_STATUS.as_str(), "proxy-status");
/// ```
pub static PROXY_STATUS: HeaderName = HeaderName::from_static("proxy-status");

/// The longest upstream `Proxy-Status` field that is kept and appended to;
/// a longer one is dropped, so a hostile upstream cannot grow our headers.
///
/// # Examples
///
/// ```
/// use gateway_error_core::{render, BadGateway, GatewayError, Policy, RenderContext, MAX_UPSTREAM_PROXY_STATUS_LEN};
/// use http::HeaderValue;
///
/// let huge = HeaderValue::from_str(&"a, ".repeat(MAX_UPSTREAM_PROXY_STATUS_LEN))?;
/// let err = GatewayError::from(BadGateway::new().with_upstream_proxy_status(huge));
/// let policy = Policy::new().with_proxy_name("edge");
/// let response = render(&err, &RenderContext::new().with_policy(&policy));
/// assert_eq!(response.headers()["proxy-status"], "edge");
/// # Ok::<(), http::header::InvalidHeaderValue>(())
/// ```
pub const MAX_UPSTREAM_PROXY_STATUS_LEN: usize = 4096;

/// The `Proxy-Status` field: the upstream's members, then ours
/// (RFC 9209 section 2), appended to `out`; `None` (and `out` unchanged)
/// when the policy names no proxy.
pub(crate) fn write_proxy_status(
    inner: &Inner,
    ctx: &RenderContext<'_>,
    out: &mut String,
) -> Option<Range<usize>> {
    let start = out.len();
    let written = write_proxy_members(inner, ctx, out);
    if written.is_none() {
        out.truncate(start);
    }
    written.map(|()| start..out.len())
}

fn write_proxy_members(inner: &Inner, ctx: &RenderContext<'_>, out: &mut String) -> Option<()> {
    let name = ctx.policy().proxy_name()?;
    if let Some(received) = &inner.upstream_proxy_status {
        let mut list = sfv::ListSerializer::with_buffer(&mut *out);
        for member in upstream_members(received) {
            list.members([&member]);
        }
        if list.finish().is_some() {
            out.push_str(", ");
        }
    }
    // Our member, serialized here (RFC 8941 section 4.1): the registry's
    // names are Tokens, and `printable_ascii` makes any text a valid String.
    if is_sf_token(name) {
        out.push_str(name);
    } else {
        sf_string(out, &printable_ascii(name));
    }
    if let Some(kind) = inner.kind {
        out.push_str(";error=");
        out.push_str(kind.as_str());
    }
    if let Some(next_hop) = next_hop(inner, ctx) {
        out.push_str(";next-hop=");
        sf_string(out, &printable_ascii(next_hop));
    }
    if let Some(status) = inner.received_status {
        out.push_str(";received-status=");
        out.push_str(status.as_str());
    }
    Some(())
}

/// Whether `s` is an RFC 8941 Token: a letter or `*`, then tchar, `:` or `/`.
fn is_sf_token(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'*')
        && bytes.all(|b| is_tchar(b) || b == b':' || b == b'/')
}

/// An RFC 8941 String of `s`, which must be printable ASCII.
fn sf_string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        if matches!(b, b'"' | b'\\') {
            out.push_str(&s[start..i]);
            out.push('\\');
            start = i;
        }
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// The `next-hop` the policy lets `Proxy-Status` show.
fn next_hop<'a>(inner: &'a Inner, ctx: &RenderContext<'_>) -> Option<&'a str> {
    inner
        .next_hop
        .as_deref()
        .or(inner.upstream.as_deref())
        .filter(|_| ctx.policy().shows_upstream_names())
}

/// At least the length [`write_proxy_status`] writes (exactly, unless the
/// upstream sent a field or a name needs replacing): String items are
/// quoted and escape `"` and `\`, upstream members are re-serialized.
pub(crate) fn proxy_status_len(inner: &Inner, ctx: &RenderContext<'_>) -> usize {
    fn sf_string_len(s: &str) -> usize {
        2 + s.len() + s.bytes().filter(|b| matches!(b, b'"' | b'\\')).count()
    }
    let Some(name) = ctx.policy().proxy_name() else {
        return 0;
    };
    let upstream = inner
        .upstream_proxy_status
        .as_ref()
        .map_or(0, |v| 2 * v.len() + 2);
    upstream
        + sf_string_len(name)
        + inner
            .kind
            .map_or(0, |kind| ";error=".len() + kind.as_str().len())
        + next_hop(inner, ctx).map_or(0, |hop| ";next-hop=".len() + sf_string_len(hop))
        + inner
            .received_status
            .map_or(0, |_| ";received-status=000".len())
}

/// The members of an upstream's `Proxy-Status` worth keeping: the field
/// must parse as an RFC 8941 List and fit [`MAX_UPSTREAM_PROXY_STATUS_LEN`];
/// members that are not a Token or String item are dropped.
fn upstream_members(value: &HeaderValue) -> Vec<ListEntry> {
    if value.len() > MAX_UPSTREAM_PROXY_STATUS_LEN {
        return Vec::new();
    }
    let parsed: Result<sfv::List, _> = Parser::new(value.as_bytes())
        .with_version(Version::Rfc8941)
        .parse();
    parsed
        .map(|list| {
            list.into_iter()
                .filter(|entry| match entry {
                    ListEntry::Item(item) => matches!(
                        item.bare_item,
                        sfv::BareItem::Token(_) | sfv::BareItem::String(_)
                    ),
                    ListEntry::InnerList(_) => false,
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Policy;
    use crate::error::{BadGateway, GatewayError};
    use crate::render::render;
    use bytes::Bytes;
    use http::{Response, StatusCode};

    fn header<'a>(response: &'a Response<Bytes>, name: &str) -> Option<&'a str> {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().expect("ascii"))
    }

    #[test]
    fn proxy_status_appends_to_the_upstream_field() {
        let err: GatewayError = BadGateway::upstream("product-service")
            .with_received_status(StatusCode::BAD_GATEWAY)
            .with_upstream_proxy_status(HeaderValue::from_static(
                "inner-lb; error=connection_timeout,  \"10.0.0.1\", (bad list), b;x=?0",
            ))
            .into();
        let policy = Policy::new().with_proxy_name("gateway demo");
        let response = render(&err, &RenderContext::new().with_policy(&policy));
        assert_eq!(
            header(&response, "proxy-status"),
            Some(
                r#"inner-lb;error=connection_timeout, "10.0.0.1", b;x=?0, "gateway demo";received-status=502"#
            )
        );
        // An upstream field that does not parse, or is too long, is dropped.
        for bad in ["a=;", "x; error=@", &"a, ".repeat(2000)] {
            let err: GatewayError = BadGateway::new()
                .with_upstream_proxy_status(HeaderValue::from_str(bad).expect("valid header"))
                .into();
            let response = render(&err, &RenderContext::new().with_policy(&policy));
            assert_eq!(header(&response, "proxy-status"), Some(r#""gateway demo""#));
        }
    }

    #[test]
    fn sf_tokens_and_strings_match_sfv() {
        let mut samples: Vec<String> = vec![
            String::new(),
            "gateway-demo".into(),
            "*edge".into(),
            "a:b/c".into(),
            "9lives".into(),
            "gateway demo".into(),
        ];
        for a in 0x20u8..0x7f {
            samples.push(char::from(a).to_string());
            for b in 0x20u8..0x7f {
                samples.push([char::from(a), char::from(b)].iter().collect());
            }
        }
        for s in &samples {
            assert_eq!(
                is_sf_token(s),
                sfv::TokenRef::from_str(s).is_ok(),
                "token {s:?}"
            );
            let mut ours = String::new();
            sf_string(&mut ours, s);
            let mut theirs = String::new();
            let _ = sfv::ItemSerializer::with_buffer(&mut theirs)
                .bare_item(sfv::StringRef::from_str(s).expect("printable"));
            assert_eq!(ours, theirs, "string {s:?}");
        }
    }
}
