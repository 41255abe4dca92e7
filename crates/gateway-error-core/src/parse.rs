//! Client side: a gateway error response back into a [`GatewayError`].

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::{GatewayError, Inner, Reported};
use crate::grpc::{self, GRPC_RETRY_PUSHBACK_MS, GRPC_STATUS, GRPC_STATUS_DETAILS_BIN, GrpcCode};
use crate::proxy_status::{self, LastMember};
use crate::registry::ProxyError;
use crate::request_id::X_REQUEST_ID;
use crate::retry_after::{self, RetryAfter};
use crate::text::{self, MAX_DETAILS_LEN, MAX_NAME_LEN};

/// The largest body [`parse`] reads as JSON.
///
/// # Examples
///
/// ```
/// use gateway_error::{parse, ParseErrorKind, MAX_BODY_LEN};
/// use http::{HeaderMap, HeaderValue, StatusCode};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("content-type", HeaderValue::from_static("application/json"));
/// let body = vec![b' '; MAX_BODY_LEN + 1];
/// let err = parse(StatusCode::BAD_GATEWAY, &headers, &body).unwrap_err();
/// assert_eq!(err.kind(), ParseErrorKind::BodyTooLarge);
/// ```
pub const MAX_BODY_LEN: usize = 64 * 1024;

/// Why a response could not be read as a gateway error.
///
/// # Examples
///
/// ```
/// use gateway_error::{parse, ParseErrorKind};
/// use http::{HeaderMap, StatusCode};
///
/// let err = parse(StatusCode::NOT_FOUND, &HeaderMap::new(), b"").unwrap_err();
/// assert_eq!(err.kind(), ParseErrorKind::Status);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.kind.message())]
pub struct ParseError {
    kind: ParseErrorKind,
}

impl ParseError {
    /// What went wrong.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::{parse, ParseErrorKind};
    /// use http::{HeaderMap, HeaderValue, StatusCode};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("content-type", HeaderValue::from_static("application/json"));
    /// let err = parse(StatusCode::BAD_GATEWAY, &headers, b"{oops").unwrap_err();
    /// assert_eq!(err.kind(), ParseErrorKind::InvalidJson);
    /// ```
    #[must_use]
    pub fn kind(&self) -> ParseErrorKind {
        self.kind
    }
}

/// The kinds of [`ParseError`].
///
/// # Examples
///
/// ```
/// use gateway_error::{parse, ParseErrorKind};
/// use http::{HeaderMap, StatusCode};
///
/// let err = parse(StatusCode::OK, &HeaderMap::new(), b"").unwrap_err();
/// assert_eq!(err.kind(), ParseErrorKind::Status);
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParseErrorKind {
    /// The status is not 500, 502, 503 or 504.
    Status,
    /// A JSON body is larger than [`MAX_BODY_LEN`].
    BodyTooLarge,
    /// A body declared (or looking) as JSON is not valid JSON (RFC 8259),
    /// UTF-8 included, or nests deeper than 128 arrays and objects.
    InvalidJson,
}

impl ParseErrorKind {
    fn message(self) -> &'static str {
        match self {
            Self::Status => "status is not a gateway error (500, 502, 503, 504)",
            Self::BodyTooLarge => "error body is too large",
            Self::InvalidJson => "error body is not valid json",
        }
    }
}

impl From<ParseErrorKind> for ParseError {
    fn from(kind: ParseErrorKind) -> Self {
        Self { kind }
    }
}

/// Reads a gateway error response: its status, headers and body.
///
/// Both JSON shapes are read, the `{"error":{...}}` envelope and RFC 9457
/// problem details, leniently as RFC 9457 section 3.1 asks: members of the
/// wrong type and unknown members are ignored (read over, not kept), and a
/// member given twice counts as its last value. The members
/// are read typed and borrowed from `body`: one allocation per text member
/// kept, none for the rest. HTML, text and other bodies
/// give an error from the status and headers alone. The same sanitizing
/// rules apply as for errors built in code.
///
/// - `Retry-After` comes from the header, or else the body. Several field
///   lines count as the longest wait they ask for, and a delay too large to
///   represent saturates (a hint is never dropped; see
///   [`GatewayError::from_upstream_response`], which reads it the same way).
/// - `Proxy-Status` is read as one list of all its field lines, in order
///   (RFC 9110 section 5.3, RFC 8941 section 4.2). Its last member, the
///   intermediary closest to the client, gives the kind (its `error`, when
///   the body names none) and the received status (its `received-status`).
///   The whole field is kept as the error's
///   [`upstream_proxy_status`](GatewayError::upstream_proxy_status); one
///   longer than [`MAX_PROXY_STATUS_LEN`](crate::MAX_PROXY_STATUS_LEN)
///   is not read at all.
/// - The request id is the body's `request_id`, or else the `x-request-id`
///   header's value (so HTML, text and empty bodies keep it too); when both
///   are present, the body's wins.
///
///
/// What the response says is its sender's claim. The accessors return it
/// (`kind()`, `received_status()`, `details()`, `upstream_name()`,
/// `request_id()`, and `is_retryable` decides from it, as does the
/// [`retry`](crate::retry) policy): a client acts on what its gateway saw.
/// A gateway that renders the parsed error again to its own client relays
/// it instead, saying only what it saw itself, as
/// [`GatewayError::from_upstream_response`] does: its status for the one
/// it received (503 for a 503, else 502), `received-status` in its own
/// `Proxy-Status` member after the forwarded ones, its own canonical text
/// and request id, and a verdict from that (the request was sent). No
/// claim is adopted: an upstream gateway's `connection_refused` ("never
/// sent") would let clients re-send a POST that ran. Its wait
/// (`Retry-After`) and a `"retryable": false` are kept: a hint to wait or
/// to stop is never lost.
///
/// # Errors
///
/// [`ParseErrorKind::Status`] for a status other than 500, 502, 503 or 504;
/// [`ParseErrorKind::BodyTooLarge`] and [`ParseErrorKind::InvalidJson`] for a
/// JSON body that is over [`MAX_BODY_LEN`] or not JSON. It never panics.
///
/// # Examples
///
/// ```
/// use gateway_error::{parse, ProxyError, RetryAfter};
/// use http::{HeaderMap, HeaderValue, StatusCode};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("content-type", HeaderValue::from_static("application/problem+json"));
/// headers.insert("retry-after", HeaderValue::from_static("30"));
/// let body = br#"{"title":"Service Unavailable","status":503,"detail":"Down for maintenance.","kind":"destination_unavailable"}"#;
/// let err = parse(StatusCode::SERVICE_UNAVAILABLE, &headers, body)?;
/// assert_eq!(err.status(), 503);
/// assert_eq!(err.details(), Some("Down for maintenance."));
/// assert_eq!(err.kind(), Some(ProxyError::DestinationUnavailable));
/// assert_eq!(err.retry_after(), Some(RetryAfter::from_secs(30)));
///
/// let mut headers = HeaderMap::new();
/// headers.append("proxy-status", HeaderValue::from_static("db-proxy;error=connection_refused"));
/// headers.append("proxy-status", HeaderValue::from_static("edge;error=http_response_timeout;received-status=503"));
/// headers.insert("x-request-id", HeaderValue::from_static("req-9"));
/// let err = parse(StatusCode::GATEWAY_TIMEOUT, &headers, b"<!DOCTYPE html><title>504</title>")?;
/// assert_eq!(err.kind(), Some(ProxyError::HttpResponseTimeout));
/// assert_eq!(err.received_status(), Some(StatusCode::SERVICE_UNAVAILABLE));
/// assert_eq!(err.request_id(), Some("req-9"));
/// assert_eq!(
///     err.upstream_proxy_status().map(|v| v.as_bytes()),
///     Some(&b"db-proxy;error=connection_refused, edge;error=http_response_timeout;received-status=503"[..]),
/// );
/// # Ok::<(), gateway_error::ParseError>(())
/// ```
pub fn parse(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<GatewayError, ParseError> {
    if let Some(code) = headers.get(&GRPC_STATUS) {
        return parse_grpc(status, code, headers);
    }
    if !matches!(status.as_u16(), 500 | 502 | 503 | 504) {
        return Err(ParseErrorKind::Status.into());
    }
    // The wait and the `Proxy-Status` members travel on; everything else
    // the response says is its sender's claim (see `Inner::reported`).
    let mut inner = Inner {
        retry_after: retry_after::from_headers(headers),
        ..Inner::default()
    };
    let mut reported = Reported::default();
    if let Some(field) = proxy_status::upstream_field(headers) {
        // The last member is the intermediary closest to us, which
        // generated this response.
        let last = LastMember::of(field.as_bytes());
        reported.kind = last.error;
        reported.received_status = last.received_status;
        inner.upstream_proxy_status = Some(field);
    }

    if is_json(headers, body) {
        if body.len() > MAX_BODY_LEN {
            return Err(ParseErrorKind::BodyTooLarge.into());
        }
        // One UTF-8 check for the whole body (RFC 8259 section 8.1), so the
        // members that are skipped unread are valid text too.
        let text =
            std::str::from_utf8(body).map_err(|_| ParseError::from(ParseErrorKind::InvalidJson))?;
        let Lenient(body) = serde_json::from_str::<Lenient<Body<'_>>>(text)
            .map_err(|_| ParseError::from(ParseErrorKind::InvalidJson))?;
        if let Some(body) = body {
            body.read_into(&mut reported, &mut inner.retry_after);
        }
    }
    if reported.request_id.is_none() {
        reported.request_id = headers
            .get(&X_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .and_then(|id| crate::request_id::clean_request_id(Cow::Owned(id.to_owned())));
    }
    inner.reported = Some(reported);
    Ok(GatewayError::for_status(status, inner))
}

/// [`parse`] for a gRPC answer: `grpc-status` in `headers` (a
/// Trailers-Only answer's head, or the trailers after a body).
fn parse_grpc(
    status: StatusCode,
    code: &HeaderValue,
    headers: &HeaderMap,
) -> Result<GatewayError, ParseError> {
    let code = GrpcCode::from_bytes(code.as_bytes());
    // gRPC answers are HTTP 200; `OK` is no error.
    if status != StatusCode::OK || code == GrpcCode::OK {
        return Err(ParseErrorKind::Status.into());
    }
    let pushback = headers
        .get(&GRPC_RETRY_PUSHBACK_MS)
        .and_then(|value| grpc::read_pushback(value.to_str().ok()?));
    let details = headers
        .get(&GRPC_STATUS_DETAILS_BIN)
        .and_then(|value| grpc::details::decode_base64(value.as_bytes()));
    let read = details
        .as_deref()
        .and_then(grpc::details::read)
        .unwrap_or_default();
    let mut inner = Inner {
        retry_after: grpc::wait(pushback, || read.retry_delay),
        ..Inner::default()
    };
    let mut reported = Reported {
        kind: read
            .reason
            .and_then(|reason| std::str::from_utf8(reason).ok()?.parse().ok()),
        // The sender's verdict, as its code and pushback say it (see
        // `Format::Grpc`): `UNAVAILABLE` only when a retry may be sent.
        retryable: if pushback.is_some_and(|ms| ms < 0) {
            Some(false)
        } else {
            (code == GrpcCode::UNAVAILABLE).then_some(true)
        },
        ..Reported::default()
    };
    if let Some(field) = proxy_status::upstream_field(headers) {
        let last = LastMember::of(field.as_bytes());
        reported.kind = last.error.or(reported.kind);
        reported.received_status = last.received_status;
        inner.upstream_proxy_status = Some(field);
    }
    reported.request_id = headers
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .and_then(|id| crate::request_id::clean_request_id(Cow::Owned(id.to_owned())));
    inner.reported = Some(reported);
    // The HTTP status an HTTP client would have had, when the details say
    // it; else the one the code stands for.
    let status = read
        .status
        .and_then(|status| StatusCode::from_bytes(status).ok())
        .filter(|status| matches!(status.as_u16(), 500 | 502 | 503 | 504))
        .unwrap_or_else(|| grpc::status_for(code));
    Ok(GatewayError::for_status(status, inner))
}

/// Whether a response whose head is `status` and `headers` may carry, in
/// its body, what [`parse`] reads beyond the head (a gateway's
/// `"retryable": false`, its kind): a gateway error status, a JSON
/// `Content-Type`, and no `Content-Length` over [`MAX_BODY_LEN`]. Client
/// integrations buffer such a body only then.
#[cfg_attr(
    not(any(feature = "tower", feature = "reqwest-middleware")),
    allow(dead_code)
)]
pub(crate) fn may_hold_a_verdict(status: StatusCode, headers: &HeaderMap) -> bool {
    matches!(status.as_u16(), 500 | 502 | 503 | 504)
        && headers.contains_key(CONTENT_TYPE)
        && is_json(headers, b"")
        && headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|len| len.to_str().ok()?.parse::<usize>().ok())
            .is_none_or(|len| len <= MAX_BODY_LEN)
}

fn is_json(headers: &HeaderMap, body: &[u8]) -> bool {
    match headers
        .get(CONTENT_TYPE)
        .filter(|v| v.to_str().is_ok())
        .map(HeaderValue::as_bytes)
    {
        Some(content_type) => {
            // Bytes, not `str` patterns: this runs on every parse.
            let essence = content_type
                .split(|&b| b == b';')
                .next()
                .unwrap_or_default()
                .trim_ascii();
            let Some(slash) = essence.iter().position(|&b| b == b'/') else {
                return false;
            };
            let (kind, subtype) = (&essence[..slash], &essence[slash + 1..]);
            kind.eq_ignore_ascii_case(b"application")
                && (subtype.eq_ignore_ascii_case(b"json")
                    || subtype.len() > 5
                        && subtype[subtype.len() - 5..].eq_ignore_ascii_case(b"+json"))
        }
        None => body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'),
    }
}

/// The members `parse` reads, borrowed from the body where they need no
/// unescaping.
#[derive(Default)]
struct Members<'a> {
    details: Option<Cow<'a, str>>,
    upstream: Option<Cow<'a, str>>,
    kind: Option<Cow<'a, str>>,
    request_id: Option<Cow<'a, str>>,
    retry_after: Option<RetryAfter>,
    retryable: Option<bool>,
}

/// A JSON body: RFC 9457 problem details at the top level (`detail`), or,
/// when an `error` member is an object, the envelope inside it (`details`).
struct Body<'a> {
    problem: Members<'a>,
    envelope: Option<Members<'a>>,
}

impl Body<'_> {
    /// Puts the members into what the response reported, and its
    /// `retry_after` into `retry_after` when the head gave none.
    fn read_into(self, reported: &mut Reported, retry_after: &mut Option<RetryAfter>) {
        let members = self.envelope.unwrap_or(self.problem);
        let owned = |s: Cow<'_, str>| Cow::Owned(s.into_owned());
        if let Some(details) = members.details {
            reported.details = Some(text::clean(owned(details), MAX_DETAILS_LEN));
        }
        if let Some(upstream) = members.upstream {
            reported.upstream = Some(text::clean(owned(upstream), MAX_NAME_LEN));
        }
        if let Some(kind) = members.kind.and_then(|k| k.parse::<ProxyError>().ok()) {
            reported.kind = Some(kind);
        }
        if let Some(id) = members.request_id {
            reported.request_id = crate::request_id::clean_request_id(owned(id));
        }
        if retry_after.is_none() {
            *retry_after = members.retry_after;
        }
        reported.retryable = members.retryable;
    }
}

/// A member kept only when its value has the type wanted (RFC 9457 section
/// 3.1: "a member of the wrong type MUST be ignored"): any other JSON value,
/// of any shape and depth, is read over and gives `None`.
struct Lenient<T>(Option<T>);

/// The JSON types a [`Lenient`] member accepts; every other type is `None`.
trait Wanted<'de>: Sized {
    fn from_str(_: Cow<'de, str>) -> Option<Self> {
        None
    }

    fn from_u64(_: u64) -> Option<Self> {
        None
    }

    fn from_bool(_: bool) -> Option<Self> {
        None
    }

    /// A number serde_json read as a float: a fraction, an exponent, or an
    /// integer past `u64`.
    fn from_f64(_: f64) -> Option<Self> {
        None
    }

    fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(None)
    }
}

/// No type wanted: a member read over and dropped.
enum Skipped {}

impl Wanted<'_> for Skipped {}

/// Any JSON value, read over. Unlike `serde::de::IgnoredAny`, which
/// serde_json skips without recursing, it nests through `deserialize_any`,
/// so serde_json's depth limit (128) holds in skipped members as in read
/// ones: a body nested deeper is invalid wherever the nesting is.
type Skip = Lenient<Skipped>;

impl<'de> Wanted<'de> for Cow<'de, str> {
    fn from_str(s: Cow<'de, str>) -> Option<Self> {
        Some(s)
    }
}

/// `retryable`: a boolean.
impl Wanted<'_> for bool {
    fn from_bool(v: bool) -> Option<Self> {
        Some(v)
    }
}

/// `retry_after`: delay-seconds as a non-negative whole number, or any form
/// `RetryAfter` parses as a string. A delay past `u32::MAX` seconds
/// saturates, as in the header: a hint is never dropped for being large.
impl<'de> Wanted<'de> for RetryAfter {
    fn from_str(s: Cow<'de, str>) -> Option<Self> {
        s.parse().ok()
    }

    fn from_u64(n: u64) -> Option<Self> {
        Some(Self::from_secs(u32::try_from(n).unwrap_or(u32::MAX)))
    }

    fn from_f64(n: f64) -> Option<Self> {
        // Whole and non-negative only (`1e3`, an integer past `u64`); the
        // cast saturates at `u32::MAX`.
        (n >= 0.0 && n.fract() == 0.0).then(|| Self::from_secs(n as u32))
    }
}

impl<'de> Wanted<'de> for Body<'de> {
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
        let (problem, envelope) = read_members(map, false)?;
        Ok(Some(Self { problem, envelope }))
    }
}

/// An object as the members of the `{"error":{...}}` envelope.
impl<'de> Wanted<'de> for Members<'de> {
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
        read_members(map, true).map(|(members, _)| Some(members))
    }
}

/// Reads the members of an object: `detail` at the top level, `details` in
/// the envelope, and (at the top level) `error`. A member given twice counts
/// as its last value, as `serde_json::Value` reads it; unknown members are
/// read over.
fn read_members<'de, A: MapAccess<'de>>(
    mut map: A,
    in_envelope: bool,
) -> Result<(Members<'de>, Option<Members<'de>>), A::Error> {
    let mut members = Members::default();
    let mut envelope = None;
    while let Some(key) = map.next_key::<Key>()? {
        match (key, in_envelope) {
            (Key::Detail, false) | (Key::Details, true) => {
                members.details = map.next_value::<Lenient<_>>()?.0;
            }
            (Key::Upstream, _) => members.upstream = map.next_value::<Lenient<_>>()?.0,
            (Key::Kind, _) => members.kind = map.next_value::<Lenient<_>>()?.0,
            (Key::RequestId, _) => members.request_id = map.next_value::<Lenient<_>>()?.0,
            (Key::RetryAfter, _) => members.retry_after = map.next_value::<Lenient<_>>()?.0,
            (Key::Retryable, _) => members.retryable = map.next_value::<Lenient<_>>()?.0,
            (Key::Error, false) => envelope = map.next_value::<Lenient<_>>()?.0,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
    }
    Ok((members, envelope))
}

impl<'de, T: Wanted<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LenientVisitor(PhantomData))
    }
}

struct LenientVisitor<T>(PhantomData<T>);

impl<'de, T: Wanted<'de>> Visitor<'de> for LenientVisitor<T> {
    type Value = Lenient<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Lenient(T::from_str(Cow::Borrowed(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Lenient(T::from_str(Cow::Owned(v.to_owned()))))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Lenient(T::from_str(Cow::Owned(v))))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Lenient(T::from_u64(v)))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Lenient(T::from_f64(v)))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Lenient(T::from_bool(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Lenient(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::from_map(map).map(Lenient)
    }
}

/// The member names `parse` reads; every other name is [`Key::Other`].
/// Matched without allocating, escaped or not.
enum Key {
    Detail,
    Details,
    Upstream,
    Kind,
    RequestId,
    RetryAfter,
    Retryable,
    Error,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl Visitor<'_> for KeyVisitor {
            type Value = Key;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(match v {
                    "detail" => Key::Detail,
                    "details" => Key::Details,
                    "upstream" => Key::Upstream,
                    "kind" => Key::Kind,
                    "request_id" => Key::RequestId,
                    "retry_after" => Key::RetryAfter,
                    "retryable" => Key::Retryable,
                    "error" => Key::Error,
                    _ => Key::Other,
                })
            }
        }

        deserializer.deserialize_identifier(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy_status::PROXY_STATUS;
    use http::{HeaderValue, Method};

    fn json_headers(content_type: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers
    }

    /// An upstream gateway's answer, parsed and rendered again by this one:
    /// a relay of what this hop saw. None of the answer's claims (its kind,
    /// text, upstream name, request id) become ours; its members are
    /// forwarded under the policy and its wait is kept.
    #[test]
    fn a_parsed_answer_renders_as_a_relay_never_adopted() {
        use crate::context::{Policy, RenderContext};
        use crate::render::render;
        let mut headers = json_headers("application/json");
        headers.insert(
            &PROXY_STATUS,
            HeaderValue::from_static("x;error=connection_refused"),
        );
        headers.insert(&X_REQUEST_ID, HeaderValue::from_static("theirs"));
        headers.insert("retry-after", HeaderValue::from_static("7"));
        let body = br#"{"error":{"code":502,"message":"Bad Gateway","details":"db-7.internal is down","upstream":"db-7","kind":"connection_refused","retryable":true,"request_id":"theirs"}}"#;
        let err = parse(StatusCode::BAD_GATEWAY, &headers, body).expect("parses");
        // A client acts on what its gateway said: it never sent the POST.
        assert_eq!(err.kind(), Some(ProxyError::ConnectionRefused));
        assert_eq!(err.details(), Some("db-7.internal is down"));
        assert_eq!(err.upstream_name(), Some("db-7"));
        assert_eq!(err.request_id(), Some("theirs"));
        assert!(err.is_retryable(&Method::POST));
        // A gateway relaying it says what it saw: it received a 502, so its
        // POST was sent, and may have been processed.
        let policy = Policy::new().with_proxy_name("edge");
        for (method, retryable) in [(Method::POST, false), (Method::GET, true)] {
            let ctx = RenderContext::new()
                .with_method(&method)
                .with_request_id("ours")
                .with_policy(&policy);
            let response = render(&err, &ctx);
            assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
            assert_eq!(
                response.headers()[&PROXY_STATUS],
                "upstream;error=connection_refused, edge;received-status=502"
            );
            assert_eq!(response.headers()["retry-after"], "7");
            assert_eq!(response.headers()[&X_REQUEST_ID], "ours");
            let want = format!(
                r#"{{"error":{{"code":502,"message":"Bad Gateway","details":"The server received an invalid response from the upstream server while trying to fulfill the request.","retryable":{retryable},"retry_after":7,"request_id":"ours"}}}}"#
            );
            assert_eq!(
                std::str::from_utf8(response.body()).expect("utf-8"),
                want,
                "{method}"
            );
        }
        // Its 503 and 504 relay as this hop's 503 and 502; a "no" in its
        // body is kept, so that a stop is never lost.
        let no = br#"{"error":{"code":503,"retryable":false}}"#;
        let unavailable = parse(
            StatusCode::SERVICE_UNAVAILABLE,
            &json_headers("application/json"),
            no,
        )
        .expect("parses");
        let response = render(
            &unavailable,
            &RenderContext::new().with_method(&Method::GET),
        );
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            std::str::from_utf8(response.body())
                .expect("utf-8")
                .contains(r#""retryable":false"#)
        );
        let timeout = parse(StatusCode::GATEWAY_TIMEOUT, &HeaderMap::new(), b"").expect("parses");
        let ctx = RenderContext::new().with_policy(&policy);
        let response = render(&timeout, &ctx);
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(
            response.headers()[&PROXY_STATUS],
            "edge;received-status=504"
        );
    }

    #[test]
    fn wrong_types_are_ignored() {
        let body = br#"{"error":{"code":"x","details":7,"upstream":["a"],"kind":"nope","retry_after":-3,"request_id":null}}"#;
        let err = parse(
            StatusCode::BAD_GATEWAY,
            &json_headers("application/json"),
            body,
        )
        .expect("lenient");
        assert_eq!(err.details(), None);
        assert_eq!(err.upstream_name(), None);
        assert_eq!(err.kind(), None);
        assert_eq!(err.retry_after(), None);
        assert_eq!(err.request_id(), None);
    }

    /// What `parse` read through `serde_json::Value` before it read typed
    /// and borrowed, cleaned the same way: (details, upstream, kind,
    /// request_id, retry_after).
    fn by_value(body: &[u8]) -> Option<[Option<String>; 5]> {
        use serde_json::Value;
        let value: Value = serde_json::from_slice(body).ok()?;
        let Value::Object(object) = &value else {
            return Some(Default::default());
        };
        let (members, details_key) = match object.get("error") {
            Some(Value::Object(envelope)) => (envelope, "details"),
            _ => (object, "detail"),
        };
        let string = |key: &str| members.get(key).and_then(Value::as_str).map(str::to_owned);
        let retry_after = match members.get("retry_after") {
            // Whole and non-negative; past `u32::MAX` seconds, saturated.
            Some(Value::Number(n)) => n
                .as_u64()
                .map(|secs| u32::try_from(secs).unwrap_or(u32::MAX))
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                        .map(|f| f as u32)
                })
                .map(RetryAfter::from_secs),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        let clean = |s: String, max| text::clean(Cow::Owned(s), max).into_owned();
        Some([
            string(details_key).map(|s| clean(s, MAX_DETAILS_LEN)),
            string("upstream").map(|s| clean(s, MAX_NAME_LEN)),
            string("kind").filter(|k| k.parse::<ProxyError>().is_ok()),
            string("request_id")
                .and_then(|s| crate::request_id::clean_request_id(Cow::Owned(s)))
                .map(Cow::into_owned),
            retry_after.map(|r| r.to_string()),
        ])
    }

    #[test]
    fn typed_reading_matches_the_value_reading() {
        let bodies: &[&[u8]] = &[
            br#"{"error":{"code":"bad_gateway","details":"d","upstream":"u","kind":"connection_refused","retryable":true,"retry_after":30,"request_id":"r"}}"#,
            br#"{"type":"about:blank","title":"Bad Gateway","status":502,"detail":"d","upstream":"u","kind":"dns_timeout","retry_after":"Sun, 06 Nov 1994 08:49:37 GMT","request_id":"r"}"#,
            // Wrong types, at every depth, are ignored.
            br#"{"detail":{"a":[1,{"b":null}]},"upstream":["u"],"kind":7,"retry_after":-3,"request_id":false}"#,
            br#"{"detail":1.5e300,"upstream":null,"kind":"nope","retry_after":4294967296,"request_id":{}}"#,
            br#"{"retry_after":30.0}"#,
            br#"{"retry_after":30.5}"#,
            br#"{"retry_after":1e3}"#,
            br#"{"retry_after":18446744073709551616}"#,
            br#"{"retry_after":"99999999999999999999"}"#,
            br#"{"retry_after":"120"}"#,
            // `error` that is not an object: the top level is read.
            br#"{"error":"oops","detail":"top","details":"not read"}"#,
            br#"{"error":["x"],"detail":"top"}"#,
            br#"{"error":{},"detail":"top is not read"}"#,
            br#"{"error":{"detail":"not read","details":"env"},"upstream":"top is not read"}"#,
            // A member given twice counts as its last value, even of the wrong type.
            br#"{"detail":"first","detail":"second","kind":"dns_timeout","kind":5}"#,
            br#"{"error":{"details":"a"},"error":"b","detail":"top"}"#,
            br#"{"error":{"details":"a"},"error":{"upstream":"b"}}"#,
            // Escapes in names and values.
            br#"{"\u0064etail":"esc\"aped \u00e9 \ud83d\ude00","upstream":"a\/b","request_id":"r\u0021"}"#,
            br#"{"error":{"det\u0061ils":"x\ny"}}"#,
            // Not objects.
            b"[]",
            b"[1,{\"detail\":\"x\"}]",
            b"\"detail\"",
            b"42",
            b"null",
            b" {} ",
            // Invalid: all of them, wherever the fault is.
            b"{",
            b"{\"detail\":\"x\"} trailing",
            b"{\"other\":\"\xff\"}",
            b"{\"detail\":\"\xc3\"}",
            b"{\"detail\":\"\\ud800\"}",
            b"{\"a\":[1,2,]}",
            b"{\"a\":01}",
            b"{\"a\":tru}",
            b"{\"a\":\"\x01\"}",
        ];
        let headers = json_headers("application/json");
        for body in bodies {
            let expected = by_value(body);
            let ours = parse(StatusCode::BAD_GATEWAY, &headers, body)
                .ok()
                .map(|err| {
                    [
                        err.details().map(str::to_owned),
                        err.upstream_name().map(str::to_owned),
                        err.kind().map(|k| k.as_str().to_owned()),
                        err.request_id().map(str::to_owned),
                        err.retry_after().map(|r| r.to_string()),
                    ]
                });
            assert_eq!(ours, expected, "{}", String::from_utf8_lossy(body));
        }
        // Nesting is limited as `serde_json::Value` limits it (128), in
        // members that are read over as in the rest.
        for key in ["other", "detail", "retry_after", "error"] {
            for (open, close) in [("[", "]"), (r#"{"a":"#, "}")] {
                for (depth, valid) in [(120, true), (200, false)] {
                    let deep = format!(
                        r#"{{"{key}":{}1{},"upstream":"u"}}"#,
                        open.repeat(depth),
                        close.repeat(depth)
                    );
                    let expected = by_value(deep.as_bytes());
                    assert_eq!(expected.is_some(), valid, "{deep}");
                    let parsed = parse(StatusCode::BAD_GATEWAY, &headers, deep.as_bytes());
                    match parsed {
                        Ok(err) => {
                            assert!(valid, "{key} {open} {depth}");
                            assert_eq!(
                                err.upstream_name().map(str::to_owned),
                                expected.and_then(|[_, upstream, ..]| upstream),
                                "{key} {open} {depth}"
                            );
                        }
                        Err(err) => {
                            assert!(!valid, "{key} {open} {depth}");
                            assert_eq!(err.kind(), ParseErrorKind::InvalidJson);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn non_json_bodies_give_status_only() {
        let err = parse(
            StatusCode::GATEWAY_TIMEOUT,
            &json_headers("text/html; charset=utf-8"),
            b"<!DOCTYPE html><p>{not json}</p>",
        )
        .expect("html is fine");
        assert_eq!(err.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(err.details(), None);
    }

    #[test]
    fn json_errors_are_clear() {
        let headers = json_headers("application/vnd.api+json");
        let deep = "[".repeat(10_000);
        let err = parse(StatusCode::BAD_GATEWAY, &headers, deep.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), ParseErrorKind::InvalidJson);
        assert_eq!(err.to_string(), "error body is not valid json");
        let err = parse(StatusCode::BAD_GATEWAY, &headers, &[0xff, 0xfe]).unwrap_err();
        assert_eq!(err.kind(), ParseErrorKind::InvalidJson);
        let big = vec![b' '; MAX_BODY_LEN + 1];
        let err = parse(StatusCode::BAD_GATEWAY, &headers, &big).unwrap_err();
        assert_eq!(err.kind(), ParseErrorKind::BodyTooLarge);
        // Without a Content-Type, a body is JSON only when it looks like an object.
        let err = parse(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b" {").unwrap_err();
        assert_eq!(err.kind(), ParseErrorKind::InvalidJson);
        assert!(parse(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"oops").is_ok());
    }

    #[test]
    fn kind_falls_back_to_the_last_proxy_status_member() {
        let mut headers = HeaderMap::new();
        headers.insert(
            &PROXY_STATUS,
            HeaderValue::from_static("inner; error=dns_timeout, edge; error=connection_refused"),
        );
        let err = parse(StatusCode::BAD_GATEWAY, &headers, b"").expect("parses");
        assert_eq!(err.kind(), Some(ProxyError::ConnectionRefused));
        assert_eq!(
            err.upstream_proxy_status().map(HeaderValue::as_bytes),
            Some(&b"inner; error=dns_timeout, edge; error=connection_refused"[..])
        );
    }

    #[test]
    fn every_proxy_status_line_is_read_and_the_last_member_decides() {
        let mut headers = HeaderMap::new();
        headers.append(
            &PROXY_STATUS,
            HeaderValue::from_static("inner;error=connection_refused"),
        );
        headers.append(
            &PROXY_STATUS,
            HeaderValue::from_static("edge;error=http_response_timeout"),
        );
        let err = parse(StatusCode::GATEWAY_TIMEOUT, &headers, b"").expect("parses");
        assert_eq!(err.kind(), Some(ProxyError::HttpResponseTimeout));
        assert!(!err.is_retryable(&Method::POST));
        assert!(err.is_retryable(&Method::GET));
        assert_eq!(
            err.upstream_proxy_status().map(HeaderValue::as_bytes),
            Some(&b"inner;error=connection_refused, edge;error=http_response_timeout"[..])
        );
        // A last member without a registry `error` says nothing of the kind,
        // whatever an earlier one said.
        headers.append(
            &PROXY_STATUS,
            HeaderValue::from_static("outer;error=not_registered"),
        );
        let err = parse(StatusCode::GATEWAY_TIMEOUT, &headers, b"").expect("parses");
        assert_eq!(err.kind(), None);
        // One invalid line makes the whole field invalid (RFC 8941 section 4.2).
        headers.append(&PROXY_STATUS, HeaderValue::from_static("(unclosed"));
        let err = parse(StatusCode::GATEWAY_TIMEOUT, &headers, b"").expect("parses");
        assert_eq!(err.kind(), None);
    }

    #[test]
    fn received_status_comes_from_the_last_member() {
        let parsed = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(&PROXY_STATUS, HeaderValue::from_static(value));
            parse(StatusCode::BAD_GATEWAY, &headers, b"").expect("parses")
        };
        let err = parsed("a;received-status=503, b;error=http_protocol_error;received-status=500");
        assert_eq!(
            err.received_status(),
            Some(StatusCode::INTERNAL_SERVER_ERROR)
        );
        assert_eq!(err.kind(), Some(ProxyError::HttpProtocolError));
        assert_eq!(parsed("a;received-status=503, b").received_status(), None);
        // The last of a repeated key counts (RFC 8941 section 4.2.3.2).
        let err = parsed("b;received-status=500;received-status=503");
        assert_eq!(err.received_status(), Some(StatusCode::SERVICE_UNAVAILABLE));
        for not_a_status in [
            r#"b;received-status="503""#,
            "b;received-status=99",
            "b;received-status=1000",
            "b;received-status=-502",
            "b;received-status=5.03",
            "(b;received-status=502)",
        ] {
            assert_eq!(
                parsed(not_a_status).received_status(),
                None,
                "{not_a_status}"
            );
        }
    }

    #[test]
    fn the_request_id_header_counts_when_the_body_has_none() {
        let with_id = |content_type: &'static str| {
            let mut headers = json_headers(content_type);
            headers.insert(&X_REQUEST_ID, HeaderValue::from_static("req-77"));
            headers
        };
        for (content_type, body) in [
            (
                "text/html; charset=utf-8",
                &b"<!DOCTYPE html><title>502</title>"[..],
            ),
            ("text/plain; charset=utf-8", b"502 Bad Gateway\n"),
            ("text/plain", b""),
            ("application/json", br#"{"error":{"code":"bad_gateway"}}"#),
            (
                "application/problem+json",
                br#"{"status":502,"request_id":7}"#,
            ),
        ] {
            let err = parse(StatusCode::BAD_GATEWAY, &with_id(content_type), body).expect("parses");
            assert_eq!(err.request_id(), Some("req-77"), "{content_type}");
        }
        // The body's id wins over the header's.
        let body = br#"{"type":"about:blank","status":502,"request_id":"from-body"}"#;
        let err = parse(
            StatusCode::BAD_GATEWAY,
            &with_id("application/problem+json"),
            body,
        )
        .expect("parses");
        assert_eq!(err.request_id(), Some("from-body"));
        // The header is cleaned as an id set in code would be.
        let mut headers = HeaderMap::new();
        headers.insert(&X_REQUEST_ID, HeaderValue::from_static("a b"));
        let err = parse(StatusCode::BAD_GATEWAY, &headers, b"").expect("parses");
        assert_eq!(err.request_id(), Some("a_b"));
        headers.insert(&X_REQUEST_ID, HeaderValue::from_static(""));
        let err = parse(StatusCode::BAD_GATEWAY, &headers, b"").expect("parses");
        assert_eq!(err.request_id(), None);
    }

    #[test]
    fn json_is_told_by_the_media_type() {
        for (content_type, json) in [
            ("application/json", true),
            ("Application/JSON ; charset=utf-8", true),
            ("  application/json;x=y", true),
            ("application/problem+json", true),
            ("application/vnd.api+JSON", true),
            ("application/+json", false),
            ("application/jsonx", false),
            ("application/json-seq", false),
            ("text/json", false),
            ("application", false),
            ("", false),
            ("json", false),
        ] {
            assert_eq!(
                is_json(&json_headers(content_type), b"{}"),
                json,
                "{content_type:?}"
            );
        }
        // A Content-Type that is not visible ASCII counts as none: the body decides.
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_bytes(b"text/\xe9").expect("obs-text is allowed"),
        );
        assert!(is_json(&headers, b" {}"));
        assert!(!is_json(&headers, b"<p>"));
    }

    #[test]
    fn only_gateway_statuses_parse() {
        for status in [200, 400, 404, 501, 505] {
            let status = StatusCode::from_u16(status).expect("valid");
            assert_eq!(
                parse(status, &HeaderMap::new(), b"").unwrap_err().kind(),
                ParseErrorKind::Status
            );
        }
    }
}
