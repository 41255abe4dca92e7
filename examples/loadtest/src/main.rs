//! Load and soak harness (placeholder).
fn main() {}
