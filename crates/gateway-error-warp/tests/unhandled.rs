//! Under `handle`, no rejection reaches warp's default answer, which would
//! show its `Debug` text: custom rejections get the canonical 500, warp's
//! own rejections keep warp's standard answers, with the request id. Exact
//! status, headers and bytes.

use bytes::Bytes;
use gateway_error_core::{
    GatewayError, InternalServerError, Policy, RenderContext, ServiceUnavailable, render,
};
use gateway_error_warp::{Handle, handle};
use http::{HeaderMap, HeaderValue, Method, Response};
use warp::{Filter, Rejection, Reply};

/// A request: method, path, header fields, body; and warp's status.
type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str, u16);

/// An application's rejection type wrapping a gateway error, not registered.
#[derive(Debug)]
enum AppError {
    Gateway(GatewayError),
    // Read only through `Debug`, which must not reach the client.
    NotFound {
        #[allow(dead_code)]
        secret: &'static str,
    },
}

impl warp::reject::Reject for AppError {}

/// How the application finds the gateway error in its own type.
fn as_gateway_error(error: &AppError) -> Option<GatewayError> {
    match error {
        AppError::Gateway(error) => Some(error.clone()),
        AppError::NotFound { .. } => None,
    }
}

fn gateway() -> GatewayError {
    ServiceUnavailable::upstream("product-service")
        .with_source(std::io::Error::other("password=hunter2"))
        .into()
}

fn policy() -> Policy {
    Policy::new().with_proxy_name("bff")
}

fn routes() -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let json = warp::post()
        .and(warp::path!("json"))
        .and(warp::body::json())
        .map(|_: u32| "json");
    let header = warp::path!("header")
        .and(warp::header::<u32>("x-number"))
        .map(|_| "header");
    let limited = warp::post()
        .and(warp::path!("limited"))
        .and(warp::body::content_length_limit(4))
        .and(warp::body::bytes())
        .map(|_| "limited");
    custom_routes().or(json).or(header).or(limited)
}

/// The custom routes alone (and a GET route): no route of another method
/// rejects with 405. [`routes`] adds routes that reject as warp does.
fn custom_routes() -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let wrapped = warp::path!("wrapped").and_then(|| async {
        Err::<String, _>(warp::reject::custom(AppError::Gateway(gateway())))
    });
    let own = warp::path!("own").and_then(|| async {
        Err::<String, _>(warp::reject::custom(AppError::NotFound {
            secret: "db-password",
        }))
    });
    let only_get = warp::get().and(warp::path!("only-get")).map(|| "got");
    wrapped.or(own).or(only_get)
}

async fn send(
    app: &(impl Filter<Extract = (impl Reply,), Error = Rejection> + 'static),
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response<Bytes> {
    let mut request = warp::test::request().method(method).path(path).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.reply(app).await
}

/// The canonical 500 for this request, with the echoed id.
fn canonical_500(accept: Option<&str>, id: &str) -> Response<Bytes> {
    expected(InternalServerError::new().into(), accept, id)
}

/// What the core renders for `error` and this GET, with the echoed id.
fn expected(error: GatewayError, accept: Option<&str>, id: &str) -> Response<Bytes> {
    let mut request = HeaderMap::new();
    if let Some(accept) = accept {
        request.insert(
            "accept",
            HeaderValue::from_str(accept).expect("test accept"),
        );
    }
    let policy = policy();
    let ctx = RenderContext::from_request(&Method::GET, &request)
        .with_policy(&policy)
        .with_request_id(id);
    let mut response = render(&error, &ctx);
    response
        .headers_mut()
        .insert("x-request-id", HeaderValue::from_str(id).expect("test id"));
    response
}

fn assert_same(actual: &Response<Bytes>, expected: &Response<Bytes>) {
    assert_eq!(actual.status(), expected.status());
    assert_eq!(actual.headers(), expected.headers());
    assert_eq!(
        String::from_utf8_lossy(actual.body()),
        String::from_utf8_lossy(expected.body())
    );
}

#[tokio::test]
async fn custom_rejections_get_the_canonical_500_without_debug_text() {
    let app = handle(custom_routes(), policy());
    for path in ["/wrapped", "/own"] {
        for accept in [None, Some("text/plain"), Some("text/html")] {
            let headers: Vec<(&str, &str)> = [("x-request-id", "req-9")]
                .into_iter()
                .chain(accept.map(|a| ("accept", a)))
                .collect();
            let response = send(&app, "GET", path, &headers, "").await;
            assert_same(&response, &canonical_500(accept, "req-9"));
            let body = String::from_utf8_lossy(response.body());
            for debug in [
                "Unhandled",
                "Gateway(",
                "product-service",
                "hunter2",
                "NotFound",
                "db-password",
            ] {
                assert!(!body.contains(debug), "{path}: {body}");
            }
        }
    }
    // The JSON body, byte for byte.
    let response = send(&app, "GET", "/wrapped", &[("x-request-id", "req-9")], "").await;
    assert_eq!(
        response.body().as_ref(),
        br#"{"error":{"code":500,"message":"Internal Server Error","details":"The server encountered an internal error while trying to fulfill the request.","retryable":false,"request_id":"req-9"}}"#
    );
}

/// The documented limit: warp keeps which cause of a combined rejection
/// it prefers private, so an unknown custom cause beside a 405 of warp's
/// (from a route of another method) is answered as the 405, with the
/// request id and never the custom cause's `Debug` text. Registered with
/// [`Handle::find`], the type is found and rendered.
#[tokio::test]
async fn an_unknown_custom_rejection_beside_warps_405_is_answered_as_the_405() {
    // `/own` rejects with a custom cause, the POST routes with 405: warp
    // would answer the custom one, with its `Debug` text.
    let bare = send(&routes(), "GET", "/own", &[], "").await;
    assert_eq!(bare.status(), 500);
    assert!(String::from_utf8_lossy(bare.body()).contains("db-password"));
    let app = handle(routes(), policy());
    let response = send(&app, "GET", "/own", &[("x-request-id", "req-3")], "").await;
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["x-request-id"], "req-3");
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    assert_eq!(response.body().as_ref(), b"HTTP method not allowed");
    let known = Handle::new(policy()).find(as_gateway_error).wrap(routes());
    let response = send(&known, "GET", "/wrapped", &[("x-request-id", "req-3")], "").await;
    assert_same(&response, &expected(gateway(), None, "req-3"));
}

#[tokio::test]
async fn warp_alone_shows_the_debug_text_of_custom_rejections() {
    // What `handle` prevents: warp's default answer.
    let bare = send(&routes(), "GET", "/wrapped", &[], "").await;
    assert_eq!(bare.status(), 500);
    let body = String::from_utf8_lossy(bare.body());
    assert!(
        body.starts_with("Unhandled rejection: Gateway(ServiceUnavailable"),
        "{body}"
    );
    assert!(body.contains("product-service"), "{body}");
}

#[tokio::test]
async fn warps_own_rejections_keep_warps_answers() {
    let app = handle(routes(), policy());
    let cases: [Case<'_>; 7] = [
        // warp prefers the 405 of the POST routes to a 404.
        ("GET", "/nope", &[], "", 405),
        ("POST", "/only-get", &[], "", 405),
        (
            "POST",
            "/json",
            &[("content-type", "application/json")],
            "{not json",
            400,
        ),
        ("GET", "/header", &[("x-number", "abc")], "", 400),
        ("GET", "/header", &[], "", 400),
        ("DELETE", "/json", &[], "", 405),
        (
            "POST",
            "/limited",
            &[("content-length", "9")],
            "123456789",
            413,
        ),
    ];
    for (method, path, headers, body, status) in cases {
        let mut with_id = headers.to_vec();
        with_id.push(("x-request-id", "req-6"));
        let wrapped = send(&app, method, path, &with_id, body).await;
        let bare = send(&routes(), method, path, headers, body).await;
        assert_eq!(wrapped.status(), status, "{method} {path}");
        assert_eq!(wrapped.status(), bare.status(), "{method} {path}");
        // warp's answer, and the request id every response carries.
        let mut expected = bare.headers().clone();
        expected.insert("x-request-id", HeaderValue::from_static("req-6"));
        assert_eq!(wrapped.headers(), &expected, "{method} {path}");
        assert_eq!(wrapped.body(), bare.body(), "{method} {path}");
    }
}

#[tokio::test]
async fn registered_application_types_are_rendered_as_their_gateway_error() {
    let app = Handle::new(policy())
        .find(as_gateway_error)
        .wrap(custom_routes());
    for accept in [None, Some("text/plain"), Some("text/html")] {
        let headers: Vec<(&str, &str)> = [("x-request-id", "req-5")]
            .into_iter()
            .chain(accept.map(|a| ("accept", a)))
            .collect();
        let response = send(&app, "GET", "/wrapped", &headers, "").await;
        assert_same(&response, &expected(gateway(), accept, "req-5"));
        assert!(!String::from_utf8_lossy(response.body()).contains("hunter2"));
        // A registered type without a gateway error: the canonical 500.
        let response = send(&app, "GET", "/own", &headers, "").await;
        assert_same(&response, &canonical_500(accept, "req-5"));
    }
    let response = send(&app, "GET", "/wrapped", &[("x-request-id", "req-5")], "").await;
    assert_eq!(
        response.body().as_ref(),
        br#"{"error":{"code":503,"message":"Service Unavailable","details":"The service is temporarily unavailable. Please try again later.","retryable":true,"request_id":"req-5"}}"#
    );
}
