//! `GatewayErrors` through `actix_web::test`: exact status, headers and
//! bytes, compared with the core renderer for the same request and, for a
//! few, with literal strings.

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{DefaultHeaders, Next, from_fn};
use actix_web::test::{self, TestRequest};
use actix_web::{App, Error, HttpRequest, HttpResponse, ResponseError, web};
use gateway_error::actix::GatewayErrors;
use gateway_error::{
    BadGateway, GatewayError, GatewayTimeout, Policy, ProxyError, RenderContext,
    ServiceUnavailable, render, rerender,
};

/// The source error's text, which must never reach a client.
const SECRET: &str = "connect ECONNREFUSED 10.0.0.7:8080 token=s3cr3t";

const DETAILS_502: &str = "The server received an invalid response from the upstream server while trying to fulfill the request.";

fn source() -> std::io::Error {
    std::io::Error::other(SECRET)
}

fn bad_gateway() -> BadGateway {
    BadGateway::upstream("product-service").with_source(source())
}

fn timeout() -> GatewayError {
    GatewayTimeout::upstream("pricing")
        .with_kind(ProxyError::HttpResponseTimeout)
        .with_source(source())
        .into()
}

fn unavailable() -> ServiceUnavailable {
    ServiceUnavailable::upstream("search")
        .with_retry_after(Duration::from_secs(120))
        .with_source(source())
}

fn policy() -> Policy {
    Policy::new().with_proxy_name("bff")
}

async fn product() -> Result<String, BadGateway> {
    Err(bad_gateway())
}

async fn prices() -> Result<String, GatewayError> {
    Err(timeout())
}

async fn search() -> Result<String, ServiceUnavailable> {
    Err(unavailable())
}

/// `?` from a `BadGateway` into `actix_web::Error`.
async fn via_actix_error() -> Result<HttpResponse, Error> {
    Err(bad_gateway())?;
    Ok(HttpResponse::Ok().finish())
}

/// The error as a `Responder`, not an `Err`.
async fn responder() -> BadGateway {
    bad_gateway()
}

/// An error response the handler adds headers to.
async fn customized() -> HttpResponse {
    let mut res = bad_gateway().error_response();
    let headers = res.headers_mut();
    headers.insert("x-trace".try_into().unwrap(), "t-1".try_into().unwrap());
    headers.append("vary".try_into().unwrap(), "origin".try_into().unwrap());
    res
}

/// A success, echoing the request id the handler sees.
async fn ok(req: HttpRequest) -> HttpResponse {
    let id = req.headers().get("x-request-id").cloned();
    HttpResponse::Ok()
        .insert_header(("x-trace", "t-2"))
        .insert_header(("content-type", "text/plain"))
        .body(id.map(|id| id.as_bytes().to_vec()).unwrap_or_default())
}

fn routes(app: &mut web::ServiceConfig) {
    app.service(web::resource("/product").to(product))
        .service(web::resource("/prices").to(prices))
        .service(web::resource("/search").to(search))
        .service(web::resource("/actix-error").to(via_actix_error))
        .service(web::resource("/responder").to(responder))
        .service(web::resource("/customized").to(customized))
        .service(web::resource("/ok").to(ok));
}

fn app() -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    App::new()
        .wrap(DefaultHeaders::new().add(("x-frame-options", "DENY")))
        .wrap(GatewayErrors::new(policy()))
        .configure(routes)
}

fn bare_app() -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    App::new()
        .wrap(DefaultHeaders::new().add(("x-frame-options", "DENY")))
        .configure(routes)
}

/// A response as plain data: status, every header (sorted by name, values
/// in order) and body.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn body(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| n != name);
        self
    }

    /// Asserts that nothing of the source error reached the client.
    fn assert_no_secret(&self) {
        assert!(!self.body().contains(SECRET), "{}", self.body());
        for (name, value) in &self.headers {
            assert!(!value.contains("ECONNREFUSED"), "{name}: {value}");
        }
    }
}

async fn seen(res: ServiceResponse<impl MessageBody>) -> Seen {
    let status = res.status().as_u16();
    let mut headers: Vec<_> = res
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    let body = test::read_body(res).await.to_vec();
    let seen = Seen {
        status,
        headers,
        body,
    };
    seen.assert_no_secret();
    seen
}

/// What the renderer produces for `err` and this request (with `extra`
/// headers kept from the response), as data, plus the echoed id.
fn rendered(
    err: impl Into<GatewayError>,
    method: http::Method,
    accept: Option<&str>,
    id: &str,
    extra: &[(&str, &str)],
) -> Seen {
    let mut request = http::HeaderMap::new();
    if let Some(accept) = accept {
        request.insert("accept", accept.parse().unwrap());
    }
    let policy = policy();
    let ctx = RenderContext::from_request(&method, &request)
        .with_policy(&policy)
        .with_request_id(id);
    let mut previous = http::HeaderMap::new();
    for (name, value) in extra {
        let name = http::HeaderName::from_bytes(name.as_bytes()).unwrap();
        previous.append(name, value.parse().unwrap());
    }
    let response = rerender(&err.into(), &ctx, previous);
    let mut headers: Vec<_> = response
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    Seen {
        status: response.status().as_u16(),
        headers,
        body: response.body().to_vec(),
    }
}

async fn call(req: TestRequest) -> Seen {
    let app = test::init_service(app()).await;
    seen(test::call_service(&app, req.to_request()).await).await
}

fn get(uri: &str) -> TestRequest {
    TestRequest::get()
        .uri(uri)
        .insert_header(("x-request-id", "req-1"))
}

const FRAME: (&str, &str) = ("x-frame-options", "DENY");

#[actix_web::test]
async fn no_accept_gets_the_json_envelope() {
    let seen = call(get("/product")).await;
    let body = format!(
        r#"{{"error":{{"code":502,"message":"Bad Gateway","details":"{DETAILS_502}","retryable":true,"request_id":"req-1"}}}}"#
    );
    let expected = Seen {
        status: 502,
        headers: vec![
            ("cache-control".into(), "no-store".into()),
            ("content-length".into(), body.len().to_string()),
            ("content-type".into(), "application/json".into()),
            ("proxy-status".into(), "bff".into()),
            ("vary".into(), "accept".into()),
            ("x-content-type-options".into(), "nosniff".into()),
            ("x-frame-options".into(), "DENY".into()),
            ("x-request-id".into(), "req-1".into()),
        ],
        body: body.into_bytes(),
    };
    assert_eq!(seen, expected);
    let from_core = rendered(bad_gateway(), http::Method::GET, None, "req-1", &[FRAME]);
    assert_eq!(seen, from_core);
}

#[actix_web::test]
async fn html_is_negotiated() {
    let seen = call(get("/product").insert_header(("accept", "text/html"))).await;
    assert_eq!(
        seen.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        seen.body()
            .contains("<p class=\"id\"><code>req-1</code></p>\n"),
        "{}",
        seen.body()
    );
    let expected = rendered(
        bad_gateway(),
        http::Method::GET,
        Some("text/html"),
        "req-1",
        &[FRAME],
    );
    assert_eq!(seen, expected);
}

#[actix_web::test]
async fn problem_json_is_negotiated() {
    let seen = call(get("/product").insert_header(("accept", "application/problem+json"))).await;
    let body = format!(
        r##"{{"type":"about:blank","title":"Bad Gateway","status":502,"detail":"{DETAILS_502}","instance":"#req-1","retryable":true,"request_id":"req-1"}}"##
    );
    assert_eq!(seen.body(), body);
    assert_eq!(
        seen.header("content-type"),
        Some("application/problem+json")
    );
    let expected = rendered(
        bad_gateway(),
        http::Method::GET,
        Some("application/problem+json"),
        "req-1",
        &[FRAME],
    );
    assert_eq!(seen, expected);
}

#[actix_web::test]
async fn head_has_get_headers_and_no_body() {
    let head = call(
        TestRequest::default()
            .method(actix_web::http::Method::HEAD)
            .uri("/product")
            .insert_header(("x-request-id", "req-1")),
    )
    .await;
    let get = call(get("/product")).await;
    assert_eq!(head.status, 502);
    assert!(head.body.is_empty());
    assert_eq!(head.headers, get.headers);
    assert_eq!(
        head.header("content-length"),
        Some(get.body.len().to_string().as_str())
    );
    let expected = rendered(bad_gateway(), http::Method::HEAD, None, "req-1", &[FRAME]);
    assert_eq!(head, expected);
}

#[actix_web::test]
async fn retry_safety_follows_the_method() {
    let post = call(
        TestRequest::post()
            .uri("/prices")
            .insert_header(("x-request-id", "req-1")),
    )
    .await;
    let get = call(get("/prices")).await;
    assert_eq!(post.status, 504);
    assert!(
        post.body().contains(r#""retryable":false"#),
        "{}",
        post.body()
    );
    assert!(get.body().contains(r#""retryable":true"#), "{}", get.body());
    assert_eq!(
        post.header("proxy-status"),
        Some("bff;error=http_response_timeout")
    );
    assert_eq!(
        post,
        rendered(timeout(), http::Method::POST, None, "req-1", &[FRAME])
    );
    assert_eq!(
        get,
        rendered(timeout(), http::Method::GET, None, "req-1", &[FRAME])
    );
}

#[actix_web::test]
async fn retry_after_is_sent() {
    let seen = call(get("/search").insert_header(("accept", "text/plain"))).await;
    assert_eq!(seen.status, 503);
    assert_eq!(seen.header("retry-after"), Some("120"));
    assert_eq!(
        seen.body(),
        "503 Service Unavailable\n\
         The service is temporarily unavailable. Please try again later.\n\
         The service expects to accept requests again in 120 seconds.\n\
         Request ID: req-1\n"
    );
    let expected = rendered(
        unavailable(),
        http::Method::GET,
        Some("text/plain"),
        "req-1",
        &[FRAME],
    );
    assert_eq!(seen, expected);
}

fn assert_generated(id: &str) {
    assert_eq!(id.len(), 32, "{id}");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{id}"
    );
}

#[actix_web::test]
async fn a_missing_or_invalid_request_id_is_generated() {
    for req in [
        TestRequest::get().uri("/product"),
        TestRequest::get()
            .uri("/product")
            .insert_header(("x-request-id", "has space")),
        TestRequest::get()
            .uri("/product")
            .insert_header(("x-request-id", "x".repeat(129))),
        TestRequest::get().uri("/product").insert_header((
            "x-request-id",
            actix_web::http::header::HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        )),
    ] {
        let seen = call(req).await;
        let id = seen.header("x-request-id").unwrap().to_owned();
        assert_generated(&id);
        assert!(
            seen.body().contains(&format!(r#""request_id":"{id}""#)),
            "{}",
            seen.body()
        );
        assert_eq!(
            seen,
            rendered(bad_gateway(), http::Method::GET, None, &id, &[FRAME])
        );
    }

    // Handlers see the generated id in the request's headers.
    let seen = call(TestRequest::get().uri("/ok")).await;
    let id = seen.header("x-request-id").unwrap();
    assert_generated(id);
    assert_eq!(seen.body(), id);
}

#[actix_web::test]
async fn other_headers_of_the_response_are_kept() {
    let seen = call(get("/customized").insert_header(("accept", "text/html"))).await;
    let extra = [FRAME, ("x-trace", "t-1"), ("vary", "origin")];
    let expected = rendered(
        bad_gateway(),
        http::Method::GET,
        Some("text/html"),
        "req-1",
        &extra,
    );
    assert_eq!(seen, expected);
    let vary: Vec<_> = seen
        .headers
        .iter()
        .filter(|(n, _)| n == "vary")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(vary, ["accept", "origin"]);
    assert_eq!(seen.header("x-trace"), Some("t-1"));
}

#[actix_web::test]
async fn other_responses_are_untouched_but_for_the_request_id() {
    let with = call(get("/ok")).await;
    let app = test::init_service(bare_app()).await;
    let without = seen(test::call_service(&app, get("/ok").to_request()).await).await;
    assert_eq!(with.header("x-request-id"), Some("req-1"));
    assert_eq!(with.without("x-request-id"), without);
}

#[actix_web::test]
async fn errors_through_actix_error_and_responder_are_rendered() {
    let app = test::init_service(app()).await;
    for uri in ["/actix-error", "/responder"] {
        let req = get(uri)
            .insert_header(("accept", "text/plain"))
            .to_request();
        let res = test::call_service(&app, req).await;
        let kept = res.response().extensions().get::<GatewayError>().cloned();
        assert_eq!(
            kept.map(|e| e.status()),
            Some(http::StatusCode::BAD_GATEWAY)
        );
        if uri == "/actix-error" {
            let error = res
                .response()
                .error()
                .and_then(|e| e.as_error::<BadGateway>());
            assert_eq!(
                error.and_then(BadGateway::upstream_name),
                Some("product-service")
            );
        }
        let expected = rendered(
            bad_gateway(),
            http::Method::GET,
            Some("text/plain"),
            "req-1",
            &[FRAME],
        );
        assert_eq!(seen(res).await, expected, "{uri}");
    }
}

/// A middleware inside `GatewayErrors` that fails as `Err`, as an auth
/// check calling an upstream might.
async fn failing_auth(
    _req: ServiceRequest,
    _next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    Err::<ServiceResponse, _>(BadGateway::upstream("auth").with_source(source()).into())
}

#[actix_web::test]
async fn a_gateway_error_returned_as_err_by_inner_middleware_is_rendered() {
    let app = test::init_service(
        App::new()
            .wrap(from_fn(failing_auth))
            .wrap(GatewayErrors::new(policy()))
            .configure(routes),
    )
    .await;
    let req = get("/ok")
        .insert_header(("accept", "text/html"))
        .to_request();
    let Err(err) = app.call(req).await else {
        panic!("an error passes through as Err");
    };
    let res = err.error_response();
    assert!(res.extensions().get::<GatewayError>().is_some());
    let res = ServiceResponse::new(TestRequest::default().to_http_request(), res);
    let expected = rendered(
        BadGateway::upstream("auth"),
        http::Method::GET,
        Some("text/html"),
        "req-1",
        &[],
    );
    assert_eq!(seen(res).await, expected);
}

#[actix_web::test]
async fn without_the_middleware_errors_render_for_the_default_context() {
    let app = test::init_service(bare_app()).await;
    let req = TestRequest::post()
        .uri("/product")
        .insert_header(("accept", "text/html"))
        .to_request();
    let seen = seen(test::call_service(&app, req).await).await;
    let response = render(&bad_gateway().into(), &RenderContext::new());
    assert_eq!(seen.status, 502);
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(seen.header("x-request-id"), None);
    assert_eq!(seen.header("proxy-status"), None);
    assert_eq!(
        seen.body(),
        format!(r#"{{"error":{{"code":502,"message":"Bad Gateway","details":"{DETAILS_502}"}}}}"#)
    );
    assert_eq!(seen.body, response.body().as_ref());
}

#[actix_web::test]
async fn the_request_id_travels_in_the_policys_header() {
    let name = http::HeaderName::from_static("x-correlation-id");
    let app = test::init_service(
        App::new()
            .wrap(GatewayErrors::new(
                policy().with_request_id_header(name.clone()),
            ))
            .configure(routes),
    )
    .await;
    // An error: the id in the policy's header and the body, not in
    // `x-request-id`.
    let req = TestRequest::get()
        .uri("/product")
        .insert_header(("x-correlation-id", "corr-1"))
        .insert_header(("x-request-id", "other-1"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(
        res.headers().get("x-correlation-id").map(|v| v.as_bytes()),
        Some(&b"corr-1"[..])
    );
    assert!(res.headers().get("x-request-id").is_none());
    let body = test::read_body(res).await;
    assert!(
        std::str::from_utf8(&body)
            .unwrap()
            .contains(r#""request_id":"corr-1""#),
        "{body:?}"
    );
    // A success with no id: a generated one, in the request for the
    // handler... which reads `x-request-id`, so sees none; echoed under the
    // policy's name.
    let res = test::call_service(&app, TestRequest::get().uri("/ok").to_request()).await;
    let id = res
        .headers()
        .get("x-correlation-id")
        .expect("an id")
        .clone();
    assert_generated(id.to_str().unwrap());
    assert!(res.headers().get("x-request-id").is_none());
}
