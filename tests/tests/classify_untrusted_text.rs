//! No text that a client or an upstream controls changes the kind, the
//! status, the phase or the retry verdict of a classified upstream failure.
//!
//! reqwest's error text carries the request's URL (and after a redirect the
//! URL the upstream sent), so a path or a query full of `certificate`,
//! `ssl`, `tls`, `handshake`, `dns error` or `no such host` once turned a
//! timeout, a reset or a parse error into a DNS or TLS kind: a 502 that
//! says a POST may be retried, for a request that may have run (RFC 9110
//! sections 9.2.2 and 15.6.5).
//!
//! A real reqwest client talks to real misbehaving upstreams on 127.0.0.1:
//! the demo's hang, reset, refused and garbage servers, one that resets each
//! connection as soon as it is accepted, and one that redirects (307 and
//! 308, so a POST stays a POST) to such a path on those servers. Every
//! network step is bounded; the file runs in about a second.

use std::error::Error as StdError;
use std::future::{Future, Ready, ready};
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use gateway_demo::upstreams::{Scenario, Upstreams};
use gateway_error::{GatewayError, Phase, ProxyError, RenderContext, render};
use http::{HeaderMap, Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const UPSTREAM: &str = "product-service";
/// The upper bound on any single network step of this file.
const STEP: Duration = Duration::from_secs(5);
/// reqwest's total timeout: how long the hang upstream is waited for.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(400);

/// Paths and queries made of the words the old classifier read as DNS or
/// TLS failures.
const WORDY: [&str; 8] = [
    "/v1/certificates/42/renew",
    "/search?q=certificate",
    "/ssl/tls/handshake",
    "/tls?handshake=failed",
    "/dns%20error/lookup",
    "/hosts?err=no%20such%20host",
    "/failed%20to%20lookup%20address%20information",
    "/invalid%20peer%20certificate/ssl?q=tls%20handshake%20eof",
];

/// How an upstream fails, and what that must classify as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    /// Accepts, reads the request, never answers: reqwest's timeout fires.
    Hang,
    /// Reads the request, then resets the connection.
    ResetAfterSend,
    /// Resets each connection as soon as it is accepted, before reading.
    ResetOnAccept,
    /// Nothing listens.
    Refused,
    /// Answers bytes that are not HTTP.
    Garbage,
}

impl Failure {
    const ALL: [Self; 5] = [
        Self::Hang,
        Self::ResetAfterSend,
        Self::ResetOnAccept,
        Self::Refused,
        Self::Garbage,
    ];

    /// Kind, status, phase, and whether a POST may be retried (a GET always
    /// may: RFC 9110 section 9.2.2). Written out, not derived.
    const fn expected(self) -> (ProxyError, u16, Phase, bool) {
        match self {
            Self::Hang => (
                ProxyError::HttpResponseTimeout,
                504,
                Phase::MaybeSent,
                false,
            ),
            // Reset on accept: reqwest may see it while connecting or after
            // writing the request; either way the connection was
            // terminated, and nothing typed says the request was not sent.
            Self::ResetAfterSend | Self::ResetOnAccept => (
                ProxyError::ConnectionTerminated,
                502,
                Phase::MaybeSent,
                false,
            ),
            Self::Refused => (ProxyError::ConnectionRefused, 502, Phase::NotSent, true),
            Self::Garbage => (ProxyError::HttpProtocolError, 502, Phase::MaybeSent, false),
        }
    }
}

/// Runs `future`, failing the test if it takes longer than `limit`.
async fn bounded<F: Future>(what: &str, limit: Duration, future: F) -> F::Output {
    match tokio::time::timeout(limit, future).await {
        Ok(output) => output,
        Err(_) => panic!("{what}: took longer than {limit:?}"),
    }
}

/// An error and its sources, for assertion messages.
fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut out = format!("{error:?}");
    let mut next = error.source();
    while let Some(layer) = next {
        out.push_str("\n  caused by: ");
        out.push_str(&layer.to_string());
        next = layer.source();
    }
    out
}

/// An upstream on 127.0.0.1 that resets every connection it accepts before
/// reading anything. Ends with the test's runtime.
async fn reset_on_accept() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            // A zero linger turns the close into a TCP RST.
            let _ = stream.set_zero_linger();
            drop(stream);
        }
    });
    addr
}

/// An upstream on 127.0.0.1 that answers every request with `status` (307
/// or 308: the method and body are kept) and `Location: {target}{path}`,
/// where `path` is the request's own path and query after `/to`.
async fn redirector(status: u16, target: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(tokio::time::timeout(STEP, async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
                    let n = stream.read(&mut buf).await?;
                    if n == 0 {
                        return Ok(());
                    }
                    head.extend_from_slice(&buf[..n]);
                }
                let line = String::from_utf8_lossy(&head);
                let target_path = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|p| p.strip_prefix("/to"))
                    .unwrap_or("/")
                    .to_owned();
                let reason = if status == 307 {
                    "Temporary Redirect"
                } else {
                    "Permanent Redirect"
                };
                let response = format!(
                    "HTTP/1.1 {status} {reason}\r\nlocation: http://{target}{target_path}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                stream.write_all(response.as_bytes()).await?;
                stream.shutdown().await
            }));
        }
    });
    addr
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .no_proxy()
        .build()
        .expect("client")
}

/// The `"retryable"` member of the JSON body rendered for `method`.
fn rendered_retryable(err: &GatewayError, method: &Method) -> serde_json::Value {
    let headers = HeaderMap::new();
    let response = render(err, &RenderContext::from_request(method, &headers));
    let json: serde_json::Value =
        serde_json::from_slice(response.body()).expect("the rendered body is JSON");
    json["error"]["retryable"].clone()
}

/// Asserts everything the classification of `error` decides.
fn assert_exact(what: &str, failure: Failure, method: &Method, error: reqwest::Error) {
    let (kind, status, phase, post) = failure.expected();
    let what = format!("{what}: {}", chain(&error));
    let err = GatewayError::from_upstream_error(UPSTREAM, error);
    assert_eq!(err.kind(), Some(kind), "{what}");
    assert_eq!(err.status().as_u16(), status, "{what}");
    assert_eq!(err.phase(), Some(phase), "{what}");
    assert!(err.is_retryable(&Method::GET), "{what}");
    assert_eq!(err.is_retryable(&Method::POST), post, "{what}");
    let retryable = *method == Method::GET || post;
    assert_eq!(
        rendered_retryable(&err, method),
        serde_json::Value::Bool(retryable),
        "{what}"
    );
}

/// One request with `method` to `url`, which must fail.
async fn fail(client: &reqwest::Client, method: &Method, url: String) -> reqwest::Error {
    let request = client
        .request(method.clone(), &url)
        .body("{\"renew\":true}");
    bounded(&url.clone(), STEP, async move {
        match request.send().await {
            Ok(response) => match response.bytes().await {
                Ok(body) => panic!("{url}: unexpected success, {} bytes", body.len()),
                Err(e) => e,
            },
            Err(e) => e,
        }
    })
    .await
}

/// Every failure, GET and POST, at every wordy path and query: the kind
/// comes from the types in reqwest's chain, never from its URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wordy_paths_and_queries_never_change_the_classification() {
    let started = Instant::now();
    let upstreams = bounded("start", STEP, Upstreams::start())
        .await
        .expect("upstreams");
    let reset_early = reset_on_accept().await;
    let addr = |failure: Failure| match failure {
        Failure::Hang => upstreams.addr(Scenario::Hang),
        Failure::ResetAfterSend => upstreams.addr(Scenario::Reset),
        Failure::ResetOnAccept => reset_early,
        Failure::Refused => upstreams.addr(Scenario::Refused),
        Failure::Garbage => upstreams.addr(Scenario::Garbage),
    };
    let client = client();
    let calls = Failure::ALL.into_iter().flat_map(|failure| {
        let target = addr(failure);
        let client = &client;
        WORDY.into_iter().flat_map(move |path| {
            [Method::GET, Method::POST].map(move |method| async move {
                let error = fail(client, &method, format!("http://{target}{path}")).await;
                (failure, path, method, error)
            })
        })
    });
    let results = join_all(calls).await;
    assert_eq!(results.len(), Failure::ALL.len() * WORDY.len() * 2);
    for (failure, path, method, error) in results {
        assert_exact(
            &format!("{failure:?} {method} {path}"),
            failure,
            &method,
            error,
        );
    }
    eprintln!("wordy paths: {:?}", started.elapsed());
}

/// An upstream that redirects (307 and 308, so a POST stays a POST) to a
/// wordy path on a failing upstream: reqwest then reports the URL the
/// upstream sent; it still changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_to_wordy_paths_never_change_the_classification() {
    let started = Instant::now();
    let upstreams = bounded("start", STEP, Upstreams::start())
        .await
        .expect("upstreams");
    let client = client();
    let mut calls = Vec::new();
    for (failure, scenario) in [
        (Failure::Hang, Scenario::Hang),
        (Failure::ResetAfterSend, Scenario::Reset),
        (Failure::Refused, Scenario::Refused),
        (Failure::Garbage, Scenario::Garbage),
    ] {
        for status in [307, 308] {
            let from = redirector(status, upstreams.addr(scenario)).await;
            for path in [
                "/v1/certificates/42/renew",
                "/ssl/tls/handshake?q=certificate",
            ] {
                for method in [Method::GET, Method::POST] {
                    let client = &client;
                    calls.push(async move {
                        let error = fail(client, &method, format!("http://{from}/to{path}")).await;
                        (failure, status, path, method, error)
                    });
                }
            }
        }
    }
    let results = join_all(calls).await;
    assert_eq!(results.len(), 4 * 2 * 2 * 2);
    for (failure, status, path, method, error) in results {
        let what = format!("{failure:?} after {status} {method} {path}");
        // Where the failure came after the redirect was followed, reqwest's
        // error names the upstream's Location: the words are in the chain.
        if failure != Failure::Hang {
            let url = error.url().map(ToString::to_string).unwrap_or_default();
            assert!(
                url.ends_with(path),
                "{what}: reqwest reports the redirect's URL, {url}"
            );
        }
        assert_exact(&what, failure, &method, error);
    }
    eprintln!("redirects: {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------
// TLS by type: rustls's errors as reqwest's connector stack wraps them
// ---------------------------------------------------------------------------

/// A connector layer for reqwest whose connects fail the way a rustls
/// handshake fails under tokio-rustls: an `io::Error` of kind `InvalidData`
/// wrapping the `rustls::Error`. reqwest and hyper-util wrap it as they
/// wrap any connect failure.
#[derive(Clone)]
struct FailHandshake(fn() -> rustls::Error);

impl<S> tower_layer::Layer<S> for FailHandshake {
    type Service = FailingConnect<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FailingConnect(self.0, inner)
    }
}

#[derive(Clone)]
struct FailingConnect<S>(fn() -> rustls::Error, S);

impl<S, R> tower_service::Service<R> for FailingConnect<S>
where
    S: tower_service::Service<R>,
{
    type Response = S::Response;
    type Error = Box<dyn StdError + Send + Sync>;
    type Future = Ready<Result<S::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: R) -> Self::Future {
        ready(Err(Box::new(io::Error::new(
            io::ErrorKind::InvalidData,
            (self.0)(),
        ))))
    }
}

/// A handshake error is recognised by its type (feature `rustls`), whatever
/// the URL says: an alert under a path full of "certificate" is
/// `tls_alert_received`, a certificate error under a path full of "ssl"
/// and "handshake" is `tls_certificate_error`.
#[tokio::test]
async fn rustls_errors_in_reqwest_connects_are_recognised_by_type() {
    fn unknown_issuer() -> rustls::Error {
        rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
    }
    fn alert() -> rustls::Error {
        rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure)
    }
    fn misbehaved() -> rustls::Error {
        rustls::Error::PeerMisbehaved(rustls::PeerMisbehaved::TooMuchEarlyDataReceived)
    }
    /// A handshake error, the path, and the kind, phase and GET and POST
    /// verdicts it must give. A certificate error comes before anything is
    /// sent, but a retry gets the same certificate: retryable for neither.
    type Case = (
        fn() -> rustls::Error,
        &'static str,
        ProxyError,
        Phase,
        (bool, bool),
    );
    let cases: [Case; 3] = [
        (
            unknown_issuer,
            "/ssl/tls/handshake?q=no%20such%20host",
            ProxyError::TlsCertificateError,
            Phase::NotSent,
            (false, false),
        ),
        (
            alert,
            "/v1/certificates/42/renew",
            ProxyError::TlsAlertReceived,
            Phase::MaybeSent,
            (true, false),
        ),
        (
            misbehaved,
            "/certificate?dns%20error",
            ProxyError::TlsProtocolError,
            Phase::MaybeSent,
            (true, false),
        ),
    ];
    // Nothing listens there: the failing connector never opens a socket.
    let addr = SocketAddr::from(([127, 0, 0, 1], 9));
    for (make, path, kind, phase, (get, post)) in cases {
        let client = reqwest::Client::builder()
            .timeout(CLIENT_TIMEOUT)
            .no_proxy()
            .connector_layer(FailHandshake(make))
            .build()
            .expect("client");
        for method in [Method::GET, Method::POST] {
            let error = fail(&client, &method, format!("http://{addr}{path}")).await;
            assert!(error.is_connect(), "{}", chain(&error));
            let what = format!("{method} {path}: {}", chain(&error));
            let err = GatewayError::from_upstream_error(UPSTREAM, error);
            assert_eq!(err.kind(), Some(kind), "{what}");
            assert_eq!(err.status(), StatusCode::BAD_GATEWAY, "{what}");
            assert_eq!(err.phase(), Some(phase), "{what}");
            assert_eq!(err.is_retryable(&Method::GET), get, "{what}");
            assert_eq!(err.is_retryable(&Method::POST), post, "{what}");
            assert_eq!(
                rendered_retryable(&err, &method),
                serde_json::Value::Bool(if method == Method::GET { get } else { post }),
                "{what}"
            );
        }
    }
}
