//! A bare hyper 1 server whose gateway errors go through an adapter written
//! with gateway-error's public pipeline alone: it starts on 127.0.0.1, sends
//! itself a few requests over loopback, prints the responses and exits.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::time::timeout;

/// Each request, and the shutdown, are bounded by this.
const LIMIT: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(example_hyper::serve(listener, stopped));
    println!("serving on http://{addr}\n");

    for head in [
        "GET /products/7 HTTP/1.1\r\naccept: text/html\r\nx-request-id: demo-1",
        "GET /products/7 HTTP/1.1\r\naccept: application/problem+json",
        "HEAD /products/7 HTTP/1.1\r\nx-request-id: demo-2",
        "GET /health HTTP/1.1\r\nx-request-id: demo-3",
    ] {
        println!("> {}", head.replace("\r\n", "\n> "));
        let response = timeout(LIMIT, example_hyper::send(addr, head)).await??;
        println!("{}\n", response.replace("\r\n", "\n"));
    }

    let _ = stop.send(());
    timeout(LIMIT, server).await???;
    Ok(())
}
