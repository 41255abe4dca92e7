//! pingora 0.9: its failures classified and answered with this crate's
//! bytes.
//!
//! pingora's default `ProxyHttp::fail_to_proxy` answers every upstream
//! failure with an empty 502 (timeouts too), and its default
//! `error_while_proxy` decides retries from the method alone. With this
//! module a pingora gateway answers as the axum, actix-web and warp
//! adapters do:
//!
//! - [`GatewayError::from_pingora`] reads a [`pingora_error::Error`]'s
//!   [`ErrorType`], [`ErrorSource`] and typed cause chain (never its text)
//!   into a kind, a status and a phase;
//! - [`error_response`] renders a [`GatewayError`] for the session's request
//!   (its `Accept`, method and `x-request-id`, under the pipeline's policy)
//!   into the [`ResponseHeader`] and body that
//!   `Session::write_error_response` takes; [`plain_status`] is pingora's
//!   own answer for the failures that are not gateway errors;
//! - [`decide_retry`] applies the retry-safety verdict (phase × method) to
//!   pingora's retry flag in `error_while_proxy` and `fail_to_connect`.
//!
//! Only `pingora-error` and `pingora-http` (and `httparse`, pingora's own
//! parser, whose error type tells a header section that is too large) are
//! built: `FailToProxy` and `Session` live in `pingora-proxy`, which pulls
//! in the whole proxy (and C code built with cmake), so the few lines that
//! call them are yours, as in the repository's `examples/pingora`.
//!
//! # What pingora answers itself
//!
//! A request that pingora cannot parse (a malformed request line or
//! header, an invalid `Content-Length`) is answered by pingora before any
//! `ProxyHttp` hook runs (pingora issue 919): those 400s are pingora's, not
//! this crate's. A failure after the upstream's response head was sent on
//! (a body cut short) cannot change the status either: pingora closes the
//! connection, and `write_error_response` writes nothing.
//!
//! # Examples
//!
//! ```
//! use gateway_error::pipeline::Pipeline;
//! use gateway_error::{GatewayError, Policy, ProxyError};
//! use pingora_error::{Error, ErrorType};
//!
//! let failure = Error::new_up(ErrorType::ReadTimedout);
//! let error = GatewayError::from_pingora(&failure).expect("an upstream failure");
//! assert_eq!(error.kind(), Some(ProxyError::HttpResponseTimeout));
//!
//! let request = http::Request::get("/products/7").header("accept", "text/plain").body(())?;
//! let (request, ()) = request.into_parts();
//! let pipeline = Pipeline::new(Policy::new().with_proxy_name("edge"));
//! let (header, body) = gateway_error::pingora::error_response(error.with_upstream("products"), &request, &pipeline);
//! assert_eq!(header.status, 504);
//! assert_eq!(header.headers["proxy-status"], "edge;error=http_response_timeout");
//! assert!(body.starts_with(b"504 Gateway Timeout\n"));
//! # Ok::<(), http::Error>(())
//! ```
//!
//! [`ErrorType`]: pingora_error::ErrorType
//! [`ErrorSource`]: pingora_error::ErrorSource

use std::error::Error as StdError;

use bytes::Bytes;
use http::{Method, StatusCode, request};
use pingora_error::{Error, ErrorSource, ErrorType};
use pingora_http::ResponseHeader;

use crate::error::{GatewayError, Inner};
use crate::pipeline::{Finished, Pipeline};
use crate::registry::{Phase, ProxyError};

/// What a pingora error stands for, before the chain is read.
enum Reading {
    /// Not a gateway error: the client's own failure, or a status that is
    /// not a gateway status.
    NotOurs,
    /// This kind, decided by the error's type.
    Kind(ProxyError),
    /// A status pingora or a filter chose (`HTTPStatus`), without a kind.
    Status(StatusCode),
    /// A catch-all type: the typed cause chain decides, within `phase`.
    Chain(Within),
}

/// Where a catch-all failure happened, which bounds what its cause chain
/// may say.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Within {
    /// While connecting: nothing was sent.
    Connect,
    /// On an established connection: the request may have been sent.
    Established,
    /// Unknown.
    Unknown,
}

/// How deep nested pingora errors are followed.
const MAX_DEPTH: usize = 8;

fn read_type(error: &Error) -> Reading {
    use ErrorType::*;
    if error.esource == ErrorSource::Downstream {
        return Reading::NotOurs;
    }
    if let HTTPStatus(code) = error.etype {
        return match StatusCode::from_u16(code) {
            Ok(
                status @ (StatusCode::INTERNAL_SERVER_ERROR
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT),
            ) => Reading::Status(status),
            _ => Reading::NotOurs,
        };
    }
    if error.esource == ErrorSource::Internal {
        return Reading::Kind(ProxyError::ProxyInternalError);
    }
    let kind = match error.etype {
        // Connecting (TCP, then TLS): nothing was sent.
        ConnectTimedout | TLSHandshakeTimedout => ProxyError::ConnectionTimeout,
        ConnectRefused => ProxyError::ConnectionRefused,
        ConnectNoRoute => ProxyError::DestinationIpUnroutable,
        InvalidCert => ProxyError::TlsCertificateError,
        TLSHandshakeFailure | HandshakeError | TLSWantX509Lookup => ProxyError::TlsProtocolError,
        ConnectError | ConnectProxyFailure => return Reading::Chain(Within::Connect),
        // The proxy's own sockets and files.
        BindError | AcceptError | SocketError | FileOpenError | FileCreateError | FileReadError
        | FileWriteError | InternalError => ProxyError::ProxyInternalError,
        // What the upstream sent.
        InvalidHTTPHeader => {
            return if header_section_too_large(error) {
                Reading::Kind(ProxyError::HttpResponseHeaderSectionSize)
            } else {
                Reading::Kind(ProxyError::HttpProtocolError)
            };
        }
        H2Error | H2Downgrade | InvalidH2 => ProxyError::HttpProtocolError,
        H1Error => return Reading::Chain(Within::Established),
        // An established connection.
        ReadTimedout => ProxyError::HttpResponseTimeout,
        WriteTimedout => ProxyError::ConnectionWriteTimeout,
        ConnectionClosed => ProxyError::ConnectionTerminated,
        ReadError | WriteError => return Reading::Chain(Within::Established),
        HTTPStatus(_) | UnknownError | Custom(_) | CustomCode(..) => {
            return Reading::Chain(Within::Unknown);
        }
    };
    Reading::Kind(kind)
}

/// httparse said the response had more header fields than pingora parses:
/// the header section is too large (as hyper says of the same error).
fn header_section_too_large(error: &Error) -> bool {
    error
        .cause
        .as_deref()
        .and_then(|cause| cause.downcast_ref::<httparse::Error>())
        .is_some_and(|cause| *cause == httparse::Error::TooManyHeaders)
}

/// A pingora error inside a cause chain, as pingora nests them (the error
/// itself, or boxed).
fn nested<'a>(cause: &'a (dyn StdError + Send + Sync + 'static)) -> Option<&'a Error> {
    cause
        .downcast_ref::<Error>()
        .or_else(|| cause.downcast_ref::<Box<Error>>().map(|boxed| &**boxed))
}

/// The kind a catch-all type's cause chain shows, kept within `within`: a
/// connect failure stays before sending (a timeout is the connect's), and
/// a failure on an established connection never moves before it.
fn read_chain(error: &Error, within: Within, depth: usize) -> Option<Reading> {
    let cause = error.cause.as_deref()?;
    if let Some(inner) = nested(cause).filter(|_| depth < MAX_DEPTH) {
        return match read_type(inner) {
            Reading::Chain(inner_within) => {
                let within = if within == Within::Unknown {
                    inner_within
                } else {
                    within
                };
                read_chain(inner, within, depth + 1)
            }
            reading => Some(reading),
        };
    }
    let kind = ProxyError::classify(cause)?;
    let kind = match within {
        Within::Connect if kind == ProxyError::HttpResponseTimeout => ProxyError::ConnectionTimeout,
        Within::Connect if kind.phase() == Phase::MaybeSent => return None,
        Within::Established if kind.phase() == Phase::NotSent => ProxyError::ConnectionTerminated,
        _ => kind,
    };
    Some(Reading::Kind(kind))
}

impl GatewayError {
    /// The gateway error a pingora failure stands for; `None` when it is
    /// not one: the client's own failure (`ErrorSource::Downstream`), or an
    /// `HTTPStatus` that is not 500, 502, 503 or 504 (answer those with
    /// [`plain_status`](crate::pingora::plain_status)).
    ///
    /// Decided from the error's type, its source and its typed cause chain,
    /// never from its context text:
    ///
    /// | pingora `ErrorType` | kind | status |
    /// |---|---|---|
    /// | `ConnectRefused` | `connection_refused` | 502 |
    /// | `ConnectTimedout`, `TLSHandshakeTimedout` | `connection_timeout` | 504 |
    /// | `ConnectNoRoute` | `destination_ip_unroutable` | 502 |
    /// | `InvalidCert` | `tls_certificate_error` | 502 |
    /// | `TLSHandshakeFailure`, `HandshakeError`, `TLSWantX509Lookup` | `tls_protocol_error` | 502 |
    /// | `InvalidHTTPHeader` (httparse's `TooManyHeaders`) | `http_response_header_section_size` | 502 |
    /// | `InvalidHTTPHeader` (other), `H2Error`, `InvalidH2`, `H2Downgrade` | `http_protocol_error` | 502 |
    /// | `ReadTimedout` | `http_response_timeout` | 504 |
    /// | `WriteTimedout` | `connection_write_timeout` | 504 |
    /// | `ConnectionClosed` | `connection_terminated` | 502 |
    /// | `HTTPStatus(500 / 502 / 503 / 504)` | none | that status |
    /// | `BindError`, `SocketError`, `AcceptError`, `File*`, `InternalError`; any type with `ErrorSource::Internal` | `proxy_internal_error` | 500 |
    /// | `ConnectError`, `ConnectProxyFailure` | the cause chain's, if it happens before sending | 502 or 504 |
    /// | `ReadError`, `WriteError`, `H1Error` | the cause chain's, never before sending | 502 or 504 |
    /// | `UnknownError`, `Custom`, `CustomCode` | the cause chain's | 502 without one |
    ///
    /// The cause chain is read by type as [`ProxyError::classify`] reads
    /// it (io error kinds; with feature `rustls`, rustls's errors), and a
    /// pingora error nested in it by its own type. A read timeout is
    /// `http_response_timeout`, as the other adapters' client timeouts
    /// are: pingora's `read_timeout` is what bounds the wait for the
    /// response. The error keeps no source (pingora hands it out by
    /// reference); set the upstream's name and next hop yourself.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::{GatewayError, Phase, ProxyError};
    /// use pingora_error::{Error, ErrorType};
    ///
    /// let err = GatewayError::from_pingora(&Error::new_up(ErrorType::ConnectRefused)).unwrap();
    /// assert_eq!((err.status().as_u16(), err.kind()), (502, Some(ProxyError::ConnectionRefused)));
    /// assert_eq!(err.phase(), Some(Phase::NotSent));
    ///
    /// let err = GatewayError::from_pingora(&Error::new_up(ErrorType::ConnectTimedout)).unwrap();
    /// assert_eq!(err.status().as_u16(), 504);
    ///
    /// // The client's own failure is not a gateway error.
    /// assert!(GatewayError::from_pingora(&Error::new_down(ErrorType::ReadError)).is_none());
    /// ```
    #[must_use]
    pub fn from_pingora(error: &Error) -> Option<Self> {
        let reading = match read_type(error) {
            Reading::Chain(within) => read_chain(error, within, 0),
            reading => Some(reading),
        };
        let (status, kind) = match reading {
            Some(Reading::NotOurs) => return None,
            Some(Reading::Kind(kind)) => (kind.recommended_status(), Some(kind)),
            Some(Reading::Status(status)) => (status, None),
            // A catch-all whose chain says nothing: a plain 502.
            Some(Reading::Chain(_)) | None => (StatusCode::BAD_GATEWAY, None),
        };
        Some(Self::for_status(
            status,
            Inner {
                kind,
                ..Inner::default()
            },
        ))
    }
}

/// The status pingora's default `fail_to_proxy` answers a failure with
/// that is not a gateway error ([`GatewayError::from_pingora`] gives
/// `None`): an `HTTPStatus` code as it is, 400 for other downstream
/// failures, and 0 (answer nothing) when the downstream connection is gone
/// (`ReadError`, `WriteError` or `ConnectionClosed` from downstream); for
/// any other failure, pingora's 502 (upstream) or 500. Answer a non-zero
/// one with `session.respond_error(status)`, and return it as
/// `FailToProxy::error_code`.
///
/// # Examples
///
/// ```
/// use gateway_error::pingora::plain_status;
/// use pingora_error::{Error, ErrorType};
///
/// assert_eq!(plain_status(&Error::new_down(ErrorType::ConnectionClosed)), 0);
/// assert_eq!(plain_status(&Error::new_down(ErrorType::InvalidHTTPHeader)), 400);
/// assert_eq!(plain_status(&Error::new_in(ErrorType::HTTPStatus(403))), 403);
/// ```
#[must_use]
pub fn plain_status(error: &Error) -> u16 {
    use ErrorType::*;
    match (&error.etype, &error.esource) {
        (HTTPStatus(code), _) => *code,
        (ReadError | WriteError | ConnectionClosed, ErrorSource::Downstream) => 0,
        (_, ErrorSource::Downstream) => 400,
        (_, ErrorSource::Upstream) => 502,
        (_, ErrorSource::Internal | ErrorSource::Unset) => 500,
    }
}

/// The canonical answer to `error` for the request whose head is
/// `request` (pingora's `session.req_header()`, which dereferences to
/// [`http::request::Parts`]): status, every header (`Content-Type`,
/// `Content-Length`, `Cache-Control`, `Vary`, `X-Content-Type-Options`,
/// `Proxy-Status`, `Retry-After`, `x-request-id`) and the body in the
/// format the request's `Accept` negotiates, as
/// [`RequestContext::error_response`](crate::pipeline::RequestContext::error_response)
/// renders it under `pipeline`'s policy; the error is reported once (the
/// `tracing` event, the pipeline's observers).
///
/// Write it with `session.write_error_response(header, body)`, which
/// writes nothing when a response head was already sent. The error stays
/// in the header's extensions, for a `logging` hook to read from
/// `session.response_written()`.
///
/// # Examples
///
/// ```
/// use gateway_error::pipeline::Pipeline;
/// use gateway_error::{GatewayError, Policy, ProxyError};
///
/// let request = http::Request::post("/orders")
///     .header("accept", "application/problem+json")
///     .header("x-request-id", "req-42")
///     .body(())?;
/// let (request, ()) = request.into_parts();
/// let error = GatewayError::from_kind("orders", ProxyError::ConnectionTerminated);
/// let pipeline = Pipeline::new(Policy::new().with_proxy_name("edge"));
/// let (header, body) = gateway_error::pingora::error_response(error, &request, &pipeline);
/// assert_eq!(header.status, 502);
/// assert_eq!(header.headers["content-type"], "application/problem+json");
/// assert_eq!(header.headers["x-request-id"], "req-42");
/// assert_eq!(header.headers["content-length"], body.len().to_string());
/// assert!(header.extensions.get::<GatewayError>().is_some());
/// # Ok::<(), http::Error>(())
/// ```
#[must_use]
pub fn error_response(
    error: GatewayError,
    request: &request::Parts,
    pipeline: &Pipeline,
) -> (ResponseHeader, Bytes) {
    let ctx = pipeline.capture(&request.method, &request.headers);
    let response = match ctx.finish(ctx.error_response(error)) {
        Finished::Kept(response) | Finished::Rendered(response) => response,
    };
    let (parts, body) = response.into_parts();
    (ResponseHeader::from(parts), body)
}

/// Applies the retry-safety verdict to pingora's retry flag, for
/// `ProxyHttp::error_while_proxy` and `fail_to_connect`: the flag stays set
/// only when pingora set it (a `ReusedOnly` flag decided by
/// `client_reused`, as pingora's default does) and the failure may be
/// retried for `method`: it happened before the request was sent, or the
/// method is idempotent (RFC 9110 section 9.2.2), and it is not one a
/// retry cannot change (a certificate, a header section too large). A
/// non-idempotent request that may have reached the upstream is never
/// retried; a failure that is not a gateway error is not retried.
///
/// It never sets a flag pingora left unset. Keep pingora's own other
/// reasons not to retry (a request body larger than its retry buffer:
/// `session.as_ref().retry_buffer_truncated()`) before calling it.
///
/// # Examples
///
/// ```
/// use gateway_error::pingora::decide_retry;
/// use http::Method;
/// use pingora_error::{Error, ErrorType, RetryType};
///
/// // Refused: nothing was sent, a POST may go to another peer.
/// let mut refused = Error::new_up(ErrorType::ConnectRefused);
/// refused.set_retry(true);
/// decide_retry(&mut refused, &Method::POST, false);
/// assert!(refused.retry());
///
/// // Closed after the request went out on a reused connection: a GET
/// // may be sent again, a POST may not.
/// for (method, expected) in [(Method::GET, true), (Method::POST, false)] {
///     let mut closed = Error::new_up(ErrorType::ConnectionClosed);
///     closed.retry = RetryType::ReusedOnly;
///     decide_retry(&mut closed, &method, true);
///     assert_eq!(closed.retry(), expected);
/// }
/// ```
pub fn decide_retry(error: &mut Error, method: &Method, client_reused: bool) {
    error.retry.decide_reuse(client_reused);
    if !error.retry() {
        return;
    }
    // Only the kind, its phase and the method decide: the proxy's own
    // failures (a socket, a bind) are no reason to stop a retry pingora
    // allows on another peer.
    let safe = GatewayError::from_pingora(error)
        .is_some_and(|gateway| retry_can_help_here(gateway.kind(), method));
    if !safe {
        error.set_retry(false);
    }
}

/// Whether a failure of `kind` may be retried for `method`: a retry can
/// change it, and the request was not sent or the method is idempotent.
fn retry_can_help_here(kind: Option<ProxyError>, method: &Method) -> bool {
    if !crate::error::retry_can_help(kind, None) {
        return false;
    }
    match kind.map(ProxyError::phase) {
        Some(Phase::NotSent) => true,
        _ => method.is_idempotent(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{Policy, RenderContext};
    use crate::render::render;
    use pingora_error::RetryType;
    use std::io;

    fn up(etype: ErrorType) -> Box<Error> {
        Error::new_up(etype)
    }

    fn because(etype: ErrorType, cause: impl Into<Box<dyn StdError + Send + Sync>>) -> Box<Error> {
        let mut error = Error::because(etype, "context text decides nothing", cause);
        error.as_up();
        error
    }

    /// (status, kind, phase) of a classified error.
    fn verdict(error: &Error) -> Option<(u16, Option<ProxyError>, Option<Phase>)> {
        GatewayError::from_pingora(error).map(|e| (e.status().as_u16(), e.kind(), e.phase()))
    }

    use Phase::{MaybeSent, NotSent};
    use ProxyError as K;

    /// Every `ErrorType` of pingora 0.9, from the upstream, without a cause.
    fn every_type() -> Vec<(ErrorType, u16, Option<ProxyError>, Option<Phase>)> {
        use ErrorType::*;
        vec![
            (
                ConnectTimedout,
                504,
                Some(K::ConnectionTimeout),
                Some(NotSent),
            ),
            (
                ConnectRefused,
                502,
                Some(K::ConnectionRefused),
                Some(NotSent),
            ),
            (
                ConnectNoRoute,
                502,
                Some(K::DestinationIpUnroutable),
                Some(NotSent),
            ),
            (
                TLSWantX509Lookup,
                502,
                Some(K::TlsProtocolError),
                Some(MaybeSent),
            ),
            (
                TLSHandshakeFailure,
                502,
                Some(K::TlsProtocolError),
                Some(MaybeSent),
            ),
            (
                TLSHandshakeTimedout,
                504,
                Some(K::ConnectionTimeout),
                Some(NotSent),
            ),
            (
                InvalidCert,
                502,
                Some(K::TlsCertificateError),
                Some(NotSent),
            ),
            (
                HandshakeError,
                502,
                Some(K::TlsProtocolError),
                Some(MaybeSent),
            ),
            (ConnectError, 502, None, None),
            (BindError, 500, Some(K::ProxyInternalError), Some(MaybeSent)),
            (
                AcceptError,
                500,
                Some(K::ProxyInternalError),
                Some(MaybeSent),
            ),
            (
                SocketError,
                500,
                Some(K::ProxyInternalError),
                Some(MaybeSent),
            ),
            (ConnectProxyFailure, 502, None, None),
            (
                InvalidHTTPHeader,
                502,
                Some(K::HttpProtocolError),
                Some(MaybeSent),
            ),
            (H1Error, 502, None, None),
            (H2Error, 502, Some(K::HttpProtocolError), Some(MaybeSent)),
            (
                H2Downgrade,
                502,
                Some(K::HttpProtocolError),
                Some(MaybeSent),
            ),
            (InvalidH2, 502, Some(K::HttpProtocolError), Some(MaybeSent)),
            (ReadError, 502, None, None),
            (WriteError, 502, None, None),
            (
                ReadTimedout,
                504,
                Some(K::HttpResponseTimeout),
                Some(MaybeSent),
            ),
            (
                WriteTimedout,
                504,
                Some(K::ConnectionWriteTimeout),
                Some(MaybeSent),
            ),
            (
                ConnectionClosed,
                502,
                Some(K::ConnectionTerminated),
                Some(MaybeSent),
            ),
            (HTTPStatus(500), 500, None, None),
            (HTTPStatus(502), 502, None, None),
            (HTTPStatus(503), 503, None, None),
            (HTTPStatus(504), 504, None, None),
            (
                FileOpenError,
                500,
                Some(K::ProxyInternalError),
                Some(MaybeSent),
            ),
            (
                FileCreateError,
                500,
                Some(K::ProxyInternalError),
                Some(MaybeSent),
            ),
            (
                FileReadError,
                500,
                Some(K::ProxyInternalError),
                Some(MaybeSent),
            ),
            (
                FileWriteError,
                500,
                Some(K::ProxyInternalError),
                Some(MaybeSent),
            ),
            (
                InternalError,
                500,
                Some(K::ProxyInternalError),
                Some(MaybeSent),
            ),
            (UnknownError, 502, None, None),
            (Custom("mine"), 502, None, None),
            (CustomCode("mine", 7), 502, None, None),
        ]
    }

    #[test]
    fn each_type_from_the_upstream_and_unset() {
        for (etype, status, kind, phase) in every_type() {
            let what = format!("{etype:?}");
            assert_eq!(
                verdict(&up(etype.clone())),
                Some((status, kind, phase)),
                "{what}"
            );
            // An error nobody marked (pingora's own before `into_up`) reads the same.
            assert_eq!(
                verdict(&Error::new(etype)),
                Some((status, kind, phase)),
                "{what} unset"
            );
        }
    }

    #[test]
    fn the_clients_own_failures_are_not_gateway_errors() {
        for (etype, ..) in every_type() {
            let error = Error::new_down(etype.clone());
            assert_eq!(verdict(&error), None, "{etype:?}");
            let expected = match etype {
                ErrorType::HTTPStatus(code) => code,
                ErrorType::ReadError | ErrorType::WriteError | ErrorType::ConnectionClosed => 0,
                _ => 400,
            };
            assert_eq!(plain_status(&error), expected, "{etype:?}");
        }
    }

    #[test]
    fn internal_failures_are_a_500_unless_a_gateway_status_was_chosen() {
        for (etype, ..) in every_type() {
            let expected = match etype {
                ErrorType::HTTPStatus(code) => Some((code, None, None)),
                _ => Some((500, Some(K::ProxyInternalError), Some(MaybeSent))),
            };
            assert_eq!(
                verdict(&Error::new_in(etype.clone())),
                expected,
                "{etype:?}"
            );
        }
    }

    #[test]
    fn other_statuses_are_not_gateway_errors() {
        for code in [200, 400, 403, 404, 413, 429, 501, 505, 599, 1000] {
            for error in [
                Error::new_in(ErrorType::HTTPStatus(code)),
                up(ErrorType::HTTPStatus(code)),
            ] {
                assert_eq!(verdict(&error), None, "{code}");
                assert_eq!(plain_status(&error), code);
            }
        }
        assert_eq!(plain_status(&up(ErrorType::ConnectRefused)), 502);
        assert_eq!(plain_status(&Error::new_in(ErrorType::ConnectRefused)), 500);
    }

    #[test]
    fn too_many_header_fields_is_a_header_section_too_large() {
        let too_many = because(
            ErrorType::InvalidHTTPHeader,
            httparse::Error::TooManyHeaders,
        );
        assert_eq!(
            verdict(&too_many),
            Some((502, Some(K::HttpResponseHeaderSectionSize), Some(MaybeSent)))
        );
        for other in [
            httparse::Error::Version,
            httparse::Error::Status,
            httparse::Error::HeaderName,
        ] {
            let error = because(ErrorType::InvalidHTTPHeader, other);
            assert_eq!(
                verdict(&error),
                Some((502, Some(K::HttpProtocolError), Some(MaybeSent)))
            );
        }
    }

    #[test]
    fn catch_all_types_read_the_typed_chain_within_their_phase() {
        let io = |kind: io::ErrorKind| io::Error::from(kind);
        let cases = [
            // On an established connection: never before sending.
            (
                because(ErrorType::ReadError, io(io::ErrorKind::ConnectionReset)),
                502,
                Some(K::ConnectionTerminated),
            ),
            (
                because(ErrorType::WriteError, io(io::ErrorKind::BrokenPipe)),
                502,
                Some(K::ConnectionTerminated),
            ),
            (
                because(ErrorType::ReadError, io(io::ErrorKind::ConnectionRefused)),
                502,
                Some(K::ConnectionTerminated),
            ),
            (
                because(ErrorType::ReadError, io(io::ErrorKind::TimedOut)),
                504,
                Some(K::HttpResponseTimeout),
            ),
            (
                because(ErrorType::H1Error, io(io::ErrorKind::UnexpectedEof)),
                502,
                Some(K::ConnectionTerminated),
            ),
            (
                because(ErrorType::ReadError, io(io::ErrorKind::PermissionDenied)),
                502,
                None,
            ),
            // While connecting: nothing was sent.
            (
                because(
                    ErrorType::ConnectError,
                    io(io::ErrorKind::ConnectionRefused),
                ),
                502,
                Some(K::ConnectionRefused),
            ),
            (
                because(ErrorType::ConnectError, io(io::ErrorKind::TimedOut)),
                504,
                Some(K::ConnectionTimeout),
            ),
            (
                because(ErrorType::ConnectError, io(io::ErrorKind::HostUnreachable)),
                502,
                Some(K::DestinationIpUnroutable),
            ),
            (
                because(ErrorType::ConnectError, io(io::ErrorKind::ConnectionReset)),
                502,
                None,
            ),
            (
                because(
                    ErrorType::ConnectProxyFailure,
                    io(io::ErrorKind::ConnectionRefused),
                ),
                502,
                Some(K::ConnectionRefused),
            ),
            // Unknown: the chain as it is.
            (
                because(ErrorType::UnknownError, io(io::ErrorKind::ConnectionReset)),
                502,
                Some(K::ConnectionTerminated),
            ),
            (
                because(
                    ErrorType::Custom("mine"),
                    io(io::ErrorKind::ConnectionRefused),
                ),
                502,
                Some(K::ConnectionRefused),
            ),
        ];
        for (error, status, kind) in cases {
            let got = GatewayError::from_pingora(&error).expect("a gateway error");
            assert_eq!(
                (got.status().as_u16(), got.kind()),
                (status, kind),
                "{error:?}"
            );
        }
    }

    #[test]
    fn nested_pingora_errors_are_read_by_their_type() {
        let inner = up(ErrorType::ConnectRefused);
        let outer = because(ErrorType::UnknownError, inner);
        assert_eq!(
            verdict(&outer),
            Some((502, Some(K::ConnectionRefused), Some(NotSent)))
        );
        // A catch-all inside a catch-all: the innermost typed fact, within
        // the outer phase.
        let io = io::Error::from(io::ErrorKind::ConnectionRefused);
        let outer = because(ErrorType::ReadError, because(ErrorType::UnknownError, io));
        assert_eq!(
            verdict(&outer),
            Some((502, Some(K::ConnectionTerminated), Some(MaybeSent)))
        );
        // A downstream failure nested in an upstream one is not a gateway error.
        let outer = because(
            ErrorType::UnknownError,
            Error::new_down(ErrorType::ReadError),
        );
        assert_eq!(verdict(&outer), None);
    }

    #[test]
    fn text_never_decides() {
        for words in [
            "connection refused",
            "timed out",
            "TooManyHeaders",
            "certificate",
            "ECONNRESET",
        ] {
            for etype in [
                ErrorType::ReadError,
                ErrorType::UnknownError,
                ErrorType::ConnectError,
            ] {
                let mut error = Error::explain(etype.clone(), words);
                error.as_up();
                assert_eq!(
                    verdict(&error),
                    Some((502, None, None)),
                    "{etype:?} {words}"
                );
                let error = because(etype.clone(), io::Error::other(words));
                assert_eq!(
                    verdict(&error),
                    Some((502, None, None)),
                    "{etype:?} {words}"
                );
            }
            let error = because(ErrorType::InvalidHTTPHeader, io::Error::other(words));
            assert_eq!(
                verdict(&error),
                Some((502, Some(K::HttpProtocolError), Some(MaybeSent)))
            );
        }
    }

    #[test]
    fn retries_follow_the_phase_and_the_method() {
        use ErrorType::*;
        // (type, pingora's flag, reused, method, retried)
        let cases = [
            (
                ConnectRefused,
                RetryType::Decided(true),
                false,
                Method::POST,
                true,
            ),
            (
                ConnectTimedout,
                RetryType::Decided(true),
                false,
                Method::POST,
                true,
            ),
            (
                ConnectRefused,
                RetryType::Decided(false),
                false,
                Method::GET,
                false,
            ),
            (
                InvalidCert,
                RetryType::Decided(true),
                false,
                Method::GET,
                false,
            ),
            (
                ConnectionClosed,
                RetryType::ReusedOnly,
                true,
                Method::GET,
                true,
            ),
            (
                ConnectionClosed,
                RetryType::ReusedOnly,
                false,
                Method::GET,
                false,
            ),
            (
                ConnectionClosed,
                RetryType::ReusedOnly,
                true,
                Method::POST,
                false,
            ),
            (
                ConnectionClosed,
                RetryType::ReusedOnly,
                true,
                Method::PUT,
                true,
            ),
            (
                ReadTimedout,
                RetryType::Decided(true),
                false,
                Method::POST,
                false,
            ),
            (
                ReadTimedout,
                RetryType::Decided(true),
                false,
                Method::DELETE,
                true,
            ),
            (
                WriteTimedout,
                RetryType::Decided(true),
                false,
                Method::PATCH,
                false,
            ),
            (
                ReadError,
                RetryType::Decided(true),
                false,
                Method::POST,
                false,
            ),
            (H2Error, RetryType::Decided(true), false, Method::GET, true),
            (
                HTTPStatus(404),
                RetryType::Decided(true),
                false,
                Method::GET,
                false,
            ),
            (
                BindError,
                RetryType::Decided(true),
                false,
                Method::GET,
                true,
            ),
        ];
        for (etype, flag, reused, method, retried) in cases {
            let mut error = up(etype.clone());
            error.retry = flag;
            decide_retry(&mut error, &method, reused);
            assert_eq!(
                error.retry(),
                retried,
                "{etype:?} {flag:?} reused={reused} {method}"
            );
        }
        // Downstream failures are never retried upstream.
        let mut error = Error::new_down(ConnectionClosed);
        error.set_retry(true);
        decide_retry(&mut error, &Method::GET, true);
        assert!(!error.retry());
    }

    fn parts(method: Method, accept: Option<&str>, id: Option<&str>) -> request::Parts {
        let mut builder = http::Request::builder().method(method).uri("/products/42");
        if let Some(accept) = accept {
            builder = builder.header("accept", accept);
        }
        if let Some(id) = id {
            builder = builder.header("x-request-id", id);
        }
        builder.body(()).expect("a valid request").into_parts().0
    }

    #[test]
    fn the_answer_is_the_renderers_for_the_request() {
        let policy = Policy::new()
            .with_proxy_name("edge")
            .with_upstream_names(true);
        let pipeline = Pipeline::new(policy.clone());
        let error = GatewayError::from_pingora(&up(ErrorType::ReadTimedout))
            .expect("a gateway error")
            .with_upstream("products")
            .with_next_hop("127.0.0.1:9");
        for (method, accept) in [
            (Method::GET, Some("application/json")),
            (Method::POST, Some("application/problem+json")),
            (Method::GET, Some("text/html")),
            (Method::GET, None),
            (Method::HEAD, Some("text/plain")),
        ] {
            let request = parts(method.clone(), accept, Some("rid-1"));
            let (header, body) = error_response(error.clone(), &request, &pipeline);
            let ctx = RenderContext::from_request(&request.method, &request.headers)
                .with_request_id("rid-1")
                .with_policy(&policy);
            let expected = render(&error, &ctx);
            assert_eq!(header.status, expected.status(), "{method} {accept:?}");
            let mut expected_headers = expected.headers().clone();
            expected_headers.insert("x-request-id", http::HeaderValue::from_static("rid-1"));
            assert_eq!(header.headers, expected_headers, "{method} {accept:?}");
            assert_eq!(&body, expected.body(), "{method} {accept:?}");
            assert_eq!(
                header.headers["proxy-status"],
                "edge;error=http_response_timeout;next-hop=\"127.0.0.1:9\""
            );
            if method == Method::HEAD {
                assert!(body.is_empty());
                assert_ne!(header.headers["content-length"], "0");
            }
        }
        // A request without a valid id gets a generated one.
        let request = parts(Method::GET, Some("text/plain"), Some("two words"));
        let (header, _) = error_response(error, &request, &pipeline);
        let id = header.headers["x-request-id"].to_str().expect("ascii");
        assert!(crate::RequestId::is_valid(id) && id != "two words", "{id}");
    }

    #[test]
    fn a_grpc_caller_gets_a_grpc_answer() {
        let pipeline = Pipeline::new(Policy::new().with_proxy_name("edge"));
        let error =
            GatewayError::from_pingora(&up(ErrorType::ReadTimedout)).expect("a gateway error");
        let mut request = parts(Method::POST, Some("text/html"), Some("rid-2"));
        request.headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/grpc"),
        );
        let (header, body) = error_response(error, &request, &pipeline);
        assert_eq!(header.status, 200);
        assert!(body.is_empty());
        let field = |name: &str| header.headers.get(name).and_then(|v| v.to_str().ok());
        assert_eq!(field("content-type"), Some("application/grpc"));
        // A timeout that may have run: no code a client retries, and
        // "do not retry".
        assert_eq!(field("grpc-status"), Some("4"));
        assert_eq!(field("grpc-retry-pushback-ms"), Some("-1"));
        assert_eq!(
            field("proxy-status"),
            Some("edge;error=http_response_timeout")
        );
        assert_eq!(field("x-request-id"), Some("rid-2"));
    }
}
