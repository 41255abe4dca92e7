//! The property checks the fuzz targets run.
//!
//! They live in the core's `tests/fuzz_regressions.rs`, next to the
//! regression tests for what the targets found, so that `cargo test` runs
//! every kept input through exactly the checks a target ran it through.

#[path = "../../crates/gateway-error-core/tests/fuzz_regressions.rs"]
mod regressions;

pub use regressions::checks;
