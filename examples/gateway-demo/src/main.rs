//! The gateway-error demo: what a client receives for each gateway failure,
//! in each format it may ask for.
//!
//! ```sh
//! cargo run -p gateway-demo
//! ```

use std::io::{self, Write};
use std::time::Duration;

use gateway_error::{
    BadGateway, GatewayError, GatewayTimeout, InternalServerError, Policy, ProxyError,
    RenderContext, ServiceUnavailable, render,
};
use http::{HeaderMap, HeaderValue, Method};

fn main() -> io::Result<()> {
    let policy = Policy::new()
        .with_proxy_name("gateway-demo")
        .with_upstream_names(true);
    let errors: [(&str, GatewayError); 4] = [
        (
            "refused connection",
            BadGateway::upstream("product-service")
                .with_kind(ProxyError::ConnectionRefused)
                .with_source(io::Error::from(io::ErrorKind::ConnectionRefused))
                .into(),
        ),
        (
            "read timeout",
            GatewayTimeout::upstream("pricing-service")
                .with_kind(ProxyError::HttpResponseTimeout)
                .into(),
        ),
        (
            "maintenance",
            ServiceUnavailable::upstream("search-service")
                .with_kind(ProxyError::DestinationUnavailable)
                .with_retry_after(Duration::from_secs(120))
                .into(),
        ),
        (
            "bad configuration",
            InternalServerError::new()
                .with_kind(ProxyError::ProxyConfigurationError)
                .into(),
        ),
    ];
    let accepts = [
        "application/json",
        "application/problem+json",
        "text/html",
        "text/plain",
    ];

    let mut out = io::stdout().lock();
    for (what, err) in &errors {
        for (i, accept) in accepts.iter().enumerate() {
            let mut headers = HeaderMap::new();
            headers.insert(http::header::ACCEPT, HeaderValue::from_static(accept));
            headers.insert("x-request-id", HeaderValue::from_static("demo-1"));
            let method = if i % 2 == 0 {
                Method::GET
            } else {
                Method::POST
            };
            let ctx = RenderContext::from_request(&method, &headers).with_policy(&policy);
            let response = render(err, &ctx);
            writeln!(out, "=== {what}: {method} with Accept: {accept}")?;
            writeln!(out, "HTTP/1.1 {}", response.status())?;
            for (name, value) in response.headers() {
                writeln!(out, "{name}: {}", String::from_utf8_lossy(value.as_bytes()))?;
            }
            writeln!(out)?;
            out.write_all(response.body())?;
            writeln!(out)?;
        }
    }
    Ok(())
}
