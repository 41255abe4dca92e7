//! Client-side parsing: the input is a status byte, three header lines and a body.
//!
//! The input layout and the properties are documented on
//! `gateway_error_fuzz::checks::parse_response`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gateway_error_fuzz::checks::parse_response(data));
