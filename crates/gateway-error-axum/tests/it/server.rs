//! A real server on a loopback socket: the bytes on the wire.

use std::future::IntoFuture;
use std::time::Duration;

use axum::BoxError;
use axum::http::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{app, expected, fields, unavailable};

/// Every network step is bounded in time.
const LIMIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn get_and_head_over_loopback() -> Result<(), BoxError> {
    tokio::time::timeout(LIMIT, over_loopback()).await?
}

async fn over_loopback() -> Result<(), BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(axum::serve(listener, app()).into_future());
    let client = reqwest::Client::builder().no_proxy().build()?;
    let url = format!("http://{addr}/unavailable");

    let mut lengths = Vec::new();
    for method in [Method::GET, Method::HEAD] {
        let response = client
            .request(method.clone(), &url)
            .header("accept", "text/html")
            .header("x-request-id", "wire-1")
            .send()
            .await?;
        let want = expected(unavailable(), &method, Some("text/html"), "wire-1")?;
        assert_eq!(response.status(), want.status());
        let mut got = fields(response.headers());
        got.retain(|(name, _)| name != "date");
        assert_eq!(got, fields(want.headers()), "{method}");
        assert!(response.headers().contains_key("date"));
        lengths.push(response.headers()["content-length"].to_str()?.to_owned());
        let body = response.bytes().await?;
        assert_eq!(body, want.body(), "{method}");
        if method == Method::GET {
            let html = String::from_utf8_lossy(&body);
            assert!(html.starts_with("<!DOCTYPE html>\n"));
            assert!(html.contains("<p class=\"id\"><code>wire-1</code></p>\n"));
            assert!(html.contains("Retry-After: 30</p>\n"));
        }
    }
    assert_eq!(lengths[0], lengths[1]);

    // On the raw socket: HEAD's response ends with its header section.
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(b"HEAD /unavailable HTTP/1.1\r\nhost: localhost\r\nx-request-id: wire-2\r\nconnection: close\r\n\r\n")
        .await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let raw = String::from_utf8(raw)?;
    assert!(
        raw.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{raw}"
    );
    assert!(raw.ends_with("\r\n\r\n"), "{raw}");
    let get_len = expected(unavailable(), &Method::GET, None, "wire-2")?
        .body()
        .len();
    assert!(
        raw.contains(&format!("\r\ncontent-length: {get_len}\r\n")),
        "{raw}"
    );

    server.abort();
    Ok(())
}
