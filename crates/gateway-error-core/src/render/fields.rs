//! The header fields of a rendered response, and which fields of a
//! response being rendered again are replaced.

use std::sync::LazyLock;

use bytes::Bytes;
use http::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE, RETRY_AFTER, VARY,
    X_CONTENT_TYPE_OPTIONS,
};
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::negotiate::Format;
use crate::proxy_status::PROXY_STATUS;
use crate::request_id::X_REQUEST_ID;

/// The response's fields: a clone of the map for this format and these
/// optional fields, with the values known only now put in by name (each
/// replaces a placeholder, so the clone never grows).
pub(super) fn fields(
    format: Format,
    content_length: Bytes,
    retry_after: Option<Bytes>,
    proxy_status: Option<Bytes>,
    request_id: Option<Bytes>,
) -> HeaderMap {
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
    // Always valid (digits, an RFC 8941 list, a visible-ASCII id):
    // checked all the same.
    let shared = |bytes: Bytes| HeaderValue::from_maybe_shared(bytes).ok();
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
    // Each value goes into the field of its name, found by comparing names
    // (no hashing): any order the map yields its entries in gives the same
    // map.
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

/// The map [`fields`] clones: placeholders where values vary.
pub(super) fn template(
    format: Format,
    retry_after: bool,
    proxy_status: bool,
    request_id: bool,
) -> HeaderMap {
    let placeholder = || HeaderValue::from_static("0");
    let mut headers = HeaderMap::with_capacity(9);
    headers.insert(CONTENT_TYPE, content_type(format));
    headers.insert(CONTENT_LENGTH, placeholder());
    headers.insert(
        CACHE_CONTROL,
        const { HeaderValue::from_static("no-store") },
    );
    headers.insert(VARY, const { HeaderValue::from_static("accept") });
    headers.insert(
        X_CONTENT_TYPE_OPTIONS,
        const { HeaderValue::from_static("nosniff") },
    );
    if retry_after {
        headers.insert(RETRY_AFTER, placeholder());
    }
    if proxy_status {
        headers.insert(PROXY_STATUS.clone(), placeholder());
    }
    if request_id {
        headers.insert(X_REQUEST_ID.clone(), placeholder());
    }
    if format == Format::Html {
        // Only the page's own style applies (see `page`).
        headers.insert(
            CONTENT_SECURITY_POLICY,
            const { HeaderValue::from_static(super::page::CONTENT_SECURITY_POLICY) },
        );
    }
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
pub(super) fn replaced_by_rerender(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
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
    ) || describes_another_body(name.as_str())
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
