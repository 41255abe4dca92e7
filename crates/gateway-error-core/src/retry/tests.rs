//! The decision table: method × phase × status × Retry-After × maximum.

use std::io;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, Method, StatusCode};

use super::*;
use crate::{GatewayError, ProxyError, RetryAfter};

const TEN_MS: Duration = Duration::from_millis(10);

/// A policy without a budget, with a fixed 10 ms backoff ceiling and a
/// 10 s `Retry-After` maximum.
fn policy() -> RetryPolicy {
    RetryPolicy::new()
        .without_budget()
        .with_max_retries(3)
        .with_backoff(ExponentialBackoff::new(TEN_MS, TEN_MS))
        .with_max_retry_after(Duration::from_secs(10))
}

fn response(status: u16, headers: &[(&'static str, &'static str)]) -> Option<Failure> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(*name, HeaderValue::from_static(value));
    }
    Failure::from_response(StatusCode::from_u16(status).expect("valid"), &map, b"")
}

fn error(kind: io::ErrorKind) -> Failure {
    Failure::from_error(&io::Error::from(kind))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Retry after exactly this long (a `Retry-After`).
    Wait(Duration),
    /// Retry after the backoff: within `[5 ms, 10 ms]`.
    Backoff,
    Stop(Stop),
}

fn check(method: &Method, failure: &Failure, expect: Expect, what: &str) {
    let decision = policy().decide(method, 0, failure);
    match (expect, decision) {
        (Expect::Wait(want), Decision::Retry(got)) => assert_eq!(got, want, "{what} {method}"),
        (Expect::Backoff, Decision::Retry(got)) => assert!(
            (TEN_MS / 2..=TEN_MS).contains(&got),
            "{what} {method}: {got:?}"
        ),
        (Expect::Stop(want), Decision::Stop(got)) => assert_eq!(got, want, "{what} {method}"),
        (expect, got) => panic!("{what} {method}: expected {expect:?}, got {got:?}"),
    }
}

const IDEMPOTENT: [Method; 6] = [
    Method::GET,
    Method::HEAD,
    Method::OPTIONS,
    Method::TRACE,
    Method::PUT,
    Method::DELETE,
];
const NOT_IDEMPOTENT: [Method; 3] = [Method::POST, Method::PATCH, Method::CONNECT];

#[test]
fn the_decision_table() {
    use Expect::*;
    let not_idempotent = Stop(super::Stop::NotIdempotent);
    let not_retryable = Stop(super::Stop::NotRetryable);
    let too_long = Stop(super::Stop::RetryAfterTooLong);
    let one_s = Duration::from_secs(1);
    // (what, failure, for idempotent methods, for the others)
    let rows: Vec<(&str, Failure, Expect, Expect)> = vec![
        // Transport errors: the phase decides.
        (
            "refused",
            error(io::ErrorKind::ConnectionRefused),
            Backoff,
            Backoff,
        ),
        (
            "reset",
            error(io::ErrorKind::ConnectionReset),
            Backoff,
            not_idempotent,
        ),
        (
            "timed out",
            error(io::ErrorKind::TimedOut),
            Backoff,
            not_idempotent,
        ),
        (
            "unknown error",
            Failure::from_error(&io::Error::other("?")),
            Backoff,
            not_idempotent,
        ),
        // An upstream's own answer relayed as a 502: a 4xx comes again,
        // but for 408, 421, 425 and 429; a 500 or 501 comes again, a 502 may
        // pass.
        (
            "502 from an upstream 404",
            response(502, &[("proxy-status", "gw; received-status=404")]).expect("failure"),
            not_retryable,
            not_retryable,
        ),
        (
            "502 from an upstream 501",
            response(502, &[("proxy-status", "gw; received-status=501")]).expect("failure"),
            not_retryable,
            not_retryable,
        ),
        (
            "502 from an upstream 429",
            response(502, &[("proxy-status", "gw; received-status=429")]).expect("failure"),
            Backoff,
            not_idempotent,
        ),
        (
            "502 from an upstream 408",
            response(502, &[("proxy-status", "gw; received-status=408")]).expect("failure"),
            Backoff,
            not_idempotent,
        ),
        (
            "502 from an upstream 500",
            response(502, &[("proxy-status", "gw; received-status=500")]).expect("failure"),
            not_retryable,
            not_retryable,
        ),
        (
            "502 from an upstream 421",
            response(502, &[("proxy-status", "gw; received-status=421")]).expect("failure"),
            Backoff,
            not_idempotent,
        ),
        (
            "502 from an upstream 502",
            response(502, &[("proxy-status", "gw; received-status=502")]).expect("failure"),
            Backoff,
            not_idempotent,
        ),
        // The member closest to the client decides.
        (
            "502 from a 404, relayed past a 503",
            response(
                502,
                &[(
                    "proxy-status",
                    "inner; received-status=503, gw; received-status=404",
                )],
            )
            .expect("failure"),
            not_retryable,
            not_retryable,
        ),
        // Gateway responses: the Proxy-Status kind decides the phase.
        (
            "502 refused",
            response(502, &[("proxy-status", "gw; error=connection_refused")]).expect("failure"),
            Backoff,
            Backoff,
        ),
        (
            "503 destination unavailable, Retry-After 1",
            response(
                503,
                &[
                    ("proxy-status", "gw; error=destination_unavailable"),
                    ("retry-after", "1"),
                ],
            )
            .expect("failure"),
            Wait(one_s),
            Wait(one_s),
        ),
        (
            "502 terminated",
            response(502, &[("proxy-status", "gw; error=connection_terminated")]).expect("failure"),
            Backoff,
            not_idempotent,
        ),
        (
            "504 response timeout",
            response(504, &[("proxy-status", "gw; error=http_response_timeout")]).expect("failure"),
            Backoff,
            not_idempotent,
        ),
        (
            "502 without kind",
            response(502, &[]).expect("failure"),
            Backoff,
            not_idempotent,
        ),
        (
            "502 certificate error",
            response(502, &[("proxy-status", "gw; error=tls_certificate_error")]).expect("failure"),
            not_retryable,
            not_retryable,
        ),
        (
            "502 body too large",
            response(
                502,
                &[("proxy-status", "gw; error=http_response_body_size")],
            )
            .expect("failure"),
            not_retryable,
            not_retryable,
        ),
        // Retry-After: waited up to the maximum, else given up on.
        (
            "503 Retry-After 1",
            response(503, &[("retry-after", "1")]).expect("failure"),
            Wait(one_s),
            not_idempotent,
        ),
        (
            "503 Retry-After 0",
            response(503, &[("retry-after", "0")]).expect("failure"),
            Wait(Duration::ZERO),
            not_idempotent,
        ),
        (
            "503 Retry-After 10",
            response(503, &[("retry-after", "10")]).expect("failure"),
            Wait(Duration::from_secs(10)),
            not_idempotent,
        ),
        (
            "503 Retry-After 11",
            response(503, &[("retry-after", "11")]).expect("failure"),
            too_long,
            not_idempotent,
        ),
        (
            "503 Retry-After 3600",
            response(503, &[("retry-after", "3600")]).expect("failure"),
            too_long,
            not_idempotent,
        ),
        (
            "503 Retry-After in the past",
            response(503, &[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]).expect("failure"),
            Wait(Duration::ZERO),
            not_idempotent,
        ),
        (
            "503 Retry-After far ahead",
            response(503, &[("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT")]).expect("failure"),
            too_long,
            not_idempotent,
        ),
        (
            "503 invalid Retry-After",
            response(503, &[("retry-after", "soon")]).expect("failure"),
            Backoff,
            not_idempotent,
        ),
        (
            "503 without hint",
            response(503, &[]).expect("failure"),
            Backoff,
            not_idempotent,
        ),
        (
            "504",
            response(504, &[]).expect("failure"),
            Backoff,
            not_idempotent,
        ),
        // 429 and the other 5xx.
        (
            "429 Retry-After 2",
            response(429, &[("retry-after", "2")]).expect("failure"),
            Wait(Duration::from_secs(2)),
            not_idempotent,
        ),
        (
            "429 Retry-After 3600",
            response(429, &[("retry-after", "3600")]).expect("failure"),
            too_long,
            not_idempotent,
        ),
        (
            "429",
            response(429, &[]).expect("failure"),
            Backoff,
            not_idempotent,
        ),
        (
            "500",
            response(500, &[]).expect("failure"),
            not_retryable,
            not_retryable,
        ),
        (
            "500 Retry-After 1",
            response(500, &[("retry-after", "1")]).expect("failure"),
            Wait(one_s),
            not_idempotent,
        ),
        (
            "501",
            response(501, &[("retry-after", "1")]).expect("failure"),
            not_retryable,
            not_retryable,
        ),
        (
            "505",
            response(505, &[]).expect("failure"),
            not_retryable,
            not_retryable,
        ),
        (
            "511",
            response(511, &[]).expect("failure"),
            not_retryable,
            not_retryable,
        ),
        (
            "507",
            response(507, &[]).expect("failure"),
            Backoff,
            not_idempotent,
        ),
        (
            "520 Retry-After 1",
            response(520, &[("retry-after", "1")]).expect("failure"),
            Wait(one_s),
            not_idempotent,
        ),
    ];
    for (what, failure, idempotent, other) in &rows {
        for method in &IDEMPOTENT {
            check(method, failure, *idempotent, what);
        }
        for method in &NOT_IDEMPOTENT {
            check(method, failure, *other, what);
        }
    }
}

#[test]
fn other_statuses_are_not_failures() {
    for status in [200, 201, 204, 301, 304, 400, 401, 404, 408, 409, 425, 431] {
        assert_eq!(response(status, &[("retry-after", "1")]), None, "{status}");
    }
}

/// A gateway's `"retryable": false` stops the policy even when its head
/// shows no reason (it names no proxy, so no `received-status`); `true`, or
/// a member of another type, leaves the decision to the policy.
#[test]
fn the_bodys_retryable_false_stops_a_retry() {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let said = |retryable: &str| {
        let body = format!(
            r#"{{"error":{{"code":502,"message":"Bad Gateway","retryable":{retryable}}}}}"#
        );
        Failure::from_response(StatusCode::BAD_GATEWAY, &headers, body.as_bytes()).expect("failure")
    };
    check(
        &Method::GET,
        &said("false"),
        Expect::Stop(Stop::NotRetryable),
        "retryable false",
    );
    check(
        &Method::GET,
        &said("true"),
        Expect::Backoff,
        "retryable true",
    );
    check(&Method::GET, &said(r#""no""#), Expect::Backoff, "a string");
    // A gateway's answer to a relayed 404, rendered as it is sent.
    let relayed = crate::GatewayError::from_upstream_response(
        "catalog",
        StatusCode::NOT_FOUND,
        &HeaderMap::new(),
    );
    let accept = [HeaderValue::from_static("application/json")];
    let ctx = crate::RenderContext::new()
        .with_accept_values(&accept)
        .with_method(&Method::GET);
    let response = crate::render(&relayed, &ctx);
    assert!(response.headers().get("proxy-status").is_none());
    let failure = Failure::from_response(response.status(), response.headers(), response.body())
        .expect("failure");
    check(
        &Method::GET,
        &failure,
        Expect::Stop(Stop::NotRetryable),
        "a relayed 404",
    );
}

#[test]
fn the_body_gives_kind_and_hint_and_a_bad_body_is_ignored() {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("retry-after", HeaderValue::from_static("2"));
    let body = br#"{"error":{"code":"bad_gateway","kind":"connection_refused"}}"#;
    let failure = Failure::from_response(StatusCode::BAD_GATEWAY, &headers, body).expect("failure");
    assert_eq!(failure.kind(), Some(ProxyError::ConnectionRefused));
    assert_eq!(failure.retry_after(), Some(RetryAfter::from_secs(2)));
    assert!(matches!(
        policy().decide(&Method::POST, 0, &failure),
        Decision::Retry(_)
    ));

    // Not JSON after all, and an empty body: the head still counts.
    for body in [&b"{oops"[..], b""] {
        let failure = Failure::from_response(StatusCode::SERVICE_UNAVAILABLE, &headers, body)
            .expect("failure");
        assert_eq!(failure.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(failure.retry_after(), Some(RetryAfter::from_secs(2)));
    }
}

#[test]
fn gateway_errors_convert() {
    let refused = GatewayError::from_kind("db", ProxyError::ConnectionRefused);
    assert!(matches!(
        policy().decide(&Method::POST, 0, &Failure::from(&refused)),
        Decision::Retry(_)
    ));
    let timeout = GatewayError::from_upstream_error("db", io::Error::from(io::ErrorKind::TimedOut));
    assert_eq!(
        policy().decide(&Method::POST, 0, &Failure::from(&timeout)),
        Decision::Stop(Stop::NotIdempotent)
    );
    let hinted = GatewayError::from(crate::ServiceUnavailable::new().with_retry_after(
        RetryAfter::at(SystemTime::now() + Duration::from_secs(3600)),
    ));
    assert_eq!(
        policy().decide(&Method::GET, 0, &Failure::from(&hinted)),
        Decision::Stop(Stop::RetryAfterTooLong)
    );
}

#[test]
fn retries_are_bounded_and_safety_comes_first() {
    let refused = error(io::ErrorKind::ConnectionRefused);
    let policy = policy();
    for retries in 0..3 {
        assert!(matches!(
            policy.decide(&Method::POST, retries, &refused),
            Decision::Retry(_)
        ));
    }
    assert_eq!(
        policy.decide(&Method::POST, 3, &refused),
        Decision::Stop(Stop::RetriesExhausted)
    );
    assert_eq!(
        policy.decide(&Method::POST, u32::MAX, &refused),
        Decision::Stop(Stop::RetriesExhausted)
    );
    let reset = error(io::ErrorKind::ConnectionReset);
    assert_eq!(
        policy.decide(&Method::POST, 3, &reset),
        Decision::Stop(Stop::NotIdempotent)
    );
    assert_eq!(
        RetryPolicy::new()
            .with_max_retries(0)
            .decide(&Method::GET, 0, &refused),
        Decision::Stop(Stop::RetriesExhausted)
    );
}

#[test]
fn the_budget_is_spent_only_on_retries_and_stops_a_burst() {
    let budget = Budget::new(3, 0.0);
    let policy = policy().with_budget(budget.clone());
    let refused = error(io::ErrorKind::ConnectionRefused);
    let reset = error(io::ErrorKind::ConnectionReset);
    // Decisions that stop for another reason take no token.
    for _ in 0..10 {
        assert_eq!(
            policy.decide(&Method::POST, 0, &reset),
            Decision::Stop(Stop::NotIdempotent)
        );
        assert_eq!(
            policy.decide(&Method::POST, 3, &refused),
            Decision::Stop(Stop::RetriesExhausted)
        );
    }
    let retried = (0..100)
        .filter(|_| matches!(policy.decide(&Method::GET, 0, &refused), Decision::Retry(_)))
        .count();
    assert_eq!(retried, 3);
    assert!(!budget.withdraw());
}

#[test]
fn deposits_refill_the_budget_by_the_ratio() {
    let budget = Budget::new(5, 0.25);
    assert_eq!((0..10).filter(|_| budget.withdraw()).count(), 5);
    for _ in 0..8 {
        budget.deposit();
    }
    assert_eq!((0..10).filter(|_| budget.withdraw()).count(), 2);
    // Capped at the maximum.
    for _ in 0..1000 {
        budget.deposit();
    }
    assert_eq!((0..100).filter(|_| budget.withdraw()).count(), 5);
    // Ratios that are not positive numbers deposit nothing.
    for ratio in [f32::NAN, f32::NEG_INFINITY, -1.0, 0.0] {
        let budget = Budget::new(1, ratio);
        assert!(budget.withdraw());
        budget.deposit();
        assert!(!budget.withdraw(), "{ratio}");
    }
    let budget = Budget::new(1, f32::INFINITY);
    assert!(budget.withdraw());
    budget.deposit();
    assert!(budget.withdraw());
}

#[test]
fn the_budget_is_shared_across_threads_exactly() {
    let budget = Budget::new(1000, 0.0);
    let taken: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let budget = budget.clone();
                scope.spawn(move || (0..1000).filter(|_| budget.withdraw()).count())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .sum()
    });
    assert_eq!(taken, 1000);
}

#[test]
fn backoff_stays_within_its_bounds() {
    let backoff = ExponentialBackoff::new(Duration::from_millis(100), Duration::from_secs(1));
    for retry in 0..64 {
        let ceiling = Duration::from_millis(100)
            .saturating_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX))
            .min(Duration::from_secs(1));
        for _ in 0..100 {
            let delay = backoff.delay(retry);
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "{retry}: {delay:?}"
            );
        }
    }
    // Jittered: not always the same.
    let delays: std::collections::HashSet<Duration> = (0..100).map(|_| backoff.delay(3)).collect();
    assert!(delays.len() > 50, "{}", delays.len());
    // Extremes neither panic nor overflow.
    let huge = ExponentialBackoff::new(Duration::MAX, Duration::MAX);
    assert!(huge.delay(u32::MAX) >= Duration::from_nanos(u64::MAX / 2));
    assert_eq!(
        ExponentialBackoff::new(Duration::ZERO, Duration::ZERO).delay(7),
        Duration::ZERO
    );
    let raised = ExponentialBackoff::new(Duration::from_millis(10), Duration::from_millis(1));
    assert!(raised.delay(9) <= Duration::from_millis(10));
}

#[test]
fn backoffs_yield_one_delay_per_retry() {
    let policy = policy().with_max_retries(4);
    let delays: Vec<Duration> = policy.backoffs().collect();
    assert_eq!(delays.len(), 4);
    assert!(delays.iter().all(|d| (TEN_MS / 2..=TEN_MS).contains(d)));
    assert_eq!(policy.with_max_retries(0).backoffs().next(), None);
}

#[test]
fn policies_are_send_sync_and_small_enough_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<RetryPolicy>();
    assert_send_sync::<Budget>();
    assert_send_sync::<Failure>();
}

/// Each decision is a debug event with OpenTelemetry field names.
#[cfg(feature = "tracing")]
#[test]
fn decisions_are_debug_events() {
    use crate::test_support::{Events, field};

    let events = Events::default();
    tracing::subscriber::with_default(events.clone(), || {
        let refused =
            response(502, &[("proxy-status", "gw; error=connection_refused")]).expect("failure");
        let _ = policy().decide(&Method::POST, 1, &refused);
        let not_found =
            response(502, &[("proxy-status", "gw; received-status=404")]).expect("failure");
        let _ = policy().decide(&Method::GET, 0, &not_found);
    });
    let events = events.take();
    let [(retry_level, retry), (stop_level, stop)] = &events[..] else {
        panic!("two events expected: {events:?}")
    };
    assert_eq!(
        (*retry_level, *stop_level),
        (tracing::Level::DEBUG, tracing::Level::DEBUG)
    );
    for (name, value) in [
        ("http.request.method", "POST"),
        ("http.request.resend_count", "1"),
        ("http.response.status_code", "502"),
        ("error.type", "connection_refused"),
    ] {
        assert_eq!(
            field(retry, name).as_deref(),
            Some(value),
            "{name}: {retry:?}"
        );
    }
    let delay: u64 = field(retry, "gateway_error.retry.delay_ms")
        .and_then(|ms| ms.parse().ok())
        .expect("a delay");
    assert!((5..=10).contains(&delay), "{delay}");
    assert_eq!(field(stop, "http.request.method").as_deref(), Some("GET"));
    assert_eq!(field(stop, "error.type").as_deref(), Some("502"));
    assert_eq!(
        field(stop, "gateway_error.retry.stop").as_deref(),
        Some("NotRetryable")
    );
}

/// Retry at one layer: a failure a policy gave up on after retrying says
/// so when a gateway answers with it, in every format; a "no" that came
/// from below (one attempt, the answer said not to retry) says only that a
/// retry cannot help; one attempt for any other reason changes nothing.
#[test]
fn a_gateway_that_already_retried_says_so() {
    use crate::context::RenderContext;
    use crate::negotiate::Format;
    use crate::render::render;
    use crate::{ResponseExt, ResultExt};

    let refused = || io::Error::from(io::ErrorKind::ConnectionRefused);
    let text = |err: &GatewayError, method: &Method| {
        let ctx = RenderContext::new()
            .with_format(Format::Text)
            .with_method(method);
        String::from_utf8(render(err, &ctx).body().to_vec()).expect("utf-8")
    };
    // Through `ResultExt::upstream`, as the final error of a retry.
    let retried = Err::<(), _>(Retried::new(4, Stop::RetriesExhausted).with_source(refused()))
        .upstream("catalog")
        .expect_err("an error");
    // The source is still classified: never sent.
    assert_eq!(retried.kind(), Some(ProxyError::ConnectionRefused));
    assert!(!retried.is_retryable(&Method::GET));
    assert!(!retried.is_retryable(&Method::POST));
    assert_eq!(
        text(&retried, &Method::GET),
        "502 Bad Gateway\nThe server could not reach the upstream server while trying to fulfill the request.\nThis gateway already retried the request; do not resend it automatically.\n"
    );
    let html = render(
        &retried,
        &RenderContext::new()
            .with_format(Format::Html)
            .with_method(&Method::GET),
    );
    let page = std::str::from_utf8(html.body()).expect("utf-8");
    assert!(
        page.contains("This site already tried again for you, without success"),
        "{page}"
    );
    let json = render(&retried, &RenderContext::new().with_method(&Method::GET));
    assert!(
        std::str::from_utf8(json.body())
            .expect("utf-8")
            .contains(r#""retryable":false"#)
    );
    // The budget stopped it at the first attempt: the same.
    let budget = Err::<(), _>(Retried::new(1, Stop::BudgetExhausted).with_source(refused()))
        .upstream("catalog")
        .expect_err("an error");
    assert!(
        text(&budget, &Method::GET).ends_with(
            "This gateway already retried the request; do not resend it automatically.\n"
        )
    );
    // A "no" from below, relayed after one attempt: a retry cannot help.
    let said = Err::<(), _>(Retried::new(1, Stop::NotRetryable).with_source(refused()))
        .upstream("catalog")
        .expect_err("an error");
    assert!(text(&said, &Method::GET).ends_with(
        "Sending this request again is not expected to succeed; do not resend it automatically.\n"
    ));
    // On a response, through `error_for_upstream_status`.
    let mut response = http::Response::builder()
        .status(503)
        .body(())
        .expect("a response");
    response
        .extensions_mut()
        .insert(Retried::new(3, Stop::RetriesExhausted));
    let err = response
        .error_for_upstream_status("catalog")
        .expect_err("an error status");
    assert!(!err.is_retryable(&Method::GET));
    let plain = http::Response::builder()
        .status(503)
        .body(())
        .expect("a response")
        .error_for_upstream_status("catalog")
        .expect_err("an error status");
    assert!(plain.is_retryable(&Method::GET));
    // And the client's policy stops on it.
    let policy = policy();
    assert_eq!(
        policy.decide(&Method::GET, 0, &Failure::from(&retried)),
        Decision::Stop(Stop::NotRetryable)
    );
}

/// Only a layer that spent retries (or whose budget stopped it, or whose
/// last answer said no) records it.
#[test]
fn only_spent_retries_are_recorded() {
    let plain = response(503, &[]).expect("a failure");
    assert!(Retried::spent(1, Stop::NotIdempotent, &plain).is_none());
    assert!(Retried::spent(1, Stop::RetryAfterTooLong, &plain).is_none());
    let spent = Retried::spent(4, Stop::RetriesExhausted, &plain).expect("spent");
    assert_eq!(
        (spent.attempts(), spent.stop()),
        (4, Stop::RetriesExhausted)
    );
    assert!(Retried::spent(1, Stop::BudgetExhausted, &plain).is_some());
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let no = Failure::from_response(
        StatusCode::BAD_GATEWAY,
        &headers,
        br#"{"error":{"code":502,"retryable":false}}"#,
    )
    .expect("a failure");
    assert!(Retried::spent(1, Stop::NotRetryable, &no).is_some());
}
