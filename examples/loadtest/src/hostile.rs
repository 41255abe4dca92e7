//! `hostile`: the demo gateway in front of hostile upstreams, round after
//! round, in a process of its own; and the client-side parser given a
//! 10 MiB body.
//!
//! The functional tests (`tests/tests/upstream_failures.rs`,
//! `tests/tests/attacks.rs`) check what these answers are. How long they
//! take and how much memory the gateway holds are measured here, where no
//! other test shares the process: each answer within [`ANSWER_LIMIT`],
//! resident memory growing less than [`GROWTH_LIMIT_KIB`] after the warm-up
//! round, and each refusal of a 10 MiB body within [`PARSE_LIMIT`].

use std::io;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use gateway_demo::gateway;
use gateway_demo::upstreams::{Scenario, Upstreams};
use gateway_error::{ParseErrorKind, parse};
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::{BoxError, servers, stats};

/// `hostile`'s options.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    /// Rounds after the warm-up round.
    pub(crate) rounds: usize,
    /// Requests per hostile upstream in one round (all of a round at once).
    pub(crate) per_round: usize,
    pub(crate) deadline: Duration,
}

/// The hostile upstreams and the status the gateway answers each with.
const HOSTILE: [(Scenario, u16); 3] = [
    // Streams a chunked body forever: the gateway's 1 MiB body cap.
    (Scenario::EndlessBody, 502),
    // Sends a 100 MiB header section.
    (Scenario::HeaderFlood, 502),
    // Sends its head one byte per second: the gateway's 1 s timeout.
    (Scenario::DripHeaders, 504),
];
/// How long one answer may take: the gateway's 1 s timeout
/// ([`gateway::TIMEOUT`]), with slack for a busy machine.
const ANSWER_LIMIT: Duration = Duration::from_secs(3);
/// How much resident memory may grow after the warm-up round: the gateway
/// holds at most its 1 MiB body cap and hyper's header buffer per request in
/// flight, so memory must not grow with the number of requests.
const GROWTH_LIMIT_KIB: u64 = 16 * 1024;
/// How long `parse` may take to refuse a 10 MiB body (it must not read it).
const PARSE_LIMIT: Duration = Duration::from_secs(1);
/// How large an error body of the gateway is at most.
const MAX_ERROR_BODY: usize = 1024;

/// Runs the hostile rounds and the parser check; returns whether all passed.
pub(crate) async fn run(options: Options) -> Result<bool, BoxError> {
    let deadline = Instant::now() + options.deadline;
    let mut failures = Vec::new();

    let refusals = parse_ten_mib();
    let slowest_parse = refusals
        .iter()
        .map(|(_, took, _)| *took)
        .max()
        .unwrap_or_default();
    for (what, took, kind) in &refusals {
        if *kind != Err(ParseErrorKind::BodyTooLarge) {
            failures.push(format!("parse, {what}: {kind:?}, not BodyTooLarge"));
        }
        if *took >= PARSE_LIMIT {
            failures.push(format!("parse, {what}: took {took:?}"));
        }
    }
    println!(
        "parse of a 10 MiB body: {} refusals, slowest {slowest_parse:?} (limit {PARSE_LIMIT:?})",
        refusals.len()
    );

    let addr = servers::spawn_tokio("hostile-gateway", |listener| async move {
        let upstreams = Upstreams::start().await?;
        let client = gateway::client().map_err(io::Error::other)?;
        axum::serve(listener, gateway::router(upstreams, client)).await
    })?;
    let client = reqwest::Client::builder()
        .timeout(ANSWER_LIMIT * 4)
        .no_proxy()
        .build()?;

    let mut rss = Vec::new();
    let mut slowest = Duration::ZERO;
    let mut answers = 0;
    for round in 0..=options.rounds {
        let calls = (0..options.per_round).flat_map(|i| {
            HOSTILE.map(|(scenario, code)| {
                let request = client
                    .get(format!("http://{addr}/upstream/{}", scenario.name()))
                    .header("x-request-id", format!("hostile-{round}-{i}"));
                async move {
                    let started = Instant::now();
                    let answer = async {
                        let response = request.send().await?;
                        let status = response.status();
                        let body = response.bytes().await?;
                        Ok::<_, reqwest::Error>((status, body.len()))
                    }
                    .await;
                    (scenario, code, answer, started.elapsed())
                }
            })
        });
        let remaining = deadline.saturating_duration_since(Instant::now());
        let Ok(results) = tokio::time::timeout(remaining, join_all(calls)).await else {
            eprintln!("hostile: deadline of {:?} exceeded", options.deadline);
            std::process::exit(2);
        };
        for (scenario, code, answer, took) in results {
            answers += 1;
            slowest = slowest.max(took);
            let name = scenario.name();
            match answer {
                Ok((status, _)) if status.as_u16() != code => {
                    failures.push(format!("{name}: {status}, not {code}"));
                }
                Ok((_, len)) if len >= MAX_ERROR_BODY => {
                    failures.push(format!("{name}: a body of {len} bytes, not an error body"));
                }
                Ok(_) => {}
                Err(e) => failures.push(format!("{name}: {e}")),
            }
            if took >= ANSWER_LIMIT {
                failures.push(format!("{name}: answered in {took:?}"));
            }
        }
        rss.push(stats::rss_kib());
    }
    let warm = rss[0];
    let end = rss[rss.len() - 1];
    let growth = end.saturating_sub(warm);
    if growth >= GROWTH_LIMIT_KIB {
        failures.push(format!(
            "resident memory grew {growth} KiB after the warm-up round"
        ));
    }
    println!(
        "hostile upstreams: {answers} answers in {} rounds of {} (the first a warm-up), slowest {slowest:?} (limit {ANSWER_LIMIT:?})",
        options.rounds + 1,
        options.per_round * HOSTILE.len(),
    );
    println!(
        "  resident memory KiB after each round: {}; growth after warm-up {growth} KiB (limit {GROWTH_LIMIT_KIB})",
        rss.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    for failure in failures.iter().take(20) {
        println!("  FAILURE {failure}");
    }
    let passed = failures.is_empty();
    println!(
        "HOSTILE answers={answers} slowest_ms={} rss_warm_kib={warm} rss_end_kib={end} growth_after_warmup_kib={growth} slowest_parse_us={} failures={} {}",
        slowest.as_millis(),
        slowest_parse.as_micros(),
        failures.len(),
        if passed { "PASS" } else { "FAIL" },
    );
    Ok(passed)
}

/// `parse` given 10 MiB bodies, with and without a JSON Content-Type, five
/// times each: what was given, how long the refusal took, and its verdict.
fn parse_ten_mib() -> Vec<(&'static str, Duration, Result<(), ParseErrorKind>)> {
    const MIB: usize = 1024 * 1024;
    let mut json = HeaderMap::new();
    json.insert("content-type", HeaderValue::from_static("application/json"));
    let none = HeaderMap::new();
    let mut brace_first = vec![b' '; 10 * MIB];
    brace_first[0] = b'{';
    let mut brace_last = vec![b' '; 10 * MIB];
    *brace_last.last_mut().unwrap_or(&mut 0) = b'{';
    let cases: [(&str, &HeaderMap, &[u8]); 3] = [
        ("JSON, brace first", &json, &brace_first),
        ("no Content-Type, brace first", &none, &brace_first),
        ("no Content-Type, brace last", &none, &brace_last),
    ];
    let mut refusals = Vec::new();
    for _ in 0..5 {
        for (what, headers, body) in cases {
            let started = Instant::now();
            let kind = parse(StatusCode::BAD_GATEWAY, headers, body)
                .map(|_| ())
                .map_err(|e| e.kind());
            refusals.push((what, started.elapsed(), kind));
        }
    }
    refusals
}
