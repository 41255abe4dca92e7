//! `handle_error` behind axum's `HandleErrorLayer`: inner-service failures
//! become gateway errors.

use std::io;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::http::Method;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{BoxError, Router};
use gateway_error_axum::{GatewayErrorLayer, handle_error};
use gateway_error_core::{BadGateway, GatewayTimeout, ProxyError};
use tower::ServiceBuilder;
use tower::timeout::TimeoutLayer;

use crate::common::{assert_same, expected, header, policy, request, send};

/// A slow route behind a 10 ms `TimeoutLayer`, and a service whose
/// connection is refused.
fn app() -> Router {
    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_secs(10)).await;
        "too late"
    }
    let refused = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(handle_error))
        .service_fn(|_| async {
            Err::<Response, BoxError>(io::Error::from(io::ErrorKind::ConnectionRefused).into())
        });
    Router::new()
        .route("/slow", get(slow).post(slow))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(handle_error))
                .layer(TimeoutLayer::new(Duration::from_millis(10))),
        )
        .route_service("/refused", refused)
        .route("/fast", post(|| async { "fast" }))
        .layer(GatewayErrorLayer::new(policy()))
}

fn upstream_timeout() -> GatewayTimeout {
    GatewayTimeout::new().with_kind(ProxyError::HttpResponseTimeout)
}

#[tokio::test]
async fn a_tower_timeout_is_a_504_not_a_408() -> Result<(), BoxError> {
    let headers = [("x-request-id", "req-1")];
    let get = tokio::time::timeout(
        Duration::from_secs(5),
        send(app(), request(Method::GET, "/slow", &headers)?),
    )
    .await??;
    assert_same(
        &get,
        &expected(upstream_timeout(), &Method::GET, None, "req-1")?,
    );
    assert_eq!(get.status(), 504);
    assert_eq!(
        header(&get, "proxy-status"),
        "bff;error=http_response_timeout"
    );
    assert_eq!(
        get.body(),
        r#"{"error":{"code":504,"message":"Gateway Timeout","details":"The server did not receive a timely response from the upstream server. The operation might still be processing.","kind":"http_response_timeout","retryable":true,"request_id":"req-1"}}"#
    );

    let post = tokio::time::timeout(
        Duration::from_secs(5),
        send(app(), request(Method::POST, "/slow", &headers)?),
    )
    .await??;
    assert_same(
        &post,
        &expected(upstream_timeout(), &Method::POST, None, "req-1")?,
    );
    assert!(String::from_utf8_lossy(post.body()).contains(r#""retryable":false"#));
    Ok(())
}

#[tokio::test]
async fn a_refused_connection_is_a_retryable_502() -> Result<(), BoxError> {
    let headers = [
        ("accept", "application/problem+json"),
        ("x-request-id", "req-1"),
    ];
    let response = tokio::time::timeout(
        Duration::from_secs(5),
        send(app(), request(Method::POST, "/refused", &headers)?),
    )
    .await??;
    let refused = BadGateway::new().with_kind(ProxyError::ConnectionRefused);
    assert_same(
        &response,
        &expected(
            refused,
            &Method::POST,
            Some("application/problem+json"),
            "req-1",
        )?,
    );
    assert_eq!(
        header(&response, "proxy-status"),
        "bff;error=connection_refused"
    );
    assert!(String::from_utf8_lossy(response.body()).contains(r#""retryable":true"#));
    Ok(())
}

#[tokio::test]
async fn fast_routes_are_untouched() -> Result<(), BoxError> {
    let response = send(
        app(),
        request(Method::POST, "/fast", &[("x-request-id", "req-1")])?,
    )
    .await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), "fast");
    assert_eq!(header(&response, "x-request-id"), "req-1");
    Ok(())
}
