//! Micro benchmarks for one typical 502, in one run: ours (construct, the
//! four formats and a gRPC caller's answer, `Accept` negotiation,
//! `RenderContext::from_request`,
//! `parse` of the JSON and problem+json responses), the peers rendering the
//! same 502 as problem+json (`http-api-problem`, `problem_details`, a
//! hand-written `json!` envelope) and deserialising it with
//! `serde_json::from_slice`, and the floor (a prebuilt static response,
//! cloned).
//!
//! Run with `cargo bench -p gateway-error-core --bench render`. Before
//! criterion measures time, every operation runs 10,000 times under a
//! counting global allocator; after it, a table joins criterion's medians
//! with the allocations and bytes per operation. With
//! `GATEWAY_ERROR_BENCH_REPEAT=<group>/<name>:<count>` set it only repeats
//! that one operation, for instruction counts under callgrind. See
//! `BENCHMARKS.md`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use criterion::Criterion;
use gateway_error_core::{
    BadGateway, Format, GatewayError, Policy, ProxyError, RenderContext, parse, render,
};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};

/// Operations per allocation count.
const COUNTED_OPS: u64 = 10_000;

/// The `Accept` header a current desktop browser sends for a navigation.
const BROWSER_ACCEPT: &[u8] =
    b"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

const UPSTREAM: &str = "product-service";
const DETAILS: &str = "The product catalog is unreachable.";
const REQUEST_ID: &str = "req-42";
const KIND: &str = "connection_refused";
const RETRY_SECS: u32 = 30;

/// A counting global allocator: [`System`](std::alloc::System) plus two
/// counters that move only while counting is switched on, so criterion's
/// timing loops pay one relaxed load per allocation and nothing more.
#[allow(unsafe_code)]
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

    static ON: AtomicBool = AtomicBool::new(false);
    static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
    static BYTES: AtomicU64 = AtomicU64::new(0);

    /// Counts every `alloc`, `alloc_zeroed` and `realloc` (a `realloc`
    /// counts as one allocation of its new size), never a `dealloc`.
    pub(crate) struct Counting;

    fn count(size: usize) {
        if ON.load(Relaxed) {
            ALLOCATIONS.fetch_add(1, Relaxed);
            BYTES.fetch_add(size as u64, Relaxed);
        }
    }

    // SAFETY: every call is forwarded unchanged to `System`; the counters
    // are atomics and never allocate.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            count(layout.size());
            // SAFETY: the caller's contract is `System`'s.
            unsafe { System.alloc(layout) }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            count(layout.size());
            // SAFETY: as above.
            unsafe { System.alloc_zeroed(layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            count(new_size);
            // SAFETY: as above.
            unsafe { System.realloc(ptr, layout, new_size) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: as above.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    /// Allocations and bytes per call of `op`, over `n` calls on this
    /// thread (nothing else runs while counting).
    pub(crate) fn per_op<T>(n: u64, mut op: impl FnMut() -> T) -> (f64, f64) {
        // Warm up first: lazy statics and thread-locals allocate once.
        for _ in 0..100 {
            drop(std::hint::black_box(op()));
        }
        ALLOCATIONS.store(0, Relaxed);
        BYTES.store(0, Relaxed);
        ON.store(true, Relaxed);
        for _ in 0..n {
            drop(std::hint::black_box(op()));
        }
        ON.store(false, Relaxed);
        let per = |total: u64| total as f64 / n as f64;
        (per(ALLOCATIONS.load(Relaxed)), per(BYTES.load(Relaxed)))
    }
}

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

/// One benchmarked operation's row in the summary.
struct Row {
    group: &'static str,
    name: &'static str,
    /// Whether the operation builds an `http::Response` (so it has a
    /// `HeaderMap` whose two allocations the counting rule sets apart).
    response: bool,
    allocations: f64,
    bytes: f64,
}

/// Runs the operations: counts each one's allocations, then has criterion
/// time it; or, with [`REPEAT_VAR`] set, only repeats the one it names.
struct Runner {
    criterion: Criterion,
    rows: Vec<Row>,
    repeat: Option<(String, u64)>,
}

/// `GATEWAY_ERROR_BENCH_REPEAT=ours/render_json:10000` runs that operation
/// 10,000 times and nothing else: for instruction counts under callgrind.
const REPEAT_VAR: &str = "GATEWAY_ERROR_BENCH_REPEAT";

impl Runner {
    fn new() -> Self {
        let repeat = std::env::var(REPEAT_VAR).ok().map(|value| {
            let (id, n) = value.rsplit_once(':').unwrap_or((&value, "10000"));
            (id.to_owned(), n.parse().expect("a count after `:`"))
        });
        Self {
            criterion: Criterion::default().configure_from_args(),
            rows: Vec::new(),
            repeat,
        }
    }

    fn bench<T>(
        &mut self,
        (group, name, response): (&'static str, &'static str, bool),
        mut op: impl FnMut() -> T,
    ) {
        if let Some((id, n)) = &self.repeat {
            if *id == format!("{group}/{name}") {
                for _ in 0..*n {
                    drop(black_box(op()));
                }
            }
            return;
        }
        let (allocations, bytes) = counting::per_op(COUNTED_OPS, &mut op);
        self.rows.push(Row {
            group,
            name,
            response,
            allocations,
            bytes,
        });
        self.criterion
            .benchmark_group(group)
            .bench_function(name, |b| b.iter(&mut op));
    }
}

/// The typical error of the benchmark; every input goes through
/// `black_box` so nothing is folded at compile time.
fn typical() -> GatewayError {
    BadGateway::upstream(black_box(UPSTREAM))
        .with_kind(black_box(ProxyError::ConnectionRefused))
        .with_details(black_box(DETAILS))
        .with_retry_after(black_box(Duration::from_secs(u64::from(RETRY_SECS))))
        .with_request_id(black_box(REQUEST_ID))
        .into()
}

/// The problem+json extension members, typed: the cheapest way to give
/// `problem_details` its extensions.
#[derive(serde::Serialize)]
struct Extensions<'a> {
    upstream: &'a str,
    kind: &'a str,
    retryable: bool,
    retry_after: u32,
    request_id: &'a str,
}

/// The response the peers are given: the serialized body, its
/// `Content-Type` and `Content-Length`.
fn problem_response(status: StatusCode, body: Vec<u8>) -> Response<Bytes> {
    let len = body.len();
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    response
}

fn http_api_problem() -> Response<Bytes> {
    use http_api_problem::HttpApiProblem;
    let problem = HttpApiProblem::new(StatusCode::BAD_GATEWAY)
        .type_url(black_box("about:blank"))
        .title(black_box("Bad Gateway"))
        .detail(black_box(DETAILS))
        .instance(black_box("#req-42"))
        .value("upstream", &black_box(UPSTREAM))
        .value("kind", &black_box(KIND))
        .value("retryable", &black_box(true))
        .value("retry_after", &black_box(RETRY_SECS))
        .value("request_id", &black_box(REQUEST_ID));
    let status = problem.status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    problem_response(status, problem.json_bytes())
}

fn problem_details() -> Response<Bytes> {
    use problem_details::{ProblemDetails, ProblemType};
    // `instance` is an `http::Uri`, which cannot hold the fragment-only
    // `#req-42`: a path of the same shape stands in for it.
    let problem = ProblemDetails::new()
        .with_type(ProblemType::default())
        .with_status(StatusCode::BAD_GATEWAY)
        .with_title(black_box("Bad Gateway"))
        .with_detail(black_box(DETAILS))
        .with_instance(http::Uri::from_static(black_box("/requests/req-42")))
        .with_extensions(Extensions {
            upstream: black_box(UPSTREAM),
            kind: black_box(KIND),
            retryable: black_box(true),
            retry_after: black_box(RETRY_SECS),
            request_id: black_box(REQUEST_ID),
        });
    let body = serde_json::to_vec(&problem).expect("serializable");
    problem_response(problem.status.unwrap_or_default(), body)
}

/// `problem_details` again, given the four headers ours sends beyond
/// `Content-Type` and `Content-Length`, built the way users build them.
fn problem_details_same_headers() -> Response<Bytes> {
    use http::header::{CACHE_CONTROL, RETRY_AFTER, VARY};
    let mut response = problem_details();
    let proxy_status = format!(
        "gateway-demo;error={};next-hop=\"{}\"",
        black_box(KIND),
        black_box(UPSTREAM)
    );
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(VARY, HeaderValue::from_static("accept"));
    headers.insert(RETRY_AFTER, HeaderValue::from(black_box(RETRY_SECS)));
    headers.insert(
        HeaderName::from_static("proxy-status"),
        HeaderValue::from_str(&proxy_status).expect("visible ASCII"),
    );
    response
}

/// What users hand-roll: a `json!` envelope and the response builder.
fn json_macro_envelope() -> Response<Bytes> {
    let body = serde_json::json!({
        "error": {
            "code": 502,
            "message": "Bad Gateway",
            "details": black_box(DETAILS),
            "upstream": black_box(UPSTREAM),
            "kind": black_box(KIND),
            "retryable": black_box(true),
            "retry_after": black_box(RETRY_SECS),
            "request_id": black_box(REQUEST_ID),
        }
    });
    let body = serde_json::to_vec(&body).expect("serializable");
    Response::builder()
        .status(StatusCode::BAD_GATEWAY)
        .header(CONTENT_TYPE, "application/json")
        .header(CONTENT_LENGTH, body.len())
        .body(Bytes::from(body))
        .expect("valid response")
}

/// A browser navigation's request headers.
fn browser_request() -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("host", "shop.example.com"),
        (
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        ),
        (
            "accept",
            std::str::from_utf8(BROWSER_ACCEPT).expect("ascii"),
        ),
        ("accept-language", "en-US,en;q=0.9"),
        ("accept-encoding", "gzip, deflate, br, zstd"),
        ("cookie", "session=9f2c1e7a4b; theme=dark"),
        ("sec-fetch-dest", "document"),
        ("sec-fetch-mode", "navigate"),
        ("upgrade-insecure-requests", "1"),
        ("x-request-id", REQUEST_ID),
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).expect("valid header"),
        );
    }
    headers
}

/// The floor: `response`'s bytes and headers, prebuilt once as static
/// values, so that a clone copies only the `HeaderMap`.
fn prebuilt(response: &Response<Bytes>) -> (&'static [u8], HeaderMap) {
    let body: &'static [u8] = Box::leak(response.body().to_vec().into_boxed_slice());
    let mut headers = HeaderMap::new();
    for (name, value) in response.headers() {
        let value: &'static str = Box::leak(Box::from(value.to_str().expect("ascii")));
        headers.append(name, HeaderValue::from_static(value));
    }
    (body, headers)
}

/// The problem+json bodies must say the same thing, or the comparison is
/// unfair: same members, same values (`instance` aside, see above).
fn assert_same_problem(ours: &[u8], theirs: &[u8], peer: &str) {
    let parse = |body: &[u8]| {
        let mut value: serde_json::Value = serde_json::from_slice(body).expect("json");
        value.as_object_mut().expect("an object").remove("instance");
        value
    };
    assert_eq!(parse(ours), parse(theirs), "{peer} renders another 502");
}

/// Where criterion keeps its estimates: as criterion decides it.
fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    // The bench runs as <target>/<profile>/deps/render-<hash>.
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors()
                .nth(3)
                .map(|target| target.join("criterion"))
        })
        .unwrap_or_else(|| PathBuf::from("target/criterion"))
}

/// The median criterion measured in this run, in nanoseconds.
fn median_ns(home: &std::path::Path, row: &Row, since: SystemTime) -> Option<f64> {
    let path = home
        .join(row.group)
        .join(row.name)
        .join("new")
        .join("estimates.json");
    let fresh = std::fs::metadata(&path).ok()?.modified().ok()? >= since;
    let estimates: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    fresh.then(|| estimates["median"]["point_estimate"].as_f64())?
}

fn summary(rows: &[Row], since: SystemTime) {
    let home = criterion_home();
    let times: Vec<Option<f64>> = rows.iter().map(|r| median_ns(&home, r, since)).collect();
    let find = |name: &str| rows.iter().position(|r| r.name == name);
    let floor = find("static_clone");
    let floor_ns = floor.and_then(|i| times[i]);
    let floor_allocations = floor.map_or(2.0, |i| rows[i].allocations);

    println!();
    println!(
        "Allocations: {COUNTED_OPS} operations each, counted outside criterion's timing loops."
    );
    println!(
        "Beyond HeaderMap: allocations minus the floor's ({floor_allocations}), the cost of any response's HeaderMap."
    );
    println!();
    println!("| operation | median ns | allocations/op | beyond HeaderMap | bytes/op | × floor |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (row, ns) in rows.iter().zip(&times) {
        let ns_text = ns.map_or_else(|| "n/a".to_owned(), |ns| format!("{ns:.0}"));
        let beyond = if row.response {
            format!("{}", row.allocations - floor_allocations)
        } else {
            "-".to_owned()
        };
        let ratio = match (ns, floor_ns) {
            (Some(ns), Some(floor)) => format!("{:.2}", ns / floor),
            _ => "n/a".to_owned(),
        };
        println!(
            "| {}/{} | {ns_text} | {} | {beyond} | {:.0} | {ratio} |",
            row.group, row.name, row.allocations, row.bytes
        );
    }

    println!();
    println!("| ours | peer | ours ÷ peer (time) |");
    println!("|---|---|---:|");
    let pairs = [
        ("render_problem_json", "http_api_problem"),
        ("render_problem_json", "problem_details"),
        ("construct_render_problem_json", "http_api_problem"),
        ("construct_render_problem_json", "problem_details"),
        ("render_problem_json", "problem_details_same_headers"),
        (
            "construct_render_problem_json",
            "problem_details_same_headers",
        ),
        ("render_json", "json_macro_envelope"),
        ("construct_render_json", "json_macro_envelope"),
        ("parse_problem_json", "parse_http_api_problem"),
        ("parse_problem_json", "parse_problem_details"),
    ];
    for (ours, peer) in pairs {
        let (Some(o), Some(p)) = (find(ours), find(peer)) else {
            continue;
        };
        let ratio = match (times[o], times[p]) {
            (Some(o), Some(p)) => format!("{:.2}", o / p),
            _ => "n/a".to_owned(),
        };
        println!("| {ours} | {peer} | {ratio} |");
    }
}

fn main() {
    let since = SystemTime::now();
    let listing = std::env::args().any(|arg| arg == "--list");
    let mut run = Runner::new();

    let policy = Policy::new()
        .with_upstream_names(true)
        .with_proxy_name("gateway-demo");
    let ctx = |format| {
        RenderContext::new()
            .with_policy(&policy)
            .with_method(&Method::GET)
            .with_format(format)
    };
    let (json, problem, html, text) = (
        ctx(Format::Json),
        ctx(Format::ProblemJson),
        ctx(Format::Html),
        ctx(Format::Text),
    );
    let origin = RenderContext::new()
        .with_method(&Method::GET)
        .with_format(Format::ProblemJson);
    // A gRPC call is a POST; this error (the connection was refused, so the
    // request was never sent) gets the same verdict as for the GET above.
    let grpc = RenderContext::new()
        .with_policy(&policy)
        .with_method(&Method::POST)
        .with_format(Format::Grpc);
    let err = typical();
    let request = browser_request();

    // The rendered JSON response, for `parse`; the problem+json one, for
    // the fairness check and the floor.
    let json_response = render(&err, &json);
    let (json_parts, json_body) = json_response.into_parts();
    let problem_response = render(&err, &problem);
    assert_same_problem(
        problem_response.body(),
        http_api_problem().body(),
        "http-api-problem",
    );
    assert_same_problem(
        problem_response.body(),
        problem_details().body(),
        "problem_details",
    );
    let (floor_body, floor_headers) = prebuilt(&problem_response);
    // The gRPC answer is the one the row should measure: retry advised,
    // after the error's 30 seconds.
    let grpc_response = render(&err, &grpc);
    let field = |name| grpc_response.headers()[name].to_str().expect("ascii");
    assert_eq!(
        (field("grpc-status"), field("grpc-retry-pushback-ms")),
        ("14", "30000"),
        "the gRPC answer to the typical error"
    );

    if !listing && run.repeat.is_none() {
        println!(
            "Counting allocations ({COUNTED_OPS} operations each), then timing with criterion."
        );
    }

    let ours = |name, response| ("ours", name, response);
    run.bench(ours("construct", false), typical);
    for (name, ctx) in [
        ("render_json", &json),
        ("render_problem_json", &problem),
        ("render_html", &html),
        ("render_text", &text),
        ("render_problem_json_origin", &origin),
        ("render_grpc", &grpc),
    ] {
        run.bench(ours(name, true), || render(black_box(&err), black_box(ctx)));
    }
    run.bench(ours("construct_render_json", true), || {
        render(&typical(), black_box(&json))
    });
    run.bench(ours("construct_render_problem_json", true), || {
        render(&typical(), black_box(&problem))
    });
    run.bench(ours("negotiate_accept", false), || {
        Format::negotiate_bytes(black_box(BROWSER_ACCEPT))
    });
    run.bench(ours("from_request", false), || {
        RenderContext::from_request(black_box(&Method::GET), black_box(&request))
            .with_policy(&policy)
    });
    run.bench(ours("parse_json", false), || {
        parse(
            black_box(json_parts.status),
            black_box(&json_parts.headers),
            black_box(&json_body),
        )
    });
    let (problem_parts, problem_body) = problem_response.clone().into_parts();
    run.bench(ours("parse_problem_json", false), || {
        parse(
            black_box(problem_parts.status),
            black_box(&problem_parts.headers),
            black_box(&problem_body),
        )
    });

    let peer = |name| ("peers", name, true);
    run.bench(peer("http_api_problem"), http_api_problem);
    run.bench(peer("problem_details"), problem_details);
    run.bench(
        peer("problem_details_same_headers"),
        problem_details_same_headers,
    );
    run.bench(peer("json_macro_envelope"), json_macro_envelope);
    // The peers' deserialisers, each on the body it rendered above (the same
    // problem; `problem_details` cannot hold our `#req-42` instance).
    let peer_body = http_api_problem().into_body();
    run.bench(("peers", "parse_http_api_problem", false), || {
        serde_json::from_slice::<http_api_problem::HttpApiProblem>(black_box(&peer_body))
            .expect("its own body")
    });
    let peer_body = problem_details().into_body();
    run.bench(("peers", "parse_problem_details", false), || {
        serde_json::from_slice::<problem_details::ProblemDetails>(black_box(&peer_body))
            .expect("its own body")
    });

    run.bench(("floor", "static_clone", true), || {
        let mut response = Response::new(Bytes::from_static(black_box(floor_body)));
        *response.status_mut() = StatusCode::BAD_GATEWAY;
        *response.headers_mut() = black_box(&floor_headers).clone();
        response
    });

    if run.repeat.is_none() {
        run.criterion.final_summary();
        if !listing {
            summary(&run.rows, since);
        }
    }
}
