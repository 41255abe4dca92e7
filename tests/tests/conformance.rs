//! Conformance: axum, actix-web and warp servers on loopback sockets answer
//! every case of one table with the same status, headers and body bytes,
//! which are the core renderer's for the same request. warp is served both
//! ways it can be: under the one tower layer (through hyper-util), and with
//! `warp::serve` and `handle` alone.
//!
//! Each row of the table (`conformance/table.rs`) is an error, how the
//! handler returns it, and a request: method, `Accept` fields and
//! `x-request-id`. Every server serves row `n` at `/case/{n}` under one
//! policy; the suite sends each row once to each server and compares
//! status, every header (as a set; values of one name in order) but
//! `date`, `server`, `connection` and `keep-alive`, and the body with `gateway_error::render` for the request's context, then the
//! answers with each other. It also checks that no source error
//! text leaks, that HEAD has no body and GET's `Content-Length`, and that
//! `x-request-id` is echoed or generated.
//!
//! Requests without `Accept`, and HEAD requests, go over raw sockets:
//! reqwest adds `accept: */*` to a request without one, and never reads
//! what follows a HEAD response. The rest share one keep-alive reqwest
//! client.

#[path = "conformance/check.rs"]
mod check;
#[path = "conformance/client.rs"]
mod client;
#[path = "support/servers.rs"]
mod harness;
#[path = "conformance/servers.rs"]
mod servers;
#[path = "conformance/table.rs"]
mod table;

use std::collections::BTreeSet;
use std::time::Duration;

use check::{Findings, Normalized, check, compare_frameworks, compare_head_with_get};
use client::{Client, Got};
use harness::BoxError;
use servers::{Framework, Servers};
use table::{CASES, Id, M, Style, Via};

/// The whole suite: servers up, every request, servers down.
const SUITE_DEADLINE: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_frameworks_answer_with_the_renderers_bytes() {
    run_suite(true).await;
}

/// The pipeline's one shortcut (a handler's error rendered for its request
/// while the adapter polls the handler, through a thread-local) is an
/// optimisation: with it off, every answer is still the renderer's bytes
/// for the request, in every framework.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_bytes_with_the_shortcut_off() {
    run_suite(false).await;
}

async fn run_suite(render_in_handler: bool) {
    let findings = match tokio::time::timeout(SUITE_DEADLINE, suite(render_in_handler)).await {
        Err(_) => panic!("the conformance suite did not finish within {SUITE_DEADLINE:?}"),
        Ok(Err(err)) => panic!("the conformance suite could not run: {err}"),
        Ok(Ok(findings)) => findings,
    };
    assert!(
        findings.is_empty(),
        "{} conformance failure(s):\n  {}",
        findings.len(),
        findings.join("\n  ")
    );
}

async fn suite(render_in_handler: bool) -> Result<Vec<String>, BoxError> {
    let servers = Servers::start(render_in_handler).await?;
    let client = Client::new()?;

    // One request per case and framework, no more.
    let mut requests = 0;
    let mut responses: Vec<(Framework, Vec<Option<Got>>)> = Vec::new();
    let mut failures: Vec<(usize, Framework, String)> = Vec::new();
    for framework in Framework::ALL {
        let addr = servers.addr(framework);
        let mut got = Vec::with_capacity(CASES.len());
        for (index, case) in CASES.iter().enumerate() {
            requests += 1;
            match client.send(addr, index, case).await {
                Ok(response) => got.push(Some(response)),
                Err(err) => {
                    failures.push((index, framework, format!("request failed: {err}")));
                    got.push(None);
                }
            }
        }
        responses.push((framework, got));
    }
    assert_eq!(requests, CASES.len() * Framework::ALL.len());
    drop(client);
    let stop_problems = servers.stop().await;

    let mut findings = Findings::default();
    for (index, framework, what) in failures {
        findings.add(index, Some(framework), what);
    }
    let mut normalized: Vec<Vec<(Framework, Normalized)>> =
        (0..CASES.len()).map(|_| Vec::new()).collect();
    for (framework, got) in &responses {
        for (index, response) in got.iter().enumerate() {
            if let Some(response) = response {
                let answer = check(index, *framework, response, &mut findings);
                normalized[index].push((*framework, answer));
            }
        }
        compare_head_with_get(*framework, got, &mut findings);
    }
    for (index, answers) in normalized.iter().enumerate() {
        let answers: Vec<(Framework, &Normalized)> =
            answers.iter().map(|(fw, n)| (*fw, n)).collect();
        compare_frameworks(index, &answers, &mut findings);
    }
    let mut all = findings.0;
    all.extend(stop_problems);
    Ok(all)
}

/// The table covers what the suite promises; checked without a network.
#[test]
fn the_table_covers_every_dimension() {
    use table::{
        ANY, BROWSER, HTML, IMAGE, JSON, NONE, PROBLEM, Q_MIX, TEXT, get_twin, has_source,
        retry_form,
    };

    let errors: Vec<_> = CASES.iter().map(|case| case.failure.error()).collect();
    let statuses: BTreeSet<u16> = errors.iter().map(|e| e.status().as_u16()).collect();
    assert_eq!(statuses, BTreeSet::from([500, 502, 503, 504]));
    for style in [Style::Err, Style::Reply] {
        let types: BTreeSet<&str> = CASES
            .iter()
            .filter(|case| case.style == style)
            .map(|case| case.failure.thrown().type_name())
            .collect();
        assert_eq!(types.len(), 5, "{style:?}: every type and the enum");
    }
    let kinds: BTreeSet<_> = errors.iter().filter_map(|e| e.kind()).collect();
    assert!(kinds.len() >= 8, "a variety of kinds");
    assert!(errors.iter().any(|e| e.kind().is_none()));
    let forms: BTreeSet<_> = errors.iter().map(retry_form).collect();
    assert_eq!(forms, BTreeSet::from([None, Some(true), Some(false)]));
    assert!(errors.iter().any(|e| e.request_id().is_some()));
    assert!(errors.iter().any(|e| e.request_id().is_none()));
    assert!(errors.iter().any(has_source));
    assert!(errors.iter().any(|e| !has_source(e)));

    for accept in [NONE, ANY, JSON, PROBLEM, HTML, TEXT, Q_MIX, BROWSER, IMAGE] {
        assert!(CASES.iter().any(|case| case.accept == accept), "{accept:?}");
    }
    assert!(CASES.iter().any(|case| case.accept.len() == 2));
    for method in [M::Get, M::Head, M::Post] {
        assert!(CASES.iter().any(|case| case.method == method), "{method:?}");
    }
    assert!(CASES.iter().any(|case| case.id == Id::Absent));
    assert!(CASES.iter().any(|case| case.id == Id::Sent));
    assert!(CASES.iter().any(|case| matches!(case.id, Id::Fields(_))));
    // Sent, but not echoed: invalid ids are replaced.
    assert!(
        CASES
            .iter()
            .enumerate()
            .any(|(i, case)| !case.sent_ids(i).is_empty() && case.echoed_id(i).is_none())
    );

    for (index, case) in CASES.iter().enumerate() {
        // reqwest adds `accept: */*` to a request without one.
        if case.accept.is_empty() {
            assert_eq!(case.via(), Via::Raw, "case {index}");
        }
        if case.method == M::Head {
            assert!(
                get_twin(case).is_some(),
                "case {index}: HEAD needs a GET twin"
            );
        }
    }
    assert!(
        CASES
            .iter()
            .any(|case| case.method == M::Head && case.via() == Via::Reqwest)
    );
}
