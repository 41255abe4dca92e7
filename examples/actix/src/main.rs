//! gateway-error with actix-web 4.
fn main() {}
