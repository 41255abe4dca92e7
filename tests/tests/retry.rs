//! The client's side of the loop: `gateway_error::retry` in three real
//! clients, against the demo's real misbehaving upstreams on 127.0.0.1.
//!
//! Each scenario runs with every client at once:
//!
//! * tower: `tower::retry::Retry` with the policy, over hyper-util's legacy
//!   client;
//! * reqwest: the policy as a `reqwest_middleware::Middleware`;
//! * backon: a reqwest call retried by backon with the policy as its
//!   backoff and its `when` and `adjust` helpers.
//!
//! Attempts are counted on both sides: by the client (a counting layer,
//! middleware or closure under the retry) and by the upstream, which
//! records when each request arrived. The only long wait is the one a
//! `Retry-After: 1` asks for; everything else uses millisecond backoff, and
//! every call is bounded by `tokio::time::timeout`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use backon::Retryable;
use bytes::Bytes;
use futures_util::future::join_all;
use gateway_demo::gateway;
use gateway_demo::upstreams::{Scenario, Upstream, Upstreams};
use gateway_error::retry::{Budget, ExponentialBackoff, RetryPolicy};
use gateway_error::{GatewayError, parse};
use http::header::RETRY_AFTER;
use http::{Method, Request};
use http_body_util::Full;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// The bound on any one retried call; the longest takes about a second.
const CALL: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Client {
    Tower,
    Reqwest,
    Backon,
}

const CLIENTS: [Client; 3] = [Client::Tower, Client::Reqwest, Client::Backon];

/// What a retried call ended with.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// The last answer's status; `None` when the last attempt got no answer.
    status: Option<u16>,
    /// The last answer's `Retry-After`.
    retry_after: Option<String>,
    /// Attempts the client made, counted under the retry.
    attempts: usize,
}

/// Up to 3 retries, 1-4 ms apart, `Retry-After` waited up to 10 s, no budget.
fn policy() -> RetryPolicy {
    RetryPolicy::new()
        .with_max_retries(3)
        .with_backoff(ExponentialBackoff::new(
            Duration::from_millis(1),
            Duration::from_millis(4),
        ))
        .with_max_retry_after(Duration::from_secs(10))
        .without_budget()
}

/// One retried call with a small body (`order`), whatever the method.
async fn send(client: Client, policy: &RetryPolicy, method: Method, url: &str) -> Outcome {
    let call = match client {
        Client::Tower => Box::pin(send_tower(policy, method, url))
            as std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send + '_>>,
        Client::Reqwest => Box::pin(send_reqwest(policy, method, url)),
        Client::Backon => Box::pin(send_backon(policy, method, url)),
    };
    tokio::time::timeout(CALL, call)
        .await
        .unwrap_or_else(|_| panic!("{client:?}: {url} took over {CALL:?}"))
}

async fn send_tower(policy: &RetryPolicy, method: Method, url: &str) -> Outcome {
    let attempts = Arc::new(AtomicUsize::new(0));
    let hyper = HyperClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let counted = tower::service_fn({
        let attempts = attempts.clone();
        move |request: Request<Full<Bytes>>| {
            attempts.fetch_add(1, Ordering::SeqCst);
            hyper.request(request)
        }
    });
    let request = Request::builder()
        .method(method)
        .uri(url)
        .body(Full::new(Bytes::from_static(b"order")))
        .expect("a valid request");
    let result = tower::retry::Retry::new(policy.clone(), counted)
        .oneshot(request)
        .await;
    Outcome {
        status: result.as_ref().ok().map(|r| r.status().as_u16()),
        retry_after: result.as_ref().ok().and_then(|r| header(r.headers())),
        attempts: attempts.load(Ordering::SeqCst),
    }
}

/// Counts the attempts that reach it (it sits under the retry middleware).
struct Count(Arc<AtomicUsize>);

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for Count {
    async fn handle(
        &self,
        request: reqwest::Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        self.0.fetch_add(1, Ordering::SeqCst);
        next.run(request, extensions).await
    }
}

fn reqwest_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a client")
}

async fn send_reqwest(policy: &RetryPolicy, method: Method, url: &str) -> Outcome {
    let attempts = Arc::new(AtomicUsize::new(0));
    let client = reqwest_middleware::ClientBuilder::new(reqwest_client())
        .with(policy.clone())
        .with(Count(attempts.clone()))
        .build();
    let result = client.request(method, url).body("order").send().await;
    Outcome {
        status: result.as_ref().ok().map(|r| r.status().as_u16()),
        retry_after: result.as_ref().ok().and_then(|r| header(r.headers())),
        attempts: attempts.load(Ordering::SeqCst),
    }
}

async fn send_backon(policy: &RetryPolicy, method: Method, url: &str) -> Outcome {
    let attempts = Arc::new(AtomicUsize::new(0));
    let last_status = Arc::new(Mutex::new(None));
    let client = reqwest_client();
    let attempt = {
        let (attempts, last_status, method) =
            (attempts.clone(), last_status.clone(), method.clone());
        let url = url.to_owned();
        move || {
            attempts.fetch_add(1, Ordering::SeqCst);
            let request = client.request(method.clone(), &url).body("order");
            let last_status = last_status.clone();
            async move {
                *last_status.lock().unwrap_or_else(PoisonError::into_inner) = None;
                let response = request.send().await.map_err(GatewayError::from_error)?;
                let status = response.status();
                *last_status.lock().unwrap_or_else(PoisonError::into_inner) = Some(status.as_u16());
                if !status.is_server_error() {
                    return Ok(status);
                }
                let headers = response.headers().clone();
                let body = response.bytes().await.map_err(GatewayError::from_error)?;
                Err(parse(status, &headers, &body).expect("a gateway error status"))
            }
        }
    };
    let result = attempt
        .retry(policy.clone())
        .sleep(tokio::time::sleep)
        .when(policy.when(&method))
        .adjust(policy.adjust())
        .await;
    Outcome {
        status: *last_status.lock().unwrap_or_else(PoisonError::into_inner),
        retry_after: result
            .err()
            .and_then(|e| e.retry_after())
            .map(|r| r.to_string()),
        attempts: attempts.load(Ordering::SeqCst),
    }
}

fn header(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get(RETRY_AFTER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

#[tokio::test]
async fn a_post_reset_after_it_was_sent_is_tried_once() {
    let runs = CLIENTS.map(|client| async move {
        let upstream = Upstream::start(Scenario::Reset).await.expect("upstream");
        let outcome = send(
            client,
            &policy(),
            Method::POST,
            &url(upstream.addr(), "/orders"),
        )
        .await;
        (client, outcome, upstream.requests().len())
    });
    for (client, outcome, requests) in join_all(runs).await {
        let want = Outcome {
            status: None,
            retry_after: None,
            attempts: 1,
        };
        assert_eq!(outcome, want, "{client:?}");
        assert_eq!(requests, 1, "{client:?}");
    }
}

#[tokio::test]
async fn a_get_reset_after_it_was_sent_is_retried() {
    let runs = CLIENTS.map(|client| async move {
        let upstream = Upstream::start(Scenario::Reset).await.expect("upstream");
        let outcome = send(
            client,
            &policy(),
            Method::GET,
            &url(upstream.addr(), "/orders"),
        )
        .await;
        (client, outcome, upstream.requests().len())
    });
    for (client, outcome, requests) in join_all(runs).await {
        assert_eq!((outcome.status, outcome.attempts), (None, 4), "{client:?}");
        assert_eq!(requests, 4, "{client:?}");
    }
}

#[tokio::test]
async fn a_post_refused_at_connect_is_retried_up_to_the_limit() {
    let runs = CLIENTS.map(|client| async move {
        let upstream = Upstream::start(Scenario::Refused).await.expect("upstream");
        let outcome = send(
            client,
            &policy(),
            Method::POST,
            &url(upstream.addr(), "/orders"),
        )
        .await;
        let once = send(
            client,
            &policy().with_max_retries(1),
            Method::POST,
            &url(upstream.addr(), "/orders"),
        )
        .await;
        (client, outcome, once)
    });
    for (client, outcome, once) in join_all(runs).await {
        assert_eq!((outcome.status, outcome.attempts), (None, 4), "{client:?}");
        assert_eq!((once.status, once.attempts), (None, 2), "{client:?}");
    }
}

#[tokio::test]
async fn a_get_answered_503_with_retry_after_1_waits_a_second() {
    let runs = CLIENTS.map(|client| async move {
        let upstream = Upstream::unavailable("1", 1).await.expect("upstream");
        let outcome = send(
            client,
            &policy(),
            Method::GET,
            &url(upstream.addr(), "/products/42"),
        )
        .await;
        (client, outcome, upstream.requests())
    });
    for (client, outcome, requests) in join_all(runs).await {
        let want = Outcome {
            status: Some(200),
            retry_after: None,
            attempts: 2,
        };
        assert_eq!(outcome, want, "{client:?}");
        let [first, second] = requests[..] else {
            panic!("{client:?}: {} requests", requests.len());
        };
        let waited = second - first;
        assert!(
            waited >= Duration::from_secs(1),
            "{client:?} waited {waited:?}"
        );
    }
}

#[tokio::test]
async fn a_retry_after_beyond_the_maximum_is_not_waited_for() {
    let runs = CLIENTS.map(|client| async move {
        let upstream = Upstream::unavailable("3600", usize::MAX)
            .await
            .expect("upstream");
        // Bounded well under the 10 s maximum: the call must return at once.
        let outcome = tokio::time::timeout(
            Duration::from_secs(5),
            send(
                client,
                &policy(),
                Method::GET,
                &url(upstream.addr(), "/products/42"),
            ),
        )
        .await
        .expect("returns without waiting");
        (client, outcome, upstream.requests().len())
    });
    for (client, outcome, requests) in join_all(runs).await {
        let want = Outcome {
            status: Some(503),
            retry_after: Some("3600".into()),
            attempts: 1,
        };
        assert_eq!(outcome, want, "{client:?}");
        assert_eq!(requests, 1, "{client:?}");
    }
}

#[tokio::test]
async fn the_budget_stops_retries_under_a_burst() {
    let runs = CLIENTS.map(|client| async move {
        let upstream = Upstream::unavailable("0", usize::MAX)
            .await
            .expect("upstream");
        let target = url(upstream.addr(), "/products/42");
        // A burst of 10 failing requests, 3 retries each allowed: 40
        // attempts without a budget, 10 + 2 with a budget of 2 tokens.
        let burst = policy().with_budget(Budget::new(2, 0.0));
        let outcomes = join_all((0..10).map(|_| send(client, &burst, Method::GET, &target))).await;
        let burst_attempts: usize = outcomes.iter().map(|o| o.attempts).sum();
        assert!(outcomes.iter().all(|o| o.status == Some(503)), "{client:?}");
        let burst_requests = upstream.requests().len();
        // Then the steady state: one token to start with, half a token per
        // request, so one retry for every second request.
        let steady = policy().with_budget(Budget::new(1, 0.5));
        let mut steady_attempts = Vec::new();
        for _ in 0..4 {
            steady_attempts.push(send(client, &steady, Method::GET, &target).await.attempts);
        }
        (client, burst_attempts, burst_requests, steady_attempts)
    });
    for (client, burst_attempts, burst_requests, steady_attempts) in join_all(runs).await {
        assert_eq!(burst_attempts, 12, "{client:?}");
        assert_eq!(burst_requests, 12, "{client:?}");
        assert_eq!(steady_attempts, [2, 1, 2, 1], "{client:?}");
    }
}

/// The loop closed: the demo gateway says in `Proxy-Status` whether the
/// request reached its upstream, and the client retries a POST only when it
/// did not.
#[tokio::test]
async fn through_the_gateway_a_post_is_retried_only_when_it_never_reached_the_upstream() {
    let upstreams = Upstreams::start().await.expect("upstreams");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = gateway::router(upstreams, gateway::client().expect("client"));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let runs = CLIENTS.map(|client| async move {
        let refused = send(
            client,
            &policy(),
            Method::POST,
            &url(addr, "/upstream/refused"),
        )
        .await;
        let reset = send(
            client,
            &policy(),
            Method::POST,
            &url(addr, "/upstream/reset"),
        )
        .await;
        let reset_get = send(
            client,
            &policy(),
            Method::GET,
            &url(addr, "/upstream/reset"),
        )
        .await;
        (client, refused, reset, reset_get)
    });
    for (client, refused, reset, reset_get) in join_all(runs).await {
        // 502 connection_refused: never sent, so the POST is retried.
        assert_eq!(
            (refused.status, refused.attempts),
            (Some(502), 4),
            "{client:?}"
        );
        // 502 connection_terminated: maybe processed, so it is not.
        assert_eq!((reset.status, reset.attempts), (Some(502), 1), "{client:?}");
        // A GET is idempotent.
        assert_eq!(
            (reset_get.status, reset_get.attempts),
            (Some(502), 4),
            "{client:?}"
        );
    }
    server.abort();
}
