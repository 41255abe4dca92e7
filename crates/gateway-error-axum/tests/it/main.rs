//! Integration tests of the axum adapter: a real `Router`, driven with
//! `oneshot` and over a loopback socket.

mod common;
mod handle_error;
mod router;
mod server;
