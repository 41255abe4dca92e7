//! `handle_error` behind axum's `HandleErrorLayer`: inner-service failures
//! become gateway errors.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::http::Method;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{BoxError, Router};
use gateway_error_axum::{GatewayErrorLayer, HandleErrorConfig, handle_error, handle_error_with};
use gateway_error_core::{
    BadGateway, GatewayError, GatewayTimeout, ProxyError, RetryAfter, ServiceUnavailable,
};
use tokio::sync::Notify;
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

/// A route that holds its request until `release`, after saying it has
/// `entered`, behind load shedding over a concurrency limit of one.
fn limited<F, Fut>(handle: F) -> (Router, Arc<Notify>, Arc<Notify>)
where
    F: FnOnce(BoxError) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = GatewayError> + Send + 'static,
{
    let (entered, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let (e, r) = (entered.clone(), release.clone());
    let work = move || async move {
        e.notify_one();
        r.notified().await;
        "done"
    };
    let app = Router::new()
        .route("/work", get(work))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(handle))
                .load_shed()
                .concurrency_limit(1),
        )
        .layer(GatewayErrorLayer::new(policy()))
        // What `axum::serve` does first: handlers become services once, so
        // the limit is one for all requests (driven with `oneshot`, an
        // unprepared router would build a fresh limit per request).
        .with_state(());
    (app, entered, release)
}

/// Sends one request that takes the only permit, then `second` while it
/// is held, then one after it is released; returns the second's answer.
async fn while_busy<F, Fut>(
    handle: F,
    second: &[(&str, &str)],
) -> Result<Response<bytes::Bytes>, BoxError>
where
    F: FnOnce(BoxError) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = GatewayError> + Send + 'static,
{
    let (app, entered, release) = limited(handle);
    let first = tokio::spawn(send(
        app.clone(),
        request(Method::GET, "/work", &[("x-request-id", "req-1")])?,
    ));
    tokio::time::timeout(Duration::from_secs(5), entered.notified()).await?;
    let refused = tokio::time::timeout(
        Duration::from_secs(5),
        send(app.clone(), request(Method::GET, "/work", second)?),
    )
    .await??;
    release.notify_one();
    let first = tokio::time::timeout(Duration::from_secs(5), first).await???;
    assert_eq!(
        (first.status().as_u16(), &first.body()[..]),
        (200, &b"done"[..])
    );
    // The permit is back: the next request is served.
    let after = tokio::spawn(send(
        app,
        request(Method::GET, "/work", &[("x-request-id", "req-3")])?,
    ));
    tokio::time::timeout(Duration::from_secs(5), entered.notified()).await?;
    release.notify_one();
    let after = tokio::time::timeout(Duration::from_secs(5), after).await???;
    assert_eq!(
        (after.status().as_u16(), &after.body()[..]),
        (200, &b"done"[..])
    );
    Ok(refused)
}

#[tokio::test]
async fn load_shedding_is_a_503_with_the_configured_retry_after() -> Result<(), BoxError> {
    let config = HandleErrorConfig::new().with_overloaded_retry_after(Duration::from_secs(5));
    let response = while_busy(handle_error_with(config), &[("x-request-id", "req-2")]).await?;
    let shed = ServiceUnavailable::new()
        .with_kind(ProxyError::ConnectionLimitReached)
        .with_retry_after(RetryAfter::from_secs(5));
    assert_same(&response, &expected(shed, &Method::GET, None, "req-2")?);
    assert_eq!(
        crate::common::fields(response.headers()),
        [
            ("cache-control", "no-store"),
            ("content-length", "218"),
            ("content-type", "application/json"),
            ("proxy-status", "bff;error=connection_limit_reached"),
            ("retry-after", "5"),
            ("vary", "accept"),
            ("x-content-type-options", "nosniff"),
            ("x-request-id", "req-2"),
        ]
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
    );
    assert_eq!(
        response.body(),
        r#"{"error":{"code":503,"message":"Service Unavailable","details":"The service is temporarily unavailable. Please try again later.","kind":"connection_limit_reached","retryable":true,"retry_after":5,"request_id":"req-2"}}"#
    );
    Ok(())
}

#[tokio::test]
async fn load_shedding_without_a_configured_delay_has_no_retry_after() -> Result<(), BoxError> {
    let handle = |error| std::future::ready(HandleErrorConfig::new().classify(error));
    let headers = [
        ("accept", "application/problem+json"),
        ("x-request-id", "req-2"),
    ];
    let response = while_busy(handle, &headers).await?;
    let shed = ServiceUnavailable::new().with_kind(ProxyError::ConnectionLimitReached);
    assert_same(
        &response,
        &expected(
            shed,
            &Method::GET,
            Some("application/problem+json"),
            "req-2",
        )?,
    );
    assert_eq!(response.status(), 503);
    assert_eq!(header(&response, "retry-after"), "");
    assert_eq!(
        header(&response, "proxy-status"),
        "bff;error=connection_limit_reached"
    );
    Ok(())
}

#[tokio::test]
async fn handle_error_sheds_load_with_a_503() -> Result<(), BoxError> {
    // `handle_error` itself, as existing apps install it.
    let response = while_busy(handle_error, &[("x-request-id", "req-2")]).await?;
    let shed = ServiceUnavailable::new().with_kind(ProxyError::ConnectionLimitReached);
    assert_same(&response, &expected(shed, &Method::GET, None, "req-2")?);
    assert_eq!(response.status(), 503);
    Ok(())
}
