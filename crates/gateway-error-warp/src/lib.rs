//! The warp 0.4 adapter of [gateway-error]: warp's translation of the core
//! [pipeline](gateway_error_core::pipeline).
//!
//! warp hands a rejection to `recover` without the request, so a
//! `BadGateway` rejected from a handler cannot know the client's `Accept`,
//! method or request id there. [`handle`] wraps your routes instead: it
//! captures the request's context, runs the routes, and renders every
//! gateway error they produce — rejected with `warp::reject::custom(err)` or
//! returned as a `Reply` — for that request, once:
//!
//! - the body format the client asked for (JSON, problem+json, HTML, text);
//! - no body for HEAD, with the `Content-Length` GET would have;
//! - `retryable`: whether a retry can help and is safe for the request's
//!   method;
//! - the request id (see the pipeline's rule): handlers read it with the
//!   [`request_id`] filter, and replies and 404s echo it;
//! - `Proxy-Status` and the rest of the [`Policy`] you set once;
//! - every other header of a re-rendered reply kept;
//! - each error reported once (`tracing`, your observers).
//!
//! warp's own rejections (404, 405, 400 for a bad header or body, 411,
//! 413, 415, ...) are answered as warp answers them (status, text), with
//! the request id: every response that leaves `handle` carries it. They
//! are recognised by warp's public rejection types (`warp::reject::*`,
//! `BodyDeserializeError`, `CorsForbidden`, `MissingExtension`), since warp
//! keeps a rejection's status private; the few whose types are private
//! (a failed body read, a file warp cannot open) are answered like a
//! custom rejection. A custom rejection that carries no gateway error is
//! answered with a canonical 500, its `Debug` text going to the log only:
//! warp's default answer would show it to the client. Put your own
//! `recover` inside `handle` (on the routes), or name your type with
//! [`Handle::find`]. An application error type that wraps a
//! [`GatewayError`] is found when you name it with [`Handle::find`].
//!
//! This crate is not a proxy or an HTTP client, and it does not map
//! transport errors to gateway errors: that is the handler's job (see
//! `GatewayError::from_upstream_error` in the core).
//!
//! Most users reach it through the facade: `gateway-error` with the `warp`
//! feature, as `gateway_error::warp`.
//!
//! # Examples
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
//! Serving it is plain warp:
//!
//! ```no_run
//! # use gateway_error::{BadGateway, Policy};
//! # use warp::Filter;
//! # async fn run() {
//! # let routes = warp::path!("products" / u32).map(|_| "ok");
//! let app = gateway_error::warp::handle(routes, Policy::new());
//! warp::serve(app).run(([127, 0, 0, 1], 3002)).await;
//! # }
//! ```
//!
//! [gateway-error]: https://docs.rs/gateway-error
#![cfg_attr(docsrs, feature(doc_cfg))]

mod registry;

use std::future::ready;
use std::sync::Arc;

use gateway_error_core::RequestId;
use gateway_error_core::pipeline::{Finished, Pipeline, RequestContext};
use gateway_error_core::{GatewayError, InternalServerError, Policy, X_REQUEST_ID};
use http::{HeaderMap, Method, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::registry::Registration;

/// Wraps `routes` so that the gateway errors they produce are rendered for
/// the request, with `policy` (see the [crate docs](crate)).
///
/// `handle(routes, policy)` is `Handle::new(policy).wrap(routes)`; use
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
    policy: Policy,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone
where
    F: Filter<Extract = (T,), Error = Rejection> + Clone + Send + Sync + 'static,
    T: Reply,
{
    Handle::new(policy).wrap(routes)
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

impl Handle {
    /// Rendering running `pipeline`: a [`Policy`] (rendering under it, the
    /// `tracing` event on), or a configured [`Pipeline`] (with
    /// [`on_error`](Pipeline::on_error) observers, or
    /// [`with_tracing(false)`](Pipeline::with_tracing)).
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
            warp::method().and(warp::header::headers_cloned()).map(
                move |method: Method, headers: HeaderMap| {
                    Registration::begin(&handle.pipeline, &method, &headers)
                },
            )
        };
        let routes = routes
            .map(Ok::<_, Rejection>)
            .or_else(|rejection| ready(Ok::<_, Rejection>((Err(rejection),))));
        begin
            .and(routes)
            .and_then(move |registration: Registration, outcome| {
                ready(handle.respond(registration.context(), outcome))
            })
    }

    /// The response to what the routes produced, for the request.
    fn respond<T: Reply>(
        &self,
        ctx: &RequestContext,
        outcome: Result<T, Rejection>,
    ) -> Result<Response, Rejection> {
        let response = match outcome {
            // A reply that is a gateway error renders for the request here.
            Ok(reply) => ctx.in_scope(|| reply.into_response()),
            Err(rejection) => match self.find_in(&rejection) {
                Some(error) => ctx.error_response(error).into_response(),
                None => match warp_answer(&rejection) {
                    // Inside another `handle`, warp's own rejections stay
                    // rejections, so that warp's `or` tries the routes
                    // after this one and the outer `handle` answers.
                    Some(_) if ctx.is_nested() => return Err(rejection),
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

/// warp's answer to a rejection of its own, found by warp's public types
/// (warp keeps a rejection's status private): its status and, but for a
/// 404's empty body, its text as warp writes it (`text/plain;
/// charset=utf-8`). Of several causes, the one warp prefers: the highest
/// status, 404 and then 405 counting lowest; of equals, the first.
fn warp_answer(rejection: &Rejection) -> Option<Response> {
    use warp::filters::{body::BodyDeserializeError, cors::CorsForbidden, ext::MissingExtension};
    use warp::reject::{
        InvalidHeader, InvalidQuery, LengthRequired, MethodNotAllowed, MissingCookie,
        MissingHeader, PayloadTooLarge, UnsupportedMediaType,
    };
    fn cause<T: std::fmt::Display + 'static>(
        rejection: &Rejection,
        status: StatusCode,
    ) -> Option<(StatusCode, String)> {
        rejection
            .find::<T>()
            .map(|cause| (status, cause.to_string()))
    }
    if rejection.is_not_found() {
        let mut response = Response::default();
        *response.status_mut() = StatusCode::NOT_FOUND;
        return Some(response);
    }
    let rank = |status: StatusCode| match status {
        StatusCode::METHOD_NOT_ALLOWED => 0,
        status => status.as_u16(),
    };
    let (status, text) = [
        cause::<MethodNotAllowed>(rejection, StatusCode::METHOD_NOT_ALLOWED),
        cause::<InvalidHeader>(rejection, StatusCode::BAD_REQUEST),
        cause::<MissingHeader>(rejection, StatusCode::BAD_REQUEST),
        cause::<MissingCookie>(rejection, StatusCode::BAD_REQUEST),
        cause::<InvalidQuery>(rejection, StatusCode::BAD_REQUEST),
        cause::<BodyDeserializeError>(rejection, StatusCode::BAD_REQUEST),
        cause::<LengthRequired>(rejection, StatusCode::LENGTH_REQUIRED),
        cause::<PayloadTooLarge>(rejection, StatusCode::PAYLOAD_TOO_LARGE),
        cause::<UnsupportedMediaType>(rejection, StatusCode::UNSUPPORTED_MEDIA_TYPE),
        cause::<CorsForbidden>(rejection, StatusCode::FORBIDDEN),
        cause::<MissingExtension>(rejection, StatusCode::INTERNAL_SERVER_ERROR),
    ]
    .into_iter()
    .flatten()
    // `max_by_key` keeps the last of equals: reversed, the first.
    .rev()
    .max_by_key(|(status, _)| rank(*status))?;
    let mut response = Response::new(text.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Some(response)
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

/// A filter yielding the request's [`RequestId`] under [`handle`], the one
/// the client gets back: its own valid `x-request-id`, or the one `handle`
/// generated. Outside `handle` it rejects with a 500
/// `proxy_configuration_error`.
///
/// warp gives filters no request-local state, so `handle` keeps the
/// request's context by the tokio task that serves the request (one per
/// connection for HTTP/1, one per stream for HTTP/2) until the response
/// is made. Run the routes under a tokio runtime's task (as `warp::serve`
/// does); outside any task, only a request's own valid id is found.
///
/// # Examples
///
/// ```
/// use gateway_error::{Policy, RequestId};
/// use gateway_error::warp::{handle, request_id};
/// use warp::Filter;
///
/// let routes = warp::path("whoami")
///     .and(request_id())
///     .map(|id: RequestId| format!("you are {id}"));
/// let app = handle(routes, Policy::new());
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let response = warp::test::request().path("/whoami").header("x-request-id", "r-1").reply(&app).await;
/// assert_eq!(response.body().as_ref(), b"you are r-1");
/// # });
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn request_id() -> impl Filter<Extract = (RequestId,), Error = Rejection> + Clone {
    warp::header::headers_cloned().and_then(|headers: HeaderMap| {
        ready(
            RequestContext::current()
                .map(|ctx| ctx.request_id().clone())
                // Outside a task: the request's own valid id is the one
                // `handle` echoes.
                .or_else(|| {
                    headers
                        .get(&X_REQUEST_ID)
                        .and_then(|id| RequestId::from_client(id.as_bytes()))
                })
                .ok_or_else(|| {
                    warp::reject::custom(
                        InternalServerError::new()
                            .with_kind(gateway_error_core::ProxyError::ProxyConfigurationError),
                    )
                }),
        )
    })
}

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
