//! Upstream failure classification: client errors and upstream responses
//! into the RFC 9209 kind, status and phase they stand for.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::io;

use http::header::RETRY_AFTER;
use http::{HeaderMap, StatusCode};

use crate::error::{GatewayError, Inner};
use crate::proxy_status;
use crate::registry::ProxyError;
use crate::retry_after::RetryAfter;
use crate::text::{self, MAX_NAME_LEN};

/// What the layers of a source chain say about a failure.
#[derive(Default)]
struct Facts {
    connect: bool,
    timeout: bool,
    dns: bool,
    tls_certificate: bool,
    tls: bool,
    /// A client layer said the request failed before a response head came.
    request: bool,
    /// A client layer said the failure was in reading the response body.
    body: bool,
    /// The connection ended before the message was complete.
    incomplete: bool,
    /// reqwest said reading or decoding the body failed (`Kind::Decode`;
    /// reqwest 0.13 says so for every failed `bytes`, `chunk` or `text`).
    decode: bool,
    /// hyper said reading a body from the connection failed.
    hyper_body: bool,
    /// An io error said the received bytes were malformed.
    malformed: bool,
    io: Option<ProxyError>,
    protocol: Option<ProxyError>,
    received_status: Option<StatusCode>,
}

impl Facts {
    fn gather(error: &(dyn StdError + 'static)) -> Self {
        let mut facts = Self::default();
        let mut next = Some(error);
        // Bounded: a cyclic or absurdly deep chain is cut off.
        for _ in 0..32 {
            let Some(layer) = next else { break };
            facts.read(layer);
            next = layer.source();
        }
        facts
    }

    fn read(&mut self, layer: &(dyn StdError + 'static)) {
        if let Some(io) = layer.downcast_ref::<io::Error>() {
            self.read_io(io);
        }
        #[cfg(feature = "tokio")]
        if layer.is::<tokio::time::error::Elapsed>() {
            self.timeout = true;
        }
        #[cfg(feature = "hyper")]
        self.read_hyper(layer);
        #[cfg(feature = "reqwest")]
        self.read_reqwest(layer);
        self.read_message(layer);
    }

    fn read_io(&mut self, io: &io::Error) {
        use io::ErrorKind::*;
        let kind = match io.kind() {
            ConnectionRefused => ProxyError::ConnectionRefused,
            ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof | NotConnected => {
                ProxyError::ConnectionTerminated
            }
            AddrNotAvailable | HostUnreachable | NetworkUnreachable => {
                ProxyError::DestinationIpUnroutable
            }
            TimedOut | WouldBlock => {
                self.timeout = true;
                return;
            }
            InvalidData | InvalidInput => {
                self.malformed = true;
                return;
            }
            _ => return,
        };
        self.io.get_or_insert(kind);
    }

    #[cfg(feature = "hyper")]
    fn read_hyper(&mut self, layer: &(dyn StdError + 'static)) {
        if let Some(err) = layer.downcast_ref::<hyper_util::client::legacy::Error>() {
            self.connect |= err.is_connect();
            self.request = true;
        }
        let Some(err) = layer.downcast_ref::<hyper::Error>() else {
            return;
        };
        let kind = if err.is_parse_too_large() {
            ProxyError::HttpResponseHeaderSectionSize
        } else if err.is_parse() || err.is_parse_status() {
            ProxyError::HttpProtocolError
        } else if err.is_incomplete_message() {
            self.incomplete = true;
            return;
        } else if err.is_canceled() || err.is_closed() || err.is_body_write_aborted() {
            ProxyError::ConnectionTerminated
        } else if err.is_timeout() {
            self.timeout = true;
            return;
        } else {
            // hyper has no `is_body()`; its Display for a failure while
            // reading a body is this fixed string.
            if err.to_string() == "error reading a body from connection" {
                self.hyper_body = true;
                self.body = true;
            }
            return;
        };
        self.protocol.get_or_insert(kind);
    }

    #[cfg(feature = "reqwest")]
    fn read_reqwest(&mut self, layer: &(dyn StdError + 'static)) {
        let Some(err) = layer.downcast_ref::<reqwest::Error>() else {
            return;
        };
        self.connect |= err.is_connect();
        self.timeout |= err.is_timeout();
        self.dns |= err.is_dns();
        self.request |= err.is_request();
        self.body |= err.is_body();
        self.decode |= err.is_decode();
        if let Some(status) = err.status() {
            self.received_status = Some(status);
        }
        let kind = if err.is_redirect() {
            ProxyError::HttpProtocolError
        } else {
            return;
        };
        self.protocol.get_or_insert(kind);
    }

    /// What only the message tells: DNS and TLS failures, whose error types
    /// belong to resolvers and TLS stacks this crate does not depend on.
    /// The text is only matched here, never shown to anyone.
    fn read_message(&mut self, layer: &(dyn StdError + 'static)) {
        let message = layer.to_string().to_ascii_lowercase();
        if message.starts_with("dns error")
            || message.contains("failed to lookup address")
            || message.contains("name or service not known")
            || message.contains("no such host")
        {
            self.dns = true;
        }
        if message.contains("certificate") {
            self.tls_certificate = true;
        } else if message.contains("tls")
            || message.contains("ssl")
            || message.contains("handshake")
        {
            self.tls = true;
        }
    }

    fn kind(&self) -> Option<ProxyError> {
        if self.dns {
            return Some(if self.timeout {
                ProxyError::DnsTimeout
            } else {
                ProxyError::DnsError
            });
        }
        if self.tls_certificate {
            return Some(ProxyError::TlsCertificateError);
        }
        if let Some(kind) = self.io {
            // A connection that ends while the body is read leaves the
            // response incomplete.
            if kind == ProxyError::ConnectionTerminated && self.body {
                return Some(ProxyError::HttpResponseIncomplete);
            }
            return Some(kind);
        }
        if self.timeout {
            return Some(if self.connect {
                ProxyError::ConnectionTimeout
            } else {
                ProxyError::HttpResponseTimeout
            });
        }
        if self.tls {
            return Some(ProxyError::TlsProtocolError);
        }
        if self.incomplete {
            // Closed before any response head: the connection was
            // terminated; closed inside the body: the response is incomplete.
            return Some(if self.request && !self.body {
                ProxyError::ConnectionTerminated
            } else {
                ProxyError::HttpResponseIncomplete
            });
        }
        if self.malformed {
            // hyper's HTTP/1 body decoder finds malformed bytes only in a
            // chunked framing; outside a hyper body, reqwest's decoder
            // failed on the content coding.
            if self.hyper_body {
                return Some(ProxyError::HttpResponseTransferCoding);
            }
            if self.decode {
                return Some(ProxyError::HttpResponseContentCoding);
            }
        }
        if self.body && self.protocol.is_none() {
            return Some(ProxyError::HttpResponseIncomplete);
        }
        self.protocol
    }
}

impl ProxyError {
    /// The most specific RFC 9209 kind a client error stands for, found by
    /// walking its source chain; `None` when nothing in it is recognised.
    ///
    /// Recognised: `std::io::Error` kinds (refused, reset, aborted, broken
    /// pipe, unexpected EOF, timed out, address not available, host or
    /// network unreachable); with feature `tokio`, `tokio::time::error::Elapsed`;
    /// with feature `hyper`, `hyper::Error` (parse, header section too
    /// large, incomplete message, canceled, closed) and hyper-util's client
    /// errors (connect, request); with feature `reqwest`, `reqwest::Error`
    /// (connect, timeout, DNS, request, body, decode, redirect, status); and
    /// DNS and TLS failures where the messages in the chain show them.
    ///
    /// A connection closed before the response head is
    /// `connection_terminated`; one closed inside the body is
    /// `http_response_incomplete`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error_core::ProxyError;
    /// use std::io;
    ///
    /// let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
    /// assert_eq!(ProxyError::classify(&refused), Some(ProxyError::ConnectionRefused));
    /// let other = io::Error::other("something else");
    /// assert_eq!(ProxyError::classify(&other), None);
    /// ```
    #[must_use]
    pub fn classify(error: &(dyn StdError + 'static)) -> Option<Self> {
        Facts::gather(error).kind()
    }
}

impl GatewayError {
    /// The gateway error for a failed call to `upstream`: the kind from
    /// [`ProxyError::classify`], its recommended status, and `error` kept as
    /// the source (for logs, never for clients).
    ///
    /// Unknown errors give a plain 502 without a kind. A `reqwest` status
    /// error keeps the upstream's status as `received-status`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error_core::{GatewayError, ProxyError};
    /// use std::io;
    ///
    /// let err = GatewayError::from_upstream_error("product-service", io::Error::from(io::ErrorKind::TimedOut));
    /// assert_eq!(err.status().as_u16(), 504);
    /// assert_eq!(err.kind(), Some(ProxyError::HttpResponseTimeout));
    ///
    /// let err = GatewayError::from_upstream_error("product-service", io::Error::other("??"));
    /// assert_eq!((err.status().as_u16(), err.kind()), (502, None));
    /// ```
    #[must_use]
    pub fn from_upstream_error(
        upstream: impl Into<Cow<'static, str>>,
        error: impl Into<Box<dyn StdError + Send + Sync + 'static>>,
    ) -> Self {
        Self::from_error(error).with_upstream(upstream)
    }

    /// [`from_upstream_error`](Self::from_upstream_error) for when the
    /// upstream has no name worth keeping; takes boxed errors, such as
    /// tower's `BoxError`, as they are.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error_core::{GatewayError, ProxyError};
    ///
    /// let boxed: Box<dyn std::error::Error + Send + Sync> =
    ///     Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
    /// let err = GatewayError::from_error(boxed);
    /// assert_eq!(err.kind(), Some(ProxyError::ConnectionTerminated));
    /// assert_eq!(err.upstream_name(), None);
    /// ```
    #[must_use]
    pub fn from_error(error: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        let error: Box<dyn StdError + Send + Sync + 'static> = error.into();
        let facts = Facts::gather(&*error);
        let kind = facts.kind();
        let status = kind.map_or(StatusCode::BAD_GATEWAY, ProxyError::recommended_status);
        let inner = Inner {
            kind,
            received_status: facts.received_status,
            source: Some(std::sync::Arc::from(error)),
            ..Inner::default()
        };
        Self::for_status(status, inner)
    }

    /// The gateway error for an upstream that answered with an error.
    ///
    /// An upstream 503 stays a 503 and keeps its `Retry-After`; any other
    /// status becomes a 502. Either way the upstream's status is kept as
    /// `received-status` and its `Proxy-Status` field (every field line, in
    /// order, as one list, when the lines together fit
    /// [`MAX_UPSTREAM_PROXY_STATUS_LEN`](crate::MAX_UPSTREAM_PROXY_STATUS_LEN)), so that this gateway's member is
    /// appended to its members; which of them reach clients is the
    /// [`Policy`](crate::Policy)'s choice (see
    /// [`Policy::with_upstream_names`](crate::Policy::with_upstream_names)).
    /// Nothing of the upstream's body is used.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error_core::{GatewayError, RetryAfter};
    /// use http::{HeaderMap, HeaderValue, StatusCode};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("retry-after", HeaderValue::from_static("120"));
    /// let err = GatewayError::from_upstream_response("search", StatusCode::SERVICE_UNAVAILABLE, &headers);
    /// assert_eq!(err.status().as_u16(), 503);
    /// assert_eq!(err.retry_after(), Some(RetryAfter::from_secs(120)));
    ///
    /// let err = GatewayError::from_upstream_response("search", StatusCode::INTERNAL_SERVER_ERROR, &headers);
    /// assert_eq!(err.status().as_u16(), 502);
    /// assert_eq!(err.received_status(), Some(StatusCode::INTERNAL_SERVER_ERROR));
    /// ```
    #[must_use]
    pub fn from_upstream_response(
        upstream: impl Into<Cow<'static, str>>,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> Self {
        let unavailable = status == StatusCode::SERVICE_UNAVAILABLE;
        let inner = Inner {
            upstream: Some(text::clean(upstream.into(), MAX_NAME_LEN)),
            received_status: Some(status),
            retry_after: headers
                .get(RETRY_AFTER)
                .filter(|_| unavailable)
                .and_then(|v| RetryAfter::from_header_value(v).ok()),
            upstream_proxy_status: proxy_status::upstream_field(headers),
            ..Inner::default()
        };
        let ours = if unavailable {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::BAD_GATEWAY
        };
        Self::for_status(ours, inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt;

    /// An error that wraps another, as client libraries do.
    #[derive(Debug)]
    struct Wrapped(&'static str, Box<dyn StdError + Send + Sync>);

    impl fmt::Display for Wrapped {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl StdError for Wrapped {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&*self.1)
        }
    }

    #[test]
    fn io_kinds() {
        use io::ErrorKind::*;
        let cases = [
            (ConnectionRefused, Some(ProxyError::ConnectionRefused), 502),
            (ConnectionReset, Some(ProxyError::ConnectionTerminated), 502),
            (
                ConnectionAborted,
                Some(ProxyError::ConnectionTerminated),
                502,
            ),
            (BrokenPipe, Some(ProxyError::ConnectionTerminated), 502),
            (UnexpectedEof, Some(ProxyError::ConnectionTerminated), 502),
            (TimedOut, Some(ProxyError::HttpResponseTimeout), 504),
            (
                AddrNotAvailable,
                Some(ProxyError::DestinationIpUnroutable),
                502,
            ),
            (
                HostUnreachable,
                Some(ProxyError::DestinationIpUnroutable),
                502,
            ),
            (
                NetworkUnreachable,
                Some(ProxyError::DestinationIpUnroutable),
                502,
            ),
            (PermissionDenied, None, 502),
        ];
        for (io_kind, kind, status) in cases {
            let err = GatewayError::from_upstream_error("u", io::Error::from(io_kind));
            assert_eq!(err.kind(), kind, "{io_kind:?}");
            assert_eq!(err.status().as_u16(), status, "{io_kind:?}");
        }
    }

    #[test]
    fn the_deepest_specific_cause_wins_through_wrappers() {
        let chain = Wrapped(
            "client error (Connect)",
            Box::new(Wrapped(
                "tcp connect error",
                Box::new(io::Error::from(io::ErrorKind::ConnectionRefused)),
            )),
        );
        assert_eq!(
            ProxyError::classify(&chain),
            Some(ProxyError::ConnectionRefused)
        );
    }

    #[test]
    fn dns_and_tls_from_messages() {
        let dns = Wrapped(
            "dns error",
            Box::new(io::Error::other("failed to lookup address information")),
        );
        assert_eq!(ProxyError::classify(&dns), Some(ProxyError::DnsError));
        let cert = Wrapped(
            "invalid peer certificate: UnknownIssuer",
            Box::new(fmt::Error),
        );
        assert_eq!(
            ProxyError::classify(&cert),
            Some(ProxyError::TlsCertificateError)
        );
        let tls = Wrapped("tls handshake eof", Box::new(fmt::Error));
        assert_eq!(
            ProxyError::classify(&tls),
            Some(ProxyError::TlsProtocolError)
        );
    }

    #[tokio::test]
    #[cfg(feature = "tokio")]
    async fn tokio_elapsed_is_a_response_timeout() {
        let elapsed = tokio::time::timeout(
            std::time::Duration::from_millis(1),
            std::future::pending::<()>(),
        )
        .await
        .expect_err("times out");
        let err = GatewayError::from_upstream_error("slow", elapsed);
        assert_eq!(err.status().as_u16(), 504);
        assert_eq!(err.kind(), Some(ProxyError::HttpResponseTimeout));
        assert!(!err.is_retryable(&http::Method::POST));
    }

    #[test]
    fn unknown_errors_are_a_plain_502_that_keeps_the_source() {
        let err = GatewayError::from_upstream_error("u", fmt::Error);
        assert_eq!(err.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(err.kind(), None);
        assert!(StdError::source(&err).is_some());
    }

    #[test]
    fn upstream_responses() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, http::HeaderValue::from_static("7"));
        headers.insert(
            &crate::PROXY_STATUS,
            http::HeaderValue::from_static("inner; error=connection_refused"),
        );
        let err = GatewayError::from_upstream_response("u", StatusCode::BAD_GATEWAY, &headers);
        assert_eq!(err.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(err.retry_after(), None);
        assert_eq!(err.received_status(), Some(StatusCode::BAD_GATEWAY));
        assert_eq!(
            err.upstream_proxy_status().map(|v| v.as_bytes()),
            Some(&b"inner; error=connection_refused"[..])
        );
        let err =
            GatewayError::from_upstream_response("u", StatusCode::SERVICE_UNAVAILABLE, &headers);
        assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(err.retry_after(), Some(RetryAfter::from_secs(7)));
        let err = GatewayError::from_upstream_response("u", StatusCode::GATEWAY_TIMEOUT, &headers);
        assert_eq!(err.status(), StatusCode::BAD_GATEWAY);
    }
}
