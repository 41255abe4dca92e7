//! gateway-error with axum 0.8.
fn main() {}
