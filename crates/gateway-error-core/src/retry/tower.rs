//! `RetryPolicy` as a `tower::retry::Policy`, `Budget` as a tower budget.

use std::error::Error as StdError;

use ::tower::retry::Policy;
use ::tower::retry::budget;
use http::{Request, Response};

use super::{Budget, Decision, Failure, RetryPolicy};

/// For `http` requests through any tower HTTP client, such as hyper-util's
/// `Client`; with `tower::retry::Retry::new(policy, client)` or
/// `ServiceBuilder::new().retry(policy)`.
///
/// A failed attempt is an error (`E`, classified as
/// [`Failure::from_error`] does) or a response that
/// [`Failure::from_response`] calls a failure, read from its status and
/// headers only: a tower policy cannot read a body without buffering it, and
/// a gateway's `Proxy-Status` and `Retry-After` say what a retry needs. The
/// wait is a `tokio::time::sleep`.
///
/// Requests are cloned for each retry, so their body type must be `Clone`
/// (`http_body_util::Full<Bytes>`, `Empty`, `String`...); a streaming body
/// cannot be sent twice. Tower clones the policy for each request; the
/// clone counts that request's retries, and every clone deposits into and
/// withdraws from the same [`Budget`].
///
/// # Examples
///
/// ```
/// use gateway_error::retry::RetryPolicy;
/// use http::{Request, Response};
/// use tower::retry::Retry;
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// // Any service of `http` requests; here one that always answers 200.
/// let client = tower::service_fn(|_request: Request<String>| async {
///     Ok::<_, std::io::Error>(Response::new(String::from("ok")))
/// });
/// let response = Retry::new(RetryPolicy::new(), client)
///     .oneshot(Request::post("http://127.0.0.1:1/orders").body(String::from("{}"))?)
///     .await?;
/// assert_eq!(response.status(), 200);
/// # Ok(())
/// # }
/// ```
impl<B, ResB, E> Policy<Request<B>, Response<ResB>, E> for RetryPolicy
where
    B: Clone,
    E: StdError + 'static,
{
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        request: &mut Request<B>,
        result: &mut Result<Response<ResB>, E>,
    ) -> Option<Self::Future> {
        if self.retries == 0 {
            self.deposit();
        }
        let failure = match result {
            Ok(response) => Failure::from_response(response.status(), response.headers(), b"")?,
            Err(error) => Failure::from_error(error),
        };
        match self.decide(request.method(), self.retries, &failure) {
            Decision::Retry(delay) => {
                self.retries += 1;
                Some(tokio::time::sleep(delay))
            }
            Decision::Stop(_) => None,
        }
    }

    fn clone_request(&mut self, request: &Request<B>) -> Option<Request<B>> {
        Some(request.clone())
    }
}

/// The same token bucket, for tower's own retry policies.
///
/// # Examples
///
/// ```
/// use gateway_error::retry::Budget;
///
/// fn spend(budget: &impl tower::retry::budget::Budget) -> bool {
///     budget.withdraw()
/// }
/// assert!(spend(&Budget::new(1, 0.0)));
/// ```
impl budget::Budget for Budget {
    fn deposit(&self) {
        Budget::deposit(self);
    }

    fn withdraw(&self) -> bool {
        Budget::withdraw(self)
    }
}
