//! The header fields of a rendered response, and which fields of a
//! response being rendered again are replaced.

use std::sync::LazyLock;

use bytes::Bytes;
use http::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE, RETRY_AFTER, VARY,
    X_CONTENT_TYPE_OPTIONS,
};
use http::{HeaderMap, HeaderName, HeaderValue};

use super::grpc::GrpcFields;
use crate::grpc::{
    GRPC_MESSAGE, GRPC_RETRY_PUSHBACK_MS, GRPC_STATUS, GRPC_STATUS_DETAILS_BIN, GrpcCode,
};
use crate::negotiate::Format;
use crate::proxy_status::PROXY_STATUS;
use crate::request_id::X_REQUEST_ID;

/// `Cache-Control`'s value.
pub(crate) const NO_STORE: &str = "no-store";
/// `Vary`'s value.
pub(crate) const ACCEPT: &str = "accept";
/// `X-Content-Type-Options`' value.
pub(crate) const NOSNIFF: &str = "nosniff";

/// One header field of a rendered response: which it is, and its value
/// where that varies (a slice of the render's one buffer). The fixed
/// values are the constants above, the format's content type, the page's
/// `Content-Security-Policy` and the code's `grpc-status`.
///
/// [`RenderedFields::for_each`] is the one list of the fields a response
/// has and their order; the `http` map ([`RenderedFields::into_http`]) and
/// the actix-web one are made from it.
#[derive(Debug)]
pub(crate) enum Field {
    /// `content-type`: the format's.
    ContentType(Format),
    /// `content-length`.
    ContentLength(Bytes),
    /// `cache-control: no-store`.
    CacheControl,
    /// `vary: accept`.
    Vary,
    /// `x-content-type-options: nosniff`.
    ContentTypeOptions,
    /// `retry-after`.
    RetryAfter(Bytes),
    /// `proxy-status`.
    ProxyStatus(Bytes),
    /// `x-request-id`.
    RequestId(Bytes),
    /// `content-security-policy`: the HTML page's.
    ContentSecurityPolicy,
    /// `grpc-status`: the code's.
    GrpcStatus(GrpcCode),
    /// `grpc-message`.
    GrpcMessage(Bytes),
    /// `grpc-retry-pushback-ms`.
    GrpcRetryPushbackMs(Bytes),
    /// `grpc-status-details-bin`.
    #[cfg_attr(not(feature = "grpc-details"), allow(dead_code))]
    GrpcStatusDetailsBin(Bytes),
}

/// The header fields of a rendered response, beside its status and body:
/// the values known only at run time, each a slice of the render's one
/// buffer and a valid field value.
#[derive(Debug)]
pub(crate) struct RenderedFields {
    /// The negotiated format.
    pub(crate) format: Format,
    /// `Content-Length`: the body's length, or for HEAD the length GET's
    /// body would have.
    pub(crate) content_length: Bytes,
    /// `Retry-After`, if the error has a retry hint.
    pub(crate) retry_after: Option<Bytes>,
    /// `Proxy-Status`, if the policy names the proxy.
    pub(crate) proxy_status: Option<Bytes>,
    /// `x-request-id`: the error's own id or the context's, if either.
    pub(crate) request_id: Option<Bytes>,
    /// For a gRPC caller, the fields of its answer (`Retry-After` is then
    /// none: the pushback says it).
    pub(crate) grpc: Option<GrpcFields>,
}

impl RenderedFields {
    /// Every field, in the order of the `http` map: `Content-Type`,
    /// `Content-Length`, `Cache-Control`, `Vary`, `X-Content-Type-Options`,
    /// then `Retry-After`, `Proxy-Status` and `x-request-id` when there are,
    /// and an HTML page's `Content-Security-Policy`; a gRPC caller's answer
    /// has its own (see [`GrpcFields::for_each`]).
    pub(crate) fn for_each(self, mut put: impl FnMut(Field)) {
        let Self {
            format,
            content_length,
            retry_after,
            proxy_status,
            request_id,
            grpc,
        } = self;
        if let Some(grpc) = grpc {
            grpc.for_each(content_length, proxy_status, request_id, put);
            return;
        }
        put(Field::ContentType(format));
        put(Field::ContentLength(content_length));
        put(Field::CacheControl);
        put(Field::Vary);
        put(Field::ContentTypeOptions);
        if let Some(value) = retry_after {
            put(Field::RetryAfter(value));
        }
        if let Some(value) = proxy_status {
            put(Field::ProxyStatus(value));
        }
        if let Some(value) = request_id {
            put(Field::RequestId(value));
        }
        if format == Format::Html {
            // Only the page's own style applies (see `page`).
            put(Field::ContentSecurityPolicy);
        }
    }

    /// The fields as an `http` map: a clone of the map for this format and
    /// these optional fields, with the values known only now put in by
    /// name (each replaces a placeholder, so the clone never grows).
    pub(crate) fn into_http(self) -> HeaderMap {
        /// Per format, one map for each set of optional fields (bit 0:
        /// `Retry-After`, bit 1: `Proxy-Status`, bit 2: `x-request-id`).
        const SETS: usize = 8;
        static TEMPLATES: LazyLock<Vec<(Format, [HeaderMap; SETS])>> = LazyLock::new(|| {
            Format::ALL
                .iter()
                .map(|&format| {
                    let set =
                        |bits: usize| template(format, bits & 1 != 0, bits & 2 != 0, bits & 4 != 0);
                    (format, std::array::from_fn(set))
                })
                .collect()
        });
        let Self {
            format,
            content_length,
            retry_after,
            proxy_status,
            request_id,
            grpc,
        } = self;
        if let Some(grpc) = grpc {
            return grpc.into_http(content_length, proxy_status, request_id);
        }
        // Always valid (digits, an RFC 8941 list, a visible-ASCII id):
        // checked all the same.
        let mut content_length = shared(content_length);
        let mut retry_after = retry_after.and_then(shared);
        let mut proxy_status = proxy_status.and_then(shared);
        let mut request_id = request_id.and_then(shared);
        let set = usize::from(retry_after.is_some())
            + 2 * usize::from(proxy_status.is_some())
            + 4 * usize::from(request_id.is_some());
        let Some(template) = TEMPLATES
            .iter()
            .find(|(f, _)| *f == format)
            .and_then(|(_, sets)| sets.get(set))
        else {
            return HeaderMap::new();
        };
        let mut headers = template.clone();
        // Each value goes into the field of its name, found by comparing
        // names (no hashing): any order the map yields its entries in gives
        // the same map.
        let length_is_valid = content_length.is_some();
        for (name, slot) in &mut headers {
            let value = if name == CONTENT_LENGTH {
                content_length.take()
            } else if name == RETRY_AFTER {
                retry_after.take()
            } else if name == PROXY_STATUS {
                proxy_status.take()
            } else if name == X_REQUEST_ID {
                request_id.take()
            } else {
                None
            };
            if let Some(value) = value {
                *slot = value;
            }
        }
        if !length_is_valid {
            headers.remove(CONTENT_LENGTH);
        }
        headers
    }
}

/// A run-time value as a field value: `None` if it is not a valid one
/// (never, for what the renderer writes).
pub(super) fn shared(bytes: Bytes) -> Option<HeaderValue> {
    HeaderValue::from_maybe_shared(bytes).ok()
}

/// A field as an `http` name and value; `None` for an invalid value.
pub(super) fn http_field(field: Field) -> Option<(HeaderName, HeaderValue)> {
    Some(match field {
        Field::ContentType(format) => (CONTENT_TYPE, content_type(format)),
        Field::ContentLength(value) => (CONTENT_LENGTH, shared(value)?),
        Field::CacheControl => (CACHE_CONTROL, const { HeaderValue::from_static(NO_STORE) }),
        Field::Vary => (VARY, const { HeaderValue::from_static(ACCEPT) }),
        Field::ContentTypeOptions => (
            X_CONTENT_TYPE_OPTIONS,
            const { HeaderValue::from_static(NOSNIFF) },
        ),
        Field::RetryAfter(value) => (RETRY_AFTER, shared(value)?),
        Field::ProxyStatus(value) => (PROXY_STATUS, shared(value)?),
        Field::RequestId(value) => (X_REQUEST_ID, shared(value)?),
        Field::ContentSecurityPolicy => (
            CONTENT_SECURITY_POLICY,
            const { HeaderValue::from_static(super::page::CONTENT_SECURITY_POLICY) },
        ),
        Field::GrpcStatus(code) => (GRPC_STATUS, HeaderValue::from_static(code.as_str())),
        Field::GrpcMessage(value) => (GRPC_MESSAGE, shared(value)?),
        Field::GrpcRetryPushbackMs(value) => (GRPC_RETRY_PUSHBACK_MS, shared(value)?),
        Field::GrpcStatusDetailsBin(value) => (GRPC_STATUS_DETAILS_BIN, shared(value)?),
    })
}

/// The map [`RenderedFields::into_http`] clones: the list's fields, with
/// placeholders where values vary.
fn template(format: Format, retry_after: bool, proxy_status: bool, request_id: bool) -> HeaderMap {
    let placeholder = || Bytes::from_static(b"0");
    let fields = RenderedFields {
        format,
        content_length: placeholder(),
        retry_after: retry_after.then(placeholder),
        proxy_status: proxy_status.then(placeholder),
        request_id: request_id.then(placeholder),
        grpc: None,
    };
    http_map(fields)
}

/// The fields as an `http` map, inserted one by one: what the templates
/// are made with.
pub(super) fn http_map(fields: RenderedFields) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(10);
    fields.for_each(|field| {
        if let Some((name, value)) = http_field(field) {
            headers.append(name, value);
        }
    });
    headers
}

/// The `Content-Type` field value, built at compile time.
pub(super) fn content_type(format: Format) -> HeaderValue {
    match format {
        Format::Json => const { HeaderValue::from_static(Format::Json.content_type()) },
        Format::ProblemJson => {
            const { HeaderValue::from_static(Format::ProblemJson.content_type()) }
        }
        Format::Html => const { HeaderValue::from_static(Format::Html.content_type()) },
        Format::Text => const { HeaderValue::from_static(Format::Text.content_type()) },
        Format::Grpc => const { HeaderValue::from_static(Format::Grpc.content_type()) },
    }
}

/// Whether [`rerender`] drops a field named `name` of the response it
/// replaces: the renderer sets it anew, or it framed or described the old
/// body (see [`rerender`] for the list and why).
pub(super) fn replaced_by_rerender(name: &str) -> bool {
    matches!(
        name,
        // The renderer's own fields (`Vary` is decided by value).
        "content-type"
            | "content-length"
            | "cache-control"
            | "x-content-type-options"
            | "content-security-policy"
            | "retry-after"
            | "proxy-status"
            // A gRPC caller's answer (see `grpc`).
            | "grpc-status"
            | "grpc-message"
            | "grpc-retry-pushback-ms"
            | "grpc-status-details-bin"
    ) || describes_another_body(name)
}

/// Whether a field named `name` (lowercase) frames or describes a body
/// other than the one the renderer writes: a response carrying one is not
/// the renderer's as it stands (see [`rerender`]).
pub(crate) fn describes_another_body(name: &str) -> bool {
    matches!(
        name,
        // Framing.
        "transfer-encoding"
            | "trailer"
            // Representation metadata and a partial body.
            | "content-encoding"
            | "content-language"
            | "content-location"
            | "content-disposition"
            | "content-range"
            // Validators and digests of the old representation.
            | "etag"
            | "last-modified"
            | "content-digest"
            | "repr-digest"
            | "digest"
            | "content-md5"
    )
}
