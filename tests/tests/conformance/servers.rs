//! The servers, each serving route `/case/{n}` for every row of the table
//! under the one policy, on `127.0.0.1:0`, started and stopped by the
//! conformance suites' shared harness (`support/servers.rs`): axum,
//! actix-web, and warp twice: its routes under the one tower layer (served
//! by hyper-util), and the same routes with `warp::serve` alone.

use std::net::SocketAddr;

use gateway_error::pipeline::Pipeline;

use crate::BoxError;
use crate::harness::{self, Running};
use crate::table::{CASES, Case, Style, each_type, path, policy};

/// The frameworks under test, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framework {
    Axum,
    Actix,
    /// warp under the one tower layer.
    Warp,
    /// warp with `warp::serve` and `handle` alone.
    WarpServe,
}

impl Framework {
    pub(crate) const ALL: [Self; 4] = [Self::Axum, Self::Actix, Self::Warp, Self::WarpServe];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Axum => "axum",
            Self::Actix => "actix-web",
            Self::Warp => "warp",
            Self::WarpServe => "warp::serve",
        }
    }
}

/// The running servers.
pub(crate) struct Servers {
    axum: Running,
    actix: Running,
    warp: Running,
    warp_serve: Running,
}

impl Servers {
    /// Starts the servers, with the pipeline's one shortcut (a handler's
    /// error rendered for the request while the adapter polls it) on or
    /// off.
    pub(crate) async fn start(render_in_handler: bool) -> Result<Self, BoxError> {
        let pipeline = Pipeline::new(policy()).with_render_in_handler(render_in_handler);
        let axum = harness::axum(axum_app(pipeline.clone())).await?;
        let warp = harness::warp_layered(pipeline.clone(), warp_app(pipeline.clone())).await?;
        let warp_serve = harness::warp(warp_app(pipeline.clone())).await?;
        let actix =
            harness::actix("conformance-actix", move || actix_app(pipeline.clone())).await?;
        Ok(Self {
            axum,
            actix,
            warp,
            warp_serve,
        })
    }

    pub(crate) fn addr(&self, framework: Framework) -> SocketAddr {
        match framework {
            Framework::Axum => self.axum.addr(),
            Framework::Actix => self.actix.addr(),
            Framework::Warp => self.warp.addr(),
            Framework::WarpServe => self.warp_serve.addr(),
        }
    }

    /// Stops the servers (after the client is dropped), each within
    /// the harness's limits; reports the ones that did not stop cleanly.
    pub(crate) async fn stop(self) -> Vec<String> {
        let mut problems = Vec::new();
        for (framework, server) in [
            (Framework::Axum, self.axum),
            (Framework::Warp, self.warp),
            (Framework::WarpServe, self.warp_serve),
            (Framework::Actix, self.actix),
        ] {
            if let Err(problem) = server.stop().await {
                problems.push(format!("{}: {problem}", framework.name()));
            }
        }
        problems
    }
}

fn axum_app(pipeline: Pipeline) -> axum::Router {
    let mut router = axum::Router::new();
    for (index, case) in CASES.iter().enumerate() {
        router = router.route(&path(index), axum_route(case));
    }
    router.layer(gateway_error::axum::GatewayErrorLayer::new(pipeline))
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

fn warp_app(
    pipeline: Pipeline,
) -> impl warp::Filter<Extract = (warp::reply::Response,), Error = warp::Rejection>
+ Clone
+ Send
+ Sync
+ 'static {
    use warp::Filter as _;

    let routes = warp::path!("case" / usize).and_then(warp_case);
    gateway_error::warp::Handle::new(pipeline).wrap(routes)
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

fn actix_app(
    pipeline: Pipeline,
) -> actix_web::App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let mut app = actix_web::App::new().wrap(gateway_error::actix::GatewayErrors::new(pipeline));
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
