//! The gateway-error demo, as a library: fake upstreams that fail in every
//! way a real one does, and an axum gateway in front of them that answers
//! with the right 502, 503 or 504. `main.rs` drives it; the integration
//! tests drive the same pieces.

pub mod gateway;
pub mod upstreams;
