//! An upstream named once for a whole call (issue 18, item 5): every step's
//! failure (refused, an error answer, a body cut short) carries the name
//! given at the end. A real reqwest client against loopback upstreams.

use std::time::Duration;

use gateway_error::{GatewayError, ProxyError, ResponseExt, ResultExt, RetryAfter};
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const LIMIT: Duration = Duration::from_secs(10);

async fn product(client: &reqwest::Client, url: String) -> Result<String, GatewayError> {
    async {
        let response = client.get(url).send().await?.check_upstream_status()?;
        Ok::<_, GatewayError>(response.text().await?)
    }
    .await
    .upstream("product-service")
}

/// An upstream that answers every connection with `answer`, then closes.
async fn upstream(answer: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            let _ = stream.write_all(answer).await;
        }
    });
    format!("http://{addr}/products/7")
}

async fn call(url: String) -> Result<String, GatewayError> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(LIMIT)
        .build()
        .expect("a client");
    tokio::time::timeout(LIMIT, product(&client, url))
        .await
        .expect("in time")
}

#[tokio::test]
async fn every_step_is_named_by_the_one_name() {
    // Refused.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let refused = format!("http://{}/", listener.local_addr().expect("an address"));
    drop(listener);
    let err = call(refused).await.unwrap_err();
    assert_eq!(err.kind(), Some(ProxyError::ConnectionRefused));
    assert_eq!(err.upstream_name(), Some("product-service"));

    // Its own 503, with its wait.
    let busy = upstream(
        b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 30\r\ncontent-length: 0\r\n\r\n",
    )
    .await;
    let err = call(busy).await.unwrap_err();
    assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(err.retry_after(), Some(RetryAfter::from_secs(30)));
    assert_eq!(err.upstream_name(), Some("product-service"));

    // A body cut short.
    let cut = upstream(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this").await;
    let err = call(cut).await.unwrap_err();
    assert_eq!(err.kind(), Some(ProxyError::HttpResponseIncomplete));
    assert_eq!(err.upstream_name(), Some("product-service"));

    // And the answer when all goes well.
    let fine = upstream(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nlamp").await;
    assert_eq!(call(fine).await.expect("the product"), "lamp");
}
