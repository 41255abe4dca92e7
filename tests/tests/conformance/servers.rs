//! The three servers, each serving route `/case/{n}` for every row of the
//! table under the one policy, on `127.0.0.1:0`.

use std::future::IntoFuture as _;
use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle as TaskHandle;
use tokio::time::timeout;

use crate::BoxError;
use crate::table::{CASES, Case, Style, each_type, path, policy};

/// Startup and shutdown of each server are bounded by this.
const LIMIT: Duration = Duration::from_secs(10);

/// The frameworks under test, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framework {
    Axum,
    Actix,
    Warp,
}

impl Framework {
    pub(crate) const ALL: [Self; 3] = [Self::Axum, Self::Actix, Self::Warp];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Axum => "axum",
            Self::Actix => "actix-web",
            Self::Warp => "warp",
        }
    }
}

/// The running servers and what it takes to stop them.
pub(crate) struct Servers {
    axum: (SocketAddr, oneshot::Sender<()>, TaskHandle<io::Result<()>>),
    actix: (
        SocketAddr,
        actix_web::dev::ServerHandle,
        JoinHandle<io::Result<()>>,
    ),
    warp: (SocketAddr, oneshot::Sender<()>, TaskHandle<()>),
}

impl Servers {
    /// Starts the three servers.
    pub(crate) async fn start() -> Result<Self, BoxError> {
        let axum = start_axum().await?;
        let warp = start_warp().await?;
        let actix = start_actix().await?;
        Ok(Self { axum, actix, warp })
    }

    pub(crate) fn addr(&self, framework: Framework) -> SocketAddr {
        match framework {
            Framework::Axum => self.axum.0,
            Framework::Actix => self.actix.0,
            Framework::Warp => self.warp.0,
        }
    }

    /// Stops the three servers (after the client is dropped), each within
    /// [`LIMIT`]; reports the ones that did not stop cleanly.
    pub(crate) async fn stop(self) -> Vec<String> {
        let mut problems = Vec::new();
        let (_, axum_stop, axum_task) = self.axum;
        let (_, warp_stop, warp_task) = self.warp;
        let (_, actix_handle, actix_thread) = self.actix;
        let _ = axum_stop.send(());
        let _ = warp_stop.send(());
        if timeout(LIMIT, actix_handle.stop(true)).await.is_err() {
            problems.push("actix-web: stop() did not finish in time".to_owned());
        }
        match timeout(LIMIT, axum_task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(err))) => problems.push(format!("axum: server error: {err}")),
            Ok(Err(err)) => problems.push(format!("axum: server task failed: {err}")),
            Err(_) => problems.push("axum: graceful shutdown did not finish in time".to_owned()),
        }
        match timeout(LIMIT, warp_task).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => problems.push(format!("warp: server task failed: {err}")),
            Err(_) => problems.push("warp: graceful shutdown did not finish in time".to_owned()),
        }
        let joined = tokio::task::spawn_blocking(move || actix_thread.join());
        match timeout(LIMIT, joined).await {
            Ok(Ok(Ok(Ok(())))) => {}
            Ok(Ok(Ok(Err(err)))) => problems.push(format!("actix-web: server error: {err}")),
            Ok(Ok(Err(_))) => problems.push("actix-web: server thread panicked".to_owned()),
            Ok(Err(err)) => problems.push(format!("actix-web: join failed: {err}")),
            Err(_) => problems.push("actix-web: server thread did not end in time".to_owned()),
        }
        problems
    }
}

async fn start_axum()
-> Result<(SocketAddr, oneshot::Sender<()>, TaskHandle<io::Result<()>>), BoxError> {
    let listener = timeout(LIMIT, TcpListener::bind("127.0.0.1:0")).await??;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let server = axum::serve(listener, axum_app())
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        })
        .into_future();
    Ok((addr, stop, tokio::spawn(server)))
}

fn axum_app() -> axum::Router {
    let mut router = axum::Router::new();
    for (index, case) in CASES.iter().enumerate() {
        router = router.route(&path(index), axum_route(case));
    }
    router.layer(gateway_error::axum::GatewayErrorLayer::new(policy()))
}

/// `any()`: the route answers GET, HEAD and POST.
fn axum_route(case: &Case) -> axum::routing::MethodRouter {
    use axum::routing::any;
    match case.style {
        Style::Err => each_type!(case.failure.thrown(), e => any(move || {
            let e = e.clone();
            async move { Err::<String, _>(e) }
        })),
        Style::Reply => each_type!(case.failure.thrown(), e => any(move || {
            let e = e.clone();
            async move { e }
        })),
    }
}

async fn start_warp() -> Result<(SocketAddr, oneshot::Sender<()>, TaskHandle<()>), BoxError> {
    use warp::Filter as _;

    let listener = timeout(LIMIT, TcpListener::bind("127.0.0.1:0")).await??;
    let addr = listener.local_addr()?;
    let routes = warp::path!("case" / usize).and_then(warp_case);
    let app = gateway_error::warp::handle(routes, policy());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = warp::serve(app)
        .incoming(listener)
        .graceful(async {
            let _ = stopped.await;
        })
        .run();
    Ok((addr, stop, tokio::spawn(server)))
}

/// Route `/case/{n}`: row `n`'s error, rejected with
/// `warp::reject::custom` or returned as the reply.
async fn warp_case(index: usize) -> Result<warp::reply::Response, warp::Rejection> {
    let Some(case) = CASES.get(index) else {
        return Err(warp::reject::not_found());
    };
    match case.style {
        Style::Err => Err(each_type!(case.failure.thrown(), e => warp::reject::custom(e))),
        Style::Reply => Ok(each_type!(
            case.failure.thrown(),
            e => warp::Reply::into_response(e)
        )),
    }
}

type ActixStarted = io::Result<(SocketAddr, actix_web::dev::ServerHandle)>;

/// actix-web in its own thread, with its own system.
async fn start_actix() -> Result<
    (
        SocketAddr,
        actix_web::dev::ServerHandle,
        JoinHandle<io::Result<()>>,
    ),
    BoxError,
> {
    let (started, on_start) = oneshot::channel::<ActixStarted>();
    let thread = std::thread::Builder::new()
        .name("conformance-actix".to_owned())
        .spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let bound = actix_web::HttpServer::new(actix_app)
                    .workers(1)
                    .disable_signals()
                    .shutdown_timeout(1)
                    .bind(("127.0.0.1", 0));
                let server = match bound {
                    Ok(server) => server,
                    Err(err) => {
                        let _ = started.send(Err(err));
                        return Ok(());
                    }
                };
                let Some(&addr) = server.addrs().first() else {
                    let _ = started.send(Err(io::Error::other("no address bound")));
                    return Ok(());
                };
                let server = server.run();
                let _ = started.send(Ok((addr, server.handle())));
                server.await
            })
        })?;
    let (addr, handle) = timeout(LIMIT, on_start).await???;
    Ok((addr, handle, thread))
}

fn actix_app() -> actix_web::App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let mut app = actix_web::App::new().wrap(gateway_error::actix::GatewayErrors::new(policy()));
    for (index, case) in CASES.iter().enumerate() {
        app = app.service(actix_resource(index, case));
    }
    app
}

/// `web::resource(..).to(..)`: the route answers GET, HEAD and POST.
fn actix_resource(index: usize, case: &Case) -> actix_web::Resource {
    let resource = actix_web::web::resource(path(index));
    match case.style {
        Style::Err => each_type!(case.failure.thrown(), e => resource.to(move || {
            let e = e.clone();
            async move { Err::<String, _>(e) }
        })),
        Style::Reply => each_type!(case.failure.thrown(), e => resource.to(move || {
            let e = e.clone();
            async move { e }
        })),
    }
}
