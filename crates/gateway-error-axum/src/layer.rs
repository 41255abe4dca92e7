//! The layer that renders gateway errors with the request's context.

use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum_core::BoxError;
use axum_core::body::Body;
use bytes::Bytes;
use gateway_error_core::__private::render_echoing;
use gateway_error_core::{
    Format, GatewayError, Policy, RenderContext, X_REQUEST_ID, generate_request_id,
    is_valid_request_id, log, rerender,
};
use http::header::ACCEPT;
use http::{HeaderMap, HeaderValue, Method, Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

/// A tower [`Layer`] that renders gateway errors for the request that
/// caused them.
///
/// A handler's `Err(BadGateway)` becomes a JSON response before anything
/// knows the request. This layer finds the [`GatewayError`] such responses
/// carry and renders it again with the request's `Accept` fields, method
/// (HEAD gets no body, POST is not "retryable" after a timeout) and request
/// id, under the layer's [`Policy`]. It keeps every other header the
/// handler set, logs the error once (with its source chain and the request
/// id, through `tracing`), and echoes `x-request-id` on every response.
///
/// A request without a valid `x-request-id` (visible ASCII, 1 to 128 bytes)
/// gets a generated one, inserted into the request's headers so that
/// handlers see it too.
///
/// Add it last, so that it wraps everything that may produce a gateway
/// error (routes, fallbacks, [`handle_error`](crate::handle_error)).
/// Under the layer a handler's error response is only a skeleton (its
/// status, and the error in its extensions) until the layer renders it, so
/// a middleware in between must keep response extensions, as tower-http's
/// and axum's own do.
///
/// # Examples
///
/// ```
/// use axum::{Router, routing::get};
/// use gateway_error_axum::GatewayErrorLayer;
/// use gateway_error_core::{BadGateway, Policy};
///
/// async fn product() -> Result<String, BadGateway> {
///     Err(BadGateway::upstream("product-service"))
/// }
///
/// let app: Router = Router::new()
///     .route("/products/{id}", get(product))
///     .layer(GatewayErrorLayer::new(Policy::new().with_proxy_name("bff")));
/// ```
#[derive(Clone, Debug, Default)]
pub struct GatewayErrorLayer {
    policy: Arc<Policy>,
}

impl GatewayErrorLayer {
    /// A layer rendering under `policy`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error_axum::GatewayErrorLayer;
    /// use gateway_error_core::Policy;
    ///
    /// let layer = GatewayErrorLayer::new(Policy::new().with_upstream_names(true));
    /// assert!(layer.policy().shows_upstream_names());
    /// ```
    #[must_use]
    pub fn new(policy: Policy) -> Self {
        Self {
            policy: Arc::new(policy),
        }
    }

    /// The policy the layer renders under.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error_axum::GatewayErrorLayer;
    /// use gateway_error_core::Policy;
    ///
    /// assert_eq!(GatewayErrorLayer::default().policy(), &Policy::new());
    /// ```
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}

impl<S> Layer<S> for GatewayErrorLayer {
    type Service = GatewayErrorService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GatewayErrorService {
            inner,
            policy: Arc::clone(&self.policy),
        }
    }
}

/// The service [`GatewayErrorLayer`] wraps around an inner service.
///
/// # Examples
///
/// ```
/// use axum::{Router, routing::get};
/// use gateway_error_axum::{GatewayErrorLayer, GatewayErrorService};
/// use tower::Layer;
///
/// let app: GatewayErrorService<Router> =
///     GatewayErrorLayer::default().layer(Router::new().route("/", get(|| async { "ok" })));
/// ```
#[derive(Clone, Debug)]
pub struct GatewayErrorService<S> {
    inner: S,
    policy: Arc<Policy>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GatewayErrorService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let request_id = request_id(request.headers_mut());
        let captured = RequestParts {
            method: request.method().clone(),
            accept: Accept::capture(request.headers()),
            request_id,
            policy: Arc::clone(&self.policy),
        };
        ResponseFuture {
            inner: self.inner.call(request),
            request: captured,
        }
    }
}

pin_project! {
    /// The response future of [`GatewayErrorService`].
    ///
    /// # Examples
    ///
    /// ```
    /// use axum::{Router, body::Body, http::Request, routing::get};
    /// use gateway_error_axum::{GatewayErrorLayer, ResponseFuture};
    /// use tower::{Layer, Service};
    ///
    /// let mut app = GatewayErrorLayer::default().layer(Router::new().route("/", get(|| async { "ok" })));
    /// let request = Request::get("/").body(Body::empty())?;
    /// let _future: ResponseFuture<_> = app.call(request);
    /// # Ok::<(), axum::http::Error>(())
    /// ```
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        request: RequestParts,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // The layer renders any gateway error again: the handler's default
        // rendering is skipped.
        let response = ready!(gateway_error_core::__private::rendered_again(|| this
            .inner
            .poll(cx)))?;
        Poll::Ready(Ok(this.request.finish(response)))
    }
}

/// What the response needs of the request, captured before the inner
/// service takes it: no copy of the header map, only cheap clones.
struct RequestParts {
    method: Method,
    accept: Accept,
    request_id: HeaderValue,
    policy: Arc<Policy>,
}

impl RequestParts {
    /// Re-renders a response that carries a gateway error; echoes the
    /// request id on every response.
    fn finish<B>(&mut self, response: Response<B>) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let (mut parts, body) = response.into_parts();
        let request_id = mem::replace(&mut self.request_id, HeaderValue::from_static(""));
        // The error stays where it is, in the extensions, for outer layers.
        let Some(error) = parts.extensions.get::<GatewayError>() else {
            parts.headers.insert(&X_REQUEST_ID, request_id);
            return Response::from_parts(parts, Body::new(body));
        };
        drop(body);
        let ctx = self
            .accept
            .apply(RenderContext::new().with_method(&self.method))
            .with_request_id(request_id.to_str().unwrap_or_default())
            .with_policy(&self.policy);
        log(error, ctx.request_id());
        let previous = mem::take(&mut parts.headers);
        let rendered = if previous.is_empty() {
            // The usual case, a handler's skeleton: the request id goes
            // into the rendered map, which has room for it.
            render_echoing(error, &ctx, request_id.clone())
        } else {
            let mut rendered = rerender(error, &ctx, previous);
            rendered
                .headers_mut()
                .insert(&X_REQUEST_ID, request_id.clone());
            rendered
        };
        let (rendered, bytes) = rendered.into_parts();
        parts.status = rendered.status;
        parts.headers = rendered.headers;
        Response::from_parts(parts, Body::from(bytes))
    }
}

/// The request's valid `x-request-id`, or a new one put in its place.
fn request_id(headers: &mut HeaderMap) -> HeaderValue {
    let valid = |id: &&HeaderValue| id.to_str().is_ok_and(is_valid_request_id);
    if let Some(id) = headers.get(&X_REQUEST_ID).filter(valid) {
        return id.clone();
    }
    let id = generate_request_id();
    headers.insert(&X_REQUEST_ID, id.clone());
    id
}

/// The request's `Accept` fields, kept as cheap clones and negotiated only
/// when an error needs rendering.
enum Accept {
    Absent,
    One(HeaderValue),
    Many(HeaderMap),
}

impl Accept {
    fn capture(headers: &HeaderMap) -> Self {
        let mut fields = headers.get_all(ACCEPT).iter();
        match (fields.next(), fields.next()) {
            (None, _) => Self::Absent,
            (Some(one), None) => Self::One(one.clone()),
            (Some(_), Some(_)) => Self::Many(
                headers
                    .get_all(ACCEPT)
                    .iter()
                    .map(|value| (ACCEPT, value.clone()))
                    .collect(),
            ),
        }
    }

    fn apply<'a>(&'a self, ctx: RenderContext<'a>) -> RenderContext<'a> {
        match self {
            Self::Absent => ctx,
            Self::One(value) => ctx.with_format(Format::negotiate(Some(value))),
            Self::Many(fields) => ctx.with_accept(fields),
        }
    }
}
