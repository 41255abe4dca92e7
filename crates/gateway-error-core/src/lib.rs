//! Typed gateway errors and the one renderer behind them.
//!
//! This is the framework-free core of [`gateway-error`]: the error types
//! ([`BadGateway`], [`GatewayTimeout`], [`ServiceUnavailable`],
//! [`InternalServerError`] and the [`GatewayError`] enum), the RFC 9209
//! registry ([`ProxyError`]), [`RetryAfter`], `Accept` negotiation
//! ([`Format`]), the renderer ([`render`]) and client-side [`parse`].
//! Most users depend on the `gateway-error` facade instead.
//!
//! # Examples
//!
//! ```
//! use gateway_error_core::{render, BadGateway, GatewayError, Policy, ProxyError, RenderContext};
//! use http::{HeaderMap, Method};
//!
//! let err: GatewayError = BadGateway::upstream("product-service")
//!     .with_kind(ProxyError::ConnectionRefused)
//!     .with_source(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))
//!     .into();
//! let policy = Policy::new().with_proxy_name("bff");
//! let headers = HeaderMap::new();
//! let ctx = RenderContext::from_request(&Method::GET, &headers).with_policy(&policy);
//! let response = render(&err, &ctx);
//! assert_eq!(response.status(), 502);
//! assert_eq!(response.headers()["proxy-status"], "bff;error=connection_refused");
//! ```
//!
//! [`gateway-error`]: https://docs.rs/gateway-error
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The crate README, compiled so that its example cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

mod classify;
mod context;
mod error;
mod framework;
#[cfg(feature = "tracing")]
mod log;
mod negotiate;
#[cfg(any(feature = "utoipa", feature = "aide"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "utoipa", feature = "aide"))))]
pub mod openapi;
mod parse;
mod registry;
mod render;
mod request_id;
mod retry_after;
mod text;

pub use context::{Policy, RenderContext, X_REQUEST_ID};
pub use error::{
    BadGateway, GatewayError, GatewayTimeout, InternalServerError, ServiceUnavailable,
};
/// For the adapter crates only: not a stable API.
#[doc(hidden)]
pub mod __private {
    #[cfg(any(feature = "axum", feature = "actix-web", feature = "warp"))]
    pub use crate::framework::rendered_again;
    pub use crate::render::{RenderedParts, render_echoing, render_parts};
}
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub use log::log;
pub use negotiate::Format;
pub use parse::{MAX_BODY_LEN, ParseError, ParseErrorKind, parse};
pub use registry::{Phase, ProxyError};
pub use render::{MAX_UPSTREAM_PROXY_STATUS_LEN, PROXY_STATUS, render, rerender};
pub use request_id::{generate_request_id, is_valid_request_id};
pub use retry_after::{ParseRetryAfterError, ParseRetryAfterErrorKind, RetryAfter};
pub use text::{MAX_DETAILS_LEN, MAX_NAME_LEN, MAX_REQUEST_ID_LEN};
