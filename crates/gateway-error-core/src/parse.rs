//! Client side: a gateway error response back into a [`GatewayError`].

use std::borrow::Cow;

use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value};
use sfv::{BareItem, ListEntry, Parser, Version};

use crate::error::{GatewayError, Inner};
use crate::proxy_status::{MAX_UPSTREAM_PROXY_STATUS_LEN, PROXY_STATUS};
use crate::registry::ProxyError;
use crate::retry_after::RetryAfter;
use crate::text::{self, MAX_DETAILS_LEN, MAX_NAME_LEN};

/// The largest body [`parse`] reads as JSON.
///
/// # Examples
///
/// ```
/// use gateway_error_core::{parse, ParseErrorKind, MAX_BODY_LEN};
/// use http::{HeaderMap, HeaderValue, StatusCode};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("content-type", HeaderValue::from_static("application/json"));
/// let body = vec![b' '; MAX_BODY_LEN + 1];
/// let err = parse(StatusCode::BAD_GATEWAY, &headers, &body).unwrap_err();
/// assert_eq!(err.kind(), ParseErrorKind::BodyTooLarge);
/// ```
pub const MAX_BODY_LEN: usize = 64 * 1024;

/// Why a response could not be read as a gateway error.
///
/// # Examples
///
/// ```
/// use gateway_error_core::{parse, ParseErrorKind};
/// use http::{HeaderMap, StatusCode};
///
/// let err = parse(StatusCode::NOT_FOUND, &HeaderMap::new(), b"").unwrap_err();
/// assert_eq!(err.kind(), ParseErrorKind::Status);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.kind.message())]
pub struct ParseError {
    kind: ParseErrorKind,
}

impl ParseError {
    /// What went wrong.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error_core::{parse, ParseErrorKind};
    /// use http::{HeaderMap, HeaderValue, StatusCode};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("content-type", HeaderValue::from_static("application/json"));
    /// let err = parse(StatusCode::BAD_GATEWAY, &headers, b"{oops").unwrap_err();
    /// assert_eq!(err.kind(), ParseErrorKind::InvalidJson);
    /// ```
    #[must_use]
    pub fn kind(&self) -> ParseErrorKind {
        self.kind
    }
}

/// The kinds of [`ParseError`].
///
/// # Examples
///
/// ```
/// use gateway_error_core::{parse, ParseErrorKind};
/// use http::{HeaderMap, StatusCode};
///
/// let err = parse(StatusCode::OK, &HeaderMap::new(), b"").unwrap_err();
/// assert_eq!(err.kind(), ParseErrorKind::Status);
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParseErrorKind {
    /// The status is not 500, 502, 503 or 504.
    Status,
    /// A JSON body is larger than [`MAX_BODY_LEN`].
    BodyTooLarge,
    /// A body declared (or looking) as JSON is not valid JSON, or nests too deep.
    InvalidJson,
}

impl ParseErrorKind {
    fn message(self) -> &'static str {
        match self {
            Self::Status => "status is not a gateway error (500, 502, 503, 504)",
            Self::BodyTooLarge => "error body is too large",
            Self::InvalidJson => "error body is not valid json",
        }
    }
}

impl From<ParseErrorKind> for ParseError {
    fn from(kind: ParseErrorKind) -> Self {
        Self { kind }
    }
}

/// Reads a gateway error response: its status, headers and body.
///
/// Both JSON shapes are read, the `{"error":{...}}` envelope and RFC 9457
/// problem details, leniently as RFC 9457 section 3.1 asks: members of the
/// wrong type and unknown members are ignored. `Retry-After` comes from the
/// header (or else the body), the kind from the body (or else the last
/// `Proxy-Status` member), and the received `Proxy-Status` is kept so a
/// gateway that re-renders the error appends its own member. HTML, text and
/// other bodies give an error from the status and headers alone. The same
/// sanitizing rules apply as for errors built in code.
///
/// # Errors
///
/// [`ParseErrorKind::Status`] for a status other than 500, 502, 503 or 504;
/// [`ParseErrorKind::BodyTooLarge`] and [`ParseErrorKind::InvalidJson`] for a
/// JSON body that is over [`MAX_BODY_LEN`] or not JSON. It never panics.
///
/// # Examples
///
/// ```
/// use gateway_error_core::{parse, ProxyError, RetryAfter};
/// use http::{HeaderMap, HeaderValue, StatusCode};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("content-type", HeaderValue::from_static("application/problem+json"));
/// headers.insert("retry-after", HeaderValue::from_static("30"));
/// let body = br#"{"title":"Service Unavailable","status":503,"detail":"Down for maintenance.","kind":"destination_unavailable"}"#;
/// let err = parse(StatusCode::SERVICE_UNAVAILABLE, &headers, body)?;
/// assert_eq!(err.status(), 503);
/// assert_eq!(err.details(), Some("Down for maintenance."));
/// assert_eq!(err.kind(), Some(ProxyError::DestinationUnavailable));
/// assert_eq!(err.retry_after(), Some(RetryAfter::from_secs(30)));
/// # Ok::<(), gateway_error_core::ParseError>(())
/// ```
pub fn parse(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<GatewayError, ParseError> {
    if !matches!(status.as_u16(), 500 | 502 | 503 | 504) {
        return Err(ParseErrorKind::Status.into());
    }
    let mut inner = Inner {
        retry_after: headers
            .get(RETRY_AFTER)
            .and_then(|v| RetryAfter::from_header_value(v).ok()),
        ..Inner::default()
    };
    if let Some(value) = headers
        .get(&PROXY_STATUS)
        .filter(|v| v.len() <= MAX_UPSTREAM_PROXY_STATUS_LEN)
    {
        inner.kind = last_proxy_status_error(value.as_bytes());
        inner.upstream_proxy_status = Some(value.clone());
    }

    if is_json(headers, body) {
        if body.len() > MAX_BODY_LEN {
            return Err(ParseErrorKind::BodyTooLarge.into());
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|_| ParseError::from(ParseErrorKind::InvalidJson))?;
        if let Value::Object(object) = &value {
            read_members(object, &mut inner);
        }
    }
    Ok(GatewayError::for_status(status, inner))
}

fn is_json(headers: &HeaderMap, body: &[u8]) -> bool {
    match headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        Some(content_type) => {
            let essence = content_type.split(';').next().unwrap_or("").trim();
            let (kind, subtype) = essence.split_once('/').unwrap_or(("", ""));
            kind.eq_ignore_ascii_case("application")
                && (subtype.eq_ignore_ascii_case("json")
                    || subtype.len() > 5
                        && subtype
                            .get(subtype.len() - 5..)
                            .is_some_and(|suffix| suffix.eq_ignore_ascii_case("+json")))
        }
        None => body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'),
    }
}

fn read_members(object: &Map<String, Value>, inner: &mut Inner) {
    let (members, details_key) = match object.get("error") {
        Some(Value::Object(envelope)) => (envelope, "details"),
        _ => (object, "detail"),
    };
    let string = |key: &str| members.get(key).and_then(Value::as_str);
    let owned = |s: &str| Cow::Owned(s.to_owned());

    if let Some(details) = string(details_key) {
        inner.details = Some(text::clean(owned(details), MAX_DETAILS_LEN));
    }
    if let Some(upstream) = string("upstream") {
        inner.upstream = Some(text::clean(owned(upstream), MAX_NAME_LEN));
    }
    if let Some(kind) = string("kind").and_then(|k| k.parse::<ProxyError>().ok()) {
        inner.kind = Some(kind);
    }
    if let Some(id) = string("request_id") {
        inner.request_id = text::clean_request_id(owned(id));
    }
    if inner.retry_after.is_none() {
        inner.retry_after = match members.get("retry_after") {
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|secs| u32::try_from(secs).ok())
                .map(RetryAfter::from_secs),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        };
    }
}

/// The `error` parameter of the last member of a `Proxy-Status` field: the
/// intermediary closest to us, which generated the error.
fn last_proxy_status_error(value: &[u8]) -> Option<ProxyError> {
    let list: sfv::List = Parser::new(value)
        .with_version(Version::Rfc8941)
        .parse()
        .ok()?;
    let ListEntry::Item(item) = list.last()? else {
        return None;
    };
    item.params.iter().find_map(|(key, value)| match value {
        BareItem::Token(token) if key.as_str() == "error" => token.as_str().parse().ok(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn json_headers(content_type: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers
    }

    #[test]
    fn wrong_types_are_ignored() {
        let body = br#"{"error":{"code":"x","details":7,"upstream":["a"],"kind":"nope","retry_after":-3,"request_id":null}}"#;
        let err = parse(
            StatusCode::BAD_GATEWAY,
            &json_headers("application/json"),
            body,
        )
        .expect("lenient");
        assert_eq!(err.details(), None);
        assert_eq!(err.upstream_name(), None);
        assert_eq!(err.kind(), None);
        assert_eq!(err.retry_after(), None);
        assert_eq!(err.request_id(), None);
    }

    #[test]
    fn non_json_bodies_give_status_only() {
        let err = parse(
            StatusCode::GATEWAY_TIMEOUT,
            &json_headers("text/html; charset=utf-8"),
            b"<!DOCTYPE html><p>{not json}</p>",
        )
        .expect("html is fine");
        assert_eq!(err.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(err.details(), None);
    }

    #[test]
    fn json_errors_are_clear() {
        let headers = json_headers("application/vnd.api+json");
        let deep = "[".repeat(10_000);
        let err = parse(StatusCode::BAD_GATEWAY, &headers, deep.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), ParseErrorKind::InvalidJson);
        assert_eq!(err.to_string(), "error body is not valid json");
        let err = parse(StatusCode::BAD_GATEWAY, &headers, &[0xff, 0xfe]).unwrap_err();
        assert_eq!(err.kind(), ParseErrorKind::InvalidJson);
        let big = vec![b' '; MAX_BODY_LEN + 1];
        let err = parse(StatusCode::BAD_GATEWAY, &headers, &big).unwrap_err();
        assert_eq!(err.kind(), ParseErrorKind::BodyTooLarge);
        // Without a Content-Type, a body is JSON only when it looks like an object.
        let err = parse(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b" {").unwrap_err();
        assert_eq!(err.kind(), ParseErrorKind::InvalidJson);
        assert!(parse(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"oops").is_ok());
    }

    #[test]
    fn kind_falls_back_to_the_last_proxy_status_member() {
        let mut headers = HeaderMap::new();
        headers.insert(
            &PROXY_STATUS,
            HeaderValue::from_static("inner; error=dns_timeout, edge; error=connection_refused"),
        );
        let err = parse(StatusCode::BAD_GATEWAY, &headers, b"").expect("parses");
        assert_eq!(err.kind(), Some(ProxyError::ConnectionRefused));
        assert_eq!(
            err.upstream_proxy_status().map(HeaderValue::as_bytes),
            Some(&b"inner; error=dns_timeout, edge; error=connection_refused"[..])
        );
    }

    #[test]
    fn only_gateway_statuses_parse() {
        for status in [200, 400, 404, 501, 505] {
            let status = StatusCode::from_u16(status).expect("valid");
            assert_eq!(
                parse(status, &HeaderMap::new(), b"").unwrap_err().kind(),
                ParseErrorKind::Status
            );
        }
    }
}
