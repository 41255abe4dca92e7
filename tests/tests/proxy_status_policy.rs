//! Upstream `Proxy-Status` fields under the policy (issue 10, item 2; issue
//! 17, items 3 and 4): every field line is one list; with upstream names
//! hidden nothing naming an internal host, not even the name a hop chose
//! for itself, nor an upstream's free text reaches a client; and the field
//! sent fits the limit `parse` reads, with our member in it.
//!
//! Every expected header is exact, and every rendered field is read back by
//! an independent parser (`sfparse`).

use gateway_error::{GatewayError, MAX_PROXY_STATUS_LEN, Policy, RenderContext, render};
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
        "upstream;error=connection_refused, edge;received-status=502"
    );
    assert!(!value.contains("inner-lb"));
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
fn members_are_renamed_when_names_are_hidden() {
    let lines = [r#""10.0.0.1";error=connection_timeout, lb;error=http_response_timeout"#];
    assert_eq!(
        forwarded(&lines, &hidden()),
        "upstream;error=connection_timeout, upstream;error=http_response_timeout, edge;received-status=502"
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
        "upstream;error=connection_timeout, upstream, upstream;error=http_response_timeout, upstream;received-status=504, edge;received-status=502"
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
    let fits = list(MAX_PROXY_STATUS_LEN - 2000 - 2);
    let over = list(MAX_PROXY_STATUS_LEN - 2000 - 1);
    for (second, kept) in [(&fits, true), (&over, false)] {
        assert!(parse_proxy_status(second).is_ok(), "{second:?}");
        let err = GatewayError::from_upstream_response(
            "db",
            StatusCode::BAD_GATEWAY,
            &headers(&[&first, second]),
        );
        assert_eq!(err.upstream_proxy_status().is_some(), kept);
        let value = forwarded(&[&first, second], &shown());
        let ours = r#"edge;next-hop="db";received-status=502"#;
        if kept {
            // Kept, and as much of it as fits beside ours within the same
            // cap: the newer line.
            assert_eq!(value, format!("{second}, {ours}"));
        } else {
            assert_eq!(value, ours);
        }
    }
}

/// Hop names that look like hosts and ports, as Tokens and as Strings:
/// none reaches a client under the default policy, and every hop's facts do.
#[test]
fn hop_names_that_look_like_hosts_never_pass_hidden() {
    for name in [
        "upstream-lb",
        "db-primary.internal:5432",
        "10.0.0.7:8080",
        "api.internal/v1",
        "*mesh",
    ] {
        for identity in [name.to_owned(), format!("\"{name}\"")] {
            let line = format!("{identity};error=connection_refused;received-status=503");
            let value = forwarded(&[&line], &hidden());
            // A bare name that is not a Token (`10.0.0.7:8080`) makes the
            // field invalid: it is dropped whole.
            let want = if sfv::Parser::new(line.as_bytes())
                .parse::<sfv::List>()
                .is_ok()
            {
                "upstream;error=connection_refused;received-status=503, edge;received-status=502"
            } else {
                "edge;received-status=502"
            };
            assert_eq!(value, want, "{identity}");
            assert!(!value.contains(name), "{identity}");
        }
    }
}

/// An upstream field at the limit that `parse` reads: the field we send is
/// within the same limit, so a client reads it and finds our member.
#[test]
fn our_member_is_always_readable() {
    let member = "hop;error=connection_refused";
    let mut lines = Vec::new();
    let mut len = 0;
    while len + member.len() + 2 <= MAX_PROXY_STATUS_LEN {
        lines.push(member);
        len += member.len() + 2;
    }
    let line = lines.join(", ");
    for policy in [hidden(), shown()] {
        let value = forwarded(&[&line], &policy);
        assert!(value.len() <= MAX_PROXY_STATUS_LEN, "{}", value.len());
        let sent = headers(&[&value]);
        let parsed = gateway_error::parse(StatusCode::BAD_GATEWAY, &sent, b"").expect("parses");
        assert_eq!(parsed.received_status(), Some(StatusCode::BAD_GATEWAY));
        assert!(parsed.upstream_proxy_status().is_some());
    }
}
