//! The layer: axum's translation of the core pipeline.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum_core::BoxError;
use axum_core::body::Body;
use bytes::Bytes;
use gateway_error_core::Policy;
use gateway_error_core::pipeline::{Instrumented, Pipeline};
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

/// A tower [`Layer`] that renders gateway errors for the request that
/// caused them, through the core [pipeline](gateway_error_core::pipeline).
///
/// While the layer polls the service it wraps, the request's context is
/// current, so a handler's `Err(BadGateway)` becomes the complete response
/// for the request right away: the format its `Accept` fields ask for, its
/// method (HEAD gets no body, POST is not "retryable" after a timeout), its
/// request id, the layer's [`Policy`]. A middleware between handler and
/// layer sees that response as the client will. An error rendered
/// elsewhere (in a task the handler spawned) is rendered again here,
/// keeping the handler's other headers.
///
/// The request id follows the pipeline's rule: the request's valid
/// `x-request-id`, or a generated one that replaces it in the request's
/// headers; handlers extract it as
/// [`RequestId`](gateway_error_core::pipeline::RequestId), and every
/// response echoes it unless the handler set its own. Each error is
/// reported once (a `tracing` event with OpenTelemetry field names, and
/// your [`OnError`](gateway_error_core::pipeline::OnError) observers), even with layers nested.
///
/// Add it last, so that it wraps everything that may produce a gateway
/// error (routes, fallbacks, [`handle_error`](crate::handle_error)).
///
/// # Examples
///
/// ```
/// use axum::{Router, routing::get};
/// use gateway_error::axum::GatewayErrorLayer;
/// use gateway_error::{BadGateway, Policy};
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
    pipeline: Pipeline,
}

impl GatewayErrorLayer {
    /// A layer running `pipeline`: a [`Policy`] (rendering under it, the
    /// `tracing` event on), or a configured [`Pipeline`] (with
    /// [`on_error`](Pipeline::on_error) observers, or
    /// [`with_tracing(false)`](Pipeline::with_tracing)).
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::axum::GatewayErrorLayer;
    /// use gateway_error::pipeline::{ErrorEvent, Pipeline};
    /// use gateway_error::Policy;
    ///
    /// let plain = GatewayErrorLayer::new(Policy::new().with_upstream_names(true));
    /// assert!(plain.policy().shows_upstream_names());
    ///
    /// let observed = GatewayErrorLayer::new(
    ///     Pipeline::new(Policy::new())
    ///         .with_tracing(false)
    ///         .on_error(|event: &ErrorEvent<'_>| println!("{} {}", event.status(), event.error_type())),
    /// );
    /// # let _ = observed;
    /// ```
    #[must_use]
    pub fn new(pipeline: impl Into<Pipeline>) -> Self {
        Self {
            pipeline: pipeline.into(),
        }
    }

    /// The policy the layer renders under.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::axum::GatewayErrorLayer;
    /// use gateway_error::Policy;
    ///
    /// assert_eq!(GatewayErrorLayer::default().policy(), &Policy::new());
    /// ```
    #[must_use]
    pub fn policy(&self) -> &Policy {
        self.pipeline.policy()
    }
}

impl<S> Layer<S> for GatewayErrorLayer {
    type Service = GatewayErrorService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GatewayErrorService {
            inner,
            pipeline: self.pipeline.clone(),
        }
    }
}

/// The service [`GatewayErrorLayer`] wraps around an inner service.
///
/// # Examples
///
/// ```
/// use axum::{Router, routing::get};
/// use gateway_error::axum::{GatewayErrorLayer, GatewayErrorService};
/// use tower::Layer;
///
/// let app: GatewayErrorService<Router> =
///     GatewayErrorLayer::default().layer(Router::new().route("/", get(|| async { "ok" })));
/// ```
#[derive(Clone, Debug)]
pub struct GatewayErrorService<S> {
    inner: S,
    pipeline: Pipeline,
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
        let ctx = self.pipeline.begin(&mut request);
        let inner = ctx.in_scope(|| self.inner.call(request));
        ResponseFuture {
            inner: ctx.instrument(inner),
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
    /// use gateway_error::axum::{GatewayErrorLayer, ResponseFuture};
    /// use tower::{Layer, Service};
    ///
    /// let mut app = GatewayErrorLayer::default().layer(Router::new().route("/", get(|| async { "ok" })));
    /// let request = Request::get("/").body(Body::empty())?;
    /// let _future: ResponseFuture<_> = app.call(request);
    /// # Ok::<(), axum::http::Error>(())
    /// ```
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Instrumented<F>,
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
        let mut inner = self.project().inner;
        let response = ready!(inner.as_mut().poll(cx))?;
        let finished = inner.context().finish(response);
        Poll::Ready(Ok(finished.map_body(Body::new, Body::from)))
    }
}
