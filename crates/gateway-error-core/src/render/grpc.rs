//! The gRPC answer to a gateway error: a Trailers-Only response (gRPC's
//! PROTOCOL-HTTP2.md), HTTP 200 with no body and the error in
//! `grpc-status`, `grpc-message` and `grpc-retry-pushback-ms` (gRFC A6),
//! and with the `grpc-details` feature a `google.rpc.Status` in
//! `grpc-status-details-bin`.
//!
//! The code follows the retry verdict, never the other way round: a gRPC
//! client's retry policy usually lists `UNAVAILABLE` as retryable, so only
//! a request this gateway says may be sent again gets it.

use std::sync::LazyLock;

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::context::RenderContext;
use crate::error::Inner;
use crate::grpc::{
    GRPC_MESSAGE, GRPC_RETRY_PUSHBACK_MS, GRPC_STATUS, GRPC_STATUS_DETAILS_BIN, GrpcCode,
};
use crate::negotiate::Format;
use crate::proxy_status::{PROXY_STATUS, proxy_status_len, write_proxy_status};
use crate::request_id::X_REQUEST_ID;
use crate::retry_after::RetryAfter;

use super::body::{Decimal, Sink, View};
use super::fields::{Field, RenderedFields, http_map, shared};
use super::{RenderedParts, push};

/// The gRPC status code for an error, per status, verdict and what the
/// upstream answered:
///
/// - a 500 (this gateway's own fault) is `INTERNAL`;
/// - a request that may be sent again (`"retryable": true`: it never
///   reached the upstream, or its method is idempotent, and a retry can
///   help) is `UNAVAILABLE`, as grpc's `http-grpc-status-mapping.md` maps
///   502, 503 and 504 and as Envoy answers its local replies;
/// - any other is a code no standard retry policy retries: the code a gRPC
///   upstream answered on purpose (`NOT_FOUND`, `INVALID_ARGUMENT`...),
///   relayed; for a 504, `DEADLINE_EXCEEDED` (as linkerd2-proxy answers a
///   504); otherwise `UNKNOWN` (a request that may have run, or that a
///   retry cannot help).
pub(crate) fn code(status: StatusCode, inner: &Inner, retryable: Option<bool>) -> GrpcCode {
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        GrpcCode::INTERNAL
    } else if retryable == Some(true) {
        GrpcCode::UNAVAILABLE
    } else if let Some(code) = inner
        .received_grpc_status()
        .filter(|code| code.is_an_answer())
    {
        code
    } else if status == StatusCode::GATEWAY_TIMEOUT {
        GrpcCode::DEADLINE_EXCEEDED
    } else {
        GrpcCode::UNKNOWN
    }
}

/// The `grpc-retry-pushback-ms` value: the wait in milliseconds when a
/// retry is advised (none when there is no wait: the client's own backoff
/// applies), `-1` ("do not retry", gRFC A6) otherwise. A wait too long for
/// the field (gRFC A6 reads a 32-bit integer) saturates at `i32::MAX`
/// milliseconds, about 24.8 days; a date is read against the clock (see
/// [`whole_seconds`]).
pub(crate) fn pushback(retryable: Option<bool>, retry_after: Option<RetryAfter>) -> Option<i64> {
    if retryable != Some(true) {
        return Some(-1);
    }
    let wait = whole_seconds(retry_after?);
    Some(
        i64::try_from(wait.as_millis())
            .map_or(i64::from(i32::MAX), |ms| ms.min(i64::from(i32::MAX))),
    )
}

/// A wait in whole seconds, as `Retry-After` says it: a delay as it is,
/// a date from the clock's current second (so that the answers one second
/// renders agree, whatever the nanoseconds).
pub(crate) fn whole_seconds(wait: RetryAfter) -> std::time::Duration {
    let now = std::time::SystemTime::now();
    let second = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(now, |since| {
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(since.as_secs())
        });
    wait.delay_from(second)
}

/// The pushback's text: the milliseconds, or `-1` ("do not retry").
fn pushback_text(ms: i64) -> PushbackText {
    if ms < 0 {
        PushbackText::DoNotRetry
    } else {
        PushbackText::Wait(Decimal::new(ms.unsigned_abs()))
    }
}

/// See [`pushback_text`].
enum PushbackText {
    DoNotRetry,
    Wait(Decimal),
}

impl PushbackText {
    fn as_bytes(&self) -> &[u8] {
        match self {
            Self::DoNotRetry => b"-1",
            Self::Wait(ms) => ms.as_bytes(),
        }
    }
}

impl View<'_> {
    /// The message a gRPC caller reads: the status line, the details, and
    /// the sentences the text body has for the wait and the verdict, on
    /// one line (`502 Bad Gateway: The server could not reach...`). The
    /// request id travels in its own field.
    pub(super) fn write_grpc_message<S: Sink>(&self, out: &mut S) {
        self.write_status_line(out);
        out.raw(": ");
        out.raw(self.details);
        if let Some(retry_after) = &self.retry_after {
            out.raw(" ");
            retry_after.write_sentence(out);
        }
        if let Some(sentence) = self.verdict.sentences().0 {
            out.raw(" ");
            out.raw(sentence);
        }
    }

    /// The encoded `google.rpc.Status` of `grpc-status-details-bin`: the
    /// code and message, an `ErrorInfo` (the kind's token, the gateway's
    /// name, the HTTP status) and the wait as a `RetryInfo`.
    #[cfg(feature = "grpc-details")]
    fn grpc_details(&self, code: GrpcCode, message: &str, ctx: &RenderContext<'_>) -> Vec<u8> {
        crate::grpc::details::Details {
            code: code.as_i32(),
            message,
            reason: self.kind.map(crate::registry::ProxyError::as_str),
            domain: ctx.policy().proxy_name(),
            status: self.status.as_str(),
            retry_delay: self.inner.retry_after.map(whole_seconds),
        }
        .encode()
    }
}

/// Writes `grpc-message`'s bytes: `text` percent-encoded as gRPC's
/// PROTOCOL-HTTP2.md says (every byte of its UTF-8 but space and visible
/// ASCII other than `%`, as `%XX`), so that `%`, non-ASCII and control
/// characters survive.
pub(crate) struct GrpcMessage<'a>(pub(crate) &'a mut Vec<u8>);

impl Sink for GrpcMessage<'_> {
    fn bytes(&mut self, b: &[u8]) {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let plain = |byte: u8| (0x20..=0x7e).contains(&byte) && byte != b'%';
        // Most text is sent as it is: one pass tells.
        if b.iter().fold(true, |all, &byte| all & plain(byte)) {
            self.0.extend_from_slice(b);
            return;
        }
        for &byte in b {
            if plain(byte) {
                self.0.push(byte);
            } else {
                self.0.extend_from_slice(&[
                    b'%',
                    HEX[usize::from(byte >> 4)],
                    HEX[usize::from(byte & 0xf)],
                ]);
            }
        }
    }
}

/// The fields of a gRPC caller's answer that vary, beside those every
/// format has (see [`RenderedFields`](super::fields::RenderedFields)).
#[derive(Debug)]
pub(crate) struct GrpcFields {
    status: GrpcCode,
    message: Bytes,
    pushback: Option<Bytes>,
    #[cfg(feature = "grpc-details")]
    details: Bytes,
}

impl GrpcFields {
    /// The answer's fields, in order: `content-type: application/grpc`,
    /// `grpc-status`, `grpc-message`, `grpc-retry-pushback-ms` (when there
    /// is one), `content-length: 0`, `cache-control: no-store`,
    /// `proxy-status` and `x-request-id` when there are, and
    /// `grpc-status-details-bin` (with the `grpc-details` feature).
    pub(super) fn for_each(
        self,
        content_length: Bytes,
        proxy_status: Option<Bytes>,
        request_id: Option<Bytes>,
        mut put: impl FnMut(Field),
    ) {
        put(Field::ContentType(Format::Grpc));
        put(Field::GrpcStatus(self.status));
        put(Field::GrpcMessage(self.message));
        if let Some(value) = self.pushback {
            put(Field::GrpcRetryPushbackMs(value));
        }
        put(Field::ContentLength(content_length));
        put(Field::CacheControl);
        if let Some(value) = proxy_status {
            put(Field::ProxyStatus(value));
        }
        if let Some(value) = request_id {
            put(Field::RequestId(value));
        }
        #[cfg(feature = "grpc-details")]
        put(Field::GrpcStatusDetailsBin(self.details));
    }

    /// The answer's fields as an `http` map: a clone of the map for this
    /// set of optional fields, as the other formats' (see
    /// [`RenderedFields::into_http`](super::fields::RenderedFields::into_http)).
    pub(super) fn into_http(
        self,
        content_length: Bytes,
        proxy_status: Option<Bytes>,
        request_id: Option<Bytes>,
    ) -> HeaderMap {
        /// One map for each set of optional fields (bit 0: the pushback,
        /// bit 1: `Proxy-Status`, bit 2: `x-request-id`).
        static TEMPLATES: LazyLock<[HeaderMap; 8]> = LazyLock::new(|| {
            std::array::from_fn(|bits| template(bits & 1 != 0, bits & 2 != 0, bits & 4 != 0))
        });
        let mut message = shared(self.message);
        let mut pushback = self.pushback.and_then(shared);
        let mut proxy_status = proxy_status.and_then(shared);
        let mut request_id = request_id.and_then(shared);
        let mut length = shared(content_length);
        #[cfg(feature = "grpc-details")]
        let mut details = shared(self.details);
        #[cfg(not(feature = "grpc-details"))]
        let mut details: Option<HeaderValue> = None;
        let set = usize::from(pushback.is_some())
            + 2 * usize::from(proxy_status.is_some())
            + 4 * usize::from(request_id.is_some());
        let Some(template) = TEMPLATES.get(set) else {
            return HeaderMap::new();
        };
        // Always valid (percent-encoded text, digits, base64): checked all
        // the same, and a field whose value is not valid left out.
        let invalid = [
            (GRPC_MESSAGE, message.is_none()),
            (CONTENT_LENGTH, length.is_none()),
            (
                GRPC_STATUS_DETAILS_BIN,
                cfg!(feature = "grpc-details") && details.is_none(),
            ),
        ];
        let mut headers = template.clone();
        // Each value goes into the field of its name, found by comparing
        // names: any order the map yields its entries in gives the same map.
        for (name, slot) in &mut headers {
            let value = if name == GRPC_STATUS {
                Some(HeaderValue::from_static(self.status.as_str()))
            } else if name == GRPC_MESSAGE {
                message.take()
            } else if name == GRPC_RETRY_PUSHBACK_MS {
                pushback.take()
            } else if name == PROXY_STATUS {
                proxy_status.take()
            } else if name == X_REQUEST_ID {
                request_id.take()
            } else if name == CONTENT_LENGTH {
                length.take()
            } else if name == GRPC_STATUS_DETAILS_BIN {
                details.take()
            } else {
                None
            };
            if let Some(value) = value {
                *slot = value;
            }
        }
        for (name, invalid) in invalid {
            if invalid {
                headers.remove(name);
            }
        }
        headers
    }
}

/// The map [`GrpcFields::into_http`] clones: the list's fields, with
/// placeholders where values vary.
fn template(pushback: bool, proxy_status: bool, request_id: bool) -> HeaderMap {
    let placeholder = || Bytes::from_static(b"0");
    http_map(RenderedFields {
        format: Format::Grpc,
        content_length: placeholder(),
        retry_after: None,
        proxy_status: proxy_status.then(placeholder),
        request_id: request_id.then(placeholder),
        grpc: Some(GrpcFields {
            status: GrpcCode::OK,
            message: placeholder(),
            pushback: pushback.then(placeholder),
            #[cfg(feature = "grpc-details")]
            details: placeholder(),
        }),
    })
}

/// What a message holds beyond its details, at most: the status line, the
/// wait's and the verdict's sentences, and `1` (the length).
const MESSAGE_SLACK: usize = 200;

/// [`render_parts`](super::render_parts) for a gRPC caller: HTTP 200, an
/// empty body, and the error in the gRPC fields.
pub(super) fn render_parts(view: &View<'_>, ctx: &RenderContext<'_>) -> RenderedParts {
    let retryable = view.retryable;
    let status = code(view.status, view.inner, retryable);
    // Room for the message's longest sentences beside the details, so that
    // the buffer seldom grows.
    let mut text = String::with_capacity(
        proxy_status_len(view.inner, ctx)
            + view.request_id.map_or(0, str::len)
            + view.details.len()
            + MESSAGE_SLACK,
    );
    let proxy_status = write_proxy_status(view.inner, ctx, &mut text);
    let mut buf = text.into_bytes();
    let request_id = view.request_id.map(|id| push(&mut buf, id.as_bytes()));
    let message_start = buf.len();
    view.write_grpc_message(&mut GrpcMessage(&mut buf));
    let message = message_start..buf.len();
    let pushback = pushback(retryable, view.inner.retry_after)
        .map(|ms| push(&mut buf, pushback_text(ms).as_bytes()));
    let length = push(&mut buf, b"0");
    let shared = Bytes::from(buf);
    #[cfg(feature = "grpc-details")]
    let details = {
        let mut plain = Vec::new();
        view.write_grpc_message(&mut plain);
        let message = std::str::from_utf8(&plain).unwrap_or_default();
        let encoded = view.grpc_details(status, message, ctx);
        Bytes::from(crate::grpc::details::base64(&encoded))
    };
    RenderedParts {
        status: StatusCode::OK,
        body: Bytes::new(),
        length: 0,
        fields: RenderedFields {
            format: Format::Grpc,
            content_length: shared.slice(length),
            retry_after: None,
            proxy_status: proxy_status.map(|range| shared.slice(range)),
            request_id: request_id.map(|range| shared.slice(range)),
            grpc: Some(GrpcFields {
                status,
                message: shared.slice(message),
                pushback: pushback.map(|range| shared.slice(range)),
                #[cfg(feature = "grpc-details")]
                details,
            }),
        },
    }
}

/// What a `tonic::Status` for an error carries: what [`render`](super::render)
/// puts in a gRPC caller's fields, before encoding (tonic percent-encodes
/// the message and base64-encodes the details itself).
#[cfg(feature = "tonic")]
pub(crate) struct StatusParts {
    pub(crate) code: GrpcCode,
    pub(crate) message: String,
    pub(crate) pushback: Option<i64>,
    /// The encoded `google.rpc.Status`; empty without the `grpc-details`
    /// feature.
    pub(crate) details: Vec<u8>,
}

#[cfg(feature = "tonic")]
pub(crate) fn status_parts(error: &crate::GatewayError, ctx: &RenderContext<'_>) -> StatusParts {
    let sent = error.as_sent();
    let view = View::new(sent.status(), sent.inner(), ctx);
    let code = code(view.status, view.inner, view.retryable);
    let mut message = Vec::new();
    view.write_grpc_message(&mut message);
    let message = String::from_utf8(message).unwrap_or_default();
    #[cfg(feature = "grpc-details")]
    let details = view.grpc_details(code, &message, ctx);
    #[cfg(not(feature = "grpc-details"))]
    let details = Vec::new();
    StatusParts {
        code,
        pushback: pushback(view.retryable, view.inner.retry_after),
        message,
        details,
    }
}

#[cfg(test)]
mod tests {
    use http::Method;

    use crate::context::{Policy, RenderContext};
    use crate::error::{BadGateway, GatewayError, InternalServerError, ServiceUnavailable};
    use crate::negotiate::Format;
    use crate::registry::ProxyError;
    use crate::render::render;
    use crate::retry_after::RetryAfter;

    fn grpc(error: &GatewayError, method: &Method) -> http::Response<bytes::Bytes> {
        render(
            error,
            &RenderContext::new()
                .with_method(method)
                .with_format(Format::Grpc),
        )
    }

    /// The fields but the details, in order, as `name: value`.
    fn fields(response: &http::Response<bytes::Bytes>) -> Vec<String> {
        response
            .headers()
            .iter()
            .filter(|(name, _)| *name != "grpc-status-details-bin")
            .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap_or("?")))
            .collect()
    }

    #[test]
    fn a_trailers_only_answer_exact_fields() {
        let err = GatewayError::from(
            BadGateway::upstream("product-service").with_kind(ProxyError::ConnectionRefused),
        );
        let policy = Policy::new().with_proxy_name("bff");
        let ctx = RenderContext::new()
            .with_method(&Method::POST)
            .with_format(Format::Grpc)
            .with_policy(&policy)
            .with_request_id("req-1");
        let response = render(&err, &ctx);
        assert_eq!(response.status(), 200);
        assert!(response.body().is_empty());
        assert_eq!(
            fields(&response),
            [
                "content-type: application/grpc",
                "grpc-status: 14",
                "grpc-message: 502 Bad Gateway: The server could not reach the upstream server while trying to fulfill the request.",
                "content-length: 0",
                "cache-control: no-store",
                "proxy-status: bff;error=connection_refused",
                "x-request-id: req-1",
            ]
        );
        assert_eq!(
            response.headers().contains_key("grpc-status-details-bin"),
            cfg!(feature = "grpc-details")
        );
    }

    #[test]
    fn the_code_and_the_pushback_follow_the_verdict() {
        let post = Method::POST;
        let get = Method::GET;
        let timeout = GatewayError::from_kind("db", ProxyError::HttpResponseTimeout);
        let refused = GatewayError::from_kind("db", ProxyError::ConnectionRefused);
        let relayed_404 = GatewayError::from(
            BadGateway::upstream("db").with_received_status(http::StatusCode::NOT_FOUND),
        );
        let internal = GatewayError::from(InternalServerError::new());
        let waiting = GatewayError::from(
            ServiceUnavailable::upstream("db").with_retry_after(RetryAfter::from_secs(120)),
        );
        let forever = GatewayError::from(
            ServiceUnavailable::upstream("db").with_retry_after(RetryAfter::from_secs(u32::MAX)),
        );
        let cases: [(&GatewayError, &Method, &str, Option<&str>); 9] = [
            // May have run: no code a client retries, and "do not retry".
            (&timeout, &post, "4", Some("-1")),
            (&timeout, &get, "14", None),
            (&refused, &post, "14", None),
            // A retry cannot help.
            (&relayed_404, &get, "2", Some("-1")),
            (&internal, &get, "13", Some("-1")),
            // The wait, in milliseconds, when a retry is advised...
            (&waiting, &get, "14", Some("120000")),
            // ...saturated at gRFC A6's 32-bit integer...
            (&forever, &get, "14", Some("2147483647")),
            // ...and "do not retry" when not: the wait is in the message.
            (&waiting, &post, "2", Some("-1")),
            (&forever, &post, "2", Some("-1")),
        ];
        for (error, method, code, pushback) in cases {
            let response = grpc(error, method);
            let field = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .map(|v| v.to_str().unwrap_or("?"))
            };
            assert_eq!(field("grpc-status"), Some(code), "{error:?} {method}");
            assert_eq!(
                field("grpc-retry-pushback-ms"),
                pushback,
                "{error:?} {method}"
            );
            assert_eq!(field("retry-after"), None);
        }
        let message = grpc(&waiting, &post);
        assert_eq!(
            message.headers()["grpc-message"],
            "503 Service Unavailable: The service is temporarily unavailable. Please try again later. \
             The service expects to accept requests again in 120 seconds. \
             This request may already have been processed; do not resend it automatically."
        );
    }

    #[test]
    fn the_message_is_percent_encoded() {
        let err =
            GatewayError::from(BadGateway::new().with_details("50% off \u{2713} \"now\" <b>"));
        let response = grpc(&err, &Method::POST);
        assert_eq!(
            response.headers()["grpc-message"],
            "502 Bad Gateway: 50%25 off %E2%9C%93 \"now\" <b> This request may already have been processed; do not resend it automatically."
        );
    }

    #[test]
    fn a_relayed_grpc_answer_keeps_its_code() {
        let inner = crate::error::Inner {
            received_grpc_status: Some(crate::grpc::GrpcCode::from_i32(5)),
            ..crate::error::Inner::default()
        };
        let err = GatewayError::for_status(http::StatusCode::BAD_GATEWAY, inner);
        let response = grpc(&err, &Method::POST);
        assert_eq!(response.headers()["grpc-status"], "5");
        assert_eq!(response.headers()["grpc-retry-pushback-ms"], "-1");
        assert!(!err.is_retryable(&Method::GET));
    }
}
