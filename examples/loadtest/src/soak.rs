//! `soak`: mixed requests at fixed concurrency against each framework's full
//! stack; every response checked, failures and panics counted, resident
//! memory sampled.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gateway_error::{RenderContext, render};
use http::Method;

use crate::client::{self, Conn, Frame};
use crate::scenarios::{
    ACCEPTS, ERROR_CONTENT_TYPES, METHODS, RequestId, Route, SOAK_POLICY, SoakRequest,
};
use crate::servers::{self, Framework};
use crate::{BoxError, PANICS, stats};

/// `soak`'s options.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    /// Requests per framework.
    pub(crate) requests: u64,
    pub(crate) concurrency: usize,
    pub(crate) deadline: Duration,
    pub(crate) frameworks: Vec<Framework>,
}

/// The number of batches: resident memory is sampled after each; the first
/// is the warm-up.
const BATCHES: u64 = 10;
/// How long one exchange may take before it counts as a failure.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);
/// The fields the renderer decides, compared with its output.
const RENDERED: [&str; 6] = [
    "content-type",
    "content-length",
    "cache-control",
    "vary",
    "retry-after",
    "proxy-status",
];

/// What the checks found.
#[derive(Debug, Default)]
struct Tally {
    requests: u64,
    failures: BTreeMap<&'static str, u64>,
    examples: Vec<String>,
    statuses: BTreeMap<u16, u64>,
    content_types: BTreeMap<String, u64>,
    combinations: BTreeSet<(usize, usize, usize)>,
    /// Kept-alive connections the server had closed when the next request
    /// came (retried once on a new connection), by the request before.
    stale: BTreeMap<String, u64>,
}

impl Tally {
    fn fail(&mut self, what: &'static str, detail: String) {
        *self.failures.entry(what).or_default() += 1;
        if self.examples.len() < 10 {
            self.examples.push(format!("{what}: {detail}"));
        }
    }

    fn failed(&self) -> u64 {
        self.failures.values().sum()
    }

    fn merge(&mut self, other: Tally) {
        self.requests += other.requests;
        for (k, v) in other.failures {
            *self.failures.entry(k).or_default() += v;
        }
        for e in other.examples {
            if self.examples.len() < 10 {
                self.examples.push(e);
            }
        }
        for (k, v) in other.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        for (k, v) in other.content_types {
            *self.content_types.entry(k).or_default() += v;
        }
        self.combinations.extend(other.combinations);
        for (k, v) in other.stale {
            *self.stale.entry(k).or_default() += v;
        }
    }
}

/// Runs the soak; returns whether every framework passed.
pub(crate) async fn run(options: Options) -> Result<bool, BoxError> {
    let deadline = Instant::now() + options.deadline;
    println!(
        "soak: {} mixed requests per framework, concurrency {}, {} routes x {} Accept variants x {} methods, deadline {:?}",
        options.requests,
        options.concurrency,
        Route::ALL.len(),
        ACCEPTS.len(),
        METHODS.len(),
        options.deadline,
    );
    println!(
        "resident memory at start of process: {} KiB",
        stats::rss_kib()
    );
    let mut all_passed = true;
    let mut summary = Vec::new();
    for &framework in &options.frameworks {
        let rss_start = stats::rss_kib();
        let panics_before = PANICS.load(Ordering::Relaxed);
        let addr = servers::start_soak(framework)?;
        let started = Instant::now();
        // Each connection with the request it carried last.
        let mut conns = Vec::with_capacity(options.concurrency);
        for _ in 0..options.concurrency {
            conns.push((Conn::connect(addr).await?, None));
        }
        let mut tally = Tally::default();
        let mut rss = Vec::new();
        let next = Arc::new(AtomicU64::new(0));
        for batch in 1..=BATCHES {
            let end = options.requests * batch / BATCHES;
            let (c, t) = run_batch(framework, addr, conns, &next, end, deadline).await?;
            conns = c;
            tally.merge(t);
            rss.push(stats::rss_kib());
        }
        // A body sent after HEAD would still be on its way: wait briefly for
        // stray bytes on every connection.
        for (conn, _) in &mut conns {
            if let Some(n) = conn.stray_bytes(Duration::from_millis(20)).await {
                tally.fail("stray bytes after the last response", format!("{n} bytes"));
            }
        }
        let elapsed = started.elapsed();
        let panics = PANICS.load(Ordering::Relaxed) - panics_before;
        let warm = rss[0];
        let end = rss[rss.len() - 1];
        let total_combinations = Route::ALL.len() * ACCEPTS.len() * METHODS.len();
        println!(
            "\n{}: {} requests in {:.1} s ({:.0}/s), {} failures, {} panics",
            framework.name(),
            stats::thousands(tally.requests),
            elapsed.as_secs_f64(),
            tally.requests as f64 / elapsed.as_secs_f64(),
            tally.failed(),
            panics,
        );
        println!(
            "  combinations covered: {}/{total_combinations} (route x Accept x method)",
            tally.combinations.len()
        );
        println!("  statuses: {:?}", tally.statuses);
        println!("  content types: {:?}", tally.content_types);
        if !tally.stale.is_empty() {
            println!(
                "  kept-alive connections the server had closed (request retried on a new connection), by the request before: {:?}",
                tally.stale
            );
        }
        for (what, n) in &tally.failures {
            println!("  FAILURE {what}: {n}");
        }
        for example in &tally.examples {
            println!("    e.g. {example}");
        }
        println!(
            "  resident memory KiB: start {rss_start}, after warm-up ({} requests) {warm}, end {end}; \
             growth after warm-up {:+} KiB, since start {:+} KiB",
            options.requests / BATCHES,
            end as i64 - warm as i64,
            end as i64 - rss_start as i64,
        );
        println!(
            "  resident memory after each tenth: {}",
            rss.iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        let passed =
            tally.failed() == 0 && panics == 0 && tally.combinations.len() == total_combinations;
        all_passed &= passed;
        summary.push(format!(
            "SOAK framework={} requests={} failures={} panics={} rss_start_kib={rss_start} rss_warm_kib={warm} rss_end_kib={end} growth_after_warmup_kib={} combinations={}/{total_combinations} stale_keepalive_retries={} {}",
            framework.name(),
            tally.requests,
            tally.failed(),
            panics,
            end as i64 - warm as i64,
            tally.combinations.len(),
            tally.stale.values().sum::<u64>(),
            if passed { "PASS" } else { "FAIL" },
        ));
    }
    println!();
    for line in summary {
        println!("{line}");
    }
    Ok(all_passed)
}

/// Requests number `next..end` over every connection.
async fn run_batch(
    framework: Framework,
    addr: SocketAddr,
    conns: Vec<(Conn, Option<SoakRequest>)>,
    next: &Arc<AtomicU64>,
    end: u64,
    deadline: Instant,
) -> Result<(Vec<(Conn, Option<SoakRequest>)>, Tally), BoxError> {
    let host = addr.to_string();
    let mut tasks = Vec::with_capacity(conns.len());
    for (mut conn, mut previous) in conns {
        let next = Arc::clone(next);
        let host = host.clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    // Leave the counter at `end` for the next batch.
                    next.fetch_sub(1, Ordering::Relaxed);
                    break;
                }
                let request = SoakRequest::new(framework.name(), i);
                tally.requests += 1;
                tally.combinations.insert((
                    Route::ALL
                        .iter()
                        .position(|r| *r == request.route)
                        .unwrap_or(0),
                    request.accept,
                    METHODS
                        .iter()
                        .position(|m| *m == request.method)
                        .unwrap_or(0),
                ));
                let head = request.method == Method::HEAD;
                let bytes = request.encode(&host);
                let mut outcome =
                    tokio::time::timeout(EXCHANGE_TIMEOUT, conn.exchange(&bytes, head)).await;
                if let Ok(Err(e)) = &outcome {
                    if e.is_stale_connection() && previous.is_some() {
                        let before = previous
                            .as_ref()
                            .map(|p| format!("{} {}", p.method, p.route.path()))
                            .unwrap_or_default();
                        *tally.stale.entry(before).or_default() += 1;
                        match Conn::connect(addr).await {
                            Ok(c) => conn = c,
                            Err(e) => {
                                tally.fail("reconnect", e.to_string());
                                break;
                            }
                        }
                        outcome =
                            tokio::time::timeout(EXCHANGE_TIMEOUT, conn.exchange(&bytes, head))
                                .await;
                    }
                }
                let fresh = match outcome {
                    Err(_) => {
                        tally.fail("timeout", format!("{request:?}"));
                        true
                    }
                    Ok(Err(e)) => {
                        tally.fail(
                            "transport or framing",
                            format!(
                                "{e} for {request:?} (previous on this connection: {previous:?})"
                            ),
                        );
                        true
                    }
                    Ok(Ok(frame)) => {
                        check(framework, &request, &conn, &frame, &mut tally);
                        closes(&conn, &frame)
                    }
                };
                previous = Some(request);
                if fresh {
                    previous = None;
                    match Conn::connect(addr).await {
                        Ok(c) => conn = c,
                        Err(e) => {
                            tally.fail("reconnect", e.to_string());
                            break;
                        }
                    }
                }
            }
            ((conn, previous), tally)
        }));
    }
    let mut conns = Vec::new();
    let mut tally = Tally::default();
    for task in tasks {
        let Ok(joined) = tokio::time::timeout_at(deadline.into(), task).await else {
            eprintln!("deadline exceeded: aborting");
            std::process::exit(2);
        };
        let (conn, t) = joined?;
        conns.push(conn);
        tally.merge(t);
    }
    Ok((conns, tally))
}

/// Whether the server said it closes the connection.
fn closes(conn: &Conn, frame: &Frame) -> bool {
    client::fields(conn.head(frame)).is_ok_and(|fields| {
        fields
            .iter()
            .any(|(n, v)| n == "connection" && v.eq_ignore_ascii_case(b"close"))
    })
}

/// Every check of one response; failures go to `tally`.
fn check(
    framework: Framework,
    request: &SoakRequest,
    conn: &Conn,
    frame: &Frame,
    tally: &mut Tally,
) {
    let what = || {
        format!(
            "{} {} accept={} id={:?}",
            request.method,
            request.route.path(),
            ACCEPTS[request.accept].0,
            request.id
        )
    };
    *tally.statuses.entry(frame.status).or_default() += 1;
    let fields = match client::fields(conn.head(frame)) {
        Ok(fields) => fields,
        Err(e) => return tally.fail("unparsable head", format!("{e}: {}", what())),
    };
    let get = |name: &str| -> Vec<&[u8]> {
        fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
            .collect()
    };
    let body = conn.body(frame);
    let head = request.method == Method::HEAD;

    for (name, value) in &fields {
        if !value
            .iter()
            .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
        {
            tally.fail(
                "invalid header value",
                format!(
                    "{name}: {:?} for {}",
                    String::from_utf8_lossy(value),
                    what()
                ),
            );
        }
        if name.contains("injected") {
            tally.fail("injected header", format!("{name} for {}", what()));
        }
    }
    // HEAD may omit Content-Length (RFC 9110 section 8.6); the adapters'
    // HEAD answers keep GET's, which the field comparison below checks.
    let content_length = match frame.content_length {
        Some(n) => Some(n),
        None if head => None,
        None => return tally.fail("no content-length", what()),
    };
    if !head && content_length != Some(body.len()) {
        tally.fail("content-length differs from body", what());
    }
    if head && !body.is_empty() {
        tally.fail("body after HEAD", what());
    }

    // The request id: echoed when valid, generated (32 hex digits) otherwise.
    let ids = get("x-request-id");
    let id = ids.first().and_then(|v| std::str::from_utf8(v).ok());
    let warp_404 = framework == Framework::Warp && request.route == Route::Missing;
    match (&request.id, id) {
        (_, None) if warp_404 => {}
        (_, None) => return tally.fail("no x-request-id", what()),
        (RequestId::Valid(sent), Some(got)) if sent != got => {
            return tally.fail(
                "x-request-id not echoed",
                format!("got {got} for {}", what()),
            );
        }
        (RequestId::Absent | RequestId::Invalid(_), Some(got))
            if got.len() != 32
                || !got
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            return tally.fail(
                "generated x-request-id malformed",
                format!("got {got} for {}", what()),
            );
        }
        _ => {}
    }
    if ids.len() > 1 {
        tally.fail("two x-request-id fields", what());
    }

    if let Some(error) = request.route.error() {
        let content_type = get("content-type");
        let content_type = content_type
            .first()
            .map(|v| String::from_utf8_lossy(v).into_owned());
        *tally
            .content_types
            .entry(content_type.clone().unwrap_or_default())
            .or_default() += 1;
        if !content_type
            .as_deref()
            .is_some_and(|ct| ERROR_CONTENT_TYPES.contains(&ct))
        {
            return tally.fail(
                "content-type not one of the four",
                format!("{content_type:?} for {}", what()),
            );
        }
        let accept = request.accept_headers();
        let mut ctx = RenderContext::new()
            .with_method(&request.method)
            .with_accept(&accept)
            .with_policy(&SOAK_POLICY);
        if let Some(id) = id {
            ctx = ctx.with_request_id(id);
        }
        let expected = render(&error, &ctx);
        if frame.status != expected.status().as_u16() {
            return tally.fail(
                "unexpected status",
                format!("{} for {}", frame.status, what()),
            );
        }
        for name in RENDERED {
            let want: Vec<&[u8]> = expected
                .headers()
                .get_all(name)
                .iter()
                .map(|v| v.as_bytes())
                .collect();
            if get(name) != want {
                tally.fail("rendered field differs", format!("{name} for {}", what()));
            }
        }
        if body != expected.body().as_ref() {
            tally.fail("body differs from the renderer's", what());
        }
    } else if let Some((content_type, expected)) = request.route.success() {
        *tally
            .content_types
            .entry(content_type.to_owned())
            .or_default() += 1;
        if frame.status != 200 {
            return tally.fail(
                "unexpected status",
                format!("{} for {}", frame.status, what()),
            );
        }
        if content_length.is_some_and(|n| n != expected.len()) {
            tally.fail("content-length differs from GET's", what());
        }
        if !head && body != expected {
            tally.fail("success body differs", what());
        }
    } else if frame.status != 404 {
        tally.fail(
            "unexpected status",
            format!("{} for {}", frame.status, what()),
        );
    }
}
