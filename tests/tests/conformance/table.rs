//! The table of cases: which error each route returns, and how the client
//! asks for it.

use std::io;
use std::time::{Duration, UNIX_EPOCH};

use gateway_error::{
    BadGateway, GatewayError, GatewayTimeout, InternalServerError, Policy, ProxyError, RequestId,
    RetryAfter, ServiceUnavailable,
};
use http::{HeaderValue, Method, StatusCode};

/// The one policy every server (and the expected responses) uses.
pub(crate) fn policy() -> Policy {
    Policy::new()
        .with_proxy_name("conformance-gw")
        .with_upstream_names(true)
        .with_problem_type_base("https://errors.example.com/problems/")
}

/// Every source error's text contains this; no response may.
pub(crate) const SECRET: &str = "s3cr3t-source-text";

fn source(detail: &str) -> io::Error {
    io::Error::other(format!("{SECRET}: {detail}"))
}

/// The date form of a retry hint: 2030-03-17T17:46:40Z.
fn retry_date() -> RetryAfter {
    RetryAfter::at(UNIX_EPOCH + Duration::from_secs(1_900_000_000))
}

/// An error as a handler returns it: one of the four types, or the enum.
pub(crate) enum Thrown {
    Bad(BadGateway),
    Timeout(GatewayTimeout),
    Unavailable(ServiceUnavailable),
    Internal(InternalServerError),
    Any(GatewayError),
}

impl Thrown {
    pub(crate) fn into_error(self) -> GatewayError {
        match self {
            Self::Bad(e) => e.into(),
            Self::Timeout(e) => e.into(),
            Self::Unavailable(e) => e.into(),
            Self::Internal(e) => e.into(),
            Self::Any(e) => e,
        }
    }

    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Self::Bad(_) => "BadGateway",
            Self::Timeout(_) => "GatewayTimeout",
            Self::Unavailable(_) => "ServiceUnavailable",
            Self::Internal(_) => "InternalServerError",
            Self::Any(_) => "GatewayError",
        }
    }
}

/// Runs `$body` with `$e` bound to the concrete error a [`Thrown`] holds,
/// so that handlers return the type itself, not a conversion of it.
macro_rules! each_type {
    ($thrown:expr, $e:ident => $body:expr) => {
        match $thrown {
            $crate::table::Thrown::Bad($e) => $body,
            $crate::table::Thrown::Timeout($e) => $body,
            $crate::table::Thrown::Unavailable($e) => $body,
            $crate::table::Thrown::Internal($e) => $body,
            $crate::table::Thrown::Any($e) => $body,
        }
    };
}
pub(crate) use each_type;

/// The errors the routes return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// 502, kind, upstream, source.
    Refused,
    /// 502 with nothing set.
    BareBadGateway,
    /// 502 with details that need escaping, next hop, received status, an
    /// upstream `Proxy-Status` and an error-set request id that needs
    /// escaping and percent-encoding.
    ProtocolDetailed,
    /// 502 after the request may have been sent: POST is not retryable;
    /// an error-set request id and a fractional delay.
    TerminatedWithId,
    /// 504 with a delay hint.
    ResponseTimeout,
    /// 504 before sending, with a date hint.
    ConnectTimeoutDate,
    /// 504 with nothing but an error-set request id.
    BareTimeoutWithId,
    /// 503 with a delay hint.
    UnavailableRetry,
    /// 503 with a date hint and an error-set request id.
    UnavailableDateWithId,
    /// 500, kind, upstream, source.
    InternalConfig,
    /// 500 with nothing set.
    BareInternal,
    /// 500 with a retry hint (retryable) and details.
    InternalRetry,
    /// The enum, from a 502 kind, with a source.
    KindDns,
    /// The enum, from a 503 kind, with a delay hint.
    KindLimit,
    /// The enum, from a 504 kind, with an error-set request id.
    KindReadTimeout,
    /// The enum, from a 500 kind, with a source.
    KindNotFound,
}

impl Failure {
    pub(crate) fn thrown(self) -> Thrown {
        match self {
            Self::Refused => Thrown::Bad(
                BadGateway::upstream("product-service")
                    .with_kind(ProxyError::ConnectionRefused)
                    .with_source(source("connect ECONNREFUSED 192.0.2.10:8443")),
            ),
            Self::BareBadGateway => Thrown::Bad(BadGateway::new()),
            Self::ProtocolDetailed => Thrown::Bad(
                BadGateway::upstream("catalog")
                    .with_kind(ProxyError::HttpProtocolError)
                    .with_details(
                        "Upstream sent <b>\"broken\"</b> & 'odd' bytes \u{2014} \u{fc}n\u{ef}c\u{f6}d\u{e9}.\nLine two\twith a tab.",
                    )
                    .with_next_hop("10.0.0.7:8080")
                    .with_received_status(StatusCode::INTERNAL_SERVER_ERROR)
                    .with_upstream_proxy_status(HeaderValue::from_static(
                        "inner-lb; error=connection_timeout, \"10.0.0.1\"",
                    ))
                    .with_request_id("req<7>&\"x\"/#?")
                    .with_source(source("invalid HTTP version parsed: password=hunter2")),
            ),
            Self::TerminatedWithId => Thrown::Bad(
                BadGateway::upstream("orders")
                    .with_kind(ProxyError::ConnectionTerminated)
                    .with_retry_after(Duration::from_millis(1500))
                    .with_request_id("err-set-502")
                    .with_source(source("connection reset by peer (os error 104)")),
            ),
            Self::ResponseTimeout => Thrown::Timeout(
                GatewayTimeout::upstream("pricing")
                    .with_kind(ProxyError::HttpResponseTimeout)
                    .with_retry_after(Duration::from_secs(5))
                    .with_source(source("deadline has elapsed after 30s")),
            ),
            Self::ConnectTimeoutDate => Thrown::Timeout(
                GatewayTimeout::upstream("pricing")
                    .with_kind(ProxyError::ConnectionTimeout)
                    .with_retry_after(retry_date())
                    .with_source(source("connect timeout to 198.51.100.3:443")),
            ),
            Self::BareTimeoutWithId => {
                Thrown::Timeout(GatewayTimeout::new().with_request_id("err-set-504"))
            }
            Self::UnavailableRetry => Thrown::Unavailable(
                ServiceUnavailable::upstream("search")
                    .with_kind(ProxyError::DestinationUnavailable)
                    .with_retry_after(RetryAfter::from_secs(120))
                    .with_source(source("all 3 backends failed health checks")),
            ),
            Self::UnavailableDateWithId => Thrown::Unavailable(
                ServiceUnavailable::new()
                    .with_retry_after(retry_date())
                    .with_request_id("err-set-503")
                    .with_source(source("circuit open for search-v2")),
            ),
            Self::InternalConfig => Thrown::Internal(
                InternalServerError::upstream("auth")
                    .with_kind(ProxyError::ProxyConfigurationError)
                    .with_source(source("missing env AUTH_URL")),
            ),
            Self::BareInternal => Thrown::Internal(InternalServerError::new()),
            Self::InternalRetry => Thrown::Internal(
                InternalServerError::new()
                    .with_kind(ProxyError::ProxyInternalError)
                    .with_details("Maintenance window; back soon.")
                    .with_retry_after(Duration::from_secs(10)),
            ),
            Self::KindDns => Thrown::Any(
                GatewayError::from_kind("ledger", ProxyError::DnsError)
                    .with_source(source("failed to lookup address ledger.internal")),
            ),
            Self::KindLimit => Thrown::Any(
                GatewayError::from_kind("ledger", ProxyError::ConnectionLimitReached)
                    .with_retry_after(Duration::from_secs(3)),
            ),
            Self::KindReadTimeout => Thrown::Any(
                GatewayError::from_kind("inventory", ProxyError::ConnectionReadTimeout)
                    .with_request_id("err-set-any"),
            ),
            Self::KindNotFound => Thrown::Any(
                GatewayError::from_kind("router", ProxyError::DestinationNotFound)
                    .with_source(source("no route for tenant 42")),
            ),
        }
    }

    pub(crate) fn error(self) -> GatewayError {
        self.thrown().into_error()
    }
}

/// The request methods of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum M {
    Get,
    Head,
    Post,
}

impl M {
    pub(crate) fn method(self) -> Method {
        match self {
            Self::Get => Method::GET,
            Self::Head => Method::HEAD,
            Self::Post => Method::POST,
        }
    }
}

/// The `x-request-id` the client sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Id {
    /// None: the server generates one.
    Absent,
    /// A valid one, `client-rid-NN` (NN the case number): echoed.
    Sent,
    /// These field lines, in order: the first is echoed when it is valid
    /// (visible ASCII, 1 to 128 bytes), else replaced by a generated one.
    Fields(&'static [&'static [u8]]),
}

/// How the handler hands the error over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    /// `Err(error)` (warp: `Err(warp::reject::custom(error))`).
    Err,
    /// The error itself as the response (axum `IntoResponse`, actix-web
    /// `Responder`, warp `Reply`).
    Reply,
}

/// How the request is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Via {
    /// The shared keep-alive reqwest client.
    Reqwest,
    /// A raw socket with `connection: close`, read to EOF: reqwest cannot
    /// send a request without `Accept` (it adds `accept: */*`), and does
    /// not read what follows a HEAD response; and gRPC calls.
    Raw,
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Case {
    pub(crate) method: M,
    /// The `Accept` fields, one per line; empty for none.
    pub(crate) accept: &'static [&'static str],
    pub(crate) id: Id,
    pub(crate) failure: Failure,
    pub(crate) style: Style,
    /// A POST's `content-type`: JSON, or gRPC's (a gRPC caller).
    pub(crate) content_type: &'static str,
    head_over_reqwest: bool,
}

impl Case {
    const fn new(method: M, accept: &'static [&'static str], id: Id, failure: Failure) -> Self {
        Self {
            method,
            accept,
            id,
            failure,
            style: Style::Err,
            content_type: "application/json",
            head_over_reqwest: false,
        }
    }

    /// A gRPC call: a POST with this gRPC `content-type`.
    const fn grpc(mut self, content_type: &'static str) -> Self {
        self.content_type = content_type;
        self
    }

    const fn reply(mut self) -> Self {
        self.style = Style::Reply;
        self
    }

    /// A HEAD through the keep-alive client: a body after it would break
    /// the next response on the connection.
    const fn over_reqwest(mut self) -> Self {
        self.head_over_reqwest = true;
        self
    }

    pub(crate) fn via(&self) -> Via {
        // gRPC calls each on their own connection: over the shared
        // keep-alive client, the request after a gRPC answer from actix-web
        // failed now and then to send (seen, not investigated further; a
        // gRPC client speaks HTTP/2 anyway, as tests/tests/grpc.rs does).
        if self.accept.is_empty()
            || (self.method == M::Head && !self.head_over_reqwest)
            || self.content_type.starts_with("application/grpc")
        {
            Via::Raw
        } else {
            Via::Reqwest
        }
    }

    /// The `x-request-id` field lines the client sends in case `index`.
    pub(crate) fn sent_ids(&self, index: usize) -> Vec<Vec<u8>> {
        match self.id {
            Id::Absent => Vec::new(),
            Id::Sent => vec![format!("client-rid-{index:02}").into_bytes()],
            Id::Fields(fields) => fields.iter().map(|field| field.to_vec()).collect(),
        }
    }

    /// The request id the server must echo; `None` when it must generate
    /// one.
    pub(crate) fn echoed_id(&self, index: usize) -> Option<String> {
        let first = self.sent_ids(index).into_iter().next()?;
        String::from_utf8(first)
            .ok()
            .filter(|id| RequestId::is_valid(id))
    }
}

pub(crate) fn path(index: usize) -> String {
    format!("/case/{index}")
}

pub(crate) const NONE: &[&str] = &[];
pub(crate) const ANY: &[&str] = &["*/*"];
pub(crate) const JSON: &[&str] = &["application/json"];
pub(crate) const PROBLEM: &[&str] = &["application/problem+json"];
pub(crate) const HTML: &[&str] = &["text/html"];
pub(crate) const TEXT: &[&str] = &["text/plain"];
pub(crate) const Q_MIX: &[&str] = &["text/html;q=0.5, application/problem+json"];
const Q_LADDER: &[&str] = &["text/plain;q=0.9, text/html;q=0.8, application/json;q=0.1"];
pub(crate) const BROWSER: &[&str] = &[
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
];
pub(crate) const IMAGE: &[&str] = &["image/png"];
const TWO_FIELDS: &[&str] = &["text/plain;q=0.5", "application/problem+json"];
const TWO_FIELDS_LOW: &[&str] = &["image/png", "text/html;q=0.2"];
const JSON_REFUSED: &[&str] = &["application/json;q=0, text/*"];
const TIE: &[&str] = &["text/*;q=0.3, application/*;q=0.3"];
const EMPTY: &[&str] = &[""];
const UPPER: &[&str] = &["TEXT/PLAIN"];
const NOTHING: &[&str] = &["*/*;q=0"];
const PROBLEM_PARAM: &[&str] = &["application/problem+json; charset=utf-8"];
const EMPTY_THEN_HTML: &[&str] = &["", "text/html"];

/// The longest valid request id, and one byte more.
const ID_128: &[u8] = &[b'a'; 128];
const ID_129: &[u8] = &[b'b'; 129];

use Failure as F;
use Id::{Absent, Fields, Sent};
use M::{Get, Head, Post};

/// The table. Route `/case/{n}` of every server returns row `n`'s error.
pub(crate) static CASES: &[Case] = &[
    Case::new(Get, NONE, Absent, F::Refused),
    Case::new(Get, ANY, Sent, F::Refused),
    Case::new(Get, JSON, Absent, F::BareBadGateway),
    Case::new(Get, PROBLEM, Sent, F::ProtocolDetailed),
    Case::new(Get, HTML, Sent, F::ProtocolDetailed),
    Case::new(Get, TEXT, Absent, F::ProtocolDetailed),
    Case::new(Post, PROBLEM, Sent, F::TerminatedWithId),
    Case::new(Get, Q_MIX, Absent, F::ResponseTimeout),
    Case::new(Post, Q_LADDER, Sent, F::ResponseTimeout),
    Case::new(Head, Q_MIX, Absent, F::ResponseTimeout),
    // 10
    Case::new(Get, BROWSER, Sent, F::ConnectTimeoutDate),
    Case::new(Head, BROWSER, Sent, F::ConnectTimeoutDate),
    Case::new(Get, IMAGE, Absent, F::BareTimeoutWithId),
    Case::new(Post, TWO_FIELDS, Sent, F::BareTimeoutWithId),
    Case::new(Get, TEXT, Sent, F::UnavailableRetry),
    Case::new(Head, TEXT, Sent, F::UnavailableRetry).over_reqwest(),
    Case::new(Get, TWO_FIELDS_LOW, Absent, F::UnavailableDateWithId),
    Case::new(Post, NONE, Absent, F::UnavailableDateWithId),
    Case::new(
        Get,
        JSON_REFUSED,
        Fields(&[b"two words"]),
        F::InternalConfig,
    ),
    Case::new(Get, HTML, Absent, F::BareInternal),
    // 20
    Case::new(Head, HTML, Absent, F::BareInternal),
    Case::new(Post, ANY, Sent, F::InternalRetry),
    Case::new(Get, PROBLEM, Absent, F::InternalRetry),
    Case::new(Get, TIE, Sent, F::KindDns),
    Case::new(Post, PROBLEM, Absent, F::KindDns),
    Case::new(Get, EMPTY, Sent, F::KindLimit),
    Case::new(Get, UPPER, Absent, F::KindLimit),
    Case::new(Post, HTML, Fields(&[b""]), F::KindReadTimeout),
    Case::new(Get, NOTHING, Sent, F::KindReadTimeout),
    Case::new(Get, PROBLEM_PARAM, Absent, F::KindNotFound),
    // 30
    Case::new(Head, NONE, Sent, F::KindNotFound),
    Case::new(Get, NONE, Sent, F::KindNotFound),
    Case::new(Get, PROBLEM, Sent, F::Refused).reply(),
    Case::new(Post, HTML, Absent, F::ResponseTimeout).reply(),
    Case::new(Head, TEXT, Absent, F::UnavailableRetry).reply(),
    Case::new(Get, TEXT, Absent, F::UnavailableRetry).reply(),
    Case::new(Get, JSON, Sent, F::BareInternal).reply(),
    Case::new(Get, BROWSER, Fields(&[b"two words"]), F::KindDns).reply(),
    Case::new(Get, HTML, Sent, F::BareTimeoutWithId).reply(),
    Case::new(Head, PROBLEM, Sent, F::ProtocolDetailed),
    // 40: request id edge cases.
    Case::new(Get, TEXT, Fields(&[b"first-id", b"second-id"]), F::Refused),
    Case::new(Get, HTML, Fields(&[b"caf\xe9"]), F::UnavailableRetry),
    Case::new(Post, PROBLEM, Fields(&[ID_128]), F::KindLimit),
    Case::new(Post, PROBLEM, Fields(&[ID_129]), F::KindLimit),
    Case::new(
        Get,
        EMPTY_THEN_HTML,
        Fields(&[b"", b"valid-second"]),
        F::BareInternal,
    ),
    // 45: gRPC callers (issue 19): a Trailers-Only answer whatever they
    // accept; gRPC-Web is another protocol, answered by `Accept`.
    Case::new(Post, NONE, Sent, F::Refused).grpc("application/grpc"),
    Case::new(Post, HTML, Absent, F::ProtocolDetailed).grpc("application/grpc+proto"),
    Case::new(Post, ANY, Sent, F::ResponseTimeout).grpc("application/grpc"),
    Case::new(Post, TEXT, Sent, F::UnavailableRetry).grpc("application/grpc"),
    Case::new(Post, JSON, Absent, F::InternalRetry).grpc("application/grpc"),
    Case::new(Post, NONE, Sent, F::KindNotFound).grpc("application/grpc"),
    // A date hint is a delay from the clock for gRPC (pushback, RetryInfo):
    // the delay forms only, so that the expected bytes are the server's.
    Case::new(Post, ANY, Sent, F::KindLimit)
        .grpc("application/grpc")
        .reply(),
    Case::new(Post, TEXT, Sent, F::Refused).grpc("application/grpc-web"),
];

/// The GET case a HEAD case is compared with: same error, same `Accept`,
/// same kind of request id (so bodies have the same length).
pub(crate) fn get_twin(head: &Case) -> Option<usize> {
    CASES.iter().position(|case| {
        case.method == M::Get
            && case.failure == head.failure
            && case.accept == head.accept
            && case.id == head.id
    })
}

/// The duration form of a hint, `Some(true)`; the date form, `Some(false)`.
pub(crate) fn retry_form(error: &GatewayError) -> Option<bool> {
    error.retry_after().map(|retry| retry.as_delay().is_some())
}

/// Whether the error has a source error.
pub(crate) fn has_source(error: &GatewayError) -> bool {
    std::error::Error::source(error).is_some()
}
