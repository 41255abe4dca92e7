//! gateway-error with warp 0.4: a BFF whose handlers call a product service
//! and a review service with reqwest.
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

use gateway_error::{GatewayError, Policy, ResponseExt, ResultExt};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
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
/// that says how it failed (a `Result` of two replies is a reply).
async fn product(id: u32, up: Upstreams) -> Result<Json, GatewayError> {
    let product: Product = up
        .client
        .get(format!("{}/products/{id}", up.products))
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
/// `handle`, which renders every gateway error for its request (format from
/// `Accept`, HEAD, request id, retry-safety, and `Proxy-Status` under this
/// gateway's name). Returns where the BFF listens and its task.
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
        (warp::path!("products" / u32).and(up.clone()).then(product)).or(warp::path!(
            "reviews" / u32
        )
        .and(up)
        .then(reviews)),
    );
    let app = gateway_error::warp::handle(routes, Policy::new().with_proxy_name("example-bff"));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    Ok((
        addr,
        tokio::spawn(warp::serve(app).incoming(listener).run()),
    ))
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
