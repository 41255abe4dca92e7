//! Request ids with the rest of a tower stack (issue 18, item 2): tower-http's
//! request-id middleware before the one layer gives the request its id, a
//! policy names the header, and a pipeline makes the ids. A real axum server
//! and client on loopback.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use gateway_error::layer::GatewayErrorLayer;
use gateway_error::pipeline::Pipeline;
use gateway_error::{BadGateway, GatewayError, Policy, RequestId};
use http::{HeaderName, HeaderValue};
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, SetRequestIdLayer};

const LIMIT: Duration = Duration::from_secs(10);

/// tower-http's id maker: `th-1`, `th-2`, ...
#[derive(Clone, Default)]
struct Counter(Arc<AtomicU64>);

impl MakeRequestId for Counter {
    fn make_request_id<B>(
        &mut self,
        _: &http::Request<B>,
    ) -> Option<tower_http::request_id::RequestId> {
        let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        let value = HeaderValue::try_from(format!("th-{n}")).ok()?;
        Some(tower_http::request_id::RequestId::new(value))
    }
}

async fn fail(id: RequestId) -> Result<String, GatewayError> {
    Err(BadGateway::upstream("catalog")
        .with_details(format!("seen as {id}"))
        .into())
}

async fn serve(app: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

async fn get_text(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .get(url)
        .header("accept", "text/plain");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    tokio::time::timeout(LIMIT, request.send())
        .await
        .expect("answers in time")
        .expect("a response")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tower_http_s_id_is_the_requests_id_when_it_runs_first() {
    let x_request_id = HeaderName::from_static("x-request-id");
    // axum: the last layer added runs first.
    let app = Router::new()
        .route("/fail", get(fail))
        .layer(GatewayErrorLayer::new(Policy::new()))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, Counter::default()));
    let url = serve(app).await;

    let response = get_text(&format!("{url}/fail"), &[]).await;
    assert_eq!(response.status(), 502);
    assert_eq!(response.headers()["x-request-id"], "th-1");
    assert_eq!(response.headers().get_all("x-request-id").iter().count(), 1);
    let body = response.text().await.expect("a body");
    assert!(body.contains("seen as th-1\n"), "{body}");
    assert!(body.ends_with("Request ID: th-1\n"), "{body}");

    // A client's own id passes through both.
    let response = get_text(&format!("{url}/fail"), &[("x-request-id", "client-7")]).await;
    assert_eq!(response.headers()["x-request-id"], "client-7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_names_the_header_and_a_pipeline_makes_the_ids() {
    let name = HeaderName::from_static("x-correlation-id");
    let next = Arc::new(AtomicU64::new(0));
    let pipeline = Pipeline::new(Policy::new().with_request_id_header(name.clone()))
        .with_make_request_id(move || {
            let n = next.fetch_add(1, Ordering::Relaxed) + 1;
            HeaderValue::try_from(format!("corr-{n}")).ok()
        });
    let app = Router::new()
        .route("/fail", get(fail))
        .layer(GatewayErrorLayer::new(pipeline));
    let url = serve(app).await;

    let response = get_text(&format!("{url}/fail"), &[("x-request-id", "ignored")]).await;
    assert_eq!(response.headers()["x-correlation-id"], "corr-1");
    assert!(response.headers().get("x-request-id").is_none());
    let body = response.text().await.expect("a body");
    assert!(body.contains("seen as corr-1\n"), "{body}");
    assert!(body.ends_with("Request ID: corr-1\n"), "{body}");

    let response = get_text(&format!("{url}/fail"), &[("x-correlation-id", "mine-2")]).await;
    assert_eq!(response.headers()["x-correlation-id"], "mine-2");
}
