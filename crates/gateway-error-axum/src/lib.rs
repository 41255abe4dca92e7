//! The axum 0.8 adapter of gateway-error.
