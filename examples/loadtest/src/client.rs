//! A minimal keep-alive HTTP/1.1 client on a raw socket: one request at a
//! time per connection (no pipelining), responses framed by
//! `Content-Length` only. It is cheaper per request than a full client, so
//! the server, not the client, is what the bench measures; and it sees the
//! bytes as sent, which the soak's checks need.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most bytes a response may take.
const MAX_RESPONSE: usize = 1 << 20;
/// The most header fields a response may have.
const MAX_HEADERS: usize = 64;

/// Why an exchange failed.
#[derive(Debug)]
pub(crate) enum ClientError {
    Io(std::io::Error),
    /// The server closed the connection before a whole response; the
    /// number of response bytes received.
    Closed(usize),
    /// Bytes arrived that belong to no response (e.g. a body after HEAD).
    Unexpected(usize),
    /// The response head does not parse.
    Parse(httparse::Error),
    /// No `Content-Length` on a response that needs one, or a
    /// `Transfer-Encoding` (which this client does not frame).
    Framing(&'static str),
    TooLarge,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "i/o: {e}"),
            ClientError::Closed(0) => f.write_str("connection closed before any response byte"),
            ClientError::Closed(n) => write!(f, "connection closed after {n} response bytes"),
            ClientError::Unexpected(n) => write!(f, "{n} unexpected bytes between responses"),
            ClientError::Parse(e) => write!(f, "unparsable response head: {e}"),
            ClientError::Framing(what) => write!(f, "framing: {what}"),
            ClientError::TooLarge => f.write_str("response larger than 1 MiB"),
        }
    }
}

impl std::error::Error for ClientError {}

impl ClientError {
    /// Whether the server had closed the kept-alive connection before this
    /// request: no response byte came back. A client then retries on a new
    /// connection.
    pub(crate) fn is_stale_connection(&self) -> bool {
        use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
        match self {
            ClientError::Closed(0) => true,
            ClientError::Io(e) => {
                matches!(e.kind(), BrokenPipe | ConnectionReset | ConnectionAborted)
            }
            _ => false,
        }
    }
}

impl From<std::io::Error> for ClientError {
    fn from(e: std::io::Error) -> Self {
        ClientError::Io(e)
    }
}

/// Where the last response lies in the connection's buffer.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Frame {
    pub(crate) status: u16,
    pub(crate) head_len: usize,
    pub(crate) body_len: usize,
    /// The value of `Content-Length`, when present.
    pub(crate) content_length: Option<usize>,
}

/// One keep-alive connection.
pub(crate) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    filled: usize,
    /// Bytes of the previous response still at the front of `buf`.
    consumed: usize,
}

impl Conn {
    pub(crate) async fn connect(addr: SocketAddr) -> Result<Self, ClientError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: vec![0; 16 * 1024],
            filled: 0,
            consumed: 0,
        })
    }

    /// Sends `request` and reads one whole response. For HEAD (`head`), the
    /// response has no body whatever its `Content-Length` says.
    pub(crate) async fn exchange(
        &mut self,
        request: &[u8],
        head: bool,
    ) -> Result<Frame, ClientError> {
        if self.consumed > 0 {
            self.buf.copy_within(self.consumed..self.filled, 0);
            self.filled -= self.consumed;
            self.consumed = 0;
        }
        if self.filled > 0 {
            return Err(ClientError::Unexpected(self.filled));
        }
        self.stream.write_all(request).await?;
        loop {
            if self.filled > 0 {
                if let Some(frame) = frame(&self.buf[..self.filled], head)? {
                    let end = frame.head_len + frame.body_len;
                    if end > MAX_RESPONSE {
                        return Err(ClientError::TooLarge);
                    }
                    if self.filled >= end {
                        self.consumed = end;
                        return Ok(frame);
                    }
                    if self.buf.len() < end {
                        self.buf.resize(end, 0);
                    }
                }
            }
            if self.filled == self.buf.len() {
                if self.buf.len() >= MAX_RESPONSE {
                    return Err(ClientError::TooLarge);
                }
                let len = self.buf.len() * 2;
                self.buf.resize(len, 0);
            }
            let n = self.stream.read(&mut self.buf[self.filled..]).await?;
            if n == 0 {
                return Err(ClientError::Closed(self.filled));
            }
            self.filled += n;
        }
    }

    /// Bytes that arrive within `wait` when no response is due (a body
    /// sent after HEAD, say), or that are already buffered.
    pub(crate) async fn stray_bytes(&mut self, wait: Duration) -> Option<usize> {
        let buffered = self.filled - self.consumed;
        if buffered > 0 {
            return Some(buffered);
        }
        let mut scratch = [0u8; 1024];
        match tokio::time::timeout(wait, self.stream.read(&mut scratch)).await {
            Ok(Ok(n)) if n > 0 => Some(n),
            _ => None,
        }
    }

    /// The last response's head (status line and fields, up to the blank line).
    pub(crate) fn head(&self, frame: &Frame) -> &[u8] {
        &self.buf[..frame.head_len]
    }

    /// The last response's body.
    pub(crate) fn body(&self, frame: &Frame) -> &[u8] {
        &self.buf[frame.head_len..frame.head_len + frame.body_len]
    }
}

/// The frame of the response at the start of `buf`, or `None` while its
/// head is incomplete.
fn frame(buf: &[u8], head: bool) -> Result<Option<Frame>, ClientError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(buf).map_err(ClientError::Parse)? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    let status = response.code.unwrap_or(0);
    let mut content_length = None;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            if content_length.is_some() {
                return Err(ClientError::Framing("two Content-Length fields"));
            }
            let value = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or(ClientError::Framing("bad Content-Length"))?;
            content_length = Some(value);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(ClientError::Framing("Transfer-Encoding"));
        }
    }
    let bodiless = head || status == 204 || status == 304 || (100..200).contains(&status);
    let body_len = match (bodiless, content_length) {
        (true, _) => 0,
        (false, Some(n)) => n,
        (false, None) => return Err(ClientError::Framing("no Content-Length")),
    };
    Ok(Some(Frame {
        status,
        head_len,
        body_len,
        content_length,
    }))
}

/// A response head's fields, names lowercased, in order.
pub(crate) fn fields(head: &[u8]) -> Result<Vec<(String, Vec<u8>)>, ClientError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    response.parse(head).map_err(ClientError::Parse)?;
    Ok(response
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
        .collect())
}
