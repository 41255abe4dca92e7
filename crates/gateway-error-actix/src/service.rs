//! The service [`GatewayErrors`](crate::GatewayErrors) puts around an app,
//! and its future: actix-web's translation of the core pipeline.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, forward_ready};
use actix_web::error::InternalError;
use actix_web::http::header::{ACCEPT, CONTENT_TYPE, HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage, HttpResponse};
use gateway_error_core::actix_web::{headers_to_http, into_actix, method_to_http};
use gateway_error_core::pipeline::{Action, Instrumented, Pipeline, Rendered, RequestContext};
use gateway_error_core::{Format, GatewayError};
use pin_project_lite::pin_project;

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The service [`GatewayErrors`](crate::GatewayErrors) wraps around the
/// app's: it gives requests their context and finishes their responses.
pub struct GatewayErrorsService<S> {
    service: S,
    pipeline: Pipeline,
}

impl<S> GatewayErrorsService<S> {
    pub(crate) fn new(service: S, pipeline: Pipeline) -> Self {
        Self { service, pipeline }
    }
}

impl<S, B> Service<ServiceRequest> for GatewayErrorsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = GatewayErrorsFuture<S::Future>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let format = Format::from_request_bytes(
            req.headers().get(CONTENT_TYPE).map(HeaderValue::as_bytes),
            req.headers().get_all(ACCEPT).map(HeaderValue::as_bytes),
        );
        let ctx = self.pipeline.capture_parts(
            method_to_http(req.method()),
            format,
            req.headers().get(&X_REQUEST_ID).map(HeaderValue::as_bytes),
        );
        let id = ctx.request_id();
        if id.is_generated()
            && let Ok(value) = HeaderValue::from_bytes(id.header_value().as_bytes())
        {
            req.headers_mut().insert(X_REQUEST_ID.clone(), value);
        }
        req.extensions_mut().insert(id.clone());
        let future = ctx.in_scope(|| self.service.call(req));
        GatewayErrorsFuture {
            future: ctx.instrument(future),
        }
    }
}

pin_project! {
    /// The future of a response from [`GatewayErrorsService`].
    pub struct GatewayErrorsFuture<F> {
        #[pin]
        future: Instrumented<F>,
    }
}

impl<F, B> Future for GatewayErrorsFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut future = self.project().future;
        let polled = ready!(future.as_mut().poll(cx));
        let ctx = future.context();
        Poll::Ready(match polled {
            Ok(res) => Ok(finish(ctx, res)),
            Err(err) => Err(finish_err(ctx, err)),
        })
    }
}

/// [`RequestContext::finish`] for actix-web's response.
fn finish<B>(ctx: &RequestContext, mut res: ServiceResponse<B>) -> ServiceResponse<EitherBody<B>> {
    let action = {
        let response = res.response();
        let extensions = response.extensions();
        ctx.finish_head(
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
            if let Some(id) = ctx.echo_value()
                && !res.headers().contains_key(&X_REQUEST_ID)
                && let Ok(id) = HeaderValue::from_bytes(id.as_bytes())
            {
                res.headers_mut().insert(X_REQUEST_ID.clone(), id);
            }
            res.map_into_left_body()
        }
        Action::Render => {
            let (req, response) = res.into_parts();
            ServiceResponse::new(req, render_again(ctx, response)).map_into_right_body()
        }
    }
}

/// A response carrying a gateway error rendered for another context,
/// through [`RequestContext::finish_parts`] and back.
fn render_again<B>(ctx: &RequestContext, mut response: HttpResponse<B>) -> HttpResponse<BoxBody> {
    let (mut parts, ()) = http::Response::new(()).into_parts();
    parts.status = http::StatusCode::from_u16(response.status().as_u16()).unwrap_or_default();
    parts.headers = headers_to_http(response.headers());
    if let Some(error) = response.extensions_mut().remove::<GatewayError>() {
        parts.extensions.insert(error);
    }
    let body = ctx.finish_parts(&mut parts);
    into_actix(http::Response::from_parts(parts, body))
}

/// A gateway error that a middleware inside returned as `Err`, rendered for
/// this request in an `InternalError` that carries the response; any other
/// error unchanged.
fn finish_err(ctx: &RequestContext, err: Error) -> Error {
    let Some(error) = GatewayError::from_actix_error(&err) else {
        return err;
    };
    let response = ctx.error_response(error.clone());
    let response = ctx
        .finish(response)
        .map_body(|kept| kept, |rendered| rendered);
    InternalError::from_response(error, into_actix(response)).into()
}
