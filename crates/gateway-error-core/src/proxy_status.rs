//! The RFC 9209 `Proxy-Status` field: our member, and the upstream's
//! members it is appended to.

use std::ops::Range;

use std::convert::Infallible;

use bytes::{BufMut as _, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use sfv::visitor::{
    EntryVisitor, Ignored, InnerListVisitor, ItemVisitor, ListVisitor, ParameterVisitor,
};
use sfv::{BareItem, BareItemFromInput, GenericBareItem, KeyRef, ListEntry, Parser, Version};

use crate::context::RenderContext;
use crate::error::Inner;
use crate::negotiate::is_tchar;
use crate::registry::ProxyError;
use crate::text::printable_ascii;

/// The `Proxy-Status` field name (RFC 9209).
///
/// # Examples
///
/// ```
/// assert_eq!(gateway_error::PROXY_STATUS.as_str(), "proxy-status");
/// ```
pub const PROXY_STATUS: HeaderName = HeaderName::from_static("proxy-status");

/// The longest `Proxy-Status` field this crate reads, keeps or sends: one
/// limit for [`parse`](crate::parse), for the upstream field a gateway
/// keeps ([`GatewayError::from_upstream_response`](crate::GatewayError::from_upstream_response)),
/// and for the field it renders. A longer upstream field is dropped, so a
/// hostile upstream cannot grow our headers; the rendered field drops the
/// oldest forwarded members until this gateway's own member fits, so that
/// whatever an upstream sent, a client reads our member.
///
/// A field sent as several field lines is one list (RFC 9110 section 5.3,
/// RFC 8941 section 4.2): the limit applies to the lines combined.
///
/// # Examples
///
/// ```
/// use gateway_error::{parse, render, BadGateway, GatewayError, Policy, RenderContext, MAX_PROXY_STATUS_LEN};
/// use http::HeaderValue;
///
/// let huge = HeaderValue::from_str(&"a, ".repeat(MAX_PROXY_STATUS_LEN))?;
/// let err = GatewayError::from(BadGateway::new().with_upstream_proxy_status(huge));
/// let policy = Policy::new().with_proxy_name("edge");
/// let response = render(&err, &RenderContext::new().with_policy(&policy));
/// assert_eq!(response.headers()["proxy-status"], "edge");
///
/// // Just under the limit: kept, and as much of it as fits beside ours,
/// // the newest members first.
/// let full = HeaderValue::from_str(&format!("{}b", "a, ".repeat(MAX_PROXY_STATUS_LEN / 3 - 1)))?;
/// let err = GatewayError::from(BadGateway::new().with_upstream_proxy_status(full));
/// let shown = policy.with_upstream_names(true);
/// let response = render(&err, &RenderContext::new().with_policy(&shown));
/// let sent = &response.headers()["proxy-status"];
/// assert!(sent.len() <= MAX_PROXY_STATUS_LEN);
/// assert!(sent.to_str()?.ends_with("a, b, edge"));
/// assert!(parse(response.status(), response.headers(), response.body())?.upstream_proxy_status().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MAX_PROXY_STATUS_LEN: usize = 4096;

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
    let policy = ctx.policy();
    let name = policy.proxy_name()?;
    let Some(received) = &inner.upstream_proxy_status else {
        write_our_member(inner, ctx, name, out);
        return Some(());
    };
    // Ours is written first to know its length, then moved after the
    // forwarded members that fit beside it.
    let start = out.len();
    write_our_member(inner, ctx, name, out);
    let ours = out.split_off(start);
    let members: Vec<String> = upstream_members(received, policy.shows_upstream_names())
        .iter()
        .filter_map(|member| {
            let mut list = sfv::ListSerializer::new();
            list.members([member]);
            list.finish()
        })
        .collect();
    // The whole field stays within the limit that `parse` reads, so that a
    // client always finds our member: the oldest members (first, closest
    // to the origin) are dropped first. Ours always fits: names are capped.
    let mut room = MAX_PROXY_STATUS_LEN.saturating_sub(ours.len());
    let mut first = members.len();
    for (i, member) in members.iter().enumerate().rev() {
        let Some(left) = room.checked_sub(member.len() + ", ".len()) else {
            break;
        };
        room = left;
        first = i;
    }
    for member in &members[first..] {
        out.push_str(member);
        out.push_str(", ");
    }
    out.push_str(&ours);
    Some(())
}

/// This proxy's member (RFC 8941 section 4.1): the registry's names are
/// Tokens, and `printable_ascii` makes any text a valid String.
fn write_our_member(inner: &Inner, ctx: &RenderContext<'_>, name: &str, out: &mut String) {
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

/// The upstream's `Proxy-Status` field from a response's headers: every
/// field line, in order, combined into one list value with `", "`
/// (RFC 9110 section 5.3, RFC 8941 section 4.2); empty lines add nothing.
/// `None` when there is none, or when the combined value is longer than
/// [`MAX_PROXY_STATUS_LEN`].
pub(crate) fn upstream_field(headers: &HeaderMap) -> Option<HeaderValue> {
    let mut lines = headers
        .get_all(&PROXY_STATUS)
        .iter()
        .filter(|line| !line.as_bytes().trim_ascii().is_empty());
    let first = lines.next()?;
    let Some(second) = lines.next() else {
        // One line: shared, not copied.
        return Some(first.clone()).filter(|v| v.len() <= MAX_PROXY_STATUS_LEN);
    };
    let mut combined = BytesMut::with_capacity(first.len() + 2 + second.len());
    for line in [first, second].into_iter().chain(lines) {
        let line = line.as_bytes().trim_ascii();
        if !combined.is_empty() {
            combined.put_slice(b", ");
        }
        if combined.len() + line.len() > MAX_PROXY_STATUS_LEN {
            return None;
        }
        combined.put_slice(line);
    }
    // Field lines joined with ", " are still a valid field value.
    HeaderValue::from_maybe_shared(combined.freeze()).ok()
}

/// The `Integer` parameters RFC 9209 defines (sections 2.1.4 and 2.3):
/// numbers, which name nothing and carry no text.
const INTEGER_PARAMS: [&str; 9] = [
    "received-status",
    "info-code",
    "alert-id",
    "status-code",
    "header-section-size",
    "header-size",
    "body-size",
    "trailer-section-size",
    "trailer-size",
];

/// Whether a parameter of a forwarded member may reach clients while the
/// policy hides upstream names: an `error` that is a registry token, or one
/// of RFC 9209's Integer parameters. Everything else may name a host
/// (`next-hop`) or carry an upstream's text (`details`, `rcode`,
/// `alert-message`, `header-name`, unknown extensions).
fn is_anonymous_param(key: &str, value: &BareItem) -> bool {
    match value {
        BareItem::Token(token) => key == "error" && token.as_str().parse::<ProxyError>().is_ok(),
        BareItem::Integer(_) => INTEGER_PARAMS.contains(&key),
        _ => false,
    }
}

/// The name a forwarded member gets while the policy hides upstream names:
/// RFC 9209 lets a member's identity be "a generated string", and the one
/// a hop chose for itself can name an internal host (`db-primary.internal`,
/// `10.0.0.7:5432`).
pub(crate) const HIDDEN_NAME: &str = "upstream";

/// [`HIDDEN_NAME`] as a Token, checked at compile time.
const HIDDEN_TOKEN: &sfv::TokenRef = sfv::TokenRef::constant(HIDDEN_NAME);

/// The members of an upstream's `Proxy-Status` worth forwarding, in order:
/// the field must parse as an RFC 8941 List and fit
/// [`MAX_PROXY_STATUS_LEN`]; members that are not a Token or String
/// item are dropped.
///
/// With upstream names hidden (`show_names == false`), every member is
/// renamed [`HIDDEN_NAME`] (an upstream-chosen name, Token or String, may
/// name an internal host) and keeps only the parameters
/// [`is_anonymous_param`] allows: what happened at each hop reaches the
/// client, not where.
fn upstream_members(value: &HeaderValue, show_names: bool) -> Vec<ListEntry> {
    if value.len() > MAX_PROXY_STATUS_LEN {
        return Vec::new();
    }
    let parsed: Result<sfv::List, _> = Parser::new(value.as_bytes())
        .with_version(Version::Rfc8941)
        .parse();
    let Ok(list) = parsed else {
        return Vec::new();
    };
    list.into_iter()
        .filter_map(|entry| match entry {
            ListEntry::Item(mut item) => match item.bare_item {
                BareItem::Token(_) | BareItem::String(_) => {
                    if !show_names {
                        item.bare_item = BareItem::Token(HIDDEN_TOKEN.to_owned());
                        item.params
                            .retain(|key, value| is_anonymous_param(key.as_str(), value));
                    }
                    Some(ListEntry::Item(item))
                }
                _ => None,
            },
            ListEntry::InnerList(_) => None,
        })
        .collect()
}

/// What a client reads from the last member of a `Proxy-Status` field, the
/// intermediary closest to it, which generated the response (RFC 9209
/// section 2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LastMember {
    /// Its `error` parameter, when that is a registry token.
    pub(crate) error: Option<ProxyError>,
    /// Its `received-status` parameter, when that is an Integer status code.
    pub(crate) received_status: Option<StatusCode>,
}

impl LastMember {
    /// Reads the last member of `value`, which must be a valid RFC 8941 List
    /// (else nothing is read), with `sfv`'s visitor: nothing is allocated
    /// unless a String needs unescaping.
    pub(crate) fn of(value: &[u8]) -> Self {
        Parser::new(value)
            .with_version(Version::Rfc8941)
            .parse_list_with_visitor(Self::default())
            .unwrap_or_default()
    }
}

impl<'de> ListVisitor<'de> for LastMember {
    type Out = Self;
    type Error = Infallible;

    fn entry(&mut self) -> Result<impl EntryVisitor<'de>, Self::Error> {
        // Each member replaces what an earlier one said.
        *self = Self::default();
        Ok(self)
    }

    fn finish(self) -> Result<Self::Out, Self::Error> {
        Ok(self)
    }
}

impl<'de> EntryVisitor<'de> for &mut LastMember {
    type Error = Infallible;

    fn item(self) -> Result<impl ItemVisitor<'de>, Self::Error> {
        Ok(self)
    }

    fn inner_list(self) -> Result<impl InnerListVisitor<'de>, Self::Error> {
        // Not an intermediary (RFC 9209 section 2): it says nothing.
        Ok(Ignored)
    }
}

impl<'de> ItemVisitor<'de> for &mut LastMember {
    type Out = Option<()>;
    type Error = Infallible;

    fn bare_item(
        self,
        bare_item: BareItemFromInput<'de>,
    ) -> Result<impl ParameterVisitor<'de, Out = Self::Out>, Self::Error> {
        // Only a Token or String names an intermediary.
        Ok(matches!(
            bare_item,
            GenericBareItem::Token(_) | GenericBareItem::String(_)
        )
        .then_some(self))
    }
}

impl<'de> ParameterVisitor<'de> for &mut LastMember {
    type Out = ();
    type Error = Infallible;

    fn parameter(
        &mut self,
        key: &'de KeyRef,
        value: BareItemFromInput<'de>,
    ) -> Result<(), Self::Error> {
        // A key given twice: the last one counts (RFC 8941 section 4.2.3.2).
        match key.as_str() {
            "error" => {
                self.error = value
                    .as_token()
                    .and_then(|token| token.as_str().parse().ok());
            }
            "received-status" => {
                self.received_status = value
                    .as_integer()
                    .and_then(|n| u16::try_from(i64::from(n)).ok())
                    .and_then(|n| StatusCode::from_u16(n).ok());
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(self) -> Result<Self::Out, Self::Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Policy;
    use crate::error::{BadGateway, GatewayError};
    use crate::render::render;
    use bytes::Bytes;
    use http::{HeaderMap, Response, StatusCode};

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
        let hidden = Policy::new().with_proxy_name("gateway demo");
        let response = render(&err, &RenderContext::new().with_policy(&hidden));
        assert_eq!(
            header(&response, "proxy-status"),
            Some(
                r#"upstream;error=connection_timeout, upstream, upstream, "gateway demo";received-status=502"#
            )
        );
        let shown = hidden.clone().with_upstream_names(true);
        let response = render(&err, &RenderContext::new().with_policy(&shown));
        assert_eq!(
            header(&response, "proxy-status"),
            Some(
                r#"inner-lb;error=connection_timeout, "10.0.0.1", b;x=?0, "gateway demo";next-hop="product-service";received-status=502"#
            )
        );
        // An upstream field that does not parse, or is too long, is dropped.
        for bad in ["a=;", "x; error=@", &"a, ".repeat(2000)] {
            let err: GatewayError = BadGateway::new()
                .with_upstream_proxy_status(HeaderValue::from_str(bad).expect("valid header"))
                .into();
            for policy in [&hidden, &shown] {
                let response = render(&err, &RenderContext::new().with_policy(policy));
                assert_eq!(header(&response, "proxy-status"), Some(r#""gateway demo""#));
            }
        }
    }

    #[test]
    fn hidden_names_rename_every_member_and_keep_only_registry_errors_and_integer_params() {
        let received = HeaderValue::from_static(concat!(
            r#"a;error=connection_refused;next-hop="10.9.8.7:5432";details="FATAL: password";"#,
            r#"received-status=503;next-protocol=h2;x-secret=tok;body-size=12;rcode="NXDOMAIN", "#,
            r#"b;error=not_a_registry_type;error-count=3;received-status="503";info-code=?1, "#,
            r#""192.0.2.1";error=dns_timeout, c;error="connection_refused", d"#,
        ));
        let hidden = Policy::new().with_proxy_name("edge");
        let err: GatewayError = BadGateway::new()
            .with_upstream_proxy_status(received.clone())
            .into();
        let response = render(&err, &RenderContext::new().with_policy(&hidden));
        assert_eq!(
            header(&response, "proxy-status"),
            Some(concat!(
                "upstream;error=connection_refused;received-status=503;body-size=12, upstream, ",
                "upstream;error=dns_timeout, upstream, upstream, edge"
            ))
        );
        let shown = hidden.with_upstream_names(true);
        let response = render(&err, &RenderContext::new().with_policy(&shown));
        assert_eq!(
            header(&response, "proxy-status"),
            Some(concat!(
                r#"a;error=connection_refused;next-hop="10.9.8.7:5432";details="FATAL: password";"#,
                r#"received-status=503;next-protocol=h2;x-secret=tok;body-size=12;rcode="NXDOMAIN", "#,
                r#"b;error=not_a_registry_type;error-count=3;received-status="503";info-code, "#,
                r#""192.0.2.1";error=dns_timeout, c;error="connection_refused", d, edge"#,
            ))
        );
    }

    #[test]
    fn hidden_names_hide_names_that_look_like_hosts_and_ports() {
        let hidden = Policy::new().with_proxy_name("edge");
        for name in [
            "upstream-lb",
            "db-primary.internal:5432",
            "10.0.0.7",
            "*internal",
            "api.example.com/v1",
        ] {
            for identity in [name.to_owned(), format!("{name:?}")] {
                let received = HeaderValue::from_str(&format!(
                    "{identity};error=connection_refused;received-status=502"
                ))
                .expect("a field value");
                let err: GatewayError = BadGateway::new()
                    .with_upstream_proxy_status(received)
                    .into();
                let response = render(&err, &RenderContext::new().with_policy(&hidden));
                let sent = header(&response, "proxy-status").expect("sent");
                if sfv::TokenRef::from_str(name).is_ok() || identity.starts_with('"') {
                    assert_eq!(
                        sent, "upstream;error=connection_refused;received-status=502, edge",
                        "{identity}"
                    );
                }
                assert!(!sent.contains(name), "{identity} leaked: {sent}");
            }
        }
    }

    #[test]
    fn the_rendered_field_fits_the_limit_with_our_member_last() {
        // An upstream field exactly at the limit, several members long.
        let member = "hop;error=connection_refused;received-status=502";
        let count = MAX_PROXY_STATUS_LEN / (member.len() + 2);
        let mut value = vec![member; count].join(", ");
        value.push_str(", ");
        value.push_str(&"z".repeat(MAX_PROXY_STATUS_LEN - value.len()));
        assert_eq!(value.len(), MAX_PROXY_STATUS_LEN);
        let received = HeaderValue::from_str(&value).expect("a field value");
        let err: GatewayError = BadGateway::upstream("inventory")
            .with_kind(ProxyError::ConnectionTimeout)
            .with_received_status(StatusCode::NOT_FOUND)
            .with_upstream_proxy_status(received)
            .into();
        let name = "n".repeat(crate::text::MAX_NAME_LEN);
        for policy in [
            Policy::new().with_proxy_name(name.clone()),
            Policy::new()
                .with_proxy_name(name.clone())
                .with_upstream_names(true),
            Policy::new().with_proxy_name("a name with spaces \"and quotes\""),
        ] {
            let response = render(&err, &RenderContext::new().with_policy(&policy));
            let sent = &response.headers()[&PROXY_STATUS];
            assert!(sent.len() <= MAX_PROXY_STATUS_LEN, "{}", sent.len());
            // The newest members are kept, the oldest dropped.
            let text = sent.to_str().expect("ascii");
            let zs = "z".repeat(MAX_PROXY_STATUS_LEN - count * (member.len() + 2));
            let newest = if policy.shows_upstream_names() {
                &zs
            } else {
                HIDDEN_NAME
            };
            assert_eq!(text.rsplit(", ").nth(1), Some(newest), "{text}");
            // A client reads it whole, and finds our member last.
            let mut headers = HeaderMap::new();
            headers.insert(&PROXY_STATUS, sent.clone());
            let again =
                crate::parse::parse(StatusCode::BAD_GATEWAY, &headers, b"").expect("parses");
            assert_eq!(again.upstream_proxy_status(), Some(sent));
            assert_eq!(again.kind(), Some(ProxyError::ConnectionTimeout));
            assert_eq!(again.received_status(), Some(StatusCode::NOT_FOUND));
        }
    }

    #[test]
    fn every_field_line_is_one_list() {
        let mut headers = HeaderMap::new();
        assert_eq!(upstream_field(&headers), None);
        headers.append(
            &PROXY_STATUS,
            HeaderValue::from_static("a;error=dns_timeout, b"),
        );
        let one = upstream_field(&headers).expect("one line");
        assert_eq!(one, "a;error=dns_timeout, b");
        // One line is shared with the map, not copied.
        assert_eq!(
            one.as_bytes().as_ptr(),
            headers[&PROXY_STATUS].as_bytes().as_ptr()
        );
        headers.append(&PROXY_STATUS, HeaderValue::from_static(""));
        headers.append(
            &PROXY_STATUS,
            HeaderValue::from_static(" c;received-status=502 "),
        );
        headers.append(&PROXY_STATUS, HeaderValue::from_static("d"));
        assert_eq!(
            upstream_field(&headers).expect("lines"),
            "a;error=dns_timeout, b, c;received-status=502, d"
        );
    }

    #[test]
    fn the_cap_applies_to_the_lines_combined() {
        let half = |len: usize| HeaderValue::from_str(&"a".repeat(len)).expect("token");
        let cap = MAX_PROXY_STATUS_LEN;
        for (first, second, kept) in [
            (cap / 2, cap - cap / 2 - 2, true),
            (cap / 2, cap - cap / 2 - 1, false),
            (cap, 1, false),
        ] {
            let mut headers = HeaderMap::new();
            headers.append(&PROXY_STATUS, half(first));
            headers.append(&PROXY_STATUS, half(second));
            let field = upstream_field(&headers);
            assert_eq!(field.is_some(), kept, "{first} + 2 + {second}");
            if let Some(field) = field {
                assert_eq!(field.len(), cap);
            }
        }
        let mut headers = HeaderMap::new();
        headers.append(&PROXY_STATUS, half(cap));
        assert_eq!(upstream_field(&headers).map(|v| v.len()), Some(cap));
        headers.insert(&PROXY_STATUS, half(cap + 1));
        assert_eq!(upstream_field(&headers), None);
    }

    #[test]
    fn the_last_member_says_the_error_and_the_received_status() {
        for (value, error, received) in [
            (
                r#"gateway-demo;error=connection_refused;next-hop="product-service""#,
                Some(ProxyError::ConnectionRefused),
                None,
            ),
            (
                "  a, b;received-status=503;error=http_response_timeout  ",
                Some(ProxyError::HttpResponseTimeout),
                Some(StatusCode::SERVICE_UNAVAILABLE),
            ),
            // Only the last member counts; an earlier one's says nothing.
            ("a;error=dns_timeout,\tb", None, None),
            ("", None, None),
            // A key given twice: the last one counts.
            (
                "a;error=dns_timeout;error=dns_error;received-status=500;received-status=502",
                Some(ProxyError::DnsError),
                Some(StatusCode::BAD_GATEWAY),
            ),
            // Not a registry token, not a Token, not an Integer status.
            (r#"a;error=no_such_type;received-status="502""#, None, None),
            (r#"a;error="dns_error";received-status=1000"#, None, None),
            ("a;received-status=-1;error=?1", None, None),
            // A String names an intermediary too; an Integer, a Decimal, a
            // Byte Sequence or an inner list does not.
            (
                r#""10.0.0.1";error=connection_timeout"#,
                Some(ProxyError::ConnectionTimeout),
                None,
            ),
            ("a;error=dns_error, 7;error=dns_error", None, None),
            ("a;error=dns_error, 1.5;error=dns_error", None, None),
            ("a;error=dns_error, :YQ==:;error=dns_error", None, None),
            ("a;error=dns_error, (b c);error=dns_error", None, None),
            // Inner lists, decimals and byte sequences elsewhere are read past.
            (
                "(x 1.5);y=:YQ==:, a;error=tls_alert_received;alert-id=1.5;received-status=525",
                Some(ProxyError::TlsAlertReceived),
                StatusCode::from_u16(525).ok(),
            ),
            // Invalid lists say nothing, whatever their last member.
            ("a;error=dns_error,", None, None),
            ("a;error=dns_error b", None, None),
            ("a;error=dns_error;x=@", None, None),
            (r#""\x";error=dns_error"#, None, None),
            (
                "a;error=dns_error;received-status=1234567890123456",
                None,
                None,
            ),
        ] {
            assert_eq!(
                LastMember::of(value.as_bytes()),
                LastMember {
                    error,
                    received_status: received
                },
                "{value:?}"
            );
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
