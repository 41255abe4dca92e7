//! Framework trait impls, one small file each, behind features. They only
//! translate: the response is [`pipeline::respond`](crate::pipeline::respond)'s,
//! rendered for the request an adapter made current, or for the default
//! context outside one.

#[cfg(feature = "actix-web")]
pub(crate) mod actix;
#[cfg(feature = "axum")]
mod axum;
#[cfg(feature = "warp")]
mod warp;

/// What a handler that extracts [`RequestId`](crate::RequestId)
/// without an adapter around it gets: the gateway's own configuration fault.
#[cfg(any(feature = "axum", feature = "actix-web"))]
fn missing_adapter() -> crate::InternalServerError {
    crate::InternalServerError::new().with_kind(crate::ProxyError::ProxyConfigurationError)
}
