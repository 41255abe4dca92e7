//! Property tests: hostile text in every field, arbitrary `Accept` headers,
//! arbitrary upstream responses for the client-side parser, and
//! `Retry-After` round trips.
//!
//! Every expectation is computed here, independently of the crate: the
//! sanitizing rules (from their documentation), the HTML page's element
//! tree, `Accept` acceptability and the HTTP date forms. Third-party parsers
//! check the output: `serde_json`, `html5ever` (through a small tree sink,
//! `dom.rs`), `sfv` and `sfparse` (`parse_proxy_status`).
//!
//! One module per subject, each with its properties and the plain tests
//! (regressions, checks of the reference code) of that subject:
//!
//! | module | subject |
//! |---|---|
//! | `rendering` | hostile text in every field, every format |
//! | `accept` | `Accept` negotiation |
//! | `parse` | the client-side parser on arbitrary responses |
//! | `retry_after` | `Retry-After` round trips |
//!
//! and what they share: `rules` (the documented sanitizing rules), `cases`
//! (the hostile cases and their strategies), `checks` (header, body and
//! `Proxy-Status` checks), `dom` and `page` (the HTML page as a tree).
//!
//! Case counts are bounded so the whole suite runs in a few seconds in debug.

use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use gateway_error::{
    Format, GatewayError, MAX_DETAILS_LEN, MAX_NAME_LEN, MAX_PROXY_STATUS_LEN, ParseErrorKind,
    Policy, ProxyError, RenderContext, RetryAfter, parse, render,
};
use gateway_error_tests::validators::{
    SfValue, check_problem_json, html5_parse_errors, parse_proxy_status,
};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError};
use serde_json::Value;
use strum::VariantArray;

/// Bounded runs; no persistence file is written (failing cases found so far
/// are kept as plain `#[test]`s in the module of their subject). `PROPTEST_CASES`
/// overrides the count for a longer run:
/// `PROPTEST_CASES=20000 cargo test --release -p gateway-error-tests --test properties`.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

mod accept;
mod cases;
mod checks;
mod dom;
mod page;
mod parse;
mod rendering;
mod retry_after;
mod rules;

use cases::*;
use checks::*;
use dom::Tree;
use page::*;
use retry_after::*;
use rules::*;
