//! One `tracing` event per error, for the adapters.

use std::error::Error as _;
use std::fmt;

use http::StatusCode;

use crate::GatewayError;

/// Logs `error` once through `tracing`, with its whole source chain and the
/// request id: `ERROR` for a 500 (the gateway's own fault), `WARN` for the
/// upstream failures (502, 503, 504).
///
/// The source chain goes to logs only; it never reaches a client.
///
/// # Examples
///
/// ```
/// use gateway_error_core::{log, BadGateway, GatewayError};
///
/// let err = GatewayError::from(BadGateway::upstream("db").with_source(std::io::Error::other("reset")));
/// log(&err, Some("req-1"));
/// ```
pub fn log(error: &GatewayError, request_id: Option<&str>) {
    let status = error.status().as_u16();
    let kind = error.kind().map(|k| k.as_str());
    let upstream = error.upstream_name();
    let request_id = request_id.or(error.request_id());
    let chain = SourceChain(error);
    if error.status() == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(status, kind, upstream, request_id, error = %error, source = %chain, "gateway error");
    } else {
        tracing::warn!(status, kind, upstream, request_id, error = %error, source = %chain, "gateway error");
    }
}

/// The error's causes, outermost first, joined with `: `.
struct SourceChain<'a>(&'a GatewayError);

impl fmt::Display for SourceChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut next = self.0.source();
        let mut first = true;
        while let Some(cause) = next {
            if !first {
                f.write_str(": ")?;
            }
            write!(f, "{cause}")?;
            first = false;
            next = cause.source();
        }
        Ok(())
    }
}
