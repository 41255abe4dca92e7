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
//!   gateway renders its `retryable` member; a `"retryable": false` in a
//!   gateway's body (it already retried, or its upstream's answer could not
//!   be used) stops the policy too. The upstream status travels in the
//!   head only in `Proxy-Status`, so a policy that reads heads alone sees
//!   it only from gateways that name themselves.
//! - **Whether a retry is safe** (RFC 9110, section 9.2.2). A request that
//!   never reached the upstream ([`Phase::NotSent`]: refused, DNS, connect
//!   timeout...) may be sent again whatever its method; one that may have
//!   reached it only when its method is idempotent (GET, HEAD, OPTIONS,
//!   TRACE, PUT, DELETE). A failure of unknown phase counts as sent.
//! - **How long to wait.** `Retry-After` (a delay or a date) when the answer
//!   carries one, if it is within the policy's maximum; a longer hint means
//!   giving up at once rather than waiting (a hint too large to represent
//!   saturates; several field lines count as the longest). Otherwise a
//!   jittered exponential [`ExponentialBackoff`].
//! - **How often.** At most [`max_retries`](RetryPolicy::with_max_retries)
//!   retries per request, and a [`Budget`] shared by every request of a
//!   client, so that a burst of failures does not multiply the load on a
//!   struggling upstream.
//! - **At one layer.** When the policy gave up after retrying (or its budget
//!   stopped it), the integrations hand back a [`Retried`]; a gateway that
//!   answers with it tells its own clients not to retry, so that a client
//!   and a gateway that both retry do not multiply.
//!
//! The policy plugs into clients through features named after the crates:
//!
//! | feature | what |
//! |---|---|
//! | `tower` | `RetryLayer` for `http::Request<B: Clone>` over hyper-util's client and any tower HTTP client; `RetryPolicy` is also a `tower::retry::Policy` (heads only); `Budget` is a tower retry budget |
//! | `tower` and `tonic` | `GrpcRetryLayer` over a tonic client's channel: a gateway's gRPC answer read from `grpc-status` and `grpc-retry-pushback-ms` |
//! | `reqwest-middleware` | `RetryPolicy` is a `reqwest_middleware::Middleware` |
//! | `backon` | `RetryPolicy` is a backon `BackoffBuilder`; [`RetryPolicy::when`] and [`RetryPolicy::adjust`] go into backon's `Retryable::when` and `adjust` |
//!
//! `RetryLayer` and the reqwest-middleware policy decide from a response's
//! status and headers (`Retry-After`, `Proxy-Status`), and, when those say a
//! retry may help, from a failing gateway answer's JSON body too (read
//! bounded, every byte handed back to the caller), where a gateway says
//! `"retryable": false`. tower's own `Retry` with this policy must decide
//! before it could read a body: it reads heads only. Gateways that name
//! themselves in `Proxy-Status` (see
//! [`Policy::with_proxy_name`](crate::Policy::with_proxy_name)) give their
//! clients the rest of what they need in the headers.
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

mod backoff;
mod budget;
mod decision;
mod failure;
mod policy;

pub use backoff::{Backoffs, ExponentialBackoff};
pub use budget::Budget;
pub use decision::{Decision, Retried, Stop};
pub use failure::Failure;
pub use policy::RetryPolicy;

#[cfg(feature = "backon")]
mod backon;
#[cfg(any(feature = "tower", feature = "reqwest-middleware"))]
mod body;
#[cfg(all(feature = "tower", feature = "tonic"))]
mod grpc;
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
#[cfg(all(feature = "tower", feature = "tonic"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "tower", feature = "tonic"))))]
pub use grpc::{GrpcRetryLayer, GrpcRetryService};
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use tower::{RetryLayer, RetryService};

#[cfg(test)]
mod tests;
