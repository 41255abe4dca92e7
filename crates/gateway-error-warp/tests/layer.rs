//! `handle` under the one tower layer (`warp::service` inside
//! `GatewayErrorLayer`), driven as tower drives any service: exact status,
//! headers and body bytes, compared with the core renderer; the request id
//! the layer generates reaches handlers; warp's own rejections keep warp's
//! answers; the pipeline's shortcut changes no byte.

use std::fmt::Debug;

use bytes::Bytes;
use gateway_error_core::pipeline::Pipeline;
use gateway_error_core::{
    BadGateway, GatewayError, InternalServerError, Policy, RenderContext, RequestId, render,
};
use gateway_error_warp::{GatewayErrorLayer, Handle, request_id};
use http::{HeaderMap, HeaderValue, Method, Request, Response};
use http_body_util::{BodyExt as _, Empty};
use tower::{Layer as _, Service, ServiceExt as _};
use warp::{Filter, Rejection, Reply};

fn policy() -> Policy {
    Policy::new().with_proxy_name("bff")
}

fn bad_gateway() -> BadGateway {
    BadGateway::upstream("product-service").with_source(std::io::Error::other("password=hunter2"))
}

/// An application's rejection that carries no gateway error.
#[derive(Debug)]
struct Secret {
    #[allow(dead_code)] // read only through `Debug`, which must not leak
    text: &'static str,
}

impl warp::reject::Reject for Secret {}

fn routes() -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let products = warp::path!("products" / u32)
        .and_then(|_| async { Err::<String, _>(warp::reject::custom(bad_gateway())) });
    let replied = warp::path!("replied").map(bad_gateway);
    let whoami = warp::path!("whoami")
        .and(request_id())
        .map(|id: RequestId| id.to_string());
    // `/hidden` rejects with a custom cause alone; `/secret` too, beside a
    // POST route of the same path (warp's 405 for other methods).
    let custom = || async {
        Err::<String, _>(warp::reject::custom(Secret {
            text: "db-password",
        }))
    };
    let hidden = warp::path!("hidden").and_then(custom);
    let secret = warp::path!("secret").and_then(custom);
    let secret_post = warp::path!("secret").and(warp::post()).map(|| "posted");
    let only_post = warp::path!("only-post").and(warp::post()).map(|| "posted");
    products
        .or(replied)
        .or(whoami)
        .or(hidden)
        .or(secret)
        .or(secret_post)
        .or(only_post)
}

/// The app as users serve it: the layer and `handle` on one pipeline.
fn app(
    pipeline: Pipeline,
) -> impl Service<
    Request<Empty<Bytes>>,
    Response = Response<impl http_body_util::BodyExt<Error = impl Debug>>,
    Error = impl Debug,
> + Clone {
    GatewayErrorLayer::new(pipeline.clone())
        .layer(warp::service(Handle::new(pipeline).wrap(routes())))
}

async fn send(
    render_in_handler: bool,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Response<Bytes> {
    let pipeline = Pipeline::new(policy()).with_render_in_handler(render_in_handler);
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Empty::new()).expect("a test request");
    let response = app(pipeline).oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("a complete body").to_bytes();
    Response::from_parts(parts, body)
}

/// What the core renders for this request, with the echoed request id.
fn expected(
    error: impl Into<GatewayError>,
    method: &Method,
    accept: &str,
    id: &str,
) -> Response<Bytes> {
    let mut request = HeaderMap::new();
    request.insert(
        "accept",
        HeaderValue::from_str(accept).expect("test accept"),
    );
    let policy = policy();
    let ctx = RenderContext::from_request(method, &request)
        .with_policy(&policy)
        .with_request_id(id);
    render(&error.into(), &ctx)
}

fn assert_same(actual: &Response<Bytes>, expected: &Response<Bytes>) {
    assert_eq!(actual.status(), expected.status());
    assert_eq!(actual.headers(), expected.headers());
    assert_eq!(
        String::from_utf8_lossy(actual.body()),
        String::from_utf8_lossy(expected.body())
    );
}

fn generated(response: &Response<Bytes>) -> String {
    let id = response.headers()["x-request-id"].to_str().expect("ascii");
    assert_eq!(response.headers().get_all("x-request-id").iter().count(), 1);
    assert!(
        id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "{id}"
    );
    id.to_owned()
}

#[tokio::test]
async fn errors_are_the_renderers_bytes_with_the_shortcut_on_and_off() {
    for shortcut in [true, false] {
        for (method, path) in [
            ("GET", "/products/7"),
            ("HEAD", "/products/7"),
            ("POST", "/products/7"),
            ("GET", "/replied"),
        ] {
            for accept in [
                "application/json",
                "application/problem+json",
                "text/html",
                "text/plain",
            ] {
                let headers = [("accept", accept), ("x-request-id", "req-1")];
                let response = send(shortcut, method, path, &headers).await;
                let method = Method::from_bytes(method.as_bytes()).expect("a method");
                assert_same(
                    &response,
                    &expected(bad_gateway(), &method, accept, "req-1"),
                );
                assert!(!String::from_utf8_lossy(response.body()).contains("hunter2"));
            }
        }
        // A generated id: the same in the header and the body.
        let response = send(shortcut, "GET", "/products/7", &[("accept", "text/plain")]).await;
        let id = generated(&response);
        assert_same(
            &response,
            &expected(bad_gateway(), &Method::GET, "text/plain", &id),
        );
    }
}

#[tokio::test]
async fn handlers_read_the_id_the_layer_generates() {
    for shortcut in [true, false] {
        let sent = send(shortcut, "GET", "/whoami", &[("x-request-id", "req-2")]).await;
        assert_eq!(sent.body().as_ref(), b"req-2");
        assert_eq!(sent.headers()["x-request-id"], "req-2");
        for headers in [&[][..], &[("x-request-id", "not valid")][..]] {
            let response = send(shortcut, "GET", "/whoami", headers).await;
            assert_eq!(response.status(), 200);
            let id = generated(&response);
            assert_eq!(response.body().as_ref(), id.as_bytes());
        }
    }
}

#[tokio::test]
async fn warps_own_rejections_keep_warps_answers_with_the_layers_id() {
    for shortcut in [true, false] {
        // A bare 404 goes on to warp, which answers it; the layer echoes.
        for (method, path, status) in [("GET", "/nope", 404), ("GET", "/only-post", 405)] {
            let response = send(shortcut, method, path, &[("x-request-id", "req-3")]).await;
            let bare = warp::test::request()
                .method(method)
                .path(path)
                .reply(&routes())
                .await;
            assert_eq!(response.status(), status);
            assert_eq!(response.status(), bare.status());
            let mut want = bare.headers().clone();
            want.insert("x-request-id", HeaderValue::from_static("req-3"));
            assert_eq!(response.headers(), &want, "{method} {path}");
            assert_eq!(response.body(), bare.body(), "{method} {path}");
        }
    }
}

#[tokio::test]
async fn custom_rejections_never_reach_warps_debug_answer() {
    for shortcut in [true, false] {
        let headers = [("accept", "text/plain"), ("x-request-id", "req-4")];
        let response = send(shortcut, "GET", "/hidden", &headers).await;
        assert_same(
            &response,
            &expected(
                InternalServerError::new(),
                &Method::GET,
                "text/plain",
                "req-4",
            ),
        );
        assert!(!String::from_utf8_lossy(response.body()).contains("db-password"));
        // Beside warp's 405: warp would answer the custom cause, with its
        // `Debug` text; `handle` answers the 405.
        let bare = warp::test::request().path("/secret").reply(&routes()).await;
        assert_eq!(bare.status(), 500);
        assert!(String::from_utf8_lossy(bare.body()).contains("db-password"));
        let response = send(shortcut, "GET", "/secret", &headers).await;
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()["x-request-id"], "req-4");
        assert_eq!(response.body().as_ref(), b"HTTP method not allowed");
    }
}
