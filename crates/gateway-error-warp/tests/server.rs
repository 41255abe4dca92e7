//! A real warp server on 127.0.0.1, requests through reqwest: the bytes on
//! the wire are the core renderer's.

use std::time::Duration;

use gateway_error_core::{BadGateway, GatewayError, Policy, RenderContext, render};
use http::{HeaderMap, HeaderValue, Method};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use warp::Filter;

const LIMIT: Duration = Duration::from_secs(10);

fn error() -> BadGateway {
    BadGateway::upstream("product-service").with_source(std::io::Error::other("password=hunter2"))
}

#[tokio::test]
async fn bytes_on_the_wire_are_the_renderers() -> Result<(), Box<dyn std::error::Error>> {
    let routes = warp::path!("products" / u32)
        .and_then(|_| async { Err::<String, _>(warp::reject::custom(error())) });
    let app = gateway_error_warp::handle(routes, Policy::new().with_proxy_name("bff"));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        warp::serve(app)
            .incoming(listener)
            .graceful(async {
                let _ = stopped.await;
            })
            .run(),
    );

    let url = format!("http://{addr}/products/7");
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(LIMIT)
        .build()?;
    let send = |method: reqwest::Method| {
        client
            .request(method, &url)
            .header("accept", "text/html")
            .header("x-request-id", "req-wire")
            .send()
    };

    let get = send(reqwest::Method::GET).await?;
    let get_headers = get.headers().clone();
    assert_eq!(get.status(), 502);
    let get_body = get.bytes().await?;

    let head = send(reqwest::Method::HEAD).await?;
    let head_headers = head.headers().clone();
    assert_eq!(head.status(), 502);
    let head_body = head.bytes().await?;

    // What hyper sends for HEAD, read raw: reqwest does not read HEAD bodies.
    let raw = tokio::time::timeout(LIMIT, raw_head(addr)).await??;

    drop(client);
    let _ = stop.send(());
    tokio::time::timeout(LIMIT, server).await??;

    let mut request = HeaderMap::new();
    request.insert("accept", HeaderValue::from_static("text/html"));
    request.insert("x-request-id", HeaderValue::from_static("req-wire"));
    let policy = Policy::new().with_proxy_name("bff");
    let ctx = RenderContext::from_request(&Method::GET, &request).with_policy(&policy);
    let want = render(&GatewayError::from(error()), &ctx);

    assert_eq!(get_body, want.body());
    assert!(get_body.starts_with(b"<!DOCTYPE html>\n<html lang=\"en\">\n"));
    assert!(get_body.ends_with(b"</main>\n</body>\n</html>\n"));
    assert!(
        std::str::from_utf8(&get_body)?.contains("<p class=\"id\"><code>req-wire</code></p>\n")
    );
    for headers in [&get_headers, &head_headers] {
        for (name, value) in want.headers() {
            assert_eq!(&headers[name], value, "{name}");
        }
        assert_eq!(headers["content-type"], "text/html; charset=utf-8");
        assert_eq!(headers["content-length"], get_body.len().to_string());
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers["vary"], "accept");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["proxy-status"], "bff");
        assert_eq!(headers["x-request-id"], "req-wire");
        assert!(headers.get("retry-after").is_none());
        // hyper adds `date` and nothing else.
        let mut names: Vec<_> = headers.keys().map(|name| name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "cache-control",
                "content-length",
                "content-security-policy",
                "content-type",
                "date",
                "proxy-status",
                "vary",
                "x-content-type-options",
                "x-request-id"
            ]
        );
    }
    assert!(head_body.is_empty());

    let raw = String::from_utf8(raw)?;
    assert!(raw.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{raw}");
    assert!(
        raw.contains(&format!("\r\ncontent-length: {}\r\n", get_body.len())),
        "{raw}"
    );
    assert!(raw.ends_with("\r\n\r\n"), "{raw}");
    assert!(!raw.contains("hunter2"));
    Ok(())
}

/// Sends a HEAD with `Connection: close` and reads everything until EOF.
async fn raw_head(addr: std::net::SocketAddr) -> std::io::Result<Vec<u8>> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(
            b"HEAD /products/7 HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/html\r\n\
              x-request-id: req-wire\r\nconnection: close\r\n\r\n",
        )
        .await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    Ok(raw)
}
