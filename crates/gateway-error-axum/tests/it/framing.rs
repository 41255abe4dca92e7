//! A re-rendered error is well framed on the wire: every header that framed
//! or described the handler's body is gone, whatever the handler set.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::routing::get;
use axum::{BoxError, Router};
use gateway_error_axum::GatewayErrorLayer;
use gateway_error_core::{
    BadGateway, GatewayError, Policy, ProxyError, RenderContext, RetryAfter, render,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Every network step is bounded in time.
const LIMIT: Duration = Duration::from_secs(10);

/// Headers that framed or described the handler's body: none may survive.
const STALE: [(&str, &str); 14] = [
    ("transfer-encoding", "chunked"),
    ("content-encoding", "gzip"),
    ("content-range", "bytes 0-9/10"),
    ("content-language", "de"),
    ("content-location", "/products/7.json"),
    (
        "content-disposition",
        "attachment; filename=\"product.json\"",
    ),
    ("etag", "\"v1\""),
    ("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT"),
    (
        "content-digest",
        "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:",
    ),
    (
        "repr-digest",
        "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:",
    ),
    (
        "digest",
        "SHA-256=RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=",
    ),
    ("content-md5", "Q2hlY2sgSW50ZWdyaXR5IQ=="),
    ("trailer", "content-digest"),
    ("x-content-type-options", "nosniff"),
];

/// Headers about the resource or the exchange, not the body: kept.
const KEPT: [(&str, &str); 2] = [("accept-ranges", "bytes"), ("x-trace", "t-1")];

fn error() -> BadGateway {
    BadGateway::upstream("product-service")
        .with_kind(ProxyError::ConnectionTerminated)
        .with_retry_after(RetryAfter::from_secs(5))
}

fn policy() -> Policy {
    Policy::new().with_proxy_name("bff")
}

fn handler_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in STALE.iter().chain(&KEPT) {
        headers.append(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    headers
}

#[tokio::test]
async fn rerendered_errors_drop_the_handlers_framing_on_the_wire() -> Result<(), BoxError> {
    tokio::time::timeout(LIMIT, over_loopback()).await?
}

async fn over_loopback() -> Result<(), BoxError> {
    let app = Router::new()
        .route("/stale", get(|| async { (handler_headers(), error()) }))
        .layer(GatewayErrorLayer::new(policy()));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(axum::serve(listener, app).into_future());
    for accept in ["application/json", "text/html", "text/plain"] {
        let raw = raw_get(addr, accept).await?;
        check(&raw, accept)?;
    }
    server.abort();
    Ok(())
}

/// A GET over a plain socket, read until the server closes.
async fn raw_get(addr: SocketAddr, accept: &str) -> Result<Vec<u8>, BoxError> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!(
        "GET /stale HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: {accept}\r\nx-request-id: wire-7\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    Ok(raw)
}

/// The response is exactly the renderer's for this request, plus the kept
/// headers and the echoed id: one `Content-Length`, equal to the body's.
fn check(raw: &[u8], accept: &str) -> Result<(), BoxError> {
    let text = std::str::from_utf8(raw)?;
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no end of head")?;
    let mut lines = head.split("\r\n");
    assert_eq!(lines.next(), Some("HTTP/1.1 502 Bad Gateway"), "{accept}");
    let mut got: Vec<String> = lines
        .filter(|line| !line.starts_with("date: "))
        .map(str::to_owned)
        .collect();
    got.sort_unstable();

    let mut request = HeaderMap::new();
    request.insert("accept", HeaderValue::from_str(accept)?);
    let policy = policy();
    let ctx = RenderContext::from_request(&Method::GET, &request)
        .with_policy(&policy)
        .with_request_id("wire-7");
    let want = render(&GatewayError::from(error()), &ctx);
    let mut expected: Vec<String> = want
        .headers()
        .iter()
        .map(|(name, value)| Ok(format!("{name}: {}", value.to_str()?)))
        .collect::<Result<_, BoxError>>()?;
    expected.extend(KEPT.iter().map(|(name, value)| format!("{name}: {value}")));
    // `render` writes the `x-request-id` the body shows.
    expected.push("connection: close".to_owned());
    expected.sort_unstable();
    assert_eq!(got, expected, "{accept}");

    let lengths: Vec<&String> = got
        .iter()
        .filter(|line| line.starts_with("content-length: "))
        .collect();
    assert_eq!(
        lengths,
        [&format!("content-length: {}", body.len())],
        "{accept}"
    );
    assert!(!got.iter().any(|line| line.starts_with("transfer-encoding")));
    assert_eq!(body.as_bytes(), want.body().as_ref(), "{accept}");
    Ok(())
}
