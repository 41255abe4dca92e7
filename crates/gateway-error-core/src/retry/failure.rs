//! What a failed attempt tells a retry policy: [`Failure`], from a
//! transport error, a response or a gateway error.

use std::error::Error as StdError;

use http::{HeaderMap, Method, StatusCode};

use crate::error::{GatewayError, answers_the_same_again, retry_can_help};
use crate::parse::parse;
use crate::registry::{Phase, ProxyError};
use crate::retry_after::RetryAfter;

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
    pub(super) status: Option<StatusCode>,
    pub(super) kind: Option<ProxyError>,
    pub(super) retry_after: Option<RetryAfter>,
    received_status: Option<StatusCode>,
    /// A reason beyond the kind and the status why a retry cannot help
    /// (an upstream answer that was complete but unusable, say).
    no_retry: bool,
    /// The gateway's `retryable` member, for the request it answered.
    pub(super) verdict: Option<bool>,
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
        if status == StatusCode::OK && headers.contains_key(&crate::grpc::GRPC_STATUS) {
            // A gRPC answer (Trailers-Only): a failure when its code is not
            // `OK`.
            return parse(status, headers, b"").ok().map(|err| Self::from(&err));
        }
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
    pub(super) fn is_transient(&self) -> bool {
        let status_allows = self.status.is_none_or(|status| match status.as_u16() {
            429 | 502 | 503 | 504 => true,
            // The server's own fault, unless it said when to come back.
            500 => self.retry_after.is_some(),
            _ => status.is_server_error() && !answers_the_same_again(status),
        });
        status_allows && !self.no_retry && retry_can_help(self.kind, self.received_status)
    }

    /// Whether the answer itself said not to retry: a gateway's
    /// `"retryable": false`, or a failure a policy below already gave up on.
    pub(super) fn said_no(&self) -> bool {
        self.verdict == Some(false) || self.no_retry
    }

    /// Whether sending the request again is safe (RFC 9110, section 9.2.2).
    pub(super) fn is_safe_for(&self, method: &Method) -> bool {
        self.kind.map(ProxyError::phase) == Some(Phase::NotSent)
            || method.is_idempotent()
            // The gateway that answered knew the method and what happened
            // at its hop, and said this request may be sent again (its
            // gRPC callers' code and pushback say it: every call is a POST).
            || self.verdict == Some(true)
    }
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
