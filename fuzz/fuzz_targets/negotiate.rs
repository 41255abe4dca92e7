//! Accept negotiation: the input is one `Accept` field value.
//!
//! The input layout and the properties are documented on
//! `gateway_error_fuzz::checks::negotiate`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gateway_error_fuzz::checks::negotiate(data));
