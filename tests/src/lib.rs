//! Cross-crate integration tests for gateway-error, and the independent
//! validators they check its output with.

pub mod validators;
pub mod wire;

/// The workspace README (and the facade's copy of it), compiled with every
/// feature and the crates its setups use, so that no example in it can drift.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct Readme;
