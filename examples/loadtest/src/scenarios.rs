//! What the servers answer and what the client sends: the bench error, its
//! hand-built static twin, and the soak's scenarios, Accept fields and
//! request ids.

use std::io;
use std::sync::LazyLock;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use gateway_error::{
    BadGateway, GatewayError, GatewayTimeout, InternalServerError, Policy, ProxyError,
    RenderContext, ServiceUnavailable, X_REQUEST_ID, render,
};
use http::header::ACCEPT;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

/// The proxy name both policies put in `Proxy-Status`.
pub(crate) const PROXY_NAME: &str = "loadtest-gw";

/// The bench's policy: names this proxy, hides upstream names (the default).
pub(crate) fn bench_policy() -> Policy {
    Policy::new().with_proxy_name(PROXY_NAME)
}

/// The soak's policy: every policy feature on.
pub(crate) static SOAK_POLICY: LazyLock<Policy> = LazyLock::new(|| {
    Policy::new()
        .with_proxy_name(PROXY_NAME)
        .with_upstream_names(true)
        .with_problem_type_base("https://errors.example.com/")
});

/// The bench's error, as the issue states it.
pub(crate) fn bench_error() -> BadGateway {
    BadGateway::upstream("product-service")
        .with_kind(ProxyError::ConnectionRefused)
        .with_retry_after(Duration::from_secs(30))
}

/// The body of `/handrolled`: the JSON error a user writes by hand instead
/// of the library, with `json!`, built per request: the members of the
/// library's JSON envelope for the bench error, in `json!`'s key order.
pub(crate) fn handrolled_body(request_id: Option<&str>) -> serde_json::Value {
    serde_json::json!({
        "error": {
            "code": 502,
            "message": "Bad Gateway",
            "details": "The server could not reach the upstream server while trying to fulfill the request.",
            "kind": "connection_refused",
            "retryable": true,
            "retry_after": 30,
            "request_id": request_id,
        }
    })
}

/// The response `/static` serves: what the adapters render for the bench
/// request (`accept`, `request_id`, GET), built once, then cloned per request.
#[derive(Clone, Debug)]
pub(crate) struct Prebuilt {
    pub(crate) status: StatusCode,
    /// The renderer's headers plus the `x-request-id` echo the adapters add.
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Prebuilt {
    pub(crate) fn new(accept: Option<&str>, request_id: &str) -> Result<Self, crate::BoxError> {
        let mut request = HeaderMap::new();
        if let Some(accept) = accept {
            request.insert(ACCEPT, HeaderValue::from_str(accept)?);
        }
        let id = HeaderValue::from_str(request_id)?;
        request.insert(&X_REQUEST_ID, id.clone());
        let policy = bench_policy();
        let ctx = RenderContext::from_request(&Method::GET, &request).with_policy(&policy);
        let (parts, body) = render(&bench_error().into(), &ctx).into_parts();
        let mut headers = parts.headers;
        headers.insert(&X_REQUEST_ID, id);
        Ok(Self {
            status: parts.status,
            headers,
            body,
        })
    }
}

/// A route of the soak servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    BadGateway,
    GatewayTimeout,
    ServiceUnavailable,
    Internal,
    FromKind,
    Hostile,
    Ok,
    OkJson,
    OkBig,
    Missing,
}

impl Route {
    pub(crate) const ALL: [Route; 10] = [
        Route::BadGateway,
        Route::GatewayTimeout,
        Route::ServiceUnavailable,
        Route::Internal,
        Route::FromKind,
        Route::Hostile,
        Route::Ok,
        Route::OkJson,
        Route::OkBig,
        Route::Missing,
    ];

    pub(crate) fn path(self) -> &'static str {
        match self {
            Route::BadGateway => "/err/bad-gateway",
            Route::GatewayTimeout => "/err/gateway-timeout",
            Route::ServiceUnavailable => "/err/service-unavailable",
            Route::Internal => "/err/internal",
            Route::FromKind => "/err/from-kind",
            Route::Hostile => "/err/hostile",
            Route::Ok => "/ok",
            Route::OkJson => "/ok/json",
            Route::OkBig => "/ok/big",
            Route::Missing => "/missing",
        }
    }

    /// The gateway error the route answers with, if it is an error route.
    pub(crate) fn error(self) -> Option<GatewayError> {
        Some(match self {
            Route::BadGateway => bad_gateway().into(),
            Route::GatewayTimeout => gateway_timeout().into(),
            Route::ServiceUnavailable => service_unavailable().into(),
            Route::Internal => internal().into(),
            Route::FromKind => from_kind(),
            Route::Hostile => hostile().into(),
            Route::Ok | Route::OkJson | Route::OkBig | Route::Missing => return None,
        })
    }

    /// The success routes' status, content type and body.
    pub(crate) fn success(self) -> Option<(&'static str, &'static [u8])> {
        match self {
            Route::Ok => Some(("text/plain; charset=utf-8", b"ok")),
            Route::OkJson => Some(("application/json", br#"{"ok":true}"#)),
            Route::OkBig => Some(("text/plain; charset=utf-8", BIG.as_bytes())),
            _ => None,
        }
    }
}

/// A 16 KiB success body.
pub(crate) static BIG: LazyLock<String> = LazyLock::new(|| "0123456789abcdef".repeat(1024));

pub(crate) fn bad_gateway() -> BadGateway {
    BadGateway::upstream("product-service")
        .with_kind(ProxyError::ConnectionRefused)
        .with_retry_after(Duration::from_secs(30))
        .with_source(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "connect 10.0.3.7:8080 refused",
        ))
}

pub(crate) fn gateway_timeout() -> GatewayTimeout {
    GatewayTimeout::upstream("pricing").with_kind(ProxyError::HttpResponseTimeout)
}

pub(crate) fn service_unavailable() -> ServiceUnavailable {
    ServiceUnavailable::upstream("search")
        .with_details("Search is being reindexed.")
        .with_retry_after(UNIX_EPOCH + Duration::from_secs(1_900_000_000))
}

pub(crate) fn internal() -> InternalServerError {
    InternalServerError::new().with_details("The gateway's route table is invalid.")
}

pub(crate) fn from_kind() -> GatewayError {
    GatewayError::from_kind("inventory", ProxyError::ConnectionTimeout)
        .with_next_hop("10.0.0.7:8080")
}

/// Markup, CR/LF, NUL, quotes and non-ASCII in every field that reaches a
/// client, and an upstream `Proxy-Status` with a member to drop.
pub(crate) fn hostile() -> BadGateway {
    BadGateway::upstream("evil\"<svc>\r\nx-injected: 1")
        .with_details("<script>alert('x')</script>\0\r\nX-Injected: yes \u{2014} \u{fc} \u{ffff}")
        .with_received_status(StatusCode::BAD_GATEWAY)
        .with_upstream_proxy_status(HeaderValue::from_static(
            "inner-lb; error=connection_timeout, \"10.0.0.1\", (bad list)",
        ))
        .with_request_id("own\r\nid <b>")
}

/// The soak's Accept variants: each a list of field values (none, one or two).
pub(crate) const ACCEPTS: [(&str, &[&str]); 8] = [
    ("json", &["application/json"]),
    ("problem+json", &["application/problem+json"]),
    ("html", &["text/html"]),
    ("text", &["text/plain"]),
    (
        "browser",
        &[
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8",
        ],
    ),
    ("none", &[]),
    ("unacceptable", &["image/png"]),
    (
        "two fields",
        &["text/plain;q=0.5", "application/problem+json"],
    ),
];

/// The soak's methods.
pub(crate) const METHODS: [Method; 3] = [Method::GET, Method::HEAD, Method::POST];

/// The four content types an error response may have.
pub(crate) const ERROR_CONTENT_TYPES: [&str; 4] = [
    "application/json",
    "application/problem+json",
    "text/html; charset=utf-8",
    "text/plain; charset=utf-8",
];

/// How a soak request identifies itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RequestId {
    /// A valid id, which must be echoed.
    Valid(String),
    /// No `x-request-id`: the adapter generates one.
    Absent,
    /// An invalid one (space, too long): the adapter replaces it.
    Invalid(String),
}

impl RequestId {
    pub(crate) fn for_request(framework: &str, i: u64) -> Self {
        if i % 10 == 3 {
            RequestId::Absent
        } else if i % 17 == 5 {
            RequestId::Invalid(format!("bad id {i}"))
        } else if i % 29 == 7 {
            RequestId::Invalid("x".repeat(129))
        } else {
            RequestId::Valid(format!("soak-{framework}-{i}"))
        }
    }
}

/// splitmix64: the soak's deterministic mix.
pub(crate) fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The soak's request number `i`: route, Accept variant, method, id.
#[derive(Clone, Debug)]
pub(crate) struct SoakRequest {
    pub(crate) route: Route,
    pub(crate) accept: usize,
    pub(crate) method: Method,
    pub(crate) id: RequestId,
}

impl SoakRequest {
    pub(crate) fn new(framework: &str, i: u64) -> Self {
        let r = mix(i);
        let routes = Route::ALL.len() as u64;
        let accepts = ACCEPTS.len() as u64;
        let methods = METHODS.len() as u64;
        Self {
            route: Route::ALL[(r % routes) as usize],
            accept: ((r / routes) % accepts) as usize,
            method: METHODS[((r / routes / accepts) % methods) as usize].clone(),
            id: RequestId::for_request(framework, i),
        }
    }

    /// The request's bytes.
    pub(crate) fn encode(&self, host: &str) -> Vec<u8> {
        let mut out = format!(
            "{} {} HTTP/1.1\r\nhost: {host}\r\n",
            self.method,
            self.route.path()
        );
        for value in ACCEPTS[self.accept].1 {
            out.push_str("accept: ");
            out.push_str(value);
            out.push_str("\r\n");
        }
        match &self.id {
            RequestId::Valid(id) | RequestId::Invalid(id) => {
                out.push_str("x-request-id: ");
                out.push_str(id);
                out.push_str("\r\n");
            }
            RequestId::Absent => {}
        }
        if self.method == Method::POST {
            out.push_str("content-type: application/x-www-form-urlencoded\r\n");
            out.push_str("content-length: 11\r\n\r\nhello=world");
        } else {
            out.push_str("\r\n");
        }
        out.into_bytes()
    }

    /// The request's `Accept` fields as the adapters see them.
    pub(crate) fn accept_headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in ACCEPTS[self.accept].1 {
            headers.append(ACCEPT, HeaderValue::from_static(value));
        }
        headers
    }
}
