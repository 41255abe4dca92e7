//! actix-web 4: `ResponseError` and `Responder` for the error types,
//! [`RequestId`] as an extractor, and the conversions between the
//! renderer's `http` 1 types and actix-web's (http 0.2) that this file and
//! `gateway-error-actix` share: no http 0.2 type leaves here or that crate.
//!
//! Inside `gateway-error-actix`'s middleware the response is rendered for
//! the request; outside it, for the default context (JSON), with the
//! [`GatewayError`] kept in the response's extensions for the middleware to
//! render again.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, Responder, ResponseError};

use crate::pipeline::{Rendered, RequestContext, content_length, respond};
use crate::request_id::RequestId;
use crate::{BadGateway, GatewayError, GatewayTimeout, InternalServerError, ServiceUnavailable};

macro_rules! actix_impls {
    ($($name:ident),*) => {$(
        /// Inside `gateway_error::actix::GatewayErrors`, the response for
        /// the request (its `Accept`, method and id, the middleware's
        /// policy). Without the middleware, the default one: JSON, no
        /// `Proxy-Status`, no request id, whatever the request asked for.
        #[cfg_attr(docsrs, doc(cfg(feature = "actix-web")))]
        impl ResponseError for $name {
            fn status_code(&self) -> StatusCode {
                status(self.status())
            }

            fn error_response(&self) -> HttpResponse {
                into_actix(respond(self.clone().into()))
            }
        }

        #[cfg_attr(docsrs, doc(cfg(feature = "actix-web")))]
        impl Responder for $name {
            type Body = BoxBody;

            fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
                into_actix(respond(self.into()))
            }
        }
    )*};
}

with_error_types!(actix_impls);

impl GatewayError {
    /// The gateway error an actix-web `Error` wraps, if it was made from one
    /// of this crate's error types (a handler's or middleware's `Err`),
    /// whichever it is. `gateway-error-actix`'s middleware uses it.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::{BadGateway, GatewayError};
    ///
    /// let err = actix_web::Error::from(BadGateway::upstream("pricing"));
    /// let found = GatewayError::from_actix_error(&err).expect("a gateway error");
    /// assert_eq!(found.status(), 502);
    /// let other = actix_web::error::ErrorNotFound("no such route");
    /// assert!(GatewayError::from_actix_error(&other).is_none());
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "actix-web")))]
    #[must_use]
    pub fn from_actix_error(err: &actix_web::Error) -> Option<Self> {
        macro_rules! find {
            ($($ty:ident),+) => {
                None$(.or_else(|| err.as_error::<$ty>().cloned().map(Self::from)))+
            };
        }
        with_error_types!(find)
    }
}

/// The request's id, as the middleware gave it (see the
/// [pipeline](crate::pipeline)'s rule). Without the middleware, extraction
/// fails with a 500 `proxy_configuration_error`.
#[cfg_attr(docsrs, doc(cfg(feature = "actix-web")))]
impl FromRequest for RequestId {
    type Error = InternalServerError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<RequestId>()
                .cloned()
                .or_else(|| RequestContext::current().map(|ctx| ctx.request_id().clone()))
                .ok_or_else(super::missing_adapter),
        )
    }
}

/// An `http` 1 status as actix-web's.
fn status(status: http::StatusCode) -> StatusCode {
    StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A rendered response as actix-web's: status, headers, body (for HEAD the
/// body claims GET's size and yields no bytes, as actix-web sends none), and
/// the [`GatewayError`] and [`Rendered`] mark moved into actix-web's
/// extensions.
///
/// # Examples
///
/// ```
/// use gateway_error::actix_web::into_actix;
/// use gateway_error::{pipeline::respond, BadGateway};
///
/// let response = into_actix(respond(BadGateway::new().into()));
/// assert_eq!(response.status().as_u16(), 502);
/// assert_eq!(response.headers().get("content-type").map(|v| v.as_bytes()), Some(&b"application/json"[..]));
/// ```
#[must_use]
pub fn into_actix(response: http::Response<Bytes>) -> HttpResponse {
    let (mut parts, body) = response.into_parts();
    let body = match content_length(&parts.headers) {
        Some(length) if body.is_empty() && length > 0 => BoxBody::new(HeadBody(length)),
        _ => BoxBody::new(body),
    };
    let mut out = HttpResponse::with_body(status(parts.status), body);
    headers_from_http(&parts.headers, out.headers_mut());
    {
        let mut extensions = out.extensions_mut();
        if let Some(error) = parts.extensions.remove::<GatewayError>() {
            extensions.insert(error);
        }
        if let Some(mark) = parts.extensions.remove::<Rendered>() {
            extensions.insert(mark);
        }
    }
    out
}

/// The `http` 1 method of an actix-web method.
///
/// # Examples
///
/// ```
/// use gateway_error::actix_web::method_to_http;
///
/// assert_eq!(method_to_http(&actix_web::http::Method::HEAD), http::Method::HEAD);
/// ```
#[must_use]
pub fn method_to_http(method: &actix_web::http::Method) -> http::Method {
    http::Method::from_bytes(method.as_str().as_bytes()).unwrap_or_default()
}

/// actix-web headers as `http` 1 headers, every field line kept in order.
/// A name or value one side rejects is skipped, never unwrapped.
///
/// # Examples
///
/// ```
/// use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
/// use gateway_error::actix_web::headers_to_http;
///
/// let mut headers = HeaderMap::new();
/// headers.append(HeaderName::from_static("vary"), HeaderValue::from_static("accept"));
/// headers.append(HeaderName::from_static("vary"), HeaderValue::from_static("origin"));
/// let out = headers_to_http(&headers);
/// assert_eq!(out.get_all("vary").iter().count(), 2);
/// ```
#[must_use]
pub fn headers_to_http(headers: &HeaderMap) -> http::HeaderMap {
    let mut out = http::HeaderMap::with_capacity(headers.len());
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

/// Replaces `out` with the `http` 1 `headers`.
///
/// # Examples
///
/// ```
/// use actix_web::http::header::HeaderMap;
/// use gateway_error::actix_web::headers_from_http;
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("x-request-id", http::HeaderValue::from_static("r-1"));
/// let mut out = HeaderMap::new();
/// headers_from_http(&headers, &mut out);
/// assert_eq!(out.get("x-request-id").map(|v| v.as_bytes()), Some(&b"r-1"[..]));
/// ```
pub fn headers_from_http(headers: &http::HeaderMap, out: &mut HeaderMap) {
    out.clear();
    out.reserve(headers.len());
    for (name, value) in headers {
        let name =
            known_name(name).map_or_else(|| HeaderName::from_bytes(name.as_str().as_bytes()), Ok);
        if let (Ok(name), Ok(value)) = (name, HeaderValue::from_bytes(value.as_bytes())) {
            out.append(name, value);
        }
    }
}

/// The renderer's field names as actix-web's, without parsing them again.
fn known_name(name: &http::HeaderName) -> Option<HeaderName> {
    use actix_web::http::header;
    Some(match name.as_str() {
        "content-type" => header::CONTENT_TYPE,
        "content-length" => header::CONTENT_LENGTH,
        "cache-control" => header::CACHE_CONTROL,
        "vary" => header::VARY,
        "x-content-type-options" => header::X_CONTENT_TYPE_OPTIONS,
        "retry-after" => header::RETRY_AFTER,
        "proxy-status" => const { HeaderName::from_static("proxy-status") },
        "x-request-id" => const { HeaderName::from_static("x-request-id") },
        _ => return None,
    })
}

/// The body of a HEAD response: no bytes, but GET's size. actix-web writes
/// `Content-Length` from the body's size (dropping the header), and sends
/// no body bytes for HEAD.
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
    use crate::pipeline::Pipeline;
    use crate::{Format, RenderContext, render};

    #[test]
    fn error_response_outside_the_middleware_is_the_default_rendering() {
        let err = BadGateway::upstream("product-service")
            .with_source(std::io::Error::other("secret: connect 10.0.0.7"));
        assert_eq!(ResponseError::status_code(&err), StatusCode::BAD_GATEWAY);

        let response = err.error_response();
        let expected = render(&err.clone().into(), &RenderContext::new());
        assert_eq!(response.status().as_u16(), expected.status().as_u16());
        assert_eq!(response.headers().len(), expected.headers().len());
        for (name, value) in expected.headers() {
            assert_eq!(
                response.headers().get(name.as_str()).map(|v| v.as_bytes()),
                Some(value.as_bytes()),
                "{name}"
            );
        }
        let found = response
            .extensions()
            .get::<GatewayError>()
            .map(GatewayError::status);
        assert_eq!(found, Some(http::StatusCode::BAD_GATEWAY));
        assert!(response.extensions().get::<Rendered>().is_none());
        let body = response.into_body().try_into_bytes().ok();
        assert_eq!(body.as_deref(), Some(expected.body().as_ref()));
    }

    #[test]
    fn inside_the_middleware_the_response_is_complete_for_the_request() {
        let ctx = Pipeline::default().capture_parts(http::Method::HEAD, Format::Text, Some(b"r"));
        let response = ctx.in_scope(|| GatewayTimeout::upstream("pricing").error_response());
        let expected = ctx.error_response(GatewayTimeout::upstream("pricing").into());
        assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(response.headers().len(), expected.headers().len());
        assert!(response.extensions().get::<Rendered>().is_some());
        // HEAD: no bytes, GET's size.
        let length = content_length(expected.headers()).unwrap_or_default();
        assert!(length > 0);
        assert_eq!(response.body().size(), BodySize::Sized(length));
    }

    #[test]
    fn every_type_has_its_status() {
        let cases: [(&dyn ResponseError, u16); 5] = [
            (&BadGateway::new(), 502),
            (&GatewayTimeout::new(), 504),
            (&ServiceUnavailable::new(), 503),
            (&InternalServerError::new(), 500),
            (&GatewayError::from(GatewayTimeout::new()), 504),
        ];
        for (err, code) in cases {
            assert_eq!(err.status_code().as_u16(), code);
            assert_eq!(err.error_response().status().as_u16(), code);
        }
    }

    #[test]
    fn headers_round_trip() {
        let fields = [
            ("content-type", "application/problem+json"),
            ("vary", "accept"),
            ("vary", "origin"),
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
        let vary: Vec<_> = out.get_all("vary").iter().collect();
        assert_eq!(vary, ["accept", "origin"]);
        let mut back = HeaderMap::new();
        back.insert(
            HeaderName::from_static("x-old"),
            HeaderValue::from_static("1"),
        );
        headers_from_http(&out, &mut back);
        assert!(!back.contains_key("x-old"));
        assert_eq!(back.len(), 4);
    }
}
