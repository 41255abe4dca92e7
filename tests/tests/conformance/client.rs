//! Sending one case's request and keeping what came back.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::BoxError;
use crate::table::{Case, M, Via, path};

/// Every request (connect, send, read) is bounded by this.
pub(crate) const REQUEST_LIMIT: Duration = Duration::from_secs(10);

/// The body POST requests carry.
const POST_BODY: &str = r#"{"order":1}"#;

/// A response as received: header names lowercase, in wire (or map)
/// order, values as bytes.
#[derive(Debug)]
pub(crate) struct Got {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    /// The body reqwest read, or everything a raw socket received after
    /// the header section.
    pub(crate) body: Vec<u8>,
}

impl Got {
    pub(crate) fn values(&self, name: &str) -> Vec<&[u8]> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
            .collect()
    }
}

/// The client side of the suite: one keep-alive reqwest client, and raw
/// sockets for what reqwest cannot send or see.
pub(crate) struct Client {
    reqwest: reqwest::Client,
}

impl Client {
    pub(crate) fn new() -> Result<Self, BoxError> {
        let reqwest = reqwest::Client::builder()
            .no_proxy()
            .timeout(REQUEST_LIMIT)
            .connect_timeout(REQUEST_LIMIT)
            .pool_max_idle_per_host(1)
            .build()?;
        Ok(Self { reqwest })
    }

    /// Sends case `index` to `addr`.
    pub(crate) async fn send(
        &self,
        addr: SocketAddr,
        index: usize,
        case: &Case,
    ) -> Result<Got, BoxError> {
        let ids = case.sent_ids(index);
        match case.via() {
            Via::Reqwest => self.send_reqwest(addr, index, case, ids).await,
            Via::Raw => timeout(REQUEST_LIMIT, send_raw(addr, index, case, ids)).await?,
        }
    }

    async fn send_reqwest(
        &self,
        addr: SocketAddr,
        index: usize,
        case: &Case,
        ids: Vec<Vec<u8>>,
    ) -> Result<Got, BoxError> {
        let url = format!("http://{addr}{}", path(index));
        let mut request = self.reqwest.request(case.method.method(), url);
        for accept in case.accept {
            // `header` appends: two `Accept` fields stay two lines.
            request = request.header(http::header::ACCEPT, *accept);
        }
        for id in ids {
            request = request.header("x-request-id", http::HeaderValue::from_bytes(&id)?);
        }
        if case.method == M::Post {
            request = request
                .header(http::header::CONTENT_TYPE, case.content_type)
                .body(POST_BODY);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
            .collect();
        let body = response.bytes().await?.to_vec();
        Ok(Got {
            status,
            headers,
            body,
        })
    }
}

/// One request on its own connection, `connection: close`, read to EOF.
async fn send_raw(
    addr: SocketAddr,
    index: usize,
    case: &Case,
    ids: Vec<Vec<u8>>,
) -> Result<Got, BoxError> {
    let mut request = format!(
        "{} {} HTTP/1.1\r\nhost: {addr}\r\n",
        case.method.method(),
        path(index)
    )
    .into_bytes();
    for accept in case.accept {
        request.extend_from_slice(format!("accept: {accept}\r\n").as_bytes());
    }
    for id in ids {
        request.extend_from_slice(b"x-request-id: ");
        request.extend_from_slice(&id);
        request.extend_from_slice(b"\r\n");
    }
    if case.method == M::Post {
        request.extend_from_slice(
            format!(
                "content-type: {}\r\ncontent-length: {}\r\n",
                case.content_type,
                POST_BODY.len()
            )
            .as_bytes(),
        );
    }
    request.extend_from_slice(b"connection: close\r\n\r\n");
    if case.method == M::Post {
        request.extend_from_slice(POST_BODY.as_bytes());
    }

    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(&request).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    parse_raw(&raw)
}

/// Status, fields and everything after the header section.
fn parse_raw(raw: &[u8]) -> Result<Got, BoxError> {
    let response = gateway_error_tests::wire::parse_response(raw)?;
    Ok(Got {
        status: response.status,
        headers: response.fields,
        body: response.body,
    })
}
