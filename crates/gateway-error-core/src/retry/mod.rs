//! Client-side retries that do what a gateway's answer says.
//!
//! A [`RetryPolicy`] decides, after a failed attempt, whether to send the
//! request again and when. It decides from types only:
//!
//! - **What failed.** A transport error is classified as
//!   [`ProxyError::classify`] does; a response is read with
//!   [`parse`](crate::parse) when its status is a gateway error (500, 502,
//!   503, 504), which gives the RFC 9209 kind (from the body or the last
//!   `Proxy-Status` member) and the retry hint. 429 and the other 5xx are
//!   failures too; 501, 505, 506, 508, 510 and 511 are not worth retrying (a
//!   retry gets the same answer), nor is a 500 without `Retry-After`, nor a
//!   kind a retry cannot change (a certificate error, a size limit, a
//!   configuration error, a loop), nor a gateway's answer relaying an
//!   upstream status that comes again (a `received-status` of 404, say).
//!   Any other response is not a failure. This is the rule by which a
//!   gateway renders its `retryable` member; when the policy reads a
//!   gateway's body, a `"retryable": false` in it stops it too. The
//!   upstream status travels in the head only in `Proxy-Status`, so
//!   integrations that read only heads (below) see it only from gateways
//!   that name themselves.
//! - **Whether a retry is safe** (RFC 9110, section 9.2.2). A request that
//!   never reached the upstream ([`Phase::NotSent`]: refused, DNS, connect
//!   timeout...) may be sent again whatever its method; one that may have
//!   reached it only when its method is idempotent (GET, HEAD, OPTIONS,
//!   TRACE, PUT, DELETE). A failure of unknown phase counts as sent.
//! - **How long to wait.** `Retry-After` (a delay or a date) when the answer
//!   carries one, if it is within the policy's maximum; a longer hint means
//!   giving up at once rather than waiting. Otherwise a jittered exponential
//!   [`ExponentialBackoff`].
//! - **How often.** At most [`max_retries`](RetryPolicy::with_max_retries)
//!   retries per request, and a [`Budget`] shared by every request of a
//!   client, so that a burst of failures does not multiply the load on a
//!   struggling upstream.
//!
//! The policy plugs into clients through features named after the crates:
//!
//! | feature | what |
//! |---|---|
//! | `tower` | `RetryPolicy` is a `tower::retry::Policy` for `http::Request<B: Clone>`, for hyper-util's client and any tower HTTP client; `Budget` is a tower retry budget |
//! | `reqwest-middleware` | `RetryPolicy` is a `reqwest_middleware::Middleware` |
//! | `backon` | `RetryPolicy` is a backon `BackoffBuilder`; [`RetryPolicy::when`] and [`RetryPolicy::adjust`] go into backon's `Retryable::when` and `adjust` |
//!
//! The tower and reqwest integrations decide from a response's status and
//! headers (`Retry-After`, `Proxy-Status`), not its body: reading a body
//! would take it from the caller. Gateways that name themselves in
//! `Proxy-Status` (see [`Policy::with_proxy_name`](crate::Policy::with_proxy_name))
//! give their clients everything they need in the headers.
//!
//! # Examples
//!
//! A loop of your own, with any client: decide after each failed attempt.
//!
//! ```
//! use std::time::Duration;
//! use gateway_error::retry::{Decision, ExponentialBackoff, Failure, RetryPolicy, Stop};
//! use http::{HeaderMap, HeaderValue, Method, StatusCode};
//!
//! let policy = RetryPolicy::new()
//!     .with_max_retries(3)
//!     .with_backoff(ExponentialBackoff::new(Duration::from_millis(50), Duration::from_secs(2)))
//!     .with_max_retry_after(Duration::from_secs(10));
//!
//! // A gateway could not connect to its upstream: the request was never sent,
//! // so even a POST may be sent again.
//! let mut headers = HeaderMap::new();
//! headers.insert("proxy-status", HeaderValue::from_static("bff; error=connection_refused"));
//! let failure = Failure::from_response(StatusCode::BAD_GATEWAY, &headers, b"").expect("a failure");
//! assert!(matches!(policy.decide(&Method::POST, 0, &failure), Decision::Retry(_)));
//!
//! // The upstream timed out: it may have processed the POST.
//! headers.insert("proxy-status", HeaderValue::from_static("bff; error=http_response_timeout"));
//! let failure = Failure::from_response(StatusCode::GATEWAY_TIMEOUT, &headers, b"").expect("a failure");
//! assert_eq!(policy.decide(&Method::POST, 0, &failure), Decision::Stop(Stop::NotIdempotent));
//!
//! // A 503 asking for a minute: longer than this client waits.
//! let mut headers = HeaderMap::new();
//! headers.insert("retry-after", HeaderValue::from_static("60"));
//! let failure = Failure::from_response(StatusCode::SERVICE_UNAVAILABLE, &headers, b"").expect("a failure");
//! assert_eq!(policy.decide(&Method::GET, 0, &failure), Decision::Stop(Stop::RetryAfterTooLong));
//! ```
//!
//! [`ProxyError::classify`]: crate::ProxyError::classify
//! [`Phase::NotSent`]: crate::Phase::NotSent

use std::cell::Cell;
use std::error::Error as StdError;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method, StatusCode};

use crate::error::{GatewayError, answers_the_same_again, retry_can_help};
use crate::parse::parse;
use crate::registry::{Phase, ProxyError};
use crate::retry_after::RetryAfter;

#[cfg(feature = "backon")]
mod backon;
#[cfg(any(feature = "tower", feature = "reqwest-middleware"))]
mod body;
#[cfg(feature = "reqwest-middleware")]
mod reqwest_middleware;
#[cfg(feature = "tower")]
mod tower;

#[cfg(any(feature = "tower", feature = "reqwest-middleware"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "tower", feature = "reqwest-middleware")))
)]
pub use body::RetryBody;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use tower::{RetryLayer, RetryService};

/// What a failed attempt tells a retry policy: the status it was answered
/// with (none for a transport error), its RFC 9209 kind and its retry hint.
///
/// # Examples
///
/// ```
/// use gateway_error::retry::Failure;
/// use gateway_error::ProxyError;
/// use std::io;
///
/// let failure = Failure::from_error(&io::Error::from(io::ErrorKind::ConnectionRefused));
/// assert_eq!(failure.status(), None);
/// assert_eq!(failure.kind(), Some(ProxyError::ConnectionRefused));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    status: Option<StatusCode>,
    kind: Option<ProxyError>,
    retry_after: Option<RetryAfter>,
    received_status: Option<StatusCode>,
    /// A reason beyond the kind and the status why a retry cannot help
    /// (an upstream answer that was complete but unusable, say).
    no_retry: bool,
    /// The gateway's `retryable` member, for the request it answered.
    verdict: Option<bool>,
}

impl Failure {
    /// A transport error: no response came. Its kind is what
    /// [`ProxyError::classify`](crate::ProxyError::classify) finds in its
    /// source chain; a `reqwest` status error (feature `reqwest`) keeps its
    /// status.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::Failure;
    /// use gateway_error::{Phase, ProxyError};
    /// use std::io;
    ///
    /// let reset = Failure::from_error(&io::Error::from(io::ErrorKind::ConnectionReset));
    /// assert_eq!(reset.kind(), Some(ProxyError::ConnectionTerminated));
    /// assert_eq!(reset.kind().map(ProxyError::phase), Some(Phase::MaybeSent));
    /// ```
    #[must_use]
    pub fn from_error(error: &(dyn StdError + 'static)) -> Self {
        #[cfg(feature = "reqwest")]
        let status = error
            .downcast_ref::<reqwest::Error>()
            .and_then(reqwest::Error::status);
        #[cfg(not(feature = "reqwest"))]
        let status = None;
        let (kind, no_retry) = crate::classify::retry_facts(error);
        Self {
            status,
            kind,
            retry_after: None,
            received_status: None,
            no_retry,
            verdict: None,
        }
    }

    /// A response, when it is a failure: a gateway error read by
    /// [`parse`](crate::parse), a 429, or another 5xx (with its
    /// `Retry-After`). `None` for any other status.
    ///
    /// `body` may be empty when only the head is at hand: the kind then comes
    /// from the last `Proxy-Status` member and the hint from `Retry-After`. A
    /// body that does not parse is ignored in the same way. A gateway's
    /// body also says `"retryable": false` when it knows a retry cannot help
    /// (an upstream status it relayed, say, which its head shows only in
    /// `Proxy-Status`): the policy then stops too.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::Failure;
    /// use gateway_error::{ProxyError, RetryAfter};
    /// use http::{HeaderMap, HeaderValue, StatusCode};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("content-type", HeaderValue::from_static("application/json"));
    /// let body = br#"{"error":{"code":"service_unavailable","kind":"destination_unavailable","retry_after":5}}"#;
    /// let failure = Failure::from_response(StatusCode::SERVICE_UNAVAILABLE, &headers, body).expect("a failure");
    /// assert_eq!(failure.kind(), Some(ProxyError::DestinationUnavailable));
    /// assert_eq!(failure.retry_after(), Some(RetryAfter::from_secs(5)));
    ///
    /// headers.insert("retry-after", HeaderValue::from_static("2"));
    /// let throttled = Failure::from_response(StatusCode::TOO_MANY_REQUESTS, &headers, b"").expect("a failure");
    /// assert_eq!(throttled.retry_after(), Some(RetryAfter::from_secs(2)));
    /// assert_eq!(Failure::from_response(StatusCode::NOT_FOUND, &headers, b""), None);
    /// ```
    #[must_use]
    pub fn from_response(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Option<Self> {
        if matches!(status.as_u16(), 500 | 502 | 503 | 504) {
            // An empty JSON object: `parse` then reads the head alone.
            const HEAD_ONLY: &[u8] = b"{}";
            let body = if body.is_empty() { HEAD_ONLY } else { body };
            let parsed =
                parse(status, headers, body).or_else(|_| parse(status, headers, HEAD_ONLY));
            if let Ok(err) = parsed {
                return Some(Self::from(&err));
            }
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Some(Self {
                status: Some(status),
                kind: None,
                retry_after: crate::retry_after::from_headers(headers),
                received_status: None,
                no_retry: false,
                verdict: None,
            });
        }
        None
    }

    /// The status the failure was answered with; `None` for a transport error.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::Failure;
    /// use http::{HeaderMap, StatusCode};
    ///
    /// let failure = Failure::from_response(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"").expect("a failure");
    /// assert_eq!(failure.status(), Some(StatusCode::BAD_GATEWAY));
    /// ```
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// The RFC 9209 kind, when known.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::Failure;
    /// use gateway_error::ProxyError;
    /// use http::{HeaderMap, HeaderValue, StatusCode};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("proxy-status", HeaderValue::from_static("edge; error=dns_timeout"));
    /// let failure = Failure::from_response(StatusCode::GATEWAY_TIMEOUT, &headers, b"").expect("a failure");
    /// assert_eq!(failure.kind(), Some(ProxyError::DnsTimeout));
    /// ```
    #[must_use]
    pub fn kind(&self) -> Option<ProxyError> {
        self.kind
    }

    /// The retry hint, when one was given.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::Failure;
    /// use gateway_error::RetryAfter;
    /// use http::{HeaderMap, HeaderValue, StatusCode};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("retry-after", HeaderValue::from_static("30"));
    /// let failure = Failure::from_response(StatusCode::SERVICE_UNAVAILABLE, &headers, b"").expect("a failure");
    /// assert_eq!(failure.retry_after(), Some(RetryAfter::from_secs(30)));
    /// ```
    #[must_use]
    pub fn retry_after(&self) -> Option<RetryAfter> {
        self.retry_after
    }

    /// Whether a retry can change the outcome at all, whatever the method:
    /// the status allows it, and the kind and the upstream's own status do
    /// (the rule a gateway's `retryable` member follows too).
    fn is_transient(&self) -> bool {
        let status_allows = self.status.is_none_or(|status| match status.as_u16() {
            429 | 502 | 503 | 504 => true,
            // The server's own fault, unless it said when to come back.
            500 => self.retry_after.is_some(),
            _ => status.is_server_error() && !answers_the_same_again(status),
        });
        status_allows && !self.no_retry && retry_can_help(self.kind, self.received_status)
    }

    /// Whether sending the request again is safe (RFC 9110, section 9.2.2).
    fn is_safe_for(&self, method: &Method) -> bool {
        self.kind.map(ProxyError::phase) == Some(Phase::NotSent) || method.is_idempotent()
    }
}

/// The debug event of [`RetryPolicy::decide`].
#[cfg(feature = "tracing")]
fn trace_decision(method: &Method, retries: u32, failure: &Failure, decision: &Decision) {
    let status = failure.status.map(|status| status.as_u16());
    // As OpenTelemetry asks: the kind, else the status code, else `_OTHER`.
    let error_type = failure
        .kind
        .map(ProxyError::as_str)
        .or_else(|| failure.status.as_ref().map(StatusCode::as_str))
        .unwrap_or("_OTHER");
    let (delay_ms, stop, message) = match decision {
        Decision::Retry(delay) => (
            Some(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)),
            None,
            "retrying",
        ),
        Decision::Stop(stop) => (None, Some(stop), "not retrying"),
    };
    tracing::debug!(
        "http.request.method" = method.as_str(),
        "http.request.resend_count" = retries,
        "http.response.status_code" = status,
        "error.type" = error_type,
        "gateway_error.retry.delay_ms" = delay_ms,
        "gateway_error.retry.stop" = stop.map(tracing::field::debug),
        "{message}"
    );
}

impl From<&GatewayError> for Failure {
    /// The failure a gateway error stands for: its status, kind and hint.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::Failure;
    /// use gateway_error::{GatewayError, ProxyError};
    /// use http::StatusCode;
    ///
    /// let err = GatewayError::from_kind("db", ProxyError::ConnectionRefused);
    /// let failure = Failure::from(&err);
    /// assert_eq!(failure.status(), Some(StatusCode::BAD_GATEWAY));
    /// assert_eq!(failure.kind(), Some(ProxyError::ConnectionRefused));
    /// ```
    fn from(err: &GatewayError) -> Self {
        Self {
            status: Some(err.status()),
            kind: err.kind(),
            retry_after: err.retry_after(),
            received_status: err.received_status(),
            no_retry: err.inner().no_retry.is_some(),
            verdict: err.inner().reported.as_ref().and_then(|r| r.retryable),
        }
    }
}

/// What to do after a failed attempt.
///
/// # Examples
///
/// ```
/// use gateway_error::retry::{Decision, Failure, RetryPolicy, Stop};
/// use http::{HeaderMap, Method, StatusCode};
///
/// let policy = RetryPolicy::new().with_max_retries(1);
/// let failure = Failure::from_response(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"").expect("a failure");
/// assert!(matches!(policy.decide(&Method::GET, 0, &failure), Decision::Retry(_)));
/// assert_eq!(policy.decide(&Method::GET, 1, &failure), Decision::Stop(Stop::RetriesExhausted));
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Send the request again after this delay.
    Retry(Duration),
    /// Do not send it again, for this reason.
    Stop(Stop),
}

/// Why a [`RetryPolicy`] gives up.
///
/// # Examples
///
/// ```
/// use gateway_error::retry::{Decision, Failure, RetryPolicy, Stop};
/// use http::{HeaderMap, Method, StatusCode};
///
/// let failure = Failure::from_response(StatusCode::NOT_IMPLEMENTED, &HeaderMap::new(), b"").expect("a failure");
/// assert_eq!(RetryPolicy::new().decide(&Method::GET, 0, &failure), Decision::Stop(Stop::NotRetryable));
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stop {
    /// A retry would get the same answer: a 500 without `Retry-After`, a
    /// 501, a kind such as a certificate error or a size limit, an
    /// upstream status relayed in `Proxy-Status` that comes again, an
    /// upstream answer that was complete but unusable, a failure a policy
    /// below already retried ([`Retried`]), or a gateway's body that said
    /// `"retryable": false` (a gateway that already retried says so).
    NotRetryable,
    /// The request may have reached the upstream and its method is not
    /// idempotent (RFC 9110, section 9.2.2).
    NotIdempotent,
    /// The policy's retries for this request are used up.
    RetriesExhausted,
    /// `Retry-After` asks for a longer wait than the policy's maximum.
    RetryAfterTooLong,
    /// The retry budget is empty.
    BudgetExhausted,
}

/// What a retry policy did for one request before it gave up: how many
/// attempts it made and why it stopped.
///
/// The rule it serves is *retry at one layer* (the Google SRE book,
/// "Addressing Cascading Failures"): a gateway that retried its upstream
/// and still failed answers its own clients "do not retry", or every layer
/// above it retries on top and the load on the upstream multiplies.
///
/// The tower ([`RetryLayer`]) and
/// reqwest-middleware integrations hand it back when they retried (more
/// than one attempt) or their [`Budget`] stopped them: in the final
/// response's extensions, or as the final error, whose `source()` is the
/// last attempt's error. [`ResultExt::upstream`](crate::ResultExt::upstream),
/// [`ResponseExt::error_for_upstream_status`](crate::ResponseExt::error_for_upstream_status)
/// and [`GatewayError::from_error`] find it there, by type: the gateway
/// error then renders `"retryable": false` (and in HTML and text "This
/// gateway already retried the request"), which the client policies honour.
///
/// # Examples
///
/// ```
/// use gateway_error::retry::{Retried, Stop};
/// use gateway_error::{GatewayError, ResultExt};
/// use std::io;
///
/// let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
/// let gave_up = Retried::new(4, Stop::RetriesExhausted).with_source(refused);
/// let err = Err::<(), _>(gave_up).upstream("catalog").unwrap_err();
/// assert_eq!(err.status(), 502);
/// assert!(!err.is_retryable(&http::Method::GET));
/// ```
#[derive(Clone, Debug)]
pub struct Retried {
    attempts: u32,
    stop: Stop,
    source: Option<Arc<dyn StdError + Send + Sync + 'static>>,
}

impl Retried {
    /// `attempts` made in all (the first one included), then `stop`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::{Retried, Stop};
    ///
    /// let retried = Retried::new(3, Stop::BudgetExhausted);
    /// assert_eq!((retried.attempts(), retried.stop()), (3, Stop::BudgetExhausted));
    /// ```
    #[must_use]
    pub const fn new(attempts: u32, stop: Stop) -> Self {
        Self {
            attempts,
            stop,
            source: None,
        }
    }

    /// The last attempt's error, as `source()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::{Retried, Stop};
    /// use std::error::Error;
    ///
    /// let retried = Retried::new(2, Stop::RetriesExhausted)
    ///     .with_source(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
    /// assert!(retried.source().is_some());
    /// ```
    #[must_use]
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn StdError + Send + Sync + 'static>>,
    ) -> Self {
        self.source = Some(Arc::from(source.into()));
        self
    }

    /// The attempts made, the first one included.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::{Retried, Stop};
    ///
    /// assert_eq!(Retried::new(4, Stop::RetriesExhausted).attempts(), 4);
    /// ```
    #[must_use]
    pub const fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Why the policy stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::{Retried, Stop};
    ///
    /// assert_eq!(Retried::new(4, Stop::RetriesExhausted).stop(), Stop::RetriesExhausted);
    /// ```
    #[must_use]
    pub const fn stop(&self) -> Stop {
        self.stop
    }

    /// The record of a request a policy gave up on after `attempts`, when
    /// this layer spent retries on it: it retried, or its budget (the
    /// system is in retry overload) stopped it. `None` when it made one
    /// attempt for any other reason: that is not retrying, and the usual
    /// verdicts stand.
    #[cfg_attr(
        not(any(feature = "tower", feature = "reqwest-middleware")),
        allow(dead_code)
    )]
    pub(crate) fn spent(attempts: u32, stop: Stop) -> Option<Self> {
        (attempts > 1 || stop == Stop::BudgetExhausted).then(|| Self::new(attempts, stop))
    }
}

impl fmt::Display for Retried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gave up after {} attempts ({:?})",
            self.attempts, self.stop
        )
    }
}

impl StdError for Retried {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// Jittered exponential backoff: before retry `n` (from 0), a delay drawn
/// uniformly from `[d / 2, d]`, where `d = min(max_delay, min_delay × 2ⁿ)`.
///
/// # Examples
///
/// ```
/// use gateway_error::retry::ExponentialBackoff;
/// use std::time::Duration;
///
/// let backoff = ExponentialBackoff::new(Duration::from_millis(100), Duration::from_secs(1));
/// let third = backoff.delay(2);
/// assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
/// assert!(backoff.delay(30) <= Duration::from_secs(1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExponentialBackoff {
    min_delay: Duration,
    max_delay: Duration,
}

impl ExponentialBackoff {
    /// Backoff from `min_delay`, doubling up to `max_delay` (a `max_delay`
    /// below `min_delay` is raised to it).
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::ExponentialBackoff;
    /// use std::time::Duration;
    ///
    /// let backoff = ExponentialBackoff::new(Duration::from_millis(10), Duration::from_millis(10));
    /// assert!(backoff.delay(5) >= Duration::from_millis(5));
    /// ```
    #[must_use]
    pub const fn new(min_delay: Duration, max_delay: Duration) -> Self {
        let max_delay = if max_delay.as_nanos() < min_delay.as_nanos() {
            min_delay
        } else {
            max_delay
        };
        Self {
            min_delay,
            max_delay,
        }
    }

    /// The delay before retry `retry` (0 for the first retry), jittered.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::ExponentialBackoff;
    /// use std::time::Duration;
    ///
    /// let backoff = ExponentialBackoff::new(Duration::from_millis(100), Duration::from_secs(10));
    /// let first = backoff.delay(0);
    /// assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
    /// ```
    #[must_use]
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        let ceiling = self
            .min_delay
            .checked_mul(factor)
            .map_or(self.max_delay, |d| d.min(self.max_delay));
        let ceiling = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        let floor = ceiling / 2;
        let spread = ceiling - floor;
        let jitter = match spread.checked_add(1) {
            Some(range) => random() % range,
            None => random(),
        };
        Duration::from_nanos(floor + jitter)
    }
}

impl Default for ExponentialBackoff {
    /// From 100 ms up to 10 s.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::ExponentialBackoff;
    /// use std::time::Duration;
    ///
    /// assert!(ExponentialBackoff::default().delay(0) <= Duration::from_millis(100));
    /// ```
    fn default() -> Self {
        Self::new(Duration::from_millis(100), Duration::from_secs(10))
    }
}

/// A small xorshift generator per thread, seeded from the standard
/// library's random hasher keys: jitter needs spread, not secrecy.
fn random() -> u64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(RandomState::new().hash_one(0u64) | 1);
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        x
    })
}

/// A retry budget: a token bucket shared by every request of a client (its
/// clones share it), so that retries stay a fraction of the traffic.
///
/// The bucket starts full, with `max_tokens`. Each request deposits
/// `retry_ratio` of a token (up to `max_tokens`); each retry withdraws one
/// whole token, and is not made when there is none. Under a burst of
/// failures, at most `max_tokens` retries are made, then one for every
/// `1 / retry_ratio` new requests: the load on the upstream grows by at most
/// that ratio. The default is 10 tokens and a ratio of 0.2, as tower's
/// `TpsBudget` defaults to 10 retries a second plus 20 % of the requests.
///
/// # Examples
///
/// ```
/// use gateway_error::retry::Budget;
///
/// let budget = Budget::new(2, 0.5);
/// assert!(budget.withdraw());
/// assert!(budget.withdraw());
/// assert!(!budget.withdraw());
/// budget.deposit();
/// budget.deposit();
/// assert!(budget.withdraw());
/// assert!(!budget.withdraw());
/// ```
#[derive(Clone, Debug)]
pub struct Budget(Arc<Tokens>);

/// The bucket, in thousandths of a token.
#[derive(Debug)]
struct Tokens {
    balance: AtomicU64,
    max: u64,
    deposit: u64,
}

const MILLI: u64 = 1000;

impl Budget {
    /// A full bucket of `max_tokens`, refilled by `retry_ratio` of a token
    /// per request (in thousandths; a ratio that is not a positive number
    /// deposits nothing).
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::Budget;
    ///
    /// let none = Budget::new(0, 0.0);
    /// none.deposit();
    /// assert!(!none.withdraw());
    /// ```
    #[must_use]
    pub fn new(max_tokens: u32, retry_ratio: f32) -> Self {
        let max = u64::from(max_tokens) * MILLI;
        let deposit = if retry_ratio > 0.0 {
            // Float to integer casts saturate (infinity: a full bucket per
            // request); the product is positive here, NaN excluded above.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let milli = (f64::from(retry_ratio) * MILLI as f64).round() as u64;
            milli
        } else {
            0
        };
        Self(Arc::new(Tokens {
            balance: AtomicU64::new(max),
            max,
            deposit,
        }))
    }

    /// Records a request: adds `retry_ratio` of a token, up to the maximum.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::Budget;
    ///
    /// let budget = Budget::new(1, 1.0);
    /// assert!(budget.withdraw());
    /// budget.deposit();
    /// budget.deposit(); // the bucket holds one token at most
    /// assert!(budget.withdraw());
    /// assert!(!budget.withdraw());
    /// ```
    pub fn deposit(&self) {
        let tokens = &self.0;
        let _ = tokens
            .balance
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |balance| {
                Some(balance.saturating_add(tokens.deposit).min(tokens.max))
            });
    }

    /// Takes one token for a retry; `false` (and nothing taken) when the
    /// bucket holds less than one.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::Budget;
    ///
    /// let budget = Budget::new(1, 0.0);
    /// assert!(budget.withdraw());
    /// assert!(!budget.withdraw());
    /// ```
    #[must_use]
    pub fn withdraw(&self) -> bool {
        self.0
            .balance
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |balance| {
                balance.checked_sub(MILLI)
            })
            .is_ok()
    }
}

impl Default for Budget {
    /// 10 tokens, refilled by 0.2 of a token per request.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::Budget;
    ///
    /// let budget = Budget::default();
    /// assert!((0..10).all(|_| budget.withdraw()));
    /// assert!(!budget.withdraw());
    /// ```
    fn default() -> Self {
        Self::new(10, 0.2)
    }
}

/// When and whether to send a failed request again (see the
/// [module docs](self)).
///
/// Cloning is cheap; clones share the [`Budget`]. Defaults: 3 retries,
/// [`ExponentialBackoff::default`], `Retry-After` honoured up to 30 s, and
/// [`Budget::default`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use gateway_error::retry::{Budget, Decision, Failure, RetryPolicy, Stop};
/// use http::{HeaderMap, HeaderValue, Method, StatusCode};
///
/// let policy = RetryPolicy::new().with_budget(Budget::new(1, 0.0));
/// let mut headers = HeaderMap::new();
/// headers.insert("retry-after", HeaderValue::from_static("1"));
/// let failure = Failure::from_response(StatusCode::SERVICE_UNAVAILABLE, &headers, b"").expect("a failure");
/// assert_eq!(policy.decide(&Method::GET, 0, &failure), Decision::Retry(Duration::from_secs(1)));
/// // The one token is spent.
/// assert_eq!(policy.decide(&Method::GET, 0, &failure), Decision::Stop(Stop::BudgetExhausted));
/// ```
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    max_retries: u32,
    backoff: ExponentialBackoff,
    max_retry_after: Duration,
    budget: Option<Budget>,
    /// The retries made for the one request a clone drives (tower clones
    /// its policy for each request).
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    retries: u32,
}

impl Default for RetryPolicy {
    /// The same as [`RetryPolicy::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::RetryPolicy;
    ///
    /// assert_eq!(RetryPolicy::default().max_retries(), 3);
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

impl RetryPolicy {
    /// The default policy: 3 retries, backoff from 100 ms up to 10 s,
    /// `Retry-After` honoured up to 30 s, a budget of 10 tokens refilled by
    /// 0.2 per request.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::RetryPolicy;
    /// use std::time::Duration;
    ///
    /// let policy = RetryPolicy::new();
    /// assert_eq!(policy.max_retries(), 3);
    /// assert_eq!(policy.max_retry_after(), Duration::from_secs(30));
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self {
            max_retries: 3,
            backoff: ExponentialBackoff::default(),
            max_retry_after: Duration::from_secs(30),
            budget: Some(Budget::default()),
            retries: 0,
        }
    }

    /// At most `max_retries` retries per request (attempts: one more).
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::RetryPolicy;
    ///
    /// assert_eq!(RetryPolicy::new().with_max_retries(0).max_retries(), 0);
    /// ```
    #[must_use]
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// The backoff used when a failure carries no `Retry-After`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::{ExponentialBackoff, RetryPolicy};
    /// use std::time::Duration;
    ///
    /// let backoff = ExponentialBackoff::new(Duration::from_millis(10), Duration::from_millis(200));
    /// assert_eq!(RetryPolicy::new().with_backoff(backoff).backoff(), backoff);
    /// ```
    #[must_use]
    pub fn with_backoff(mut self, backoff: ExponentialBackoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The longest `Retry-After` this client waits; a longer hint makes it
    /// give up at once ([`Stop::RetryAfterTooLong`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::RetryPolicy;
    /// use std::time::Duration;
    ///
    /// let policy = RetryPolicy::new().with_max_retry_after(Duration::from_secs(10));
    /// assert_eq!(policy.max_retry_after(), Duration::from_secs(10));
    /// ```
    #[must_use]
    pub fn with_max_retry_after(mut self, max_retry_after: Duration) -> Self {
        self.max_retry_after = max_retry_after;
        self
    }

    /// The budget every clone of this policy draws its retries from.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::{Budget, RetryPolicy};
    ///
    /// let policy = RetryPolicy::new().with_budget(Budget::new(100, 0.1));
    /// assert!(policy.budget().is_some());
    /// ```
    #[must_use]
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// No budget: only the per-request bound limits retries.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::RetryPolicy;
    ///
    /// assert!(RetryPolicy::new().without_budget().budget().is_none());
    /// ```
    #[must_use]
    pub fn without_budget(mut self) -> Self {
        self.budget = None;
        self
    }

    /// The most retries per request.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::RetryPolicy;
    ///
    /// assert_eq!(RetryPolicy::new().with_max_retries(5).max_retries(), 5);
    /// ```
    #[must_use]
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The backoff used without `Retry-After`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::{ExponentialBackoff, RetryPolicy};
    ///
    /// assert_eq!(RetryPolicy::new().backoff(), ExponentialBackoff::default());
    /// ```
    #[must_use]
    pub fn backoff(&self) -> ExponentialBackoff {
        self.backoff
    }

    /// The longest `Retry-After` waited for.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::RetryPolicy;
    /// use std::time::Duration;
    ///
    /// assert_eq!(RetryPolicy::new().max_retry_after(), Duration::from_secs(30));
    /// ```
    #[must_use]
    pub fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    /// The shared budget, if any. Callers that drive their own loop
    /// [`deposit`](Budget::deposit) once per request; [`decide`](Self::decide)
    /// withdraws.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::RetryPolicy;
    ///
    /// let policy = RetryPolicy::new();
    /// if let Some(budget) = policy.budget() {
    ///     budget.deposit();
    /// }
    /// ```
    #[must_use]
    pub fn budget(&self) -> Option<&Budget> {
        self.budget.as_ref()
    }

    /// The delays this policy waits between retries when no `Retry-After`
    /// is given: one per retry, [`max_retries`](Self::max_retries) of them.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::RetryPolicy;
    ///
    /// assert_eq!(RetryPolicy::new().with_max_retries(2).backoffs().count(), 2);
    /// ```
    #[must_use]
    pub fn backoffs(&self) -> Backoffs {
        Backoffs {
            backoff: self.backoff,
            retry: 0,
            max_retries: self.max_retries,
        }
    }

    /// Decides, after a failed attempt of a `method` request that has been
    /// retried `retries` times so far, whether to send it again and after
    /// how long.
    ///
    /// In this order: a failure a retry cannot change stops
    /// ([`Stop::NotRetryable`]); so does one that may have reached the
    /// upstream when the method is not idempotent ([`Stop::NotIdempotent`]),
    /// one past the retry bound ([`Stop::RetriesExhausted`]), one whose
    /// `Retry-After` is past the maximum ([`Stop::RetryAfterTooLong`]), and
    /// one for which the budget has no token ([`Stop::BudgetExhausted`]).
    /// Otherwise the answer is to retry after `Retry-After`, or after the
    /// backoff's delay; a token is then withdrawn from the budget.
    ///
    /// With feature `tracing`, each decision is a debug event with
    /// OpenTelemetry field names:
    /// `http.request.method`, `http.request.resend_count` (`retries`),
    /// `http.response.status_code` and `error.type` of the failure (its
    /// kind, else its status code, else `_OTHER`), and
    /// either the delay in milliseconds or the reason to stop. The tower
    /// and reqwest-middleware integrations decide through this method.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::{Decision, Failure, RetryPolicy, Stop};
    /// use http::Method;
    /// use std::io;
    ///
    /// let policy = RetryPolicy::new();
    /// let refused = Failure::from_error(&io::Error::from(io::ErrorKind::ConnectionRefused));
    /// assert!(matches!(policy.decide(&Method::POST, 0, &refused), Decision::Retry(_)));
    /// let reset = Failure::from_error(&io::Error::from(io::ErrorKind::ConnectionReset));
    /// assert_eq!(policy.decide(&Method::POST, 0, &reset), Decision::Stop(Stop::NotIdempotent));
    /// assert!(matches!(policy.decide(&Method::PUT, 0, &reset), Decision::Retry(_)));
    /// ```
    #[must_use]
    pub fn decide(&self, method: &Method, retries: u32, failure: &Failure) -> Decision {
        let decision = match self.check(method, failure) {
            Err(stop) => Decision::Stop(stop),
            Ok(()) if retries >= self.max_retries => Decision::Stop(Stop::RetriesExhausted),
            Ok(()) => match self.wait(failure, self.backoff.delay(retries)) {
                Ok(delay) => Decision::Retry(delay),
                Err(stop) => Decision::Stop(stop),
            },
        };
        #[cfg(feature = "tracing")]
        trace_decision(method, retries, failure, &decision);
        decision
    }

    /// Whether the failure may be retried at all, for this method.
    fn check(&self, method: &Method, failure: &Failure) -> Result<(), Stop> {
        if !failure.is_transient() {
            return Err(Stop::NotRetryable);
        }
        if !failure.is_safe_for(method) {
            return Err(Stop::NotIdempotent);
        }
        // The gateway knew more of this request than its head tells (the
        // upstream's status, say) and said no.
        if failure.verdict == Some(false) {
            return Err(Stop::NotRetryable);
        }
        Ok(())
    }

    /// How long to wait before a retry the bound allows: the hint, or
    /// `backoff`; spends a budget token.
    fn wait(&self, failure: &Failure, backoff: Duration) -> Result<Duration, Stop> {
        let delay = match failure.retry_after {
            Some(hint) => {
                let delay = hint.delay_from(SystemTime::now());
                if delay > self.max_retry_after {
                    return Err(Stop::RetryAfterTooLong);
                }
                delay
            }
            None => backoff,
        };
        if let Some(budget) = &self.budget {
            if !budget.withdraw() {
                return Err(Stop::BudgetExhausted);
            }
        }
        Ok(delay)
    }

    /// Records a new request in the budget, if any.
    #[cfg_attr(
        not(any(feature = "tower", feature = "reqwest-middleware", feature = "backon")),
        allow(dead_code)
    )]
    fn deposit(&self) {
        if let Some(budget) = &self.budget {
            budget.deposit();
        }
    }
}

/// The delays of a [`RetryPolicy`]'s backoff, one per retry; from
/// [`RetryPolicy::backoffs`].
///
/// # Examples
///
/// ```
/// use gateway_error::retry::{ExponentialBackoff, RetryPolicy};
/// use std::time::Duration;
///
/// let policy = RetryPolicy::new()
///     .with_max_retries(3)
///     .with_backoff(ExponentialBackoff::new(Duration::from_millis(100), Duration::from_secs(1)));
/// let delays: Vec<Duration> = policy.backoffs().collect();
/// assert_eq!(delays.len(), 3);
/// assert!(delays[2] >= Duration::from_millis(200) && delays[2] <= Duration::from_millis(400));
/// ```
#[derive(Clone, Debug)]
pub struct Backoffs {
    backoff: ExponentialBackoff,
    retry: u32,
    max_retries: u32,
}

impl Iterator for Backoffs {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.retry >= self.max_retries {
            return None;
        }
        let delay = self.backoff.delay(self.retry);
        self.retry += 1;
        Some(delay)
    }
}

#[cfg(test)]
mod tests;
