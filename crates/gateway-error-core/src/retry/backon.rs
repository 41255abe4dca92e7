//! `RetryPolicy` as a backon `BackoffBuilder`, and helpers for backon's
//! `Retryable::when` and `Retryable::adjust`.

use std::time::Duration;

use http::Method;

use super::{Backoffs, Failure, RetryPolicy};

/// backon waits this policy's jittered exponential backoff, at most
/// [`max_retries`](RetryPolicy::max_retries) times.
///
/// # Examples
///
/// ```
/// use backon::BackoffBuilder;
/// use gateway_error::retry::RetryPolicy;
///
/// assert_eq!(RetryPolicy::new().with_max_retries(2).build().count(), 2);
/// ```
impl backon::BackoffBuilder for RetryPolicy {
    type Backoff = Backoffs;

    fn build(self) -> Backoffs {
        self.backoffs()
    }
}

impl RetryPolicy {
    /// For backon's `Retryable::when`: whether a failed attempt of a
    /// `method` request may be retried at all (a failure a retry can
    /// change, and a safe one for the method). Building it starts a request:
    /// it deposits into the policy's budget.
    ///
    /// The error type `E` is anything a [`Failure`] can be made from, such
    /// as [`GatewayError`](crate::GatewayError): map a transport error with
    /// [`GatewayError::from_error`](crate::GatewayError::from_error) and an
    /// error response with [`parse`](crate::parse). With
    /// [`adjust`](Self::adjust), it gives the same decisions as
    /// [`decide`](Self::decide).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use backon::Retryable;
    /// use gateway_error::retry::RetryPolicy;
    /// use gateway_error::{GatewayError, ProxyError};
    /// use http::Method;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let policy = RetryPolicy::new().with_max_retries(2);
    /// let mut attempts = 0;
    /// let result = (|| {
    ///     attempts += 1;
    ///     // The gateway could not connect: the POST was never sent.
    ///     async { Err::<(), _>(GatewayError::from_kind("orders", ProxyError::ConnectionRefused)) }
    /// })
    /// .retry(policy.clone())
    /// .sleep(|_| async {}) // any sleeper; tokio::time::sleep in real code
    /// .when(policy.when(&Method::POST))
    /// .adjust(policy.adjust())
    /// .await;
    /// assert!(result.is_err());
    /// assert_eq!(attempts, 3);
    /// # }
    /// ```
    pub fn when<E>(&self, method: &Method) -> impl FnMut(&E) -> bool + use<E>
    where
        for<'e> Failure: From<&'e E>,
    {
        self.deposit();
        let policy = self.clone();
        let method = method.clone();
        move |error| policy.check(&method, &Failure::from(error)).is_ok()
    }

    /// For backon's `Retryable::adjust`: the wait before a retry that
    /// [`when`](Self::when) allowed. `Retry-After` when the failure carries
    /// one within the maximum, else backon's delay; `None` (give up) when
    /// the hint is past the maximum, when backon's backoff is exhausted, or
    /// when the budget is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use gateway_error::retry::RetryPolicy;
    /// use gateway_error::{GatewayError, ServiceUnavailable};
    ///
    /// let policy = RetryPolicy::new().with_max_retry_after(Duration::from_secs(10));
    /// let mut adjust = policy.adjust::<GatewayError>();
    /// let soon = GatewayError::from(ServiceUnavailable::new().with_retry_after(Duration::from_secs(1)));
    /// assert_eq!(adjust(&soon, Some(Duration::from_millis(5))), Some(Duration::from_secs(1)));
    /// let late = GatewayError::from(ServiceUnavailable::new().with_retry_after(Duration::from_secs(3600)));
    /// assert_eq!(adjust(&late, Some(Duration::from_millis(5))), None);
    /// assert_eq!(adjust(&soon, None), None);
    /// ```
    pub fn adjust<E>(&self) -> impl FnMut(&E, Option<Duration>) -> Option<Duration> + use<E>
    where
        for<'e> Failure: From<&'e E>,
    {
        let policy = self.clone();
        move |error, backoff| policy.wait(&Failure::from(error), backoff?).ok()
    }
}
