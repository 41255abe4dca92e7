//! One tower layer for every tower server (issue 18, item 2):
//! `gateway_error::layer::GatewayErrorLayer` around the same routes gives
//! the same bytes from axum and from plain hyper, and a tonic server built
//! with `Server::builder().layer(..)` echoes the request id and leaves its
//! gRPC answers as they are. Real servers and clients on loopback.

use axum::Router;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use gateway_error::GatewayError;
use gateway_error::layer::GatewayErrorLayer;
use tokio::net::TcpListener;
use tokio::time::timeout;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

mod common;

use common::{LIMIT, send};

/// The hyper example's routes, written for axum.
fn axum_app() -> Router {
    async fn product() -> Result<String, GatewayError> {
        Err(example_hyper::product_error())
    }
    async fn health() -> impl IntoResponse {
        ([(CONTENT_TYPE, "text/plain; charset=utf-8")], "ok")
    }
    async fn missing() -> impl IntoResponse {
        (
            StatusCode::NOT_FOUND,
            [(CONTENT_TYPE, "text/plain; charset=utf-8")],
            "not found",
        )
    }
    Router::new()
        .route("/products/7", get(product))
        .route("/health", get(health))
        .fallback(missing)
        .layer(GatewayErrorLayer::new(example_hyper::policy()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_and_plain_hyper_give_the_same_bytes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let hyper_addr = listener.local_addr().expect("an address");
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let hyper_server = tokio::spawn(example_hyper::serve(listener, stopped));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let axum_addr = listener.local_addr().expect("an address");
    let axum_server = tokio::spawn(async move { axum::serve(listener, axum_app()).await });

    for head in [
        "GET /products/7 HTTP/1.1\r\naccept: text/html\r\nx-request-id: req-1",
        "GET /products/7 HTTP/1.1\r\naccept: application/problem+json\r\nx-request-id: req-2",
        "GET /products/7 HTTP/1.1\r\naccept: text/plain;q=0.5, application/json\r\nx-request-id: req-3",
        "HEAD /products/7 HTTP/1.1\r\naccept: text/plain\r\nx-request-id: req-4",
        "GET /health HTTP/1.1\r\nx-request-id: req-5",
        "GET /nowhere HTTP/1.1\r\nx-request-id: req-6",
    ] {
        let from_hyper = send(hyper_addr, head).await;
        let from_axum = send(axum_addr, head).await;
        assert_eq!(from_hyper, from_axum, "{head}");
        assert!(
            from_hyper.1.iter().any(|(name, _)| name == "x-request-id"),
            "{head}"
        );
    }
    // A request without an id gets a generated one in both, in the header
    // and the body alike.
    for addr in [hyper_addr, axum_addr] {
        let (status, fields, body) = send(addr, "GET /products/7 HTTP/1.1").await;
        assert_eq!(status, 502);
        let id = &fields
            .iter()
            .find(|(name, _)| name == "x-request-id")
            .expect("an id")
            .1;
        assert_eq!(id.len(), 32);
        assert!(body.contains(&format!(r#""request_id":"{id}""#)), "{body}");
    }

    let _ = stop.send(());
    timeout(LIMIT, hyper_server)
        .await
        .expect("the server stops in time")
        .expect("the server task")
        .expect("the server");
    axum_server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tonic_server_with_the_layer_echoes_the_id_and_leaves_grpc_answers_alone() {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("catalog", tonic_health::ServingStatus::Serving)
        .await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("an address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .layer(GatewayErrorLayer::new(example_hyper::policy()))
            .add_service(health)
            .serve_with_incoming_shutdown(tokio_stream_of(listener), async {
                let _ = stopped.await;
            }),
    );

    let endpoint =
        tonic::transport::Endpoint::from_shared(format!("http://{addr}")).expect("an endpoint");
    let channel = timeout(LIMIT, endpoint.connect())
        .await
        .expect("connects in time")
        .expect("connects");
    let mut client = HealthClient::new(channel);
    // A served service: its answer, and the client's request id echoed.
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: "catalog".into(),
    });
    request
        .metadata_mut()
        .insert("x-request-id", "grpc-1".parse().expect("metadata"));
    let response = timeout(LIMIT, client.check(request))
        .await
        .expect("answers in time")
        .expect("an OK answer");
    assert_eq!(
        response.metadata().get("x-request-id").expect("the id"),
        "grpc-1"
    );
    assert_eq!(response.get_ref().status, ServingStatus::Serving as i32);

    // The service's own error status passes as it is, with a generated id.
    let response = timeout(
        LIMIT,
        client.check(HealthCheckRequest {
            service: "unknown".into(),
        }),
    )
    .await
    .expect("answers in time");
    let status = response.expect_err("an unknown service");
    assert_eq!(status.code(), tonic::Code::NotFound);
    assert_eq!(status.message(), "service not registered");
    let id = status
        .metadata()
        .get("x-request-id")
        .expect("a generated id")
        .to_str()
        .expect("ASCII");
    assert_eq!(id.len(), 32);

    let _ = stop.send(());
    timeout(LIMIT, server)
        .await
        .expect("the server stops in time")
        .expect("the server task")
        .expect("the server");
}

/// The listener's connections as the stream tonic serves.
fn tokio_stream_of(
    listener: TcpListener,
) -> impl futures_core::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures_util::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(stream, _)| stream);
        Some((accepted, listener))
    })
}
