//! The actix-web 4 adapter of gateway-error.
