//! Fake upstreams: real TCP servers on 127.0.0.1, each misbehaving one way.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinSet;

/// How an upstream misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scenario {
    /// Answers 200 with a small JSON product (`/products/42`; any other
    /// path gets a 404).
    Ok,
    /// Nothing listens on its port.
    Refused,
    /// Accepts, reads the request, then resets the connection.
    Reset,
    /// Accepts, reads the request, and never answers.
    Hang,
    /// Answers with bytes that are not HTTP.
    Garbage,
    /// Announces a longer body than it sends, then closes.
    Truncated,
    /// Sends a response header section of 1 MiB.
    HugeHeaders,
    /// Sends its response head one byte every 100 ms.
    SlowHeaders,
    /// Answers 503 with `Retry-After: 120`.
    Unavailable,
    /// Is itself a proxy: answers 502 with its own `Proxy-Status`.
    Upstream502,
    /// Answers 200 and streams a chunked body that never ends.
    EndlessBody,
    /// Sends its response head one byte per second.
    DripHeaders,
    /// Sends a 100 MiB response header section, generated as it goes.
    HeaderFlood,
}

impl Scenario {
    /// Every scenario, in the order the demo shows them.
    pub const ALL: [Self; 13] = [
        Self::Ok,
        Self::Refused,
        Self::Reset,
        Self::Hang,
        Self::Garbage,
        Self::Truncated,
        Self::HugeHeaders,
        Self::SlowHeaders,
        Self::Unavailable,
        Self::Upstream502,
        Self::EndlessBody,
        Self::DripHeaders,
        Self::HeaderFlood,
    ];

    /// The scenario's path segment: `ok`, `refused`, `huge-headers`...
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Refused => "refused",
            Self::Reset => "reset",
            Self::Hang => "hang",
            Self::Garbage => "garbage",
            Self::Truncated => "truncated",
            Self::HugeHeaders => "huge-headers",
            Self::SlowHeaders => "slow-headers",
            Self::Unavailable => "unavailable",
            Self::Upstream502 => "upstream-502",
            Self::EndlessBody => "endless-body",
            Self::DripHeaders => "drip-headers",
            Self::HeaderFlood => "header-flood",
        }
    }

    /// The scenario named `name`, if any.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// The running upstreams: one address per scenario. Dropping it stops them.
#[derive(Debug)]
pub struct Upstreams {
    addrs: BTreeMap<Scenario, SocketAddr>,
    _refusing: TcpSocket,
    _tasks: JoinSet<()>,
}

impl Upstreams {
    /// Starts every scenario's server on `127.0.0.1`, each on its own port.
    ///
    /// # Errors
    ///
    /// When a socket cannot be bound.
    pub async fn start() -> io::Result<Self> {
        let mut addrs = BTreeMap::new();
        let mut tasks = JoinSet::new();
        let refusing = refusing_port()?;
        addrs.insert(Scenario::Refused, refusing.local_addr()?);
        for scenario in Scenario::ALL {
            if scenario == Scenario::Refused {
                continue;
            }
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            addrs.insert(scenario, listener.local_addr()?);
            tasks.spawn(serve(
                listener,
                Behaviour::Scenario(scenario),
                Log::default(),
            ));
        }
        Ok(Self {
            addrs,
            _refusing: refusing,
            _tasks: tasks,
        })
    }

    /// The address of `scenario`'s server.
    #[must_use]
    pub fn addr(&self, scenario: Scenario) -> SocketAddr {
        self.addrs[&scenario]
    }
}

/// A port on 127.0.0.1 that refuses connections for as long as the socket
/// lives: bound, never listening. (A port bound and released at once can be
/// handed straight to another socket, such as a concurrent test's listener,
/// which would then answer for "refused".)
fn refusing_port() -> io::Result<TcpSocket> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    Ok(socket)
}

/// One upstream on its own port, which records when each request arrived:
/// tests count a client's attempts and measure its waits with it. Dropping
/// it stops the server.
#[derive(Debug)]
pub struct Upstream {
    addr: SocketAddr,
    log: Log,
    _refusing: Option<TcpSocket>,
    _task: JoinSet<()>,
}

impl Upstream {
    /// Starts `scenario`'s server on `127.0.0.1` (for [`Scenario::Refused`],
    /// a port that refuses connections, and so records nothing).
    ///
    /// # Errors
    ///
    /// When a socket cannot be bound.
    pub async fn start(scenario: Scenario) -> io::Result<Self> {
        Self::serve(Behaviour::Scenario(scenario)).await
    }

    /// Starts a server that answers its first `failures` requests with
    /// `503 Service Unavailable` and `Retry-After: {retry_after}`, and the
    /// others with `200 OK`.
    ///
    /// # Errors
    ///
    /// When a socket cannot be bound.
    pub async fn unavailable(retry_after: &'static str, failures: usize) -> io::Result<Self> {
        Self::serve(Behaviour::Unavailable {
            retry_after,
            failures,
        })
        .await
    }

    /// Starts a server that answers every request with `response`, the
    /// raw bytes of an HTTP/1.1 response, and closes the connection (so
    /// `response` should say `connection: close`).
    ///
    /// # Errors
    ///
    /// When a socket cannot be bound.
    pub async fn answering(response: &'static [u8]) -> io::Result<Self> {
        Self::serve(Behaviour::Answer(response)).await
    }

    /// Starts a server that answers every second request (the first, the
    /// third...) with `failure`, the raw bytes of an HTTP/1.1 response, and
    /// the others with product 42; it closes each connection after one
    /// answer.
    ///
    /// # Errors
    ///
    /// When a socket cannot be bound.
    pub async fn alternating(failure: &'static [u8]) -> io::Result<Self> {
        Self::serve(Behaviour::Alternate(failure)).await
    }

    async fn serve(behaviour: Behaviour) -> io::Result<Self> {
        let log = Log::default();
        let mut task = JoinSet::new();
        if behaviour == Behaviour::Scenario(Scenario::Refused) {
            let refusing = refusing_port()?;
            return Ok(Self {
                addr: refusing.local_addr()?,
                log,
                _refusing: Some(refusing),
                _task: task,
            });
        }
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        task.spawn(serve(listener, behaviour, log.clone()));
        Ok(Self {
            addr,
            log,
            _refusing: None,
            _task: task,
        })
    }

    /// The server's address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// When each request (its head read in full) arrived, in order.
    #[must_use]
    pub fn requests(&self) -> Vec<Instant> {
        self.log
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// What a server does with each request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    Scenario(Scenario),
    Answer(&'static [u8]),
    Alternate(&'static [u8]),
    Unavailable {
        retry_after: &'static str,
        failures: usize,
    },
}

/// The arrival times of a server's requests.
#[derive(Clone, Debug, Default)]
struct Log(Arc<Mutex<Vec<Instant>>>);

impl Log {
    /// Records a request; returns how many came before it.
    fn record(&self) -> usize {
        let mut log = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        log.push(Instant::now());
        log.len() - 1
    }
}

async fn serve(listener: TcpListener, behaviour: Behaviour, log: Log) {
    let mut connections = JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        // Reap finished connections so the set stays small.
        while connections.try_join_next().is_some() {}
        let log = log.clone();
        connections.spawn(async move {
            // Each connection is bounded in time, whatever the client does.
            let _ = tokio::time::timeout(Duration::from_secs(30), async move {
                let mut stream = stream;
                let product_42 = read_head(&mut stream).await?;
                let earlier = log.record();
                match behaviour {
                    Behaviour::Scenario(Scenario::Ok) if !product_42 => not_found(stream).await,
                    Behaviour::Scenario(scenario) => misbehave(stream, scenario).await,
                    Behaviour::Unavailable {
                        retry_after,
                        failures,
                    } if earlier < failures => unavailable(stream, retry_after).await,
                    Behaviour::Unavailable { .. } => misbehave(stream, Scenario::Ok).await,
                    Behaviour::Answer(response) => answer(stream, response).await,
                    Behaviour::Alternate(failure) if earlier % 2 == 0 => {
                        answer(stream, failure).await
                    }
                    Behaviour::Alternate(_) => misbehave(stream, Scenario::Ok).await,
                }
            })
            .await;
        });
    }
}

/// Writes `response`, raw bytes, and closes the connection.
async fn answer(mut stream: TcpStream, response: &[u8]) -> io::Result<()> {
    stream.write_all(response).await?;
    stream.shutdown().await
}

/// A 503 with the given `Retry-After`; the connection closes after it.
async fn unavailable(mut stream: TcpStream, retry_after: &str) -> io::Result<()> {
    let body = b"try again later";
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\nretry-after: {retry_after}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}

/// A 404, for [`Scenario::Ok`] asked for anything but product 42; the
/// connection closes after it.
async fn not_found(mut stream: TcpStream) -> io::Result<()> {
    let body = br#"{"error":"no such product"}"#;
    let head = format!(
        "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}

/// Reads one request head (up to 64 KiB), so the failure happens after the
/// request was sent, as it would in production. Returns whether it asks
/// for `/products/42`, the one product [`Scenario::Ok`] has.
async fn read_head(stream: &mut TcpStream) -> io::Result<bool> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut len = 0;
    while len < buf.len() {
        let n = stream.read(&mut buf[len..]).await?;
        if n == 0 {
            break;
        }
        len += n;
        if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let target = buf[..len].split(|&b| b == b' ').nth(1);
    Ok(target == Some(&b"/products/42"[..]))
}

/// Answers a request whose head was read, as `scenario` does.
async fn misbehave(mut stream: TcpStream, scenario: Scenario) -> io::Result<()> {
    match scenario {
        Scenario::Ok => {
            let body = br#"{"id":42,"name":"Teapot","price":"19.99"}"#;
            // It closes the connection after one answer, so it says so
            // (RFC 9112 section 9.6): a client must not send another
            // request on it (a POST sent on it would be lost to the race).
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body).await?;
        }
        Scenario::Refused => {}
        Scenario::Reset => {
            // A zero linger turns the close into a TCP RST.
            stream.set_zero_linger()?;
            drop(stream);
            return Ok(());
        }
        Scenario::Hang => {
            // Hold the connection open until the client gives up.
            let mut sink = [0u8; 1024];
            while stream.read(&mut sink).await? > 0 {}
        }
        Scenario::Garbage => {
            stream
                .write_all(b"SSH-2.0-OpenSSH_9.6\r\n\x00\x01\x02 not http\r\n\r\n")
                .await?;
        }
        Scenario::Truncated => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"id\":4")
                .await?;
        }
        Scenario::HugeHeaders => {
            stream.write_all(b"HTTP/1.1 200 OK\r\n").await?;
            let line = format!("x-filler: {}\r\n", "a".repeat(1000));
            for _ in 0..1024 {
                stream.write_all(line.as_bytes()).await?;
            }
            stream.write_all(b"content-length: 0\r\n\r\n").await?;
        }
        Scenario::SlowHeaders => {
            for &byte in b"HTTP/1.1 200 OK\r\nx-slow: one byte at a time\r\n\r\n" {
                stream.write_all(&[byte]).await?;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Scenario::Unavailable => {
            let body = b"maintenance";
            let head = format!(
                "HTTP/1.1 503 Service Unavailable\r\nretry-after: 120\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body).await?;
        }
        Scenario::Upstream502 => {
            let body = b"upstream of the upstream refused";
            let head = format!(
                "HTTP/1.1 502 Bad Gateway\r\nproxy-status: inner-proxy; error=connection_refused\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body).await?;
        }
        Scenario::EndlessBody => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ntransfer-encoding: chunked\r\n\r\n")
                .await?;
            let mut chunk = b"10000\r\n".to_vec();
            chunk.resize(chunk.len() + 0x10000, b'z');
            chunk.extend_from_slice(b"\r\n");
            // Until the client hangs up (the write fails) or time runs out.
            loop {
                stream.write_all(&chunk).await?;
            }
        }
        Scenario::DripHeaders => {
            for &byte in b"HTTP/1.1 200 OK\r\nx-drip: one byte per second\r\n\r\n" {
                stream.write_all(&[byte]).await?;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        Scenario::HeaderFlood => {
            stream.write_all(b"HTTP/1.1 200 OK\r\n").await?;
            // 100 MiB in 1 KiB lines, made as they are sent: the upstream's
            // memory stays flat too.
            let line = format!("x-flood: {}\r\n", "f".repeat(1024 - 11));
            for _ in 0..100 * 1024 {
                stream.write_all(line.as_bytes()).await?;
            }
            stream.write_all(b"content-length: 0\r\n\r\n").await?;
        }
    }
    stream.shutdown().await
}
