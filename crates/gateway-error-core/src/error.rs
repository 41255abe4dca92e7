//! The four gateway error types and the [`GatewayError`] enum.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use http::{HeaderValue, Method, StatusCode};

use crate::grpc::GrpcCode;
use crate::registry::{Phase, ProxyError};
use crate::retry_after::RetryAfter;
use crate::text::{self, MAX_DETAILS_LEN, MAX_NAME_LEN, Text};

/// A source error, shared so that errors stay `Clone`.
type Source = Arc<dyn StdError + Send + Sync + 'static>;

/// The cold fields every error type shares, boxed so the values stay small.
#[derive(Clone, Default)]
pub(crate) struct Inner {
    pub(crate) upstream: Option<Text>,
    pub(crate) details: Option<Text>,
    pub(crate) kind: Option<ProxyError>,
    pub(crate) retry_after: Option<RetryAfter>,
    pub(crate) next_hop: Option<Text>,
    pub(crate) received_status: Option<StatusCode>,
    /// The `grpc-status` a gRPC upstream answered with (see
    /// [`ResultExt::upstream`](crate::ResultExt::upstream) on a
    /// `tonic::Status`).
    pub(crate) received_grpc_status: Option<GrpcCode>,
    pub(crate) request_id: Option<Text>,
    pub(crate) upstream_proxy_status: Option<HeaderValue>,
    pub(crate) source: Option<Source>,
    /// Why a retry cannot help, when something beyond the kind and the
    /// received status says so.
    pub(crate) no_retry: Option<NoRetry>,
    /// What a response read by [`parse`](crate::parse) said: the claims of
    /// the hop that sent it. The accessors show them (a client acts on
    /// what its gateway said), but this process did not observe them: when
    /// the error is rendered again, they are never adopted as its own (see
    /// [`Inner::relayed`]).
    pub(crate) reported: Option<Reported>,
}

/// Why sending a request again cannot help, beyond what the kind and the
/// received status say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoRetry {
    /// The upstream's response was complete but unusable (a body that does
    /// not decode): the same request gets the same bytes again.
    Unusable,
    /// A gateway's answer said `"retryable": false` for this request.
    Said,
    /// This gateway's retry policy already retried the upstream (see
    /// [`Retried`](crate::retry::Retried)): retry at one layer.
    Retried,
}

/// The claims of a response that [`parse`](crate::parse) read (see
/// [`Inner::reported`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct Reported {
    pub(crate) upstream: Option<Text>,
    pub(crate) details: Option<Text>,
    pub(crate) kind: Option<ProxyError>,
    pub(crate) received_status: Option<StatusCode>,
    pub(crate) request_id: Option<Text>,
    /// The body's `retryable` member.
    pub(crate) retryable: Option<bool>,
}

/// Whether sending a request again can change how it failed, from what is
/// known beyond the status: the one rule for the `retryable` member that
/// gateways render and for the [`RetryPolicy`](crate::retry::RetryPolicy)
/// of their clients.
///
/// Not for a kind that a retry cannot change (a certificate error, a size
/// limit, a configuration error, a loop...), nor when the upstream's own
/// answer (its `received-status`) is one that the same request gets again.
pub(crate) fn retry_can_help(
    kind: Option<ProxyError>,
    received_status: Option<StatusCode>,
) -> bool {
    !kind.is_some_and(ProxyError::retry_cannot_change)
        && !received_status.is_some_and(answers_the_same_again)
}

/// Whether a status is one a retry of the same request gets again: a 4xx
/// other than 408 (Request Timeout), 421 (Misdirected Request: another
/// connection may succeed, RFC 9110 section 15.5.20), 425 (Too Early) and
/// 429 (Too Many Requests); a 500, as for the gateway's own 500 without a
/// hint; and a 501 (Not Implemented), 505 (HTTP Version Not Supported), 506
/// (Variant Also Negotiates), 508 (Loop Detected), 510 (Not Extended) or
/// 511 (Network Authentication Required). A 409 (Conflict) or 423 (Locked)
/// may pass in time, but not by resending at once: they count as coming
/// again too.
pub(crate) fn answers_the_same_again(status: StatusCode) -> bool {
    match status.as_u16() {
        408 | 421 | 425 | 429 => false,
        400..=499 | 500 | 501 | 505 | 506 | 508 | 510 | 511 => true,
        _ => false,
    }
}

impl Inner {
    /// The upstream's name: this process's, or else the one a parsed
    /// response reported.
    pub(crate) fn upstream(&self) -> Option<&str> {
        self.upstream
            .as_deref()
            .or_else(|| self.reported.as_ref()?.upstream.as_deref())
    }

    /// The details: this process's, or else the reported ones.
    pub(crate) fn details(&self) -> Option<&str> {
        self.details
            .as_deref()
            .or_else(|| self.reported.as_ref()?.details.as_deref())
    }

    /// The kind: this process's, or else the reported one.
    pub(crate) fn kind(&self) -> Option<ProxyError> {
        self.kind.or_else(|| self.reported.as_ref()?.kind)
    }

    /// The upstream's status: this process's, or else the reported one.
    pub(crate) fn received_status(&self) -> Option<StatusCode> {
        self.received_status
            .or_else(|| self.reported.as_ref()?.received_status)
    }

    /// The `grpc-status` a gRPC upstream answered with.
    pub(crate) fn received_grpc_status(&self) -> Option<GrpcCode> {
        self.received_grpc_status
    }

    /// The request id: this process's, or else the reported one.
    pub(crate) fn request_id(&self) -> Option<&str> {
        self.request_id
            .as_deref()
            .or_else(|| self.reported.as_ref()?.request_id.as_deref())
    }

    /// Why a retry cannot help, beyond the kind and the status: this
    /// process's reason, or a reported `"retryable": false`.
    fn no_retry(&self) -> Option<NoRetry> {
        self.no_retry
            .or_else(|| (self.reported.as_ref()?.retryable == Some(false)).then_some(NoRetry::Said))
    }

    /// The error this process renders for a parsed response it received
    /// with `status`: a relay, as
    /// [`GatewayError::from_upstream_response`] makes one. It says what this
    /// hop saw (it received `status`, so the request was sent), keeps the
    /// upstream's wait and its `Proxy-Status` members (forwarded under the
    /// policy), and adopts none of the response's claims: not its kind
    /// (an upstream's `connection_refused` is not ours to repeat: a client
    /// would take it as "never sent"), not its text, name or request id.
    /// A reported `"retryable": false` is kept: a stop is never lost.
    /// `None` for an error this process built itself.
    pub(crate) fn relayed(&self, status: StatusCode) -> Option<(StatusCode, Self)> {
        let reported = self.reported.as_ref()?;
        let relayed = Self {
            upstream: self.upstream.clone(),
            details: self.details.clone(),
            kind: self.kind,
            retry_after: self.retry_after,
            next_hop: self.next_hop.clone(),
            received_status: Some(status),
            received_grpc_status: self.received_grpc_status,
            request_id: self.request_id.clone(),
            upstream_proxy_status: self.upstream_proxy_status.clone(),
            source: self.source.clone(),
            no_retry: self
                .no_retry
                .or((reported.retryable == Some(false)).then_some(NoRetry::Said)),
            reported: None,
        };
        let status = match self.kind {
            Some(kind) => kind.recommended_status(),
            None => crate::classify::relay_status(status),
        };
        Some((status, relayed))
    }

    /// Whether a client may send the request again automatically, when that
    /// is known without the method or from it: only when a retry can help
    /// (see [`Inner::retry_can_help`]) and is safe.
    ///
    /// A request that never reached the upstream may be retried whatever its
    /// method; one that may have been processed only when the method is
    /// idempotent (RFC 9110 section 9.2.2).
    pub(crate) fn retryable(&self, status: StatusCode, method: Option<&Method>) -> Option<bool> {
        if !self.retry_can_help(status) {
            return Some(false);
        }
        match self.kind().map(ProxyError::phase) {
            Some(Phase::NotSent) => Some(true),
            _ => method.map(Method::is_idempotent),
        }
    }

    /// Whether sending the request again can change the outcome. A 500 is
    /// the gateway's own fault and is not worth retrying unless the caller
    /// gave a retry hint; otherwise [`retry_can_help`] decides from the kind
    /// and the upstream's own status.
    pub(crate) fn retry_can_help(&self, status: StatusCode) -> bool {
        (status != StatusCode::INTERNAL_SERVER_ERROR || self.retry_after.is_some())
            && self.no_retry().is_none()
            && retry_can_help(self.kind(), self.received_status())
            && !self
                .received_grpc_status
                .is_some_and(GrpcCode::answers_the_same_again)
    }

    /// The short message and the kind: nothing a client must not see (no
    /// upstream name, which the policy may hide; no details; no source),
    /// since frameworks show `Display` to clients on some paths (actix-web's
    /// `InternalError`, for one).
    fn fmt_display(&self, f: &mut fmt::Formatter<'_>, message: &str) -> fmt::Result {
        f.write_str(message)?;
        match self.kind() {
            Some(kind) => write!(f, " ({kind})"),
            None => Ok(()),
        }
    }

    fn fmt_debug(&self, f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
        let mut d = f.debug_struct(name);
        macro_rules! field {
            ($($field:ident),*) => {$(
                if let Some(value) = &self.$field {
                    d.field(stringify!($field), value);
                }
            )*};
        }
        field!(
            upstream,
            details,
            kind,
            retry_after,
            next_hop,
            received_status,
            received_grpc_status,
            request_id
        );
        field!(upstream_proxy_status, source, no_retry, reported);
        d.finish()
    }
}

/// Every builder and accessor of the four error types and of
/// [`GatewayError`], each written once with its docs and its example (as
/// axum-core's `__define_rejection!` writes each rejection's methods once).
///
/// `$ty` reaches its [`Inner`] through `inner` and `inner_mut` and its
/// status through `code`. The examples start from `$new`, a value of
/// `$ty`, after the imports `$use`; `$status` is the status `$new` has,
/// `$kind` a fitting RFC 9209 kind.
macro_rules! methods {
    (
        $ty:ident,
        use: $use:expr,
        new: $new:expr,
        status: $status:expr,
        status_doc: $status_doc:expr,
        kind: $kind:ident $(,)?
    ) => {
        impl $ty {
            /// Sets the upstream's name.
            ///
            /// The name is shown to clients only when the [`Policy`](crate::Policy)
            /// says so. Control characters are replaced and the name is cut to
            /// [`MAX_NAME_LEN`](crate::MAX_NAME_LEN) bytes.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $use]
            ///
            #[doc = concat!("let err = ", $new, ".with_upstream(String::from(\"inventory\"));")]
            /// assert_eq!(err.upstream_name(), Some("inventory"));
            /// ```
            #[must_use]
            pub fn with_upstream(mut self, name: impl Into<Cow<'static, str>>) -> Self {
                self.inner_mut().upstream = Some(text::clean(name.into(), MAX_NAME_LEN));
                self
            }

            /// Sets the client-facing details sentence, replacing the canonical one.
            ///
            /// This text reaches clients in every format: put nothing in it that
            /// they must not see. Control characters become spaces and the text
            /// is cut to [`MAX_DETAILS_LEN`](crate::MAX_DETAILS_LEN) bytes.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $use]
            ///
            #[doc = concat!("let err = ", $new, ".with_upstream(\"search\").with_details(\"Search is being reindexed.\");")]
            /// assert_eq!(err.details(), Some("Search is being reindexed."));
            /// ```
            #[must_use]
            pub fn with_details(mut self, details: impl Into<Cow<'static, str>>) -> Self {
                self.inner_mut().details = Some(text::clean(details.into(), MAX_DETAILS_LEN));
                self
            }

            /// Sets the RFC 9209 error type, which also decides the failure's [`Phase`].
            ///
            /// The status stays as it is; use [`GatewayError::from_kind`] for
            /// the kind's recommended status.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $use]
            /// use gateway_error::ProxyError;
            ///
            #[doc = concat!("let err = ", $new, ".with_upstream(\"db\").with_kind(ProxyError::", stringify!($kind), ");")]
            #[doc = concat!("assert_eq!(err.kind(), Some(ProxyError::", stringify!($kind), "));")]
            #[doc = concat!("assert_eq!(err.status(), ", $status, ");")]
            /// ```
            #[must_use]
            pub fn with_kind(mut self, kind: ProxyError) -> Self {
                self.inner_mut().kind = Some(kind);
                self
            }

            /// Sets the retry hint, sent as `Retry-After` and in the body.
            ///
            /// The hint says when the service expects to accept requests
            /// again (RFC 9110 section 10.2.3): JSON bodies carry it as
            /// `retry_after`, HTML and text bodies as "The service expects to
            /// accept requests again in N seconds." It is not a verdict on
            /// the request that failed: whether that one may be sent again
            /// automatically is [`is_retryable`](Self::is_retryable), and a
            /// request that must not be is still answered with the hint
            /// (a client may send new requests, or a person may decide to
            /// resend, once it has passed).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $use]
            /// use gateway_error::RetryAfter;
            /// use std::time::Duration;
            ///
            #[doc = concat!("let err = ", $new, ".with_retry_after(Duration::from_secs(30));")]
            /// assert_eq!(err.retry_after(), Some(RetryAfter::from_secs(30)));
            /// ```
            #[must_use]
            pub fn with_retry_after(mut self, retry_after: impl Into<RetryAfter>) -> Self {
                self.inner_mut().retry_after = Some(retry_after.into());
                self
            }

            /// Keeps `source` as the cause, for [`Error::source`](std::error::Error::source)
            /// and logs. No byte of it reaches a client.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $use]
            /// use std::error::Error;
            ///
            /// let io = std::io::Error::other("password=hunter2");
            #[doc = concat!("let err = ", $new, ".with_upstream(\"auth\").with_source(io);")]
            /// assert_eq!(err.source().map(ToString::to_string).as_deref(), Some("password=hunter2"));
            /// assert!(!err.to_string().contains("hunter2"));
            /// ```
            #[must_use]
            pub fn with_source(self, source: impl StdError + Send + Sync + 'static) -> Self {
                self.with_shared_source(Arc::new(source))
            }

            /// Keeps an already shared cause (see [`with_source`](Self::with_source)).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $use]
            /// use std::sync::Arc;
            ///
            /// let cause: Arc<dyn std::error::Error + Send + Sync> = Arc::new(std::fmt::Error);
            #[doc = concat!("let err = ", $new, ".with_shared_source(cause.clone());")]
            /// let kept = std::error::Error::source(&err).expect("a source");
            /// assert!(std::ptr::addr_eq(kept, &*cause));
            /// ```
            #[must_use]
            pub fn with_shared_source(mut self, source: Arc<dyn StdError + Send + Sync + 'static>) -> Self {
                self.inner_mut().source = Some(source);
                self
            }

            /// Sets the next hop (host, address or service) for `Proxy-Status`'s
            /// `next-hop`; sent only when the policy shows upstream names.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $use]
            ///
            #[doc = concat!("let err = ", $new, ".with_upstream(\"products\").with_next_hop(\"10.0.0.7:8080\");")]
            /// assert_eq!(err.next_hop(), Some("10.0.0.7:8080"));
            /// ```
            #[must_use]
            pub fn with_next_hop(mut self, next_hop: impl Into<Cow<'static, str>>) -> Self {
                self.inner_mut().next_hop = Some(text::clean(next_hop.into(), MAX_NAME_LEN));
                self
            }

            /// Sets the status the upstream answered with, for `Proxy-Status`'s
            /// `received-status`.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $use]
            /// use http::StatusCode;
            ///
            #[doc = concat!("let err = ", $new, ".with_received_status(StatusCode::SERVICE_UNAVAILABLE);")]
            /// assert_eq!(err.received_status(), Some(StatusCode::SERVICE_UNAVAILABLE));
            /// ```
            #[must_use]
            pub fn with_received_status(mut self, status: StatusCode) -> Self {
                self.inner_mut().received_status = Some(status);
                self
            }

            /// Sets the request id shown to the client (it wins over the one the
            /// render context carries). Visible ASCII only; other bytes become `_`.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $use]
            ///
            #[doc = concat!("let err = ", $new, ".with_request_id(\"req-42\");")]
            /// assert_eq!(err.request_id(), Some("req-42"));
            /// ```
            #[must_use]
            pub fn with_request_id(mut self, request_id: impl Into<Cow<'static, str>>) -> Self {
                self.inner_mut().request_id = crate::request_id::clean_request_id(request_id.into());
                self
            }

            /// Keeps the `Proxy-Status` field the upstream's response carried, so
            /// that this gateway's member is appended to it (RFC 9209 section 2).
            ///
            /// `value` is the whole field: when the response sent it as several
            /// field lines, their values joined in order with `", "`, which is
            /// one list (RFC 9110 section 5.3, RFC 8941 section 4.2);
            /// [`GatewayError::from_upstream_response`] and [`parse`](crate::parse)
            /// combine them so. A value longer than
            /// [`MAX_PROXY_STATUS_LEN`](crate::MAX_PROXY_STATUS_LEN)
            /// or not a valid list is not forwarded; which members are is the
            /// [`Policy`](crate::Policy)'s choice (see
            /// [`Policy::with_upstream_names`](crate::Policy::with_upstream_names)).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $use]
            /// use http::HeaderValue;
            ///
            #[doc = concat!("let err = ", $new, ".with_upstream(\"edge\")")]
            ///     .with_upstream_proxy_status(HeaderValue::from_static("inner-lb; error=connection_refused"));
            /// assert_eq!(err.upstream_proxy_status().map(HeaderValue::as_bytes), Some(&b"inner-lb; error=connection_refused"[..]));
            /// ```
            #[must_use]
            pub fn with_upstream_proxy_status(mut self, value: HeaderValue) -> Self {
                self.inner_mut().upstream_proxy_status = Some(value);
                self
            }

            #[doc = $status_doc]
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $use]
            ///
            #[doc = concat!("assert_eq!(", $new, ".status(), ", $status, ");")]
            /// ```
            #[must_use]
            pub const fn status(&self) -> StatusCode {
                self.code()
            }

            /// The upstream's name, if known.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $use]
            ///
            #[doc = concat!("assert_eq!(", $new, ".upstream_name(), None);")]
            #[doc = concat!("assert_eq!(", $new, ".with_upstream(\"users\").upstream_name(), Some(\"users\"));")]
            /// ```
            #[must_use]
            pub fn upstream_name(&self) -> Option<&str> {
                self.inner().upstream()
            }

            /// The client-facing details the caller set, if any.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $use]
            ///
            #[doc = concat!("assert_eq!(", $new, ".details(), None);")]
            #[doc = concat!("assert_eq!(", $new, ".with_details(\"Try the mirror.\").details(), Some(\"Try the mirror.\"));")]
            /// ```
            #[must_use]
            pub fn details(&self) -> Option<&str> {
                self.inner().details()
            }

            /// The RFC 9209 error type, if known.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $use]
            /// use gateway_error::ProxyError;
            ///
            #[doc = concat!("assert_eq!(", $new, ".kind(), None);")]
            #[doc = concat!("let err = ", $new, ".with_kind(ProxyError::DnsError);")]
            /// assert_eq!(err.kind(), Some(ProxyError::DnsError));
            /// ```
            #[must_use]
            pub fn kind(&self) -> Option<ProxyError> {
                self.inner().kind()
            }

            /// Whether the request may have reached the upstream; `None` when
            /// no kind is known.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $use]
            /// use gateway_error::{Phase, ProxyError};
            ///
            #[doc = concat!("assert_eq!(", $new, ".phase(), None);")]
            #[doc = concat!("let err = ", $new, ".with_kind(ProxyError::ConnectionRefused);")]
            /// assert_eq!(err.phase(), Some(Phase::NotSent));
            #[doc = concat!("let err = ", $new, ".with_kind(ProxyError::ConnectionReadTimeout);")]
            /// assert_eq!(err.phase(), Some(Phase::MaybeSent));
            /// ```
            #[must_use]
            pub fn phase(&self) -> Option<Phase> {
                self.inner().kind().map(ProxyError::phase)
            }

            /// The retry hint, if any.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $use]
            /// use gateway_error::RetryAfter;
            ///
            #[doc = concat!("let err = ", $new, ".with_retry_after(RetryAfter::from_secs(5));")]
            /// assert_eq!(err.retry_after(), Some(RetryAfter::from_secs(5)));
            /// ```
            #[must_use]
            pub fn retry_after(&self) -> Option<RetryAfter> {
                self.inner().retry_after
            }

            /// The next hop, if set.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $use]
            ///
            #[doc = concat!("assert_eq!(", $new, ".next_hop(), None);")]
            #[doc = concat!("assert_eq!(", $new, ".with_next_hop(\"10.1.2.3:443\").next_hop(), Some(\"10.1.2.3:443\"));")]
            /// ```
            #[must_use]
            pub fn next_hop(&self) -> Option<&str> {
                self.inner().next_hop.as_deref()
            }

            /// The status the upstream answered with, if set.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $use]
            /// use http::StatusCode;
            ///
            #[doc = concat!("assert_eq!(", $new, ".received_status(), None);")]
            #[doc = concat!("let err = ", $new, ".with_received_status(StatusCode::BAD_GATEWAY);")]
            /// assert_eq!(err.received_status(), Some(StatusCode::BAD_GATEWAY));
            /// ```
            #[must_use]
            pub fn received_status(&self) -> Option<StatusCode> {
                self.inner().received_status()
            }

            /// The request id set on the error, if any.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $use]
            ///
            #[doc = concat!("assert_eq!(", $new, ".request_id(), None);")]
            #[doc = concat!("assert_eq!(", $new, ".with_request_id(\"r-1\").request_id(), Some(\"r-1\"));")]
            /// ```
            #[must_use]
            pub fn request_id(&self) -> Option<&str> {
                self.inner().request_id()
            }

            /// The upstream's `Proxy-Status` field, if kept: all its field lines
            /// as one list value, as received (before any policy applies).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $use]
            /// use http::HeaderValue;
            ///
            #[doc = concat!("assert_eq!(", $new, ".upstream_proxy_status(), None);")]
            #[doc = concat!("let err = ", $new, ".with_upstream_proxy_status(HeaderValue::from_static(\"lb; error=dns_timeout\"));")]
            /// assert_eq!(err.upstream_proxy_status(), Some(&HeaderValue::from_static("lb; error=dns_timeout")));
            /// ```
            #[must_use]
            pub fn upstream_proxy_status(&self) -> Option<&HeaderValue> {
                self.inner().upstream_proxy_status.as_ref()
            }

            /// Whether a request with this method may be sent again
            /// automatically, by a client or an intermediary, without a
            /// person deciding to.
            ///
            /// `true` when a retry can help and is safe. It can help unless
            /// the error is a 500 without a retry hint, its kind is one a
            /// retry cannot change (a certificate error, a size limit, a
            /// configuration error, a loop...), or the upstream's own answer
            /// ([`received_status`](Self::received_status)) is one the same
            /// request gets again (a 4xx but 408, 421, 425 and 429; a 500,
            /// 501, 505, 506, 508, 510 or 511). It is safe when the request never
            /// reached the upstream, or when it may have and `method` is
            /// idempotent (RFC 9110 section 9.2.2).
            ///
            /// Rendered bodies carry it as the JSON member `retryable` and,
            /// when `false`, as a sentence in HTML and text ("Sending this
            /// request again is not expected to succeed; do not resend it
            /// automatically." or "This request may already have been
            /// processed; do not resend it automatically."). A
            /// [`RetryPolicy`](crate::retry::RetryPolicy) on the client
            /// follows the same rule. A retry hint
            /// ([`with_retry_after`](Self::with_retry_after)) says when to
            /// resend a retryable request; it does not make one retryable,
            /// except that it marks a 500 as passing.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $use]
            /// use gateway_error::ProxyError;
            /// use http::Method;
            /// use std::time::Duration;
            ///
            #[doc = concat!("let refused = ", $new, ".with_kind(ProxyError::ConnectionRefused).with_retry_after(Duration::from_secs(1));")]
            /// assert!(refused.is_retryable(&Method::POST));
            #[doc = concat!("let timed_out = ", $new, ".with_kind(ProxyError::HttpResponseTimeout).with_retry_after(Duration::from_secs(1));")]
            /// assert!(timed_out.is_retryable(&Method::GET));
            /// assert!(!timed_out.is_retryable(&Method::POST));
            #[doc = concat!("let loop_ = ", $new, ".with_kind(ProxyError::ProxyLoopDetected);")]
            /// assert!(!loop_.is_retryable(&Method::GET));
            /// ```
            #[must_use]
            pub fn is_retryable(&self, method: &Method) -> bool {
                self.inner()
                    .retryable(self.code(), Some(method))
                    .unwrap_or(false)
            }
        }

        impl StdError for $ty {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                match &self.inner().source {
                    Some(source) => Some(&**source),
                    None => None,
                }
            }
        }
    };
}

/// One of the four error types: the struct, its status, its constructors,
/// `Display`, `Debug`, and (through [`methods!`]) every builder and
/// accessor.
macro_rules! error_type {
    ($(#[$doc:meta])* $name:ident = $status:ident, $message:literal, $kind:ident) => {
        $(#[$doc])*
        #[derive(Clone, Default)]
        pub struct $name(pub(crate) Box<Inner>);

        impl $name {
            /// This type's status code.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use gateway_error::", stringify!($name), ";")]
            /// use http::StatusCode;
            ///
            #[doc = concat!("assert_eq!(", stringify!($name), "::STATUS, StatusCode::", stringify!($status), ");")]
            /// ```
            pub const STATUS: StatusCode = StatusCode::$status;

            #[doc = concat!("A `", stringify!($name), "` with nothing known about the failure yet.")]
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use gateway_error::", stringify!($name), ";")]
            ///
            #[doc = concat!("let err = ", stringify!($name), "::new();")]
            /// assert_eq!(err.upstream_name(), None);
            /// ```
            #[must_use]
            pub fn new() -> Self {
                Self::default()
            }

            #[doc = concat!("A `", stringify!($name), "` for a failure of the named upstream")]
            /// (see [`with_upstream`](Self::with_upstream)).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use gateway_error::", stringify!($name), ";")]
            ///
            #[doc = concat!("fn call() -> Result<(), ", stringify!($name), "> {")]
            #[doc = concat!("    Err(", stringify!($name), "::upstream(\"product-service\"))")]
            /// }
            /// assert_eq!(call().unwrap_err().upstream_name(), Some("product-service"));
            /// ```
            #[must_use]
            pub fn upstream(name: impl Into<Cow<'static, str>>) -> Self {
                Self::new().with_upstream(name)
            }

            fn inner(&self) -> &Inner {
                &self.0
            }

            fn inner_mut(&mut self) -> &mut Inner {
                &mut self.0
            }

            const fn code(&self) -> StatusCode {
                Self::STATUS
            }
        }

        methods! {
            $name,
            use: concat!("use gateway_error::", stringify!($name), ";"),
            new: concat!(stringify!($name), "::new()"),
            status: concat!(stringify!($name), "::STATUS"),
            status_doc: "This type's status code.",
            kind: $kind,
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt_display(f, $message)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt_debug(f, stringify!($name))
            }
        }
    };
}

/// The one list of the error types. From it come the four types (see
/// [`error_type!`]), [`GatewayError`] with a variant and a `From` for each,
/// every match over the variants, the enum's builders and accessors (see
/// [`methods!`]), [`GatewayError::ALL_STATUSES`], and `with_error_types!`,
/// which hands the list to the rest of the crate (framework impls,
/// OpenAPI docs, downcasts). A type cannot be added to one place and
/// forgotten in another, as axum-core's `__composite_rejection!` does for
/// its rejections.
///
/// Each line: the type, its status, its short `Display` message, and a
/// fitting RFC 9209 kind for its examples.
macro_rules! error_types {
    (
        $d:tt
        $(#[$meta:meta])*
        pub enum $enum:ident {
            $(
                $(#[$doc:meta])*
                $name:ident = $status:ident, $message:literal, $kind:ident;
            )+
        }
    ) => {
        $(
            error_type! { $(#[$doc])* $name = $status, $message, $kind }
        )+

        $(#[$meta])*
        pub enum $enum {
            $(
                #[doc = concat!("A [`", stringify!($name), "`] ([`", stringify!($name), "::STATUS`]).")]
                $name($name),
            )+
        }

        impl $enum {
            /// Every status of the error types, in ascending order (for the
            /// OpenAPI docs).
            #[cfg(any(feature = "utoipa", feature = "aide", test))]
            pub(crate) const ALL_STATUSES: &'static [StatusCode] =
                &ascending([$($name::STATUS),+]);

            pub(crate) fn inner(&self) -> &Inner {
                match self {
                    $(Self::$name(e) => &e.0,)+
                }
            }

            fn inner_mut(&mut self) -> &mut Inner {
                match self {
                    $(Self::$name(e) => &mut e.0,)+
                }
            }

            const fn code(&self) -> StatusCode {
                match self {
                    $(Self::$name(_) => $name::STATUS,)+
                }
            }

            /// The error type whose status is `status`; any other status
            /// gives a [`BadGateway`].
            pub(crate) fn for_status(status: StatusCode, inner: Inner) -> Self {
                let inner = Box::new(inner);
                $(
                    if status == $name::STATUS {
                        return Self::$name($name(inner));
                    }
                )+
                Self::BadGateway(BadGateway(inner))
            }
        }

        methods! {
            $enum,
            use: "use gateway_error::{BadGateway, GatewayError};",
            new: "GatewayError::from(BadGateway::new())",
            status: "BadGateway::STATUS",
            status_doc: "The status code: that of the error type it holds.",
            kind: ConnectionRefused,
        }

        impl fmt::Display for $enum {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Self::$name(e) => e.fmt(f),)+
                }
            }
        }

        impl fmt::Debug for $enum {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Self::$name(e) => e.fmt(f),)+
                }
            }
        }

        $(
            impl From<$name> for $enum {
                fn from(err: $name) -> Self {
                    Self::$name(err)
                }
            }
        )+

        /// Calls `$callback!` with `GatewayError` and the four error types,
        /// from the one list of [`error_types!`]: what every impl and every
        /// lookup over them elsewhere in the crate is written from.
        macro_rules! with_error_types {
            ($d callback:ident) => {
                $d callback! { $enum, $($name),+ }
            };
        }
    };
}

/// `statuses` in ascending order (an insertion sort: the list is short).
#[cfg(any(feature = "utoipa", feature = "aide", test))]
const fn ascending<const N: usize>(mut statuses: [StatusCode; N]) -> [StatusCode; N] {
    let mut i = 1;
    while i < N {
        let mut j = i;
        while j > 0 && statuses[j - 1].as_u16() > statuses[j].as_u16() {
            let earlier = statuses[j - 1];
            statuses[j - 1] = statuses[j];
            statuses[j] = earlier;
            j -= 1;
        }
        i += 1;
    }
    statuses
}

error_types! {
    $
    /// Any of the four gateway errors.
    ///
    /// Each error type converts into it with `From`, so `?` works in handlers
    /// returning `Result<_, GatewayError>`. Its builders and accessors are
    /// those of the four types.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::{BadGateway, GatewayError, GatewayTimeout};
    ///
    /// fn call(timed_out: bool) -> Result<(), GatewayError> {
    ///     if timed_out {
    ///         Err(GatewayTimeout::upstream("pricing"))?;
    ///     }
    ///     Err(BadGateway::upstream("pricing").into())
    /// }
    /// assert_eq!(call(true).unwrap_err().status().as_u16(), 504);
    /// assert_eq!(call(false).unwrap_err().status().as_u16(), 502);
    /// ```
    ///
    /// # Without an adapter
    ///
    /// A handler's error becomes a response through the framework's trait
    /// (`IntoResponse`, `ResponseError`, `Reply`). With the adapter for the
    /// framework around the app, it is rendered for its request: the
    /// format its `Accept` asks for, its method and request id, your
    /// policy's `Proxy-Status`. Without one it is rendered for the default
    /// context: JSON, no `Proxy-Status`, no request id. Use
    /// [`render`](crate::render) to render one yourself.
    #[non_exhaustive]
    #[derive(Clone)]
    pub enum GatewayError {
        /// 502 Bad Gateway: the upstream's response was invalid, or the
        /// connection to it was refused, reset or closed (RFC 9110 section 15.6.3).
        ///
        /// # Examples
        ///
        /// ```
        /// use gateway_error::{BadGateway, ProxyError};
        ///
        /// fn fetch_product() -> Result<String, BadGateway> {
        ///     Err(BadGateway::upstream("product-service").with_kind(ProxyError::ConnectionRefused))
        /// }
        /// let err = fetch_product().unwrap_err();
        /// assert_eq!(err.status().as_u16(), 502);
        /// assert_eq!(err.to_string(), "bad gateway (connection_refused)");
        /// ```
        BadGateway = BAD_GATEWAY, "bad gateway", ConnectionRefused;

        /// 504 Gateway Timeout: the upstream did not answer in time
        /// (RFC 9110 section 15.6.5). Not 408, which blames the client.
        ///
        /// # Examples
        ///
        /// ```
        /// use gateway_error::{GatewayTimeout, ProxyError};
        ///
        /// let err = GatewayTimeout::upstream("pricing").with_kind(ProxyError::HttpResponseTimeout);
        /// assert_eq!(err.status().as_u16(), 504);
        /// ```
        GatewayTimeout = GATEWAY_TIMEOUT, "gateway timeout", HttpResponseTimeout;

        /// 503 Service Unavailable: the upstream is down, overloaded or in
        /// maintenance, usually for a while (RFC 9110 section 15.6.4).
        ///
        /// # Examples
        ///
        /// ```
        /// use gateway_error::ServiceUnavailable;
        /// use std::time::Duration;
        ///
        /// let err = ServiceUnavailable::upstream("search").with_retry_after(Duration::from_secs(120));
        /// assert_eq!(err.status().as_u16(), 503);
        /// ```
        ServiceUnavailable = SERVICE_UNAVAILABLE, "service unavailable", DestinationUnavailable;

        /// 500 Internal Server Error, for the gateway's own faults, such as a
        /// missing route (`destination_not_found`) or a bad configuration
        /// (`proxy_configuration_error`) (RFC 9110 section 15.6.1).
        ///
        /// # Examples
        ///
        /// ```
        /// use gateway_error::{InternalServerError, ProxyError};
        ///
        /// let err = InternalServerError::new().with_kind(ProxyError::ProxyConfigurationError);
        /// assert_eq!(err.status().as_u16(), 500);
        /// ```
        InternalServerError = INTERNAL_SERVER_ERROR, "internal server error", ProxyConfigurationError;
    }
}

impl GatewayError {
    /// The error for `kind` with the status RFC 9209 recommends for it.
    ///
    /// 504 kinds give [`GatewayTimeout`], 503 kinds [`ServiceUnavailable`],
    /// 500 kinds [`InternalServerError`], and every other kind
    /// [`BadGateway`] (this crate answers with gateway errors only: the two
    /// client-error kinds, `http_request_error` and `http_request_denied`,
    /// are for `Proxy-Status` members you write yourself).
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::{GatewayError, ProxyError};
    ///
    /// let err = GatewayError::from_kind("product-service", ProxyError::ConnectionTimeout);
    /// assert_eq!(err.status().as_u16(), 504);
    /// assert_eq!(err.upstream_name(), Some("product-service"));
    /// ```
    #[must_use]
    pub fn from_kind(upstream: impl Into<Cow<'static, str>>, kind: ProxyError) -> Self {
        Self::for_status(kind.recommended_status(), Inner::default()).map(|inner| {
            inner.upstream = Some(text::clean(upstream.into(), MAX_NAME_LEN));
            inner.kind = Some(kind);
        })
    }

    /// The error as this process sends it: itself, or for an error `parse`
    /// read, the relay of it (see `Inner::relayed`), so that what is logged
    /// is what the client got.
    pub(crate) fn as_sent(&self) -> std::borrow::Cow<'_, Self> {
        match self.inner().relayed(self.status()) {
            Some((status, inner)) => std::borrow::Cow::Owned(Self::for_status(status, inner)),
            None => std::borrow::Cow::Borrowed(self),
        }
    }

    /// This error, when a retry cannot help for `reason` (the gateway's own
    /// retry policy already retried: see [`Retried`](crate::retry::Retried)).
    pub(crate) fn with_no_retry(self, reason: NoRetry) -> Self {
        self.map(|inner| inner.no_retry = Some(reason))
    }

    fn map(mut self, f: impl FnOnce(&mut Inner)) -> Self {
        f(self.inner_mut());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_traits<T: Clone + Send + Sync + 'static + StdError>() {}

    #[test]
    fn values_are_small_and_shareable() {
        assert_traits::<GatewayError>();
        assert_traits::<BadGateway>();
        assert_traits::<GatewayTimeout>();
        assert_traits::<ServiceUnavailable>();
        assert_traits::<InternalServerError>();
        assert!(size_of::<GatewayError>() <= 24);
        assert_eq!(size_of::<BadGateway>(), size_of::<usize>());
    }

    #[test]
    fn the_enum_builds_and_reads_what_each_type_does() {
        let cause: Source = Arc::new(std::fmt::Error);
        let proxy_status = HeaderValue::from_static("lb; error=dns_timeout");
        // The same calls on a type and on the enum.
        macro_rules! with_everything {
            ($err:expr) => {
                $err.with_upstream("u")
                    .with_details("d")
                    .with_kind(ProxyError::ConnectionTimeout)
                    .with_retry_after(RetryAfter::from_secs(3))
                    .with_shared_source(Arc::clone(&cause))
                    .with_next_hop("h")
                    .with_received_status(StatusCode::NOT_FOUND)
                    .with_request_id("r")
                    .with_upstream_proxy_status(proxy_status.clone())
            };
        }
        macro_rules! each {
            ($all:ident, $($ty:ident),+) => {$(
                let by_type = with_everything!($ty::new());
                let by_enum = with_everything!($all::from($ty::new()));
                assert_eq!(format!("{by_enum:?}"), format!("{by_type:?}"));
                assert_eq!(by_enum.to_string(), by_type.to_string());
                assert_eq!(by_enum.status(), $ty::STATUS);
                assert_eq!(by_type.status(), $ty::STATUS);
                for err in [by_enum.clone(), $all::from(by_type)] {
                    assert_eq!(err.upstream_name(), Some("u"));
                    assert_eq!(err.details(), Some("d"));
                    assert_eq!(err.kind(), Some(ProxyError::ConnectionTimeout));
                    assert_eq!(err.phase(), Some(Phase::NotSent));
                    assert_eq!(err.retry_after(), Some(RetryAfter::from_secs(3)));
                    assert_eq!(err.next_hop(), Some("h"));
                    assert_eq!(err.received_status(), Some(StatusCode::NOT_FOUND));
                    assert_eq!(err.request_id(), Some("r"));
                    assert_eq!(err.upstream_proxy_status(), Some(&proxy_status));
                    // A 404 from the upstream comes again.
                    assert!(!err.is_retryable(&Method::GET));
                    let source = StdError::source(&err).expect("a source");
                    assert!(std::ptr::addr_eq(source, &*cause));
                }
                let for_status = $all::for_status($ty::STATUS, Inner::default());
                assert!(matches!(for_status, $all::$ty(_)), "{for_status:?}");
            )+};
        }
        with_error_types!(each);
        assert_eq!(
            GatewayError::ALL_STATUSES
                .iter()
                .map(StatusCode::as_u16)
                .collect::<Vec<_>>(),
            [500, 502, 503, 504]
        );
        for other in [
            StatusCode::OK,
            StatusCode::NOT_FOUND,
            StatusCode::HTTP_VERSION_NOT_SUPPORTED,
        ] {
            let err = GatewayError::for_status(other, Inner::default());
            assert_eq!(err.status(), StatusCode::BAD_GATEWAY);
        }
    }

    #[test]
    fn from_kind_uses_the_recommended_status() {
        let cases = [
            (ProxyError::ConnectionTimeout, 504),
            (ProxyError::ConnectionLimitReached, 503),
            (ProxyError::ProxyConfigurationError, 500),
            (ProxyError::ConnectionRefused, 502),
            (ProxyError::HttpRequestDenied, 502),
            (ProxyError::HttpRequestError, 502),
        ];
        for (kind, status) in cases {
            let err = GatewayError::from_kind("u", kind);
            assert_eq!(err.status().as_u16(), status, "{kind}");
            assert_eq!(err.kind(), Some(kind));
        }
    }

    #[test]
    fn display_is_short_and_never_shows_the_source() {
        let err = BadGateway::upstream("product-service")
            .with_kind(ProxyError::ConnectionRefused)
            .with_details("details stay out of Display")
            .with_source(std::io::Error::other("secret token abc"));
        assert_eq!(err.to_string(), "bad gateway (connection_refused)");
        assert!(!err.to_string().contains("product-service"));
        assert_eq!(GatewayTimeout::new().to_string(), "gateway timeout");
        assert_eq!(
            ServiceUnavailable::new()
                .with_kind(ProxyError::DestinationUnavailable)
                .to_string(),
            "service unavailable (destination_unavailable)"
        );
        let source = StdError::source(&err).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("secret token abc"));
        let wrapped = GatewayError::from(err);
        assert!(StdError::source(&wrapped).is_some());
        assert!(!format!("{wrapped}").contains("secret"));
    }

    #[test]
    fn retry_safety_follows_phase_and_method() {
        let refused = GatewayError::from_kind("u", ProxyError::ConnectionRefused);
        let reset = GatewayError::from_kind("u", ProxyError::ConnectionTerminated);
        let unknown = GatewayError::from(BadGateway::new());
        let config = GatewayError::from_kind("u", ProxyError::ProxyConfigurationError);
        for method in [Method::GET, Method::POST, Method::PATCH] {
            assert!(refused.is_retryable(&method));
            assert!(!config.is_retryable(&method));
        }
        assert!(reset.is_retryable(&Method::GET));
        assert!(reset.is_retryable(&Method::DELETE));
        assert!(!reset.is_retryable(&Method::POST));
        assert!(!reset.is_retryable(&Method::PATCH));
        assert!(unknown.is_retryable(&Method::HEAD));
        assert!(!unknown.is_retryable(&Method::POST));
        let hinted = InternalServerError::new().with_retry_after(RetryAfter::from_secs(1));
        assert!(hinted.is_retryable(&Method::GET));
    }

    #[test]
    fn builders_sanitize_what_they_keep() {
        let err = BadGateway::upstream("a\r\nb")
            .with_details("x".repeat(5000))
            .with_request_id("id\u{0}1");
        assert_eq!(err.upstream_name(), Some("a  b"));
        assert_eq!(err.details().map(str::len), Some(MAX_DETAILS_LEN));
        assert_eq!(err.request_id(), Some("id_1"));
    }
}
