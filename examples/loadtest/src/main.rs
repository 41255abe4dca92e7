//! Load and soak harness for gateway-error (issue 5's load benchmark, issue
//! 6's soak). Run by hand, not in CI:
//!
//! ```sh
//! cargo run --release -p loadtest -- bench            # ours, static, hand-rolled, per framework
//! cargo run --release -p loadtest -- bench --static inside   # static under the adapter too
//! cargo run --release -p loadtest -- soak             # 100,000 mixed requests per framework
//! cargo run --release -p loadtest -- hostile          # hostile upstreams: time and memory
//! cargo run --release -p loadtest -- help             # every option
//! ```
//!
//! Each framework serves on 127.0.0.1:0 inside this process, on its own
//! thread with one worker; the client is a raw-socket keep-alive HTTP/1.1
//! client on the main thread (one current-thread runtime). On a 2-core
//! machine server and client thus get one core each.

mod bench;
mod client;
mod hostile;
mod scenarios;
mod servers;
mod soak;
mod stats;

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::servers::Framework;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Panics anywhere in the process (servers included), counted by the hook.
pub(crate) static PANICS: AtomicU64 = AtomicU64::new(0);

const USAGE: &str = "\
usage: loadtest <bench|soak|hostile|help> [options]

bench: /ours (BadGateway through the adapter stack) against /static (the same
bytes, prebuilt) and /handrolled (the JSON error users write by hand, beside
/static) on each framework, interleaved rounds, keep-alive, fixed count.
  --requests N      timed requests per route per framework  [200000]
  --rounds N        interleaved rounds (order alternates)    [10]
  --warmup N        untimed requests per route first         [10000]
  --concurrency N   connections                              [64]
  --framework F     axum | actix | warp | all                [all]
  --only R          ours | static | handrolled: drive one
                    route (profiling)
  --static WHERE    outside | inside: /static outside the
                    adapter, or under it with /ours          [outside]
  --accept VALUE    the Accept field sent                    [application/json]
  --no-accept       send no Accept field
  --deadline SECS   abort (exit 2) when exceeded             [600]

soak: mixed requests (every error type, every Accept, GET/HEAD/POST, success
routes, 404) against each framework's full stack; every response checked.
  --requests N      requests per framework                   [100000]
  --concurrency N   connections                              [64]
  --framework F     axum | actix | warp | all                [all]
  --deadline SECS   abort (exit 2) when exceeded             [900]

hostile: the demo gateway in front of hostile upstreams (endless body, 100 MiB
header section, headers at one byte per second), a warm-up round and more;
each answer within 3 s, resident memory growing less than 16 MiB after the
warm-up; and the client parser refusing 10 MiB bodies within 1 s each.
  --rounds N        rounds after the warm-up                 [10]
  --per-round N     requests per upstream in a round         [10]
  --deadline SECS   abort (exit 2) when exceeded             [300]
";

fn main() -> ExitCode {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::Relaxed);
        default_hook(info);
    }));
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("loadtest: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode, BoxError> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "help".to_owned());
    let mut options: Vec<(String, Option<String>)> = Vec::new();
    while let Some(arg) = args.next() {
        let value = if arg == "--no-accept" {
            None
        } else {
            Some(args.next().ok_or_else(|| format!("{arg} needs a value"))?)
        };
        options.push((arg, value));
    }
    let get = |name: &str| {
        options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.clone())
    };
    let number = |name: &str, default: u64| -> Result<u64, BoxError> {
        get(name).map_or(Ok(default), |v| Ok(v.replace('_', "").parse()?))
    };
    for (name, _) in &options {
        let known = [
            "--requests",
            "--rounds",
            "--warmup",
            "--concurrency",
            "--framework",
            "--only",
            "--static",
            "--accept",
            "--no-accept",
            "--deadline",
            "--per-round",
        ];
        if !known.contains(&name.as_str()) {
            return Err(format!("unknown option {name}\n\n{USAGE}").into());
        }
    }
    let frameworks = {
        let f = get("--framework").unwrap_or_else(|| "all".to_owned());
        Framework::parse(&f).ok_or_else(|| format!("unknown framework {f}"))?
    };
    let concurrency = number("--concurrency", 64)?.max(1) as usize;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client_tid = stats::current_tid();
    match mode.as_str() {
        "bench" => {
            let only = match get("--only").as_deref() {
                None => None,
                Some("ours") => Some(bench::Which::Ours),
                Some("static") => Some(bench::Which::Static),
                Some("handrolled") => Some(bench::Which::Handrolled),
                Some(other) => {
                    return Err(format!("--only {other}: ours, static or handrolled").into());
                }
            };
            let accept = if options.iter().any(|(n, _)| n == "--no-accept") {
                None
            } else {
                Some(get("--accept").unwrap_or_else(|| "application/json".to_owned()))
            };
            let placement = match get("--static").as_deref() {
                None | Some("outside") => servers::Placement::Outside,
                Some("inside") => servers::Placement::Inside,
                Some(other) => return Err(format!("--static {other}: outside or inside").into()),
            };
            let options = bench::Options {
                placement,
                requests: number("--requests", 200_000)? as usize,
                rounds: number("--rounds", 10)?.max(1) as usize,
                concurrency,
                warmup: number("--warmup", 10_000)? as usize,
                deadline: Duration::from_secs(number("--deadline", 600)?),
                frameworks,
                only,
                accept,
            };
            runtime.block_on(bench::run(options, client_tid))?;
            Ok(ExitCode::SUCCESS)
        }
        "soak" => {
            let options = soak::Options {
                requests: number("--requests", 100_000)?,
                concurrency,
                deadline: Duration::from_secs(number("--deadline", 900)?),
                frameworks,
            };
            let passed = runtime.block_on(soak::run(options))?;
            Ok(if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        "hostile" => {
            let options = hostile::Options {
                rounds: number("--rounds", 10)?.max(1) as usize,
                per_round: number("--per-round", 10)?.max(1) as usize,
                deadline: Duration::from_secs(number("--deadline", 300)?),
            };
            let passed = runtime.block_on(hostile::run(options))?;
            Ok(if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(format!("unknown mode {other}\n\n{USAGE}").into()),
    }
}
