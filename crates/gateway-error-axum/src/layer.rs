//! The layer: the core's one tower layer, which axum runs as any tower
//! server does (`Router::layer`).

pub use gateway_error_core::layer::{
    GatewayBody, GatewayErrorLayer, GatewayErrorService, ResponseFuture,
};
