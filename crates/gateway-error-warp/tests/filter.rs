//! `handle` driven through `warp::test`: exact status, headers
//! and body bytes, compared with the core renderer for the same request.

use std::time::Duration;

use bytes::Bytes;
use gateway_error_core::{
    BadGateway, GatewayError, GatewayTimeout, Policy, ProxyError, RenderContext,
    ServiceUnavailable, render,
};
use gateway_error_warp::handle;
use http::{HeaderMap, HeaderValue, Method, Response};
use warp::{Filter, Rejection, Reply};

const SECRET: &str = "password=hunter2";

fn policy() -> Policy {
    Policy::new().with_proxy_name("bff")
}

fn bad_gateway() -> BadGateway {
    BadGateway::upstream("product-service").with_source(std::io::Error::other(SECRET))
}

fn timeout() -> GatewayTimeout {
    GatewayTimeout::upstream("pricing").with_kind(ProxyError::HttpResponseTimeout)
}

fn unavailable() -> ServiceUnavailable {
    ServiceUnavailable::upstream("search").with_retry_after(Duration::from_secs(30))
}

fn reject(error: impl warp::reject::Reject) -> Result<String, Rejection> {
    Err(warp::reject::custom(error))
}

/// The user's routes, before `handle`.
fn routes() -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let products = warp::path!("products" / u32).and_then(|_| async { reject(bad_gateway()) });
    let replied =
        warp::path!("replied").map(|| warp::reply::with_header(bad_gateway(), "x-trace", "abc"));
    let prices = warp::path!("prices").and_then(|| async { reject(timeout()) });
    let search = warp::path!("search").and_then(|| async { reject(unavailable()) });
    let ok = warp::path!("ok").map(|| "fine");
    let own_id =
        warp::path!("own-id").map(|| warp::reply::with_header("fine", "x-request-id", "mine"));
    let only_get = warp::get().and(warp::path!("only-get")).map(|| "got");
    products
        .or(replied)
        .or(prices)
        .or(search)
        .or(ok)
        .or(own_id)
        .or(only_get)
}

fn app() -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    handle(routes(), policy())
}

async fn send(method: &str, path: &str, headers: &[(&str, &str)]) -> Response<Bytes> {
    let mut request = warp::test::request().method(method).path(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.reply(&app()).await
}

/// What the core renders for this request, plus the echoed request id.
fn expected(
    error: impl Into<GatewayError>,
    method: &Method,
    headers: &[(&str, &str)],
    id: &str,
) -> Response<Bytes> {
    let mut request = HeaderMap::new();
    for (name, value) in headers {
        request.append(
            http::HeaderName::from_bytes(name.as_bytes()).expect("test header name"),
            HeaderValue::from_str(value).expect("test header value"),
        );
    }
    let policy = policy();
    let ctx = RenderContext::from_request(method, &request)
        .with_policy(&policy)
        .with_request_id(id);
    let mut response = render(&error.into(), &ctx);
    response
        .headers_mut()
        .insert("x-request-id", HeaderValue::from_str(id).expect("test id"));
    response
}

fn assert_same(actual: &Response<Bytes>, expected: &Response<Bytes>) {
    assert_eq!(actual.status(), expected.status());
    assert_eq!(actual.headers(), expected.headers());
    assert_eq!(actual.body(), expected.body());
}

fn assert_no_secret(response: &Response<Bytes>) {
    let body = String::from_utf8_lossy(response.body());
    assert!(!body.contains("hunter2"), "{body}");
    assert!(!body.contains("BadGateway"), "{body}");
    for value in response.headers().values() {
        assert!(!String::from_utf8_lossy(value.as_bytes()).contains("hunter2"));
    }
}

#[tokio::test]
async fn rejection_without_accept_is_json() {
    let headers = [("x-request-id", "req-1")];
    let response = send("GET", "/products/7", &headers).await;

    assert_eq!(response.status(), 502);
    let h = response.headers();
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(h["content-length"], response.body().len().to_string());
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["vary"], "accept");
    assert_eq!(h["proxy-status"], "bff");
    assert_eq!(h["x-request-id"], "req-1");
    assert!(h.get("retry-after").is_none());
    assert_eq!(
        response.body().as_ref(),
        br#"{"error":{"code":502,"message":"Bad Gateway","details":"The server received an invalid response from the upstream server while trying to fulfill the request.","retryable":true,"request_id":"req-1"}}"#
    );
    assert_same(
        &response,
        &expected(bad_gateway(), &Method::GET, &headers, "req-1"),
    );
    assert_no_secret(&response);
}

#[tokio::test]
async fn rejection_as_html() {
    let headers = [("accept", "text/html"), ("x-request-id", "req-2")];
    let response = send("GET", "/products/7", &headers).await;

    assert_eq!(response.status(), 502);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    // The page's exact bytes but for its style (which the core's tests
    // check against the policy's hash).
    let body = std::str::from_utf8(response.body()).expect("utf-8");
    let (head, page) = body.split_once("</style>\n").expect("a style");
    assert!(head.starts_with(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n<style>"
    ));
    assert_eq!(
        page,
        "<title>502 Bad Gateway</title>\n</head>\n<body>\n<main>\n<h1>502 Bad Gateway</h1>\n\
         <ol aria-label=\"Where it failed\">\n\
         <li class=\"ok\"><span class=\"n\">You</span><span class=\"s\">Working</span></li>\n\
         <li class=\"ok\"><span class=\"n\">This site</span><span class=\"s\">Working</span></li>\n\
         <li class=\"bad\"><span class=\"n\">A service behind it</span><span class=\"s\">Bad answer</span></li>\n\
         </ol>\n<h2>What happened</h2>\n\
         <p>The service behind this site sent an answer this site could not use.</p>\n\
         <h2>What you can do</h2>\n<p>Try again now: reload this page.</p>\n\
         <h2>What the site&#39;s owner can do</h2>\n\
         <p>Give them this request ID: it lets them find what went wrong.</p>\n\
         <p class=\"id\"><code>req-2</code></p>\n\
         </main>\n</body>\n</html>\n"
    );
    assert_same(
        &response,
        &expected(bad_gateway(), &Method::GET, &headers, "req-2"),
    );
    assert_no_secret(&response);
}

#[tokio::test]
async fn rejection_as_problem_json() {
    let headers = [
        ("accept", "application/problem+json"),
        ("x-request-id", "req-3"),
    ];
    let response = send("GET", "/products/7", &headers).await;

    assert_eq!(response.status(), 502);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(
        response.body().as_ref(),
        br##"{"type":"about:blank","title":"Bad Gateway","status":502,"detail":"The server received an invalid response from the upstream server while trying to fulfill the request.","instance":"#req-3","retryable":true,"request_id":"req-3"}"##
    );
    assert_same(
        &response,
        &expected(bad_gateway(), &Method::GET, &headers, "req-3"),
    );
    assert_no_secret(&response);
}

#[tokio::test]
async fn reply_is_rerendered_keeping_its_other_headers() {
    let headers = [("accept", "text/plain"), ("x-request-id", "req-4")];
    let response = send("GET", "/replied", &headers).await;

    let mut want = expected(bad_gateway(), &Method::GET, &headers, "req-4");
    want.headers_mut()
        .insert("x-trace", HeaderValue::from_static("abc"));
    assert_same(&response, &want);
    assert_eq!(
        response.body().as_ref(),
        b"502 Bad Gateway\nThe server received an invalid response from the upstream server while trying to fulfill the request.\nRequest ID: req-4\n"
    );
    assert!(response.extensions().get::<GatewayError>().is_some());
    assert_no_secret(&response);
}

#[tokio::test]
async fn head_has_no_body_and_gets_content_length() {
    let headers = [("accept", "text/html"), ("x-request-id", "req-5")];
    let get = send("GET", "/products/7", &headers).await;
    let head = send("HEAD", "/products/7", &headers).await;

    assert_eq!(head.status(), 502);
    assert!(head.body().is_empty());
    assert_eq!(
        head.headers()["content-length"],
        get.body().len().to_string()
    );
    assert_eq!(head.headers(), get.headers());
    assert_same(
        &head,
        &expected(bad_gateway(), &Method::HEAD, &headers, "req-5"),
    );
}

#[tokio::test]
async fn timeout_is_retryable_for_get_but_not_post() {
    let headers = [("x-request-id", "req-6")];
    let get = send("GET", "/prices", &headers).await;
    let post = send("POST", "/prices", &headers).await;

    assert_eq!(get.status(), 504);
    assert_eq!(post.status(), 504);
    assert_eq!(
        get.body().as_ref(),
        br#"{"error":{"code":504,"message":"Gateway Timeout","details":"The server did not receive a timely response from the upstream server. The operation might still be processing.","kind":"http_response_timeout","retryable":true,"request_id":"req-6"}}"#
    );
    assert_eq!(
        post.body().as_ref(),
        br#"{"error":{"code":504,"message":"Gateway Timeout","details":"The server did not receive a timely response from the upstream server. The operation might still be processing.","kind":"http_response_timeout","retryable":false,"request_id":"req-6"}}"#
    );
    assert_eq!(
        get.headers()["proxy-status"],
        "bff;error=http_response_timeout"
    );
    assert_same(&get, &expected(timeout(), &Method::GET, &headers, "req-6"));
    assert_same(
        &post,
        &expected(timeout(), &Method::POST, &headers, "req-6"),
    );
}

#[tokio::test]
async fn retry_after_is_sent() {
    let headers = [("x-request-id", "req-7")];
    let response = send("GET", "/search", &headers).await;

    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "30");
    assert_same(
        &response,
        &expected(unavailable(), &Method::GET, &headers, "req-7"),
    );
}

#[tokio::test]
async fn missing_or_invalid_request_id_is_generated() {
    let long = "x".repeat(129);
    for headers in [
        vec![],
        vec![("x-request-id", "has space")],
        vec![("x-request-id", long.as_str())],
    ] {
        let response = send("GET", "/products/7", &headers).await;
        let id = response.headers()["x-request-id"]
            .to_str()
            .expect("ascii id")
            .to_owned();
        assert_eq!(id.len(), 32, "{id}");
        assert!(
            id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "{id}"
        );
        let without_id: Vec<_> = headers
            .iter()
            .copied()
            .filter(|(name, _)| *name != "x-request-id")
            .collect();
        assert_same(
            &response,
            &expected(bad_gateway(), &Method::GET, &without_id, &id),
        );
    }
}

#[tokio::test]
async fn other_replies_pass_through_with_the_request_id() {
    let response = send("GET", "/ok", &[("x-request-id", "req-8")]).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "req-8");
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    assert_eq!(response.body().as_ref(), b"fine");

    let generated = send("GET", "/ok", &[]).await;
    assert_eq!(generated.headers()["x-request-id"].len(), 32);

    let own = send("GET", "/own-id", &[("x-request-id", "req-8")]).await;
    assert_eq!(own.headers()["x-request-id"], "mine");
    assert_eq!(own.headers().get_all("x-request-id").iter().count(), 1);
}

#[tokio::test]
async fn warps_own_rejections_get_warps_answer_with_the_request_id() {
    for (method, path, status) in [("GET", "/nope", 404), ("POST", "/only-get", 405)] {
        let wrapped = send(method, path, &[("x-request-id", "req-404")]).await;
        let bare = warp::test::request()
            .method(method)
            .path(path)
            .reply(&routes())
            .await;

        assert_eq!(wrapped.status(), status);
        assert_eq!(wrapped.status(), bare.status());
        let mut expected = bare.headers().clone();
        expected.insert("x-request-id", "req-404".parse().unwrap());
        assert_eq!(wrapped.headers(), &expected);
        assert_eq!(wrapped.body(), bare.body());
        assert_no_secret(&wrapped);
    }
}

#[tokio::test]
async fn warp_alone_would_show_the_debug_text() {
    // Why `handle` exists: warp's own answer to an unhandled custom rejection.
    let bare = warp::test::request()
        .path("/products/7")
        .reply(&routes())
        .await;
    assert_eq!(bare.status(), 500);
    assert!(String::from_utf8_lossy(bare.body()).contains("hunter2"));

    let wrapped = send("GET", "/products/7", &[]).await;
    assert_eq!(wrapped.status(), 502);
    assert_no_secret(&wrapped);
}
