//! Retry-After parsing: the input is one field value (and a duration).
//!
//! The input layout and the properties are documented on
//! `gateway_error_fuzz::checks::retry_after`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gateway_error_fuzz::checks::retry_after(data));
