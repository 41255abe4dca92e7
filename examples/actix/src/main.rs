//! gateway-error with actix-web 4: a BFF whose upstreams fail, on
//! 127.0.0.1:3001 (or the port given as the first argument).
//!
//! ```sh
//! cargo run -p example-actix
//! curl -i -H 'accept: text/html' http://127.0.0.1:3001/products/7
//! curl -i -X POST http://127.0.0.1:3001/prices/7
//! curl -i -H 'accept: application/problem+json' http://127.0.0.1:3001/search
//! ```
//!
//! `/products/{id}` answers 502 (the product service refused the
//! connection), `/prices/{id}` 504 (pricing timed out: retryable for GET,
//! not for POST), `/search` 503 with `Retry-After: 30`. Each answers HEAD
//! too (`curl -I`): actix-web's `web::get()` routes do not.

use std::io;
use std::time::Duration;

use actix_web::{App, HttpServer, Route, guard, web};
use gateway_error::actix::GatewayErrors;
use gateway_error::{BadGateway, GatewayTimeout, Policy, ProxyError, ServiceUnavailable};

/// The product service's client; the service is down.
async fn fetch_product(_id: u32) -> io::Result<String> {
    Err(io::Error::from(io::ErrorKind::ConnectionRefused))
}

async fn product(id: web::Path<u32>) -> Result<String, BadGateway> {
    let product = fetch_product(*id).await.map_err(|e| {
        BadGateway::upstream("product-service")
            .with_kind(ProxyError::ConnectionRefused)
            .with_source(e)
    })?;
    Ok(product)
}

async fn prices(_id: web::Path<u32>) -> Result<String, GatewayTimeout> {
    Err(GatewayTimeout::upstream("pricing").with_kind(ProxyError::HttpResponseTimeout))
}

async fn search() -> Result<String, ServiceUnavailable> {
    Err(ServiceUnavailable::upstream("search").with_retry_after(Duration::from_secs(30)))
}

/// A route for GET and HEAD.
fn get() -> Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::args().nth(1) {
        Some(port) => port.parse()?,
        None => 3001,
    };
    let errors = GatewayErrors::new(Policy::new().with_proxy_name("example-bff"));
    println!("listening on http://127.0.0.1:{port}");
    HttpServer::new(move || {
        App::new()
            .wrap(errors.clone())
            .route("/products/{id}", get().to(product))
            .route("/prices/{id}", web::route().to(prices))
            .route("/search", get().to(search))
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await?;
    Ok(())
}
