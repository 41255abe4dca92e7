//! Upstream failure classification: client errors and upstream responses
//! into the RFC 9209 kind, status and phase they stand for.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::io;

use http::{HeaderMap, StatusCode};

use crate::error::{GatewayError, Inner, NoRetry};
use crate::proxy_status;
use crate::registry::{Phase, ProxyError};
use crate::retry_after;
use crate::text::{self, MAX_NAME_LEN};

/// What the layers of a source chain say about a failure, read from their
/// types alone: no layer's text is read (reqwest's and hyper-util's texts
/// carry the request's URL, and io and TLS messages can carry bytes an
/// upstream sent).
#[derive(Default)]
struct Facts {
    /// A client layer said the failure was in connecting.
    connect: bool,
    /// A client layer said the connection was established when it failed
    /// (hyper reported it, hyper-util failed after connecting, or a body or
    /// status was read): the request may have been sent, so no kind of the
    /// not-sent phase that only the connect can produce (DNS, a rejected
    /// certificate) may stand.
    established: bool,
    timeout: bool,
    /// reqwest said name resolution failed.
    dns: bool,
    /// A TLS stack's error type said the handshake failed, and how.
    tls: Option<ProxyError>,
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
    /// serde_json failed on a body it was given whole (a syntax error, a
    /// shape that does not match, a document that ends early): the
    /// response was complete but unusable, and the same request gets the
    /// same bytes again. A body cut short by the connection fails in the
    /// client's body read instead, before serde_json sees it.
    unusable: bool,
    /// What a retry policy below said when it gave up
    /// ([`Retried`](crate::retry::Retried) in the chain).
    retried: Option<NoRetry>,
    io: Option<ProxyError>,
    protocol: Option<ProxyError>,
    received_status: Option<StatusCode>,
    /// A gRPC upstream's answer: a `tonic::Status` tonic read from its
    /// response, not one it made of a transport error.
    #[cfg(feature = "tonic")]
    grpc: Option<crate::grpc::Answer>,
}

/// The error a layer wraps whose `source()` skips it: reqwest-middleware's
/// error is transparent (its `source()` is the wrapped error's source), so
/// the `reqwest::Error` or the middleware's own error (a
/// [`Retried`](crate::retry::Retried)) would go unread.
#[cfg_attr(not(feature = "reqwest-middleware"), allow(unused_variables))]
fn wrapped<'a>(layer: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    #[cfg(feature = "reqwest-middleware")]
    if let Some(error) = layer.downcast_ref::<reqwest_middleware::Error>() {
        return Some(match error {
            reqwest_middleware::Error::Reqwest(error) => error,
            reqwest_middleware::Error::Middleware(error) => error.as_ref(),
        });
    }
    None
}

impl Facts {
    fn gather(error: &(dyn StdError + 'static)) -> Self {
        let mut facts = Self::default();
        let mut next = Some(error);
        // Bounded: a cyclic or absurdly deep chain is cut off.
        for _ in 0..32 {
            let Some(layer) = next else { break };
            facts.read(layer);
            next = match layer.downcast_ref::<io::Error>() {
                // An io error's `source()` skips the error it wraps (and
                // gives that error's source): step into the wrapped error
                // itself, so that its type is read too (tokio-rustls puts
                // `rustls::Error` there), then on to its source.
                Some(io) => match io.get_ref() {
                    Some(inner) => Some(inner as &(dyn StdError + 'static)),
                    None => layer.source(),
                },
                None => wrapped(layer).or_else(|| layer.source()),
            };
        }
        facts
    }

    fn read(&mut self, layer: &(dyn StdError + 'static)) {
        if let Some(io) = layer.downcast_ref::<io::Error>() {
            self.read_io(io);
        }
        if let Some(json) = layer.downcast_ref::<serde_json::Error>() {
            // An `Io` category is a failed read, not a failed decode.
            self.unusable |= !json.is_io();
        }
        if let Some(retried) = layer.downcast_ref::<crate::retry::Retried>() {
            self.retried.get_or_insert(retried.no_retry());
        }
        #[cfg(feature = "tokio")]
        if layer.is::<tokio::time::error::Elapsed>() {
            self.timeout = true;
        }
        #[cfg(feature = "hyper")]
        self.read_hyper(layer);
        #[cfg(feature = "reqwest")]
        self.read_reqwest(layer);
        #[cfg(feature = "rustls")]
        self.read_rustls(layer);
        #[cfg(feature = "tonic")]
        self.read_tonic(layer);
    }

    /// tonic's own errors: its timeout, a failed connect, and a `Status`
    /// that is an upstream's answer.
    #[cfg(feature = "tonic")]
    fn read_tonic(&mut self, layer: &(dyn StdError + 'static)) {
        if layer.is::<tonic::TimeoutExpired>() {
            self.timeout = true;
        }
        if layer.is::<tonic::ConnectError>() {
            self.connect = true;
        }
        if self.grpc.is_none() {
            self.grpc = crate::grpc::Answer::of(layer);
        }
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
            let connect = err.is_connect();
            self.connect |= connect;
            self.established |= !connect;
            self.request = true;
        }
        let Some(err) = layer.downcast_ref::<hyper::Error>() else {
            return;
        };
        // hyper's client errors come from a connection it holds: whatever
        // failed, the connect had succeeded.
        self.established = true;
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
            // hyper has no `is_body()`. Its Display is a `&'static str`
            // that hyper picks by the error's kind (it never shows the
            // cause, a URL or received bytes): for a failure while reading
            // a body it is this fixed string. This compares hyper's own
            // constant, on a value already known by type to be a
            // `hyper::Error`; and it can only place the failure later (in
            // the body), never earlier.
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
        self.established |= err.is_body() || err.is_decode() || err.is_status();
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

    /// rustls's error, as tokio-rustls (and so reqwest's and hyper-rustls's
    /// connectors) wrap it in an `io::Error`.
    #[cfg(feature = "rustls")]
    fn read_rustls(&mut self, layer: &(dyn StdError + 'static)) {
        let Some(err) = layer.downcast_ref::<rustls::Error>() else {
            return;
        };
        let kind = match err {
            rustls::Error::InvalidCertificate(_)
            | rustls::Error::InvalidCertRevocationList(_)
            | rustls::Error::NoCertificatesPresented
            | rustls::Error::UnsupportedNameType => ProxyError::TlsCertificateError,
            rustls::Error::AlertReceived(_) => ProxyError::TlsAlertReceived,
            _ => ProxyError::TlsProtocolError,
        };
        self.tls.get_or_insert(kind);
    }

    /// Why a retry cannot help beyond the kind: a complete answer that was
    /// unusable (and nothing says the connection failed as well).
    fn no_retry(&self) -> Option<NoRetry> {
        if self.retried.is_some() {
            return self.retried;
        }
        (self.unusable && self.io.is_none() && !self.incomplete && !self.timeout)
            .then_some(NoRetry::Unusable)
    }

    fn kind(&self) -> Option<ProxyError> {
        // Resolution and the TLS handshake belong to the connect: once a
        // client layer shows the connection was established, neither may
        // place the failure before the request was sent.
        if self.dns && !self.established {
            return Some(if self.timeout {
                ProxyError::DnsTimeout
            } else {
                ProxyError::DnsError
            });
        }
        if let Some(tls) = self.tls {
            if !self.established {
                return Some(tls);
            }
        }
        if let Some(kind) = self.io {
            // An io kind says how a connection failed, not when: Linux
            // reports ECONNREFUSED, EHOSTUNREACH and ENETUNREACH from
            // `recv` on a connection that is already established (an ICMP
            // error after the request was written). Once a client layer
            // shows the connection was established, no io kind places the
            // failure before the request was sent: it is a connection that
            // ended, before the response or inside its body.
            let ended = kind == ProxyError::ConnectionTerminated
                || (self.established && kind.phase() == Phase::NotSent);
            if ended {
                return Some(if self.body {
                    ProxyError::HttpResponseIncomplete
                } else {
                    ProxyError::ConnectionTerminated
                });
            }
            return Some(kind);
        }
        if self.timeout {
            return Some(if self.connect && !self.established {
                ProxyError::ConnectionTimeout
            } else {
                ProxyError::HttpResponseTimeout
            });
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
        if self.tls.is_some() {
            // A TLS failure on an established connection (a record that
            // does not decrypt, an alert mid-stream): the request may have
            // been sent.
            return Some(ProxyError::TlsProtocolError);
        }
        self.protocol
    }

    /// The kind, and a `tracing` debug event when nothing in the chain was
    /// recognised (nothing of the chain's text goes into it).
    fn decide(&self, error: &(dyn StdError + 'static)) -> Option<ProxyError> {
        let kind = self.kind();
        #[cfg(feature = "tracing")]
        if kind.is_none() && self.received_status.is_none() {
            let layers = std::iter::successors(Some(error), |&layer| layer.source())
                .take(32)
                .count();
            tracing::debug!(
                layers,
                feature_reqwest = cfg!(feature = "reqwest"),
                feature_hyper = cfg!(feature = "hyper"),
                feature_tokio = cfg!(feature = "tokio"),
                feature_rustls = cfg!(feature = "rustls"),
                "upstream error not classified: a plain 502 without a kind; \
                 enable the feature of the client library that made it"
            );
        }
        #[cfg(not(feature = "tracing"))]
        let _ = error;
        kind
    }
}

/// What a client error says about a retry, from its types: the kind, and
/// whether a retry cannot help beyond what the kind says.
pub(crate) fn retry_facts(error: &(dyn StdError + 'static)) -> (Option<ProxyError>, bool) {
    let facts = Facts::gather(error);
    (facts.decide(error), facts.no_retry().is_some())
}

impl ProxyError {
    /// The most specific RFC 9209 kind a client error stands for, found by
    /// walking its source chain; `None` when nothing in it is recognised.
    ///
    /// The kind is decided from the types in the chain alone, never from
    /// their text: a URL (which reqwest's and hyper-util's messages carry),
    /// a query or an upstream's bytes cannot change it. What each feature
    /// lets it recognise:
    ///
    /// - always: `std::io::Error` kinds anywhere in the chain, including
    ///   inside other crates' errors (refused, reset, aborted, broken pipe,
    ///   unexpected EOF, timed out, address not available, host or network
    ///   unreachable). A reqwest or hyper-util refused or reset connection is
    ///   recognised without any feature.
    /// - `tokio`: `tokio::time::error::Elapsed` (a response timeout).
    /// - `hyper`: `hyper::Error` (parse, header section too large,
    ///   incomplete message, canceled, closed, timeout, body) and
    ///   hyper-util's legacy client errors (connect or after connect).
    /// - `reqwest`: `reqwest::Error` (connect, timeout, DNS, body, decode,
    ///   redirect, status). Without it a reqwest timeout (reqwest's own
    ///   timer, whose error type is private to reqwest) or DNS failure is not
    ///   recognised: turn it on when the client is reqwest.
    /// - `rustls`: `rustls::Error` in a TLS connect (certificate errors are
    ///   `tls_certificate_error`, a received alert `tls_alert_received`,
    ///   anything else `tls_protocol_error`).
    ///
    /// DNS failures are recognised only through reqwest (hyper-util's
    /// resolver errors have no public type), and native-tls errors not at
    /// all (their types are the platform's TLS library's); those chains
    /// fall back on what their io, hyper and reqwest layers say. Once a
    /// layer shows the connection was established (hyper reported the
    /// failure, or a body or status was read), no kind that places the
    /// failure before the request was sent is given, for DNS, TLS or an io
    /// kind (Linux reports `ECONNREFUSED` and `EHOSTUNREACH` from `recv` on
    /// an established connection: that is `connection_terminated`). A bare
    /// io error with no such layer (your own socket code, or a client
    /// whose feature is off) is read by its kind alone.
    ///
    /// A connection closed before the response head is
    /// `connection_terminated`; one closed inside the body is
    /// `http_response_incomplete`. With feature `tracing`, a chain that
    /// nothing recognises is logged at debug level (the number of layers and
    /// which features are on; none of the chain's text).
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::ProxyError;
    /// use std::io;
    ///
    /// let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
    /// assert_eq!(ProxyError::classify(&refused), Some(ProxyError::ConnectionRefused));
    /// let other = io::Error::other("something else");
    /// assert_eq!(ProxyError::classify(&other), None);
    /// ```
    #[must_use]
    pub fn classify(error: &(dyn StdError + 'static)) -> Option<Self> {
        Facts::gather(error).decide(error)
    }
}

impl GatewayError {
    /// The gateway error for a failed call to `upstream`: the kind from
    /// [`ProxyError::classify`], its recommended status, and `error` kept as
    /// the source (for logs, never for clients).
    ///
    /// What is recognised, and which features (`reqwest`, `hyper`, `tokio`,
    /// `rustls`) widen it, is listed on [`ProxyError::classify`]; the kind
    /// comes from the chain's types, never from its text. Unknown errors
    /// give a plain 502 without a kind (logged at debug level with feature
    /// `tracing`). With feature `reqwest`, a `reqwest` status error keeps
    /// the upstream's status as `received-status`, and a reqwest timeout is
    /// a 504.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::{GatewayError, ProxyError};
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
    /// use gateway_error::{GatewayError, ProxyError};
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
        let kind = facts.decide(&*error);
        let status = kind.map_or(StatusCode::BAD_GATEWAY, ProxyError::recommended_status);
        #[cfg_attr(not(feature = "tonic"), allow(unused_mut))]
        let mut inner = Inner {
            kind,
            received_status: facts.received_status,
            no_retry: facts.no_retry(),
            source: Some(std::sync::Arc::from(error)),
            ..Inner::default()
        };
        #[cfg(feature = "tonic")]
        if let (None, Some(answer)) = (kind, &facts.grpc) {
            // A gRPC upstream answered: relayed as an HTTP upstream's
            // status is (see `from_upstream_response`), its wait kept.
            inner.received_grpc_status = Some(answer.code);
            inner.retry_after = answer.retry_after;
            if answer.said_no {
                inner.no_retry = Some(NoRetry::Said);
            }
            return Self::for_status(crate::grpc::relay_status(answer.code), inner);
        }
        Self::for_status(status, inner)
    }

    /// The gateway error for an upstream that answered with an error.
    ///
    /// An upstream 503 stays a 503, an upstream 429 (Too Many Requests)
    /// becomes a 503, and any other status a 502. The upstream's
    /// `Retry-After` is kept whatever the status (read as
    /// [`parse`](crate::parse) reads it: several field lines count as the
    /// longest wait, a delay too large to represent saturates), so that an
    /// upstream's "wait" always reaches the client. Why 503 for a 429: the
    /// upstream limits this gateway, which serves many clients, so to this
    /// client it is a service that is unavailable for now (RFC 9110 section
    /// 15.6.4), not a "you sent too many requests" (RFC 6585 section 4) it
    /// could act on alone; a 503 with `Retry-After` is what every retry
    /// client honours, and `received-status=429` in `Proxy-Status` keeps
    /// the fact. Either way the upstream's status is kept as
    /// `received-status` and its `Proxy-Status` field (every field line, in
    /// order, as one list, when the lines together fit
    /// [`MAX_PROXY_STATUS_LEN`](crate::MAX_PROXY_STATUS_LEN)), so that this gateway's member is
    /// appended to its members; which of them reach clients is the
    /// [`Policy`](crate::Policy)'s choice (see
    /// [`Policy::with_upstream_names`](crate::Policy::with_upstream_names)).
    /// Nothing of the upstream's body is used.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::{GatewayError, RetryAfter};
    /// use http::{HeaderMap, HeaderValue, StatusCode};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("retry-after", HeaderValue::from_static("120"));
    /// let err = GatewayError::from_upstream_response("search", StatusCode::SERVICE_UNAVAILABLE, &headers);
    /// assert_eq!(err.status().as_u16(), 503);
    /// assert_eq!(err.retry_after(), Some(RetryAfter::from_secs(120)));
    ///
    /// let err = GatewayError::from_upstream_response("search", StatusCode::TOO_MANY_REQUESTS, &headers);
    /// assert_eq!(err.status().as_u16(), 503);
    /// assert_eq!(err.retry_after(), Some(RetryAfter::from_secs(120)));
    /// assert_eq!(err.received_status(), Some(StatusCode::TOO_MANY_REQUESTS));
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
        Self::relay(Some(upstream.into()), status, headers)
    }

    /// [`from_upstream_response`](Self::from_upstream_response), with the
    /// upstream's name or without one.
    pub(crate) fn relay(
        upstream: Option<Cow<'static, str>>,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> Self {
        let inner = Inner {
            upstream: upstream.map(|name| text::clean(name, MAX_NAME_LEN)),
            received_status: Some(status),
            retry_after: retry_after::from_headers(headers),
            upstream_proxy_status: proxy_status::upstream_field(headers),
            ..Inner::default()
        };
        Self::for_status(relay_status(status), inner)
    }
}

/// The status a gateway answers with for an upstream's error status: 503
/// for an upstream 503 or 429 (see
/// [`GatewayError::from_upstream_response`]), 502 for any other.
pub(crate) fn relay_status(received: StatusCode) -> StatusCode {
    match received {
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::BAD_GATEWAY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry_after::RetryAfter;
    use http::header::RETRY_AFTER;
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

    /// Words a URL, a query or an upstream can put into an error's text.
    const UNTRUSTED_WORDS: [&str; 8] = [
        "dns error",
        "failed to lookup address information",
        "no such host",
        "invalid peer certificate: UnknownIssuer",
        "certificate",
        "tls handshake eof",
        "ssl",
        "handshake",
    ];

    #[test]
    fn text_in_the_chain_never_decides() {
        for words in UNTRUSTED_WORDS {
            // Nothing typed: nothing recognised, whatever the text says.
            let alone = Wrapped(words, Box::new(io::Error::other(words)));
            assert_eq!(ProxyError::classify(&alone), None, "{words}");
            // A typed fact decides; the text cannot move it to the
            // not-sent phase.
            let timeout = Wrapped(
                words,
                Box::new(io::Error::new(io::ErrorKind::TimedOut, words)),
            );
            assert_eq!(
                ProxyError::classify(&timeout),
                Some(ProxyError::HttpResponseTimeout),
                "{words}"
            );
            let reset = Wrapped(
                words,
                Box::new(io::Error::new(io::ErrorKind::ConnectionReset, words)),
            );
            let err = GatewayError::from_upstream_error("u", reset);
            assert_eq!(
                err.kind(),
                Some(ProxyError::ConnectionTerminated),
                "{words}"
            );
            assert!(!err.is_retryable(&http::Method::POST), "{words}");
        }
    }

    #[test]
    fn an_io_error_is_read_through_to_the_error_it_wraps() {
        // `io::Error::source` skips the wrapped error; the walk does not.
        let inner = io::Error::new(
            io::ErrorKind::InvalidData,
            io::Error::from(io::ErrorKind::ConnectionRefused),
        );
        let chain = Wrapped("client error (Connect)", Box::new(inner));
        assert_eq!(
            ProxyError::classify(&chain),
            Some(ProxyError::ConnectionRefused)
        );
    }

    #[test]
    fn no_io_kind_places_a_failure_before_an_established_connection() {
        use io::ErrorKind::*;
        let io_kinds = [
            ConnectionRefused,
            ConnectionReset,
            ConnectionAborted,
            BrokenPipe,
            UnexpectedEof,
            NotConnected,
            AddrNotAvailable,
            HostUnreachable,
            NetworkUnreachable,
        ];
        for io_kind in io_kinds {
            let mut alone = Facts::default();
            alone.read_io(&io::Error::from(io_kind));
            let kind = alone.kind().expect("a kind");
            // Established before the response: the connection ended.
            let established = Facts {
                established: true,
                ..Facts::gather(&io::Error::from(io_kind))
            };
            let want = if kind.phase() == Phase::NotSent {
                ProxyError::ConnectionTerminated
            } else {
                kind
            };
            assert_eq!(established.kind(), Some(want), "{io_kind:?}");
            // Inside the body: the response is incomplete.
            let in_body = Facts {
                established: true,
                body: true,
                ..Facts::gather(&io::Error::from(io_kind))
            };
            assert_eq!(
                in_body.kind(),
                Some(ProxyError::HttpResponseIncomplete),
                "{io_kind:?}"
            );
        }
        // Whatever kind an io layer gives, once the connection is known to
        // be established the failure is never in the not-sent phase.
        for &kind in <ProxyError as strum::VariantArray>::VARIANTS {
            let facts = Facts {
                io: Some(kind),
                established: true,
                ..Facts::default()
            };
            assert_ne!(
                facts.kind().map(ProxyError::phase),
                Some(Phase::NotSent),
                "{kind}"
            );
        }
    }

    #[test]
    fn dns_and_tls_never_stand_once_the_connection_was_established() {
        let facts = Facts {
            dns: true,
            tls: Some(ProxyError::TlsCertificateError),
            established: true,
            ..Facts::default()
        };
        assert_eq!(facts.kind(), Some(ProxyError::TlsProtocolError));
        let facts = Facts {
            dns: true,
            established: true,
            ..Facts::default()
        };
        assert_eq!(facts.kind(), None);
        let facts = Facts {
            timeout: true,
            connect: true,
            established: true,
            ..Facts::default()
        };
        assert_eq!(facts.kind(), Some(ProxyError::HttpResponseTimeout));
    }

    /// rustls's errors as tokio-rustls hands them to a connector: inside an
    /// `io::Error` of kind `InvalidData`, under the connector's wrappers.
    #[cfg(feature = "rustls")]
    #[test]
    fn rustls_errors_by_type() {
        use rustls::{AlertDescription, CertificateError, PeerMisbehaved};
        let cases = [
            (
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
                ProxyError::TlsCertificateError,
            ),
            (
                rustls::Error::InvalidCertificate(CertificateError::Expired),
                ProxyError::TlsCertificateError,
            ),
            (
                rustls::Error::NoCertificatesPresented,
                ProxyError::TlsCertificateError,
            ),
            (
                rustls::Error::AlertReceived(AlertDescription::HandshakeFailure),
                ProxyError::TlsAlertReceived,
            ),
            (
                rustls::Error::PeerMisbehaved(PeerMisbehaved::TooMuchEarlyDataReceived),
                ProxyError::TlsProtocolError,
            ),
            (
                rustls::Error::General("certificate dns error".into()),
                ProxyError::TlsProtocolError,
            ),
        ];
        for (tls, kind) in cases {
            let what = format!("{tls:?}");
            // Text that says otherwise changes nothing.
            let chain = Wrapped(
                "https://h/no-such-host/dns error/ssl",
                Box::new(Wrapped(
                    "tcp connect error",
                    Box::new(io::Error::new(io::ErrorKind::InvalidData, tls)),
                )),
            );
            let err = GatewayError::from_upstream_error("u", chain);
            assert_eq!(err.kind(), Some(kind), "{what}");
            assert_eq!(err.status(), StatusCode::BAD_GATEWAY, "{what}");
            // A certificate error comes before anything is sent, but a
            // retry cannot change it; a protocol error may come after.
            assert_eq!(
                err.is_retryable(&http::Method::GET),
                kind != ProxyError::TlsCertificateError,
                "{what}"
            );
            assert!(!err.is_retryable(&http::Method::POST), "{what}");
        }
    }

    /// Without feature `rustls`, a rustls error is only what its io layer
    /// says: malformed bytes, no kind; never a TLS kind from its text.
    #[cfg(not(feature = "rustls"))]
    #[test]
    fn tls_text_alone_is_not_a_tls_kind() {
        let chain = Wrapped(
            "invalid peer certificate: UnknownIssuer",
            Box::new(io::Error::new(
                io::ErrorKind::InvalidData,
                "invalid peer certificate: UnknownIssuer",
            )),
        );
        assert_eq!(ProxyError::classify(&chain), None);
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

    /// A body that arrived whole but does not decode comes again the same:
    /// a retry cannot help, unlike a body cut short.
    #[test]
    fn a_complete_body_that_does_not_decode_is_not_worth_a_retry() {
        use crate::context::RenderContext;
        use crate::negotiate::Format;
        use crate::render::render;
        for body in [&b"{\"id\":\"forty-two\"}"[..], b"<html>", b"{\"id\":4"] {
            let json = serde_json::from_slice::<std::collections::HashMap<String, u32>>(body)
                .expect_err("does not decode");
            let err =
                GatewayError::from_upstream_error("catalog", Wrapped("decode", Box::new(json)));
            assert_eq!(err.status(), StatusCode::BAD_GATEWAY);
            assert_eq!(err.kind(), None);
            assert!(!err.is_retryable(&http::Method::GET));
            let ctx = RenderContext::new()
                .with_format(Format::Text)
                .with_method(&http::Method::GET);
            let response = render(&err, &ctx);
            assert_eq!(
                std::str::from_utf8(response.body()).expect("utf-8"),
                "502 Bad Gateway\nThe server received an invalid response from the upstream server while trying to fulfill the request.\nSending this request again is not expected to succeed; do not resend it automatically.\n"
            );
        }
        // A read that failed inside serde_json is not a decode: no verdict
        // (serde_json hides the io error's own type, so no kind either).
        let io = serde_json::Error::io(io::Error::from(io::ErrorKind::ConnectionReset));
        let err = GatewayError::from_upstream_error("catalog", io);
        assert_eq!(err.kind(), None);
        assert!(err.is_retryable(&http::Method::GET));
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
        // The upstream's wait is kept whatever its status.
        assert_eq!(err.retry_after(), Some(RetryAfter::from_secs(7)));
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
        // A rate limit is a 503 that keeps the upstream's wait.
        let err =
            GatewayError::from_upstream_response("u", StatusCode::TOO_MANY_REQUESTS, &headers);
        assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(err.retry_after(), Some(RetryAfter::from_secs(7)));
        assert_eq!(err.received_status(), Some(StatusCode::TOO_MANY_REQUESTS));
        assert!(err.is_retryable(&http::Method::GET));
        // Several lines: the longest wait; too large: saturated.
        headers.append(RETRY_AFTER, http::HeaderValue::from_static("3600"));
        let err =
            GatewayError::from_upstream_response("u", StatusCode::SERVICE_UNAVAILABLE, &headers);
        assert_eq!(err.retry_after(), Some(RetryAfter::from_secs(3600)));
        headers.insert(RETRY_AFTER, http::HeaderValue::from_static("1000000000000"));
        let err =
            GatewayError::from_upstream_response("u", StatusCode::SERVICE_UNAVAILABLE, &headers);
        assert_eq!(err.retry_after(), Some(RetryAfter::from_secs(u32::MAX)));
    }
}
