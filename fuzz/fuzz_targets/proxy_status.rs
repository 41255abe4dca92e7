//! Appending our member to an upstream's `Proxy-Status`.
//!
//! The input layout and the properties are documented on
//! `gateway_error_fuzz::checks::proxy_status`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gateway_error_fuzz::checks::proxy_status(data));
