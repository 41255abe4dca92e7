//! Real upstream failures in, the right 502/504/503 out.
//!
//! The demo's misbehaving upstreams (real TCP servers on 127.0.0.1) are
//! driven two ways:
//!
//! * through the demo gateway (axum + reqwest + `GatewayErrorLayer`), checking
//!   what a client of the gateway sees: status, `Proxy-Status` (parsed with
//!   `sfv`), `Retry-After`, the JSON body's `kind`, `retryable` and
//!   `request_id`, and that no upstream or client-library text leaks;
//! * through `GatewayError::from_upstream_error` directly, with the errors
//!   each client library really produces: reqwest, hyper-util's legacy
//!   client, and raw tokio I/O and timeouts.
//!
//! The expected kinds and statuses are the RFC 9209 column of STANDARDS.md,
//! written out here rather than derived from the library.
//!
//! Every network operation is bounded by `tokio::time::timeout`, nothing
//! leaves 127.0.0.1, and the whole file runs in a few seconds.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::join_all;
use gateway_demo::gateway;
use gateway_demo::upstreams::{Scenario, Upstreams};
use gateway_error::{GatewayError, Phase, ProxyError, RetryAfter};
use http::{HeaderMap, Method, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sfv::{BareItem, ListEntry};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// The name the demo gives its upstream.
const UPSTREAM: &str = "product-service";
/// The upstream's body in the `ok` scenario.
const OK_BODY: &str = r#"{"id":42,"name":"Teapot","price":"19.99"}"#;
/// The upper bound on any single network step of this file; nothing should
/// come close (the slowest step is a 1 s client timeout).
const STEP: Duration = Duration::from_secs(5);
/// The timeouts of the clients built here, as the brief's gateway would use.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);

/// Text that must never reach a client of the gateway: the Display forms
/// of reqwest, hyper, hyper-util and io errors, and what the upstreams
/// themselves sent (their bodies, headers and garbage). Compared in lower
/// case. None of these occurs in the canonical details sentences or in an
/// RFC 9209 token.
const LEAKS: &[&str] = &[
    "error sending request",
    "error reading a body",
    "error decoding",
    "connection closed",
    "connection reset",
    "connection refused",
    "tcp connect error",
    "client error",
    "hyper",
    "reqwest",
    "os error",
    "invalid http",
    "message head is too large",
    "incompletemessage",
    "end of file",
    "timed out",
    "deadline has elapsed",
    "operation timed out",
    "maintenance",
    "upstream of the upstream refused",
    "ssh-2.0",
    "openssh",
    "not http",
    "x-filler",
    "x-slow",
    "one byte at a time",
    "aaaaaaaaaa",
];

/// What a failing scenario must classify as (STANDARDS.md, RFC 9209 column):
/// the kind, its status, and whether a POST may be retried. A GET may be
/// retried whenever a retry can help (see [`retry_helps`]): it is idempotent
/// (RFC 9110 section 9.2.2). A POST only when the request cannot have
/// reached the upstream too.
fn expected(scenario: Scenario) -> Option<(ProxyError, u16, bool)> {
    Some(match scenario {
        Scenario::Refused => (ProxyError::ConnectionRefused, 502, true),
        Scenario::Reset => (ProxyError::ConnectionTerminated, 502, false),
        Scenario::Hang => (ProxyError::HttpResponseTimeout, 504, false),
        Scenario::Garbage => (ProxyError::HttpProtocolError, 502, false),
        Scenario::Truncated => (ProxyError::HttpResponseIncomplete, 502, false),
        Scenario::HugeHeaders => (ProxyError::HttpResponseHeaderSectionSize, 502, false),
        Scenario::SlowHeaders => (ProxyError::HttpResponseTimeout, 504, false),
        // The gateway's 1 MiB body cap, not a client's, stops this one.
        Scenario::EndlessBody => (ProxyError::HttpResponseBodySize, 502, false),
        Scenario::DripHeaders => (ProxyError::HttpResponseTimeout, 504, false),
        Scenario::HeaderFlood => (ProxyError::HttpResponseHeaderSectionSize, 502, false),
        Scenario::Ok | Scenario::Unavailable | Scenario::Upstream502 => return None,
    })
}

/// Whether a retry can change a failure of this kind: not for a response
/// over a size limit, which the same upstream sends again.
fn retry_helps(kind: ProxyError) -> bool {
    !matches!(
        kind,
        ProxyError::HttpResponseHeaderSectionSize | ProxyError::HttpResponseBodySize
    )
}

/// The scenarios a client library meets on its own: an endless body is
/// only an error under a body limit, which is the gateway's, not the client's.
fn direct_scenarios() -> impl Iterator<Item = Scenario> {
    Scenario::ALL
        .into_iter()
        .filter(|&scenario| scenario != Scenario::EndlessBody)
}

/// Runs `future`, failing the test if it takes longer than `limit`.
async fn bounded<F: Future>(what: &str, limit: Duration, future: F) -> F::Output {
    match tokio::time::timeout(limit, future).await {
        Ok(output) => output,
        Err(_) => panic!("{what}: took longer than {limit:?}"),
    }
}

/// An error and its sources, one per line, for assertion messages.
/// Each client's error: its name, its source chain, and what it classifies
/// as.
fn per_client<E>(
    reqwest_error: reqwest::Error,
    hyper_error: E,
) -> [(&'static str, String, GatewayError); 2]
where
    E: StdError + Send + Sync + 'static,
{
    [
        (
            "reqwest",
            chain(&reqwest_error),
            GatewayError::from_upstream_error(UPSTREAM, reqwest_error),
        ),
        (
            "hyper-util",
            chain(&hyper_error),
            GatewayError::from_upstream_error(UPSTREAM, hyper_error),
        ),
    ]
}

fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut out = format!("{error:?}");
    let mut next = error.source();
    while let Some(layer) = next {
        out.push_str("\n  caused by: ");
        out.push_str(&layer.to_string());
        next = layer.source();
    }
    out
}

/// Asserts what `from_upstream_error` makes of a client error from
/// `scenario`'s upstream.
fn assert_classified<E>(client: &str, scenario: Scenario, error: E)
where
    E: StdError + Send + Sync + 'static,
{
    let (kind, status, post) = expected(scenario).expect("a failing scenario");
    let what = format!("{client}, {}: {}", scenario.name(), chain(&error));
    let err = GatewayError::from_upstream_error(UPSTREAM, error);
    assert_eq!(err.kind(), Some(kind), "{what}");
    assert_eq!(err.status().as_u16(), status, "{what}");
    assert_eq!(err.upstream_name(), Some(UPSTREAM), "{what}");
    assert_eq!(
        err.is_retryable(&Method::GET),
        retry_helps(kind),
        "GET: {what}"
    );
    assert_eq!(
        err.is_retryable(&Method::POST),
        post && retry_helps(kind),
        "POST: {what}"
    );
    assert!(err.source().is_some(), "the source is kept: {what}");
    assert!(
        !err.to_string().contains(&error_text(&err)),
        "Display never shows the source: {what}"
    );
}

/// The Display text of an error's source, or a string nothing contains.
fn error_text(err: &GatewayError) -> String {
    err.source()
        .map_or_else(|| "\u{0}never".to_owned(), ToString::to_string)
}

// ---------------------------------------------------------------------------
// Through the gateway
// ---------------------------------------------------------------------------

/// One response from the gateway, read whole.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

/// The members of a `Proxy-Status` field: name and parameters, in order.
fn proxy_status_members(headers: &HeaderMap, what: &str) -> Vec<(BareItem, sfv::Parameters)> {
    let lines: Vec<&str> = headers
        .get_all("proxy-status")
        .iter()
        .map(|v| v.to_str().expect("Proxy-Status is ASCII"))
        .collect();
    assert!(!lines.is_empty(), "{what}: no Proxy-Status");
    let field = lines.join(", ");
    let list: sfv::List = sfv::Parser::new(&field)
        .with_version(sfv::Version::Rfc8941)
        .parse()
        .unwrap_or_else(|e| panic!("{what}: Proxy-Status {field:?} is not an SF List: {e}"));
    list.into_iter()
        .map(|entry| match entry {
            ListEntry::Item(item) => {
                assert!(
                    matches!(item.bare_item, BareItem::Token(_) | BareItem::String(_)),
                    "{what}: member {:?} is not a Token or String",
                    item.bare_item
                );
                (item.bare_item, item.params)
            }
            ListEntry::InnerList(inner) => panic!("{what}: inner list {inner:?} in Proxy-Status"),
        })
        .collect()
}

fn param_token<'a>(params: &'a sfv::Parameters, key: &str) -> Option<&'a str> {
    params.get(key).map(|v| {
        v.as_token()
            .unwrap_or_else(|| panic!("{key} is not a Token: {v:?}"))
            .as_str()
    })
}

fn param_string<'a>(params: &'a sfv::Parameters, key: &str) -> Option<&'a str> {
    params.get(key).map(|v| {
        v.as_string()
            .unwrap_or_else(|| panic!("{key} is not a String: {v:?}"))
            .as_str()
    })
}

fn param_integer(params: &sfv::Parameters, key: &str) -> Option<i64> {
    params.get(key).map(|v| {
        i64::from(
            v.as_integer()
                .unwrap_or_else(|| panic!("{key} is not an Integer: {v:?}")),
        )
    })
}

/// Asserts that nothing of the upstream's or the client library's text is
/// in the response's headers or body.
fn assert_no_leak(answer: &Answer, what: &str) {
    let mut everything = String::new();
    for (name, value) in &answer.headers {
        everything.push_str(name.as_str());
        everything.push_str(": ");
        everything.push_str(&String::from_utf8_lossy(value.as_bytes()));
        everything.push('\n');
    }
    everything.push_str(&answer.body);
    let everything = everything.to_ascii_lowercase();
    for leak in LEAKS {
        assert!(
            !everything.contains(leak),
            "{what}: the response contains {leak:?}:\n{everything}"
        );
    }
}

/// Checks one gateway response for `scenario` and `method`.
fn check_gateway_answer(
    scenario: Scenario,
    method: &Method,
    next_hop: SocketAddr,
    request_id: &str,
    answer: &Answer,
) {
    let what = format!("{method} /upstream/{}", scenario.name());
    let header = |name: &str| {
        answer
            .headers
            .get(name)
            .map(|v| v.to_str().expect("ASCII header"))
    };

    if scenario == Scenario::Ok {
        assert_eq!(answer.status, StatusCode::OK, "{what}");
        assert_eq!(header("content-type"), Some("application/json"), "{what}");
        assert_eq!(answer.body, OK_BODY, "{what}: the upstream's body, as is");
        assert_eq!(header("x-request-id"), Some(request_id), "{what}");
        assert_eq!(header("proxy-status"), None, "{what}");
        assert_eq!(header("retry-after"), None, "{what}");
        return;
    }

    // Status, and the error token this gateway's member must carry.
    let (status, error, received) = match (scenario, expected(scenario)) {
        (_, Some((kind, status, _))) => (status, Some(kind.as_str()), None),
        // An upstream 503 stays a 503; there is no RFC 9209 error: the
        // upstream answered, and `received-status` says what with.
        (Scenario::Unavailable, None) => (503, None, Some(503)),
        // An upstream 5xx is a 502 of ours, with what it said kept.
        (Scenario::Upstream502, None) => (502, None, Some(502)),
        (other, None) => unreachable!("{other:?}"),
    };
    assert_eq!(answer.status.as_u16(), status, "{what}: {}", answer.body);
    assert_eq!(header("content-type"), Some("application/json"), "{what}");
    assert_eq!(header("x-request-id"), Some(request_id), "{what}");

    // Proxy-Status: ours last, the upstream's kept first.
    let members = proxy_status_members(&answer.headers, &what);
    let (ours, upstream_members) = members.split_last().expect("at least one member");
    assert_eq!(
        ours.0.as_token().map(|t| t.as_str()),
        Some(gateway::NAME),
        "{what}: the last member is ours, a Token"
    );
    assert_eq!(param_token(&ours.1, "error"), error, "{what}: error");
    assert_eq!(
        param_string(&ours.1, "next-hop"),
        Some(next_hop.to_string().as_str()),
        "{what}: next-hop"
    );
    assert_eq!(
        param_integer(&ours.1, "received-status"),
        received,
        "{what}: received-status"
    );
    if scenario == Scenario::Upstream502 {
        assert_eq!(upstream_members.len(), 1, "{what}: {members:?}");
        let (name, params) = &upstream_members[0];
        assert_eq!(
            name.as_token().map(|t| t.as_str()),
            Some("inner-proxy"),
            "{what}"
        );
        assert_eq!(
            param_token(params, "error"),
            Some("connection_refused"),
            "{what}"
        );
    } else {
        assert!(upstream_members.is_empty(), "{what}: {members:?}");
    }

    // Retry-After: only the upstream 503's, kept.
    let retry_after = (scenario == Scenario::Unavailable).then_some("120");
    assert_eq!(header("retry-after"), retry_after, "{what}: Retry-After");

    // The JSON body.
    let json: serde_json::Value = serde_json::from_str(&answer.body)
        .unwrap_or_else(|e| panic!("{what}: body is not JSON ({e}): {}", answer.body));
    let body = &json["error"];
    assert_eq!(body["code"], status, "{what}: {json}");
    assert_eq!(body["upstream"], UPSTREAM, "{what}: {json}");
    assert_eq!(body["request_id"], request_id, "{what}: {json}");
    assert_eq!(body["kind"].as_str(), error, "{what}: {json}");
    let retryable = match expected(scenario) {
        Some((kind, _, post)) => retry_helps(kind) && (*method == Method::GET || post),
        // No kind: the upstream answered, so a POST may have been processed.
        None => *method == Method::GET,
    };
    assert_eq!(body["retryable"], retryable, "{what}: {json}");
    match retry_after {
        Some(secs) => assert_eq!(body["retry_after"].to_string(), secs, "{what}: {json}"),
        None => assert!(body.get("retry_after").is_none(), "{what}: {json}"),
    }

    assert_no_leak(answer, &what);
}

/// Every scenario, GET and POST, through the demo gateway: 20 requests,
/// all at once; the slowest take the gateway's 1 s timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn through_the_gateway_every_scenario_get_and_post() {
    let started = Instant::now();
    let upstreams = bounded("start upstreams", STEP, Upstreams::start())
        .await
        .expect("upstreams start");
    let addrs: BTreeMap<Scenario, SocketAddr> = Scenario::ALL
        .into_iter()
        .map(|s| (s, upstreams.addr(s)))
        .collect();
    for addr in addrs.values() {
        assert!(addr.ip().is_loopback(), "{addr}");
    }
    let app = gateway::router(upstreams, gateway::client().expect("client"));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let gateway_addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let client = reqwest::Client::builder()
        .timeout(STEP)
        .connect_timeout(CONNECT_TIMEOUT)
        .no_proxy()
        .build()
        .expect("client");
    let calls = Scenario::ALL.into_iter().flat_map(|scenario| {
        [Method::GET, Method::POST].map(|method| {
            let request_id = format!("t-{}-{}", scenario.name(), method.as_str().to_lowercase());
            let request = client
                .request(
                    method.clone(),
                    format!("http://{gateway_addr}/upstream/{}", scenario.name()),
                )
                .header("accept", "application/json")
                .header("x-request-id", &request_id);
            async move {
                let what = format!("{method} {}", scenario.name());
                let answer = bounded(&what, STEP, async {
                    let response = request.send().await.expect("the gateway answers");
                    let status = response.status();
                    let headers = response.headers().clone();
                    let body = response.text().await.expect("the gateway's body");
                    Answer {
                        status,
                        headers,
                        body,
                    }
                })
                .await;
                (scenario, method, request_id, answer)
            }
        })
    });
    let answers = join_all(calls).await;
    server.abort();

    assert_eq!(answers.len(), 2 * Scenario::ALL.len());
    for (scenario, method, request_id, answer) in &answers {
        check_gateway_answer(*scenario, method, addrs[scenario], request_id, answer);
    }
    eprintln!(
        "through_the_gateway: {} requests in {:?}",
        answers.len(),
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------
// The classifier directly: reqwest
// ---------------------------------------------------------------------------

fn reqwest_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("client")
}

/// Every scenario with reqwest's own errors: connect, send, timeout and
/// body errors for the failures; for the upstreams that answer 503 and 502,
/// `from_upstream_response` and reqwest's status error.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reqwest_errors_classify_per_scenario() {
    let started = Instant::now();
    let upstreams = Upstreams::start().await.expect("upstreams start");
    let client = reqwest_client();
    let probes = direct_scenarios().map(|scenario| {
        let url = format!("http://{}/products/42", upstreams.addr(scenario));
        let client = client.clone();
        async move {
            let result = bounded(scenario.name(), STEP, async {
                let response = client.get(&url).send().await?;
                let status = response.status();
                let headers = response.headers().clone();
                let body = response.bytes().await?;
                Ok::<_, reqwest::Error>((status, headers, body))
            })
            .await;
            (scenario, result)
        }
    });
    for (scenario, result) in join_all(probes).await {
        match (scenario, result) {
            (Scenario::Ok, Ok((status, _, body))) => {
                assert_eq!(status, StatusCode::OK);
                assert_eq!(body, OK_BODY.as_bytes());
            }
            (Scenario::Unavailable, Ok((status, headers, _))) => {
                assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
                let err = GatewayError::from_upstream_response(UPSTREAM, status, &headers);
                assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
                assert_eq!(err.kind(), None);
                assert_eq!(err.retry_after(), Some(RetryAfter::from_secs(120)));
                assert_eq!(err.received_status(), Some(status));
                assert!(err.is_retryable(&Method::GET));
                assert!(!err.is_retryable(&Method::POST));
            }
            (Scenario::Upstream502, Ok((status, headers, _))) => {
                assert_eq!(status, StatusCode::BAD_GATEWAY);
                let err = GatewayError::from_upstream_response(UPSTREAM, status, &headers);
                assert_eq!(err.status(), StatusCode::BAD_GATEWAY);
                assert_eq!(err.kind(), None);
                assert_eq!(err.retry_after(), None);
                assert_eq!(err.received_status(), Some(status));
                assert_eq!(
                    err.upstream_proxy_status().map(|v| v.as_bytes()),
                    Some(&b"inner-proxy; error=connection_refused"[..])
                );
                assert!(err.is_retryable(&Method::GET));
                assert!(!err.is_retryable(&Method::POST));
            }
            (scenario, Err(error)) if expected(scenario).is_some() => {
                assert_classified("reqwest", scenario, error);
            }
            (scenario, Ok((status, ..))) => {
                panic!("reqwest, {}: unexpected success {status}", scenario.name())
            }
            (scenario, Err(error)) => {
                panic!(
                    "reqwest, {}: unexpected error {}",
                    scenario.name(),
                    chain(&error)
                )
            }
        }
    }
    eprintln!("reqwest_errors_classify: {:?}", started.elapsed());
}

/// reqwest's `error_for_status` error: a 502 with `received-status`, never
/// a 500, and no kind (the upstream answered). Even for an upstream 503:
/// a status error carries no headers (so no `Retry-After`), and the
/// classifier makes every status error a 502, where
/// `from_upstream_response` keeps a 503 a 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reqwest_status_errors_keep_the_received_status() {
    let upstreams = Upstreams::start().await.expect("upstreams start");
    let client = reqwest_client();
    for scenario in [Scenario::Upstream502, Scenario::Unavailable] {
        let url = format!("http://{}/products/42", upstreams.addr(scenario));
        let response = bounded(scenario.name(), STEP, client.get(&url).send())
            .await
            .expect("the upstream answers");
        let received = response.status();
        let error = response.error_for_status().expect_err("a 5xx");
        let err = GatewayError::from_upstream_error(UPSTREAM, error);
        assert_eq!(err.status(), StatusCode::BAD_GATEWAY, "{}", scenario.name());
        assert_eq!(err.kind(), None, "{}", scenario.name());
        assert_eq!(err.received_status(), Some(received), "{}", scenario.name());
        assert!(err.is_retryable(&Method::GET));
        assert!(!err.is_retryable(&Method::POST));
    }
}

// ---------------------------------------------------------------------------
// The classifier directly: hyper-util's legacy client
// ---------------------------------------------------------------------------

/// What a hyper-util request came to: an error of the client, an error of
/// the body, or a tokio timeout around either.
enum HyperOutcome {
    Response(StatusCode, HeaderMap, Bytes),
    Client(hyper_util::client::legacy::Error),
    Body(hyper::Error),
    Elapsed(tokio::time::error::Elapsed),
}

/// Every failing scenario with hyper-util's legacy client: its connect and
/// request errors, hyper's body errors, and tokio's `Elapsed` around the
/// request (the legacy client has no response timeout of its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hyper_util_errors_classify_per_scenario() {
    let started = Instant::now();
    let upstreams = Upstreams::start().await.expect("upstreams start");
    let client: HyperClient<HttpConnector, Empty<Bytes>> =
        HyperClient::builder(TokioExecutor::new()).build_http();
    let probes = direct_scenarios().map(|scenario| {
        let uri: http::Uri = format!("http://{}/products/42", upstreams.addr(scenario))
            .parse()
            .expect("uri");
        let client = client.clone();
        async move {
            let request = http::Request::get(uri)
                .body(Empty::<Bytes>::new())
                .expect("request");
            let outcome = match tokio::time::timeout(CLIENT_TIMEOUT, async {
                let response = match client.request(request).await {
                    Ok(response) => response,
                    Err(e) => return HyperOutcome::Client(e),
                };
                let (parts, body) = response.into_parts();
                match body.collect().await {
                    Ok(body) => {
                        HyperOutcome::Response(parts.status, parts.headers, body.to_bytes())
                    }
                    Err(e) => HyperOutcome::Body(e),
                }
            })
            .await
            {
                Ok(outcome) => outcome,
                Err(elapsed) => HyperOutcome::Elapsed(elapsed),
            };
            (scenario, outcome)
        }
    });
    let outcomes = bounded("hyper-util probes", STEP, join_all(probes)).await;
    for (scenario, outcome) in outcomes {
        let name = scenario.name();
        match (scenario, outcome) {
            (Scenario::Ok, HyperOutcome::Response(status, _, body)) => {
                assert_eq!(status, StatusCode::OK);
                assert_eq!(body, OK_BODY.as_bytes());
            }
            (Scenario::Unavailable, HyperOutcome::Response(status, headers, _)) => {
                let err = GatewayError::from_upstream_response(UPSTREAM, status, &headers);
                assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
                assert_eq!(err.retry_after(), Some(RetryAfter::from_secs(120)));
            }
            (Scenario::Upstream502, HyperOutcome::Response(status, headers, _)) => {
                let err = GatewayError::from_upstream_response(UPSTREAM, status, &headers);
                assert_eq!(err.status(), StatusCode::BAD_GATEWAY);
                assert_eq!(err.received_status(), Some(StatusCode::BAD_GATEWAY));
                assert!(err.upstream_proxy_status().is_some());
            }
            // Timeouts come from tokio: the legacy client never gives up.
            (
                Scenario::Hang | Scenario::SlowHeaders | Scenario::DripHeaders,
                HyperOutcome::Elapsed(e),
            ) => {
                assert_classified("hyper-util", scenario, e);
            }
            // The head arrives whole; the body is cut short.
            (Scenario::Truncated, HyperOutcome::Body(e)) => {
                assert_classified("hyper-util", scenario, e);
            }
            (
                Scenario::Refused
                | Scenario::Reset
                | Scenario::Garbage
                | Scenario::HugeHeaders
                | Scenario::HeaderFlood,
                HyperOutcome::Client(e),
            ) => {
                assert_classified("hyper-util", scenario, e);
            }
            (_, HyperOutcome::Response(status, ..)) => {
                panic!("hyper-util, {name}: unexpected response {status}")
            }
            (_, HyperOutcome::Client(e)) => {
                panic!("hyper-util, {name}: unexpected client error {}", chain(&e))
            }
            (_, HyperOutcome::Body(e)) => {
                panic!("hyper-util, {name}: unexpected body error {}", chain(&e))
            }
            (_, HyperOutcome::Elapsed(_)) => panic!("hyper-util, {name}: unexpected timeout"),
        }
    }
    eprintln!("hyper_util_errors_classify: {:?}", started.elapsed());
}

/// Reads one request head (bounded), as an upstream does before failing.
async fn read_request_head(stream: &mut TcpStream) -> io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(())
}

/// **CLASSIFIER BUG — this test fails until the fix in the report lands.**
///
/// hyper reports a response body cut short as `hyper::Error(Body, ..)`
/// over an `io::Error`: `UnexpectedEof` ("end of file before message length
/// reached") when the upstream closes early, `ConnectionReset` when it
/// resets mid-body. The classifier reads only the io kind and answers
/// `connection_terminated`; a connection that ends inside the body is
/// `http_response_incomplete` (RFC 9209 section 2.3.14, and the
/// classifier's own doc), which is what it already says for the very same
/// failures seen through reqwest, whose `is_body()` marks the phase. hyper
/// has no `is_body()`, but its Display for that kind is a fixed string,
/// "error reading a body from connection".
#[tokio::test]
async fn hyper_body_cut_short_is_http_response_incomplete() {
    let client: HyperClient<HttpConnector, Empty<Bytes>> =
        HyperClient::builder(TokioExecutor::new()).build_http();
    let get = |addr: SocketAddr| {
        http::Request::get(format!("http://{addr}/products/42"))
            .body(Empty::<Bytes>::new())
            .expect("request")
    };
    let mut wrong = Vec::new();

    // The demo's `truncated` upstream: Content-Length 100, 7 bytes, FIN.
    let upstreams = Upstreams::start().await.expect("upstreams start");
    let closed = bounded("truncated", STEP, async {
        let response = client
            .request(get(upstreams.addr(Scenario::Truncated)))
            .await
            .expect("the head arrives");
        response.into_body().collect().await.expect_err("cut short")
    })
    .await;

    // An upstream that sends the head and part of the body, then resets
    // (once the client has the head, so that the reset hits the body).
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let request = tokio::spawn(client.request(get(addr)));
    let (mut stream, _) = bounded("accept", STEP, listener.accept())
        .await
        .expect("accept");
    bounded("read head", STEP, read_request_head(&mut stream))
        .await
        .expect("request head");
    stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"id\":4")
        .await
        .expect("write");
    let response = bounded("response head", STEP, request)
        .await
        .expect("join")
        .expect("the head arrives");
    stream.set_zero_linger().expect("linger");
    drop(stream);
    let reset = bounded("reset body", STEP, response.into_body().collect())
        .await
        .expect_err("reset mid-body");

    for (case, error) in [("closed early", closed), ("reset mid-body", reset)] {
        let what = chain(&error);
        let err = GatewayError::from_upstream_error(UPSTREAM, error);
        assert_eq!(err.status(), StatusCode::BAD_GATEWAY, "{case}: {what}");
        if err.kind() != Some(ProxyError::HttpResponseIncomplete) {
            wrong.push(format!("{case}: {:?} from {what}", err.kind()));
        }
    }
    assert!(
        wrong.is_empty(),
        "hyper body errors must be http_response_incomplete:\n{}",
        wrong.join("\n")
    );
}

/// A one-off upstream on 127.0.0.1 that answers each of `connections`
/// connections with `response` after reading the request head, then
/// closes. The task ends by itself, within `STEP` at worst.
async fn scripted_upstream(response: &'static [u8], connections: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(tokio::time::timeout(STEP, async move {
        for _ in 0..connections {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(tokio::time::timeout(STEP, async move {
                read_request_head(&mut stream).await?;
                stream.write_all(response).await?;
                stream.shutdown().await
            }));
        }
    }));
    addr
}

/// **CLASSIFIER BUG — this test fails until the fix in the report lands.**
///
/// A response whose chunked framing is malformed (`zz` is no chunk size).
/// hyper fails the body with `hyper::Error(Body, io::Error(InvalidInput,
/// "Invalid chunk size line"))`; reqwest wraps that as `Kind::Decode` over
/// `Kind::Body` (reqwest 0.13's `bytes()`, `chunk()` and `text()` turn
/// every body-read failure into `Decode`, with or without any content
/// coding). Today reqwest's error is classified `http_response_content_coding`
/// (there is no content coding here) and hyper's as nothing at all (a plain
/// 502). RFC 9209 section 2.3.21: an error decoding the transfer coding of
/// the response is `http_response_transfer_coding`.
#[tokio::test]
async fn malformed_chunked_body_is_http_response_transfer_coding() {
    let addr = scripted_upstream(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nnot a chunk\r\n",
        2,
    )
    .await;
    let url = format!("http://{addr}/products/42");

    let reqwest_error = bounded("reqwest chunked", STEP, async {
        let response = reqwest_client().get(&url).send().await.expect("the head");
        response.bytes().await.expect_err("malformed chunks")
    })
    .await;
    let client: HyperClient<HttpConnector, Empty<Bytes>> =
        HyperClient::builder(TokioExecutor::new()).build_http();
    let request = http::Request::get(&url)
        .body(Empty::<Bytes>::new())
        .expect("request");
    let hyper_error = bounded("hyper chunked", STEP, async {
        let response = client.request(request).await.expect("the head");
        response
            .into_body()
            .collect()
            .await
            .expect_err("malformed chunks")
    })
    .await;

    let mut wrong = Vec::new();
    for (client, what, err) in per_client(reqwest_error, hyper_error) {
        assert_eq!(err.status(), StatusCode::BAD_GATEWAY, "{client}: {what}");
        assert!(!err.is_retryable(&Method::POST), "{client}: {what}");
        if err.kind() != Some(ProxyError::HttpResponseTransferCoding) {
            wrong.push(format!("{client}: {:?} from {what}", err.kind()));
        }
    }
    assert!(
        wrong.is_empty(),
        "a malformed chunked body must be http_response_transfer_coding:\n{}",
        wrong.join("\n")
    );
}

// ---------------------------------------------------------------------------
// The classifier directly: raw tokio I/O and timeouts
// ---------------------------------------------------------------------------

/// A refused TCP connect is an `io::Error` of kind `ConnectionRefused`; a
/// reset after the request was written is `ConnectionReset`; no answer
/// within a `tokio::time::timeout` is `Elapsed`.
#[tokio::test]
async fn raw_io_errors_and_tokio_timeouts_classify() {
    let upstreams = Upstreams::start().await.expect("upstreams start");

    let refused = bounded(
        "connect to refused",
        STEP,
        TcpStream::connect(upstreams.addr(Scenario::Refused)),
    )
    .await
    .expect_err("nothing listens");
    assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
    assert_classified("io", Scenario::Refused, refused);

    let reset = bounded("reset", STEP, async {
        let mut stream = TcpStream::connect(upstreams.addr(Scenario::Reset)).await?;
        stream
            .write_all(b"GET /products/42 HTTP/1.1\r\nhost: upstream\r\n\r\n")
            .await?;
        let mut buf = [0u8; 64];
        loop {
            if stream.read(&mut buf).await? == 0 {
                return Err::<(), _>(io::Error::from(io::ErrorKind::UnexpectedEof));
            }
        }
    })
    .await
    .expect_err("the upstream resets");
    assert!(
        matches!(
            reset.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
        ),
        "{reset:?}"
    );
    assert_classified("io", Scenario::Reset, reset);

    let mut stream = bounded(
        "connect to hang",
        STEP,
        TcpStream::connect(upstreams.addr(Scenario::Hang)),
    )
    .await
    .expect("hang accepts");
    stream
        .write_all(b"GET /products/42 HTTP/1.1\r\nhost: upstream\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 64];
    let elapsed = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf))
        .await
        .expect_err("hang never answers");
    assert_classified("tokio", Scenario::Hang, elapsed);
}

// ---------------------------------------------------------------------------
// DNS and connect timeouts, without leaving the machine
// ---------------------------------------------------------------------------

/// A resolver that knows no name: reqwest's real DNS error path (it tags
/// resolver failures so `is_dns` sees them) without any packet sent.
struct NoSuchHost;

impl reqwest::dns::Resolve for NoSuchHost {
    fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async { Err(io::Error::new(io::ErrorKind::NotFound, "NXDOMAIN").into()) })
    }
}

/// A resolver that never answers.
struct SilentResolver;

impl reqwest::dns::Resolve for SilentResolver {
    fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(std::future::pending())
    }
}

/// A name under the reserved `.invalid` TLD (RFC 6761) that fails to
/// resolve is `dns_error`: 502, and safe to retry whatever the method.
///
/// The system resolver is not used: this machine's `/etc/resolv.conf` names
/// a non-loopback server reached over `eth0`, so a lookup would leave the
/// machine. A resolver that fails at once takes reqwest's real DNS error
/// path instead.
#[tokio::test]
async fn reqwest_dns_failure_is_dns_error() {
    let client = reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .dns_resolver(NoSuchHost)
        .no_proxy()
        .build()
        .expect("client");
    let error = bounded(
        "dns",
        STEP,
        client.get("http://no-such-host.invalid/products/42").send(),
    )
    .await
    .expect_err("the name does not resolve");
    // The resolver's answer, not a timeout waiting for one.
    assert!(!error.is_timeout(), "{}", chain(&error));
    assert!(error.is_dns(), "{}", chain(&error));
    let what = chain(&error);
    let err = GatewayError::from_upstream_error(UPSTREAM, error);
    assert_eq!(err.kind(), Some(ProxyError::DnsError), "{what}");
    assert_eq!(err.status(), StatusCode::BAD_GATEWAY, "{what}");
    assert_eq!(err.phase(), Some(Phase::NotSent), "{what}");
    assert!(err.is_retryable(&Method::GET));
    assert!(err.is_retryable(&Method::POST));
}

/// A resolver that never answers hits reqwest's connect timeout, which
/// covers resolution: a 504 in the not-sent phase. Nothing in reqwest's
/// error says the time went to DNS, so `connection_timeout` is the most
/// specific kind the chain supports (`dns_timeout` would also be right).
#[tokio::test]
async fn reqwest_silent_resolver_is_a_connect_phase_504() {
    let client = reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .dns_resolver(SilentResolver)
        .no_proxy()
        .build()
        .expect("client");
    let error = bounded(
        "silent dns",
        STEP,
        client.get("http://no-such-host.invalid/products/42").send(),
    )
    .await
    .expect_err("resolution never ends");
    let what = chain(&error);
    let err = GatewayError::from_upstream_error(UPSTREAM, error);
    assert!(
        matches!(
            err.kind(),
            Some(ProxyError::ConnectionTimeout | ProxyError::DnsTimeout)
        ),
        "{:?}: {what}",
        err.kind()
    );
    assert_eq!(err.status(), StatusCode::GATEWAY_TIMEOUT, "{what}");
    assert_eq!(err.phase(), Some(Phase::NotSent), "{what}");
    assert!(err.is_retryable(&Method::POST), "{what}");
}

/// A loopback listener whose accept queue is full, so that the kernel drops
/// new SYNs and a connect times out; with the connections that fill it.
/// `None` when this kernel does not behave so (then connect timeouts
/// cannot be made deterministically on loopback, and the test says so).
async fn full_backlog() -> io::Result<Option<(TcpListener, Vec<TcpStream>)>> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let listener = socket.listen(1)?;
    let addr = listener.local_addr()?;
    let mut held = Vec::new();
    for _ in 0..16 {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => held.push(stream),
            Ok(Err(e)) => return Err(e),
            Err(_) => return Ok(Some((listener, held))),
        }
    }
    Ok(None)
}

/// A connect that times out: with reqwest's `connect_timeout` and with
/// hyper-util's `HttpConnector::set_connect_timeout`, it is
/// `connection_timeout`, a 504 that even a POST may retry (nothing was
/// sent).
#[tokio::test]
async fn connect_timeouts_on_a_full_backlog_are_connection_timeout() {
    let started = Instant::now();
    let Some((listener, _held)) = bounded("fill backlog", STEP, full_backlog())
        .await
        .expect("loopback listener")
    else {
        eprintln!("SKIPPED: this kernel accepts past a full backlog; no loopback connect timeout");
        return;
    };
    let addr = listener.local_addr().expect("addr");

    let reqwest_error = bounded(
        "reqwest connect",
        STEP,
        reqwest_client().get(format!("http://{addr}/")).send(),
    )
    .await
    .expect_err("the connect times out");
    assert!(reqwest_error.is_connect(), "{}", chain(&reqwest_error));
    assert!(reqwest_error.is_timeout(), "{}", chain(&reqwest_error));

    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let client: HyperClient<HttpConnector, Empty<Bytes>> =
        HyperClient::builder(TokioExecutor::new()).build(connector);
    let request = http::Request::get(format!("http://{addr}/"))
        .body(Empty::<Bytes>::new())
        .expect("request");
    let hyper_error = bounded("hyper-util connect", STEP, client.request(request))
        .await
        .expect_err("the connect times out");
    assert!(hyper_error.is_connect(), "{}", chain(&hyper_error));

    for (client, what, err) in per_client(reqwest_error, hyper_error) {
        assert_eq!(
            err.kind(),
            Some(ProxyError::ConnectionTimeout),
            "{client}: {what}"
        );
        assert_eq!(err.status(), StatusCode::GATEWAY_TIMEOUT, "{client}");
        assert!(err.is_retryable(&Method::GET), "{client}");
        assert!(err.is_retryable(&Method::POST), "{client}");
    }
    eprintln!("connect_timeouts: {:?}", started.elapsed());
}

/// Hostile upstreams, many at once: an endless body, a 100 MiB header
/// section, headers at one byte per second. The gateway answers each with
/// the right status and its own small error body.
///
/// How long the answers take and whether the gateway's memory stays bounded
/// over many rounds are measured by the soak harness, in a process of its
/// own (`cargo run --release -p loadtest -- hostile`): a functional test
/// shares its process and its machine, so it asserts neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_upstreams_are_answered_with_their_status() {
    let upstreams = Upstreams::start().await.expect("upstreams start");
    let app = gateway::router(upstreams, gateway::client().expect("client"));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::builder()
        .timeout(STEP)
        .no_proxy()
        .build()
        .expect("client");

    let calls = (0..10).flat_map(|i| {
        [
            Scenario::EndlessBody,
            Scenario::HeaderFlood,
            Scenario::DripHeaders,
        ]
        .map(|scenario| {
            let request = client
                .get(format!("http://{addr}/upstream/{}", scenario.name()))
                .header("x-request-id", format!("hostile-{i}"));
            async move {
                let response = request.send().await.expect("the gateway answers");
                let status = response.status();
                let body = response.bytes().await.expect("body");
                (scenario, status, body.len())
            }
        })
    });
    let results = bounded("hostile upstreams", STEP * 4, join_all(calls)).await;

    assert_eq!(results.len(), 10 * 3);
    for (scenario, status, body_len) in results {
        let (kind, code, _) = expected(scenario).expect("hostile scenarios fail");
        assert_eq!(status.as_u16(), code, "{} ({kind})", scenario.name());
        assert!(
            body_len < 1024,
            "{}: an error body, not the upstream's",
            scenario.name()
        );
    }
    server.abort();
}
