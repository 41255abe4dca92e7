//! The warp 0.4 adapter of gateway-error.
