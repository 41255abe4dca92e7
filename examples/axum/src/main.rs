//! gateway-error with axum 0.8: a server on 127.0.0.1 whose upstreams fail.
//!
//! ```sh
//! cargo run -p example-axum             # listens on 127.0.0.1:3000
//! cargo run -p example-axum -- 8080     # or on another port
//!
//! curl -i -H 'accept: text/html' http://127.0.0.1:3000/products/7
//! curl -i -X POST http://127.0.0.1:3000/quotes    # 504 after 1 s, "retryable":false
//! curl -i http://127.0.0.1:3000/search             # 503, Retry-After: 30
//! curl http://127.0.0.1:3000/openapi.json           # the OpenAPI document
//! ```

use std::error::Error;
use std::io;
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::Path;
use axum::http::header::CONTENT_TYPE;
use axum::routing::{MethodRouter, get};
use gateway_error::axum::{GatewayErrorLayer, handle_error};
use gateway_error::{BadGateway, GatewayTimeout, Policy, ProxyError, ServiceUnavailable};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower::timeout::TimeoutLayer;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(3000), |p| p.parse())?;

    let app = Router::new()
        .route("/products/{id}", get(product))
        .route(
            "/quotes",
            get(quote).post(quote).layer(
                // The upstream gets 1 s; then clients get a 504, not a 408.
                ServiceBuilder::new()
                    .layer(HandleErrorLayer::new(handle_error))
                    .layer(TimeoutLayer::new(Duration::from_secs(1))),
            ),
        )
        .route("/search", get(search))
        .route("/openapi.json", openapi_route()?)
        // Last, so that it sees every error: negotiation, HEAD, request ids,
        // retry-safety, and Proxy-Status under this gateway's name.
        .layer(GatewayErrorLayer::new(
            Policy::new().with_proxy_name("example-bff"),
        ));

    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

/// The user story: an upstream call fails, and the handler says which.
async fn product(Path(id): Path<u32>) -> Result<String, BadGateway> {
    let product = fetch_product(id).await.map_err(|e| {
        BadGateway::upstream("product-service")
            .with_kind(ProxyError::ConnectionRefused)
            .with_source(e)
    })?;
    Ok(product)
}

/// A stand-in for an HTTP client whose upstream is down. Its error text is
/// logged, never sent.
async fn fetch_product(id: u32) -> io::Result<String> {
    Err(io::Error::new(
        io::ErrorKind::ConnectionRefused,
        format!("GET /products/{id}: connect to 10.0.3.7:8080 refused"),
    ))
}

/// An upstream slower than the route's timeout.
async fn quote() -> &'static str {
    tokio::time::sleep(Duration::from_secs(5)).await;
    "too late"
}

/// A dependency in maintenance, with a retry hint.
async fn search() -> Result<String, ServiceUnavailable> {
    Err(ServiceUnavailable::upstream("search")
        .with_kind(ProxyError::DestinationUnavailable)
        .with_retry_after(Duration::from_secs(30)))
}

// ---------------------------------------------------------------------------
// OpenAPI (feature `utoipa` of gateway-error): each route's error responses
// come from its error type's `IntoResponses`, rendered by the real renderer.
// ---------------------------------------------------------------------------

/// The OpenAPI document of the routes above.
fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::IntoResponses;
    use utoipa::openapi::path::{
        HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
    };
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    use utoipa::openapi::{
        Content, Info, OpenApi, PathsBuilder, Required, ResponseBuilder, ResponsesBuilder,
    };

    /// A text answer, or the responses of the error type `E`.
    fn operation<E: IntoResponses>(summary: &str) -> OperationBuilder {
        let ok = ResponseBuilder::new().description("OK").content(
            "text/plain",
            Content::new(Some(ObjectBuilder::new().schema_type(Type::String))),
        );
        OperationBuilder::new().summary(Some(summary)).responses(
            ResponsesBuilder::new()
                .response("200", ok)
                .responses_from_into_responses::<E>(),
        )
    }
    let id = ParameterBuilder::new()
        .name("id")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)));
    let paths = PathsBuilder::new()
        .path(
            "/products/{id}",
            PathItem::new(
                HttpMethod::Get,
                operation::<BadGateway>("A product").parameter(id),
            ),
        )
        .path(
            "/quotes",
            PathItem::from_http_methods(
                [HttpMethod::Get, HttpMethod::Post],
                operation::<GatewayTimeout>("A quote, within 1 s"),
            ),
        )
        .path(
            "/search",
            PathItem::new(HttpMethod::Get, operation::<ServiceUnavailable>("Search")),
        );
    OpenApi::new(Info::new("example-axum", env!("CARGO_PKG_VERSION")), paths)
}

/// `GET /openapi.json`: the document, serialized once.
fn openapi_route() -> Result<MethodRouter, Box<dyn Error>> {
    let json = openapi().to_json()?;
    Ok(get(move || {
        let json = json.clone();
        async move { ([(CONTENT_TYPE, "application/json")], json) }
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_lists_each_routes_error_statuses() {
        let doc = serde_json::to_value(super::openapi()).expect("serializes");
        let statuses = |path: &str, method: &str| -> Vec<String> {
            doc["paths"][path][method]["responses"]
                .as_object()
                .map(|r| r.keys().cloned().collect())
                .unwrap_or_default()
        };
        assert_eq!(statuses("/products/{id}", "get"), ["200", "502"]);
        assert_eq!(statuses("/quotes", "post"), ["200", "504"]);
        assert_eq!(statuses("/search", "get"), ["200", "503"]);
        let media: Vec<&String> = doc["paths"]["/search"]["get"]["responses"]["503"]["content"]
            .as_object()
            .map(|c| c.keys().collect())
            .unwrap_or_default();
        assert_eq!(
            media,
            [
                "application/json",
                "application/problem+json",
                "text/html",
                "text/plain"
            ]
        );
    }
}
