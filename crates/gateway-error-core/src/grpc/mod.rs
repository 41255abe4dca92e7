//! gRPC on both sides: the codes (grpc's `statuscodes.md`), the fields of
//! a Trailers-Only answer, and with the `tonic` feature tonic's `Status`
//! to and from [`GatewayError`](crate::GatewayError).
//!
//! The renderer writes the answer a gRPC caller gets (see
//! [`Format::Grpc`](crate::Format::Grpc)); [`parse`](crate::parse) reads
//! one back.

pub(crate) mod details;
#[cfg(feature = "tonic")]
mod tonic;

use http::{HeaderName, StatusCode};

#[cfg(feature = "tonic")]
pub(crate) use self::tonic::{Answer, error_from_status};

/// `grpc-status`.
pub(crate) const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
/// `grpc-message`.
pub(crate) const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
/// `grpc-retry-pushback-ms` (gRFC A6).
pub(crate) const GRPC_RETRY_PUSHBACK_MS: HeaderName =
    HeaderName::from_static("grpc-retry-pushback-ms");
/// `grpc-status-details-bin`.
pub(crate) const GRPC_STATUS_DETAILS_BIN: HeaderName =
    HeaderName::from_static("grpc-status-details-bin");

/// A gRPC status code, numbered as grpc's `statuscodes.md` and
/// `tonic::Code` number them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GrpcCode(u8);

impl GrpcCode {
    pub(crate) const OK: Self = Self(0);
    pub(crate) const UNKNOWN: Self = Self(2);
    pub(crate) const DEADLINE_EXCEEDED: Self = Self(4);
    pub(crate) const RESOURCE_EXHAUSTED: Self = Self(8);
    pub(crate) const INTERNAL: Self = Self(13);
    pub(crate) const UNAVAILABLE: Self = Self(14);
    #[cfg(any(test, feature = "tonic"))]
    pub(crate) const UNAUTHENTICATED: Self = Self(16);

    /// The code a `grpc-status` value names: ASCII digits, 0 to 16; any
    /// other value is `UNKNOWN`, as gRPC clients read it.
    pub(crate) fn from_bytes(value: &[u8]) -> Self {
        match value {
            [d @ b'0'..=b'9'] => Self(d - b'0'),
            [b'1', d @ b'0'..=b'6'] => Self(10 + d - b'0'),
            _ => Self::UNKNOWN,
        }
    }

    /// The code from its number; any other number is `UNKNOWN`.
    #[cfg(any(test, feature = "tonic"))]
    pub(crate) fn from_i32(code: i32) -> Self {
        u8::try_from(code)
            .ok()
            .filter(|&code| code <= Self::UNAUTHENTICATED.0)
            .map_or(Self::UNKNOWN, Self)
    }

    /// The code's number.
    #[cfg(any(feature = "tonic", feature = "grpc-details"))]
    pub(crate) fn as_i32(self) -> i32 {
        i32::from(self.0)
    }

    /// The `grpc-status` field value.
    pub(crate) fn as_str(self) -> &'static str {
        const VALUES: [&str; 17] = [
            "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15",
            "16",
        ];
        VALUES.get(usize::from(self.0)).copied().unwrap_or("2")
    }

    /// Whether an upstream that answered with this code meant it as its
    /// answer to the request (`NOT_FOUND`, `INVALID_ARGUMENT`,
    /// `PERMISSION_DENIED`...): relayed to a gRPC caller as it is, as an
    /// HTTP upstream's 404 is relayed in `received-status`. Not the codes
    /// of a failure on the way (`UNAVAILABLE`, `DEADLINE_EXCEEDED`,
    /// `RESOURCE_EXHAUSTED`, `CANCELLED`), nor those of an upstream's own
    /// fault (`UNKNOWN`, `INTERNAL`, `DATA_LOSS`), which this gateway
    /// answers with its own code.
    pub(crate) fn is_an_answer(self) -> bool {
        matches!(self.0, 3 | 5 | 6 | 7 | 9 | 10 | 11 | 12 | 16)
    }

    /// Whether the same request gets this code again (as
    /// [`answers_the_same_again`](crate::error::answers_the_same_again)
    /// for an HTTP status): every answer (see [`is_an_answer`](Self::is_an_answer)),
    /// and an upstream's own fault, `UNKNOWN`, `INTERNAL` or `DATA_LOSS`
    /// (as a 500 is). Not `OK`, `CANCELLED`, `DEADLINE_EXCEEDED`,
    /// `RESOURCE_EXHAUSTED` or `UNAVAILABLE`, which may pass.
    pub(crate) fn answers_the_same_again(self) -> bool {
        self.is_an_answer() || matches!(self.0, 2 | 13 | 15)
    }
}

/// The status a gateway answers with for a gRPC upstream's answer, as
/// [`relay_status`](crate::classify::relay_status) for an HTTP one: 503
/// for `UNAVAILABLE` and `RESOURCE_EXHAUSTED` (the upstream limits this
/// gateway, as a 429 does), 502 for any other.
#[cfg_attr(not(feature = "tonic"), allow(dead_code))]
pub(crate) fn relay_status(code: GrpcCode) -> StatusCode {
    match code {
        GrpcCode::UNAVAILABLE | GrpcCode::RESOURCE_EXHAUSTED => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_GATEWAY,
    }
}

/// A `grpc-retry-pushback-ms` value: milliseconds, negative for gRFC A6's
/// "do not retry"; `None` when it is not an integer.
pub(crate) fn read_pushback(value: &str) -> Option<i64> {
    value.trim().parse().ok()
}

/// The wait a gRPC answer gives: its pushback when that is not negative,
/// else its details' `RetryInfo`.
pub(crate) fn wait(
    pushback: Option<i64>,
    retry_delay: impl FnOnce() -> Option<std::time::Duration>,
) -> Option<crate::RetryAfter> {
    pushback
        .and_then(|ms| u64::try_from(ms).ok())
        .map(std::time::Duration::from_millis)
        .or_else(retry_delay)
        .map(crate::RetryAfter::delay)
}

/// The HTTP status a gRPC answer's code stands for, when nothing says
/// which: 500 for `INTERNAL`, 504 for `DEADLINE_EXCEEDED`, 503 for
/// `UNAVAILABLE` and `RESOURCE_EXHAUSTED`, 502 for any other.
pub(crate) fn status_for(code: GrpcCode) -> StatusCode {
    match code {
        GrpcCode::INTERNAL => StatusCode::INTERNAL_SERVER_ERROR,
        GrpcCode::DEADLINE_EXCEEDED => StatusCode::GATEWAY_TIMEOUT,
        GrpcCode::UNAVAILABLE | GrpcCode::RESOURCE_EXHAUSTED => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_GATEWAY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_as_grpc_clients_read_them() {
        for code in 0..=16u8 {
            assert_eq!(
                GrpcCode::from_bytes(code.to_string().as_bytes()),
                GrpcCode(code)
            );
            assert_eq!(GrpcCode(code).as_str(), code.to_string());
            assert_eq!(GrpcCode::from_i32(i32::from(code)), GrpcCode(code));
        }
        for other in [&b""[..], b"17", b"-1", b"01", b"1 ", b"x", b"100"] {
            assert_eq!(GrpcCode::from_bytes(other), GrpcCode::UNKNOWN);
        }
        assert_eq!(GrpcCode::from_i32(-1), GrpcCode::UNKNOWN);
        assert_eq!(GrpcCode::from_i32(17), GrpcCode::UNKNOWN);
    }

    #[test]
    fn what_comes_again() {
        let again: Vec<u8> = (0..=16)
            .filter(|&code| GrpcCode(code).answers_the_same_again())
            .collect();
        assert_eq!(again, [2, 3, 5, 6, 7, 9, 10, 11, 12, 13, 15, 16]);
        let answers: Vec<u8> = (0..=16)
            .filter(|&code| GrpcCode(code).is_an_answer())
            .collect();
        assert_eq!(answers, [3, 5, 6, 7, 9, 10, 11, 12, 16]);
    }
}
