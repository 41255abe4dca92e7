//! `RetryPolicy` as a `reqwest_middleware::Middleware`.

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Error, Middleware, Next, Result};

use super::{Decision, Failure, RetryPolicy};

/// Retries reqwest requests, in a `reqwest_middleware::ClientWithMiddleware`.
///
/// Unlike a strategy that sees only the outcome, this middleware sees the
/// request's method: a POST is sent again only when the failure says it
/// never reached the upstream. A failed attempt is a `reqwest` error
/// (classified as [`Failure::from_error`] does) or a response that
/// [`Failure::from_response`] calls a failure, read from its status and
/// headers only (the body stays the caller's). The wait is a
/// `tokio::time::sleep`. A request whose body cannot be cloned (a stream)
/// is sent once. Each request deposits into the policy's budget once.
///
/// # Examples
///
/// ```
/// use gateway_error::retry::RetryPolicy;
/// use reqwest_middleware::ClientBuilder;
///
/// let client = ClientBuilder::new(reqwest::Client::new())
///     .with(RetryPolicy::new())
///     .build();
/// let _pending = client.post("http://127.0.0.1:8080/orders").body("{}").send();
/// ```
#[async_trait::async_trait]
impl Middleware for RetryPolicy {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        self.deposit();
        let mut retries = 0;
        loop {
            let Some(copy) = request.try_clone() else {
                return next.run(request, extensions).await;
            };
            let result = next.clone().run(request, extensions).await;
            let failure = match &result {
                Ok(response) => {
                    match Failure::from_response(response.status(), response.headers(), b"") {
                        Some(failure) => failure,
                        None => return result,
                    }
                }
                Err(Error::Reqwest(error)) => Failure::from_error(error),
                Err(Error::Middleware(error)) => Failure::from_error(&**error),
            };
            match self.decide(copy.method(), retries, &failure) {
                Decision::Retry(delay) => {
                    drop(result);
                    tokio::time::sleep(delay).await;
                    retries += 1;
                    request = copy;
                }
                Decision::Stop(_) => return result,
            }
        }
    }
}
