//! A real actix-web server on 127.0.0.1: the bytes on the wire, through
//! `reqwest` and a raw socket.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use actix_web::web::{self, Bytes};
use actix_web::{App, HttpServer, rt};
use gateway_error::actix::GatewayErrors;
use gateway_error::{BadGateway, GatewayError, Policy, ProxyError, RenderContext, render};

type Result<T = (), E = Box<dyn std::error::Error + Send + Sync>> = std::result::Result<T, E>;

const SECRET: &str = "connect ECONNREFUSED 10.0.0.7:8080";

fn error() -> BadGateway {
    BadGateway::upstream("product-service")
        .with_kind(ProxyError::ConnectionRefused)
        .with_source(std::io::Error::other(SECRET))
}

fn policy() -> Policy {
    Policy::new().with_proxy_name("bff")
}

async fn product() -> Result<String, BadGateway> {
    Err(error())
}

/// The renderer's response for this request, as the server should send it.
fn expected(method: &http::Method, accept: Option<&str>, id: &str) -> http::Response<Bytes> {
    let mut headers = http::HeaderMap::new();
    if let Some(accept) = accept {
        headers.insert("accept", accept.parse().expect("valid"));
    }
    let policy = policy();
    let ctx = RenderContext::from_request(method, &headers)
        .with_policy(&policy)
        .with_request_id(id);
    render(&GatewayError::from(error()), &ctx)
}

#[actix_web::test]
async fn the_wire_carries_the_rendered_bytes() -> Result {
    let server = HttpServer::new(|| {
        App::new()
            .wrap(GatewayErrors::new(policy()))
            .service(web::resource("/product").to(product))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .bind(("127.0.0.1", 0))?;
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    let running = rt::spawn(server);

    let result = rt::time::timeout(Duration::from_secs(20), requests(addr)).await;
    handle.stop(false).await;
    running.await??;
    result?
}

async fn requests(addr: SocketAddr) -> Result {
    let url = format!("http://{addr}/product");
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()?;
    let send = |method: reqwest::Method| {
        client
            .request(method, &url)
            .header("accept", "text/html")
            .header("x-request-id", "wire-1")
            .send()
    };

    let get = send(reqwest::Method::GET).await?;
    let want = expected(&http::Method::GET, Some("text/html"), "wire-1");
    assert_eq!(get.status(), want.status());
    let headers = get.headers().clone();
    let mut names: Vec<_> = headers.keys().map(|n| n.as_str()).collect();
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
    for (name, value) in want.headers() {
        assert_eq!(headers.get(name), Some(value), "{name}");
    }
    assert_eq!(headers["x-request-id"], "wire-1");
    assert_eq!(headers["proxy-status"], "bff;error=connection_refused");
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let body = get.bytes().await?;
    assert_eq!(body, want.body());
    let text = std::str::from_utf8(&body)?;
    assert!(
        text.starts_with("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
    );
    assert!(text.contains(
        "<li class=\"na\"><span class=\"n\">A service behind it</span><span class=\"s\">Not reached</span></li>\n"
    ) || text.contains(
        "<li class=\"bad\"><span class=\"n\">A service behind it</span><span class=\"s\">Unreachable</span></li>\n"
    ));
    assert!(text.contains("<h1>502 Bad Gateway</h1>\n"));
    assert!(text.contains("<p class=\"id\"><code>wire-1</code></p>\n"));
    assert!(!text.contains(SECRET));

    let head = send(reqwest::Method::HEAD).await?;
    assert_eq!(head.status(), 502);
    let head_headers = head.headers().clone();
    for name in want.headers().keys() {
        assert_eq!(head_headers.get(name), headers.get(name), "{name}");
    }
    assert_eq!(
        head_headers["content-length"].to_str()?,
        body.len().to_string()
    );
    assert!(head.bytes().await?.is_empty());

    // The raw bytes of HEAD: lowercase names, `content-length` first, then
    // the rest, and nothing after the head.
    let raw = rt::task::spawn_blocking(move || raw_head(addr)).await??;
    let raw = std::str::from_utf8(&raw)?;
    let (head, rest) = raw.split_once("\r\n\r\n").ok_or("no end of head")?;
    assert_eq!(rest, "");
    let json = expected(&http::Method::HEAD, None, "raw-1");
    let mut lines = head.split("\r\n");
    assert_eq!(lines.next(), Some("HTTP/1.1 502 Bad Gateway"));
    assert_eq!(
        lines.next(),
        Some(
            format!(
                "content-length: {}",
                json.headers()["content-length"].to_str()?
            )
            .as_str()
        )
    );
    let mut fields: Vec<_> = lines.filter(|l| !l.starts_with("date: ")).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "cache-control: no-store",
            "connection: close",
            "content-type: application/json",
            "proxy-status: bff;error=connection_refused",
            "vary: accept",
            "x-content-type-options: nosniff",
            "x-request-id: raw-1",
        ]
    );
    Ok(())
}

/// A HEAD request over a plain socket, read until the server closes.
fn raw_head(addr: SocketAddr) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(
        b"HEAD /product HTTP/1.1\r\nhost: 127.0.0.1\r\nx-request-id: raw-1\r\nconnection: close\r\n\r\n",
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    Ok(raw)
}
