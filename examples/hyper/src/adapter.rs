//! The adapter: hyper's translation of the gateway-error pipeline, written
//! with its public API alone (`gateway_error::pipeline`), as anyone could
//! outside the gateway-error repository.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use gateway_error::GatewayError;
use gateway_error::pipeline::Pipeline;
use http::{Request, Response};
use http_body_util::Full;

/// A hyper [`Service`](hyper::service::Service) around an async handler
/// that answers `Result<Response<Bytes>, GatewayError>`: the request's
/// context is captured once, current while the handler runs, and each
/// response is finished for the request (rendered, request id echoed, the
/// error reported once).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use example_hyper::adapter::GatewayErrors;
/// use gateway_error::pipeline::Pipeline;
/// use gateway_error::{BadGateway, GatewayError};
///
/// async fn handler(_: http::Request<()>) -> Result<http::Response<Bytes>, GatewayError> {
///     Err(BadGateway::upstream("product-service").into())
/// }
///
/// let service = GatewayErrors::new(Pipeline::default(), handler);
/// # let _ = service;
/// ```
#[derive(Clone, Debug)]
pub struct GatewayErrors<H> {
    pipeline: Pipeline,
    handler: H,
}

impl<H> GatewayErrors<H> {
    /// `handler`, run inside `pipeline`.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use example_hyper::adapter::GatewayErrors;
    /// use gateway_error::pipeline::Pipeline;
    /// use gateway_error::{GatewayError, Policy};
    ///
    /// let service = GatewayErrors::new(Pipeline::new(Policy::new()), |_: http::Request<()>| async {
    ///     Ok::<_, GatewayError>(http::Response::new(Bytes::from_static(b"ok")))
    /// });
    /// # let _ = service;
    /// ```
    pub fn new(pipeline: Pipeline, handler: H) -> Self {
        Self { pipeline, handler }
    }
}

/// The boxed response future of [`GatewayErrors`].
type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send>>;

impl<H, B, F> hyper::service::Service<Request<B>> for GatewayErrors<H>
where
    H: Fn(Request<B>) -> F,
    F: Future<Output = Result<Response<Bytes>, GatewayError>> + Send + 'static,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, mut request: Request<B>) -> Self::Future {
        // Format, method, request id (a generated one also goes into the
        // request), policy: captured once.
        let ctx = self.pipeline.begin(&mut request);
        // Current while the handler runs, so its errors render for the
        // request, once.
        let handled = ctx.instrument(ctx.in_scope(|| (self.handler)(request)));
        Box::pin(async move {
            let response = handled.await.unwrap_or_else(|err| ctx.error_response(err));
            Ok(ctx.finish(response).map_body(Full::new, Full::new))
        })
    }
}
