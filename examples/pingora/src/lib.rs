//! gateway-error behind pingora: [`proxy`] is a pingora-proxy gateway (the
//! README's pingora section is this file), and `main.rs` runs it in front
//! of the demo's failing upstreams.

pub mod proxy;
