//! gateway-error with warp 0.4: a small BFF whose upstreams fail, on
//! 127.0.0.1:3002 (or the port given as the first argument).
//!
//! ```sh
//! cargo run -p example-warp
//! curl -i -H 'accept: text/html' http://127.0.0.1:3002/products/7
//! curl -i http://127.0.0.1:3002/prices                  # 504, retryable
//! curl -i -X POST http://127.0.0.1:3002/prices          # 504, not retryable
//! curl -i -H 'accept: application/problem+json' http://127.0.0.1:3002/search
//! ```

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use gateway_error::{BadGateway, GatewayTimeout, Policy, ProxyError, ServiceUnavailable};
use warp::{Filter, Rejection};

/// The product service, which refuses connections today.
async fn product_service(_id: u32) -> io::Result<String> {
    Err(io::Error::from(io::ErrorKind::ConnectionRefused))
}

/// The pricing service, which answers too slowly.
async fn pricing_service() -> io::Result<String> {
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok("42.00".to_owned())
}

/// `GET /products/{id}`: rejects with a 502 when the product service fails.
async fn product(id: u32) -> Result<String, Rejection> {
    product_service(id).await.map_err(|e| {
        warp::reject::custom(
            BadGateway::upstream("product-service")
                .with_kind(ProxyError::ConnectionRefused)
                .with_source(e),
        )
    })
}

/// `/prices`: a 504 when pricing takes longer than 200 ms.
async fn prices() -> Result<String, Rejection> {
    match tokio::time::timeout(Duration::from_millis(200), pricing_service()).await {
        Ok(Ok(price)) => Ok(price),
        Ok(Err(e)) => Err(warp::reject::custom(
            BadGateway::upstream("pricing").with_source(e),
        )),
        Err(elapsed) => Err(warp::reject::custom(
            GatewayTimeout::upstream("pricing")
                .with_kind(ProxyError::HttpResponseTimeout)
                .with_source(elapsed),
        )),
    }
}

/// `/search`: the error returned as the reply, a 503 with `Retry-After`.
fn search() -> Result<String, ServiceUnavailable> {
    Err(ServiceUnavailable::upstream("search")
        .with_details("Search is being reindexed.")
        .with_retry_after(Duration::from_secs(30)))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = match std::env::args().nth(1) {
        Some(port) => port.parse()?,
        None => 3002,
    };

    let routes = warp::path!("products" / u32)
        .and_then(product)
        .or(warp::path!("prices").and_then(prices))
        .or(warp::path!("search").map(search));
    let app = gateway_error::warp::handle(routes, Policy::new().with_proxy_name("example-bff"));

    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    println!("listening on http://{}", listener.local_addr()?);
    warp::serve(app).incoming(listener).run().await;
    Ok(())
}
