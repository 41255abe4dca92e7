// The README (the workspace README's copy, for crates.io) is the crate's
// docs; its examples need axum, actix-web, warp, reqwest, tokio and serde,
// so they are compiled as doctests of `gateway-error-tests`, which has them
// all, and not here, where each feature is also tested alone.
#![cfg_attr(not(doctest), doc = include_str!("../README.md"))]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use gateway_error_core::*;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
#[doc(inline)]
pub use gateway_error_axum as axum;

#[cfg(feature = "actix-web")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix-web")))]
#[doc(inline)]
pub use gateway_error_actix as actix;

#[cfg(feature = "warp")]
#[cfg_attr(docsrs, doc(cfg(feature = "warp")))]
#[doc(inline)]
pub use gateway_error_warp as warp;
