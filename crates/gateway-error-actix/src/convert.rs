//! actix-web 4 speaks http 0.2, the renderer http 1: the two meet here, by
//! the bytes of methods, statuses, header names and values. A name or value
//! one side rejects is skipped, never unwrapped.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use gateway_error_core::__private::RenderedParts;
use gateway_error_core::Format;

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
pub(crate) fn headers_from_http(headers: &http::HeaderMap, out: &mut HeaderMap) {
    out.clear();
    out.reserve(headers.len());
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.append(name, value);
        }
    }
}

/// The renderer's parts as actix-web's headers (replacing `out`) and body:
/// names and constant values are actix-web constants, the other values
/// share the rendered buffer, so no value is copied. For HEAD see
/// [`body`].
pub(crate) fn parts_into(parts: RenderedParts, head: bool, out: &mut HeaderMap) -> BoxBody {
    static PROXY_STATUS: HeaderName = HeaderName::from_static("proxy-status");
    out.clear();
    out.reserve(8);
    out.insert(header::CONTENT_TYPE, content_type(parts.format));
    let body = body(parts.body, head, Some(&parts.content_length));
    if let Ok(value) = HeaderValue::from_maybe_shared(parts.content_length) {
        out.insert(header::CONTENT_LENGTH, value);
    }
    out.insert(
        header::CACHE_CONTROL,
        const { HeaderValue::from_static("no-store") },
    );
    out.insert(header::VARY, const { HeaderValue::from_static("accept") });
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        const { HeaderValue::from_static("nosniff") },
    );
    if let Some(Ok(value)) = parts.retry_after.map(HeaderValue::from_maybe_shared) {
        out.insert(header::RETRY_AFTER, value);
    }
    if let Some(Ok(value)) = parts.proxy_status.map(HeaderValue::from_maybe_shared) {
        out.insert(PROXY_STATUS.clone(), value);
    }
    body
}

/// A format's `Content-Type` value, built at compile time.
fn content_type(format: Format) -> HeaderValue {
    match format {
        Format::ProblemJson => {
            const { HeaderValue::from_static(Format::ProblemJson.content_type()) }
        }
        Format::Html => const { HeaderValue::from_static(Format::Html.content_type()) },
        Format::Text => const { HeaderValue::from_static(Format::Text.content_type()) },
        // `Format` is non-exhaustive: JSON is the renderer's default too.
        _ => const { HeaderValue::from_static(Format::Json.content_type()) },
    }
}

/// The rendered body as actix-web's. For HEAD the renderer's body is empty
/// while its `Content-Length` is GET's; actix-web writes `Content-Length`
/// from the body's size (dropping the header), so the body claims GET's size
/// and yields nothing, as actix-web sends no body bytes for HEAD.
pub(crate) fn body(body: Bytes, head: bool, content_length: Option<&[u8]>) -> BoxBody {
    let length = content_length
        .and_then(|value| std::str::from_utf8(value).ok())
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
        let head = body(Bytes::new(), true, Some(b"208"));
        assert_eq!(head.size(), BodySize::Sized(208));
        assert_eq!(head.try_into_bytes().ok(), None);
        let get = body(Bytes::from_static(b"abc"), false, Some(b"208"));
        assert_eq!(get.try_into_bytes().ok(), Some(Bytes::from_static(b"abc")));
    }

    #[test]
    fn headers_round_trip() {
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
        headers_from_http(&out, &mut back);
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
