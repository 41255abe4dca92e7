//! `RetryPolicy` as a `tower::retry::Policy`, `Budget` as a tower budget.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use ::tower::retry::Policy;
use ::tower::retry::budget;
use bytes::Bytes;
use http::{Request, Response};

use super::body::{BoxError, RetryBody, settle};
use super::{Budget, Decision, Failure, Retried, RetryPolicy};

/// For `http` requests through any tower HTTP client, such as hyper-util's
/// `Client`; with `tower::retry::Retry::new(policy, client)` or
/// `ServiceBuilder::new().retry(policy)`.
///
/// A failed attempt is an error (`E`, classified as
/// [`Failure::from_error`] does) or a response that
/// [`Failure::from_response`] calls a failure, read from its status and
/// headers only: a tower policy must decide before it could read a body. So
/// it cannot see a gateway's `"retryable": false` (a gateway that already
/// retried, an upstream answer that cannot be used): [`RetryLayer`] can,
/// and is the one to use in front of gateways. When it gave up after
/// retrying, the final response carries a [`Retried`] in its extensions.
/// The wait is a `tokio::time::sleep`.
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
            Decision::Stop(stop) => {
                // A response can say what the policy did (an error type
                // `E` cannot be wrapped here: `RetryLayer` does that).
                if let (Ok(response), Some(retried)) =
                    (result, Retried::spent(self.retries + 1, stop, &failure))
                {
                    response.extensions_mut().insert(retried);
                }
                None
            }
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

/// The retry policy as a tower layer over `http` clients, reading what a
/// tower [`Policy`] cannot: a gateway's verdict in a failing response's
/// body.
///
/// Each attempt is decided as [`RetryPolicy::decide`] does. When the head
/// of a failing response says a retry may help and its body may say
/// otherwise (a gateway error status, a JSON body of at most
/// [`MAX_BODY_LEN`](crate::MAX_BODY_LEN) bytes), the body is read first: a
/// gateway that already retried its upstream, or whose upstream's answer
/// could not be used, says `"retryable": false` there, and the layer stops.
/// Every byte of a body read is handed back in the [`RetryBody`].
///
/// When it gives up after retrying (or its budget stopped it), the final
/// response carries a [`Retried`] in its extensions, and the final error is
/// a [`Retried`] whose `source()` is the last attempt's error: a gateway
/// that answers with it (`ResponseExt::error_for_upstream_status`,
/// `ResultExt::upstream`) tells its own clients not to retry.
///
/// Requests are cloned for each attempt (`B: Clone`), and the service too
/// (`S: Clone`), as tower's retry does.
///
/// # Examples
///
/// ```
/// use gateway_error::retry::{RetryLayer, RetryPolicy};
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use bytes::Bytes;
/// use tower::{Layer, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// // Any service of `http` requests; here one that always answers 200.
/// let client = tower::service_fn(|_request: Request<String>| async {
///     Ok::<_, std::io::Error>(Response::new(Full::new(Bytes::from_static(b"ok"))))
/// });
/// let retrying = RetryLayer::new(RetryPolicy::new()).layer(client);
/// let response = retrying
///     .oneshot(Request::get("http://127.0.0.1:1/products/7").body(String::new())?)
///     .await?;
/// assert_eq!(response.status(), 200);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct RetryLayer {
    policy: RetryPolicy,
}

impl RetryLayer {
    /// A layer retrying under `policy`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::{RetryLayer, RetryPolicy};
    ///
    /// let layer = RetryLayer::new(RetryPolicy::new().with_max_retries(2));
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn new(policy: RetryPolicy) -> Self {
        Self { policy }
    }
}

impl<S> ::tower::Layer<S> for RetryLayer {
    type Service = RetryService<S>;

    fn layer(&self, inner: S) -> RetryService<S> {
        RetryService {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// The service of [`RetryLayer`].
///
/// # Examples
///
/// ```
/// use gateway_error::retry::{RetryLayer, RetryPolicy, RetryService};
/// use tower::Layer;
///
/// let client = tower::service_fn(|_: http::Request<String>| async {
///     Ok::<_, std::io::Error>(http::Response::new(String::new()))
/// });
/// let _service: RetryService<_> = RetryLayer::new(RetryPolicy::new()).layer(client);
/// ```
#[derive(Clone, Debug)]
pub struct RetryService<S> {
    inner: S,
    policy: RetryPolicy,
}

impl<S, B, ResB> ::tower::Service<Request<B>> for RetryService<S>
where
    S: ::tower::Service<Request<B>, Response = Response<ResB>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: Clone + Send + 'static,
    ResB: http_body::Body<Data = Bytes> + Unpin + Send + 'static,
    ResB::Error: Into<BoxError>,
{
    type Response = Response<RetryBody<ResB>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The service that was polled ready takes the first attempt.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(attempts(inner, self.policy.clone(), request))
    }
}

/// The attempts for one request, until one succeeds or the policy stops.
pub(super) async fn attempts<S, B, ResB>(
    mut inner: S,
    policy: RetryPolicy,
    mut request: Request<B>,
) -> Result<Response<RetryBody<ResB>>, BoxError>
where
    S: ::tower::Service<Request<B>, Response = Response<ResB>>,
    S::Error: Into<BoxError>,
    B: Clone,
    ResB: http_body::Body<Data = Bytes> + Unpin,
    ResB::Error: Into<BoxError>,
{
    policy.deposit();
    let mut retries = 0;
    loop {
        if retries > 0 {
            std::future::poll_fn(|cx| inner.poll_ready(cx))
                .await
                .map_err(Into::into)?;
        }
        let copy = request.clone();
        let attempt = inner.call(request).await.map_err(Into::<BoxError>::into);
        let (result, failure) = match attempt {
            Ok(response) => {
                let Some(head) = Failure::from_response(response.status(), response.headers(), b"")
                else {
                    return Ok(response.map(RetryBody::new));
                };
                // The head says a retry may do; a gateway's body may know
                // better. A body that fails to arrive is a failed attempt
                // like any other.
                match settle(&policy, copy.method(), response, head).await {
                    Ok((response, failure)) => (Ok(response), failure),
                    Err(error) => {
                        let error: BoxError = error.into();
                        let failure = Failure::from_error(&*error);
                        (Err(error), failure)
                    }
                }
            }
            Err(error) => {
                let failure = Failure::from_error(&*error);
                (Err(error), failure)
            }
        };
        match policy.decide(copy.method(), retries, &failure) {
            Decision::Retry(delay) => {
                drop(result);
                tokio::time::sleep(delay).await;
                retries += 1;
                request = copy;
            }
            Decision::Stop(stop) => {
                let Some(retried) = Retried::spent(retries + 1, stop, &failure) else {
                    return result;
                };
                return match result {
                    Ok(mut response) => {
                        response.extensions_mut().insert(retried);
                        Ok(response)
                    }
                    Err(error) => Err(Box::new(retried.with_source(error))),
                };
            }
        }
    }
}
