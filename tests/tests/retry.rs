//! The client's side of the loop: `gateway_error::retry` in three real
//! clients, against the demo's real misbehaving upstreams on 127.0.0.1.
//!
//! Each scenario runs with every client at once:
//!
//! * tower: the policy's `RetryLayer` over hyper-util's legacy client (and
//!   tower's own `tower::retry::Retry` with the policy, which reads heads
//!   only, where a head says everything);
//! * reqwest: the policy as a `reqwest_middleware::Middleware`;
//! * backon: a reqwest call retried by backon with the policy as its
//!   backoff and its `when` and `adjust` helpers.
//!
//! Attempts are counted on both sides: by the client (a counting layer,
//! middleware or closure under the retry) and by the upstream, which
//! records when each request arrived. The only long wait is the one a
//! `Retry-After: 1` asks for; everything else uses millisecond backoff, and
//! every call is bounded by `tokio::time::timeout`.

#[path = "support/count.rs"]
mod count;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use backon::Retryable;
use bytes::Bytes;
use count::Count;
use futures_util::future::join_all;
use gateway_demo::gateway;
use gateway_demo::upstreams::{Scenario, Upstream, Upstreams};
use gateway_error::retry::{Budget, ExponentialBackoff, RetryLayer, RetryPolicy};
use gateway_error::{GatewayError, parse};
use http::header::RETRY_AFTER;
use http::{Method, Request};
use http_body_util::Full;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use tower::{Layer as _, ServiceExt};

/// The bound on any one retried call; the longest takes about a second.
const CALL: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Client {
    /// `RetryLayer` over hyper-util.
    Tower,
    /// tower's own `Retry` with the policy over hyper-util: heads only.
    TowerPolicy,
    Reqwest,
    Backon,
}

/// Every client: for what a response's head says.
const CLIENTS: [Client; 4] = [
    Client::Tower,
    Client::TowerPolicy,
    Client::Reqwest,
    Client::Backon,
];

/// The clients that read a gateway's verdict in its body too.
const VERDICT_READERS: [Client; 3] = [Client::Tower, Client::Reqwest, Client::Backon];

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
        Client::Tower => Box::pin(send_tower(policy, method, url, true))
            as std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send + '_>>,
        Client::TowerPolicy => Box::pin(send_tower(policy, method, url, false)),
        Client::Reqwest => Box::pin(send_reqwest(policy, method, url)),
        Client::Backon => Box::pin(send_backon(policy, method, url)),
    };
    tokio::time::timeout(CALL, call)
        .await
        .unwrap_or_else(|_| panic!("{client:?}: {url} took over {CALL:?}"))
}

async fn send_tower(policy: &RetryPolicy, method: Method, url: &str, layer: bool) -> Outcome {
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
    let (status, retry_after) = if layer {
        let result = RetryLayer::new(policy.clone())
            .layer(counted)
            .oneshot(request)
            .await;
        let response = result.as_ref().ok();
        (
            response.map(|r| r.status().as_u16()),
            response.and_then(|r| header(r.headers())),
        )
    } else {
        let result = tower::retry::Retry::new(policy.clone(), counted)
            .oneshot(request)
            .await;
        let response = result.as_ref().ok();
        (
            response.map(|r| r.status().as_u16()),
            response.and_then(|r| header(r.headers())),
        )
    };
    Outcome {
        status,
        retry_after,
        attempts: attempts.load(Ordering::SeqCst),
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

// ---------------------------------------------------------------------------
// Hints that survive a relay (issue 17): every client against a real axum
// gateway in front of a real upstream, both on loopback.
// ---------------------------------------------------------------------------

mod relay {
    use std::io;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use axum::Router;
    use axum::body::Body;
    use axum::extract::State;
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use gateway_error::axum::GatewayErrorLayer;
    use gateway_error::{Policy, ResponseExt, ResultExt};
    use hyper_util::client::legacy::connect::{Connected, Connection};
    use hyper_util::rt::TokioIo;
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
    use tokio::net::TcpStream;

    use super::*;

    /// The gateway's name in `Proxy-Status`.
    const EDGE: &str = "edge";

    /// A connection whose reads fail once the upstream answers, with the
    /// io error Linux reports from `recv` on an established connection
    /// after an ICMP error (`ECONNREFUSED`, `EHOSTUNREACH`, `ENETUNREACH`):
    /// the request was written, and the upstream read it.
    struct RecvFails {
        stream: TcpStream,
        kind: io::ErrorKind,
    }

    impl AsyncRead for RecvFails {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let before = buf.filled().len();
            match Pin::new(&mut self.stream).poll_read(cx, buf) {
                Poll::Ready(Ok(())) if buf.filled().len() > before => {
                    Poll::Ready(Err(io::Error::from(self.kind)))
                }
                other => other,
            }
        }
    }

    impl AsyncWrite for RecvFails {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.stream).poll_write(cx, buf)
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.stream).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.stream).poll_shutdown(cx)
        }
    }

    impl Connection for RecvFails {
        fn connected(&self) -> Connected {
            Connected::new()
        }
    }

    type FailingClient = HyperClient<
        tower::util::BoxCloneSyncService<http::Uri, TokioIo<RecvFails>, io::Error>,
        Full<Bytes>,
    >;

    #[derive(Clone)]
    struct Gateway {
        upstream: String,
        client: reqwest::Client,
        /// The upstream through a connection whose reads fail (`RecvFails`).
        failing: FailingClient,
    }

    /// A BFF as this library's users write one: axum, reqwest, the layer,
    /// a gateway that names itself. Its routes, for any method:
    ///
    /// - `/relay`: the upstream's answer, or its error status as a gateway
    ///   error (`error_for_upstream_status`);
    /// - `/decode`: the upstream's JSON read into a type;
    /// - `/reparse`: the upstream's error answer read with `parse` and
    ///   answered, as `parse`'s docs describe a gateway doing;
    /// - `/hyper`: the upstream through hyper-util, over connections whose
    ///   reads fail with `kind` once the upstream answers.
    async fn gateway(
        upstream: SocketAddr,
        kind: io::ErrorKind,
    ) -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let connector = tower::util::BoxCloneSyncService::new(tower::service_fn(
            move |_: http::Uri| async move {
                let stream = TcpStream::connect(upstream).await?;
                Ok::<_, io::Error>(TokioIo::new(RecvFails { stream, kind }))
            },
        ));
        let state = Gateway {
            upstream: format!("http://{upstream}"),
            client: reqwest_client(),
            failing: HyperClient::builder(TokioExecutor::new()).build(connector),
        };
        let app = Router::new()
            .route("/relay", get(relay).post(relay))
            .route("/decode", get(decode).post(decode))
            .route("/reparse", get(reparse).post(reparse))
            .route("/hyper", get(through_hyper).post(through_hyper))
            .with_state(state)
            .layer(GatewayErrorLayer::new(Policy::new().with_proxy_name(EDGE)));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (addr, server)
    }

    async fn relay(
        State(gateway): State<Gateway>,
        method: Method,
    ) -> Result<Response, GatewayError> {
        let response = gateway
            .client
            .request(method, &gateway.upstream)
            .send()
            .await
            .upstream("catalog")?
            .error_for_upstream_status("catalog")?;
        let status = response.status();
        let body = response.bytes().await.upstream("catalog")?;
        Ok((status, body).into_response())
    }

    #[derive(serde::Deserialize)]
    struct Product {
        #[allow(dead_code)]
        id: u32,
    }

    async fn decode(
        State(gateway): State<Gateway>,
        method: Method,
    ) -> Result<String, GatewayError> {
        let product: Product = gateway
            .client
            .request(method, &gateway.upstream)
            .send()
            .await
            .upstream("catalog")?
            .error_for_upstream_status("catalog")?
            .json()
            .await
            .upstream("catalog")?;
        Ok(product.id.to_string())
    }

    async fn reparse(
        State(gateway): State<Gateway>,
        method: Method,
    ) -> Result<Response, GatewayError> {
        let response = gateway
            .client
            .request(method, &gateway.upstream)
            .send()
            .await
            .upstream("catalog")?;
        let (status, headers) = (response.status(), response.headers().clone());
        let body = response.bytes().await.upstream("catalog")?;
        match parse(status, &headers, &body) {
            Ok(error) => Err(error),
            Err(_) => Ok((status, body).into_response()),
        }
    }

    async fn through_hyper(
        State(gateway): State<Gateway>,
        method: Method,
    ) -> Result<Response, GatewayError> {
        let request = Request::builder()
            .method(method)
            .uri(&gateway.upstream)
            .body(Full::new(Bytes::from_static(b"order")))
            .expect("a request");
        let response = gateway.failing.request(request).await.upstream("catalog")?;
        Ok(response.map(Body::new))
    }

    /// Each client sends `method` to the gateway's `path` in front of an
    /// upstream answering `answer`; what each got, and how many requests
    /// reached the upstream.
    async fn through_gateway(
        clients: &[Client],
        answer: &'static [u8],
        method: Method,
        path: &'static str,
    ) -> Vec<(Client, Outcome, usize)> {
        let runs = clients.iter().map(|&client| {
            let method = method.clone();
            async move {
                let upstream = Upstream::answering(answer).await.expect("upstream");
                let (addr, server) = gateway(upstream.addr(), io::ErrorKind::Other).await;
                let outcome = send(client, &policy(), method, &url(addr, path)).await;
                server.abort();
                (client, outcome, upstream.requests().len())
            }
        });
        join_all(runs).await
    }

    /// One raw answer of the gateway, for its exact head and body.
    async fn raw(
        answer: &'static [u8],
        method: Method,
        path: &'static str,
    ) -> http::Response<Bytes> {
        let upstream = Upstream::answering(answer).await.expect("upstream");
        let (addr, server) = gateway(upstream.addr(), io::ErrorKind::Other).await;
        let response = reqwest_client()
            .request(method, url(addr, path))
            .header("x-request-id", "req-17")
            .send()
            .await
            .expect("an answer");
        let mut head = http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            head = head.header(name, value);
        }
        let body = response.bytes().await.expect("a body");
        server.abort();
        head.body(body).expect("a response")
    }

    const RATE_LIMITED: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 30\r\ncontent-type: text/plain\r\ncontent-length: 4\r\nconnection: close\r\n\r\nslow";

    /// Item 1: an upstream's rate limit reaches the client as a 503 that
    /// keeps its wait; no client hits the upstream again at once.
    #[tokio::test]
    async fn an_upstream_429_is_a_503_that_keeps_its_retry_after() {
        let response = raw(RATE_LIMITED, Method::GET, "/relay").await;
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "30");
        assert_eq!(
            response.headers()["proxy-status"],
            "edge;received-status=429"
        );
        assert_eq!(
            response.body().as_ref(),
            br#"{"error":{"code":503,"message":"Service Unavailable","details":"The service is temporarily unavailable. Please try again later.","retryable":true,"retry_after":30,"request_id":"req-17"}}"#
        );
        for (client, outcome, requests) in
            through_gateway(&CLIENTS, RATE_LIMITED, Method::GET, "/relay").await
        {
            // 30 s is over the policy's 10 s: each gives up after one try.
            let want = Outcome {
                status: Some(503),
                retry_after: Some("30".into()),
                attempts: 1,
            };
            assert_eq!(outcome, want, "{client:?}");
            assert_eq!(requests, 1, "{client:?}");
        }
    }

    /// Item 1: a wait too large to represent saturates; it never vanishes.
    #[tokio::test]
    async fn a_retry_after_too_large_to_represent_saturates() {
        for answer in [
            &b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 4294967296\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"[..],
            b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1000000000000\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 18446744073709551616\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        ] {
            for (client, outcome, requests) in through_gateway(&CLIENTS, answer, Method::GET, "/relay").await {
                let want = Outcome {
                    status: Some(503),
                    retry_after: Some("4294967295".into()),
                    attempts: 1,
                };
                assert_eq!(outcome, want, "{client:?}");
                assert_eq!(requests, 1, "{client:?}");
            }
        }
        // Straight from an upstream, the clients read it the same way.
        let upstream = Upstream::answering(b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 99999999999999999999\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await.expect("upstream");
        for client in CLIENTS {
            let outcome = send(client, &policy(), Method::GET, &url(upstream.addr(), "/")).await;
            assert_eq!(outcome.attempts, 1, "{client:?}");
        }
    }

    const TWO_WAITS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 5\r\nretry-after: 3600\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

    /// Item 1: several `Retry-After` lines (an invalid field) count as the
    /// longest wait, at the gateway and at the client.
    #[tokio::test]
    async fn several_retry_after_lines_count_as_the_longest_wait() {
        for (client, outcome, requests) in
            through_gateway(&CLIENTS, TWO_WAITS, Method::GET, "/relay").await
        {
            let want = Outcome {
                status: Some(503),
                retry_after: Some("3600".into()),
                attempts: 1,
            };
            assert_eq!(outcome, want, "{client:?}");
            assert_eq!(requests, 1, "{client:?}");
        }
        let upstream = Upstream::answering(TWO_WAITS).await.expect("upstream");
        for client in CLIENTS {
            let outcome = send(client, &policy(), Method::GET, &url(upstream.addr(), "/")).await;
            assert_eq!(
                (outcome.status, outcome.attempts),
                (Some(503), 1),
                "{client:?}"
            );
        }
    }

    const PRODUCT: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 9\r\nconnection: close\r\n\r\n{\"id\":42}";

    /// Item 2: an io error on a connection that was established (the
    /// upstream read the POST) is never "never sent".
    #[tokio::test]
    async fn errors_on_an_established_connection_never_say_never_sent() {
        for kind in [
            io::ErrorKind::ConnectionRefused,
            io::ErrorKind::HostUnreachable,
            io::ErrorKind::NetworkUnreachable,
        ] {
            let runs = CLIENTS.map(|client| async move {
                let upstream = Upstream::answering(PRODUCT).await.expect("upstream");
                let (addr, server) = gateway(upstream.addr(), kind).await;
                let outcome = send(client, &policy(), Method::POST, &url(addr, "/hyper")).await;
                let head = reqwest_client()
                    .post(url(addr, "/hyper"))
                    .send()
                    .await
                    .expect("an answer");
                let proxy_status = head.headers()["proxy-status"]
                    .to_str()
                    .expect("ascii")
                    .to_owned();
                server.abort();
                (client, outcome, upstream.requests().len(), proxy_status)
            });
            for (client, outcome, requests, proxy_status) in join_all(runs).await {
                assert_eq!(proxy_status, "edge;error=connection_terminated", "{kind:?}");
                assert_eq!(
                    (outcome.status, outcome.attempts),
                    (Some(502), 1),
                    "{client:?} {kind:?}"
                );
                // The client's one POST, and the check's.
                assert_eq!(requests, 2, "{client:?} {kind:?}");
            }
        }
    }

    const UPSTREAM_GATEWAY: &[u8] = b"HTTP/1.1 502 Bad Gateway\r\nproxy-status: x;error=connection_refused\r\ncontent-type: application/json\r\ncontent-length: 149\r\nconnection: close\r\n\r\n{\"error\":{\"code\":502,\"message\":\"Bad Gateway\",\"details\":\"db-7.internal refused\",\"kind\":\"connection_refused\",\"retryable\":true,\"request_id\":\"theirs-1\"}}";

    /// Item 2: an upstream gateway's "connection_refused" is its claim: a
    /// gateway that re-renders its parsed answer says what it saw itself
    /// (it received a 502), and no client re-sends the POST.
    #[tokio::test]
    async fn a_relayed_upstream_gateway_answer_is_never_adopted() {
        assert_eq!(
            UPSTREAM_GATEWAY.len()
                - UPSTREAM_GATEWAY
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .expect("a head")
                - 4,
            149
        );
        let response = raw(UPSTREAM_GATEWAY, Method::POST, "/reparse").await;
        assert_eq!(response.status(), 502);
        assert_eq!(
            response.headers()["proxy-status"],
            "upstream;error=connection_refused, edge;received-status=502"
        );
        assert_eq!(response.headers()["x-request-id"], "req-17");
        assert_eq!(
            response.body().as_ref(),
            br#"{"error":{"code":502,"message":"Bad Gateway","details":"The server received an invalid response from the upstream server while trying to fulfill the request.","retryable":false,"request_id":"req-17"}}"#
        );
        for (client, outcome, requests) in
            through_gateway(&CLIENTS, UPSTREAM_GATEWAY, Method::POST, "/reparse").await
        {
            assert_eq!(
                (outcome.status, outcome.attempts),
                (Some(502), 1),
                "{client:?}"
            );
            assert_eq!(requests, 1, "{client:?}");
        }
    }

    const UNUSABLE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 13\r\nconnection: close\r\n\r\n{\"id\":\"42x\"}\n";

    /// Item 2: a complete body that does not decode comes again the same:
    /// not retryable, and no client that reads the verdict retries it.
    #[tokio::test]
    async fn a_complete_body_that_does_not_decode_is_not_retried() {
        let response = raw(UNUSABLE, Method::GET, "/decode").await;
        assert_eq!(response.status(), 502);
        assert_eq!(response.headers()["proxy-status"], "edge");
        assert_eq!(
            response.body().as_ref(),
            br#"{"error":{"code":502,"message":"Bad Gateway","details":"The server received an invalid response from the upstream server while trying to fulfill the request.","retryable":false,"request_id":"req-17"}}"#
        );
        for (client, outcome, requests) in
            through_gateway(&VERDICT_READERS, UNUSABLE, Method::GET, "/decode").await
        {
            assert_eq!(
                (outcome.status, outcome.attempts),
                (Some(502), 1),
                "{client:?}"
            );
            assert_eq!(requests, 1, "{client:?}");
        }
        // A body cut short is another matter: a retry may help.
        const CUT: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 90\r\nconnection: close\r\n\r\n{\"id\":";
        for (client, outcome, requests) in
            through_gateway(&VERDICT_READERS, CUT, Method::GET, "/decode").await
        {
            assert_eq!(
                (outcome.status, outcome.attempts),
                (Some(502), 4),
                "{client:?}"
            );
            assert_eq!(requests, 4, "{client:?}");
        }
    }

    /// Item 3: an upstream `Proxy-Status` at the limit `parse` reads: ours
    /// is still read, and no client retries a relayed 404.
    #[tokio::test]
    async fn our_member_is_read_whatever_the_upstream_sent() {
        static ANSWER: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        let answer = ANSWER.get_or_init(|| {
            let member = "hop;error=connection_refused";
            let mut field = String::new();
            while field.len() + member.len() + 2 <= gateway_error::MAX_PROXY_STATUS_LEN {
                if !field.is_empty() {
                    field.push_str(", ");
                }
                field.push_str(member);
            }
            format!("HTTP/1.1 404 Not Found\r\nproxy-status: {field}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").into_bytes()
        });
        let response = raw(answer, Method::GET, "/relay").await;
        let field = &response.headers()["proxy-status"];
        assert!(field.len() <= gateway_error::MAX_PROXY_STATUS_LEN);
        assert!(
            field
                .to_str()
                .expect("ascii")
                .ends_with(", upstream;error=connection_refused, edge;received-status=404")
        );
        for (client, outcome, requests) in
            through_gateway(&CLIENTS, answer, Method::GET, "/relay").await
        {
            assert_eq!(
                (outcome.status, outcome.attempts),
                (Some(502), 1),
                "{client:?}"
            );
            assert_eq!(requests, 1, "{client:?}");
        }
    }
}
