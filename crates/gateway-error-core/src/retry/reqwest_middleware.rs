//! `RetryPolicy` as a `reqwest_middleware::Middleware`.

use http::Extensions;
use reqwest::{Request, Response, ResponseBuilderExt as _};
use reqwest_middleware::{Error, Middleware, Next, Result};

use super::body::{settle, worth_reading};
use super::{Decision, Failure, Retried, RetryPolicy, Stop};

/// Retries reqwest requests, in a `reqwest_middleware::ClientWithMiddleware`.
///
/// Unlike a strategy that sees only the outcome, this middleware sees the
/// request's method: a POST is sent again only when the failure says it
/// never reached the upstream. A failed attempt is a `reqwest` error
/// (classified as [`Failure::from_error`] does) or a response that
/// [`Failure::from_response`] calls a failure, read from its status and
/// headers, and, when those say a retry may help, from a gateway error's
/// JSON body too (at most [`MAX_BODY_LEN`](crate::MAX_BODY_LEN) bytes, read
/// before the response is handed back, with its URL, extensions and every
/// byte): a gateway that says `"retryable": false` there is not retried.
/// The wait is a `tokio::time::sleep`. A request whose body cannot be
/// cloned (a stream) is sent once. Each request deposits into the policy's
/// budget once.
///
/// When it gives up after retrying (or its budget stopped it, or the answer
/// said not to retry), the final response carries a [`Retried`] in its
/// extensions, and a final error becomes
/// `reqwest_middleware::Error::Middleware` of a [`Retried`] whose `source()`
/// is the last error (as reqwest-retry wraps its own): match on that, or
/// let `ResultExt::upstream` classify it, which reads through it.
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
            let (result, failure) = match next.clone().run(request, extensions).await {
                Ok(response) => {
                    let Some(head) =
                        Failure::from_response(response.status(), response.headers(), b"")
                    else {
                        return Ok(response);
                    };
                    // The head says a retry may do; a gateway's body may
                    // know better (it already retried, its upstream's
                    // answer was unusable). A body that fails to arrive is
                    // a failed attempt like any other.
                    match settle_response(self, copy.method(), response, head).await {
                        Ok((response, failure)) => (Ok(response), failure),
                        Err(error) => {
                            let failure = Failure::from_error(&error);
                            (Err(Error::Reqwest(error)), failure)
                        }
                    }
                }
                Err(error) => {
                    let failure = match &error {
                        Error::Reqwest(error) => Failure::from_error(error),
                        Error::Middleware(error) => Failure::from_error(&**error),
                    };
                    (Err(error), failure)
                }
            };
            match self.decide(copy.method(), retries, &failure) {
                Decision::Retry(delay) => {
                    drop(result);
                    tokio::time::sleep(delay).await;
                    retries += 1;
                    request = copy;
                }
                Decision::Stop(stop) => return gave_up(result, retries + 1, stop, &failure),
            }
        }
    }
}

/// The final result, saying what the policy did when it spent retries on
/// the request (see [`Retried`]): in the response's extensions, or as the
/// error wrapping the last one (a `reqwest_middleware::Error::Middleware`,
/// as reqwest-retry hands back its `RetryError`).
fn gave_up(
    result: Result<Response>,
    attempts: u32,
    stop: Stop,
    last: &Failure,
) -> Result<Response> {
    let Some(retried) = Retried::spent(attempts, stop, last) else {
        return result;
    };
    match result {
        Ok(mut response) => {
            response.extensions_mut().insert(retried);
            Ok(response)
        }
        Err(error) => Err(Error::middleware(retried.with_source(error))),
    }
}

/// [`settle`] for a reqwest response, which goes through `http` and back:
/// status, version, headers, extensions, URL and every byte are kept.
async fn settle_response(
    policy: &RetryPolicy,
    method: &http::Method,
    response: Response,
    head: Failure,
) -> std::result::Result<(Response, Failure), reqwest::Error> {
    // Through `http` only when the body is worth reading.
    if !worth_reading(policy, method, &head, response.status(), response.headers()) {
        return Ok((response, head));
    }
    let url = response.url().clone();
    let response = http::Response::<reqwest::Body>::from(response);
    let (response, failure) = settle(policy, method, response, head).await?;
    let (mut parts, body) = response.into_parts();
    // reqwest keeps a response's URL in an extension only its builder
    // extension sets.
    if let Ok(marker) = http::Response::builder().url(url).body(()) {
        parts.extensions.extend(marker.into_parts().0.extensions);
    }
    let body = reqwest::Body::wrap(body);
    Ok((
        Response::from(http::Response::from_parts(parts, body)),
        failure,
    ))
}
