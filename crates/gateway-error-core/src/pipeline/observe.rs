//! Reporting each error once: the `tracing` event and user observers.

use std::fmt;

use http::{Method, StatusCode};

use crate::error::GatewayError;
use crate::registry::{Phase, ProxyError};
use crate::request_id::RequestId;

/// An observer of error responses, called once per error by the outermost
/// adapter, beside (or, with [`Pipeline::with_tracing(false)`](super::Pipeline::with_tracing),
/// instead of) the `tracing` event: the hook for metrics, as tower-http's
/// `OnFailure`. Closures taking `&ErrorEvent<'_>` implement it.
///
/// # Examples
///
/// ```
/// use gateway_error::pipeline::{ErrorEvent, OnError, Pipeline};
///
/// /// Counts errors by status, kind, phase and retryability.
/// struct Metrics;
///
/// impl OnError for Metrics {
///     fn on_error(&self, event: &ErrorEvent<'_>) {
///         let _labels = (event.status().as_u16(), event.error_type(), event.phase(), event.retryable());
///     }
/// }
///
/// let pipeline = Pipeline::default().on_error(Metrics);
/// # let _ = pipeline;
/// ```
pub trait OnError: Send + Sync + 'static {
    /// Called once for each error response.
    fn on_error(&self, event: &ErrorEvent<'_>);
}

impl<F> OnError for F
where
    F: Fn(&ErrorEvent<'_>) + Send + Sync + 'static,
{
    fn on_error(&self, event: &ErrorEvent<'_>) {
        self(event);
    }
}

/// One error response, as reported to [`OnError`] observers.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use gateway_error::pipeline::{ErrorEvent, Pipeline};
/// use gateway_error::{GatewayError, ProxyError};
/// use http::{Method, Response};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = Arc::clone(&seen);
/// let pipeline = Pipeline::default().on_error(move |event: &ErrorEvent<'_>| {
///     log.lock().unwrap().push((event.status().as_u16(), event.error_type().to_owned(), event.retryable()));
/// });
/// let ctx = pipeline.capture_parts(Method::POST, Default::default(), None);
/// let error = GatewayError::from_kind("db", ProxyError::ConnectionRefused);
/// let _ = ctx.finish(ctx.error_response(error));
/// assert_eq!(*seen.lock().unwrap(), [(502, "connection_refused".to_owned(), Some(true))]);
/// ```
#[derive(Clone, Copy)]
pub struct ErrorEvent<'a> {
    error: &'a GatewayError,
    method: &'a Method,
    request_id: &'a RequestId,
    rendered_again: bool,
}

impl<'a> ErrorEvent<'a> {
    pub(super) fn new(
        error: &'a GatewayError,
        method: &'a Method,
        request_id: &'a RequestId,
        rendered_again: bool,
    ) -> Self {
        Self {
            error,
            method,
            request_id,
            rendered_again,
        }
    }

    /// The error (its source chain is for logs only).
    ///
    /// # Examples
    ///
    /// ```
    /// # use gateway_error::pipeline::ErrorEvent;
    /// fn upstream(event: &ErrorEvent<'_>) -> Option<String> {
    ///     event.error().upstream_name().map(str::to_owned)
    /// }
    /// ```
    #[must_use]
    pub fn error(&self) -> &'a GatewayError {
        self.error
    }

    /// The response's status.
    ///
    /// # Examples
    ///
    /// ```
    /// # use gateway_error::pipeline::ErrorEvent;
    /// fn is_timeout(event: &ErrorEvent<'_>) -> bool {
    ///     event.status() == http::StatusCode::GATEWAY_TIMEOUT
    /// }
    /// ```
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.error.status()
    }

    /// OpenTelemetry's `error.type`: the RFC 9209 error type when known,
    /// otherwise the status code (`"502"`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use gateway_error::pipeline::ErrorEvent;
    /// fn label(event: &ErrorEvent<'_>) -> &'static str {
    ///     event.error_type()
    /// }
    /// ```
    #[must_use]
    pub fn error_type(&self) -> &'static str {
        error_type(self.error)
    }

    /// The RFC 9209 error type, if known.
    ///
    /// # Examples
    ///
    /// ```
    /// # use gateway_error::pipeline::ErrorEvent;
    /// # use gateway_error::ProxyError;
    /// fn refused(event: &ErrorEvent<'_>) -> bool {
    ///     event.kind() == Some(ProxyError::ConnectionRefused)
    /// }
    /// ```
    #[must_use]
    pub fn kind(&self) -> Option<ProxyError> {
        self.error.kind()
    }

    /// Whether the request may have reached the upstream, if known.
    ///
    /// # Examples
    ///
    /// ```
    /// # use gateway_error::pipeline::ErrorEvent;
    /// # use gateway_error::Phase;
    /// fn never_sent(event: &ErrorEvent<'_>) -> bool {
    ///     event.phase() == Some(Phase::NotSent)
    /// }
    /// ```
    #[must_use]
    pub fn phase(&self) -> Option<Phase> {
        self.error.phase()
    }

    /// The `retryable` verdict the response carries for this request's
    /// method, if one is known.
    ///
    /// # Examples
    ///
    /// ```
    /// # use gateway_error::pipeline::ErrorEvent;
    /// fn retryable(event: &ErrorEvent<'_>) -> bool {
    ///     event.retryable().unwrap_or(false)
    /// }
    /// ```
    #[must_use]
    pub fn retryable(&self) -> Option<bool> {
        self.error
            .inner()
            .retryable(self.error.status(), Some(self.method))
    }

    /// The request's method.
    ///
    /// # Examples
    ///
    /// ```
    /// # use gateway_error::pipeline::ErrorEvent;
    /// fn method<'a>(event: &ErrorEvent<'a>) -> &'a str {
    ///     event.method().as_str()
    /// }
    /// ```
    #[must_use]
    pub fn method(&self) -> &'a Method {
        self.method
    }

    /// The request's id.
    ///
    /// # Examples
    ///
    /// ```
    /// # use gateway_error::pipeline::ErrorEvent;
    /// fn id(event: &ErrorEvent<'_>) -> String {
    ///     event.request_id().to_string()
    /// }
    /// ```
    #[must_use]
    pub fn request_id(&self) -> &'a RequestId {
        self.request_id
    }

    /// Whether the adapter had to render the error a second time, because
    /// it was first rendered without the request's context (in a task the
    /// handler spawned, say). A diagnostic: normally `false`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use gateway_error::pipeline::ErrorEvent;
    /// fn wasted(event: &ErrorEvent<'_>) -> bool {
    ///     event.rendered_again()
    /// }
    /// ```
    #[must_use]
    pub fn rendered_again(&self) -> bool {
        self.rendered_again
    }
}

impl fmt::Debug for ErrorEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorEvent")
            .field("status", &self.status())
            .field("error_type", &self.error_type())
            .field("method", &self.method)
            .field("request_id", &self.request_id)
            .field("rendered_again", &self.rendered_again)
            .finish_non_exhaustive()
    }
}

fn error_type(error: &GatewayError) -> &'static str {
    match (error.kind(), error.status().as_u16()) {
        (Some(kind), _) => kind.as_str(),
        (None, 500) => "500",
        (None, 502) => "502",
        (None, 503) => "503",
        (None, 504) => "504",
        // OpenTelemetry's fallback value; the four types have no other status.
        (None, _) => "_OTHER",
    }
}

/// The `tracing` event, with OpenTelemetry semantic-convention field names:
/// `ERROR` for a 500 (the gateway's own fault), `WARN` otherwise. The
/// source chain goes to logs only.
#[cfg(feature = "tracing")]
pub(super) fn trace(event: &ErrorEvent<'_>) {
    let error = event.error;
    let status = error.status().as_u16();
    let method = event.method.as_str();
    let request_id = event.request_id.as_str();
    let upstream = error.upstream_name();
    let phase = event.phase().map(|phase| match phase {
        Phase::NotSent => "not_sent",
        _ => "maybe_sent",
    });
    let retryable = event.retryable();
    // No field at all for an error without a source (an upstream's own
    // 503, say), rather than an empty one.
    let chain = std::error::Error::source(error)
        .is_some()
        .then_some(SourceChain(error));
    macro_rules! event {
        ($level:ident) => {
            tracing::$level!(
                "error.type" = error_type(error),
                "http.response.status_code" = status,
                "http.request.method" = method,
                "http.request.header.x-request-id" = request_id,
                "gateway_error.upstream" = upstream,
                "gateway_error.phase" = phase,
                "gateway_error.retryable" = retryable,
                "exception.message" = chain.as_ref().map(tracing::field::display),
                "{error}"
            )
        };
    }
    if error.status() == StatusCode::INTERNAL_SERVER_ERROR {
        event!(error);
    } else {
        event!(warn);
    }
}

#[cfg(not(feature = "tracing"))]
pub(super) fn trace(_: &ErrorEvent<'_>) {}

/// The error's causes, outermost first, joined with `: `.
#[cfg(feature = "tracing")]
struct SourceChain<'a>(&'a GatewayError);

#[cfg(feature = "tracing")]
impl fmt::Display for SourceChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut next = std::error::Error::source(self.0);
        let mut first = true;
        // Bounded, as the classifier's walk: a cyclic chain is cut off.
        for _ in 0..32 {
            let Some(cause) = next else { break };
            if !first {
                f.write_str(": ")?;
            }
            write!(f, "{cause}")?;
            first = false;
            next = cause.source();
        }
        Ok(())
    }
}
