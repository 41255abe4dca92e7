//! The router under test and the expected responses, computed with the core
//! renderer from the same context.

use std::io;

use axum::body::Body;
use axum::http::header::{ACCEPT, SET_COOKIE, VARY};
use axum::http::{HeaderMap, HeaderValue, Method, Request, Response};
use axum::response::AppendHeaders;
use axum::routing::get;
use axum::{BoxError, Router};
use bytes::Bytes;
use gateway_error_axum::GatewayErrorLayer;
use gateway_error_core::{
    BadGateway, GatewayError, GatewayTimeout, Policy, ProxyError, RenderContext, RetryAfter,
    ServiceUnavailable, X_REQUEST_ID, render,
};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// The source error's text, which must never reach a client.
pub(crate) const SECRET: &str = "secret-token-42";

pub(crate) fn policy() -> Policy {
    Policy::new().with_proxy_name("bff")
}

pub(crate) fn bad() -> BadGateway {
    BadGateway::upstream("product-service").with_source(io::Error::other(SECRET))
}

pub(crate) fn timeout() -> GatewayTimeout {
    GatewayTimeout::upstream("pricing")
        .with_kind(ProxyError::HttpResponseTimeout)
        .with_source(io::Error::new(io::ErrorKind::TimedOut, SECRET))
}

pub(crate) fn unavailable() -> ServiceUnavailable {
    ServiceUnavailable::upstream("search")
        .with_retry_after(RetryAfter::from_secs(30))
        .with_source(io::Error::other(SECRET))
}

/// The routes, without the layer.
pub(crate) fn routes() -> Router {
    Router::new()
        .route("/bad", get(|| async { Err::<String, _>(bad()) }))
        .route(
            "/timeout",
            get(|| async { Err::<String, _>(timeout()) })
                .post(|| async { Err::<String, _>(timeout()) }),
        )
        .route(
            "/unavailable",
            get(|| async { Err::<String, _>(unavailable()) }),
        )
        .route(
            "/headers",
            get(|| async {
                let headers =
                    AppendHeaders([(SET_COOKIE, "a=1"), (SET_COOKIE, "b=2"), (VARY, "origin")]);
                (headers, [("x-custom", "kept")], bad())
            }),
        )
        .route("/ok", get(|| async { "hello" }))
        .route(
            "/echo-id",
            get(|headers: HeaderMap| async move {
                headers
                    .get(&X_REQUEST_ID)
                    .and_then(|id| id.to_str().ok())
                    .unwrap_or("none")
                    .to_owned()
            }),
        )
}

/// The app under test: the routes behind the layer.
pub(crate) fn app() -> Router {
    routes().layer(GatewayErrorLayer::new(policy()))
}

/// A request with a method, a path and header fields.
pub(crate) fn request(
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
) -> Result<Request<Body>, BoxError> {
    let mut builder = Request::builder().method(method).uri(uri);
    for &(name, value) in headers {
        builder = builder.header(name, value);
    }
    Ok(builder.body(Body::empty())?)
}

/// Sends `request` through `app` and collects the body.
pub(crate) async fn send(app: Router, request: Request<Body>) -> Result<Response<Bytes>, BoxError> {
    let (parts, body) = app.oneshot(request).await?.into_parts();
    Ok(Response::from_parts(
        parts,
        body.collect().await?.to_bytes(),
    ))
}

/// What the core renders for `error` and this request, plus the echoed id.
pub(crate) fn expected(
    error: impl Into<GatewayError>,
    method: &Method,
    accept: Option<&str>,
    request_id: &str,
) -> Result<Response<Bytes>, BoxError> {
    let mut headers = HeaderMap::new();
    if let Some(accept) = accept {
        headers.insert(ACCEPT, HeaderValue::from_str(accept)?);
    }
    let id = HeaderValue::from_str(request_id)?;
    headers.insert(&X_REQUEST_ID, id.clone());
    let policy = policy();
    let ctx = RenderContext::from_request(method, &headers).with_policy(&policy);
    let mut response = render(&error.into(), &ctx);
    response.headers_mut().insert(&X_REQUEST_ID, id);
    Ok(response)
}

/// Header fields as `(name, value)` pairs, grouped by name in a stable
/// order (values of one name keep theirs).
pub(crate) fn fields(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut fields: Vec<_> = headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    fields
}

/// Asserts that a response is exactly `expected`: status, every header
/// field and every body byte.
pub(crate) fn assert_same(actual: &Response<Bytes>, expected: &Response<Bytes>) {
    assert_eq!(actual.status(), expected.status());
    assert_eq!(fields(actual.headers()), fields(expected.headers()));
    assert_eq!(
        String::from_utf8_lossy(actual.body()),
        String::from_utf8_lossy(expected.body())
    );
}

/// The text of a header, or `""`.
pub(crate) fn header<'a>(response: &'a Response<Bytes>, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Whether `s` is a generated request id: 32 lowercase hex digits.
pub(crate) fn is_generated_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
