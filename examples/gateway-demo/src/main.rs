//! The gateway-error demo: a live gateway in front of misbehaving upstreams.
//!
//! ```sh
//! cargo run -p gateway-demo                                # run every scenario, print a table, exit
//! cargo run -p gateway-demo -- --serve 127.0.0.1:8080      # keep serving, for curl and a browser
//! ```
//!
//! Everything runs in this process, on loopback only: thirteen fake upstreams
//! (real TCP servers that refuse, reset, hang, send garbage...) and an axum
//! gateway in front of them that answers `GET` and `POST /upstream/{scenario}`
//! with the right 502, 503 or 504, through gateway-error. After the table,
//! a retrying client calls the gateway and shows, per scenario, its
//! attempts, what each answer told it and how long it waited.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use gateway_demo::gateway;
use gateway_demo::upstreams::{Scenario, Upstream, Upstreams};
use gateway_error::retry::{Decision, ExponentialBackoff, Failure, RetryPolicy};
use http::Method;
use tokio::net::TcpListener;

const ACCEPTS: [(&str, Method); 3] = [
    ("application/json", Method::GET),
    ("application/json", Method::POST),
    ("text/html", Method::GET),
];

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let serve = match args.as_slice() {
        [] => None,
        [flag, addr] if flag == "--serve" => match addr.parse::<SocketAddr>() {
            Ok(addr) if addr.ip().is_loopback() => Some(addr),
            Ok(addr) => {
                eprintln!("gateway-demo: {addr} is not a loopback address; use 127.0.0.1 or [::1]");
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("gateway-demo: invalid address {addr:?}: {e}");
                return ExitCode::FAILURE;
            }
        },
        _ => {
            eprintln!("usage: gateway-demo [--serve 127.0.0.1:PORT]");
            return ExitCode::FAILURE;
        }
    };
    match run(serve).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gateway-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(serve: Option<SocketAddr>) -> Result<(), Box<dyn std::error::Error>> {
    let upstreams = Upstreams::start().await?;
    let listener =
        TcpListener::bind(serve.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)))).await?;
    let addr = listener.local_addr()?;
    let app = gateway::router(upstreams, gateway::client()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    if serve.is_some() {
        println!("gateway-demo serving on http://{addr} (Ctrl-C to stop)");
        for scenario in Scenario::ALL {
            println!("  curl -i http://{addr}/upstream/{}", scenario.name());
        }
        println!("  curl -i -X POST http://{addr}/upstream/hang");
        println!("  curl -i http://{addr}/products/7    # the upstream's 404, relayed");
        println!(
            "  curl -i -H 'accept: application/problem+json' http://{addr}/upstream/unavailable"
        );
        tokio::signal::ctrl_c().await?;
        return Ok(());
    }

    let started = Instant::now();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .no_proxy()
        .build()?;
    let mut calls = tokio::task::JoinSet::new();
    for (i, scenario) in Scenario::ALL.into_iter().enumerate() {
        for (j, (accept, method)) in ACCEPTS.iter().enumerate() {
            let request = client
                .request(
                    method.clone(),
                    format!("http://{addr}/upstream/{}", scenario.name()),
                )
                .header("accept", *accept)
                .header("x-request-id", format!("demo-{i}-{j}"));
            let what = (i, j, scenario, *accept, method.clone());
            calls.spawn(async move { (what, request.send().await) });
        }
    }
    let mut rows = Vec::new();
    while let Some(done) = calls.join_next().await {
        let ((i, j, scenario, accept, method), result) = done?;
        let response = result?;
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_else(|| "-".into())
        };
        let (proxy_status, retry_after) = (header("proxy-status"), header("retry-after"));
        let body = response.text().await?;
        rows.push((
            (i, j),
            scenario,
            method,
            accept,
            status,
            proxy_status,
            retry_after,
            body,
        ));
    }
    rows.sort_by_key(|row| row.0);

    println!(
        "{:<13} {:<6} {:<17} {:<3} {:<68} {:<8} body",
        "scenario", "method", "accept", "st", "proxy-status", "retry"
    );
    for (_, scenario, method, accept, status, proxy_status, retry_after, body) in &rows {
        println!(
            "{:<13} {:<6} {:<17} {:<3} {:<68} {:<8} {}",
            scenario.name(),
            method.as_str(),
            accept,
            status.as_u16(),
            proxy_status,
            retry_after,
            excerpt(body)
        );
    }
    println!(
        "\n{} requests through the gateway in {:.1} s; every failure above is an upstream's, \
         answered by gateway-error.",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    retrying_client(addr, &client).await?;
    server.abort();
    Ok(())
}

/// The scenarios the retrying client calls through the gateway.
const RETRIED: [(Method, Scenario); 6] = [
    (Method::GET, Scenario::Ok),
    (Method::POST, Scenario::Refused),
    (Method::POST, Scenario::Reset),
    (Method::GET, Scenario::Reset),
    (Method::GET, Scenario::Garbage),
    (Method::GET, Scenario::Unavailable),
];

/// The client's side: the loop every retrying client runs (the tower,
/// reqwest-middleware and backon integrations run the same decisions),
/// printed step by step.
async fn retrying_client(
    addr: SocketAddr,
    client: &reqwest::Client,
) -> Result<(), Box<dyn std::error::Error>> {
    let policy = RetryPolicy::new()
        .with_max_retries(2)
        .with_backoff(ExponentialBackoff::new(
            Duration::from_millis(50),
            Duration::from_millis(200),
        ))
        .with_max_retry_after(Duration::from_secs(10));
    // And one upstream called directly: 503 with `Retry-After: 1`, then 200.
    let unavailable_once = Upstream::unavailable("1", 1).await?;
    let direct = format!("http://{}/products/42", unavailable_once.addr());
    let direct = {
        let (client, policy) = (client.clone(), policy.clone());
        tokio::spawn(async move { retried(&client, &policy, Method::GET, &direct).await })
    };
    let mut calls = tokio::task::JoinSet::new();
    for (i, (method, scenario)) in RETRIED.into_iter().enumerate() {
        let (client, policy) = (client.clone(), policy.clone());
        let url = format!("http://{addr}/upstream/{}", scenario.name());
        calls.spawn(async move { (i, retried(&client, &policy, method, &url).await) });
    }
    let mut rows = Vec::new();
    while let Some(done) = calls.join_next().await {
        let (i, steps) = done?;
        rows.push((i, steps?));
    }
    rows.sort_by_key(|row| row.0);

    println!(
        "\nA retrying client (gateway_error::retry::RetryPolicy: 2 retries, backoff 50-200 ms, \
         Retry-After up to 10 s):"
    );
    let print = |method: &Method, what: &str, steps: &[String]| {
        println!(
            "{:<6} {:<13} {} attempt{}: {}",
            method.as_str(),
            what,
            steps.len(),
            if steps.len() == 1 { "" } else { "s" },
            steps.join("; ")
        );
    };
    for (i, steps) in rows {
        let (method, scenario) = &RETRIED[i];
        print(method, scenario.name(), &steps);
    }
    let steps = direct.await??;
    print(&Method::GET, "503-once", &steps);
    println!(
        "(503-once: an upstream called directly, answering 503 with Retry-After: 1, then 200.)"
    );
    Ok(())
}

/// One call, retried as `policy` decides; a line per attempt.
async fn retried(
    client: &reqwest::Client,
    policy: &RetryPolicy,
    method: Method,
    url: &str,
) -> reqwest::Result<Vec<String>> {
    if let Some(budget) = policy.budget() {
        budget.deposit();
    }
    let mut steps = Vec::new();
    for retries in 0.. {
        let response = client.request(method.clone(), url).send().await?;
        let status = response.status();
        let Some(failure) = Failure::from_response(status, response.headers(), b"") else {
            steps.push(status.as_u16().to_string());
            break;
        };
        let mut answer = status.as_u16().to_string();
        if let Some(kind) = failure.kind() {
            answer = format!("{answer} {kind}");
        }
        if let Some(retry_after) = failure.retry_after() {
            answer = format!("{answer} (Retry-After: {retry_after})");
        }
        match policy.decide(&method, retries, &failure) {
            Decision::Retry(delay) => {
                steps.push(format!("{answer}, waits {} ms", delay.as_millis()));
                tokio::time::sleep(delay).await;
            }
            Decision::Stop(stop) => {
                steps.push(format!("{answer}, stops: {stop:?}"));
                break;
            }
            _ => break,
        }
    }
    Ok(steps)
}

/// The part of a body worth a table cell: JSON members after the message,
/// or the HTML page's paragraph.
fn excerpt(body: &str) -> String {
    let interesting = body
        .find("\"kind\"")
        .or_else(|| body.find("\"details\""))
        .or_else(|| body.find("<p>"))
        .map_or(body, |at| &body[at..]);
    let flat: String = interesting
        .chars()
        .filter(|c| *c != '\n')
        .take(90)
        .collect();
    flat
}
