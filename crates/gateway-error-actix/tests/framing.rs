//! A re-rendered error is well framed on the wire: every header that framed
//! or described the handler's response is gone, whatever the handler set.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{App, HttpResponse, HttpServer, ResponseError as _, rt, web};
use gateway_error::actix::GatewayErrors;
use gateway_error::{
    BadGateway, GatewayError, Policy, ProxyError, RenderContext, RetryAfter, render,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

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

/// The handler: the error's response, with every stale header set on it
/// (and the kept ones).
async fn stale() -> HttpResponse {
    let mut response = error().error_response();
    for (name, value) in STALE.iter().chain(&KEPT) {
        response.headers_mut().append(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}

#[actix_web::test]
async fn rerendered_errors_drop_the_handlers_framing_on_the_wire() -> Result<(), BoxError> {
    let server = HttpServer::new(|| {
        App::new()
            .wrap(GatewayErrors::new(policy()))
            .service(web::resource("/stale").to(stale))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .bind(("127.0.0.1", 0))?;
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    let running = rt::spawn(server);

    let result = rt::task::spawn_blocking(move || {
        for accept in ["application/json", "text/html", "text/plain"] {
            let raw = raw_get(addr, accept)?;
            check(&raw, accept)?;
        }
        Ok::<(), BoxError>(())
    })
    .await;
    handle.stop(false).await;
    running.await??;
    result?
}

/// A GET over a plain socket, read until the server closes.
fn raw_get(addr: SocketAddr, accept: &str) -> Result<Vec<u8>, BoxError> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(LIMIT))?;
    stream.set_write_timeout(Some(LIMIT))?;
    let request = format!(
        "GET /stale HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: {accept}\r\nx-request-id: wire-7\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
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

    let mut request = http::HeaderMap::new();
    request.insert("accept", http::HeaderValue::from_str(accept)?);
    let policy = policy();
    let ctx = RenderContext::from_request(&http::Method::GET, &request)
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
