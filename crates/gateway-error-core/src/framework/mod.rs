//! Framework trait impls, one small file each, behind features. They only
//! delegate to [`render`](crate::render); the adapters re-render with the
//! request's context.

#[cfg(feature = "actix-web")]
mod actix;
#[cfg(feature = "axum")]
mod axum;
#[cfg(feature = "warp")]
mod warp;

#[cfg(any(feature = "axum", feature = "actix-web", feature = "warp"))]
use crate::{GatewayError, RenderContext, render};

/// The response a handler's error becomes before any adapter sees the
/// request: rendered for the default context, with the error kept in the
/// response's extensions so that the adapter can render it again.
#[cfg(any(feature = "axum", feature = "actix-web", feature = "warp"))]
#[allow(dead_code, reason = "used by the framework files as they are written")]
pub(crate) fn default_response(error: GatewayError) -> http::Response<bytes::Bytes> {
    let mut response = render(&error, &RenderContext::new());
    response.extensions_mut().insert(error);
    response
}
