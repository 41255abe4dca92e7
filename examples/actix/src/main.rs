//! gateway-error with actix-web 4: a BFF whose handlers call a product
//! service and a review service with reqwest.
//!
//! ```sh
//! cargo run -p example-actix                              # a self-check: three requests, then exit
//! cargo run -p example-actix -- --serve 127.0.0.1:3001    # keeps running
//!
//! curl -i http://127.0.0.1:3001/products/7      # 200, the product as JSON
//! curl -i http://127.0.0.1:3001/products/503    # 503 with Retry-After: 30, as the upstream said
//! curl -i http://127.0.0.1:3001/reviews/7       # 502 connection_refused: nothing listens there
//! ```
//!
//! The upstreams run in this process (see `selfcheck.rs`).

mod selfcheck;

use std::error::Error;
use std::io;
use std::net::SocketAddr;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use gateway_error::actix::GatewayErrors;
use gateway_error::{GatewayError, Policy, ResponseExt, ResultExt};
use serde::{Deserialize, Serialize};

/// What the product service answers, and what this BFF passes on.
#[derive(Serialize, Deserialize)]
struct Product {
    id: u32,
    name: String,
}

/// The HTTP client and where the upstreams live.
struct Upstreams {
    client: reqwest::Client,
    products: String,
    reviews: String,
}

/// `GET /products/{id}`: the product service's answer, or the gateway error
/// that says how it failed.
async fn product(
    up: web::Data<Upstreams>,
    id: web::Path<u32>,
) -> Result<web::Json<Product>, GatewayError> {
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
    Ok(web::Json(product))
}

/// `GET /reviews/{id}`: the same, from the review service.
async fn reviews(
    up: web::Data<Upstreams>,
    id: web::Path<u32>,
) -> Result<web::Json<Vec<String>>, GatewayError> {
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
    Ok(web::Json(reviews))
}

/// Starts the upstreams, then the BFF on `addr`: its routes, and the
/// middleware that renders every gateway error for its request (format from
/// `Accept`, HEAD, request id, retry-safety, and `Proxy-Status` under this
/// gateway's name). Returns where the BFF listens and its server.
fn start(addr: SocketAddr) -> io::Result<(SocketAddr, Server)> {
    let upstreams = web::Data::new(Upstreams {
        client: reqwest::Client::new(),
        products: selfcheck::product_service()?,
        reviews: selfcheck::closed_port()?,
    });
    let errors = GatewayErrors::new(Policy::new().with_proxy_name("example-bff"));
    let server = HttpServer::new(move || {
        App::new()
            .wrap(errors.clone())
            .app_data(upstreams.clone())
            // GET routes answer HEAD too (RFC 9110 section 9.1): actix-web
            // does not do it by itself; it sends no body for HEAD.
            .service(
                web::resource("/products/{id}")
                    .route(web::get().to(product))
                    .route(web::head().to(product)),
            )
            .service(
                web::resource("/reviews/{id}")
                    .route(web::get().to(reviews))
                    .route(web::head().to(reviews)),
            )
    })
    .workers(1)
    .bind(addr)?;
    let addr = server.addrs()[0];
    Ok((addr, server.run()))
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let serve = selfcheck::serve_addr(std::env::args().skip(1))?;
    let (addr, server) = start(serve.unwrap_or(selfcheck::ANY_PORT))?;
    if serve.is_some() {
        println!("listening on http://{addr}");
        server.await?;
    } else {
        actix_web::rt::spawn(server);
        for answer in selfcheck::run(&format!("http://{addr}")).await? {
            println!("{answer}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn the_self_check_gets_a_product_a_503_and_a_502() -> Result<(), Box<dyn Error>> {
        let (addr, server) = start(selfcheck::ANY_PORT)?;
        actix_web::rt::spawn(server);
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
    #[actix_web::test]
    async fn get_routes_answer_head_on_the_wire() -> Result<(), Box<dyn Error>> {
        let (addr, server) = start(selfcheck::ANY_PORT)?;
        actix_web::rt::spawn(server);
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
