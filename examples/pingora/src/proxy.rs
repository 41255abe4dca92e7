//! A pingora gateway whose failures are answered as gateway-error answers
//! them: the same status, headers and body as the axum, actix-web and warp
//! adapters give, for the request's `Accept`, method and `x-request-id`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;
use gateway_error::pipeline::Pipeline;
use gateway_error::{BadGateway, GatewayError, Policy, pingora};
use pingora_core::server::Server;
use pingora_core::server::configuration::ServerConf;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_error::{Error, ErrorType, Result};
use pingora_http::ResponseHeader;
use pingora_proxy::{FailToProxy, ProxyHttp, Session, http_proxy_service};

/// The gateway's name in `Proxy-Status`.
pub const NAME: &str = "gateway-demo";
/// The name the gateway gives every upstream in its errors.
pub const UPSTREAM: &str = "product-service";
/// How long the gateway waits to connect to an upstream.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long the gateway waits for each read from, or write to, an upstream.
pub const TIMEOUT: Duration = Duration::from_secs(1);

/// The gateway: a request path to the upstream that serves it.
pub struct Gateway {
    routes: HashMap<String, SocketAddr>,
    pipeline: Pipeline,
}

impl Gateway {
    /// A gateway forwarding each path of `routes` to its upstream, answering
    /// its failures under `policy`.
    pub fn new(routes: HashMap<String, SocketAddr>, policy: Policy) -> Self {
        Self {
            routes,
            pipeline: Pipeline::new(policy),
        }
    }
}

/// What one request's hooks learn about it.
#[derive(Default)]
pub struct Context {
    /// The upstream's address, once chosen.
    next_hop: Option<String>,
    /// A failure the gateway decided itself (no route, an upstream's 5xx):
    /// it wins over the error pingora hands to `fail_to_proxy`.
    failure: Option<GatewayError>,
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = Context;

    fn new_ctx(&self) -> Context {
        Context::default()
    }

    async fn upstream_peer(
        &self,
        session: &mut Session,
        ctx: &mut Context,
    ) -> Result<Box<HttpPeer>> {
        let Some(&addr) = self.routes.get(session.req_header().uri.path()) else {
            let error = BadGateway::upstream(UPSTREAM).with_details("No such upstream scenario.");
            ctx.failure = Some(error.into());
            return Error::e_explain(ErrorType::HTTPStatus(502), "no route");
        };
        ctx.next_hop = Some(addr.to_string());
        let mut peer = HttpPeer::new(addr, false, String::new());
        peer.options.connection_timeout = Some(CONNECT_TIMEOUT);
        peer.options.read_timeout = Some(TIMEOUT);
        peer.options.write_timeout = Some(TIMEOUT);
        Ok(Box::new(peer))
    }

    /// An upstream's 5xx is answered as the gateway's own error: a 503
    /// keeps its `Retry-After`, the upstream's `Proxy-Status` is appended to.
    async fn response_filter(
        &self,
        _session: &mut Session,
        upstream: &mut ResponseHeader,
        ctx: &mut Context,
    ) -> Result<()> {
        if upstream.status.is_server_error() {
            let error =
                GatewayError::from_upstream_response(UPSTREAM, upstream.status, &upstream.headers);
            ctx.failure = Some(error);
            return Error::e_explain(ErrorType::HTTPStatus(502), "upstream error status");
        }
        Ok(())
    }

    fn fail_to_connect(
        &self,
        session: &mut Session,
        _peer: &HttpPeer,
        _ctx: &mut Context,
        mut e: Box<Error>,
    ) -> Box<Error> {
        pingora::decide_retry(&mut e, &session.req_header().method, false);
        e
    }

    fn error_while_proxy(
        &self,
        _peer: &HttpPeer,
        session: &mut Session,
        mut e: Box<Error>,
        _ctx: &mut Context,
        client_reused: bool,
    ) -> Box<Error> {
        if session.as_ref().retry_buffer_truncated() {
            e.set_retry(false);
        }
        pingora::decide_retry(&mut e, &session.req_header().method, client_reused);
        e
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut Context,
    ) -> FailToProxy {
        let Some(mut error) = ctx.failure.take().or_else(|| GatewayError::from_pingora(e)) else {
            // Not a gateway error (the client's own failure): pingora's answer.
            let code = pingora::plain_status(e);
            if code > 0 {
                let _ = session.respond_error(code).await;
            }
            return FailToProxy {
                error_code: code,
                can_reuse_downstream: false,
            };
        };
        if error.upstream_name().is_none() {
            error = error.with_upstream(UPSTREAM);
        }
        if let Some(next_hop) = &ctx.next_hop {
            error = error.with_next_hop(next_hop.clone());
        }
        let (header, body) = pingora::error_response(error, session.req_header(), &self.pipeline);
        let code = header.status.as_u16();
        // Writes nothing when the upstream's response head was already sent.
        let _ = session.write_error_response(header, body).await;
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }
}

/// A pingora server running `gateway` on `listen` (e.g. `127.0.0.1:6188`):
/// call `run_forever` on it.
pub fn server(listen: &str, gateway: Gateway) -> Server {
    let conf = ServerConf {
        threads: 1,
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut service = http_proxy_service(&server.configuration, gateway);
    service.add_tcp(listen);
    server.add_service(service);
    server
}
