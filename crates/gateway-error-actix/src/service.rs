//! The service [`GatewayErrors`](crate::GatewayErrors) puts around an app,
//! and its future: actix-web's `Service` around the core pipeline's
//! actix-web calls.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use actix_web::Error;
use actix_web::body::EitherBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, forward_ready};
use gateway_error_core::pipeline::{Pipeline, RequestContext};
use pin_project_lite::pin_project;

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
        let ctx = self.pipeline.begin_actix(&mut req);
        let future = ctx.in_scope(|| self.service.call(req));
        GatewayErrorsFuture { future, ctx }
    }
}

pin_project! {
    /// The future of a response from [`GatewayErrorsService`]: the app's,
    /// polled with the request's context current.
    pub struct GatewayErrorsFuture<F> {
        #[pin]
        future: F,
        ctx: RequestContext,
    }
}

impl<F, B> Future for GatewayErrorsFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let future = this.future;
        let ctx = this.ctx;
        let polled = ready!(ctx.in_scope(|| future.poll(cx)));
        Poll::Ready(match polled {
            Ok(res) => {
                let (req, response) = res.into_parts();
                Ok(ServiceResponse::new(req, ctx.finish_actix(response)))
            }
            Err(err) => Err(ctx.finish_actix_error(err)),
        })
    }
}
