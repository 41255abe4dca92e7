//! The warp 0.4 adapter of [gateway-error]: warp's translation of the core
//! [pipeline](gateway_error_core::pipeline).
//!
//! With the facade's `warp` feature the error types implement warp's
//! `Reject` and `Reply`: a handler rejects with
//! `warp::reject::custom(err)` (or `?`), or returns the error as its reply.
//! warp hands a rejection on without the request, and answers one that
//! nothing handled with a 500 showing its `Debug` text. This crate adds:
//!
//! - [`handle`] (configured: [`Handle`]), the recover step around your
//!   routes: every gateway error they produce, rejected or replied, becomes
//!   the complete response for its request, with the error in the
//!   response's extensions; warp's own rejections get warp's own answers;
//!   no rejection reaches warp's `Debug` answer;
//! - [`request_id`], the filter that gives a handler the request's id;
//! - [`GatewayErrorLayer`], the workspace's one tower layer (re-exported),
//!   under which `warp::service(handle(..))` runs as any tower service.
//!
//! Each error is rendered for its request, once:
//!
//! - the body format the client asked for (JSON, problem+json, HTML, text);
//! - no body for HEAD, with the `Content-Length` GET would have;
//! - `retryable`: whether a retry can help and is safe for the request's
//!   method;
//! - the request id (see the pipeline's rule), echoed on every response;
//! - `Proxy-Status` and the rest of the [`Policy`] you set once;
//! - every other header of a re-rendered reply kept;
//! - each error reported once (`tracing`, your observers).
//!
//! This crate is not a proxy or an HTTP client, and it does not map
//! transport errors to gateway errors: that is the handler's job (see
//! `GatewayError::from_upstream_error` in the core). Most users reach it
//! through the facade: `gateway-error` with the `warp` feature, as
//! `gateway_error::warp`.
//!
//! # Two ways to serve
//!
//! **Under the layer** (the whole pipeline): `warp::service(routes)` is a
//! tower service, so [`GatewayErrorLayer`] wraps it as it wraps an axum
//! router, and hyper-util serves it as `warp::serve` does (HTTP/1 and
//! HTTP/2, through `TowerToHyperService`). The layer captures each
//! request's context before warp sees the request, puts the
//! [`RequestId`] into its extensions and its `x-request-id` header, polls
//! warp with the context current, and on the way out renders the error a
//! response carries, echoes the id and reports each error once. `handle`
//! inside it renders under its own [`Pipeline`], nested in the layer's
//! context (give both the same policy, as below, and the layer your
//! observers), and leaves echoing, reporting and warp's 404s to the layer,
//! so that `handle`s nest, as alternatives of `or` too (see
//! [`Handle::wrap`]).
//!
//! **With `warp::serve(handle(routes, policy))`**: `handle` is then the
//! outermost adapter itself. It gives the same bytes for the same error
//! and request, with these differences, all from warp's filters being
//! unable to change a request or to run code around each poll of the
//! routes:
//!
//! - a request id `handle` generates (the request had no valid
//!   `x-request-id`) is in the response, its body and its log event, but
//!   no handler sees it: [`request_id`] yields only the request's own
//!   valid id, and rejects otherwise;
//! - a `handle` cannot tell that it is nested inside another one: use one,
//!   around all your routes (nested `handle`s, each with its own policy,
//!   need the layer);
//! - a gateway error a handler turns into a response itself (a
//!   `reply.into_response()` in handler code) is rendered for no request
//!   first and again by `handle`: the same bytes, one render more.
//!
//! Under the layer, warp's `warp::addr::remote()` yields `None` (warp
//! keeps the type of the extension `warp::serve` puts the peer's address
//! in private), and TLS is hyper-util's to set up, not `warp::serve`'s.
//!
//! # warp's own rejections
//!
//! warp's own rejections (404, 405, 400 for a bad header or body, 411,
//! 413, 415, ...) are answered as warp answers them (status, text), with
//! the request id. They are recognised by warp's public rejection types
//! (`warp::reject::*`, `BodyDeserializeError`, `CorsForbidden`,
//! `MissingExtension`), since warp keeps a rejection's status private; the
//! few whose types are private (a failed body read, a file warp cannot
//! open) are answered like a custom rejection. A custom rejection that
//! carries no gateway error is answered with a canonical 500, its `Debug`
//! text going to the log only. For the same reason, an unknown custom
//! rejection beside one of warp's (from another route of `or`) is
//! answered as warp's, never with its `Debug` text. Put your own `recover`
//! inside `handle` (on the routes), or name your type with
//! [`Handle::find`]: an application error type that wraps a
//! [`GatewayError`] is then found.
//!
//! # Examples
//!
//! Under the layer, driven as tower drives any service:
//!
//! ```
//! use gateway_error::warp::{GatewayErrorLayer, handle, request_id};
//! use gateway_error::{BadGateway, Policy, RequestId};
//! use http_body_util::{BodyExt, Empty};
//! use tower::{Layer, ServiceExt};
//! use warp::Filter;
//!
//! async fn product(id: u32, request_id: RequestId) -> Result<String, warp::Rejection> {
//!     let _ = (id, request_id); // call the product service here, passing the id on
//!     Err(warp::reject::custom(BadGateway::upstream("product-service")))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let routes = warp::path!("products" / u32).and(request_id()).and_then(product);
//! let policy = Policy::new().with_proxy_name("bff");
//! let app = GatewayErrorLayer::new(policy.clone()).layer(warp::service(handle(routes, policy)));
//!
//! let request = http::Request::get("/products/7")
//!     .header("accept", "text/plain")
//!     .header("x-request-id", "req-1")
//!     .body(Empty::<bytes::Bytes>::new())?;
//! let response = app.oneshot(request).await?;
//! assert_eq!(response.status(), 502);
//! assert_eq!(response.headers()["proxy-status"], "bff");
//! assert_eq!(response.headers()["x-request-id"], "req-1");
//! let body = response.into_body().collect().await?.to_bytes();
//! assert!(body.starts_with(b"502 Bad Gateway\n"));
//! # Ok(())
//! # }
//! ```
//!
//! Served with hyper-util, one task per connection:
//!
//! ```no_run
//! # use gateway_error::warp::{GatewayErrorLayer, handle};
//! # use gateway_error::Policy;
//! # use warp::Filter;
//! use hyper_util::rt::{TokioExecutor, TokioIo};
//! use hyper_util::server::conn::auto;
//! use hyper_util::service::TowerToHyperService;
//! use tower::Layer;
//!
//! # async fn run() -> std::io::Result<()> {
//! # let routes = warp::path!("products" / u32).map(|_| "ok");
//! let policy = Policy::new().with_proxy_name("bff");
//! let app = GatewayErrorLayer::new(policy.clone()).layer(warp::service(handle(routes, policy)));
//! let app = TowerToHyperService::new(app);
//! let listener = tokio::net::TcpListener::bind(("127.0.0.1", 3002)).await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     let app = app.clone();
//!     tokio::spawn(async move {
//!         let builder = auto::Builder::new(TokioExecutor::new());
//!         let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), app);
//!         // A client that goes away is not the server's failure.
//!         let _ = connection.await;
//!     });
//! }
//! # }
//! ```
//!
//! With `warp::serve` (see above for what differs), and tested with
//! `warp::test`:
//!
//! ```
//! use gateway_error::{BadGateway, Policy};
//! use warp::Filter;
//!
//! async fn product(id: u32) -> Result<String, warp::Rejection> {
//!     let _ = id; // call the product service here
//!     Err(warp::reject::custom(BadGateway::upstream("product-service")))
//! }
//!
//! let routes = warp::path!("products" / u32).and_then(product);
//! let app = gateway_error::warp::handle(routes, Policy::new().with_proxy_name("bff"));
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let response = warp::test::request()
//!     .path("/products/7")
//!     .header("accept", "text/plain")
//!     .header("x-request-id", "req-1")
//!     .reply(&app)
//!     .await;
//! assert_eq!(response.status(), 502);
//! assert_eq!(response.headers()["proxy-status"], "bff");
//! assert_eq!(response.headers()["x-request-id"], "req-1");
//! assert!(response.body().starts_with(b"502 Bad Gateway\n"));
//! # });
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! ```no_run
//! # use gateway_error::Policy;
//! # use warp::Filter;
//! # async fn run() {
//! # let routes = warp::path!("products" / u32).map(|_| "ok");
//! let app = gateway_error::warp::handle(routes, Policy::new());
//! warp::serve(app).run(([127, 0, 0, 1], 3002)).await;
//! # }
//! ```
//!
//! [gateway-error]: https://docs.rs/gateway-error
//! [`RequestId`]: gateway_error_core::RequestId
//! [`Pipeline`]: gateway_error_core::pipeline::Pipeline
#![cfg_attr(docsrs, feature(doc_cfg))]

mod answer;

use std::future::ready;
use std::sync::Arc;

use gateway_error_core::pipeline::{Finished, Pipeline, RequestContext};
use gateway_error_core::{
    GatewayError, InternalServerError, Policy, ProxyError, RequestId, X_REQUEST_ID,
};
use http::{HeaderMap, Method};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::answer::warp_answer;

/// The core's one tower layer ([`gateway_error::layer`](gateway_error_core::layer)),
/// which runs a warp app as any tower service: `warp::service(handle(..))`
/// under it (see the [crate docs](crate)); its service, future and body
/// types are there.
pub use gateway_error_core::layer::GatewayErrorLayer;

/// Wraps `routes` so that the gateway errors they produce are rendered for
/// the request, with `pipeline` (see the [crate docs](crate)).
///
/// `handle(routes, pipeline)` is `Handle::new(pipeline).wrap(routes)`; use
/// [`Handle`] to find your own error types in rejections, add observers,
/// or turn the `tracing` event off.
///
/// # Examples
///
/// ```
/// use gateway_error::{GatewayTimeout, Policy, ProxyError};
/// use warp::Filter;
///
/// // A handler may also return the error as its reply.
/// let routes = warp::path("prices").map(|| {
///     GatewayTimeout::upstream("pricing").with_kind(ProxyError::HttpResponseTimeout)
/// });
/// let app = gateway_error::warp::handle(routes, Policy::new());
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let get = warp::test::request().path("/prices").reply(&app).await;
/// assert_eq!(get.status(), 504);
/// assert!(std::str::from_utf8(get.body())?.contains(r#""retryable":true"#));
///
/// let post = warp::test::request().method("POST").path("/prices").reply(&app).await;
/// assert!(std::str::from_utf8(post.body())?.contains(r#""retryable":false"#));
///
/// let missing = warp::test::request().path("/nope").reply(&app).await;
/// assert_eq!(missing.status(), 404);
/// assert!(missing.headers().contains_key("x-request-id"));
/// # Ok::<(), std::str::Utf8Error>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn handle<F, T>(
    routes: F,
    pipeline: impl Into<Pipeline>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone
where
    F: Filter<Extract = (T,), Error = Rejection> + Clone + Send + Sync + 'static,
    T: Reply,
{
    Handle::new(pipeline).wrap(routes)
}

/// Finds the gateway error in a rejection carrying an application type.
type Finder = Arc<dyn Fn(&Rejection) -> Option<GatewayError> + Send + Sync>;

/// How [`handle`] is configured: the [`Pipeline`], and the application
/// error types to look for gateway errors in.
///
/// # Examples
///
/// ```
/// use gateway_error::warp::Handle;
/// use gateway_error::{GatewayError, Policy, ServiceUnavailable};
/// use warp::Filter;
///
/// /// An application's own rejection, which may wrap a gateway error.
/// #[derive(Debug)]
/// enum AppError {
///     Gateway(GatewayError),
///     NotAllowed,
/// }
/// impl warp::reject::Reject for AppError {}
///
/// let routes = warp::path("search").and_then(|| async {
///     let err = GatewayError::from(ServiceUnavailable::upstream("search"));
///     Err::<String, _>(warp::reject::custom(AppError::Gateway(err)))
/// });
/// let app = Handle::new(Policy::new())
///     .find(|err: &AppError| match err {
///         AppError::Gateway(err) => Some(err.clone()),
///         AppError::NotAllowed => None,
///     })
///     .wrap(routes);
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let response = warp::test::request().path("/search").reply(&app).await;
/// assert_eq!(response.status(), 503);
/// assert!(!String::from_utf8_lossy(response.body()).contains("AppError"));
/// # });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Handle {
    pipeline: Pipeline,
    finders: Vec<Finder>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("pipeline", &self.pipeline)
            .field("finders", &self.finders.len())
            .finish()
    }
}

/// What `handle` knows of a request before the routes run.
struct Begun {
    /// The request's context, captured by this `handle` (nested in the
    /// layer's while the layer polls warp).
    ctx: RequestContext,
    /// An outer adapter (the layer, or any that ran `Pipeline::begin`)
    /// began the request: its [`RequestId`] is in the request's
    /// extensions, and it finishes the response.
    outer: bool,
}

impl Handle {
    /// Rendering running `pipeline`: a [`Policy`] (rendering under it, the
    /// `tracing` event on), or a configured [`Pipeline`] (with
    /// [`on_error`](Pipeline::on_error) observers, or
    /// [`with_tracing(false)`](Pipeline::with_tracing)). Under the layer,
    /// the layer's pipeline reports: give it the observers.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::warp::Handle;
    /// use gateway_error::pipeline::{ErrorEvent, Pipeline};
    /// use gateway_error::Policy;
    ///
    /// let plain = Handle::new(Policy::new().with_upstream_names(true));
    /// assert!(plain.policy().shows_upstream_names());
    ///
    /// let observed = Handle::new(
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
            finders: Vec::new(),
        }
    }

    /// The policy errors are rendered under.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::warp::Handle;
    /// use gateway_error::Policy;
    ///
    /// assert_eq!(Handle::default().policy(), &Policy::new());
    /// ```
    #[must_use]
    pub fn policy(&self) -> &Policy {
        self.pipeline.policy()
    }

    /// Looks for gateway errors in rejections carrying your error type
    /// `E` (warp finds a custom rejection by its concrete type, so it must
    /// be named): `f` returns the gateway error an `E` wraps, if any. An
    /// `E` without one is answered as any other custom rejection (a
    /// canonical 500, its `Debug` text in the log only).
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::warp::Handle;
    /// use gateway_error::{GatewayError, Policy};
    ///
    /// #[derive(Debug)]
    /// struct Upstream(GatewayError);
    /// impl warp::reject::Reject for Upstream {}
    ///
    /// let handle = Handle::new(Policy::new()).find(|e: &Upstream| Some(e.0.clone()));
    /// # let _ = handle;
    /// ```
    #[must_use]
    pub fn find<E, F>(mut self, f: F) -> Self
    where
        E: warp::reject::Reject,
        F: Fn(&E) -> Option<GatewayError> + Send + Sync + 'static,
    {
        self.finders.push(Arc::new(move |rejection: &Rejection| {
            rejection.find::<E>().and_then(&f)
        }));
        self
    }

    /// Wraps `routes` (see [`handle`]).
    ///
    /// Under the layer, a rejection that only says "not found" goes on
    /// (warp's `or` then tries the routes after these, and warp's 404
    /// leaves with the layer's id), so that a `handle` can be one
    /// alternative of `or`; every other rejection is answered here. Put a
    /// nested `handle` behind its path prefix when routes after it share
    /// its paths with other methods.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::warp::Handle;
    /// use warp::Filter;
    ///
    /// let app = Handle::default().wrap(warp::path("ok").map(|| "ok"));
    /// # let _ = app;
    /// ```
    pub fn wrap<F, T>(
        self,
        routes: F,
    ) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone
    where
        F: Filter<Extract = (T,), Error = Rejection> + Clone + Send + Sync + 'static,
        T: Reply,
    {
        let handle = Arc::new(self);
        let begin = {
            let handle = Arc::clone(&handle);
            warp::method()
                .and(warp::header::headers_cloned())
                .and(warp::ext::optional::<RequestId>())
                .map(
                    move |method: Method, headers: HeaderMap, outer: Option<RequestId>| Begun {
                        ctx: handle.pipeline.capture(&method, &headers),
                        outer: outer.is_some(),
                    },
                )
        };
        let routes = routes
            .map(Ok::<_, Rejection>)
            .or_else(|rejection| ready(Ok::<_, Rejection>((Err(rejection),))));
        begin
            .and(routes)
            .and_then(move |begun: Begun, outcome| ready(handle.respond(&begun, outcome)))
    }

    /// The response to what the routes produced, for the request.
    fn respond<T: Reply>(
        &self,
        begun: &Begun,
        outcome: Result<T, Rejection>,
    ) -> Result<Response, Rejection> {
        let ctx = &begun.ctx;
        let response = match outcome {
            // A reply that is a gateway error renders for the request here.
            Ok(reply) => ctx.in_scope(|| reply.into_response()),
            Err(rejection) => match self.find_in(&rejection) {
                Some(error) => ctx.error_response(error).into_response(),
                // A 404 alone holds no custom cause (warp drops a "not
                // found" beside any other): under an outer adapter it goes
                // on, for warp's `or`, and warp answers it as below.
                None if begun.outer && rejection.is_not_found() => return Err(rejection),
                None => match warp_answer(&rejection) {
                    // warp's own answer (404, 405, 400, 411, 413, 415,
                    // ...), with the request id.
                    Some(answer) => answer,
                    // warp answers a custom rejection with a 500 showing
                    // its `Debug` text: it gets the canonical one, the text
                    // in the log. So do the few rejections of warp's whose
                    // types are not public (a failed body read, a file it
                    // cannot open).
                    None => {
                        tracing::warn!(
                            rejection = ?rejection,
                            "unhandled rejection, answered with a canonical 500"
                        );
                        let error = InternalServerError::new()
                            .with_source(UnhandledRejection(format!("{rejection:?}")));
                        ctx.error_response(error.into()).into_response()
                    }
                },
            },
        };
        if begun.outer {
            // The outer adapter renders what is stale, echoes the id and
            // reports.
            return Ok(response);
        }
        Ok(match ctx.finish(response) {
            Finished::Kept(response) => response,
            Finished::Rendered(response) => response.into_response(),
        })
    }

    /// The gateway error a rejection carries, if any.
    fn find_in(&self, rejection: &Rejection) -> Option<GatewayError> {
        GatewayError::from_rejection(rejection)
            .or_else(|| self.finders.iter().find_map(|f| f(rejection)))
    }
}

/// An unhandled rejection's `Debug` text, kept as the 500's source: for
/// logs only.
#[derive(Debug)]
struct UnhandledRejection(String);

impl std::fmt::Display for UnhandledRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unhandled rejection: {}", self.0)
    }
}

impl std::error::Error for UnhandledRejection {}

/// A filter yielding the request's [`RequestId`], the one the client gets
/// back.
///
/// Under the layer (see the [crate docs](crate)), it is the
/// [`RequestId`] in the request's extensions: the request's own valid
/// `x-request-id`, or the one the layer generated. With `warp::serve`
/// alone no filter can add to a request, so it is the request's own valid
/// `x-request-id` (this filter knows no policy, so it reads that name even
/// when the policy names another header); when the request has none, the
/// id `handle` generates is in the response only, and this filter rejects
/// with a 500 `proxy_configuration_error` (serve under the layer when
/// handlers read the id).
///
/// # Examples
///
/// ```
/// use gateway_error::warp::{GatewayErrorLayer, handle, request_id};
/// use gateway_error::{Policy, RequestId};
/// use http_body_util::{BodyExt, Empty};
/// use tower::{Layer, ServiceExt};
/// use warp::Filter;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let routes = warp::path("whoami")
///     .and(request_id())
///     .map(|id: RequestId| format!("you are {id}"));
/// let app = GatewayErrorLayer::new(Policy::new()).layer(warp::service(handle(routes, Policy::new())));
///
/// // No id sent: the layer's, the same in the body and the header.
/// let request = http::Request::get("/whoami").body(Empty::<bytes::Bytes>::new())?;
/// let response = app.oneshot(request).await?;
/// let id = response.headers()["x-request-id"].to_str()?.to_owned();
/// let body = response.into_body().collect().await?.to_bytes();
/// assert_eq!(body, format!("you are {id}"));
/// # Ok(())
/// # }
/// ```
pub fn request_id() -> impl Filter<Extract = (RequestId,), Error = Rejection> + Clone {
    let from_adapter = warp::ext::get::<RequestId>();
    let from_request = warp::header::headers_cloned().and_then(|headers: HeaderMap| {
        ready(
            headers
                .get(&X_REQUEST_ID)
                .and_then(|id| RequestId::from_client(id.as_bytes()))
                .ok_or_else(|| {
                    warp::reject::custom(
                        InternalServerError::new().with_kind(ProxyError::ProxyConfigurationError),
                    )
                }),
        )
    });
    from_adapter.or(from_request).unify()
}

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
