//! actix-web 4: `ResponseError` and `Responder` for the error types,
//! [`RequestId`] as an extractor, and the pipeline's calls for actix-web's
//! types ([`Pipeline::begin_actix`], [`RequestContext::finish_actix`],
//! [`RequestContext::finish_actix_error`]) that `gateway-error-actix`'s
//! middleware makes. actix-web speaks http 0.2: no http 0.2 type leaves
//! this file and that crate.
//!
//! An error is rendered straight into actix-web's response: the
//! renderer's status, body and fields ([`render_parts`]), each field under
//! actix-web's own name constant, fixed values as constants and run-time
//! values as slices of the render's one buffer (no copy, no second parse).
//! The bytes are [`render`](crate::render)'s.
//!
//! Inside `gateway-error-actix`'s middleware the response is rendered for
//! the request; outside it, for the default context (JSON), with the
//! [`GatewayError`] kept in the response's extensions for the middleware to
//! render again.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest};
use actix_web::http::header::{self, ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, Responder, ResponseError};

use crate::context::RenderContext;
use crate::negotiate::Format;
use crate::pipeline::{Action, Pipeline, Rendered, RequestContext};
use crate::render::{
    Field, NO_STORE, NOSNIFF, RenderedFields, RenderedParts, kept_by_rerender, render_parts,
};
use crate::request_id::RequestId;
use crate::{BadGateway, GatewayError, GatewayTimeout, InternalServerError, ServiceUnavailable};

/// `x-request-id`, as actix-web's name.
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// `proxy-status`, as actix-web's name.
const PROXY_STATUS: HeaderName = HeaderName::from_static("proxy-status");
/// `grpc-status`, as actix-web's name.
const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
/// `grpc-message`, as actix-web's name.
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
/// `grpc-retry-pushback-ms`, as actix-web's name.
const GRPC_RETRY_PUSHBACK_MS: HeaderName = HeaderName::from_static("grpc-retry-pushback-ms");
/// `grpc-status-details-bin`, as actix-web's name.
const GRPC_STATUS_DETAILS_BIN: HeaderName = HeaderName::from_static("grpc-status-details-bin");

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
                respond(self.clone().into())
            }
        }

        #[cfg_attr(docsrs, doc(cfg(feature = "actix-web")))]
        impl Responder for $name {
            type Body = BoxBody;

            fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
                respond(self.into())
            }
        }
    )*};
}

with_error_types!(actix_impls);

impl GatewayError {
    /// The gateway error an actix-web `Error` wraps, if it was made from one
    /// of this crate's error types (a handler's or middleware's `Err`),
    /// whichever it is.
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

impl Pipeline {
    /// [`begin`](Self::begin) for an actix-web request: captures its
    /// context (the format from its `Content-Type` and `Accept`, its method,
    /// its request id), and when the id is new writes it into the request's
    /// `x-request-id` header; the [`RequestId`] goes into the request's
    /// extensions. What `gateway_error::actix::GatewayErrors` does first.
    ///
    /// # Examples
    ///
    /// ```
    /// use actix_web::HttpMessage;
    /// use gateway_error::pipeline::Pipeline;
    /// use gateway_error::{Format, RequestId};
    ///
    /// let mut request = actix_web::test::TestRequest::get()
    ///     .insert_header(("accept", "text/plain"))
    ///     .to_srv_request();
    /// let ctx = Pipeline::default().begin_actix(&mut request);
    /// assert_eq!(ctx.format(), Format::Text);
    /// assert_eq!(ctx.method(), http::Method::GET);
    /// let header = request.headers().get("x-request-id").map(|v| v.as_bytes().to_vec());
    /// assert_eq!(header.as_deref(), Some(ctx.request_id().as_str().as_bytes()));
    /// assert_eq!(request.extensions().get::<RequestId>(), Some(ctx.request_id()));
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "actix-web")))]
    #[must_use]
    pub fn begin_actix(&self, request: &mut ServiceRequest) -> RequestContext {
        let headers = request.headers();
        let format = Format::from_request_bytes(
            headers.get(CONTENT_TYPE).map(HeaderValue::as_bytes),
            headers.get_all(ACCEPT).map(HeaderValue::as_bytes),
        );
        let ctx = RequestContext::new(
            self,
            method(request.method()),
            format,
            headers
                .get(id_name(self.policy().request_id_header()))
                .map(HeaderValue::as_bytes),
            request.extensions().get::<RequestContext>().cloned(),
        );
        let id = ctx.request_id();
        if id.is_generated()
            && let Ok(value) = HeaderValue::from_bytes(id.header_value().as_bytes())
        {
            request
                .headers_mut()
                .insert(id_name(self.policy().request_id_header()), value);
        }
        let mut extensions = request.extensions_mut();
        extensions.insert(id.clone());
        // An adapter nested inside finds it (see `Pipeline::begin`).
        extensions.insert(ctx.clone());
        drop(extensions);
        ctx
    }
}

impl RequestContext {
    /// [`finish`](Self::finish) for an actix-web response: one carrying a
    /// [`GatewayError`] rendered for another context (or none) is rendered
    /// again for this one, its other headers kept (see
    /// [`rerender`](crate::rerender)); every response gets `x-request-id`
    /// unless it has one; the error is reported once. The kept response's
    /// body is the left one, a new one the right.
    ///
    /// # Examples
    ///
    /// ```
    /// use actix_web::{HttpResponse, ResponseError};
    /// use gateway_error::pipeline::Pipeline;
    /// use gateway_error::{BadGateway, Format};
    ///
    /// // Rendered outside the middleware's scope: JSON.
    /// let response = BadGateway::upstream("db").error_response();
    /// let ctx = Pipeline::default().capture_parts(http::Method::GET, Format::Text, Some(b"r-1"));
    /// let response = ctx.finish_actix(response);
    /// let header = |name| response.headers().get(name).map(|v| v.as_bytes().to_vec());
    /// assert_eq!(header("content-type").as_deref(), Some(&b"text/plain; charset=utf-8"[..]));
    /// assert_eq!(header("x-request-id").as_deref(), Some(&b"r-1"[..]));
    ///
    /// let ok = ctx.finish_actix(HttpResponse::Ok().body("fine"));
    /// assert_eq!(ok.headers().get("x-request-id").map(|v| v.as_bytes()), Some(&b"r-1"[..]));
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "actix-web")))]
    pub fn finish_actix<B>(&self, response: HttpResponse<B>) -> HttpResponse<EitherBody<B>> {
        self.finish_actix_with(
            response,
            HttpResponse::map_into_left_body,
            HttpResponse::map_into_right_body,
        )
    }

    /// [`finish_actix`](Self::finish_actix) for an error: a gateway error
    /// that a middleware inside returned as `Err` is rendered for this
    /// request, in an `InternalError` that carries the response; any other
    /// error is returned unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::Pipeline;
    /// use gateway_error::{Format, GatewayTimeout};
    ///
    /// let ctx = Pipeline::default().capture_parts(http::Method::GET, Format::Html, Some(b"r-2"));
    /// let err = ctx.finish_actix_error(GatewayTimeout::upstream("db").into());
    /// let response = err.error_response();
    /// assert_eq!(response.status().as_u16(), 504);
    /// let header = |name| response.headers().get(name).map(|v| v.as_bytes().to_vec());
    /// assert_eq!(header("content-type").as_deref(), Some(&b"text/html; charset=utf-8"[..]));
    /// assert_eq!(header("x-request-id").as_deref(), Some(&b"r-2"[..]));
    ///
    /// let other = ctx.finish_actix_error(actix_web::error::ErrorNotFound("no such route"));
    /// assert_eq!(other.error_response().status().as_u16(), 404);
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "actix-web")))]
    #[must_use]
    pub fn finish_actix_error(&self, err: actix_web::Error) -> actix_web::Error {
        let Some(error) = GatewayError::from_actix_error(&err) else {
            return err;
        };
        let response = self.actix_error_response(error.clone());
        let response = self.finish_actix_with(response, |kept| kept, |rendered| rendered);
        actix_web::error::InternalError::from_response(error, response).into()
    }

    /// [`finish_actix`](Self::finish_actix), with the kept response and a
    /// rendered one each made into `T`.
    fn finish_actix_with<B, T>(
        &self,
        mut response: HttpResponse<B>,
        kept: impl FnOnce(HttpResponse<B>) -> T,
        rendered: impl FnOnce(HttpResponse<BoxBody>) -> T,
    ) -> T {
        let action = {
            let extensions = response.extensions();
            self.finish_head(
                extensions.get::<GatewayError>(),
                extensions.get::<Rendered>(),
                response
                    .headers()
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.as_bytes())),
            )
        };
        match action {
            Action::Keep => {
                let name = id_name(self.id_header());
                if let Some(id) = self.echo_value()
                    && !response.headers().contains_key(&name)
                    && let Ok(id) = HeaderValue::from_bytes(id.as_bytes())
                {
                    response.headers_mut().insert(name, id);
                }
                kept(response)
            }
            // `finish_head` renders again only a response carrying an error.
            Action::Render => {
                let error = response.extensions_mut().remove::<GatewayError>();
                match error {
                    Some(error) => rendered(self.render_actix_again(response, error)),
                    None => kept(response),
                }
            }
        }
    }

    /// The complete actix-web response for `error` and this request, as
    /// [`error_response`](Self::error_response): the error and its
    /// [`Rendered`] mark in the extensions.
    fn actix_error_response(&self, error: GatewayError) -> HttpResponse {
        let parts = render_parts(&error, &self.render_context());
        let mark = self.mark_for_length(parts.length, false);
        let mut response = into_actix(parts, id_name(self.id_header()));
        let mut extensions = response.extensions_mut();
        extensions.insert(error);
        extensions.insert(mark);
        drop(extensions);
        response
    }

    /// A response that carried `error`, rendered for another context,
    /// rendered for this one as `rerender` does: the renderer's status,
    /// body and fields, then every other field of the response (not those
    /// that framed or described the old body); the response's extensions
    /// kept, the error reported and marked.
    fn render_actix_again<B>(
        &self,
        mut response: HttpResponse<B>,
        error: GatewayError,
    ) -> HttpResponse<BoxBody> {
        // One id for the header, the body and the log event.
        let name = id_name(self.id_header());
        let own = response.headers().get(&name).map(HeaderValue::as_bytes);
        let id = self.response_id(&error, own);
        let ctx = self.render_context().with_request_id(id.as_str());
        let parts = render_parts(&error, &ctx);
        let previous = std::mem::take(response.headers_mut());
        *response.status_mut() = status(parts.status);
        let body = body(parts.body, parts.length);
        let mark = self.mark_for_length(parts.length, true);
        let headers = response.headers_mut();
        headers.reserve(previous.len());
        put_fields(headers, parts.fields, &name);
        let has_id = headers.contains_key(&name).then_some(name.as_str());
        for (field, value) in previous {
            if kept_by_rerender(field.as_str(), value.as_bytes(), has_id) {
                headers.append(field, value);
            }
        }
        self.report(&error, &id, true);
        let mut response = response.set_body(body);
        let mut extensions = response.extensions_mut();
        extensions.insert(error);
        extensions.insert(mark);
        drop(extensions);
        response
    }
}

/// The response for a handler's `error`, as
/// [`respond`](crate::pipeline::respond): rendered for the current request
/// context when there is one, otherwise for the default context with the
/// error in the extensions.
fn respond(error: GatewayError) -> HttpResponse {
    match RequestContext::current() {
        Some(ctx) => ctx.actix_error_response(error),
        None => {
            let mut response =
                into_actix(render_parts(&error, &RenderContext::new()), X_REQUEST_ID);
            response.extensions_mut().insert(error);
            response
        }
    }
}

/// How many fields a rendered response has at most (a gRPC answer with
/// every optional one).
const FIELDS: usize = 9;

/// A rendered error as actix-web's response.
fn into_actix(parts: RenderedParts, id_name: HeaderName) -> HttpResponse {
    let mut response =
        HttpResponse::with_body(status(parts.status), body(parts.body, parts.length));
    put_fields(response.headers_mut(), parts.fields, &id_name);
    response
}

/// The request id's header (the policy's) as actix-web's name.
fn id_name(name: &http::HeaderName) -> HeaderName {
    if name == crate::X_REQUEST_ID {
        return X_REQUEST_ID;
    }
    HeaderName::from_bytes(name.as_str().as_bytes()).unwrap_or(X_REQUEST_ID)
}

/// The body of a rendered response: its bytes, or for HEAD (no bytes, a
/// length) a body that claims GET's size and yields none, as actix-web
/// sends none (it writes `Content-Length` from the body's size).
fn body(bytes: Bytes, length: u64) -> BoxBody {
    if bytes.is_empty() && length > 0 {
        BoxBody::new(HeadBody(length))
    } else {
        BoxBody::new(bytes)
    }
}

/// Puts the rendered fields into `headers`, in the renderer's order.
fn put_fields(headers: &mut HeaderMap, fields: RenderedFields, id_name: &HeaderName) {
    headers.reserve(FIELDS);
    fields.for_each(|field| {
        if let Some((name, value)) = actix_field(field, id_name) {
            headers.append(name, value);
        }
    });
}

/// A rendered field as actix-web's name and value: fixed values are
/// constants, run-time ones the render's bytes, shared. `None` for a value
/// that is not valid (never, for what the renderer writes), as the `http`
/// map leaves it out.
fn actix_field(field: Field, id_name: &HeaderName) -> Option<(HeaderName, HeaderValue)> {
    let shared = |bytes: Bytes| HeaderValue::from_maybe_shared(bytes).ok();
    Some(match field {
        Field::ContentType(format) => (CONTENT_TYPE, content_type(format)),
        Field::ContentLength(value) => (header::CONTENT_LENGTH, shared(value)?),
        Field::CacheControl => (
            header::CACHE_CONTROL,
            const { HeaderValue::from_static(NO_STORE) },
        ),
        Field::Vary => (
            header::VARY,
            const { HeaderValue::from_static(crate::render::ACCEPT) },
        ),
        Field::ContentTypeOptions => (
            header::X_CONTENT_TYPE_OPTIONS,
            const { HeaderValue::from_static(NOSNIFF) },
        ),
        Field::RetryAfter(value) => (header::RETRY_AFTER, shared(value)?),
        Field::ProxyStatus(value) => (PROXY_STATUS, shared(value)?),
        Field::RequestId(value) => (id_name.clone(), shared(value)?),
        Field::ContentSecurityPolicy => (
            header::CONTENT_SECURITY_POLICY,
            const { HeaderValue::from_static(crate::render::PAGE_CONTENT_SECURITY_POLICY) },
        ),
        Field::GrpcStatus(code) => (GRPC_STATUS, HeaderValue::from_static(code.as_str())),
        Field::GrpcMessage(value) => (GRPC_MESSAGE, shared(value)?),
        Field::GrpcRetryPushbackMs(value) => (GRPC_RETRY_PUSHBACK_MS, shared(value)?),
        Field::GrpcStatusDetailsBin(value) => (GRPC_STATUS_DETAILS_BIN, shared(value)?),
    })
}

/// The `Content-Type` field value, built at compile time.
fn content_type(format: Format) -> HeaderValue {
    match format {
        Format::Json => const { HeaderValue::from_static(Format::Json.content_type()) },
        Format::ProblemJson => {
            const { HeaderValue::from_static(Format::ProblemJson.content_type()) }
        }
        Format::Html => const { HeaderValue::from_static(Format::Html.content_type()) },
        Format::Text => const { HeaderValue::from_static(Format::Text.content_type()) },
        Format::Grpc => const { HeaderValue::from_static(Format::Grpc.content_type()) },
    }
}

/// An `http` 1 status as actix-web's.
fn status(status: http::StatusCode) -> StatusCode {
    StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// An actix-web method as `http` 1's.
fn method(method: &Method) -> http::Method {
    http::Method::from_bytes(method.as_str().as_bytes()).unwrap_or_default()
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
    use crate::context::Policy;
    use crate::registry::ProxyError;
    use crate::render::render;
    use std::time::Duration;

    /// The fields of an actix-web response, by name, values in order.
    fn actix_fields(headers: &HeaderMap) -> Vec<(String, Vec<Vec<u8>>)> {
        let mut fields: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
        for (name, value) in headers {
            match fields.iter_mut().find(|(n, _)| n == name.as_str()) {
                Some((_, values)) => values.push(value.as_bytes().to_vec()),
                None => fields.push((name.as_str().to_owned(), vec![value.as_bytes().to_vec()])),
            }
        }
        fields.sort();
        fields
    }

    /// The fields of an `http` 1 map, by name, values in order.
    fn http_fields(headers: &http::HeaderMap) -> Vec<(String, Vec<Vec<u8>>)> {
        let mut fields: Vec<(String, Vec<Vec<u8>>)> = headers
            .keys()
            .map(|name| {
                let values = headers
                    .get_all(name)
                    .iter()
                    .map(|v| v.as_bytes().to_vec())
                    .collect();
                (name.as_str().to_owned(), values)
            })
            .collect();
        fields.sort();
        fields
    }

    /// A body's bytes: a rendered body is one `Bytes`; a HEAD body none.
    fn body_bytes(body: impl MessageBody) -> Bytes {
        body.try_into_bytes().unwrap_or_default()
    }

    /// Every format, gRPC's too.
    fn formats() -> impl Iterator<Item = Format> {
        Format::ALL.iter().copied().chain([Format::Grpc])
    }

    fn errors() -> Vec<GatewayError> {
        vec![
            BadGateway::new().into(),
            BadGateway::upstream("product-service")
                .with_kind(ProxyError::ConnectionRefused)
                .with_details("The catalog is \"down\" <now>.")
                .with_retry_after(Duration::from_secs(30))
                .with_request_id("req-42")
                .into(),
            GatewayTimeout::upstream("pricing").into(),
            ServiceUnavailable::upstream("search")
                .with_retry_after(Duration::from_secs(120))
                .into(),
            InternalServerError::new()
                .with_kind(ProxyError::ProxyConfigurationError)
                .into(),
        ]
    }

    /// Every format, method and policy: the actix-web response has
    /// `render`'s status, fields and body.
    #[test]
    fn the_actix_response_is_the_renderers() {
        let policies = [
            Policy::new(),
            Policy::new()
                .with_proxy_name("bff")
                .with_upstream_names(true),
        ];
        let methods = [http::Method::GET, http::Method::HEAD, http::Method::POST];
        let mut seen = 0;
        for error in errors() {
            for policy in &policies {
                for method in &methods {
                    for format in formats() {
                        for id in [None, Some("r-7")] {
                            let mut ctx = RenderContext::new()
                                .with_format(format)
                                .with_method(method)
                                .with_policy(policy);
                            if let Some(id) = id {
                                ctx = ctx.with_request_id(id);
                            }
                            let expected = render(&error, &ctx);
                            let response = into_actix(
                                render_parts(&error, &ctx),
                                id_name(policy.request_id_header()),
                            );
                            let what = format!("{error:?} {format:?} {method} {id:?}");
                            assert_eq!(
                                response.status().as_u16(),
                                expected.status().as_u16(),
                                "{what}"
                            );
                            assert_eq!(
                                actix_fields(response.headers()),
                                http_fields(expected.headers()),
                                "{what}"
                            );
                            let length = expected.headers()[http::header::CONTENT_LENGTH]
                                .to_str()
                                .ok()
                                .and_then(|v| v.parse::<u64>().ok());
                            assert_eq!(
                                response.body().size(),
                                BodySize::Sized(length.unwrap_or_default()),
                                "{what}"
                            );
                            assert_eq!(body_bytes(response.into_body()), expected.body(), "{what}");
                            seen += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(seen, 5 * 2 * 3 * formats().count() * 2);
    }

    #[test]
    fn error_response_outside_the_middleware_is_the_default_rendering() {
        let err = BadGateway::upstream("product-service")
            .with_source(std::io::Error::other("secret: connect 10.0.0.7"));
        assert_eq!(ResponseError::status_code(&err), StatusCode::BAD_GATEWAY);

        let response = err.error_response();
        let expected = render(&err.clone().into(), &RenderContext::new());
        assert_eq!(response.status().as_u16(), expected.status().as_u16());
        assert_eq!(
            actix_fields(response.headers()),
            http_fields(expected.headers())
        );
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
        assert_eq!(
            actix_fields(response.headers()),
            http_fields(expected.headers())
        );
        assert!(response.extensions().get::<Rendered>().is_some());
        // HEAD: no bytes, GET's size.
        let length = expected.headers()[http::header::CONTENT_LENGTH]
            .to_str()
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_default();
        assert!(length > 0);
        assert_eq!(response.body().size(), BodySize::Sized(length));
        // Kept as it is by the middleware.
        let finished = ctx.finish_actix(response);
        assert!(matches!(finished.body(), EitherBody::Left { .. }));
    }

    /// Rendered again, as `finish` does for `http` 1: the handler's other
    /// fields kept, the stale ones dropped, the same bytes.
    #[test]
    fn rendering_again_keeps_the_other_fields_as_finish_does() {
        let fields = [
            ("transfer-encoding", "chunked"),
            ("etag", "\"v1\""),
            ("content-encoding", "gzip"),
            ("vary", "accept"),
            ("vary", "origin"),
            ("x-trace", "t-1"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("x-request-id", "handler-id"),
        ];
        let error = GatewayError::from(BadGateway::upstream("db"));
        let mut actix = error.error_response();
        let mut http = crate::pipeline::respond(error.clone());
        for (name, value) in fields {
            actix.headers_mut().append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
            http.headers_mut().append(
                http::HeaderName::from_static(name),
                http::HeaderValue::from_static(value),
            );
        }
        let policy = Policy::new().with_proxy_name("bff");
        let pipeline = Pipeline::new(policy);
        for format in formats() {
            let ctx = pipeline.capture_parts(http::Method::GET, format, Some(b"r-9"));
            let mut source = http::Response::new(());
            *source.headers_mut() = http.headers().clone();
            source.extensions_mut().insert(error.clone());
            let expected = ctx
                .finish(source)
                .map_body(|()| Bytes::new(), |bytes| bytes);
            let mut again = error.error_response();
            *again.headers_mut() = actix.headers().clone();
            let response = ctx.finish_actix(again);
            assert!(matches!(response.body(), EitherBody::Right { .. }));
            assert_eq!(response.status().as_u16(), expected.status().as_u16());
            assert_eq!(
                actix_fields(response.headers()),
                http_fields(expected.headers()),
                "{format:?}"
            );
            let vary: Vec<_> = response.headers().get_all("vary").collect();
            // The renderer's `accept` first (a gRPC answer has none).
            let rendered: &[&str] = if format == Format::Grpc {
                &["origin"]
            } else {
                &["accept", "origin"]
            };
            assert_eq!(vary, rendered);
            assert_eq!(
                response
                    .headers()
                    .get("x-request-id")
                    .map(HeaderValue::as_bytes),
                Some(&b"handler-id"[..])
            );
            assert!(response.extensions().get::<Rendered>().is_some());
            assert_eq!(body_bytes(response.into_body()), expected.body());
        }
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
}
