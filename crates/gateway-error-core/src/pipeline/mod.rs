//! The one pipeline every adapter runs: capture a request's context, render
//! its gateway errors once, finish the response on its way out.
//!
//! ```text
//! request ──> adapter: Pipeline::capture(method, headers) ──> RequestContext
//!               │  (format from Accept, method, request id, policy)
//!               ├─ polls the inner service inside ctx.in_scope(..), each poll
//!               │    handler: Err(BadGateway) ──> IntoResponse ──> respond(err)
//!               │      rendered for the current context: a complete response
//!               │      (status, Content-Type, Content-Length, body, x-request-id),
//!               │      the error and a `Rendered` mark in its extensions
//!               └─ ctx.finish(response): render again only if the error was
//!                  rendered for another context (a spawned task, another
//!                  thread), drop stale framing, echo the request id, report
//!                  the error once (tracing event, your `OnError` observers)
//! ```
//!
//! Each adapter crate only translates its framework's types to and from
//! these calls; a fourth one can be written outside this repository with
//! this module alone (see the `hyper` example in the repository).
//!
//! # The request id rule
//!
//! - The header is `x-request-id` ([`X_REQUEST_ID`](crate::X_REQUEST_ID)), or the one the
//!   policy names ([`Policy::with_request_id_header`](crate::Policy::with_request_id_header)): below, `x-request-id`
//!   stands for it. When tower-http's `SetRequestIdLayer` (or any
//!   middleware that sets the header) runs first, its id is the request's.
//! - A request's id is its own `x-request-id` when that is valid (see
//!   [`RequestId::is_valid`](crate::RequestId::is_valid); a single value, so of several field lines
//!   the first is read); otherwise a new one: the pipeline's
//!   ([`Pipeline::with_make_request_id`]) when it makes a valid one, else
//!   [`RequestId::generate`](crate::RequestId::generate)'s.
//!   The tower layer (axum, hyper, tonic, warp's `service`) and actix-web's
//!   middleware also write a new one into the request's headers, replacing
//!   every line (see [`Pipeline::begin`]); a warp filter cannot change them.
//! - Handlers read it as [`RequestId`](crate::RequestId) from the request's extensions
//!   (axum's and actix-web's extractors, warp's `request_id()` filter).
//! - Every response that leaves the outermost adapter carries
//!   `x-request-id`: errors, 404s and successes. A handler's own valid
//!   `x-request-id` response header wins over the request's id; an error's
//!   own id ([`with_request_id`](crate::GatewayError::with_request_id))
//!   wins over both.
//! - A response carries one id: its header, every format's body and its
//!   log event (the `tracing` event and your observers) show the same,
//!   whether the error was rendered in the handler's context or again by
//!   the adapter.
//! - Nested adapters share the outermost one's id.
//!
//! # Examples
//!
//! A complete adapter for a service that answers `Result<_, GatewayError>`:
//!
//! ```
//! use gateway_error::pipeline::Pipeline;
//! use gateway_error::{BadGateway, GatewayError, Policy};
//! use http::{Method, Request, Response};
//! use bytes::Bytes;
//!
//! fn handler(_: &Request<()>) -> Result<Response<Bytes>, GatewayError> {
//!     Err(BadGateway::upstream("product-service").into())
//! }
//!
//! let pipeline = Pipeline::new(Policy::new().with_proxy_name("bff"));
//! let request = Request::get("/products/7")
//!     .header("accept", "text/plain")
//!     .header("x-request-id", "req-1")
//!     .body(())?;
//! let ctx = pipeline.capture(request.method(), request.headers());
//! let response = ctx.in_scope(|| handler(&request)).unwrap_or_else(|err| ctx.error_response(err));
//! let response = ctx.finish(response).map_body(|kept| kept, |rendered| rendered);
//! assert_eq!(response.status(), 502);
//! assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
//! assert_eq!(response.headers()["proxy-status"], "bff");
//! assert_eq!(response.headers()["x-request-id"], "req-1");
//! assert!(response.body().starts_with(b"502 Bad Gateway\n"));
//! # Ok::<(), http::Error>(())
//! ```

mod context;
mod current;
mod observe;

use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Method};

#[cfg(feature = "actix-web")]
pub(crate) use context::Action;
#[cfg(any(feature = "actix-web", test))]
pub(crate) use context::Rendered;
pub use context::{Finished, RequestContext, respond};
pub(crate) use current::Instrumented;
pub use observe::{ErrorEvent, OnError};

use crate::context::Policy;
use crate::negotiate::Format;
use crate::request_id::MakeRequestId;

/// What an adapter is configured with, once: the [`Policy`], whether the
/// `tracing` event is emitted, and any [`OnError`] observers.
///
/// Cheap to clone (one reference count).
///
/// # Examples
///
/// ```
/// use gateway_error::pipeline::{ErrorEvent, Pipeline};
/// use gateway_error::Policy;
///
/// let pipeline = Pipeline::new(Policy::new().with_proxy_name("edge"))
///     .with_tracing(false)
///     .on_error(|event: &ErrorEvent<'_>| {
///         let _ = (event.status(), event.kind(), event.retryable());
///     });
/// assert_eq!(pipeline.policy().proxy_name(), Some("edge"));
/// ```
#[derive(Clone, Default)]
pub struct Pipeline {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    policy: Policy,
    quiet: bool,
    /// The shortcut is off: handlers' errors are not rendered for the
    /// request while the adapter polls them (see
    /// [`Pipeline::with_render_in_handler`]).
    deferred: bool,
    observers: Vec<Arc<dyn OnError>>,
    /// Makes the ids of requests that come without a valid one.
    make_request_id: Option<Arc<dyn MakeRequestId>>,
}

impl Pipeline {
    /// A pipeline rendering under `policy`, with the `tracing` event on
    /// (when the `tracing` feature is enabled) and no observers.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::Pipeline;
    /// use gateway_error::Policy;
    ///
    /// assert_eq!(Pipeline::new(Policy::new()).policy(), &Policy::new());
    /// ```
    #[must_use]
    pub fn new(policy: Policy) -> Self {
        Self {
            shared: Arc::new(Shared {
                policy,
                quiet: false,
                deferred: false,
                observers: Vec::new(),
                make_request_id: None,
            }),
        }
    }

    /// Turns off (or on again) the one shortcut the pipeline takes: while
    /// an adapter polls a handler, the request's context is current, so
    /// that a handler's error is rendered for its request right away and
    /// the adapter keeps that response. Off, the error is rendered for the
    /// default context and the adapter renders it again for the request:
    /// the same bytes, one render more (the conformance suite runs both
    /// ways). The shortcut takes no lock: it is a thread-local set around
    /// each poll.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::Pipeline;
    ///
    /// let plain = Pipeline::default().with_render_in_handler(false);
    /// assert!(!plain.renders_in_handler());
    /// ```
    #[must_use]
    pub fn with_render_in_handler(mut self, on: bool) -> Self {
        self.shared_mut().deferred = !on;
        self
    }

    /// Whether a handler's error is rendered for its request right away
    /// (see [`with_render_in_handler`](Self::with_render_in_handler)).
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::Pipeline;
    ///
    /// assert!(Pipeline::default().renders_in_handler());
    /// ```
    #[must_use]
    pub fn renders_in_handler(&self) -> bool {
        !self.shared.deferred
    }

    /// Turns the `tracing` event for each error on or off (on by default;
    /// without the `tracing` feature there is none). Observers added with
    /// [`on_error`](Self::on_error) are called either way.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::Pipeline;
    ///
    /// let quiet = Pipeline::default().with_tracing(false);
    /// assert!(!quiet.traces());
    /// ```
    #[must_use]
    pub fn with_tracing(mut self, on: bool) -> Self {
        self.shared_mut().quiet = !on;
        self
    }

    /// Adds an observer called once for each error response, beside the
    /// `tracing` event: for metrics labelled by status, kind, phase and
    /// retryability, say.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use gateway_error::pipeline::{ErrorEvent, Pipeline};
    ///
    /// let errors = Arc::new(AtomicUsize::new(0));
    /// let counter = Arc::clone(&errors);
    /// let pipeline = Pipeline::default().on_error(move |_: &ErrorEvent<'_>| {
    ///     counter.fetch_add(1, Ordering::Relaxed);
    /// });
    /// # let _ = pipeline;
    /// ```
    #[must_use]
    pub fn on_error(mut self, observer: impl OnError) -> Self {
        self.shared_mut().observers.push(Arc::new(observer));
        self
    }

    /// Makes the ids of requests that come without a valid one (see the
    /// [request id rule](self#the-request-id-rule)), instead of
    /// [`RequestId::generate`](crate::RequestId::generate): your tracing
    /// system's ids, say. An id that is not valid
    /// ([`RequestId::is_valid`](crate::RequestId::is_valid)), or none, is
    /// replaced by a generated one.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use gateway_error::pipeline::Pipeline;
    /// use http::{HeaderMap, HeaderValue, Method};
    ///
    /// static NEXT: AtomicU64 = AtomicU64::new(1);
    /// let pipeline = Pipeline::default().with_make_request_id(|| {
    ///     HeaderValue::try_from(format!("bff-{}", NEXT.fetch_add(1, Ordering::Relaxed))).ok()
    /// });
    /// let ctx = pipeline.capture(&Method::GET, &HeaderMap::new());
    /// assert_eq!(ctx.request_id().as_str(), "bff-1");
    /// assert!(ctx.request_id().is_generated());
    /// ```
    #[must_use]
    pub fn with_make_request_id(mut self, make: impl MakeRequestId) -> Self {
        self.shared_mut().make_request_id = Some(Arc::new(make));
        self
    }

    pub(crate) fn request_id_maker(&self) -> Option<&dyn MakeRequestId> {
        self.shared.make_request_id.as_deref()
    }

    /// The policy errors are rendered under.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::Pipeline;
    /// use gateway_error::Policy;
    ///
    /// let pipeline = Pipeline::new(Policy::new().with_upstream_names(true));
    /// assert!(pipeline.policy().shows_upstream_names());
    /// ```
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.shared.policy
    }

    /// Whether the `tracing` event is emitted (see
    /// [`with_tracing`](Self::with_tracing)).
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::Pipeline;
    ///
    /// assert_eq!(Pipeline::default().traces(), cfg!(feature = "tracing"));
    /// ```
    #[must_use]
    pub fn traces(&self) -> bool {
        cfg!(feature = "tracing") && !self.shared.quiet
    }

    /// Captures what rendering needs of a request: the format (gRPC for a
    /// gRPC call, else what its `Accept` fields ask for: see
    /// [`Format::from_request`]), its method, its request id (see the module docs for
    /// the rule) and this pipeline.
    ///
    /// Inside another adapter's scope (adapters nested in one app), the
    /// context shares the outer one's request id and is
    /// [nested](RequestContext::is_nested): it renders under this
    /// pipeline's policy but leaves reporting and echoing to the outer one.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::Pipeline;
    /// use gateway_error::Format;
    /// use http::{HeaderMap, HeaderValue, Method};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("accept", HeaderValue::from_static("application/problem+json"));
    /// let ctx = Pipeline::default().capture(&Method::POST, &headers);
    /// assert_eq!(ctx.format(), Format::ProblemJson);
    /// assert_eq!(ctx.method(), &Method::POST);
    /// assert!(ctx.request_id().is_generated());
    /// ```
    #[must_use]
    pub fn capture(&self, method: &Method, headers: &HeaderMap) -> RequestContext {
        let format = Format::from_request(headers);
        self.capture_parts(
            method.clone(),
            format,
            headers
                .get(self.policy().request_id_header())
                .map(HeaderValue::as_bytes),
        )
    }

    /// [`capture`](Self::capture) for a request the adapter may change:
    /// a generated request id also replaces the request's `x-request-id`
    /// header, and the [`RequestId`](crate::RequestId) goes into its extensions, so that
    /// handlers see the id the client will get. The context goes there too:
    /// an adapter nested inside (a layer on a nested router) finds it there
    /// and is [nested](RequestContext::is_nested) in it, whether the
    /// shortcut is on or off.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::Pipeline;
    /// use gateway_error::RequestId;
    /// use http::Request;
    ///
    /// let mut request = Request::get("/").header("x-request-id", "not valid").body(())?;
    /// let ctx = Pipeline::default().begin(&mut request);
    /// assert_eq!(request.headers()["x-request-id"], ctx.request_id().as_str());
    /// assert_eq!(request.extensions().get::<RequestId>(), Some(ctx.request_id()));
    /// # Ok::<(), http::Error>(())
    /// ```
    #[must_use]
    pub fn begin<B>(&self, request: &mut http::Request<B>) -> RequestContext {
        let headers = request.headers();
        let ctx = RequestContext::new(
            self,
            request.method().clone(),
            Format::from_request(headers),
            headers
                .get(self.policy().request_id_header())
                .map(HeaderValue::as_bytes),
            request.extensions().get::<RequestContext>().cloned(),
        );
        let id = ctx.request_id();
        if id.is_generated() {
            request
                .headers_mut()
                .insert(self.policy().request_id_header(), id.header_value().clone());
        }
        let extensions = request.extensions_mut();
        extensions.insert(id.clone());
        // An adapter nested inside (a layer on a nested router) finds it:
        // nesting does not depend on the shortcut.
        extensions.insert(ctx.clone());
        ctx
    }

    /// [`capture`](Self::capture) from parts, for frameworks whose header
    /// types are not `http` 1's: the method, the format (see
    /// [`Format::from_request_bytes`]) and the bytes of the request's
    /// `x-request-id`, if it has one.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::Pipeline;
    /// use gateway_error::Format;
    /// use http::Method;
    ///
    /// let ctx = Pipeline::default().capture_parts(Method::GET, Format::Html, Some(b"req-9"));
    /// assert_eq!(ctx.request_id().as_str(), "req-9");
    /// assert!(!ctx.request_id().is_generated());
    /// ```
    #[must_use]
    pub fn capture_parts(
        &self,
        method: Method,
        format: Format,
        request_id: Option<&[u8]>,
    ) -> RequestContext {
        RequestContext::new(self, method, format, request_id, None)
    }

    fn shared_mut(&mut self) -> &mut Shared {
        // Configured before it is shared; a clone being configured gets its
        // own copy.
        if Arc::get_mut(&mut self.shared).is_none() {
            self.shared = Arc::new(Shared {
                policy: self.shared.policy.clone(),
                quiet: self.shared.quiet,
                deferred: self.shared.deferred,
                observers: self.shared.observers.clone(),
                make_request_id: self.shared.make_request_id.clone(),
            });
        }
        Arc::get_mut(&mut self.shared).unwrap_or_else(|| unreachable!("just made unique"))
    }
}

/// A pipeline rendering under the policy, as [`Pipeline::new`]: what the
/// adapters' constructors take, so that `new(policy)` and
/// `new(Pipeline::new(policy).on_error(..))` both read naturally.
///
/// # Examples
///
/// ```
/// use gateway_error::pipeline::Pipeline;
/// use gateway_error::Policy;
///
/// let pipeline = Pipeline::from(Policy::new().with_proxy_name("bff"));
/// assert_eq!(pipeline.policy().proxy_name(), Some("bff"));
/// ```
impl From<Policy> for Pipeline {
    fn from(policy: Policy) -> Self {
        Self::new(policy)
    }
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("policy", &self.shared.policy)
            .field("tracing", &self.traces())
            .field("observers", &self.shared.observers.len())
            .finish()
    }
}

#[cfg(test)]
mod tests;
