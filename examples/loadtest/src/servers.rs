//! The servers: each framework on 127.0.0.1:0 in this process, on its own
//! thread with one worker (axum and warp: a tokio multi-thread runtime with
//! `worker_threads(1)`; actix-web: `HttpServer::workers(1)` in its own
//! `System`). The client gets the other core.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::mpsc;
use std::thread;

use bytes::Bytes;
use gateway_error::{GatewayError, Policy};
use warp::Filter;

use crate::BoxError;
use crate::scenarios::{self, Prebuilt, Route};

/// The three frameworks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framework {
    Axum,
    Actix,
    Warp,
}

impl Framework {
    pub(crate) const ALL: [Framework; 3] = [Framework::Axum, Framework::Actix, Framework::Warp];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Framework::Axum => "axum",
            Framework::Actix => "actix-web",
            Framework::Warp => "warp",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Vec<Framework>> {
        match s {
            "all" => Some(Framework::ALL.to_vec()),
            "axum" => Some(vec![Framework::Axum]),
            "actix" | "actix-web" => Some(vec![Framework::Actix]),
            "warp" => Some(vec![Framework::Warp]),
            _ => None,
        }
    }
}

/// The static response, as http 1 and as actix-web's http 0.2 parts.
static PREBUILT: OnceLock<Prebuilt> = OnceLock::new();
static PREBUILT_ACTIX: OnceLock<(
    actix_web::http::StatusCode,
    actix_web::http::header::HeaderMap,
    Bytes,
)> = OnceLock::new();

/// Sets the response `/static` serves; call once, before starting servers.
pub(crate) fn set_prebuilt(prebuilt: Prebuilt) -> Result<(), BoxError> {
    let status = actix_web::http::StatusCode::from_u16(prebuilt.status.as_u16())?;
    let mut headers = actix_web::http::header::HeaderMap::new();
    for (name, value) in &prebuilt.headers {
        headers.append(
            actix_web::http::header::HeaderName::from_bytes(name.as_str().as_bytes())?,
            actix_web::http::header::HeaderValue::from_bytes(value.as_bytes())?,
        );
    }
    let body = prebuilt.body.clone();
    PREBUILT_ACTIX
        .set((status, headers, body))
        .map_err(|_| "prebuilt response set twice")?;
    PREBUILT
        .set(prebuilt)
        .map_err(|_| "prebuilt response set twice")?;
    Ok(())
}

fn prebuilt() -> &'static Prebuilt {
    PREBUILT.get().expect("set_prebuilt before serving")
}

/// Where the bench's `/static` route sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Outside the adapter: the whole adapter stack against no adapter.
    Outside,
    /// Under the adapter with `/ours`: the error path alone against a
    /// prebuilt response (the adapter passes it through, adding the
    /// request id it already has).
    Inside,
}

/// Starts `framework`'s bench server: `/ours` through the adapter stack,
/// `/static` where `placement` says, and `/handrolled` (the JSON error users
/// write instead, with no adapter of ours in its way) beside `/static`.
pub(crate) fn start_bench(
    framework: Framework,
    placement: Placement,
) -> Result<SocketAddr, BoxError> {
    let inside = placement == Placement::Inside;
    match framework {
        Framework::Axum => spawn_tokio("axum-bench", move |listener| async move {
            axum::serve(listener, bench_axum(inside)).await
        }),
        Framework::Actix if inside => spawn_actix("actix-bench", bench_actix_inside),
        Framework::Actix => spawn_actix("actix-bench", bench_actix),
        Framework::Warp if inside => spawn_tokio("warp-bench", |listener| async move {
            warp::serve(bench_warp_inside())
                .incoming(listener)
                .run()
                .await;
            Ok(())
        }),
        Framework::Warp => spawn_tokio("warp-bench", |listener| async move {
            warp::serve(bench_warp()).incoming(listener).run().await;
            Ok(())
        }),
    }
}

/// Starts `framework`'s soak server: every route behind the adapter, as an
/// application would mount it (`Router::layer`, `App::wrap`, `handle`).
pub(crate) fn start_soak(framework: Framework) -> Result<SocketAddr, BoxError> {
    match framework {
        Framework::Axum => spawn_tokio("axum-soak", |listener| async move {
            axum::serve(listener, soak_axum()).await
        }),
        Framework::Actix => spawn_actix("actix-soak", soak_actix),
        Framework::Warp => spawn_tokio("warp-soak", |listener| async move {
            warp::serve(soak_warp()).incoming(listener).run().await;
            Ok(())
        }),
    }
}

/// Runs `serve` on a new thread with a one-worker tokio runtime.
pub(crate) fn spawn_tokio<F, Fut>(name: &str, serve: F) -> Result<SocketAddr, BoxError>
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: Future<Output = std::io::Result<()>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                    Ok(listener) => listener,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let _ = tx.send(listener.local_addr());
                // The server runs on the worker; this thread only waits.
                match tokio::spawn(serve(listener)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => eprintln!("server error: {e}"),
                    Err(e) => eprintln!("server task failed: {e}"),
                }
            });
        })?;
    Ok(rx.recv()??)
}

/// Runs an actix-web server with one worker on a new thread.
fn spawn_actix<F, T, B>(name: &str, factory: F) -> Result<SocketAddr, BoxError>
where
    F: Fn() -> actix_web::App<T> + Send + Clone + 'static,
    T: actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: actix_web::body::MessageBody + 'static,
{
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                let server = actix_web::HttpServer::new(factory)
                    .workers(1)
                    .disable_signals()
                    .bind(("127.0.0.1", 0));
                let server = match server {
                    Ok(server) => server,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let addr = server.addrs().first().copied();
                let _ = tx.send(addr.ok_or_else(|| std::io::Error::other("no address")));
                if let Err(e) = server.run().await {
                    eprintln!("actix server error: {e}");
                }
            });
        })?;
    Ok(rx.recv()??)
}

// ---------------------------------------------------------------- axum

mod axum_app {
    use axum::Json;
    use axum::body::Body;
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::{IntoResponse, Response};
    use gateway_error::BadGateway;

    pub(super) async fn ours() -> Result<String, BadGateway> {
        Err(crate::scenarios::bench_error())
    }

    /// The hand-rolled anchor: `(StatusCode, Json(json!(..)))` with the
    /// headers a user adds (cache-control, the request id echoed).
    pub(super) async fn handrolled(headers: HeaderMap) -> Response {
        let id = headers.get("x-request-id");
        let body = crate::scenarios::handrolled_body(id.and_then(|v| v.to_str().ok()));
        let mut response = (
            StatusCode::BAD_GATEWAY,
            [(header::CACHE_CONTROL, "no-store")],
            Json(body),
        )
            .into_response();
        if let Some(id) = id {
            response.headers_mut().insert("x-request-id", id.clone());
        }
        response
    }

    pub(super) async fn fixed() -> Response {
        let prebuilt = super::prebuilt();
        let mut response = Response::new(Body::from(prebuilt.body.clone()));
        *response.status_mut() = prebuilt.status;
        *response.headers_mut() = prebuilt.headers.clone();
        response
    }
}

fn bench_axum(static_inside: bool) -> axum::Router {
    use axum::routing::get;
    use gateway_error::axum::GatewayErrorLayer;
    let layer = GatewayErrorLayer::new(scenarios::bench_policy());
    if static_inside {
        return axum::Router::new()
            .route("/ours", get(axum_app::ours))
            .route("/static", get(axum_app::fixed))
            .route("/handrolled", get(axum_app::handrolled))
            .layer(layer);
    }
    // `Router::layer` wraps each route's endpoint, so the merged router's
    // `/ours` goes through the layer exactly as in a router layered whole.
    let ours = axum::Router::new()
        .route("/ours", get(axum_app::ours))
        .layer(layer);
    axum::Router::new()
        .route("/static", get(axum_app::fixed))
        .route("/handrolled", get(axum_app::handrolled))
        .merge(ours)
}

fn soak_axum() -> axum::Router {
    use axum::routing::any;
    use gateway_error::axum::GatewayErrorLayer;
    let mut router = axum::Router::new();
    for route in Route::ALL {
        if let Some(error) = route.error() {
            router = router.route(
                route.path(),
                any(move || {
                    let error = error.clone();
                    async move { Err::<String, GatewayError>(error) }
                }),
            );
        } else if let Some((content_type, body)) = route.success() {
            router = router.route(
                route.path(),
                any(move || async move { ([(http::header::CONTENT_TYPE, content_type)], body) }),
            );
        }
    }
    router.layer(GatewayErrorLayer::new(soak_policy()))
}

fn soak_policy() -> Policy {
    scenarios::SOAK_POLICY.clone()
}

/// The type of an actix-web app the servers build (written once: the
/// `impl` types cannot be named by an alias).
macro_rules! actix_app {
    () => {
        actix_web::App<
            impl actix_web::dev::ServiceFactory<
                actix_web::dev::ServiceRequest,
                Config = (),
                Response = actix_web::dev::ServiceResponse<
                    impl actix_web::body::MessageBody + use<>,
                >,
                Error = actix_web::Error,
                InitError = (),
            > + use<>,
        >
    };
}

// ---------------------------------------------------------------- actix-web

mod actix_app {
    use actix_web::http::header;
    use actix_web::{HttpRequest, HttpResponse};
    use gateway_error::BadGateway;

    pub(super) async fn ours() -> Result<HttpResponse, BadGateway> {
        Err(crate::scenarios::bench_error())
    }

    /// The hand-rolled anchor: `HttpResponse::BadGateway().json(..)` with
    /// the headers a user adds (cache-control, the request id echoed).
    pub(super) async fn handrolled(req: HttpRequest) -> HttpResponse {
        let id = req.headers().get("x-request-id");
        let mut builder = HttpResponse::BadGateway();
        builder.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(id) = id {
            builder.insert_header(("x-request-id", id.clone()));
        }
        builder.json(crate::scenarios::handrolled_body(
            id.and_then(|v| v.to_str().ok()),
        ))
    }

    pub(super) async fn fixed() -> HttpResponse {
        let (status, headers, body) = super::PREBUILT_ACTIX
            .get()
            .expect("set_prebuilt before serving");
        let mut response = HttpResponse::with_body(*status, body.clone()).map_into_boxed_body();
        *response.headers_mut() = headers.clone();
        response
    }
}

fn bench_actix() -> actix_app!() {
    use actix_web::web;
    use gateway_error::actix::GatewayErrors;
    // The middleware wraps a scope holding `/ours` (with `App::wrap` it would
    // wrap `/static` too): the same middleware, one routing level down.
    actix_web::App::new()
        .route("/static", web::get().to(actix_app::fixed))
        .route("/handrolled", web::get().to(actix_app::handrolled))
        .service(
            web::scope("")
                .wrap(GatewayErrors::new(scenarios::bench_policy()))
                .route("/ours", web::get().to(actix_app::ours)),
        )
}

fn bench_actix_inside() -> actix_app!() {
    use actix_web::web;
    use gateway_error::actix::GatewayErrors;
    actix_web::App::new()
        .wrap(GatewayErrors::new(scenarios::bench_policy()))
        .route("/static", web::get().to(actix_app::fixed))
        .route("/ours", web::get().to(actix_app::ours))
        .route("/handrolled", web::get().to(actix_app::handrolled))
}

fn soak_actix() -> actix_app!() {
    use actix_web::{HttpResponse, web};
    use gateway_error::actix::GatewayErrors;
    let mut app = actix_web::App::new().wrap(GatewayErrors::new(soak_policy()));
    for route in Route::ALL {
        if let Some(error) = route.error() {
            app = app.route(
                route.path(),
                web::route().to(move || {
                    let error = error.clone();
                    async move { Err::<HttpResponse, GatewayError>(error) }
                }),
            );
        } else if let Some((content_type, body)) = route.success() {
            app = app.route(
                route.path(),
                web::route().to(move || async move {
                    HttpResponse::Ok()
                        .insert_header(("content-type", content_type))
                        .body(body)
                }),
            );
        }
    }
    app
}

// ---------------------------------------------------------------- warp

/// The prebuilt 502 as a warp reply.
fn warp_fixed() -> warp::reply::Response {
    let prebuilt = prebuilt();
    let mut response = warp::reply::Response::new(prebuilt.body.clone().into());
    *response.status_mut() = prebuilt.status;
    *response.headers_mut() = prebuilt.headers.clone();
    response
}

/// The hand-rolled anchor: `with_status(json(..), StatusCode::BAD_GATEWAY)`
/// with the headers a user adds (cache-control, the request id echoed).
fn warp_handrolled()
-> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    use warp::Reply;
    warp::path!("handrolled")
        .and(warp::header::optional::<String>("x-request-id"))
        .map(|id: Option<String>| {
            let body = scenarios::handrolled_body(id.as_deref());
            let reply = warp::reply::with_header(
                warp::reply::with_status(warp::reply::json(&body), http::StatusCode::BAD_GATEWAY),
                "cache-control",
                "no-store",
            );
            let mut response = reply.into_response();
            if let Some(value) = id.and_then(|id| http::HeaderValue::from_str(&id).ok()) {
                response.headers_mut().insert("x-request-id", value);
            }
            response
        })
}

fn bench_warp() -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    let fixed = warp::path!("static").map(warp_fixed);
    let ours = warp::path!("ours")
        .and_then(|| async { Err::<String, _>(warp::reject::custom(scenarios::bench_error())) });
    // `/static` first, so that it never enters `handle`; `/handrolled` beside
    // it, before `handle` (which answers every rejection it sees).
    fixed
        .or(warp_handrolled())
        .or(gateway_error::warp::handle(ours, scenarios::bench_policy()))
}

fn bench_warp_inside() -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone
{
    let fixed = warp::path!("static").map(warp_fixed);
    let ours = warp::path!("ours").and_then(|| async {
        Err::<warp::reply::Response, _>(warp::reject::custom(scenarios::bench_error()))
    });
    gateway_error::warp::handle(
        fixed.or(ours).unify().or(warp_handrolled()).unify(),
        scenarios::bench_policy(),
    )
}

fn soak_warp() -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    use warp::Reply;
    use warp::reply::Response;

    // Gateway errors both ways warp allows: rejected, and returned as the
    // reply; the success routes with their content type.
    fn route(route: Route) -> warp::filters::BoxedFilter<(Response,)> {
        let path = warp::path::full()
            .and_then(move |full: warp::path::FullPath| async move {
                if full.as_str() == route.path() {
                    Ok(())
                } else {
                    Err(warp::reject::not_found())
                }
            })
            .untuple_one();
        match route {
            Route::BadGateway => path
                .and_then(|| async {
                    Err::<Response, _>(warp::reject::custom(scenarios::bad_gateway()))
                })
                .boxed(),
            Route::GatewayTimeout => path
                .map(|| scenarios::gateway_timeout().into_response())
                .boxed(),
            Route::ServiceUnavailable => path
                .and_then(|| async {
                    Err::<Response, _>(warp::reject::custom(scenarios::service_unavailable()))
                })
                .boxed(),
            Route::Internal => path.map(|| scenarios::internal().into_response()).boxed(),
            Route::FromKind => path
                .and_then(|| async {
                    Err::<Response, _>(warp::reject::custom(scenarios::from_kind()))
                })
                .boxed(),
            Route::Hostile => path.map(|| scenarios::hostile().into_response()).boxed(),
            Route::Ok | Route::OkJson | Route::OkBig => {
                let (content_type, body) = route.success().unwrap_or(("text/plain", b""));
                path.map(move || {
                    warp::reply::with_header(body, "content-type", content_type).into_response()
                })
                .boxed()
            }
            Route::Missing => path
                .and_then(|| async { Err::<Response, _>(warp::reject::not_found()) })
                .boxed(),
        }
    }

    let mut routes = route(Route::ALL[0]);
    for r in &Route::ALL[1..] {
        routes = routes.or(route(*r)).unify().boxed();
    }
    gateway_error::warp::handle(routes, soak_policy())
}
