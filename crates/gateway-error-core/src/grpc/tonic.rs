//! tonic's `Status`: from a [`GatewayError`], for a tonic service's
//! callers; and into one, for a BFF's failed call to a gRPC upstream (see
//! the classifier).

use std::sync::Arc;

use http::Method;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Status};

use super::{GRPC_RETRY_PUSHBACK_MS, GrpcCode};
use crate::context::RenderContext;
use crate::error::GatewayError;
use crate::negotiate::Format;
use crate::retry_after::RetryAfter;

/// The `Status` a tonic service answers a gateway error with: the code,
/// message, `grpc-retry-pushback-ms` and (with the `grpc-details`
/// feature) details a gRPC caller of an adapter gets (see
/// [`Format::Grpc`]), for a call (gRPC calls are POSTs) under the default
/// policy; the error's own request id as `x-request-id` metadata; and the
/// error as the `Status`'s source, for logs (never for callers).
///
/// Under [`GatewayErrorLayer`](crate::layer::GatewayErrorLayer) the
/// answer is rendered again for the request and the layer's policy (its
/// `Proxy-Status`, the gateway's name in the details), and carries the
/// request's id: tonic's `Status::into_http` keeps the `Status` in the
/// response's extensions, and the layer finds the error as its source.
///
/// # Examples
///
/// ```
/// use gateway_error::{BadGateway, GatewayError, ProxyError};
///
/// let err = GatewayError::from(BadGateway::upstream("product-service").with_kind(ProxyError::ConnectionRefused));
/// let status = tonic::Status::from(err);
/// assert_eq!(status.code(), tonic::Code::Unavailable);
/// assert_eq!(
///     status.message(),
///     "502 Bad Gateway: The server could not reach the upstream server while trying to fulfill the request.",
/// );
///
/// let timeout = GatewayError::from_kind("product-service", ProxyError::HttpResponseTimeout);
/// let status = tonic::Status::from(timeout);
/// assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
/// assert_eq!(status.metadata().get("grpc-retry-pushback-ms").map(|v| v.to_str().ok()), Some(Some("-1")));
/// ```
impl From<GatewayError> for Status {
    fn from(error: GatewayError) -> Self {
        let ctx = RenderContext::new()
            .with_method(&Method::POST)
            .with_format(Format::Grpc);
        let parts = crate::render::status_parts(&error, &ctx);
        let mut metadata = MetadataMap::new();
        // Digits or `-1`, and a visible-ASCII id: valid metadata, checked
        // all the same.
        if let Some(value) = parts
            .pushback
            .and_then(|ms| MetadataValue::try_from(ms.to_string()).ok())
        {
            metadata.insert("grpc-retry-pushback-ms", value);
        }
        if let Some(id) = error
            .inner()
            .request_id
            .as_deref()
            .and_then(|id| MetadataValue::try_from(id).ok())
        {
            metadata.insert("x-request-id", id);
        }
        let mut status = Status::with_details_and_metadata(
            Code::from_i32(parts.code.as_i32()),
            parts.message,
            parts.details.into(),
            metadata,
        );
        status.set_source(Arc::new(error));
        status
    }
}

/// Puts the [`GatewayError`] a tonic service answered with (the source of
/// the `Status` that tonic's `Status::into_http` keeps in the response's
/// extensions) into those extensions, unless they carry one already: the
/// pipeline then renders it for the request, under its policy.
pub(crate) fn error_from_status(extensions: &mut http::Extensions) {
    if extensions.get::<GatewayError>().is_some() {
        return;
    }
    let error = extensions
        .get::<Status>()
        .and_then(|status| std::error::Error::source(status)?.downcast_ref::<GatewayError>())
        .cloned();
    if let Some(error) = error {
        extensions.insert(error);
    }
}

/// What a `Status` says as the answer of a gRPC upstream: one that tonic
/// read from the upstream's response (a `Status` with no source; one tonic
/// made of a transport error has that error as its source, which the
/// classifier reads by type instead).
pub(crate) struct Answer {
    pub(crate) code: GrpcCode,
    /// Its wait: `grpc-retry-pushback-ms` when not negative, else a
    /// `RetryInfo` in its details.
    pub(crate) retry_after: Option<RetryAfter>,
    /// Its pushback said not to retry (a negative value, gRFC A6).
    pub(crate) said_no: bool,
}

impl Answer {
    pub(crate) fn of(layer: &(dyn std::error::Error + 'static)) -> Option<Self> {
        let status = layer.downcast_ref::<Status>()?;
        if std::error::Error::source(status).is_some() {
            return None;
        }
        let pushback = status
            .metadata()
            .get(GRPC_RETRY_PUSHBACK_MS.as_str())
            .and_then(|value| super::read_pushback(value.to_str().ok()?));
        Some(Self {
            code: GrpcCode::from_i32(status.code() as i32),
            retry_after: super::wait(pushback, || {
                super::details::read(status.details())?.retry_delay
            }),
            said_no: pushback.is_some_and(|ms| ms < 0),
        })
    }
}
