//! actix-web 4 speaks http 0.2, the renderer http 1: the two meet here, by
//! the bytes of methods, statuses, header names and values. A name or value
//! one side rejects is skipped, never unwrapped.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;

/// An actix-web method as an http 1 method.
pub(crate) fn method(method: &Method) -> Option<http::Method> {
    http::Method::from_bytes(method.as_str().as_bytes()).ok()
}

/// An http 1 status as an actix-web status.
pub(crate) fn status(status: http::StatusCode) -> StatusCode {
    StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// actix-web header values as http 1 fields named `name`.
pub(crate) fn fields<'a>(
    name: &http::HeaderName,
    values: impl IntoIterator<Item = &'a HeaderValue>,
) -> http::HeaderMap {
    let mut out = http::HeaderMap::new();
    for value in values {
        if let Ok(value) = http::HeaderValue::from_bytes(value.as_bytes()) {
            out.append(name, value);
        }
    }
    out
}

/// A response's actix-web headers as http 1 headers, for `rerender`
/// (which drops the ones it replaces). Inside the middleware a handler's
/// error response has none, so this usually allocates nothing.
pub(crate) fn headers_to_http(headers: &HeaderMap) -> http::HeaderMap {
    let mut out = http::HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.append(name, value);
        }
    }
    out
}

/// Replaces `out` with the http 1 `headers`.
///
/// The renderer's names and constant values are mapped to actix-web's
/// constants: neither parsed nor copied.
pub(crate) fn headers_from_http(headers: http::HeaderMap, out: &mut HeaderMap) {
    out.clear();
    out.reserve(headers.len());
    for (name, value) in &headers {
        if let (Some(name), Some(value)) = (header_name(name), header_value(value)) {
            out.append(name, value);
        }
    }
}

/// An http 1 field name as actix-web's; the renderer's own without parsing.
fn header_name(name: &http::HeaderName) -> Option<HeaderName> {
    use actix_web::http::header;
    Some(match name.as_str() {
        "content-type" => header::CONTENT_TYPE,
        "content-length" => header::CONTENT_LENGTH,
        "cache-control" => header::CACHE_CONTROL,
        "vary" => header::VARY,
        "retry-after" => header::RETRY_AFTER,
        "proxy-status" => HeaderName::from_static("proxy-status"),
        "x-request-id" => HeaderName::from_static("x-request-id"),
        other => HeaderName::from_bytes(other.as_bytes()).ok()?,
    })
}

/// An http 1 field value as actix-web's; the renderer's constant values
/// without copying.
fn header_value(value: &http::HeaderValue) -> Option<HeaderValue> {
    const CONSTANT: [&str; 6] = [
        "application/json",
        "application/problem+json",
        "text/html; charset=utf-8",
        "text/plain; charset=utf-8",
        "no-store",
        "accept",
    ];
    match CONSTANT.iter().find(|c| c.as_bytes() == value.as_bytes()) {
        Some(constant) => Some(HeaderValue::from_static(constant)),
        None => HeaderValue::from_bytes(value.as_bytes()).ok(),
    }
}

/// The rendered body as actix-web's. For HEAD the renderer's body is empty
/// while its `Content-Length` is GET's; actix-web writes `Content-Length`
/// from the body's size (dropping the header), so the body claims GET's size
/// and yields nothing, as actix-web sends no body bytes for HEAD.
pub(crate) fn body(body: Bytes, head: bool, headers: &http::HeaderMap) -> BoxBody {
    let length = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok());
    match length {
        Some(length) if head && body.is_empty() => BoxBody::new(HeadBody(length)),
        _ => BoxBody::new(body),
    }
}

/// No bytes, `Content-Length: .0` (see [`body`]).
struct HeadBody(u64);

impl MessageBody for HeadBody {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Sized(self.0)
    }

    fn poll_next(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Poll::Ready(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_bodies_claim_the_get_size_and_yield_no_bytes() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(208));
        let head = body(Bytes::new(), true, &headers);
        assert_eq!(head.size(), BodySize::Sized(208));
        assert_eq!(head.try_into_bytes().ok(), None);
        let get = body(Bytes::from_static(b"abc"), false, &headers);
        assert_eq!(get.try_into_bytes().ok(), Some(Bytes::from_static(b"abc")));
    }

    #[test]
    fn headers_round_trip_and_constants_map_to_actix_constants() {
        let fields = [
            ("content-type", "application/problem+json"),
            ("cache-control", "no-store"),
            ("vary", "accept"),
            ("vary", "origin"),
            ("proxy-status", "bff; error=connection_refused"),
            ("x-trace", "t"),
        ];
        let mut headers = HeaderMap::new();
        for (name, value) in fields {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let out = headers_to_http(&headers);
        assert_eq!(out.len(), 6);
        let vary: Vec<_> = out.get_all("vary").iter().collect();
        assert_eq!(vary, ["accept", "origin"]);

        let mut back = HeaderMap::new();
        back.insert(
            HeaderName::from_static("x-old"),
            HeaderValue::from_static("1"),
        );
        headers_from_http(out, &mut back);
        assert!(!back.contains_key("x-old"));
        let mut got: Vec<(&str, &str)> = back
            .iter()
            .map(|(name, value)| (name.as_str(), value.to_str().unwrap_or("?")))
            .collect();
        got.sort_unstable();
        let mut want = fields.to_vec();
        want.sort_unstable();
        assert_eq!(got, want);
    }
}
