//! Client side: a gateway error response back into a [`GatewayError`].

use std::borrow::Cow;

use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value};

use crate::context::X_REQUEST_ID;
use crate::error::{GatewayError, Inner};
use crate::proxy_status::{self, LastMember};
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
/// wrong type and unknown members are ignored. HTML, text and other bodies
/// give an error from the status and headers alone. The same sanitizing
/// rules apply as for errors built in code.
///
/// - `Retry-After` comes from the header, or else the body.
/// - `Proxy-Status` is read as one list of all its field lines, in order
///   (RFC 9110 section 5.3, RFC 8941 section 4.2). Its last member, the
///   intermediary closest to the client, gives the kind (its `error`, when
///   the body names none) and the received status (its `received-status`).
///   The whole field is kept as the error's
///   [`upstream_proxy_status`](GatewayError::upstream_proxy_status), so a
///   gateway that re-renders the error appends its own member; one longer
///   than [`MAX_UPSTREAM_PROXY_STATUS_LEN`](crate::MAX_UPSTREAM_PROXY_STATUS_LEN)
///   is not read at all.
/// - The request id is the body's `request_id`, or else the `x-request-id`
///   header's value (so HTML, text and empty bodies keep it too); when both
///   are present, the body's wins.
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
///
/// let mut headers = HeaderMap::new();
/// headers.append("proxy-status", HeaderValue::from_static("db-proxy;error=connection_refused"));
/// headers.append("proxy-status", HeaderValue::from_static("edge;error=http_response_timeout;received-status=503"));
/// headers.insert("x-request-id", HeaderValue::from_static("req-9"));
/// let err = parse(StatusCode::GATEWAY_TIMEOUT, &headers, b"<!DOCTYPE html><title>504</title>")?;
/// assert_eq!(err.kind(), Some(ProxyError::HttpResponseTimeout));
/// assert_eq!(err.received_status(), Some(StatusCode::SERVICE_UNAVAILABLE));
/// assert_eq!(err.request_id(), Some("req-9"));
/// assert_eq!(
///     err.upstream_proxy_status().map(|v| v.as_bytes()),
///     Some(&b"db-proxy;error=connection_refused, edge;error=http_response_timeout;received-status=503"[..]),
/// );
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
    if let Some(field) = proxy_status::upstream_field(headers) {
        // The last member is the intermediary closest to us, which
        // generated this response.
        let last = LastMember::of(field.as_bytes());
        inner.kind = last.error;
        inner.received_status = last.received_status;
        inner.upstream_proxy_status = Some(field);
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
    if inner.request_id.is_none() {
        inner.request_id = headers
            .get(&X_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .and_then(|id| text::clean_request_id(Cow::Owned(id.to_owned())));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy_status::PROXY_STATUS;
    use http::{HeaderValue, Method};

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
    fn every_proxy_status_line_is_read_and_the_last_member_decides() {
        let mut headers = HeaderMap::new();
        headers.append(
            &PROXY_STATUS,
            HeaderValue::from_static("inner;error=connection_refused"),
        );
        headers.append(
            &PROXY_STATUS,
            HeaderValue::from_static("edge;error=http_response_timeout"),
        );
        let err = parse(StatusCode::GATEWAY_TIMEOUT, &headers, b"").expect("parses");
        assert_eq!(err.kind(), Some(ProxyError::HttpResponseTimeout));
        assert!(!err.is_retryable(&Method::POST));
        assert!(err.is_retryable(&Method::GET));
        assert_eq!(
            err.upstream_proxy_status().map(HeaderValue::as_bytes),
            Some(&b"inner;error=connection_refused, edge;error=http_response_timeout"[..])
        );
        // A last member without a registry `error` says nothing of the kind,
        // whatever an earlier one said.
        headers.append(
            &PROXY_STATUS,
            HeaderValue::from_static("outer;error=not_registered"),
        );
        let err = parse(StatusCode::GATEWAY_TIMEOUT, &headers, b"").expect("parses");
        assert_eq!(err.kind(), None);
        // One invalid line makes the whole field invalid (RFC 8941 section 4.2).
        headers.append(&PROXY_STATUS, HeaderValue::from_static("(unclosed"));
        let err = parse(StatusCode::GATEWAY_TIMEOUT, &headers, b"").expect("parses");
        assert_eq!(err.kind(), None);
    }

    #[test]
    fn received_status_comes_from_the_last_member() {
        let parsed = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(&PROXY_STATUS, HeaderValue::from_static(value));
            parse(StatusCode::BAD_GATEWAY, &headers, b"").expect("parses")
        };
        let err = parsed("a;received-status=503, b;error=http_protocol_error;received-status=500");
        assert_eq!(
            err.received_status(),
            Some(StatusCode::INTERNAL_SERVER_ERROR)
        );
        assert_eq!(err.kind(), Some(ProxyError::HttpProtocolError));
        assert_eq!(parsed("a;received-status=503, b").received_status(), None);
        // The last of a repeated key counts (RFC 8941 section 4.2.3.2).
        let err = parsed("b;received-status=500;received-status=503");
        assert_eq!(err.received_status(), Some(StatusCode::SERVICE_UNAVAILABLE));
        for not_a_status in [
            r#"b;received-status="503""#,
            "b;received-status=99",
            "b;received-status=1000",
            "b;received-status=-502",
            "b;received-status=5.03",
            "(b;received-status=502)",
        ] {
            assert_eq!(
                parsed(not_a_status).received_status(),
                None,
                "{not_a_status}"
            );
        }
    }

    #[test]
    fn the_request_id_header_counts_when_the_body_has_none() {
        let with_id = |content_type: &'static str| {
            let mut headers = json_headers(content_type);
            headers.insert(&X_REQUEST_ID, HeaderValue::from_static("req-77"));
            headers
        };
        for (content_type, body) in [
            (
                "text/html; charset=utf-8",
                &b"<!DOCTYPE html><title>502</title>"[..],
            ),
            ("text/plain; charset=utf-8", b"502 Bad Gateway\n"),
            ("text/plain", b""),
            ("application/json", br#"{"error":{"code":"bad_gateway"}}"#),
            (
                "application/problem+json",
                br#"{"status":502,"request_id":7}"#,
            ),
        ] {
            let err = parse(StatusCode::BAD_GATEWAY, &with_id(content_type), body).expect("parses");
            assert_eq!(err.request_id(), Some("req-77"), "{content_type}");
        }
        // The body's id wins over the header's.
        let body = br#"{"type":"about:blank","status":502,"request_id":"from-body"}"#;
        let err = parse(
            StatusCode::BAD_GATEWAY,
            &with_id("application/problem+json"),
            body,
        )
        .expect("parses");
        assert_eq!(err.request_id(), Some("from-body"));
        // The header is cleaned as an id set in code would be.
        let mut headers = HeaderMap::new();
        headers.insert(&X_REQUEST_ID, HeaderValue::from_static("a b"));
        let err = parse(StatusCode::BAD_GATEWAY, &headers, b"").expect("parses");
        assert_eq!(err.request_id(), Some("a_b"));
        headers.insert(&X_REQUEST_ID, HeaderValue::from_static(""));
        let err = parse(StatusCode::BAD_GATEWAY, &headers, b"").expect("parses");
        assert_eq!(err.request_id(), None);
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
