//! gateway-error with axum 0.8: a BFF whose handlers call a product service
//! and a review service with reqwest.
//!
//! ```sh
//! cargo run -p example-axum                               # a self-check: three requests, then exit
//! cargo run -p example-axum -- --serve 127.0.0.1:3000     # keeps running
//!
//! curl -i http://127.0.0.1:3000/products/7      # 200, the product as JSON
//! curl -i http://127.0.0.1:3000/products/503    # 503 with Retry-After: 30, as the upstream said
//! curl -i http://127.0.0.1:3000/reviews/7       # 502 connection_refused: nothing listens there
//! curl http://127.0.0.1:3000/openapi.json       # the OpenAPI document
//! ```
//!
//! The upstreams run in this process (see `selfcheck.rs`).

mod openapi;
mod selfcheck;

use std::error::Error;
use std::io;
use std::net::SocketAddr;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use gateway_error::axum::GatewayErrorLayer;
use gateway_error::{GatewayError, Policy, ResponseExt, ResultExt};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

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
/// that says how it failed.
async fn product(
    State(up): State<Upstreams>,
    Path(id): Path<u32>,
) -> Result<Json<Product>, GatewayError> {
    let product = up
        .client
        .get(format!("{}/products/{id}", up.products))
        .send()
        .await
        .upstream("product-service")? // refused, reset, timed out: 502 or 504
        .error_for_upstream_status("product-service")? // its own 4xx/5xx: 502, or 503 for 503/429 (Retry-After kept)
        .json()
        .await
        .upstream("product-service")?; // a broken body: 502
    Ok(Json(product))
}

/// `GET /reviews/{id}`: the same, from the review service.
async fn reviews(
    State(up): State<Upstreams>,
    Path(id): Path<u32>,
) -> Result<Json<Vec<String>>, GatewayError> {
    let reviews = up
        .client
        .get(format!("{}/reviews/{id}", up.reviews))
        .send()
        .await
        .upstream("review-service")?
        .error_for_upstream_status("review-service")?
        .json()
        .await
        .upstream("review-service")?;
    Ok(Json(reviews))
}

/// The BFF: its routes, and the layer that renders every gateway error for
/// its request (format from `Accept`, HEAD, request id, retry-safety, and
/// `Proxy-Status` under this gateway's name). The layer goes last.
fn app(upstreams: Upstreams) -> Result<Router, Box<dyn Error>> {
    Ok(Router::new()
        .route("/products/{id}", get(product))
        .route("/reviews/{id}", get(reviews))
        .route("/openapi.json", openapi::route()?)
        .with_state(upstreams)
        .layer(GatewayErrorLayer::new(
            Policy::new().with_proxy_name("example-bff"),
        )))
}

/// Starts the upstreams, then the BFF on `addr`; returns where the BFF
/// listens and its task.
async fn start(
    addr: SocketAddr,
) -> Result<(SocketAddr, JoinHandle<io::Result<()>>), Box<dyn Error>> {
    let upstreams = Upstreams {
        client: reqwest::Client::new(),
        products: selfcheck::product_service().await?,
        reviews: selfcheck::closed_port()?,
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    Ok((
        addr,
        tokio::spawn(axum::serve(listener, app(upstreams)?).into_future()),
    ))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let serve = selfcheck::serve_addr(std::env::args().skip(1))?;
    let (addr, server) = start(serve.unwrap_or(selfcheck::ANY_PORT)).await?;
    if serve.is_some() {
        println!("listening on http://{addr}");
        server.await??;
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
