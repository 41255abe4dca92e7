//! Upstream `Proxy-Status` fields under the policy (issue 10, item 2): every
//! field line is one list, and with upstream names hidden nothing naming an
//! internal host or carrying an upstream's free text reaches a client.
//!
//! Every expected header is exact, and every rendered field is read back by
//! an independent parser (`sfparse`).

use gateway_error::{GatewayError, MAX_UPSTREAM_PROXY_STATUS_LEN, Policy, RenderContext, render};
use gateway_error_tests::validators::{SfValue, parse_proxy_status};
use http::{HeaderMap, HeaderValue, StatusCode};

/// The upstream field from the issue: a database address and its error text.
const LEAKY: &str = r#"inner-lb;error=connection_refused;next-hop="10.9.8.7:5432";details="FATAL: password authentication failed for user app""#;

fn hidden() -> Policy {
    Policy::new().with_proxy_name("edge")
}

fn shown() -> Policy {
    hidden().with_upstream_names(true)
}

fn headers(lines: &[&str]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in lines {
        headers.append("proxy-status", HeaderValue::from_str(line).expect("valid"));
    }
    headers
}

/// The rendered `Proxy-Status` of the error a gateway makes of an upstream
/// 502 with these `Proxy-Status` lines, checked by `sfparse`.
fn forwarded(lines: &[&str], policy: &Policy) -> String {
    let err = GatewayError::from_upstream_response("db", StatusCode::BAD_GATEWAY, &headers(lines));
    let response = render(&err, &RenderContext::new().with_policy(policy));
    let values: Vec<&str> = response
        .headers()
        .get_all("proxy-status")
        .iter()
        .map(|v| v.to_str().expect("ascii"))
        .collect();
    assert_eq!(values.len(), 1, "one field line: {values:?}");
    parse_proxy_status(values[0]).expect("sfparse reads it");
    values[0].to_owned()
}

#[test]
fn hidden_names_strip_hosts_and_upstream_text() {
    let value = forwarded(&[LEAKY], &hidden());
    assert_eq!(
        value,
        "inner-lb;error=connection_refused, edge;received-status=502"
    );
    assert!(!value.contains("10.9.8.7") && !value.contains("FATAL"));
    let members = parse_proxy_status(&value).expect("valid");
    assert_eq!(
        members[0].params,
        [(
            "error".to_owned(),
            SfValue::Token("connection_refused".to_owned())
        )]
    );
}

#[test]
fn shown_names_forward_members_as_sent() {
    assert_eq!(
        forwarded(&[LEAKY], &shown()),
        format!(r#"{LEAKY}, edge;next-hop="db";received-status=502"#)
    );
}

#[test]
fn string_members_name_hosts_and_are_dropped_when_names_are_hidden() {
    let lines = [r#""10.0.0.1";error=connection_timeout, lb;error=http_response_timeout"#];
    assert_eq!(
        forwarded(&lines, &hidden()),
        "lb;error=http_response_timeout, edge;received-status=502"
    );
    assert_eq!(
        forwarded(&lines, &shown()),
        r#""10.0.0.1";error=connection_timeout, lb;error=http_response_timeout, edge;next-hop="db";received-status=502"#
    );
}

#[test]
fn every_field_line_is_forwarded_in_order() {
    let lines = [
        "origin-lb;error=connection_timeout, mesh",
        "",
        r#"inner;error=http_response_timeout;details="slow query""#,
        "outer;received-status=504",
    ];
    assert_eq!(
        forwarded(&lines, &hidden()),
        "origin-lb;error=connection_timeout, mesh, inner;error=http_response_timeout, outer;received-status=504, edge;received-status=502"
    );
    assert_eq!(
        forwarded(&lines, &shown()),
        r#"origin-lb;error=connection_timeout, mesh, inner;error=http_response_timeout;details="slow query", outer;received-status=504, edge;next-hop="db";received-status=502"#
    );
    // The error keeps the combined field, as received.
    let err = GatewayError::from_upstream_response("db", StatusCode::BAD_GATEWAY, &headers(&lines));
    assert_eq!(
        err.upstream_proxy_status().map(HeaderValue::as_bytes),
        Some(&br#"origin-lb;error=connection_timeout, mesh, inner;error=http_response_timeout;details="slow query", outer;received-status=504"#[..])
    );
}

#[test]
fn the_cap_covers_all_lines_together() {
    // Two lines, one long Token each, that fit the cap exactly once joined
    // by ", ", and one byte more.
    let list = |len: usize| "a".repeat(len);
    let first = list(2000);
    let fits = list(MAX_UPSTREAM_PROXY_STATUS_LEN - 2000 - 2);
    let over = list(MAX_UPSTREAM_PROXY_STATUS_LEN - 2000 - 1);
    for (second, kept) in [(&fits, true), (&over, false)] {
        assert!(parse_proxy_status(second).is_ok(), "{second:?}");
        let err = GatewayError::from_upstream_response(
            "db",
            StatusCode::BAD_GATEWAY,
            &headers(&[&first, second]),
        );
        assert_eq!(err.upstream_proxy_status().is_some(), kept);
        let value = forwarded(&[&first, second], &hidden());
        if kept {
            assert_eq!(
                value,
                format!("{first}, {second}, edge;received-status=502")
            );
        } else {
            assert_eq!(value, "edge;received-status=502");
        }
    }
}
