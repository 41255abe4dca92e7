//! gateway-error with warp 0.4.
fn main() {}
