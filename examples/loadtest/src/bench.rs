//! `bench`: `/ours` (the adapter stack) against `/static` (the same bytes,
//! prebuilt) and `/handrolled` (the JSON error users write by hand in each
//! framework, beside `/static`) per framework, at fixed concurrency, for a fixed number of
//! requests, in interleaved rounds, under a deadline.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::BoxError;
use crate::client::{self, Conn};
use crate::scenarios::{self, Prebuilt};
use crate::servers::{self, Framework};
use crate::stats;

/// The fixed request id the bench sends, so that bodies are byte-identical.
pub(crate) const REQUEST_ID: &str = "loadtest-0123456789";

/// `bench`'s options.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    /// Requests per route per framework (timed rounds only).
    pub(crate) requests: usize,
    pub(crate) rounds: usize,
    pub(crate) concurrency: usize,
    /// Untimed requests per route per framework before the rounds.
    pub(crate) warmup: usize,
    pub(crate) deadline: Duration,
    pub(crate) frameworks: Vec<Framework>,
    /// Drive only this route (for profiling one path at a time).
    pub(crate) only: Option<Which>,
    /// The `Accept` field the client sends, if any.
    pub(crate) accept: Option<String>,
    /// Where `/static` sits: outside the adapter or under it.
    pub(crate) placement: servers::Placement,
}

/// The three routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Which {
    Ours,
    Static,
    Handrolled,
}

impl Which {
    fn path(self) -> &'static str {
        match self {
            Which::Ours => "/ours",
            Which::Static => "/static",
            Which::Handrolled => "/handrolled",
        }
    }
}

/// What one route measured over all rounds.
#[derive(Debug, Default)]
struct Totals {
    requests: usize,
    elapsed: Duration,
    server_cpu_ns: u64,
    client_cpu_ns: u64,
    latencies: Vec<u64>,
    round_rps: Vec<f64>,
}

impl Totals {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn server_us(&self) -> f64 {
        self.server_cpu_ns as f64 / self.requests as f64 / 1000.0
    }

    fn client_us(&self) -> f64 {
        self.client_cpu_ns as f64 / self.requests as f64 / 1000.0
    }
}

/// One framework's results.
struct Outcome {
    framework: Framework,
    ours: Totals,
    fixed: Totals,
    handrolled: Totals,
    /// CPU used by other processes and by this one during the rounds, in
    /// percent of one CPU.
    other_cpu: f64,
    own_cpu: f64,
}

pub(crate) async fn run(options: Options, client_tid: Option<u64>) -> Result<(), BoxError> {
    let deadline = Instant::now() + options.deadline;
    let prebuilt = Prebuilt::new(options.accept.as_deref(), REQUEST_ID)?;
    let expected = Arc::new((prebuilt.status.as_u16(), prebuilt.body.clone()));
    let handrolled = Arc::new((
        http::StatusCode::BAD_GATEWAY.as_u16(),
        Bytes::from(serde_json::to_vec(&scenarios::handrolled_body(Some(
            REQUEST_ID,
        )))?),
    ));
    servers::set_prebuilt(prebuilt)?;

    println!("load average at start: {}", stats::loadavg());
    println!(
        "bench: {} requests per route per framework in {} interleaved rounds, \
         {} warm-up requests per route, concurrency {}, accept {:?}, deadline {:?}",
        options.requests,
        options.rounds,
        options.warmup,
        options.concurrency,
        options.accept.as_deref().unwrap_or("(none)"),
        options.deadline,
    );
    let mut outcomes = Vec::new();
    for &framework in &options.frameworks {
        let addr = servers::start_bench(framework, options.placement)?;
        verify(framework, addr, options.accept.as_deref(), &handrolled).await?;
        let expected = [&expected, &handrolled];
        let outcome = bench_one(framework, addr, &options, expected, deadline, client_tid).await?;
        print_outcome(&outcome, options.only);
        outcomes.push(outcome);
    }
    print_summary(&outcomes, options.only, options.placement);
    Ok(())
}

/// The request the bench sends to `path`.
fn request(addr: SocketAddr, path: &str, accept: Option<&str>) -> Arc<[u8]> {
    let mut out = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\n");
    if let Some(accept) = accept {
        out.push_str(&format!("accept: {accept}\r\n"));
    }
    out.push_str(&format!("x-request-id: {REQUEST_ID}\r\n\r\n"));
    Arc::from(out.into_bytes())
}

/// Checks that `/ours` and `/static` answer the same status, fields (but
/// `date`) and body, and that `/handrolled` answers its 502 with the
/// expected body, `content-type`, `cache-control` and the request id;
/// aborts the run if not.
async fn verify(
    framework: Framework,
    addr: SocketAddr,
    accept: Option<&str>,
    handrolled: &(u16, Bytes),
) -> Result<(), BoxError> {
    let mut conn = Conn::connect(addr).await?;
    let mut seen = Vec::new();
    for which in [Which::Ours, Which::Static] {
        let frame = conn
            .exchange(&request(addr, which.path(), accept), false)
            .await?;
        let mut fields: Vec<(String, Vec<u8>)> = client::fields(conn.head(&frame))?
            .into_iter()
            .filter(|(name, _)| name != "date")
            .collect();
        fields.sort();
        seen.push((
            frame.status,
            fields,
            conn.body(&frame).to_vec(),
            conn.head(&frame).to_vec(),
        ));
    }
    let (ours, fixed) = (&seen[0], &seen[1]);
    if (ours.0, &ours.1, &ours.2) != (fixed.0, &fixed.1, &fixed.2) {
        return Err(format!(
            "{}: /ours and /static differ:\n--- /ours\n{}{}\n--- /static\n{}{}",
            framework.name(),
            String::from_utf8_lossy(&ours.3),
            String::from_utf8_lossy(&ours.2),
            String::from_utf8_lossy(&fixed.3),
            String::from_utf8_lossy(&fixed.2),
        )
        .into());
    }
    println!(
        "\n{} on http://{addr}: /ours and /static are identical but for `date` ({} fields, {}-byte body):\n{}{}",
        framework.name(),
        ours.1.len(),
        ours.2.len(),
        String::from_utf8_lossy(&ours.3),
        String::from_utf8_lossy(&ours.2),
    );
    let frame = conn
        .exchange(&request(addr, Which::Handrolled.path(), accept), false)
        .await?;
    let fields = client::fields(conn.head(&frame))?;
    let has = |name: &str, value: &str| {
        fields
            .iter()
            .any(|(n, v)| n == name && v.as_slice() == value.as_bytes())
    };
    let complete = has("content-type", "application/json")
        && has("cache-control", "no-store")
        && has("x-request-id", REQUEST_ID);
    if frame.status != handrolled.0 || conn.body(&frame) != handrolled.1.as_ref() || !complete {
        return Err(format!(
            "{}: /handrolled is not the expected 502:\n{}{}",
            framework.name(),
            String::from_utf8_lossy(conn.head(&frame)),
            String::from_utf8_lossy(conn.body(&frame)),
        )
        .into());
    }
    println!(
        "/handrolled ({} fields, {}-byte body):\n{}{}",
        fields.len(),
        conn.body(&frame).len(),
        String::from_utf8_lossy(conn.head(&frame)),
        String::from_utf8_lossy(conn.body(&frame)),
    );
    Ok(())
}

async fn bench_one(
    framework: Framework,
    addr: SocketAddr,
    options: &Options,
    expected: [&Arc<(u16, Bytes)>; 2],
    deadline: Instant,
    client_tid: Option<u64>,
) -> Result<Outcome, BoxError> {
    let mut conns = Vec::with_capacity(options.concurrency);
    for _ in 0..options.concurrency {
        conns.push(Conn::connect(addr).await?);
    }
    let accept = options.accept.as_deref();
    let ours_request = request(addr, Which::Ours.path(), accept);
    let static_request = request(addr, Which::Static.path(), accept);
    let handrolled_request = request(addr, Which::Handrolled.path(), accept);
    let routes: Vec<Which> = match options.only {
        Some(which) => vec![which],
        None => vec![Which::Ours, Which::Static, Which::Handrolled],
    };
    let req = |which| match which {
        Which::Ours => &ours_request,
        Which::Static => &static_request,
        Which::Handrolled => &handrolled_request,
    };
    let expect = |which| match which {
        Which::Ours | Which::Static => expected[0],
        Which::Handrolled => expected[1],
    };

    for &which in &routes {
        let phase = Phase::run(
            conns,
            req(which),
            expect(which),
            options.warmup,
            deadline,
            client_tid,
        )
        .await?;
        conns = phase.conns;
    }

    let mut ours = Totals::default();
    let mut fixed = Totals::default();
    let mut handrolled = Totals::default();
    let machine = stats::MachineSample::now();
    let per_round = options.requests / options.rounds;
    for round in 0..options.rounds {
        let n = if round + 1 == options.rounds {
            options.requests - per_round * (options.rounds - 1)
        } else {
            per_round
        };
        // Alternate which route goes first, so drift hits both alike.
        let mut order = routes.clone();
        if round % 2 == 1 {
            order.reverse();
        }
        for which in order {
            let phase =
                Phase::run(conns, req(which), expect(which), n, deadline, client_tid).await?;
            conns = phase.conns;
            let totals = match which {
                Which::Ours => &mut ours,
                Which::Static => &mut fixed,
                Which::Handrolled => &mut handrolled,
            };
            totals.requests += n;
            totals.elapsed += phase.elapsed;
            totals.server_cpu_ns += phase.server_cpu_ns;
            totals.client_cpu_ns += phase.client_cpu_ns;
            totals.latencies.extend(phase.latencies);
            totals
                .round_rps
                .push(n as f64 / phase.elapsed.as_secs_f64());
        }
    }
    let (other_cpu, own_cpu) = stats::MachineSample::now().since(&machine, stats::cpus());
    ours.latencies.sort_unstable();
    fixed.latencies.sort_unstable();
    handrolled.latencies.sort_unstable();
    Ok(Outcome {
        framework,
        ours,
        fixed,
        handrolled,
        other_cpu,
        own_cpu,
    })
}

/// One batch of `n` requests to one route over every connection.
struct Phase {
    conns: Vec<Conn>,
    latencies: Vec<u64>,
    elapsed: Duration,
    server_cpu_ns: u64,
    client_cpu_ns: u64,
}

impl Phase {
    async fn run(
        conns: Vec<Conn>,
        request: &Arc<[u8]>,
        expected: &Arc<(u16, Bytes)>,
        n: usize,
        deadline: Instant,
        client_tid: Option<u64>,
    ) -> Result<Self, BoxError> {
        let tickets = Arc::new(AtomicUsize::new(0));
        let per_conn = n / conns.len().max(1) + 1;
        let (server0, client0) = stats::cpu_split(client_tid);
        let start = Instant::now();
        let mut tasks = Vec::with_capacity(conns.len());
        for mut conn in conns {
            let tickets = Arc::clone(&tickets);
            let request = Arc::clone(request);
            let expected = Arc::clone(expected);
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_conn);
                let mut wrong = 0usize;
                while tickets.fetch_add(1, Ordering::Relaxed) < n {
                    let t0 = Instant::now();
                    let frame = conn.exchange(&request, false).await?;
                    latencies.push(t0.elapsed().as_nanos() as u64);
                    if frame.status != expected.0 || conn.body(&frame) != expected.1.as_ref() {
                        wrong += 1;
                    }
                }
                Ok::<_, client::ClientError>((conn, latencies, wrong))
            }));
        }
        let mut conns = Vec::with_capacity(tasks.len());
        let mut latencies = Vec::with_capacity(n);
        let mut wrong = 0;
        for task in tasks {
            let joined = tokio::time::timeout_at(deadline.into(), task).await;
            let Ok(joined) = joined else {
                eprintln!("deadline exceeded: aborting");
                std::process::exit(2);
            };
            let (conn, l, w) = joined??;
            conns.push(conn);
            latencies.extend(l);
            wrong += w;
        }
        let elapsed = start.elapsed();
        let (server1, client1) = stats::cpu_split(client_tid);
        if wrong > 0 {
            return Err(format!("{wrong} responses with the wrong status or body").into());
        }
        Ok(Self {
            conns,
            latencies,
            elapsed,
            server_cpu_ns: server1.saturating_sub(server0),
            client_cpu_ns: client1.saturating_sub(client0),
        })
    }
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

fn print_outcome(outcome: &Outcome, only: Option<Which>) {
    println!(
        "\n| {} | requests | rps | p50 µs | p99 µs | server CPU µs/req | client CPU µs/req |",
        outcome.framework.name()
    );
    println!("|---|---|---|---|---|---|---|");
    for (label, totals) in [
        ("static", &outcome.fixed),
        ("ours", &outcome.ours),
        ("handrolled", &outcome.handrolled),
    ] {
        if totals.requests == 0 {
            continue;
        }
        println!(
            "| {label} | {} | {} | {:.0} | {:.0} | {:.2} | {:.2} |",
            stats::thousands(totals.requests as u64),
            stats::thousands(totals.rps().round() as u64),
            us(stats::quantile(&totals.latencies, 0.50)),
            us(stats::quantile(&totals.latencies, 0.99)),
            totals.server_us(),
            totals.client_us(),
        );
    }
    println!(
        "machine during the rounds: this process {:.0}% and other processes {:.0}% of one CPU ({} CPUs)",
        outcome.own_cpu,
        outcome.other_cpu,
        stats::cpus()
    );
    if only.is_none() {
        let round_ratios: Vec<f64> = outcome
            .ours
            .round_rps
            .iter()
            .zip(&outcome.fixed.round_rps)
            .map(|(o, s)| o / s)
            .collect();
        println!(
            "ratio ours/static: rps {:.3} (median of per-round ratios {:.3}); server CPU per request {:.3}",
            outcome.ours.rps() / outcome.fixed.rps(),
            stats::median(&round_ratios),
            outcome.ours.server_us() / outcome.fixed.server_us(),
        );
        println!(
            "ratio handrolled/static: rps {:.3}; server CPU per request {:.3}",
            outcome.handrolled.rps() / outcome.fixed.rps(),
            outcome.handrolled.server_us() / outcome.fixed.server_us(),
        );
    }
}

/// One line per framework, for collecting runs (`grep ^RESULT`).
fn print_summary(outcomes: &[Outcome], only: Option<Which>, placement: servers::Placement) {
    println!();
    for o in outcomes {
        let line = |t: &Totals| {
            format!(
                "rps={:.0} p50_us={:.1} p99_us={:.1} server_us={:.3}",
                t.rps(),
                us(stats::quantile(&t.latencies, 0.50)),
                us(stats::quantile(&t.latencies, 0.99)),
                t.server_us()
            )
        };
        match only {
            Some(which) => {
                let t = match which {
                    Which::Ours => &o.ours,
                    Which::Static => &o.fixed,
                    Which::Handrolled => &o.handrolled,
                };
                println!(
                    "RESULT framework={} route={which:?} {}",
                    o.framework.name(),
                    line(t)
                );
            }
            None => println!(
                "RESULT framework={} placement={placement:?} static: {} | ours: {} | handrolled: {} | ratio_rps={:.4} ratio_cpu={:.4} handrolled_ratio_cpu={:.4} other_cpu_pct={:.0}",
                o.framework.name(),
                line(&o.fixed),
                line(&o.ours),
                line(&o.handrolled),
                o.ours.rps() / o.fixed.rps(),
                o.ours.server_us() / o.fixed.server_us(),
                o.handrolled.server_us() / o.fixed.server_us(),
                o.other_cpu,
            ),
        }
    }
}
