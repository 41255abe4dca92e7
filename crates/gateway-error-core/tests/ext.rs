//! The one-call forms against a real reqwest client and a real upstream on
//! a loopback socket: an upstream 503 keeps its `Retry-After` and
//! `Proxy-Status`, a refused connection is classified, `?` works.
#![cfg(feature = "reqwest")]

use std::time::Duration;

use gateway_error_core::{
    GatewayError, Policy, ProxyError, RenderContext, ResponseExt, ResultExt, RetryAfter, render,
};
use http::{HeaderMap, Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An upstream that answers one request with `response` and closes.
async fn upstream(response: &'static str) -> Result<String, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/products/7", listener.local_addr()?);
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        // Read the request head (reqwest sends no body for a GET).
        let mut head = Vec::new();
        let mut buf = [0; 1024];
        while !head.ends_with(b"\r\n\r\n") {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let _ = socket.write_all(response.as_bytes()).await;
        let _ = socket.shutdown().await;
    });
    Ok(url)
}

fn client() -> Result<reqwest::Client, BoxError> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()?)
}

/// The handler as a user writes it: one call per step, `?` throughout.
async fn product(client: &reqwest::Client, url: &str) -> Result<String, GatewayError> {
    let body = client
        .get(url)
        .send()
        .await
        .upstream("product-service")?
        .error_for_upstream_status("product-service")?
        .text()
        .await
        .upstream("product-service")?;
    Ok(body)
}

fn rendered(err: &GatewayError) -> http::Response<bytes::Bytes> {
    let policy = Policy::new().with_proxy_name("bff");
    let headers = HeaderMap::new();
    render(
        err,
        &RenderContext::from_request(&Method::GET, &headers).with_policy(&policy),
    )
}

#[tokio::test]
async fn an_upstream_503_keeps_retry_after_and_proxy_status() -> Result<(), BoxError> {
    let url = upstream(
        "HTTP/1.1 503 Service Unavailable\r\n\
         retry-after: 120\r\n\
         proxy-status: inner-lb;error=connection_limit_reached\r\n\
         content-type: text/plain\r\n\
         content-length: 21\r\n\
         connection: close\r\n\r\n\
         internal host db-7 ok",
    )
    .await?;
    let err = product(&client()?, &url).await.unwrap_err();
    assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(err.retry_after(), Some(RetryAfter::from_secs(120)));
    assert_eq!(err.received_status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(err.upstream_name(), Some("product-service"));

    // The default policy hides upstream names (the hop that called itself
    // `inner-lb` is `upstream`); nothing of the upstream's
    // body reaches the client.
    let response = rendered(&err);
    assert_eq!(response.status(), 503);
    let mut headers: Vec<(&str, &str)> = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.to_str().unwrap_or("<opaque>")))
        .collect();
    headers.sort_unstable();
    assert_eq!(
        headers,
        [
            ("cache-control", "no-store"),
            ("content-length", "165"),
            ("content-type", "application/json"),
            (
                "proxy-status",
                "upstream;error=connection_limit_reached, bff;received-status=503"
            ),
            ("retry-after", "120"),
            ("vary", "accept"),
            ("x-content-type-options", "nosniff"),
        ]
    );
    assert_eq!(
        response.body(),
        r#"{"error":{"code":503,"message":"Service Unavailable","details":"The service is temporarily unavailable. Please try again later.","retryable":true,"retry_after":120}}"#
    );
    Ok(())
}

#[tokio::test]
async fn a_success_passes_through() -> Result<(), BoxError> {
    let url =
        upstream("HTTP/1.1 200 OK\r\ncontent-length: 9\r\nconnection: close\r\n\r\n{\"id\":7}\n")
            .await?;
    assert_eq!(product(&client()?, &url).await?, "{\"id\":7}\n");
    Ok(())
}

#[tokio::test]
async fn a_refused_connection_is_classified() -> Result<(), BoxError> {
    // A port that was just free: nothing listens on it any more.
    let url = {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        format!("http://{}/", listener.local_addr()?)
    };
    let err = product(&client()?, &url).await.unwrap_err();
    assert_eq!(err.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(err.kind(), Some(ProxyError::ConnectionRefused));
    assert_eq!(err.upstream_name(), Some("product-service"));
    assert!(!err.to_string().contains("127.0.0.1"));

    // `?` on a bare reqwest::Error: classified the same, without a name.
    async fn unnamed(url: &str) -> Result<reqwest::Response, GatewayError> {
        Ok(reqwest::Client::builder()
            .no_proxy()
            .build()?
            .get(url)
            .send()
            .await?)
    }
    let err = unnamed(&url).await.unwrap_err();
    assert_eq!(err.kind(), Some(ProxyError::ConnectionRefused));
    assert_eq!(err.upstream_name(), None);
    Ok(())
}
