//! [`RetryPolicy`]: when and whether to send a failed request again.

use std::time::{Duration, SystemTime};

use http::Method;
#[cfg(feature = "tracing")]
use http::StatusCode;

use super::{Backoffs, Budget, Decision, ExponentialBackoff, Failure, Stop};
#[cfg(feature = "tracing")]
use crate::registry::ProxyError;

/// When and whether to send a failed request again (see the
/// [module docs](crate::retry)).
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
    pub(super) retries: u32,
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
        Backoffs::new(self.backoff, self.max_retries)
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
    pub(super) fn check(&self, method: &Method, failure: &Failure) -> Result<(), Stop> {
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
    pub(super) fn wait(&self, failure: &Failure, backoff: Duration) -> Result<Duration, Stop> {
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
    pub(super) fn deposit(&self) {
        if let Some(budget) = &self.budget {
            budget.deposit();
        }
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
