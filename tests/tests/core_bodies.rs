//! Every error kind, rendered in every format, checked by independent
//! validators, and read back by the client-side parser.

use std::time::Duration;

use gateway_error::{
    BadGateway, Format, GatewayError, Policy, ProxyError, RenderContext, RetryAfter, parse, render,
};
use gateway_error_tests::validators::{
    SfValue, VNU_INSTALL, check_problem_json, html5_parse_errors, parse_proxy_status,
    validator_missing, vnu_available, vnu_check_many,
};
use http::{Method, Response, StatusCode};
use strum::VariantArray;

fn policy() -> Policy {
    Policy::new()
        .with_proxy_name("gateway-demo")
        .with_upstream_names(true)
        .with_problem_type_base("https://errors.example.com/")
}

/// One error per kind, with every optional field set, and one with none.
fn errors() -> Vec<GatewayError> {
    let mut all: Vec<GatewayError> = ProxyError::VARIANTS
        .iter()
        .map(|&kind| {
            let err = GatewayError::from_kind("product-service", kind);
            match err {
                GatewayError::BadGateway(e) => e
                    .with_details("Details with <markup> & \"quotes\" and ünïcödé.")
                    .with_retry_after(Duration::from_secs(30))
                    .with_request_id("req-<42>")
                    .with_next_hop("10.0.0.7:8080")
                    .with_received_status(StatusCode::SERVICE_UNAVAILABLE)
                    .into(),
                other => other,
            }
        })
        .collect();
    all.push(BadGateway::new().into());
    all
}

fn text(response: &Response<bytes::Bytes>) -> &str {
    std::str::from_utf8(response.body()).expect("bodies are UTF-8")
}

#[test]
fn html_pages_are_valid_html5() {
    let policy = policy();
    let ctx = RenderContext::new()
        .with_format(Format::Html)
        .with_policy(&policy)
        .with_request_id("ctx-id");
    // A POST adds the sentence that forbids resending where it applies.
    let post = ctx.with_method(&Method::POST);
    let pages: Vec<(String, String)> = errors()
        .iter()
        .flat_map(|err| [(err, &ctx, "any"), (err, &post, "POST")])
        .map(|(err, ctx, method)| {
            let page = text(&render(err, ctx)).to_owned();
            let errors = html5_parse_errors(&page);
            assert!(errors.is_empty(), "{err:?}: {errors:?}\n{page}");
            (format!("{method} {err:?}"), page)
        })
        .collect();
    assert!(pages.iter().any(|(_, page)| page.contains(
        "<p>Do not send it again blindly: your request may already have gone through. "
    )));
    if vnu_available() {
        let pages: Vec<(&str, &str)> = pages
            .iter()
            .map(|(n, p)| (n.as_str(), p.as_str()))
            .collect();
        vnu_check_many(&pages).expect("the Nu Html Checker accepts every page");
    } else {
        validator_missing("the Nu Html Checker (vnu)", VNU_INSTALL);
    }
}

#[test]
fn problem_json_bodies_match_the_rfc_9457_schema() {
    let policy = policy();
    for method in [Method::GET, Method::POST] {
        let ctx = RenderContext::new()
            .with_format(Format::ProblemJson)
            .with_policy(&policy)
            .with_method(&method);
        for err in errors() {
            let response = render(&err, &ctx);
            check_problem_json(response.body()).unwrap_or_else(|e| panic!("{err:?}: {e}"));
            let value: serde_json::Value =
                serde_json::from_slice(response.body()).expect("valid JSON");
            assert_eq!(value["status"], err.status().as_u16());
            assert_eq!(
                value["title"],
                err.status().canonical_reason().expect("known")
            );
        }
    }
}

#[test]
fn proxy_status_parses_with_an_independent_parser() {
    let policy = policy();
    let ctx = RenderContext::new().with_policy(&policy);
    for err in errors() {
        let response = render(&err, &ctx);
        let value = response.headers()["proxy-status"].to_str().expect("ascii");
        let members = parse_proxy_status(value).unwrap_or_else(|e| panic!("{value}: {e}"));
        assert_eq!(members.len(), 1, "{value}");
        let member = &members[0];
        assert_eq!(member.name, "gateway-demo");
        let error = member
            .params
            .iter()
            .find(|(k, _)| k == "error")
            .map(|(_, v)| v);
        match err.kind() {
            Some(kind) => assert_eq!(error, Some(&SfValue::Token(kind.to_string()))),
            None => assert_eq!(error, None),
        }
        let next_hop = member
            .params
            .iter()
            .find(|(k, _)| k == "next-hop")
            .map(|(_, v)| v);
        let expected = err
            .next_hop()
            .or(err.upstream_name())
            .map(|h| SfValue::String(h.into()));
        assert_eq!(next_hop, expected.as_ref());
    }
}

#[test]
fn json_round_trips_through_the_parser() {
    let policy = policy();
    for format in [Format::Json, Format::ProblemJson] {
        let ctx = RenderContext::new()
            .with_format(format)
            .with_policy(&policy);
        for err in errors() {
            let response = render(&err, &ctx);
            let back = parse(response.status(), response.headers(), response.body())
                .unwrap_or_else(|e| panic!("{format:?} {err:?}: {e}"));
            assert_eq!(back.status(), err.status());
            assert_eq!(back.kind(), err.kind());
            assert_eq!(back.upstream_name(), err.upstream_name());
            assert_eq!(back.retry_after(), err.retry_after());
            assert_eq!(back.request_id(), err.request_id());
            // Without caller details, the canonical sentence comes back.
            match err.details() {
                Some(details) => assert_eq!(back.details(), Some(details)),
                None => assert!(back.details().is_some_and(|d| d.starts_with("The "))),
            }
            // Rendering the parsed error again relays it: this hop's status
            // for the one it received, and none of the answer's claims.
            let again = render(&back, &ctx);
            let relay = parse(again.status(), again.headers(), again.body())
                .unwrap_or_else(|e| panic!("{format:?} {err:?}: {e}"));
            let relayed = if err.status() == StatusCode::SERVICE_UNAVAILABLE {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::BAD_GATEWAY
            };
            assert_eq!(relay.status(), relayed, "{format:?} {err:?}");
            assert_eq!(relay.kind(), None, "{format:?} {err:?}");
            assert_eq!(relay.upstream_name(), None, "{format:?} {err:?}");
            assert_eq!(relay.retry_after(), err.retry_after(), "{format:?} {err:?}");
        }
    }
}

#[test]
fn date_retry_hints_round_trip() {
    let at = std::time::UNIX_EPOCH + Duration::from_secs(1_900_000_000);
    let err: GatewayError = BadGateway::new()
        .with_retry_after(RetryAfter::at(at))
        .into();
    let response = render(&err, &RenderContext::new());
    assert_eq!(
        response.headers()["retry-after"],
        "Sun, 17 Mar 2030 17:46:40 GMT"
    );
    let back = parse(response.status(), response.headers(), response.body()).expect("parses");
    assert_eq!(back.retry_after(), Some(RetryAfter::at(at)));
}
