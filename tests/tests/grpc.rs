//! gRPC callers and gRPC upstreams (issue 19), with real parts on
//! loopback: tonic's generated health client (no protoc) against an axum
//! gateway over HTTP/2, a tonic server (a BFF) whose upstream fails, and
//! the retry layer for tonic clients against both.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::post;
use gateway_error::layer::GatewayErrorLayer;
use gateway_error::retry::{ExponentialBackoff, GrpcRetryLayer, RetryPolicy};
use gateway_error::{
    BadGateway, GatewayError, GatewayTimeout, Policy, ProxyError, ResultExt, RetryAfter,
    ServiceUnavailable,
};
use tokio::net::TcpListener;
use tokio::time::timeout;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Response, Status};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tonic_types::StatusExt;

/// Every network step is bounded.
const LIMIT: Duration = Duration::from_secs(10);

/// The error the gateway's handler fails with, chosen by the request's
/// `x-case` field.
fn failure(case: &str) -> GatewayError {
    match case {
        "timeout" => GatewayTimeout::upstream("catalog")
            .with_kind(ProxyError::HttpResponseTimeout)
            .into(),
        "busy" => ServiceUnavailable::upstream("catalog")
            .with_kind(ProxyError::ConnectionRefused)
            .with_retry_after(RetryAfter::from_secs(2))
            .into(),
        "hostile" => BadGateway::upstream("catalog")
            .with_details("50% off \u{2713} \"now\" <b>")
            .into(),
        _ => BadGateway::upstream("catalog")
            .with_kind(ProxyError::ConnectionRefused)
            .into(),
    }
}

/// An axum gateway whose one route fails as `x-case` says, counting calls.
async fn gateway() -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let handler = move |headers: HeaderMap| {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let case = headers
                .get("x-case")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("refused");
            Err::<String, _>(failure(case))
        }
    };
    let app = Router::new()
        .route("/grpc.health.v1.Health/Check", post(handler))
        .layer(GatewayErrorLayer::new(Policy::new().with_proxy_name("bff")));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), calls)
}

async fn channel(url: &str) -> Channel {
    let endpoint = Endpoint::from_shared(url.to_owned()).expect("an endpoint");
    timeout(LIMIT, endpoint.connect())
        .await
        .expect("connects in time")
        .expect("connects")
}

fn check(case: &str, id: &str) -> Request<HealthCheckRequest> {
    let mut request = Request::new(HealthCheckRequest {
        service: "catalog".into(),
    });
    request
        .metadata_mut()
        .insert("x-case", case.parse().expect("metadata"));
    request
        .metadata_mut()
        .insert("x-request-id", id.parse().expect("metadata"));
    request
}

async fn call(client: &mut HealthClient<Channel>, request: Request<HealthCheckRequest>) -> Status {
    timeout(LIMIT, client.check(request))
        .await
        .expect("answers in time")
        .expect_err("a gateway error")
}

fn metadata<'a>(status: &'a Status, name: &str) -> Option<&'a str> {
    status.metadata().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tonic_client_gets_a_status_it_can_act_on() {
    let (url, _) = gateway().await;
    let mut client = HealthClient::new(channel(&url).await);

    // Never reached the upstream: UNAVAILABLE, and no pushback (the
    // client's own backoff applies).
    let status = call(&mut client, check("refused", "grpc-1")).await;
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(
        status.message(),
        "502 Bad Gateway: The server could not reach the upstream server while trying to fulfill the request."
    );
    assert_eq!(metadata(&status, "grpc-retry-pushback-ms"), None);
    assert_eq!(metadata(&status, "x-request-id"), Some("grpc-1"));
    assert_eq!(
        metadata(&status, "proxy-status"),
        Some("bff;error=connection_refused")
    );
    assert_eq!(metadata(&status, "cache-control"), Some("no-store"));
    let details = status.get_error_details();
    let info = details.error_info().expect("an ErrorInfo");
    assert_eq!(info.reason, "connection_refused");
    assert_eq!(info.domain, "bff");
    assert_eq!(info.metadata.get("status").map(String::as_str), Some("502"));
    assert!(details.retry_info().is_none());

    // May have run (a call is a POST): a code no retry policy retries, and
    // gRFC A6's "do not retry".
    let status = call(&mut client, check("timeout", "grpc-2")).await;
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert_eq!(metadata(&status, "grpc-retry-pushback-ms"), Some("-1"));
    assert_eq!(
        status.message(),
        "504 Gateway Timeout: The server did not receive a timely response from the upstream server. \
         The operation might still be processing. \
         This request may already have been processed; do not resend it automatically."
    );

    // The wait, as pushback in milliseconds and as RetryInfo.
    let status = call(&mut client, check("busy", "grpc-3")).await;
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(metadata(&status, "grpc-retry-pushback-ms"), Some("2000"));
    let details = status.get_error_details();
    let retry = details.retry_info().expect("a RetryInfo");
    assert_eq!(retry.retry_delay, Some(Duration::from_secs(2)));

    // Hostile text survives percent-encoding; an id that is not one (two
    // words) is replaced.
    let status = call(&mut client, check("hostile", "two words")).await;
    assert_eq!(status.code(), Code::Unknown);
    assert_eq!(
        status.message(),
        "502 Bad Gateway: 50% off \u{2713} \"now\" <b> \
         This request may already have been processed; do not resend it automatically."
    );
    let id = metadata(&status, "x-request-id").expect("an id");
    assert_ne!(id, "two words");
    assert!(gateway_error::RequestId::is_valid(id), "{id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_http_client_still_gets_http_answers() {
    let (url, _) = gateway().await;
    let client = reqwest::Client::new();
    let response = timeout(
        LIMIT,
        client
            .post(format!("{url}/grpc.health.v1.Health/Check"))
            .header("accept", "application/json")
            .header("x-request-id", "http-1")
            .body("{}")
            .send(),
    )
    .await
    .expect("answers in time")
    .expect("a response");
    assert_eq!(response.status(), 502);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(response.headers().get("grpc-status").is_none());
    assert_eq!(
        response.text().await.expect("a body"),
        r#"{"error":{"code":502,"message":"Bad Gateway","details":"The server could not reach the upstream server while trying to fulfill the request.","kind":"connection_refused","retryable":true,"request_id":"http-1"}}"#
    );
}

/// A BFF: a tonic health service that asks its upstream.
struct Bff {
    upstream: HealthClient<Channel>,
    calls: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl Health for Bff {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let answer = self
            .upstream
            .clone()
            .check(request.into_inner())
            .await
            .upstream("catalog")?;
        Ok(answer)
    }

    type WatchStream = std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<HealthCheckResponse, Status>> + Send>,
    >;

    async fn watch(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("not here"))
    }
}

/// A BFF in front of `upstream`, served by tonic with the one layer.
async fn bff(upstream: &str) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let upstream = Endpoint::from_shared(upstream.to_owned())
        .expect("an endpoint")
        .connect_timeout(LIMIT)
        .connect_lazy();
    let service = HealthServer::new(Bff {
        upstream: HealthClient::new(upstream),
        calls: Arc::clone(&calls),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("an address");
    let incoming = async_stream_of(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(GatewayErrorLayer::new(Policy::new().with_proxy_name("bff")))
            .add_service(service)
            .serve_with_incoming(incoming),
    );
    (format!("http://{addr}"), calls)
}

/// The accepted connections of `listener`, as tonic's server takes them.
fn async_stream_of(
    listener: TcpListener,
) -> impl futures_util::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures_util::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(stream, _)| stream);
        Some((accepted, listener))
    })
}

/// A loopback address where nothing listens.
async fn refusing() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("an address");
    drop(listener);
    format!("http://{addr}")
}

/// A real tonic-health server that knows no `catalog` service.
async fn health_server() -> String {
    let (_reporter, health) = tonic_health::server::health_reporter();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(health)
            .serve_with_incoming(async_stream_of(listener)),
    );
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tonic_bff_answers_for_its_failing_upstream() {
    // Refused: classified from the transport error's types (tonic's
    // ConnectError, the io error under it), not from any text.
    let (url, _) = bff(&refusing().await).await;
    let mut client = HealthClient::new(channel(&url).await);
    let status = call(&mut client, check("-", "bff-1")).await;
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(
        status.message(),
        "502 Bad Gateway: The server could not reach the upstream server while trying to fulfill the request."
    );
    assert_eq!(metadata(&status, "x-request-id"), Some("bff-1"));
    // The layer rendered the handler's error for the request, under its
    // policy: its Proxy-Status, its name in the details.
    assert_eq!(
        metadata(&status, "proxy-status"),
        Some("bff;error=connection_refused")
    );
    let details = status.get_error_details();
    let info = details.error_info().expect("an ErrorInfo");
    assert_eq!(
        (info.reason.as_str(), info.domain.as_str()),
        ("connection_refused", "bff")
    );

    // The upstream's own answer (NOT_FOUND) is relayed with its code, in
    // this gateway's words: none of the upstream's text passes.
    let (url, _) = bff(&health_server().await).await;
    let mut client = HealthClient::new(channel(&url).await);
    let status = call(&mut client, check("-", "bff-2")).await;
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(
        status.message(),
        "502 Bad Gateway: The server received an invalid response from the upstream server while trying to fulfill the request. \
         Sending this request again is not expected to succeed; do not resend it automatically."
    );
    assert_eq!(metadata(&status, "grpc-retry-pushback-ms"), Some("-1"));
    assert_eq!(metadata(&status, "proxy-status"), Some("bff"));
    assert_eq!(metadata(&status, "x-request-id"), Some("bff-2"));
}

#[test]
fn an_upstream_status_keeps_its_wait_and_its_stop() {
    let mut metadata = tonic::metadata::MetadataMap::new();
    metadata.insert("grpc-retry-pushback-ms", "1500".parse().expect("metadata"));
    let limited = Status::with_metadata(Code::ResourceExhausted, "slow down", metadata);
    let err = GatewayError::from_upstream_error("catalog", limited);
    assert_eq!(err.status(), 503);
    assert_eq!(err.retry_after(), Some(RetryAfter::from_secs(2)));
    assert!(err.is_retryable(&http::Method::GET));

    let mut metadata = tonic::metadata::MetadataMap::new();
    metadata.insert("grpc-retry-pushback-ms", "-1".parse().expect("metadata"));
    let stop = Status::with_metadata(Code::Unavailable, "no", metadata);
    let err = GatewayError::from_upstream_error("catalog", stop);
    assert_eq!(err.status(), 503);
    assert!(!err.is_retryable(&http::Method::GET));

    // A message never decides: the same code with any text is the same.
    for text in ["connection refused", "timeout", "http://host/retry?safe=1"] {
        let err = GatewayError::from_upstream_error("catalog", Status::unavailable(text));
        assert_eq!((err.status().as_u16(), err.kind()), (503, None));
    }
}

fn retrying(max_retries: u32) -> GrpcRetryLayer {
    GrpcRetryLayer::new(
        RetryPolicy::new()
            .with_max_retries(max_retries)
            .with_backoff(ExponentialBackoff::new(
                Duration::from_millis(1),
                Duration::from_millis(5),
            ))
            .without_budget(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retry_layer_follows_a_gateways_grpc_answer() {
    use tower::Layer;
    let (url, calls) = gateway().await;
    let mut client = HealthClient::new(retrying(2).layer(channel(&url).await));

    // UNAVAILABLE without pushback: sent again, up to the maximum.
    let status = timeout(LIMIT, client.check(check("refused", "r-1")))
        .await
        .expect("in time")
        .expect_err("fails");
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(calls.swap(0, Ordering::SeqCst), 3);

    // DEADLINE_EXCEEDED, pushback -1: sent once.
    let status = timeout(LIMIT, client.check(check("timeout", "r-2")))
        .await
        .expect("in time")
        .expect_err("fails");
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert_eq!(calls.swap(0, Ordering::SeqCst), 1);

    // UNAVAILABLE with a pushback of 2 s: waited, then sent again.
    let started = std::time::Instant::now();
    let mut once = HealthClient::new(retrying(1).layer(channel(&url).await));
    let status = timeout(LIMIT, once.check(check("busy", "r-3")))
        .await
        .expect("in time")
        .expect_err("fails");
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(calls.swap(0, Ordering::SeqCst), 2);
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retry_layer_against_a_tonic_bff() {
    use tower::Layer;
    // Refused below the BFF: a call that never reached the upstream is sent
    // again.
    let (url, calls) = bff(&refusing().await).await;
    let mut client = HealthClient::new(retrying(2).layer(channel(&url).await));
    let status = timeout(LIMIT, client.check(check("-", "b-1")))
        .await
        .expect("in time")
        .expect_err("fails");
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    // The upstream's NOT_FOUND: a retry gets the same answer; sent once.
    let (url, calls) = bff(&health_server().await).await;
    let mut client = HealthClient::new(retrying(2).layer(channel(&url).await));
    let status = timeout(LIMIT, client.check(check("-", "b-2")))
        .await
        .expect("in time")
        .expect_err("fails");
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
