//! Typed gateway errors and the one renderer behind them.
//!
//! This is the framework-free core of [`gateway-error`]: the error types
//! ([`BadGateway`], [`GatewayTimeout`], [`ServiceUnavailable`],
//! [`InternalServerError`] and the [`GatewayError`] enum), the RFC 9209
//! registry ([`ProxyError`]), [`RetryAfter`], `Accept` negotiation
//! ([`Format`]), the renderer ([`render`]), the [`pipeline`] every
//! framework adapter runs, client-side [`parse`] and a [`retry`] policy.
//! Most users depend on the `gateway-error` facade instead.
//!
//! # How a response is made
//!
//! ```text
//! request -> adapter (axum layer | actix-web middleware | warp handle): translation only
//!         -> pipeline::Pipeline::capture: format from Accept, method, request id, policy
//!            handler Err(BadGateway) -> IntoResponse / ResponseError / Reply
//!                                    -> pipeline::respond: rendered for the current context
//!         -> RequestContext::finish: render again only if rendered elsewhere,
//!            drop stale framing, echo the request id, report once -> client
//! client  -> parse(status, headers, body) -> GatewayError -> retry::RetryPolicy
//! ```
//!
//! One renderer decides every status, header and body byte; one table (the
//! RFC 9209 registry) decides each kind's name, recommended status and
//! whether the request may have reached the upstream; classification
//! ([`GatewayError::from_upstream_error`]) decides from types, never from
//! text.
//!
//! # Examples
//!
//! ```
//! use gateway_error::{render, BadGateway, GatewayError, Policy, ProxyError, RenderContext};
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
// `with_error_types!`, made from the one list of the error types, is used by
// the modules declared after this one.
#[macro_use]
mod error;
mod ext;
mod framework;
mod grpc;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod layer;
mod negotiate;
#[cfg(any(feature = "utoipa", feature = "aide"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "utoipa", feature = "aide"))))]
pub mod openapi;
mod parse;
#[cfg(feature = "pingora")]
#[cfg_attr(docsrs, doc(cfg(feature = "pingora")))]
pub mod pingora;
pub mod pipeline;
mod proxy_status;
mod registry;
mod render;
mod request_id;
pub mod retry;
mod retry_after;
#[cfg(all(test, feature = "tracing"))]
mod test_support;
mod text;

pub use context::{Policy, RenderContext};
pub use error::{
    BadGateway, GatewayError, GatewayTimeout, InternalServerError, ServiceUnavailable,
};
pub use ext::{ResponseExt, ResultExt};
pub use negotiate::Format;
pub use parse::{MAX_BODY_LEN, ParseError, ParseErrorKind, parse};

pub use proxy_status::{MAX_PROXY_STATUS_LEN, PROXY_STATUS};
pub use registry::{Phase, ProxyError, UnknownProxyError};
pub use render::{render, rerender};
pub use request_id::{MakeRequestId, RequestId, X_REQUEST_ID};
pub use retry_after::{ParseRetryAfterError, ParseRetryAfterErrorKind, RetryAfter};
pub use text::{MAX_DETAILS_LEN, MAX_NAME_LEN};
