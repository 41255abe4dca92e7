//! The warp 0.4 adapter of [gateway-error]: renders gateway errors with the
//! request's context.
//!
//! warp hands a rejection to `recover` without the request, so a
//! `BadGateway` rejected from a handler cannot know the client's `Accept`,
//! method or request id there. [`handle`] wraps your routes instead: it reads
//! the request's method and headers, runs the routes, and renders every
//! gateway error they produce — rejected with `warp::reject::custom(err)` or
//! returned as a `Reply` — for that request:
//!
//! - the body format the client asked for (JSON, problem+json, HTML, text);
//! - no body for HEAD, with the `Content-Length` GET would have;
//! - `retryable` from the failure's phase and the request's method;
//! - `x-request-id` echoed on every response that passes through (a new
//!   one when the request has no valid id) and shown in error bodies;
//! - `Proxy-Status` and the rest of the [`Policy`] you set once;
//! - every other header of a re-rendered reply kept;
//! - the error logged once through `tracing`, with its source chain.
//!
//! warp's own rejections (404, 405, bad headers, bad bodies, ...) are
//! returned unchanged, for warp to answer. No other rejection reaches warp's
//! default handler, which would show its `Debug` text to the client:
//!
//! - one carrying a gateway error is rendered, also inside your own
//!   rejection type when you register it (see [`AsGatewayError`]);
//! - any other custom rejection is answered with the canonical 500
//!   (`InternalServerError`), its `Debug` text going to the log only. Answer
//!   your own rejections with a `recover` on the routes you pass to
//!   [`handle`]: what it rejects again is answered so.
//!
//! This crate is not a proxy or an HTTP client, and it does not map
//! transport errors to gateway errors: that is the handler's job (see
//! `GatewayError::from_kind` in the core).
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

use std::fmt;
use std::future::ready;
use std::mem;
use std::sync::Arc;

use gateway_error_core::__private::render_echoing;
use gateway_error_core::{
    BadGateway, GatewayError, GatewayTimeout, InternalServerError, Policy, RenderContext,
    ServiceUnavailable, X_REQUEST_ID, generate_request_id, is_valid_request_id, log, render,
    rerender,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

/// Wraps `routes` so that the gateway errors they produce are rendered for
/// the request, with `policy`.
///
/// The filter reads the request's method and headers, then runs `routes`:
///
/// - a reply whose extensions hold a [`GatewayError`] (a handler returned
///   `BadGateway` and friends as a `Reply`) is rendered again, keeping its
///   other headers and extensions;
/// - a rejection carrying one of the error types is rendered;
/// - any other reply passes through; warp's own rejections are returned
///   unchanged, so that warp answers them (404, 405, 400, ...);
/// - any other rejection (a custom one, which warp would answer with its
///   `Debug` text) is answered with the canonical 500, and its `Debug` text
///   is logged.
///
/// Every reply that comes out gets an `x-request-id` header, unless the
/// handler set one (rejections returned to warp are answered without it): the request's own when it is valid (non-empty, at most
/// 128 bytes, visible ASCII), a new one from [`generate_request_id`]
/// otherwise. Error bodies show the same id. Each error is logged once with
/// [`log`].
///
/// `routes` must reject with [`Rejection`] (all routes built from warp's
/// path, method and body filters do).
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
    handle_with(routes, policy, Rejections::new())
}

/// [`handle`], also finding gateway errors inside your own rejection types
/// (see [`AsGatewayError`]).
///
/// # Examples
///
/// ```
/// use gateway_error::{GatewayError, Policy, ServiceUnavailable};
/// use gateway_error::warp::{AsGatewayError, Rejections};
/// use warp::Filter;
///
/// #[derive(Debug)]
/// enum AppError {
///     Gateway(GatewayError),
///     NotFound,
/// }
///
/// impl warp::reject::Reject for AppError {}
///
/// impl AsGatewayError for AppError {
///     fn as_gateway_error(&self) -> Option<&GatewayError> {
///         match self {
///             AppError::Gateway(error) => Some(error),
///             AppError::NotFound => None,
///         }
///     }
/// }
///
/// let routes = warp::path("search").and_then(|| async {
///     let error = ServiceUnavailable::upstream("search").into();
///     Err::<String, _>(warp::reject::custom(AppError::Gateway(error)))
/// });
/// let app = gateway_error::warp::handle_with(
///     routes,
///     Policy::new(),
///     Rejections::new().with::<AppError>(),
/// );
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let response = warp::test::request().path("/search").reply(&app).await;
/// assert_eq!(response.status(), 503);
/// assert_eq!(response.headers()["content-type"], "application/json");
/// # });
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn handle_with<F, T>(
    routes: F,
    policy: Policy,
    rejections: Rejections,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone
where
    F: Filter<Extract = (T,), Error = Rejection> + Clone + Send + Sync + 'static,
    T: Reply,
{
    let config = Arc::new((policy, rejections));
    let routes = routes
        // `respond` renders any gateway error again: the reply's default
        // rendering is skipped.
        .map(|reply: T| gateway_error_core::__private::rendered_again(|| reply.into_response()))
        // warp's status for a rejection is not public: its log filter
        // reports it (the status of the cause warp would answer with),
        // just before the rejection comes out, in the same poll.
        .with(warp::log::custom(|info| {
            REJECTION_STATUS.set(Some(info.status()));
        }))
        .map(|logged| Ok(Reply::into_response(logged)))
        .or_else(|rejection| {
            let status = REJECTION_STATUS.take();
            ready(Ok::<_, Rejection>((Err((rejection, status)),)))
        });
    warp::method()
        .and(warp::header::headers_cloned())
        .and(routes)
        .and_then(move |method: Method, headers: HeaderMap, outcome| {
            let (policy, rejections) = &*config;
            ready(respond(policy, rejections, &method, &headers, outcome))
        })
}

/// An application's rejection type that may carry a gateway error, such as
/// an error enum with a `Gateway(GatewayError)` variant.
///
/// warp finds a rejection's cause by its concrete type only, so register
/// the type with [`Rejections::with`] and pass it to [`handle_with`]: a
/// rejection carrying it is then rendered like the gateway error it holds.
/// When it holds none, the rejection is answered as any other custom one:
/// with the canonical 500, unless your own `recover` on the routes answers
/// it first.
///
/// # Examples
///
/// ```
/// use gateway_error::GatewayError;
/// use gateway_error::warp::AsGatewayError;
///
/// #[derive(Debug)]
/// struct Upstream(GatewayError);
///
/// impl warp::reject::Reject for Upstream {}
///
/// impl AsGatewayError for Upstream {
///     fn as_gateway_error(&self) -> Option<&GatewayError> {
///         Some(&self.0)
///     }
/// }
/// ```
pub trait AsGatewayError: warp::reject::Reject {
    /// The gateway error this rejection carries, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::{BadGateway, GatewayError};
    /// use gateway_error::warp::AsGatewayError;
    ///
    /// #[derive(Debug)]
    /// enum AppError {
    ///     Gateway(GatewayError),
    ///     Forbidden,
    /// }
    ///
    /// impl warp::reject::Reject for AppError {}
    ///
    /// impl AsGatewayError for AppError {
    ///     fn as_gateway_error(&self) -> Option<&GatewayError> {
    ///         match self {
    ///             AppError::Gateway(error) => Some(error),
    ///             AppError::Forbidden => None,
    ///         }
    ///     }
    /// }
    ///
    /// let error = AppError::Gateway(BadGateway::upstream("db").into());
    /// assert_eq!(error.as_gateway_error().map(|e| e.status().as_u16()), Some(502));
    /// assert!(AppError::Forbidden.as_gateway_error().is_none());
    /// ```
    fn as_gateway_error(&self) -> Option<&GatewayError>;
}

/// The application rejection types in which [`handle_with`] looks for
/// gateway errors (see [`AsGatewayError`]), after the gateway error types
/// themselves.
///
/// # Examples
///
/// ```
/// use gateway_error::GatewayError;
/// use gateway_error::warp::{AsGatewayError, Rejections};
///
/// #[derive(Debug)]
/// struct Upstream(GatewayError);
///
/// impl warp::reject::Reject for Upstream {}
///
/// impl AsGatewayError for Upstream {
///     fn as_gateway_error(&self) -> Option<&GatewayError> {
///         Some(&self.0)
///     }
/// }
///
/// let rejections = Rejections::new().with::<Upstream>();
/// # let _ = rejections;
/// ```
#[derive(Clone, Debug, Default)]
pub struct Rejections {
    finders: Vec<fn(&Rejection) -> Option<GatewayError>>,
}

impl Rejections {
    /// No application types: only the gateway error types are found.
    ///
    /// # Examples
    ///
    /// ```
    /// let rejections = gateway_error::warp::Rejections::new();
    /// # let _ = rejections;
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Also looks for gateway errors in rejections of type `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::GatewayError;
    /// use gateway_error::warp::{AsGatewayError, Rejections};
    ///
    /// #[derive(Debug)]
    /// struct Upstream(GatewayError);
    ///
    /// impl warp::reject::Reject for Upstream {}
    ///
    /// impl AsGatewayError for Upstream {
    ///     fn as_gateway_error(&self) -> Option<&GatewayError> {
    ///         Some(&self.0)
    ///     }
    /// }
    ///
    /// let rejections = Rejections::new().with::<Upstream>();
    /// # let _ = rejections;
    /// ```
    #[must_use]
    pub fn with<T: AsGatewayError>(mut self) -> Self {
        fn find_in<T: AsGatewayError>(rejection: &Rejection) -> Option<GatewayError> {
            rejection.find::<T>()?.as_gateway_error().cloned()
        }
        self.finders.push(find_in::<T>);
        self
    }

    /// The gateway error in one of the registered types, if any.
    fn find(&self, rejection: &Rejection) -> Option<GatewayError> {
        self.finders.iter().find_map(|finder| finder(rejection))
    }
}

/// A handler for warp's [`recover`](warp::Filter::recover) that renders
/// rejections carrying a gateway error, for routes you cannot wrap with
/// [`handle`].
///
/// It sees only the rejection, so it renders for the default context: JSON
/// whatever the client accepts, no `retryable` unless the failure's phase
/// decides it, no request id, no `Proxy-Status`, and a body even for HEAD
/// (hyper drops it on the wire). Replies carrying an error keep their
/// default JSON rendering. Prefer [`handle`].
///
/// # Errors
///
/// Returns `rejection` unchanged when it carries no gateway error, so that
/// warp (or the next `recover`) answers it.
///
/// # Examples
///
/// ```
/// use gateway_error::ServiceUnavailable;
/// use warp::Filter;
///
/// let routes = warp::path("search")
///     .and_then(|| async { Err::<String, _>(warp::reject::custom(ServiceUnavailable::upstream("search"))) })
///     .recover(gateway_error::warp::recover);
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let response = warp::test::request().path("/search").reply(&routes).await;
/// assert_eq!(response.status(), 503);
/// assert_eq!(response.headers()["content-type"], "application/json");
/// # });
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn recover(rejection: Rejection) -> Result<Response, Rejection> {
    match find(&rejection) {
        Some(error) => {
            log(&error, None);
            Ok(with_error(
                render(&error, &RenderContext::new()).into_response(),
                error,
            ))
        }
        None => Err(rejection),
    }
}

/// Renders what `routes` produced for the request.
fn respond(
    policy: &Policy,
    rejections: &Rejections,
    method: &Method,
    headers: &HeaderMap,
    outcome: Result<Response, (Rejection, Option<StatusCode>)>,
) -> Result<Response, Rejection> {
    let id = request_id(headers);
    let ctx = || {
        RenderContext::new()
            .with_method(method)
            .with_accept(headers)
            .with_policy(policy)
            .with_request_id(id.to_str().unwrap_or_default())
    };
    match outcome {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            // The error stays where it is, in the extensions.
            let Some(error) = parts.extensions.get::<GatewayError>() else {
                let mut response = Response::from_parts(parts, body);
                set_request_id(&mut response, id);
                return Ok(response);
            };
            let ctx = ctx();
            log(error, ctx.request_id());
            let previous = mem::take(&mut parts.headers);
            let rendered = if previous.is_empty() {
                // A reply's skeleton: the request id goes into the rendered
                // map, which has room for it.
                render_echoing(error, &ctx, id.clone())
            } else {
                let mut rendered = rerender(error, &ctx, previous);
                rendered
                    .headers_mut()
                    .entry(&X_REQUEST_ID)
                    .or_insert_with(|| id.clone());
                rendered
            };
            let (rendered, bytes) = rendered.into_parts();
            parts.status = rendered.status;
            parts.headers = rendered.headers;
            Ok(http::Response::from_parts(parts, bytes).into_response())
        }
        Err((rejection, status)) => {
            let error = match find(&rejection).or_else(|| rejections.find(&rejection)) {
                Some(error) => error,
                // warp answers with a 500 a custom rejection (with its
                // `Debug` text) and a few of its own: all get ours.
                None if !rejection.is_not_found()
                    && status.is_none_or(|status| status == StatusCode::INTERNAL_SERVER_ERROR) =>
                {
                    unhandled(&rejection)
                }
                None => return Err(rejection),
            };
            let ctx = ctx();
            log(&error, ctx.request_id());
            let response = render_echoing(&error, &ctx, id.clone()).into_response();
            Ok(with_error(response, error))
        }
    }
}

/// Echoes the request id, unless the handler set one.
fn set_request_id(response: &mut Response, id: HeaderValue) {
    response.headers_mut().entry(&X_REQUEST_ID).or_insert(id);
}

/// The request's id when it has a valid one, a new one otherwise.
fn request_id(headers: &HeaderMap) -> HeaderValue {
    headers
        .get(&X_REQUEST_ID)
        .filter(|id| id.to_str().is_ok_and(is_valid_request_id))
        .cloned()
        .unwrap_or_else(generate_request_id)
}

/// The gateway error a rejection carries, if any.
fn find(rejection: &Rejection) -> Option<GatewayError> {
    fn one<T: Clone + Into<GatewayError> + 'static>(rejection: &Rejection) -> Option<GatewayError> {
        rejection.find::<T>().cloned().map(Into::into)
    }
    one::<GatewayError>(rejection)
        .or_else(|| one::<BadGateway>(rejection))
        .or_else(|| one::<GatewayTimeout>(rejection))
        .or_else(|| one::<ServiceUnavailable>(rejection))
        .or_else(|| one::<InternalServerError>(rejection))
}

std::thread_local! {
    /// The status warp gives the rejection being returned, from its log
    /// filter to the `or_else` right after it: set and taken within one
    /// poll, on one thread, so no other request sees it.
    static REJECTION_STATUS: std::cell::Cell<Option<StatusCode>> =
        const { std::cell::Cell::new(None) };
}

/// The canonical 500 for a custom rejection nobody answered; its `Debug`
/// text becomes the source, which goes to the log and never to a client.
fn unhandled(rejection: &Rejection) -> GatewayError {
    InternalServerError::new()
        .with_source(UnhandledRejection(format!("{rejection:?}")))
        .into()
}

/// A custom rejection's `Debug` text, for the log.
#[derive(Debug)]
struct UnhandledRejection(String);

impl fmt::Display for UnhandledRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unhandled rejection: {}", self.0)
    }
}

impl std::error::Error for UnhandledRejection {}

/// Keeps `error` in the response's extensions, as the core's `Reply` does.
fn with_error(mut response: Response, error: GatewayError) -> Response {
    response.extensions_mut().insert(error);
    response
}

/// The crate README, compiled so that its example cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
