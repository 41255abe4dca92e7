//! The service [`GatewayErrors`](crate::GatewayErrors) puts around an app,
//! and its future.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, forward_ready};
use actix_web::error::InternalError;
use actix_web::http::Method;
use actix_web::http::header::{ACCEPT, HeaderMap, HeaderName, HeaderValue};
use actix_web::{Error, HttpResponse};
use gateway_error_core::__private::{RenderedParts, render_parts};
use gateway_error_core::{
    BadGateway, Format, GatewayError, GatewayTimeout, InternalServerError, Policy, RenderContext,
    ServiceUnavailable, generate_request_id, is_valid_request_id, log, rerender,
};
use pin_project_lite::pin_project;

use crate::convert;

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The service [`GatewayErrors`](crate::GatewayErrors) wraps around the
/// app's: it gives requests an id and renders gateway errors for them.
pub struct GatewayErrorsService<S> {
    service: S,
    policy: Rc<Policy>,
}

impl<S> GatewayErrorsService<S> {
    pub(crate) fn new(service: S, policy: Rc<Policy>) -> Self {
        Self { service, policy }
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
        // Only what the response needs: a clone of the request itself
        // would make routing panic (actix-web mutates it via `Rc::get_mut`).
        let request_id = request_id(req.headers_mut());
        let (accept, more_accept) = match req.headers().get_all(ACCEPT).as_slice() {
            [] => (None, Vec::new()),
            [first, rest @ ..] => (Some(first.clone()), rest.to_vec()),
        };
        let request = RequestParts {
            method: req.method().clone(),
            accept,
            more_accept,
            request_id,
        };
        GatewayErrorsFuture {
            future: self.service.call(req),
            request,
            policy: Rc::clone(&self.policy),
        }
    }
}

pin_project! {
    /// The future of a response from [`GatewayErrorsService`].
    pub struct GatewayErrorsFuture<F> {
        #[pin]
        future: F,
        request: RequestParts,
        policy: Rc<Policy>,
    }
}

impl<F, B> Future for GatewayErrorsFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // The middleware renders any gateway error again: the handler's
        // default rendering is skipped.
        let polled = gateway_error_core::__private::rendered_again(|| this.future.poll(cx));
        Poll::Ready(match ready!(polled) {
            Ok(res) => Ok(this.request.respond(res, this.policy)),
            Err(err) => Err(this.request.respond_err(err, this.policy)),
        })
    }
}

/// What the response needs of its request.
struct RequestParts {
    method: Method,
    /// The first `Accept` field; the others, rarely any, in `more_accept`.
    accept: Option<HeaderValue>,
    more_accept: Vec<HeaderValue>,
    request_id: Option<HeaderValue>,
}

impl RequestParts {
    /// Echoes the request id, and renders a response that carries a
    /// gateway error again, for this request.
    fn respond<B>(
        &mut self,
        mut res: ServiceResponse<B>,
        policy: &Policy,
    ) -> ServiceResponse<EitherBody<B>> {
        // The error stays where it is, in the extensions, for outer
        // middleware.
        let rendered = res
            .response()
            .extensions()
            .get::<GatewayError>()
            .map(|error| self.render(error, res.headers(), policy));
        let Some(rendered) = rendered else {
            if let Some(id) = self.request_id.take() {
                res.headers_mut().insert(X_REQUEST_ID.clone(), id);
            }
            return res.map_into_left_body();
        };
        let (req, response) = res.into_parts();
        let response = self.apply(rendered, response);
        ServiceResponse::new(req, response).map_into_right_body()
    }

    /// A gateway error that a middleware inside this one returned as `Err`,
    /// rendered for this request (its response is the error's
    /// `error_response`); any other error unchanged.
    fn respond_err(&mut self, err: Error, policy: &Policy) -> Error {
        let Some(error) = gateway_error(&err) else {
            return err;
        };
        let response = HttpResponse::new(convert::status(error.status()));
        let rendered = self.render(&error, response.headers(), policy);
        let mut response = self.apply(rendered, response);
        response.extensions_mut().insert(error.clone());
        InternalError::from_response(error, response).into()
    }

    /// Renders `error` for this request, over a response's `headers`: the
    /// renderer's are replaced, every other one is kept.
    fn render(&self, error: &GatewayError, headers: &HeaderMap, policy: &Policy) -> Rendered {
        let method = convert::method(&self.method);
        let mut ctx = match (&self.accept, self.more_accept.is_empty()) {
            (None, _) => RenderContext::new(),
            // The usual single field, negotiated from its bytes: no map.
            (Some(one), true) => {
                RenderContext::new().with_format(Format::negotiate_bytes(one.as_bytes()))
            }
            (Some(_), false) => RenderContext::new().with_accept(&convert::fields(
                &http::header::ACCEPT,
                self.accept.iter().chain(&self.more_accept),
            )),
        }
        .with_policy(policy);
        if let Some(method) = &method {
            ctx = ctx.with_method(method);
        }
        if let Some(id) = self.request_id.as_ref().and_then(|id| id.to_str().ok()) {
            ctx = ctx.with_request_id(id);
        }
        log(error, ctx.request_id());
        if headers.is_empty() {
            // The usual case, the skeleton of a handler's error: nothing to
            // keep, so no http 1 map is needed either.
            Rendered::Parts(render_parts(error, &ctx))
        } else {
            Rendered::Response(rerender(error, &ctx, convert::headers_to_http(headers)))
        }
    }

    /// `response` with the status, headers and body of `rendered`, and the
    /// request id.
    fn apply<B>(
        &mut self,
        rendered: Rendered,
        mut response: HttpResponse<B>,
    ) -> HttpResponse<BoxBody> {
        let head = self.method == Method::HEAD;
        let (status, body) = match rendered {
            Rendered::Parts(parts) => {
                let status = parts.status;
                (
                    status,
                    convert::parts_into(parts, head, response.headers_mut()),
                )
            }
            Rendered::Response(rendered) => {
                let (parts, body) = rendered.into_parts();
                convert::headers_from_http(&parts.headers, response.headers_mut());
                let length = parts.headers.get(http::header::CONTENT_LENGTH);
                let body = convert::body(body, head, length.map(http::HeaderValue::as_bytes));
                (parts.status, body)
            }
        };
        let mut response = response.set_body(body);
        *response.status_mut() = convert::status(status);
        if let Some(id) = self.request_id.take() {
            response.headers_mut().insert(X_REQUEST_ID.clone(), id);
        }
        response
    }
}

/// A gateway error rendered for a request, in the form the response's
/// headers allowed.
enum Rendered {
    /// Over a response without headers: straight into actix-web's.
    Parts(RenderedParts),
    /// Over a response with headers, which it keeps: through http 1.
    Response(http::Response<actix_web::web::Bytes>),
}

/// The request's valid `x-request-id`, or a new one put into the request's
/// headers so that handlers see it.
fn request_id(headers: &mut HeaderMap) -> Option<HeaderValue> {
    let valid = |id: &&HeaderValue| id.to_str().is_ok_and(is_valid_request_id);
    if let Some(id) = headers.get(&X_REQUEST_ID).filter(valid) {
        return Some(id.clone());
    }
    let id = HeaderValue::from_bytes(generate_request_id().as_bytes()).ok()?;
    headers.insert(X_REQUEST_ID.clone(), id.clone());
    Some(id)
}

/// The gateway error an actix-web error wraps, if any.
fn gateway_error(err: &Error) -> Option<GatewayError> {
    fn find<T: Clone + Into<GatewayError> + actix_web::ResponseError + 'static>(
        err: &Error,
    ) -> Option<GatewayError> {
        err.as_error::<T>().cloned().map(Into::into)
    }
    find::<GatewayError>(err)
        .or_else(|| find::<BadGateway>(err))
        .or_else(|| find::<GatewayTimeout>(err))
        .or_else(|| find::<ServiceUnavailable>(err))
        .or_else(|| find::<InternalServerError>(err))
}
