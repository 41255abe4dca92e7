//! Not part of the BFF: the stand-in upstreams it calls, and the self-check
//! that `cargo run` does when no `--serve ADDR` is given.

use std::error::Error;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::OnceLock;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use warp::{Filter, Reply};

use crate::Product;

/// An ephemeral port on loopback.
pub(crate) const ANY_PORT: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// `Some(addr)` for `--serve ADDR` (a loopback address only), `None` for no
/// arguments.
pub(crate) fn serve_addr(
    mut args: impl Iterator<Item = String>,
) -> Result<Option<SocketAddr>, Box<dyn Error>> {
    match (args.next().as_deref(), args.next(), args.next()) {
        (None, ..) => Ok(None),
        (Some("--serve"), Some(addr), None) => {
            let addr: SocketAddr = addr.parse()?;
            if !addr.ip().is_loopback() {
                return Err(format!("{addr}: a loopback address only (127.0.0.1 or ::1)").into());
            }
            Ok(Some(addr))
        }
        _ => Err("usage: [--serve ADDR]".into()),
    }
}

/// The product service on an ephemeral loopback port: `/products/{id}`
/// answers the product as JSON, except `/products/503`, which answers 503
/// with `Retry-After: 30`; a request without the caller's `x-request-id`
/// gets a 400 (so the BFF's 200 shows that it passed the id on). Returns
/// its base URL.
pub(crate) async fn product_service() -> std::io::Result<String> {
    let products = warp::path!("products" / u32)
        .and(warp::header::optional::<String>("x-request-id"))
        .map(|id: u32, request_id: Option<String>| {
            if request_id.is_none() {
                StatusCode::BAD_REQUEST.into_response()
            } else if id == 503 {
                warp::reply::with_header(StatusCode::SERVICE_UNAVAILABLE, "retry-after", "30")
                    .into_response()
            } else {
                let name = format!("Product {id}");
                warp::reply::json(&Product { id, name }).into_response()
            }
        });
    let listener = tokio::net::TcpListener::bind(ANY_PORT).await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(warp::serve(products).incoming(listener).run());
    Ok(url)
}

/// The base URL of a loopback port that refuses connections: a socket bound
/// to it and never listening, kept for the life of the process so that no
/// other socket can take the port (one bound and released at once could be
/// handed straight to another listener, which would then answer).
pub(crate) fn closed_port() -> std::io::Result<String> {
    static RESERVED: OnceLock<tokio::net::TcpSocket> = OnceLock::new();
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(ANY_PORT)?;
    let socket = RESERVED.get_or_init(|| socket);
    Ok(format!("http://{}", socket.local_addr()?))
}

/// One answer of the BFF, as the self-check prints it.
pub(crate) struct Answer {
    pub(crate) method: reqwest::Method,
    pub(crate) path: &'static str,
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {} -> {}", self.method, self.path, self.status)?;
        for name in [
            "content-type",
            "retry-after",
            "proxy-status",
            "x-request-id",
        ] {
            if let Some(value) = self.headers.get(name).and_then(|v| v.to_str().ok()) {
                writeln!(f, "  {name}: {value}")?;
            }
        }
        write!(f, "  {}", self.body)
    }
}

/// The self-check: a product, the product service's 503, the review
/// service's refused connection.
pub(crate) async fn run(base: &str) -> Result<Vec<Answer>, reqwest::Error> {
    let client = reqwest::Client::new();
    let mut answers = Vec::new();
    for path in ["/products/7", "/products/503", "/reviews/7"] {
        answers.push(send(&client, reqwest::Method::GET, base, path).await?);
    }
    Ok(answers)
}

/// One request to the BFF, and its answer.
pub(crate) async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    base: &str,
    path: &'static str,
) -> Result<Answer, reqwest::Error> {
    let response = client
        .request(method.clone(), format!("{base}{path}"))
        .send()
        .await?;
    Ok(Answer {
        method,
        path,
        status: response.status(),
        headers: response.headers().clone(),
        body: response.text().await?,
    })
}
