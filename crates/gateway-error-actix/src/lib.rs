//! The actix-web 4 adapter of [`gateway-error`]: middleware that renders
//! gateway errors with the request's context.
//!
//! With the `actix-web` feature, the error types ([`BadGateway`],
//! [`GatewayTimeout`], [`ServiceUnavailable`], [`InternalServerError`] and
//! [`GatewayError`]) implement actix-web's `ResponseError` and `Responder`,
//! so handlers return them; but those impls cannot see the request, so they
//! answer JSON for an unknown method, with the default policy. Wrap the app
//! in [`GatewayErrors`] and every such response is rendered again for its
//! request:
//!
//! - the format the client's `Accept` asks for (JSON, `application/problem+json`,
//!   HTML, text), and no body for HEAD;
//! - `retryable`: whether a retry can help and is safe for the request's
//!   method;
//! - the request id: the request's valid `x-request-id`, or a new one that
//!   handlers see in the request's headers; every response echoes it;
//! - the [`Policy`]: `Proxy-Status` when it names this gateway, upstream
//!   names shown or hidden, problem type URIs;
//! - one `tracing` event per error, with its source chain and the request id.
//!
//! Every other header of the response is kept, and the error stays in its
//! extensions. Other responses pass through untouched but for `x-request-id`;
//! other errors that a middleware inside returns as `Err` pass through as
//! they are.
//!
//! For HEAD, the response has GET's `Content-Length` and no body. (actix-web's
//! `web::get()` routes do not answer HEAD; for a route that does, use
//! `web::route().guard(guard::Any(guard::Get()).or(guard::Head()))`.)
//!
//! It is not an HTTP client, a retry layer or a proxy: it answers for the
//! failures your handlers report.
//!
//! Most users get it as `gateway_error::actix` from the `gateway-error`
//! facade with its `actix-web` feature.
//!
//! # Examples
//!
//! ```
//! use actix_web::{App, test, web};
//! use gateway_error::actix::GatewayErrors;
//! use gateway_error::{BadGateway, Policy};
//!
//! async fn product() -> Result<String, BadGateway> {
//!     Err(BadGateway::upstream("product-service"))
//! }
//!
//! # actix_web::rt::System::new().block_on(async {
//! let policy = Policy::new().with_proxy_name("bff");
//! let app = test::init_service(
//!     App::new()
//!         .wrap(GatewayErrors::new(policy))
//!         .route("/product", web::get().to(product)),
//! )
//! .await;
//! let req = test::TestRequest::get()
//!     .uri("/product")
//!     .insert_header(("accept", "text/plain"))
//!     .insert_header(("x-request-id", "req-1"))
//!     .to_request();
//! let res = test::call_service(&app, req).await;
//! let header = |name| res.headers().get(name).and_then(|v| v.to_str().ok());
//! assert_eq!(res.status(), 502);
//! assert_eq!(header("proxy-status"), Some("bff"));
//! assert_eq!(header("x-request-id"), Some("req-1"));
//! assert_eq!(
//!     test::read_body(res).await,
//!     "502 Bad Gateway\n\
//!      The server received an invalid response from the upstream server while trying to fulfill the request.\n\
//!      Request ID: req-1\n"
//! );
//! # });
//! ```
//!
//! [`gateway-error`]: https://docs.rs/gateway-error
//! [`BadGateway`]: gateway_error_core::BadGateway
//! [`GatewayTimeout`]: gateway_error_core::GatewayTimeout
//! [`ServiceUnavailable`]: gateway_error_core::ServiceUnavailable
//! [`InternalServerError`]: gateway_error_core::InternalServerError
//! [`GatewayError`]: gateway_error_core::GatewayError
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The crate README, compiled so that its example cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

mod service;

use std::future::{Ready, ready};

use actix_web::Error;
use actix_web::body::EitherBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use gateway_error_core::Policy;
use gateway_error_core::pipeline::Pipeline;

use crate::service::GatewayErrorsService;

/// Middleware that renders gateway errors for their request, with a
/// [`Policy`] (see the [crate docs](crate)).
///
/// Wrap it outside the middleware whose responses it should see: in
/// actix-web the last `wrap` is the outermost. A gateway error that a
/// middleware inside returns as `Err` is rendered too, in an
/// `InternalError` that carries the rendered response. While the
/// middleware polls the app, the request's context is current, so a
/// handler's error response is complete for the request as soon as it is
/// made: a middleware in between sees what the client will.
///
/// # Examples
///
/// ```
/// use actix_web::{App, HttpResponse, web};
/// use gateway_error::actix::GatewayErrors;
/// use gateway_error::{GatewayTimeout, Policy};
///
/// async fn prices() -> Result<HttpResponse, GatewayTimeout> {
///     Err(GatewayTimeout::upstream("pricing"))
/// }
///
/// let app = App::new()
///     .wrap(GatewayErrors::new(Policy::new().with_proxy_name("bff")))
///     .route("/prices", web::get().to(prices));
/// ```
#[derive(Clone, Debug, Default)]
pub struct GatewayErrors {
    pipeline: Pipeline,
}

impl GatewayErrors {
    /// Middleware running `pipeline`: a [`Policy`] (rendering under it, the
    /// `tracing` event on), or a configured [`Pipeline`] (with
    /// [`on_error`](Pipeline::on_error) observers, or
    /// [`with_tracing(false)`](Pipeline::with_tracing)).
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::actix::GatewayErrors;
    /// use gateway_error::pipeline::{ErrorEvent, Pipeline};
    /// use gateway_error::Policy;
    ///
    /// let plain = GatewayErrors::new(Policy::new().with_upstream_names(true));
    /// assert!(plain.policy().shows_upstream_names());
    ///
    /// let observed = GatewayErrors::new(
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

    /// The policy the middleware renders under.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::actix::GatewayErrors;
    /// use gateway_error::Policy;
    ///
    /// assert_eq!(GatewayErrors::default().policy(), &Policy::new());
    /// ```
    #[must_use]
    pub fn policy(&self) -> &Policy {
        self.pipeline.policy()
    }
}

impl<S, B> Transform<S, ServiceRequest> for GatewayErrors
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = GatewayErrorsService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(GatewayErrorsService::new(
            service,
            self.pipeline.clone(),
        )))
    }
}
