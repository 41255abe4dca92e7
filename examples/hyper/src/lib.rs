//! gateway-error on a bare hyper 1 server: the one tower layer
//! (`gateway_error::layer::GatewayErrorLayer`, as axum and tonic run it)
//! around a handler, served through hyper-util's `TowerToHyperService`;
//! and a raw loopback client for the demo and the tests.

use std::io;
use std::net::SocketAddr;

use bytes::Bytes;
use gateway_error::{BadGateway, GatewayError, Policy, ProxyError};
use http::{Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use gateway_error::layer::GatewayErrorLayer;
use http_body_util::Full;
use hyper_util::service::TowerToHyperService;
use tower::Layer as _;

/// The policy the server renders under.
///
/// # Examples
///
/// ```
/// assert_eq!(example_hyper::policy().proxy_name(), Some("edge"));
/// ```
#[must_use]
pub fn policy() -> Policy {
    Policy::new().with_proxy_name("edge")
}

/// The error `/products/7` answers with.
///
/// # Examples
///
/// ```
/// assert_eq!(example_hyper::product_error().status(), 502);
/// ```
#[must_use]
pub fn product_error() -> GatewayError {
    BadGateway::upstream("product-service")
        .with_kind(ProxyError::ConnectionRefused)
        .into()
}

/// The routes: `/products/7` fails as a gateway would, `/health` answers
/// `ok`, anything else 404.
///
/// # Errors
///
/// [`product_error`] for `/products/7`.
///
/// # Examples
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let health = http::Request::get("/health").body(())?;
/// assert_eq!(example_hyper::handler(health).await?.body().as_ref(), b"ok");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn handler<B>(request: Request<B>) -> Result<Response<Bytes>, GatewayError> {
    let (status, body) = match request.uri().path() {
        "/products/7" => return Err(product_error()),
        "/health" => (StatusCode::OK, "ok"),
        _ => (StatusCode::NOT_FOUND, "not found"),
    };
    let mut response = Response::new(Bytes::from_static(body.as_bytes()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(response)
}

/// Serves [`handler`] through the adapter on `listener`, one task per
/// connection, until `stop` fires.
///
/// # Errors
///
/// An error accepting a connection.
///
/// # Examples
///
/// ```no_run
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let (_stop, stopped) = tokio::sync::oneshot::channel();
/// example_hyper::serve(listener, stopped).await?;
/// # Ok::<(), std::io::Error>(())
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn serve(listener: TcpListener, mut stop: oneshot::Receiver<()>) -> io::Result<()> {
    // The handler's `Err` becomes the response that carries it
    // (`pipeline::respond`); the layer renders it for the request.
    let handler = tower::service_fn(|request: Request<hyper::body::Incoming>| async {
        let response = handler(request)
            .await
            .unwrap_or_else(gateway_error::pipeline::respond);
        Ok::<_, std::convert::Infallible>(response.map(Full::new))
    });
    let service = TowerToHyperService::new(GatewayErrorLayer::new(policy()).layer(handler));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                let service = service.clone();
                connections.spawn(async move {
                    let connection = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service);
                    // A client that goes away is not the server's failure.
                    let _ = connection.await;
                });
            }
        }
    }
    connections.shutdown().await;
    Ok(())
}

/// Sends `head` (request line and fields, without the final empty line)
/// with `connection: close` to `addr` and returns all it receives.
///
/// # Errors
///
/// An error connecting, writing or reading.
///
/// # Examples
///
/// ```no_run
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// let raw = example_hyper::send(([127, 0, 0, 1], 8080).into(), "GET /health HTTP/1.1").await?;
/// assert!(raw.starts_with("HTTP/1.1 200 OK\r\n"));
/// # Ok::<(), std::io::Error>(())
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn send(addr: SocketAddr, head: &str) -> io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("{head}\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    String::from_utf8(raw).map_err(io::Error::other)
}
