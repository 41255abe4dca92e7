//! The gateway in front of the upstreams: axum, a real HTTP client with
//! timeouts, and gateway-error as a user would use it.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gateway_error::axum::GatewayErrorLayer;
use gateway_error::{BadGateway, GatewayError, Policy, ResponseExt, ResultExt};
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method};

use crate::upstreams::{Scenario, Upstreams};

/// The gateway's name in `Proxy-Status`.
pub const NAME: &str = "gateway-demo";
/// The name the gateway gives every upstream in its errors.
pub const UPSTREAM: &str = "product-service";
/// How long the gateway waits to connect to an upstream.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long the gateway waits for a whole upstream response.
pub const TIMEOUT: Duration = Duration::from_secs(1);
/// The largest upstream body the gateway buffers.
pub const MAX_BODY: usize = 1024 * 1024;

/// The policy the demo runs with: it is a proxy, and shows upstream names.
#[must_use]
pub fn policy() -> Policy {
    Policy::new()
        .with_proxy_name(NAME)
        .with_upstream_names(true)
}

/// The gateway's HTTP client: bounded connect and total timeouts, no
/// redirects, no proxies from the environment.
///
/// # Errors
///
/// When the client cannot be built.
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
}

struct Gateway {
    upstreams: Upstreams,
    client: reqwest::Client,
}

/// The gateway's routes: `GET` and `POST /upstream/{scenario}`, and
/// `/products/{id}` (the `ok` upstream has only product 42).
pub fn router(upstreams: Upstreams, client: reqwest::Client) -> Router {
    let state = Arc::new(Gateway { upstreams, client });
    Router::new()
        .route("/upstream/{scenario}", get(forward).post(forward))
        .route("/products/{id}", get(product).post(product))
        .with_state(state)
        .layer(GatewayErrorLayer::new(policy()))
}

/// Forwards the request to the scenario's upstream and answers with its
/// response, or with the gateway error its failure stands for.
async fn forward(
    State(gateway): State<Arc<Gateway>>,
    Path(scenario): Path<String>,
    method: Method,
) -> Result<Response, GatewayError> {
    let Some(scenario) = Scenario::from_name(&scenario) else {
        return Err(BadGateway::upstream(UPSTREAM)
            .with_details("No such upstream scenario.")
            .into());
    };
    let addr = gateway.upstreams.addr(scenario);
    let url = format!("http://{addr}/products/42");
    let next_hop = addr.to_string();
    let failed = |e: reqwest::Error| {
        GatewayError::from_upstream_error(UPSTREAM, e).with_next_hop(next_hop.clone())
    };

    let mut response = gateway
        .client
        .request(method, &url)
        .send()
        .await
        .map_err(failed)?;
    let status = response.status();
    if status.is_server_error() {
        return Err(
            GatewayError::from_upstream_response(UPSTREAM, status, response.headers())
                .with_next_hop(next_hop.clone()),
        );
    }
    let content_type = response.headers().get(CONTENT_TYPE).cloned();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(GatewayError::from_kind(
                UPSTREAM,
                gateway_error::ProxyError::HttpResponseBodySize,
            )
            .with_next_hop(next_hop));
        }
        body.extend_from_slice(&chunk);
    }
    let mut ok = (status, Bytes::from(body)).into_response();
    if let Some(content_type) = content_type {
        ok.headers_mut().insert(CONTENT_TYPE, content_type);
    } else {
        ok.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
    }
    Ok(ok)
}

/// Asks the `ok` upstream for a product, as a page that needs it would:
/// any error answer of the upstream, its 404 for an unknown product too,
/// becomes a gateway error (a 502 that a retry cannot change).
async fn product(
    State(gateway): State<Arc<Gateway>>,
    Path(id): Path<u32>,
    method: Method,
) -> Result<Response, GatewayError> {
    let addr = gateway.upstreams.addr(Scenario::Ok);
    let response = gateway
        .client
        .request(method, format!("http://{addr}/products/{id}"))
        .send()
        .await
        .upstream(UPSTREAM)?
        .error_for_upstream_status(UPSTREAM)?;
    let body = response.bytes().await.upstream(UPSTREAM)?;
    Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
}
