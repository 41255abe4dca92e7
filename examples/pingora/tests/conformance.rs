//! The pingora gateway and the demo's axum gateway, in front of the same
//! failing upstreams on loopback, answer the conformance suite's requests
//! (method, `Accept` fields, `x-request-id` fields: the table of
//! `tests/tests/conformance/table.rs`) with the same status, headers and
//! body bytes. Only what pingora writes itself is left out: `date`,
//! `server`, `connection` and `keep-alive`. A generated request id is
//! checked to be valid and echoed, then compared as a placeholder.
//!
//! Each case goes to one scenario, in turn: refused, reset, hang, garbage,
//! huge headers, 503 with `Retry-After`, an upstream proxy's 502, and a path
//! no upstream serves. A truncated body is not compared: pingora streams the
//! upstream's response head on before the body fails (see
//! `a_truncated_body_cannot_change_the_status`).

#[allow(dead_code, unused_imports, unused_macros, unreachable_pub, clippy::all)]
#[path = "../../../tests/tests/conformance/table.rs"]
mod table;

use std::collections::{BTreeMap, HashMap};
use std::net::{SocketAddr, TcpListener as StdListener};
use std::time::Duration;

use gateway_demo::gateway;
use gateway_demo::upstreams::{Scenario, Upstreams};
use gateway_error::RequestId;
use pingora_gateway::proxy::{Gateway, server};
use table::{CASES, M};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every request (connect, send, read to EOF) is bounded by this.
const REQUEST_LIMIT: Duration = Duration::from_secs(10);
/// The whole comparison.
const SUITE_DEADLINE: Duration = Duration::from_secs(120);

/// The scenarios compared, in the order the cases take them; `None` is a
/// path no upstream serves.
const SCENARIOS: [Option<Scenario>; 8] = [
    Some(Scenario::Refused),
    Some(Scenario::Reset),
    Some(Scenario::Hang),
    Some(Scenario::Garbage),
    Some(Scenario::HugeHeaders),
    Some(Scenario::Unavailable),
    Some(Scenario::Upstream502),
    None,
];

fn path(scenario: Option<Scenario>) -> String {
    match scenario {
        Some(scenario) => format!("/upstream/{}", scenario.name()),
        None => "/upstream/no-such-scenario".to_owned(),
    }
}

/// The two gateways, in front of one set of upstreams.
struct Gateways {
    pingora: SocketAddr,
    axum: SocketAddr,
}

/// Starts the upstreams, the axum gateway (on this runtime) and the
/// pingora gateway (on its own threads, for the rest of the process).
async fn start() -> Result<Gateways, BoxError> {
    let upstreams = Upstreams::start().await?;
    let routes: HashMap<String, SocketAddr> = Scenario::ALL
        .into_iter()
        .map(|scenario| (path(Some(scenario)), upstreams.addr(scenario)))
        .collect();

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let axum = listener.local_addr()?;
    let app = gateway::router(upstreams, gateway::client()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    // pingora binds the address it is given: a port the system just handed
    // out on loopback.
    let pingora = StdListener::bind("127.0.0.1:0")?.local_addr()?;
    let proxy = server(
        &pingora.to_string(),
        Gateway::new(routes, gateway::policy()),
    );
    std::thread::spawn(move || proxy.run_forever());
    let ready = async {
        while TcpStream::connect(pingora).await.is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    timeout(REQUEST_LIMIT, ready)
        .await
        .map_err(|_| "the pingora gateway did not start listening")?;
    Ok(Gateways { pingora, axum })
}

/// A response read to EOF: status, field lines (names lowercase), body.
#[derive(Debug)]
struct Got {
    status: u16,
    fields: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// One request on its own connection, `connection: close`, read to EOF.
async fn send(addr: SocketAddr, request: &[u8]) -> Result<Got, BoxError> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(request).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, BoxError>(raw)
    };
    let raw = timeout(REQUEST_LIMIT, exchange).await??;
    parse(&raw)
}

fn parse(raw: &[u8]) -> Result<Got, BoxError> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            format!(
                "no end of header section in {:?}",
                String::from_utf8_lossy(raw)
            )
        })?;
    let head = std::str::from_utf8(&raw[..end])?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut fields = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad field line {line:?}"))?;
        fields.push((
            name.to_ascii_lowercase(),
            value.trim_matches([' ', '\t']).as_bytes().to_vec(),
        ));
    }
    Ok(Got {
        status,
        fields,
        body: raw[end + 4..].to_vec(),
    })
}

/// Case `index`'s request, to `path`.
fn request(index: usize, path: &str) -> Vec<u8> {
    let case = &CASES[index];
    let mut request = format!(
        "{} {path} HTTP/1.1\r\nhost: gateway.test\r\n",
        case.method.method()
    )
    .into_bytes();
    for accept in case.accept {
        request.extend_from_slice(format!("accept: {accept}\r\n").as_bytes());
    }
    for id in case.sent_ids(index) {
        request.extend_from_slice(b"x-request-id: ");
        request.extend_from_slice(&id);
        request.extend_from_slice(b"\r\n");
    }
    if case.method == M::Post {
        request.extend_from_slice(b"content-length: 0\r\n");
    }
    request.extend_from_slice(b"connection: close\r\n\r\n");
    request
}

/// What is compared: the status, each field but pingora's own (values of
/// one name in order), the body; a generated request id as a placeholder.
#[derive(Debug, PartialEq, Eq)]
struct Normalized {
    status: u16,
    fields: BTreeMap<String, Vec<Vec<u8>>>,
    body: Vec<u8>,
}

const GENERATED: &[u8] = b"<generated-request-id>";

fn normalize(index: usize, got: Got, findings: &mut Vec<String>) -> Normalized {
    let mut fields: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for (name, value) in got.fields {
        if !matches!(
            name.as_str(),
            "date" | "server" | "connection" | "keep-alive"
        ) {
            fields.entry(name).or_default().push(value);
        }
    }
    let mut body = got.body;
    let ids = fields.get("x-request-id").cloned().unwrap_or_default();
    match (CASES[index].echoed_id(index), ids.as_slice()) {
        (Some(sent), [id]) if id == sent.as_bytes() => {}
        (None, [id]) if std::str::from_utf8(id).is_ok_and(RequestId::is_valid) => {
            fields.insert("x-request-id".to_owned(), vec![GENERATED.to_vec()]);
            body = replace(&body, id, GENERATED);
        }
        (expected, got) => findings.push(format!(
            "case {index}: x-request-id {got:?}, expected {expected:?}"
        )),
    }
    Normalized {
        status: got.status,
        fields,
        body,
    }
}

fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(at) = rest.windows(needle.len()).position(|w| w == needle) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(with);
        rest = &rest[at + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pingora_answers_with_the_axum_gateways_bytes() {
    let findings = match timeout(SUITE_DEADLINE, suite()).await {
        Err(_) => panic!("the comparison did not finish within {SUITE_DEADLINE:?}"),
        Ok(Err(err)) => panic!("the comparison could not run: {err}"),
        Ok(Ok(findings)) => findings,
    };
    assert!(
        findings.is_empty(),
        "{} difference(s):\n  {}",
        findings.len(),
        findings.join("\n  ")
    );
}

async fn suite() -> Result<Vec<String>, BoxError> {
    let gateways = start().await?;
    let mut findings = Vec::new();
    let mut statuses = BTreeMap::new();
    for index in 0..CASES.len() {
        let scenario = SCENARIOS[index % SCENARIOS.len()];
        let request = request(index, &path(scenario));
        // Both at once: the hanging upstream costs its timeout once.
        let (pingora, axum) = tokio::join!(
            send(gateways.pingora, &request),
            send(gateways.axum, &request)
        );
        let (pingora, axum) = match (pingora, axum) {
            (Ok(pingora), Ok(axum)) => (pingora, axum),
            (pingora, axum) => {
                findings.push(format!(
                    "case {index} ({scenario:?}): pingora {pingora:?}, axum {axum:?}"
                ));
                continue;
            }
        };
        let pingora = normalize(index, pingora, &mut findings);
        let axum = normalize(index, axum, &mut findings);
        *statuses.entry(pingora.status).or_insert(0) += 1;
        if pingora != axum {
            findings.push(format!(
                "case {index} ({scenario:?}, {} {:?}):\n    pingora {pingora:?}\n    axum    {axum:?}",
                CASES[index].method.method(),
                CASES[index].accept,
            ));
        }
    }
    // Every scenario was compared, and they fail in more than one way.
    assert!(CASES.len() >= 2 * SCENARIOS.len());
    assert_eq!(
        statuses.keys().copied().collect::<Vec<_>>(),
        [502, 503, 504],
        "statuses seen: {statuses:?}"
    );
    Ok(findings)
}

/// A body cut short after a complete head: pingora has sent the upstream's
/// head on, so no error answer can follow; the client sees fewer bytes than
/// `content-length` announced, and the connection closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_body_cannot_change_the_status() {
    let gateways = timeout(SUITE_DEADLINE, start())
        .await
        .expect("started in time")
        .expect("started");
    let request = b"GET /upstream/truncated HTTP/1.1\r\nhost: gateway.test\r\naccept: application/json\r\nconnection: close\r\n\r\n";
    let got = send(gateways.pingora, request)
        .await
        .expect("a response head");
    assert_eq!(got.status, 200);
    let announced: Vec<&[u8]> = got
        .fields
        .iter()
        .filter(|(name, _)| name == "content-length")
        .map(|(_, value)| value.as_slice())
        .collect();
    assert_eq!(announced, [b"100".as_slice()]);
    assert_eq!(got.body, br#"{"id":4"#);
}
