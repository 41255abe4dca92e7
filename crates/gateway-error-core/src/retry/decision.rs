//! What a policy decides after a failed attempt ([`Decision`], [`Stop`]),
//! and the record of what it did for a request ([`Retried`]).

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::Failure;
use crate::error::NoRetry;

#[cfg(all(doc, feature = "tower"))]
use super::RetryLayer;
#[cfg(doc)]
use super::{Budget, RetryPolicy};
#[cfg(doc)]
use crate::GatewayError;

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
/// than one attempt), their [`Budget`] stopped them, or the last answer
/// itself said `"retryable": false` (so that a "no" travels on, hop by
/// hop): in the final response's extensions, or as the final error, whose
/// `source()` is the last attempt's error.
/// [`ResultExt::upstream`](crate::ResultExt::upstream),
/// [`ResponseExt::error_for_upstream_status`](crate::ResponseExt::error_for_upstream_status)
/// and [`GatewayError::from_error`] find it there, by type: the gateway
/// error then renders `"retryable": false`, which the client policies
/// honour; its text says "This gateway already retried the request; do not
/// resend it automatically." (the HTML page: "This site already tried again
/// for you") when this layer retried or ran out of budget. With backon,
/// which hands back only your error, make the record yourself: wrap the
/// final error in `Retried::new(attempts, stop).with_source(error)`.
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
    /// its answer must tell the next client up not to retry: this layer
    /// retried, or its budget (the system is in retry overload) stopped it,
    /// or the last answer itself said `"retryable": false` (a gateway below
    /// already retried, or knows a retry cannot help: the "no" travels on,
    /// hop by hop). `None` when it made one attempt for any other reason:
    /// the usual verdicts stand.
    #[cfg_attr(
        not(any(feature = "tower", feature = "reqwest-middleware")),
        allow(dead_code)
    )]
    pub(crate) fn spent(attempts: u32, stop: Stop, last: &Failure) -> Option<Self> {
        (attempts > 1 || stop == Stop::BudgetExhausted || last.said_no())
            .then(|| Self::new(attempts, stop))
    }

    /// What a gateway error made from this record says: "already retried"
    /// when this layer retried or ran out of budget, else only that a retry
    /// cannot help (a "no" from below, relayed).
    pub(crate) fn no_retry(&self) -> NoRetry {
        if self.attempts > 1 || self.stop == Stop::BudgetExhausted {
            NoRetry::Retried
        } else {
            NoRetry::Said
        }
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
