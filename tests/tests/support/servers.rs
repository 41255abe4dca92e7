//! One start-up per framework for the conformance suites (`conformance.rs`,
//! `pipeline_conformance.rs`): a server on `127.0.0.1:0` serving the app it
//! is given, and a stop that waits for it to end. Every step is bounded by
//! [`LIMIT`].
//!
//! axum, warp and tower services (a warp app under the layer, through
//! hyper-util) run as tasks of the test's tokio runtime, with graceful
//! shutdown; actix-web runs in a thread of its own, with its own system and
//! one worker.
//!
//! Included by each suite with `#[path = "support/servers.rs"] mod servers;`
//! (a directory without `main.rs` is no test target of its own).

use std::future::IntoFuture as _;
use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle as TaskHandle;
use tokio::time::timeout;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Each start and each step of a stop is bounded by this.
pub(crate) const LIMIT: Duration = Duration::from_secs(10);

/// A running server: where it listens and how to stop it.
pub(crate) struct Running {
    addr: SocketAddr,
    stop: Stop,
}

enum Stop {
    /// axum, warp, tower: a graceful-shutdown signal and the serving task.
    Task(oneshot::Sender<()>, TaskHandle<io::Result<()>>),
    /// actix-web: its server handle and its thread.
    Thread(actix_web::dev::ServerHandle, JoinHandle<io::Result<()>>),
}

impl Running {
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server (send nothing to it afterwards) and waits for it to
    /// end, each step within [`LIMIT`].
    ///
    /// # Errors
    ///
    /// What did not end cleanly: a server error, a panic, or a step that
    /// did not finish in time.
    pub(crate) async fn stop(self) -> Result<(), String> {
        match self.stop {
            Stop::Task(signal, task) => {
                let _ = signal.send(());
                match timeout(LIMIT, task).await {
                    Ok(Ok(Ok(()))) => Ok(()),
                    Ok(Ok(Err(err))) => Err(format!("server error: {err}")),
                    Ok(Err(err)) => Err(format!("server task failed: {err}")),
                    Err(_) => Err("graceful shutdown did not finish in time".to_owned()),
                }
            }
            Stop::Thread(handle, thread) => {
                if timeout(LIMIT, handle.stop(true)).await.is_err() {
                    return Err("stop() did not finish in time".to_owned());
                }
                let joined = tokio::task::spawn_blocking(move || thread.join());
                match timeout(LIMIT, joined).await {
                    Ok(Ok(Ok(Ok(())))) => Ok(()),
                    Ok(Ok(Ok(Err(err)))) => Err(format!("server error: {err}")),
                    Ok(Ok(Err(_))) => Err("server thread panicked".to_owned()),
                    Ok(Err(err)) => Err(format!("join failed: {err}")),
                    Err(_) => Err("server thread did not end in time".to_owned()),
                }
            }
        }
    }
}

/// Binds `127.0.0.1:0` and spawns `serve(listener, shutdown)` on the
/// current tokio runtime; `shutdown` completes when [`Running::stop`] is
/// called.
async fn spawn_task<F, Fut>(serve: F) -> Result<Running, BoxError>
where
    F: FnOnce(TcpListener, Shutdown) -> Fut,
    Fut: Future<Output = io::Result<()>> + Send + 'static,
{
    let listener = timeout(LIMIT, TcpListener::bind("127.0.0.1:0")).await??;
    let addr = listener.local_addr()?;
    let (signal, stopped) = oneshot::channel::<()>();
    let shutdown = async {
        let _ = stopped.await;
    };
    let task = tokio::spawn(serve(listener, Box::pin(shutdown)));
    Ok(Running {
        addr,
        stop: Stop::Task(signal, task),
    })
}

/// The graceful-shutdown signal handed to a tokio-based server.
type Shutdown = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// Serves `app` with `axum::serve`.
pub(crate) async fn axum(app: axum::Router) -> Result<Running, BoxError> {
    spawn_task(|listener, shutdown| {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .into_future()
    })
    .await
}

/// Serves `app` with `warp::serve`.
///
/// The filter is boxed (its reply made a `Response` first, as warp does),
/// so that the server future has one concrete type.
pub(crate) async fn warp<F, R>(app: F) -> Result<Running, BoxError>
where
    F: warp::Filter<Extract = (R,), Error = warp::Rejection> + Clone + Send + Sync + 'static,
    R: warp::Reply + Send + 'static,
{
    use warp::Filter as _;

    let app = app.map(warp::Reply::into_response).boxed();
    spawn_task(|listener, shutdown| {
        // Not an async block around `run()`: with one, rustc cannot show
        // the task `Send` (a higher-ranked lifetime inside warp's future).
        futures_util::FutureExt::map(
            warp::serve(app).incoming(listener).graceful(shutdown).run(),
            Ok,
        )
    })
    .await
}

/// Serves warp's `app` under the one tower layer running `pipeline`
/// (`GatewayErrorLayer` around `warp::service(app)`), with hyper-util
/// ([`tower`]).
///
/// The filter is boxed (its reply made a `Response` first, as warp does),
/// so that its future is `Send` as hyper-util's tasks need.
pub(crate) async fn warp_layered<F, R>(
    pipeline: gateway_error::pipeline::Pipeline,
    app: F,
) -> Result<Running, BoxError>
where
    F: warp::Filter<Extract = (R,), Error = warp::Rejection> + Clone + Send + Sync + 'static,
    R: warp::Reply + Send + 'static,
{
    use tower_layer::Layer as _;
    use warp::Filter as _;

    let app = app.map(warp::Reply::into_response).boxed();
    tower(gateway_error::warp::GatewayErrorLayer::new(pipeline).layer(warp::service(app))).await
}

/// Serves a tower `service` (a warp app under the layer) with hyper-util,
/// as `warp::serve` serves a filter: HTTP/1 and HTTP/2 (hyper-util's `auto`
/// builder), one task per connection, graceful shutdown.
pub(crate) async fn tower<S, B>(service: S) -> Result<Running, BoxError>
where
    S: tower_service::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto;
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let service = TowerToHyperService::new(service);
    spawn_task(|listener, mut shutdown| async move {
        let graceful = GracefulShutdown::new();
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => {
                    let (stream, _) = accepted?;
                    let service = service.clone();
                    let watcher = graceful.watcher();
                    tokio::spawn(async move {
                        let builder = auto::Builder::new(TokioExecutor::new());
                        let connection = builder
                            .serve_connection_with_upgrades(TokioIo::new(stream), service);
                        // A client that goes away is not the server's failure.
                        let _ = watcher.watch(connection).await;
                    });
                }
            }
        }
        drop(listener);
        graceful.shutdown().await;
        Ok(())
    })
    .await
}

type ActixStarted = io::Result<(SocketAddr, actix_web::dev::ServerHandle)>;

/// Serves the apps `factory` makes with an `actix_web::HttpServer` of one
/// worker, in a thread named `thread` with its own actix system.
pub(crate) async fn actix<F, T, B>(thread: &str, factory: F) -> Result<Running, BoxError>
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
    let (started, on_start) = oneshot::channel::<ActixStarted>();
    let thread = std::thread::Builder::new()
        .name(thread.to_owned())
        .spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let bound = actix_web::HttpServer::new(factory)
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
    Ok(Running {
        addr,
        stop: Stop::Thread(handle, thread),
    })
}
