//! One tower layer for every tower server: axum, hyper (through
//! hyper-util's `TowerToHyperService`), tonic's `Server::builder().layer(..)`,
//! warp's `warp::service(..)` (see `gateway_error::warp`) and any other
//! stack of `http` services.
//!
//! [`GatewayErrorLayer`] is the [pipeline](crate::pipeline) as tower
//! middleware, generic over request and response bodies in the manner of
//! tower-http: it captures each request's context once (format from
//! `Accept`, method, request id, policy), and on the way out renders the
//! [`GatewayError`](crate::GatewayError) a response carries in its extensions for that request,
//! echoes the request id on every response, and reports each error once.
//! A response it renders gets a new body; any other keeps its own, in the
//! same [`GatewayBody`].
//!
//! # Examples
//!
//! With plain hyper, a handler that answers `Result<_, GatewayError>`:
//!
//! ```
//! use bytes::Bytes;
//! use gateway_error::layer::GatewayErrorLayer;
//! use gateway_error::{BadGateway, GatewayError, Policy};
//! use http::{Request, Response};
//! use http_body_util::{BodyExt, Empty, Full};
//! use tower::{Layer, ServiceExt};
//!
//! async fn handler(_: Request<Empty<Bytes>>) -> Result<Response<Full<Bytes>>, GatewayError> {
//!     Err(BadGateway::upstream("product-service").into())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! // `into_response` turns the handler's error into a response carrying it.
//! let service = tower::service_fn(|request| async {
//!     Ok::<_, std::convert::Infallible>(match handler(request).await {
//!         Ok(response) => response,
//!         Err(error) => gateway_error::pipeline::respond(error).map(Full::new),
//!     })
//! });
//! let app = GatewayErrorLayer::new(Policy::new().with_proxy_name("bff")).layer(service);
//! let request = Request::get("/products/7")
//!     .header("accept", "text/plain")
//!     .header("x-request-id", "req-1")
//!     .body(Empty::new())?;
//! let response = app.oneshot(request).await?;
//! assert_eq!(response.status(), 502);
//! assert_eq!(response.headers()["proxy-status"], "bff");
//! assert_eq!(response.headers()["x-request-id"], "req-1");
//! let body = response.into_body().collect().await?.to_bytes();
//! assert!(body.starts_with(b"502 Bad Gateway\n"));
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::context::Policy;
use crate::pipeline::{Finished, Instrumented, Pipeline};

/// A tower [`Layer`](::tower::Layer) that renders gateway errors for the
/// request that caused them, through the core
/// [pipeline](crate::pipeline).
///
/// While the layer polls the service it wraps, the request's context is
/// current, so a handler's `Err(BadGateway)` becomes the complete response
/// for the request right away (the framework impls call
/// [`respond`](crate::pipeline::respond)): the format its `Accept` fields
/// ask for, its method (HEAD gets no body, POST is not "retryable" after a
/// timeout), its request id, the layer's [`Policy`]. A middleware between
/// handler and layer sees that response as the client will. An error
/// rendered elsewhere (in a task the handler spawned, or by a handler that
/// changed its head) is rendered again here, keeping its other headers.
///
/// The request id follows the pipeline's rule: the request's valid
/// `x-request-id` (so tower-http's `SetRequestIdLayer`, run before this
/// one, gives the id), or a generated one that replaces it in the
/// request's headers; handlers read it as
/// [`RequestId`](crate::RequestId) from the request's
/// extensions, and every response echoes it unless the handler set its
/// own. Each error is reported once (a `tracing` event with OpenTelemetry
/// field names, and your [`OnError`](crate::pipeline::OnError) observers),
/// even with layers nested.
///
/// Add it last (outermost), so that it wraps everything that may produce a
/// gateway error.
///
/// # Examples
///
/// ```
/// use gateway_error::layer::GatewayErrorLayer;
/// use gateway_error::Policy;
///
/// let layer = GatewayErrorLayer::new(Policy::new().with_proxy_name("bff"));
/// assert_eq!(layer.policy().proxy_name(), Some("bff"));
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
    /// use gateway_error::layer::GatewayErrorLayer;
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
    /// use gateway_error::layer::GatewayErrorLayer;
    /// use gateway_error::Policy;
    ///
    /// assert_eq!(GatewayErrorLayer::default().policy(), &Policy::new());
    /// ```
    #[must_use]
    pub fn policy(&self) -> &Policy {
        self.pipeline.policy()
    }
}

impl<S> ::tower::Layer<S> for GatewayErrorLayer {
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
/// use gateway_error::layer::{GatewayErrorLayer, GatewayErrorService};
/// use tower::Layer;
///
/// let inner = tower::service_fn(|_: http::Request<String>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok")))
/// });
/// let _service: GatewayErrorService<_> = GatewayErrorLayer::default().layer(inner);
/// ```
#[derive(Clone, Debug)]
pub struct GatewayErrorService<S> {
    inner: S,
    pipeline: Pipeline,
}

impl<S, ReqBody, ResBody> ::tower::Service<Request<ReqBody>> for GatewayErrorService<S>
where
    S: ::tower::Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<GatewayBody<ResBody>>;
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
    /// use gateway_error::layer::{GatewayErrorLayer, ResponseFuture};
    /// use tower::{Layer, Service};
    ///
    /// let inner = tower::service_fn(|_: http::Request<String>| async {
    ///     Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok")))
    /// });
    /// let mut app = GatewayErrorLayer::default().layer(inner);
    /// let _future: ResponseFuture<_> = app.call(http::Request::new(String::new()));
    /// ```
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Instrumented<F>,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<GatewayBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut inner = self.project().inner;
        let response = ready!(inner.as_mut().poll(cx))?;
        let finished = inner.context().finish(response);
        Poll::Ready(Ok(match finished {
            Finished::Kept(response) => response.map(GatewayBody::from),
            Finished::Rendered(response) => response.map(GatewayBody::rendered),
        }))
    }
}

pin_project! {
    /// The body of a response through [`GatewayErrorLayer`]: the
    /// response's own, or the one rendered for a gateway error.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::layer::GatewayBody;
    /// use http_body::Body;
    ///
    /// let kept = GatewayBody::from(String::from("ok"));
    /// assert_eq!(kept.size_hint().exact(), Some(2));
    /// ```
    pub struct GatewayBody<B> {
        #[pin]
        inner: BodyInner<B>,
    }
}

pin_project! {
    #[project = BodyInnerProj]
    enum BodyInner<B> {
        Kept {
            #[pin]
            body: B,
        },
        Rendered {
            body: Option<Bytes>,
        },
    }
}

impl<B> GatewayBody<B> {
    fn rendered(body: Bytes) -> Self {
        Self {
            inner: BodyInner::Rendered {
                body: Some(body).filter(|body| !body.is_empty()),
            },
        }
    }
}

impl<B> From<B> for GatewayBody<B> {
    fn from(body: B) -> Self {
        Self {
            inner: BodyInner::Kept { body },
        }
    }
}

impl<B> Body for GatewayBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().inner.project() {
            BodyInnerProj::Kept { body } => body.poll_frame(cx),
            BodyInnerProj::Rendered { body } => {
                Poll::Ready(body.take().map(|body| Ok(Frame::data(body))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            BodyInner::Kept { body } => body.is_end_stream(),
            BodyInner::Rendered { body } => body.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            BodyInner::Kept { body } => body.size_hint(),
            BodyInner::Rendered { body } => {
                SizeHint::with_exact(body.as_ref().map_or(0, |body| body.len() as u64))
            }
        }
    }
}
