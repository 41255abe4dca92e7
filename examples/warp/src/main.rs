//! gateway-error with warp 0.4: a BFF whose handlers call a product service
//! and a review service with reqwest. Its routes run under the one tower
//! layer (`warp::service` inside `GatewayErrorLayer`), served by hyper-util
//! as `warp::serve` serves a filter: so a handler reads the request id the
//! client gets back, generated or not, and passes it on to the upstream.
//!
//! ```sh
//! cargo run -p example-warp                               # a self-check: three requests, then exit
//! cargo run -p example-warp -- --serve 127.0.0.1:3002     # keeps running
//!
//! curl -i http://127.0.0.1:3002/products/7      # 200, the product as JSON
//! curl -i http://127.0.0.1:3002/products/503    # 503 with Retry-After: 30, as the upstream said
//! curl -i http://127.0.0.1:3002/reviews/7       # 502 connection_refused: nothing listens there
//! ```
//!
//! The upstreams run in this process (see `selfcheck.rs`).

mod selfcheck;

use std::error::Error;
use std::io;
use std::net::SocketAddr;

use gateway_error::warp::{GatewayErrorLayer, handle, request_id};
use gateway_error::{GatewayError, Policy, RequestId, ResponseExt, ResultExt};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tower::Layer as _;
use warp::Filter;
use warp::reply::{Json, json};

/// What the product service answers, and what this BFF passes on.
#[derive(Serialize, Deserialize)]
struct Product {
    id: u32,
    name: String,
}

/// The HTTP client and where the upstreams live.
#[derive(Clone)]
struct Upstreams {
    client: reqwest::Client,
    products: String,
    reviews: String,
}

/// `GET /products/{id}`: the product service's answer, or the gateway error
/// that says how it failed (a `Result` of two replies is a reply). The
/// request's id goes on to the product service.
async fn product(id: u32, request_id: RequestId, up: Upstreams) -> Result<Json, GatewayError> {
    let product: Product = up
        .client
        .get(format!("{}/products/{id}", up.products))
        .header("x-request-id", request_id.as_str())
        .send()
        .await
        .upstream("product-service")? // refused, reset, timed out: 502 or 504
        .error_for_upstream_status("product-service")? // its own 4xx/5xx: 502, or 503 for 503/429 (Retry-After kept)
        .json()
        .await
        .upstream("product-service")?; // a broken body: 502
    Ok(json(&product))
}

/// `GET /reviews/{id}`: the same, from the review service.
async fn reviews(id: u32, up: Upstreams) -> Result<Json, GatewayError> {
    let reviews: Vec<String> = up
        .client
        .get(format!("{}/reviews/{id}", up.reviews))
        .send()
        .await
        .upstream("review-service")?
        .error_for_upstream_status("review-service")?
        .json()
        .await
        .upstream("review-service")?;
    Ok(json(&reviews))
}

/// Starts the upstreams, then the BFF on `addr`: its routes, wrapped by
/// `handle` under the layer, which render every gateway error for its
/// request (format from `Accept`, HEAD, request id, retry-safety, and
/// `Proxy-Status` under this gateway's name). Returns where the BFF listens
/// and its task, which ends if accepting a connection fails.
async fn start(addr: SocketAddr) -> io::Result<(SocketAddr, JoinHandle<()>)> {
    let upstreams = Upstreams {
        client: reqwest::Client::new(),
        products: selfcheck::product_service().await?,
        reviews: selfcheck::closed_port()?,
    };
    let up = warp::any().map(move || upstreams.clone());
    // GET routes answer HEAD too (RFC 9110 section 9.1): warp's `get()`
    // does not match it; hyper sends no body for HEAD.
    let routes = warp::get().or(warp::head()).unify().and(
        (warp::path!("products" / u32)
            .and(request_id())
            .and(up.clone())
            .then(product))
        .or(warp::path!("reviews" / u32).and(up).then(reviews)),
    );
    let policy = Policy::new().with_proxy_name("example-bff");
    let app = GatewayErrorLayer::new(policy.clone()).layer(warp::service(handle(routes, policy)));
    let app = TowerToHyperService::new(app);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    // One task per connection, HTTP/1 and HTTP/2, as `warp::serve` does.
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let app = app.clone();
            tokio::spawn(async move {
                let builder = auto::Builder::new(TokioExecutor::new());
                let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), app);
                // A client that goes away is not the server's failure.
                let _ = connection.await;
            });
        }
    });
    Ok((addr, server))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let serve = selfcheck::serve_addr(std::env::args().skip(1))?;
    let (addr, server) = start(serve.unwrap_or(selfcheck::ANY_PORT)).await?;
    if serve.is_some() {
        println!("listening on http://{addr}");
        server.await?;
    } else {
        for answer in selfcheck::run(&format!("http://{addr}")).await? {
            println!("{answer}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_self_check_gets_a_product_a_503_and_a_502() -> Result<(), Box<dyn Error>> {
        let (addr, _server) = start(selfcheck::ANY_PORT).await?;
        let answers = selfcheck::run(&format!("http://{addr}")).await?;
        let [ok, unavailable, refused] = &answers[..] else {
            panic!("three answers");
        };
        assert_eq!(ok.status, 200);
        assert_eq!(ok.headers["content-type"], "application/json");
        assert_eq!(ok.body, r#"{"id":7,"name":"Product 7"}"#);
        assert!(ok.headers.contains_key("x-request-id"));

        assert_eq!(unavailable.status, 503);
        assert_eq!(unavailable.headers["retry-after"], "30");
        assert_eq!(
            unavailable.headers["proxy-status"],
            "example-bff;received-status=503"
        );
        assert_eq!(unavailable.headers["content-type"], "application/json");
        assert_eq!(unavailable.headers["cache-control"], "no-store");
        assert!(unavailable.headers.contains_key("x-request-id"));

        assert_eq!(refused.status, 502);
        assert_eq!(
            refused.headers["proxy-status"],
            "example-bff;error=connection_refused"
        );
        assert_eq!(refused.headers["content-type"], "application/json");
        assert!(
            refused.body.contains(r#""retryable":true"#),
            "{}",
            refused.body
        );
        Ok(())
    }

    /// RFC 9110 section 9.1: a GET route answers HEAD too, with the
    /// headers GET would get (the error's, with GET's `Content-Length`)
    /// and no body.
    #[tokio::test]
    async fn get_routes_answer_head_on_the_wire() -> Result<(), Box<dyn Error>> {
        let (addr, _server) = start(selfcheck::ANY_PORT).await?;
        let base = format!("http://{addr}");
        let client = reqwest::Client::new();
        for path in ["/products/7", "/products/503", "/reviews/7"] {
            let get = selfcheck::send(&client, reqwest::Method::GET, &base, path).await?;
            let head = selfcheck::send(&client, reqwest::Method::HEAD, &base, path).await?;
            assert_eq!(head.status, get.status, "{path}");
            assert_eq!(head.body, "", "{path}");
            for name in [
                "content-type",
                "content-length",
                "retry-after",
                "proxy-status",
                "cache-control",
            ] {
                assert_eq!(
                    head.headers.get(name),
                    get.headers.get(name),
                    "{path}: {name}"
                );
            }
            assert_eq!(
                head.headers["content-length"],
                get.body.len().to_string().as_str(),
                "{path}"
            );
            assert!(head.headers.contains_key("x-request-id"), "{path}");
        }
        Ok(())
    }
}
