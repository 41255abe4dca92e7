//! What the hyper example's tests share: a raw loopback request, and its
//! answer as status, sorted field lines and body.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::timeout;

/// The bound on each request and on each server start or stop.
pub(crate) const LIMIT: Duration = Duration::from_secs(10);

/// Status, field lines (lowercase names, sorted) and
/// body of a raw response.
pub(crate) fn parse(raw: &str) -> (u16, Vec<(String, String)>, String) {
    let (head, body) = raw.split_once("\r\n\r\n").expect("a header section");
    let mut lines = head.split("\r\n");
    let status = lines.next().expect("a status line")[9..12]
        .parse()
        .expect("a status code");
    let mut fields: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("a field line");
            (name.to_ascii_lowercase(), value.trim().to_owned())
        })
        .filter(|(name, _)| name != "date" && name != "connection")
        .collect();
    fields.sort();
    (status, fields, body.to_owned())
}

/// Sends a raw request head to `addr` and reads the whole answer.
pub(crate) async fn send(addr: SocketAddr, head: &str) -> (u16, Vec<(String, String)>, String) {
    let raw = timeout(LIMIT, example_hyper::send(addr, head))
        .await
        .expect("a response in time")
        .expect("a response");
    parse(&raw)
}
