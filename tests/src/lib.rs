//! Cross-crate integration tests for gateway-error, and the independent
//! validators they check its output with.

pub mod validators;
