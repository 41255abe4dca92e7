//! Pipeline conformance: the core pipeline's promises, checked per
//! framework (axum, actix-web, and warp under the one tower layer) over
//! real loopback sockets with the same routes and the same assertions in
//! all three.
//!
//! - the request id rule: a valid `x-request-id` is echoed on errors, 404s
//!   and successes; an absent or invalid one is replaced by a generated id
//!   (32 lowercase hex) that handlers read and clients get; a handler's own
//!   `x-request-id` wins on a success; an error's own id wins in its body
//!   and header;
//! - a middleware between handler and adapter sees the final response, and
//!   one that rebuilds the response still leaves the client a complete one;
//! - one observer event per error response, `rendered_again` only for an
//!   error rendered outside the request (a spawned task);
//! - nested adapters: the inner policy renders, the outer id is the one
//!   id, the outer adapter reports once;
//! - a re-rendered error is well framed: every field that framed or
//!   described the handler's body is gone, whatever the handler set, and
//!   the fields about the exchange stay.
//!
//! Error responses are compared field by field and byte by byte with
//! `gateway_error::render` of the same error for the same request. Every
//! request goes over a raw socket (`connection: close`, read to EOF), so
//! each field line is seen as sent.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use gateway_error::pipeline::{ErrorEvent, Pipeline};
use gateway_error::{
    BadGateway, GatewayError, InternalServerError, Policy, ProxyError, RenderContext, render,
};
use http::{HeaderValue, Method, Response};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::timeout;

#[path = "support/servers.rs"]
mod harness;

use harness::{BoxError, Running};

/// Each request (connect, send, read to EOF); the harness bounds each server
/// start and stop.
const LIMIT: Duration = Duration::from_secs(10);
/// One test: server up, every request, server down.
const TEST_LIMIT: Duration = Duration::from_secs(60);

/// Fields the frameworks add themselves, left out of comparisons.
const EXCLUDED: [&str; 4] = ["date", "server", "connection", "keep-alive"];

const PROBLEM: &str = "application/problem+json";
const HTML: &str = "text/html";
const TEXT: &str = "text/plain";

// ---------------------------------------------------------------------------
// What every app serves, and what it must answer.

/// The outer adapter's policy.
fn outer_policy() -> Policy {
    Policy::new().with_proxy_name("outer")
}

/// The policy of the adapter nested under `/nested`.
fn inner_policy() -> Policy {
    Policy::new().with_proxy_name("inner")
}

/// The error of `/fail` and the middleware routes.
fn upstream_error() -> BadGateway {
    BadGateway::upstream("orders")
        .with_kind(ProxyError::ConnectionRefused)
        .with_source(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "orders.internal:8443 refused",
        ))
}

/// The error of `/error-id`: it carries its own request id.
fn error_with_own_id() -> BadGateway {
    BadGateway::upstream("orders").with_request_id("error-id-7")
}

/// A success's own `x-request-id`.
const HANDLER_ID: &str = "handler-id-1";

/// The error of `/stale`: it may have been processed, and carries a retry
/// hint, so its response has `Retry-After` too.
fn stale_error() -> BadGateway {
    upstream_error()
        .with_kind(ProxyError::ConnectionTerminated)
        .with_retry_after(Duration::from_secs(5))
}

/// Fields that framed or described a handler's body, set on `/stale`'s
/// error reply: the re-render must drop every one.
const STALE: [(&str, &str); 14] = [
    ("transfer-encoding", "chunked"),
    ("content-encoding", "gzip"),
    ("content-range", "bytes 0-9/10"),
    ("content-language", "de"),
    ("content-location", "/products/7.json"),
    (
        "content-disposition",
        "attachment; filename=\"product.json\"",
    ),
    ("etag", "\"v1\""),
    ("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT"),
    (
        "content-digest",
        "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:",
    ),
    (
        "repr-digest",
        "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:",
    ),
    (
        "digest",
        "SHA-256=RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=",
    ),
    ("content-md5", "Q2hlY2sgSW50ZWdyaXR5IQ=="),
    ("trailer", "content-digest"),
    ("x-content-type-options", "nosniff"),
];

/// Fields about the resource or the exchange, set beside them: kept.
const KEPT: [(&str, &str); 2] = [("accept-ranges", "bytes"), ("x-trace", "t-1")];

/// `STALE` and `KEPT` as the `http` fields a handler sets.
fn handler_fields() -> http::HeaderMap {
    STALE
        .iter()
        .chain(&KEPT)
        .map(|&(name, value)| {
            (
                http::HeaderName::from_static(name),
                HeaderValue::from_static(value),
            )
        })
        .collect()
}

/// What an observer saw of one error.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    status: u16,
    error_type: &'static str,
    method: String,
    request_id: String,
    rendered_again: bool,
}

/// What a middleware between handler and adapter saw.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Recorded {
    status: u16,
    fields: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// Shared between a test and its server.
#[derive(Default)]
struct Probe {
    outer: Mutex<Vec<Seen>>,
    inner: Mutex<Vec<Seen>>,
    recorded: Mutex<Vec<Recorded>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Probe {
    fn outer(&self) -> Vec<Seen> {
        lock(&self.outer).clone()
    }
    fn inner(&self) -> Vec<Seen> {
        lock(&self.inner).clone()
    }
    fn recorded(&self) -> Vec<Recorded> {
        lock(&self.recorded).clone()
    }
    fn record(&self, status: u16, fields: Vec<(String, Vec<u8>)>, body: &[u8]) {
        lock(&self.recorded).push(Recorded {
            status,
            fields,
            body: body.to_vec(),
        });
    }
}

#[derive(Clone, Copy)]
enum Side {
    Outer,
    Inner,
}

/// An `OnError` observer appending to the probe's `side` list.
fn observer(
    probe: &Arc<Probe>,
    side: Side,
) -> impl Fn(&ErrorEvent<'_>) + Send + Sync + 'static + use<> {
    let probe = Arc::clone(probe);
    move |event: &ErrorEvent<'_>| {
        let seen = Seen {
            status: event.status().as_u16(),
            error_type: event.error_type(),
            method: event.method().to_string(),
            request_id: event.request_id().to_string(),
            rendered_again: event.rendered_again(),
        };
        match side {
            Side::Outer => lock(&probe.outer).push(seen),
            Side::Inner => lock(&probe.inner).push(seen),
        }
    }
}

/// The response `render` gives for `error` and this request.
fn expected(
    error: impl Into<GatewayError>,
    policy: &Policy,
    method: &Method,
    accept: &str,
    id: &str,
) -> Response<Bytes> {
    let accept = [HeaderValue::from_str(accept).expect("a valid Accept")];
    let ctx = RenderContext::new()
        .with_accept_values(&accept)
        .with_method(method)
        .with_request_id(id)
        .with_policy(policy);
    render(&error.into(), &ctx)
}

// ---------------------------------------------------------------------------
// The client: raw sockets.

/// A response as received: field names lowercase, in wire order.
#[derive(Debug)]
struct Got {
    status: u16,
    fields: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Got {
    fn values(&self, name: &str) -> Vec<&[u8]> {
        self.fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
            .collect()
    }

    /// The one value of `name`; fails unless there is exactly one line.
    fn one(&self, name: &str) -> &str {
        let values = self.values(name);
        assert_eq!(
            values.len(),
            1,
            "exactly one {name} field line expected: {self:?}"
        );
        std::str::from_utf8(values[0]).expect("a visible-ASCII value")
    }

    fn request_id(&self) -> &str {
        self.one("x-request-id")
    }

    /// Fields but the excluded ones, sorted (values of one name in order).
    fn compared_fields(&self) -> Vec<(String, Vec<u8>)> {
        comparable(self.fields.iter().cloned())
    }

    fn body_str(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }

    /// Status, `Content-Length` matching the body (GET) and no other
    /// framing.
    fn assert_complete(&self, method: &Method) {
        assert!(self.values("transfer-encoding").is_empty(), "{self:?}");
        let length: usize = self.one("content-length").parse().expect("a length");
        if method == Method::HEAD {
            assert!(self.body.is_empty(), "HEAD has no body: {self:?}");
        } else {
            assert_eq!(length, self.body.len(), "{self:?}");
        }
    }

    /// The same status, fields (but the excluded ones) and body as `want`.
    fn assert_is(&self, want: &Response<Bytes>) {
        assert_eq!(self.status, want.status().as_u16(), "status of {self:?}");
        let want_fields = comparable(
            want.headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec())),
        );
        assert_eq!(
            show(&self.compared_fields()),
            show(&want_fields),
            "fields of {self:?}"
        );
        assert_eq!(
            String::from_utf8_lossy(&self.body),
            String::from_utf8_lossy(want.body()),
            "body"
        );
    }
}

fn comparable(fields: impl Iterator<Item = (String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
    let mut fields: Vec<_> = fields
        .filter(|(n, _)| !EXCLUDED.contains(&n.as_str()))
        .collect();
    // Stable: values of one name keep their order.
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    fields
}

fn show(fields: &[(String, Vec<u8>)]) -> Vec<String> {
    fields
        .iter()
        .map(|(n, v)| format!("{n}: {}", String::from_utf8_lossy(v)))
        .collect()
}

/// A request id the server generated: 32 lowercase hex digits.
fn assert_generated(id: &str) {
    assert!(
        id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "a generated id (32 lowercase hex) expected, got {id:?}"
    );
}

/// One request on its own connection, `connection: close`, read to EOF.
async fn send(addr: SocketAddr, method: &Method, path: &str, fields: &[(&str, &str)]) -> Got {
    match timeout(LIMIT, send_raw(addr, method, path, fields)).await {
        Ok(Ok(got)) => got,
        Ok(Err(err)) => panic!("{method} {path}: {err}"),
        Err(_) => panic!("{method} {path}: no response within {LIMIT:?}"),
    }
}

async fn send_raw(
    addr: SocketAddr,
    method: &Method,
    path: &str,
    fields: &[(&str, &str)],
) -> Result<Got, BoxError> {
    let mut request = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\n");
    for (name, value) in fields {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("connection: close\r\n\r\n");
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let response = gateway_error_tests::wire::parse_response(&raw)?;
    Ok(Got {
        status: response.status,
        fields: response.fields,
        body: response.body,
    })
}

// ---------------------------------------------------------------------------
// The servers: the same routes in each framework.
//
// /fail        Err(upstream_error())
// /ok          200 "ok"
// /whoami      200, the request id the handler reads
// /own-id      200 "mine" with the handler's own x-request-id
// /error-id    Err(error_with_own_id())
// /spawned     upstream_error() made a response in a spawned task, returned
// /reply       upstream_error() returned as the handler's response (Ok)
// /mw/record   /fail behind a middleware recording the response it sees
// /mw/rebuild  /fail behind a middleware rebuilding the response from its
//              status, fields and body (extensions dropped)
// /mw/bare     /fail behind a middleware rebuilding it as (status, body)
// /nested/fail, /nested/whoami   under a nested adapter (policy "inner")
// /stale       stale_error()'s reply with STALE and KEPT set on it

#[derive(Clone, Copy, Debug)]
enum Framework {
    Axum,
    Actix,
    Warp,
}

/// Starts `framework`'s app on the conformance suites' shared harness.
async fn start(framework: Framework, probe: &Arc<Probe>) -> Running {
    let probe = Arc::clone(probe);
    let started = match framework {
        Framework::Axum => harness::axum(axum_server::app(&probe)).await,
        Framework::Actix => {
            harness::actix("pipeline-actix", move || {
                actix_server::app(Arc::clone(&probe))
            })
            .await
        }
        Framework::Warp => {
            let (pipeline, app) = warp_server::app(&probe);
            harness::warp_layered(pipeline, app).await
        }
    };
    started.unwrap_or_else(|err| panic!("{framework:?}: could not start: {err}"))
}

/// Runs `check` against a fresh server of `framework`, bounded in time.
async fn run<F, Fut>(framework: Framework, check: F)
where
    F: FnOnce(SocketAddr, Arc<Probe>) -> Fut,
    Fut: Future<Output = ()>,
{
    let probe = Arc::new(Probe::default());
    let server = start(framework, &probe).await;
    let addr = server.addr();
    if timeout(TEST_LIMIT, check(addr, probe)).await.is_err() {
        panic!("{framework:?}: the checks did not finish within {TEST_LIMIT:?}");
    }
    if let Err(problem) = server.stop().await {
        panic!("{framework:?}: the server did not stop cleanly: {problem}");
    }
}

mod axum_server {
    use axum::Router;
    use axum::body::{Body, to_bytes};
    use axum::extract::State;
    use axum::middleware::{map_response, map_response_with_state};
    use axum::response::{IntoResponse as _, Response};
    use axum::routing::get;
    use gateway_error::RequestId;
    use gateway_error::axum::GatewayErrorLayer;

    use super::*;

    async fn fail() -> Result<String, BadGateway> {
        Err(upstream_error())
    }

    async fn whoami(id: RequestId) -> String {
        id.to_string()
    }

    /// The error becomes a response in a task of its own: no request
    /// context is current there.
    async fn spawned() -> Response {
        tokio::spawn(async { upstream_error().into_response() })
            .await
            .unwrap_or_else(|_| http::StatusCode::INTERNAL_SERVER_ERROR.into_response())
    }

    async fn record(State(probe): State<Arc<Probe>>, response: Response) -> Response {
        let (parts, body) = response.into_parts();
        let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
        let fields = parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect();
        probe.record(parts.status.as_u16(), fields, &bytes);
        Response::from_parts(parts, Body::from(bytes))
    }

    async fn rebuild(response: Response) -> Response {
        let (parts, body) = response.into_parts();
        (parts.status, parts.headers, body).into_response()
    }

    async fn bare(response: Response) -> Response {
        let (parts, body) = response.into_parts();
        (parts.status, body).into_response()
    }

    pub(super) fn app(probe: &Arc<Probe>) -> Router {
        let inner = Router::new()
            .route("/fail", get(fail))
            .route("/whoami", get(whoami))
            .layer(GatewayErrorLayer::new(
                Pipeline::new(inner_policy()).on_error(observer(probe, Side::Inner)),
            ));
        Router::new()
            .route("/fail", get(fail))
            .route("/ok", get(|| async { "ok" }))
            .route("/whoami", get(whoami))
            .route(
                "/own-id",
                get(|| async { ([("x-request-id", HANDLER_ID)], "mine") }),
            )
            .route(
                "/error-id",
                get(|| async { Err::<String, _>(error_with_own_id()) }),
            )
            .route("/spawned", get(spawned))
            .route("/reply", get(|| async { upstream_error() }))
            .route(
                "/stale",
                get(|| async { (handler_fields(), stale_error()) }),
            )
            .merge(
                Router::new()
                    .route("/mw/record", get(fail))
                    .layer(map_response_with_state(Arc::clone(probe), record)),
            )
            .merge(
                Router::new()
                    .route("/mw/rebuild", get(fail))
                    .layer(map_response(rebuild)),
            )
            .merge(
                Router::new()
                    .route("/mw/bare", get(fail))
                    .layer(map_response(bare)),
            )
            .nest("/nested", inner)
            .layer(GatewayErrorLayer::new(
                Pipeline::new(outer_policy()).on_error(observer(probe, Side::Outer)),
            ))
    }
}

mod actix_server {
    use actix_web::body::{BoxBody, to_bytes};
    use actix_web::dev::{Service as _, ServiceRequest, ServiceResponse};
    use actix_web::{App, HttpResponse, ResponseError as _, web};
    use gateway_error::RequestId;
    use gateway_error::actix::GatewayErrors;

    use super::*;

    async fn fail() -> Result<String, BadGateway> {
        Err(upstream_error())
    }

    async fn whoami(id: RequestId) -> String {
        id.to_string()
    }

    /// The error becomes a response in a task of its own: no request
    /// context is current there.
    async fn spawned() -> HttpResponse {
        actix_web::rt::spawn(async { upstream_error().error_response() })
            .await
            .unwrap_or_else(|_| HttpResponse::InternalServerError().finish())
    }

    /// The error's reply with `STALE` and `KEPT` set on it.
    async fn stale() -> HttpResponse {
        let mut response = stale_error().error_response();
        for (name, value) in STALE.iter().chain(&KEPT) {
            response.headers_mut().append(
                actix_web::http::header::HeaderName::from_static(name),
                actix_web::http::header::HeaderValue::from_static(value),
            );
        }
        response
    }

    /// How a middleware passes on the response it read.
    #[derive(Clone, Copy)]
    enum Then {
        Record,
        Rebuild,
        Bare,
    }

    async fn pass_on(
        probe: Arc<Probe>,
        then: Then,
        res: ServiceResponse<BoxBody>,
    ) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
        let (req, response) = res.into_parts();
        let (head, body) = response.into_parts();
        let bytes = to_bytes(body)
            .await
            .map_err(|err| actix_web::error::ErrorInternalServerError(err.to_string()))?;
        let response = match then {
            Then::Record => {
                let fields = head
                    .headers()
                    .iter()
                    .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                    .collect();
                probe.record(head.status().as_u16(), fields, &bytes);
                head.set_body(bytes).map_into_boxed_body()
            }
            Then::Rebuild => {
                let mut rebuilt = HttpResponse::build(head.status());
                for (name, value) in head.headers() {
                    rebuilt.append_header((name.clone(), value.clone()));
                }
                rebuilt.body(bytes)
            }
            Then::Bare => HttpResponse::build(head.status()).body(bytes),
        };
        Ok(ServiceResponse::new(req, response))
    }

    fn behind(
        probe: &Arc<Probe>,
        path: &str,
        then: Then,
    ) -> actix_web::Resource<
        impl actix_web::dev::ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<BoxBody>,
            Error = actix_web::Error,
            InitError = (),
        > + use<>,
    > {
        let probe = Arc::clone(probe);
        web::resource(path)
            .wrap_fn(move |req, srv| {
                let future = srv.call(req);
                let probe = Arc::clone(&probe);
                async move { pass_on(probe, then, future.await?.map_into_boxed_body()).await }
            })
            .to(fail)
    }

    pub(super) fn app(
        probe: Arc<Probe>,
    ) -> App<
        impl actix_web::dev::ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl actix_web::body::MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    > {
        let inner = web::scope("/nested")
            .wrap(GatewayErrors::new(
                Pipeline::new(inner_policy()).on_error(observer(&probe, Side::Inner)),
            ))
            .service(web::resource("/fail").to(fail))
            .service(web::resource("/whoami").to(whoami));
        App::new()
            .wrap(GatewayErrors::new(
                Pipeline::new(outer_policy()).on_error(observer(&probe, Side::Outer)),
            ))
            .service(web::resource("/fail").to(fail))
            .service(web::resource("/ok").to(|| async { "ok" }))
            .service(web::resource("/whoami").to(whoami))
            .service(web::resource("/own-id").to(|| async {
                HttpResponse::Ok()
                    .insert_header(("x-request-id", HANDLER_ID))
                    .body("mine")
            }))
            .service(
                web::resource("/error-id").to(|| async { Err::<String, _>(error_with_own_id()) }),
            )
            .service(web::resource("/spawned").to(spawned))
            .service(web::resource("/reply").to(|| async { upstream_error() }))
            .service(web::resource("/stale").to(stale))
            .service(behind(&probe, "/mw/record", Then::Record))
            .service(behind(&probe, "/mw/rebuild", Then::Rebuild))
            .service(behind(&probe, "/mw/bare", Then::Bare))
            .service(inner)
    }
}

mod warp_server {
    use gateway_error::RequestId;
    use gateway_error::warp::{Handle, request_id};
    use http_body_util::BodyExt as _;
    use warp::reply::Response;
    use warp::{Filter, Rejection, Reply};

    use super::*;

    async fn fail() -> Result<String, Rejection> {
        Err(warp::reject::custom(upstream_error()))
    }

    /// The error becomes a response in a task of its own: no request
    /// context is current there.
    async fn spawned() -> Result<Response, Rejection> {
        tokio::spawn(async { upstream_error().into_response() })
            .await
            .map_err(|_| warp::reject::not_found())
    }

    /// How a middleware passes on the response it read.
    #[derive(Clone, Copy)]
    enum Then {
        Record,
        Rebuild,
        Bare,
    }

    async fn pass_on(
        probe: Arc<Probe>,
        then: Then,
        reply: BadGateway,
    ) -> Result<Response, Rejection> {
        let (parts, body) = reply.into_response().into_parts();
        let bytes = body
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .unwrap_or_default();
        Ok(match then {
            Then::Record => {
                let fields = parts
                    .headers
                    .iter()
                    .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                    .collect();
                probe.record(parts.status.as_u16(), fields, &bytes);
                Response::from_parts(parts, bytes.into())
            }
            Then::Rebuild => {
                let mut rebuilt = Response::new(bytes.into());
                *rebuilt.status_mut() = parts.status;
                *rebuilt.headers_mut() = parts.headers;
                rebuilt
            }
            Then::Bare => {
                let mut rebuilt = Response::new(bytes.into());
                *rebuilt.status_mut() = parts.status;
                rebuilt
            }
        })
    }

    fn behind(
        probe: &Arc<Probe>,
        path: &'static str,
        then: Then,
    ) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + use<> {
        let probe = Arc::clone(probe);
        warp::path("mw")
            .and(warp::path(path))
            .and(warp::path::end())
            .map(upstream_error)
            .and_then(move |reply: BadGateway| pass_on(Arc::clone(&probe), then, reply))
    }

    /// The outer pipeline, for the layer, and the routes under `handle`:
    /// warp under the one tower layer, as the layer's docs serve it.
    pub(super) fn app(
        probe: &Arc<Probe>,
    ) -> (
        Pipeline,
        impl Filter<Extract = (Response,), Error = Rejection> + Clone + use<>,
    ) {
        let whoami = warp::path!("whoami")
            .and(request_id())
            .map(|id: RequestId| id.to_string());
        let inner =
            Handle::new(Pipeline::new(inner_policy()).on_error(observer(probe, Side::Inner)))
                .wrap(warp::path!("fail").and_then(fail).or(whoami.clone()));
        let routes = warp::path!("fail")
            .and_then(fail)
            .or(warp::path!("ok").map(|| "ok"))
            .or(whoami)
            .or(warp::path!("own-id")
                .map(|| warp::reply::with_header("mine", "x-request-id", HANDLER_ID)))
            .or(warp::path!("error-id")
                .and_then(|| async { Err::<String, _>(warp::reject::custom(error_with_own_id())) }))
            .or(warp::path!("spawned").and_then(spawned))
            .or(warp::path!("reply").map(upstream_error))
            .or(warp::path!("stale").map(|| {
                let mut reply = stale_error().into_response();
                reply.headers_mut().extend(handler_fields());
                reply
            }))
            // The same fields through warp's own wrapper.
            .or(warp::path!("stale-wrapped").map(|| {
                let reply = stale_error();
                let reply = warp::reply::with_header(reply, "transfer-encoding", "chunked");
                let reply = warp::reply::with_header(reply, "etag", "\"v1\"");
                let reply = warp::reply::with_header(reply, "accept-ranges", "bytes");
                warp::reply::with_header(reply, "x-trace", "t-1")
            }))
            .or(behind(probe, "record", Then::Record))
            .or(behind(probe, "rebuild", Then::Rebuild))
            .or(behind(probe, "bare", Then::Bare))
            .or(warp::path!("mw" / "header")
                .map(upstream_error)
                .map(|reply| warp::reply::with_header(reply, "x-middleware", "seen")))
            // Under its prefix: a `handle` answers every request it sees.
            .or(warp::path("nested").and(inner));
        // The layer reports; `handle` inside it renders under the same
        // pipeline, nested in the layer's context.
        let pipeline = Pipeline::new(outer_policy()).on_error(observer(probe, Side::Outer));
        (pipeline.clone(), Handle::new(pipeline).wrap(routes))
    }
}

// ---------------------------------------------------------------------------
// The checks, the same for every framework.

/// The request id rule on errors, 404s and successes.
async fn request_id_rule(addr: SocketAddr, _probe: Arc<Probe>) {
    let get = Method::GET;
    let policy = outer_policy();

    // A valid id is echoed on an error, in body and header.
    let got = send(
        addr,
        &get,
        "/fail",
        &[("accept", PROBLEM), ("x-request-id", "client-1")],
    )
    .await;
    got.assert_is(&expected(
        upstream_error(),
        &policy,
        &get,
        PROBLEM,
        "client-1",
    ));
    assert_eq!(got.request_id(), "client-1");
    got.assert_complete(&get);

    // HEAD: no body, GET's length, the id.
    let head = Method::HEAD;
    let got = send(
        addr,
        &head,
        "/fail",
        &[("accept", PROBLEM), ("x-request-id", "client-2")],
    )
    .await;
    got.assert_is(&expected(
        upstream_error(),
        &policy,
        &head,
        PROBLEM,
        "client-2",
    ));
    got.assert_complete(&head);

    // Absent or invalid: a generated id, the same in body and header.
    let too_long = "x".repeat(gateway_error::RequestId::MAX_LEN + 1);
    for sent in [None, Some("has space"), Some(too_long.as_str()), Some("")] {
        let mut fields = vec![("accept", PROBLEM)];
        if let Some(sent) = sent {
            fields.push(("x-request-id", sent));
        }
        let got = send(addr, &get, "/fail", &fields).await;
        let id = got.request_id().to_owned();
        assert_generated(&id);
        got.assert_is(&expected(upstream_error(), &policy, &get, PROBLEM, &id));
    }
    // A fresh id per request.
    let first = send(addr, &get, "/fail", &[]).await;
    let second = send(addr, &get, "/fail", &[]).await;
    assert_ne!(first.request_id(), second.request_id());

    // 404s and successes echo the id too.
    for path in ["/no-such-route", "/ok"] {
        let got = send(addr, &get, path, &[("x-request-id", "client-3")]).await;
        assert_eq!(got.request_id(), "client-3", "{path}");
        let got = send(addr, &get, path, &[("x-request-id", "bad id")]).await;
        assert_generated(got.request_id());
        let got = send(addr, &get, path, &[]).await;
        assert_generated(got.request_id());
    }
    let got = send(addr, &get, "/no-such-route", &[]).await;
    assert_eq!(got.status, 404);
    let got = send(addr, &get, "/ok", &[("x-request-id", "client-4")]).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, b"ok");
    assert_eq!(got.one("content-type"), "text/plain; charset=utf-8");
    got.assert_complete(&get);

    // The handler reads the id the client gets, generated or not.
    let got = send(addr, &get, "/whoami", &[("x-request-id", "client-5")]).await;
    assert_eq!((got.status, got.body_str()), (200, "client-5"));
    assert_eq!(got.request_id(), "client-5");
    for sent in [None, Some("has space")] {
        let fields: Vec<_> = sent.map(|id| ("x-request-id", id)).into_iter().collect();
        let got = send(addr, &get, "/whoami", &fields).await;
        assert_eq!(got.status, 200, "{got:?}");
        assert_generated(got.request_id());
        assert_eq!(got.body_str(), got.request_id(), "body is the echoed id");
    }

    // A handler's own id wins on a success.
    let got = send(addr, &get, "/own-id", &[("x-request-id", "client-6")]).await;
    assert_eq!((got.status, got.body_str()), (200, "mine"));
    assert_eq!(got.request_id(), HANDLER_ID);
    let got = send(addr, &get, "/own-id", &[]).await;
    assert_eq!(got.request_id(), HANDLER_ID);

    // An error's own id wins in body and header.
    for fields in [
        vec![("accept", HTML), ("x-request-id", "client-7")],
        vec![("accept", HTML)],
    ] {
        let got = send(addr, &get, "/error-id", &fields).await;
        got.assert_is(&expected(
            error_with_own_id(),
            &policy,
            &get,
            HTML,
            "client-7",
        ));
        assert_eq!(got.request_id(), "error-id-7");
        assert!(got.body_str().contains("error-id-7"));
    }
}

/// A middleware between handler and adapter sees what the client gets; one
/// that rebuilds the response leaves the client a complete one.
async fn middleware_sees_the_final_response(addr: SocketAddr, probe: Arc<Probe>) {
    let get = Method::GET;
    let policy = outer_policy();

    let got = send(
        addr,
        &get,
        "/mw/record",
        &[("accept", HTML), ("x-request-id", "mw-1")],
    )
    .await;
    got.assert_is(&expected(upstream_error(), &policy, &get, HTML, "mw-1"));
    got.assert_complete(&get);
    let recorded = probe.recorded();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    let seen = &recorded[0];
    assert_eq!(seen.status, got.status);
    assert_eq!(
        show(&comparable(seen.fields.iter().cloned())),
        show(&got.compared_fields())
    );
    assert_eq!(String::from_utf8_lossy(&seen.body), got.body_str());

    // Rebuilt from status, fields and body: extensions gone, the response
    // stays the one rendered for the request.
    let got = send(
        addr,
        &get,
        "/mw/rebuild",
        &[("accept", HTML), ("x-request-id", "mw-2")],
    )
    .await;
    got.assert_is(&expected(upstream_error(), &policy, &get, HTML, "mw-2"));
    got.assert_complete(&get);

    // Rebuilt as (status, body): the middleware dropped every field, so no
    // Content-Type; the body is still the complete one rendered for the
    // request, with its length, and the id is echoed.
    let got = send(
        addr,
        &get,
        "/mw/bare",
        &[("accept", PROBLEM), ("x-request-id", "mw-3")],
    )
    .await;
    let want = expected(upstream_error(), &policy, &get, PROBLEM, "mw-3");
    assert_eq!(got.status, 502);
    assert_eq!(got.body_str(), String::from_utf8_lossy(want.body()));
    got.assert_complete(&get);
    assert_eq!(got.request_id(), "mw-3");
    assert!(got.values("content-type").is_empty(), "{got:?}");
    let _: serde_json::Value = serde_json::from_slice(&got.body).expect("the JSON body");
}

/// One observer event per error response; `rendered_again` only for an
/// error rendered outside the request's context.
async fn one_event_per_error(addr: SocketAddr, probe: Arc<Probe>) {
    let get = Method::GET;
    let policy = outer_policy();
    let seen = |id: &str, method: &str, again: bool| Seen {
        status: 502,
        error_type: "connection_refused",
        method: method.to_owned(),
        request_id: id.to_owned(),
        rendered_again: again,
    };

    let got = send(
        addr,
        &get,
        "/fail",
        &[("accept", TEXT), ("x-request-id", "ev-1")],
    )
    .await;
    got.assert_is(&expected(upstream_error(), &policy, &get, TEXT, "ev-1"));
    assert_eq!(probe.outer(), [seen("ev-1", "GET", false)]);

    let got = send(addr, &Method::HEAD, "/fail", &[("x-request-id", "ev-2")]).await;
    assert_eq!(got.status, 502);
    assert_eq!(probe.outer()[1..], [seen("ev-2", "HEAD", false)]);

    // Successes and 404s are no errors.
    send(addr, &get, "/ok", &[]).await;
    send(addr, &get, "/no-such-route", &[]).await;
    assert_eq!(probe.outer().len(), 2);

    // Rendered in a spawned task: rendered again for the request, once.
    let got = send(
        addr,
        &get,
        "/spawned",
        &[("accept", HTML), ("x-request-id", "ev-3")],
    )
    .await;
    got.assert_is(&expected(upstream_error(), &policy, &get, HTML, "ev-3"));
    got.assert_complete(&get);
    assert_eq!(probe.outer()[2..], [seen("ev-3", "GET", true)]);

    // The error as the handler's response rather than its error.
    let got = send(
        addr,
        &get,
        "/reply",
        &[("accept", HTML), ("x-request-id", "ev-4")],
    )
    .await;
    got.assert_is(&expected(upstream_error(), &policy, &get, HTML, "ev-4"));
    assert_eq!(probe.outer()[3..], [seen("ev-4", "GET", false)]);

    // A middleware in between changes nothing.
    send(addr, &get, "/mw/record", &[("x-request-id", "ev-5")]).await;
    assert_eq!(probe.outer()[4..], [seen("ev-5", "GET", false)]);

    // A generated id is the one reported.
    let got = send(addr, &get, "/fail", &[]).await;
    let id = got.request_id().to_owned();
    assert_eq!(probe.outer()[5..], [seen(&id, "GET", false)]);
    assert!(probe.inner().is_empty());
}

/// Nested adapters: the inner policy renders, the outer id is the one id,
/// the outer adapter reports once.
async fn nested_adapters(addr: SocketAddr, probe: Arc<Probe>) {
    let get = Method::GET;
    let policy = inner_policy();

    let got = send(
        addr,
        &get,
        "/nested/fail",
        &[("accept", TEXT), ("x-request-id", "nest-1")],
    )
    .await;
    got.assert_is(&expected(upstream_error(), &policy, &get, TEXT, "nest-1"));
    assert_eq!(got.one("proxy-status"), "inner;error=connection_refused");
    assert_eq!(got.request_id(), "nest-1");
    got.assert_complete(&get);
    let reported = probe.outer();
    assert_eq!(reported.len(), 1, "{reported:?}");
    assert_eq!(reported[0].request_id, "nest-1");
    assert!(!reported[0].rendered_again, "{reported:?}");
    assert!(
        probe.inner().is_empty(),
        "the inner adapter reports nothing"
    );

    // A generated id: one, the outer's, in body and header.
    let got = send(addr, &get, "/nested/fail", &[("accept", TEXT)]).await;
    let id = got.request_id().to_owned();
    assert_generated(&id);
    got.assert_is(&expected(upstream_error(), &policy, &get, TEXT, &id));
    let reported = probe.outer();
    assert_eq!(reported.len(), 2, "{reported:?}");
    assert_eq!(reported[1].request_id, id);
    assert!(
        probe.inner().is_empty(),
        "the inner adapter reports nothing"
    );

    // The handler inside reads the one id.
    for fields in [vec![], vec![("x-request-id", "bad id")]] {
        let got = send(addr, &get, "/nested/whoami", &fields).await;
        assert_eq!(got.status, 200, "{got:?}");
        assert_generated(got.request_id());
        assert_eq!(got.body_str(), got.request_id());
    }
    let got = send(addr, &get, "/nested/whoami", &[("x-request-id", "nest-2")]).await;
    assert_eq!((got.body_str(), got.request_id()), ("nest-2", "nest-2"));
    assert_eq!(probe.outer().len(), 2);
    assert!(probe.inner().is_empty());
}

/// Fields sent as several lines: `Accept` is one list (RFC 9110 section
/// 5.3); `x-request-id`, a single value, is read from its first line.
async fn field_lines(addr: SocketAddr, _probe: Arc<Probe>) {
    let get = Method::GET;
    let policy = outer_policy();
    // JSON at a low weight on one line, HTML on the next: HTML wins.
    let got = send(
        addr,
        &get,
        "/fail",
        &[
            ("accept", "application/json;q=0.5"),
            ("x-request-id", "first-1"),
            ("accept", "text/html"),
            ("x-request-id", "second-1"),
        ],
    )
    .await;
    got.assert_is(&expected(
        upstream_error(),
        &policy,
        &get,
        "application/json;q=0.5, text/html",
        "first-1",
    ));
    got.assert_complete(&get);
    // The first line is the id, valid or not: an invalid first line gets a
    // generated id, not the second line's.
    let got = send(
        addr,
        &get,
        "/whoami",
        &[("x-request-id", "bad id"), ("x-request-id", "second-2")],
    )
    .await;
    assert_generated(got.request_id());
    assert_eq!(got.body_str(), got.request_id());
    let got = send(
        addr,
        &get,
        "/whoami",
        &[("x-request-id", "first-3"), ("x-request-id", "second-3")],
    )
    .await;
    assert_eq!((got.request_id(), got.body_str()), ("first-3", "first-3"));
}

/// A re-rendered error is well framed on the wire: `render`'s response
/// for the request, plus the kept fields, with one `Content-Length`.
async fn rerendered_errors_drop_stale_framing(addr: SocketAddr, _probe: Arc<Probe>) {
    assert_well_framed(addr, "/stale").await;
}

async fn assert_well_framed(addr: SocketAddr, path: &str) {
    let get = Method::GET;
    for accept in ["application/json", PROBLEM, HTML, TEXT] {
        let got = send(
            addr,
            &get,
            path,
            &[("accept", accept), ("x-request-id", "wire-7")],
        )
        .await;
        got.assert_complete(&get);
        let mut want = expected(stale_error(), &outer_policy(), &get, accept, "wire-7");
        assert!(want.headers().contains_key("retry-after"));
        for (name, value) in KEPT {
            want.headers_mut()
                .append(name, HeaderValue::from_static(value));
        }
        got.assert_is(&want);
    }
}

/// The four checks, one test each per framework.
macro_rules! per_framework {
    ($check:ident) => {
        mod $check {
            use super::{Framework, run};

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn axum() {
                run(Framework::Axum, super::$check).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn actix_web() {
                run(Framework::Actix, super::$check).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn warp() {
                run(Framework::Warp, super::$check).await;
            }
        }
    };
}

per_framework!(request_id_rule);
per_framework!(middleware_sees_the_final_response);
per_framework!(one_event_per_error);
per_framework!(nested_adapters);
per_framework!(rerendered_errors_drop_stale_framing);
per_framework!(field_lines);

/// warp: the same fields set through `warp::reply::with_header`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warp_rerendered_errors_drop_stale_framing_set_by_with_header() {
    run(Framework::Warp, |addr, _probe| async move {
        assert_well_framed(addr, "/stale-wrapped").await;
    })
    .await;
}

/// warp: a wrapper that does not read the body (`with_header`) between
/// handler and `handle` keeps the response complete and adds its field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warp_with_header_between_handler_and_handle() {
    run(Framework::Warp, |addr, probe| async move {
        let get = Method::GET;
        let got = send(
            addr,
            &get,
            "/mw/header",
            &[("accept", HTML), ("x-request-id", "wh-1")],
        )
        .await;
        let mut want = expected(upstream_error(), &outer_policy(), &get, HTML, "wh-1");
        want.headers_mut()
            .insert("x-middleware", HeaderValue::from_static("seen"));
        got.assert_is(&want);
        got.assert_complete(&get);
        assert_eq!(probe.outer().len(), 1);
        assert!(!probe.outer()[0].rendered_again);
    })
    .await;
}

/// warp: a `handle` nested as one alternative of `.or` leaves the other
/// alternatives' rejections to the outer `handle` (under the layer: with
/// `warp::serve` alone a `handle` cannot tell that it is nested).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warp_nested_handle_in_or_leaves_other_routes_alone() {
    use warp::Filter as _;

    let inner =
        gateway_error::warp::handle(warp::path!("nested" / "ok").map(|| "ok"), inner_policy());
    let routes = warp::path!("fail")
        .and_then(|| async { Err::<String, _>(warp::reject::custom(upstream_error())) })
        .or(inner);
    let app = gateway_error::warp::handle(routes, outer_policy());
    let server = harness::warp_layered(Pipeline::new(outer_policy()), app)
        .await
        .expect("warp starts");
    let addr = server.addr();
    let get = Method::GET;
    let got = send(addr, &get, "/nested/ok", &[("x-request-id", "or-1")]).await;
    assert_eq!(
        (got.status, got.body_str(), got.request_id()),
        (200, "ok", "or-1")
    );
    let got = send(
        addr,
        &get,
        "/fail",
        &[("accept", TEXT), ("x-request-id", "or-2")],
    )
    .await;
    got.assert_is(&expected(
        upstream_error(),
        &outer_policy(),
        &get,
        TEXT,
        "or-2",
    ));
    server.stop().await.expect("the server stops cleanly");
}

/// warp with `warp::serve` and `handle` alone, no layer: errors, 404s and
/// successes as under the layer, one event per error; and the documented
/// limit: a handler reads the request's own valid id only, since a filter
/// cannot hand the id `handle` generates to the routes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warp_serve_alone() {
    let probe = Arc::new(Probe::default());
    let (_, app) = warp_server::app(&probe);
    let server = harness::warp(app).await.expect("warp starts");
    let addr = server.addr();
    let (get, head) = (Method::GET, Method::HEAD);
    let policy = outer_policy();

    let got = send(
        addr,
        &get,
        "/fail",
        &[("accept", PROBLEM), ("x-request-id", "alone-1")],
    )
    .await;
    got.assert_is(&expected(
        upstream_error(),
        &policy,
        &get,
        PROBLEM,
        "alone-1",
    ));
    got.assert_complete(&get);
    let got = send(addr, &head, "/fail", &[("accept", HTML)]).await;
    let id = got.request_id().to_owned();
    assert_generated(&id);
    got.assert_is(&expected(upstream_error(), &policy, &head, HTML, &id));
    got.assert_complete(&head);
    for path in ["/no-such-route", "/ok"] {
        let got = send(addr, &get, path, &[("x-request-id", "alone-2")]).await;
        assert_eq!(got.request_id(), "alone-2", "{path}");
        assert_generated(send(addr, &get, path, &[]).await.request_id());
    }

    let got = send(addr, &get, "/whoami", &[("x-request-id", "alone-3")]).await;
    assert_eq!(
        (got.status, got.body_str(), got.request_id()),
        (200, "alone-3", "alone-3")
    );
    // No valid id sent: `request_id()` rejects, and the client gets the
    // 500 that says the gateway is misconfigured, with the generated id.
    let got = send(addr, &get, "/whoami", &[("accept", TEXT)]).await;
    let id = got.request_id().to_owned();
    assert_generated(&id);
    let misconfigured = InternalServerError::new().with_kind(ProxyError::ProxyConfigurationError);
    got.assert_is(&expected(misconfigured, &policy, &get, TEXT, &id));

    let seen: Vec<_> = probe
        .outer()
        .into_iter()
        .map(|seen| (seen.status, seen.rendered_again))
        .collect();
    assert_eq!(seen, [(502, false), (502, false), (500, false)]);
    assert!(probe.inner().is_empty());
    server.stop().await.expect("the server stops cleanly");
}
