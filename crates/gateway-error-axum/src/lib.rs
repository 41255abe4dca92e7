//! [gateway-error] for axum 0.8: gateway errors rendered for the request
//! that caused them.
//!
//! With the facade's `axum` feature, the error types implement
//! `IntoResponse`, so handlers can return `Err(BadGateway::upstream(..))`,
//! and `RequestId` is an extractor. This crate translates the core
//! [pipeline](gateway_error_core::pipeline) for axum and tower:
//!
//! - [`GatewayErrorLayer`], a tower layer that makes the request's context
//!   current while it polls your app, so that a handler's error renders
//!   for the request, once: its `Accept` fields (JSON,
//!   `application/problem+json`, HTML or text), method (HEAD,
//!   retry-safety) and `x-request-id` (generated when absent), under one
//!   [`Policy`](gateway_error_core::Policy); it reports each error once
//!   (`tracing`, your observers) and echoes `x-request-id` on every
//!   response;
//! - [`handle_error`], for axum's `HandleErrorLayer`: inner-service
//!   failures (tower and tokio timeouts, refused connections, anything
//!   else) become 504 and 502 gateway errors instead of 408 or 500.
//!
//! It is not an HTTP client, a retry layer or a proxy; it does not touch
//! responses that carry no gateway error, beyond `x-request-id`. Bodies and
//! headers are decided by the core renderer alone, so axum, actix-web and
//! warp answer with the same bytes.
//!
//! # Examples
//!
//! ```
//! use axum::{Router, body::Body, http::Request, routing::get};
//! use gateway_error::axum::GatewayErrorLayer;
//! use gateway_error::{BadGateway, Policy};
//! use tower::ServiceExt;
//!
//! async fn product() -> Result<String, BadGateway> {
//!     Err(BadGateway::upstream("product-service"))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let app = Router::new()
//!     .route("/products", get(product))
//!     .layer(GatewayErrorLayer::new(Policy::new().with_proxy_name("bff")));
//!
//! let request = Request::get("/products")
//!     .header("accept", "text/html")
//!     .header("x-request-id", "req-1")
//!     .body(Body::empty())?;
//! let response = app.oneshot(request).await?;
//! assert_eq!(response.status(), 502);
//! assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
//! assert_eq!(response.headers()["proxy-status"], "bff");
//! assert_eq!(response.headers()["x-request-id"], "req-1");
//! # Ok(())
//! # }
//! ```
//!
//! [gateway-error]: https://docs.rs/gateway-error
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The crate README, compiled so that its example cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

mod handle_error;

/// The core's one tower layer ([`gateway_error::layer`](gateway_error_core::layer)),
/// which axum runs as any tower server does (`Router::layer`); its service,
/// future and body types are there.
pub use gateway_error_core::layer::GatewayErrorLayer;
pub use handle_error::{HandleErrorConfig, handle_error, handle_error_with};
