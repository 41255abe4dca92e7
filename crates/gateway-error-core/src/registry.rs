//! The RFC 9209 Proxy Error Types registry, as one table.

use std::fmt;

use http::StatusCode;
use strum::VariantArray;

/// Whether a failed request may have reached the upstream.
///
/// This is what decides if a retry is safe: a request that was never sent can
/// be sent again whatever its method, while one that may have been processed
/// can only be retried when its method is idempotent (RFC 9110 section 9.2.2).
///
/// # Examples
///
/// ```
/// use gateway_error::{Phase, ProxyError};
///
/// assert_eq!(ProxyError::ConnectionRefused.phase(), Phase::NotSent);
/// assert_eq!(ProxyError::HttpResponseTimeout.phase(), Phase::MaybeSent);
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// The failure happened before any byte of the request reached the
    /// upstream (DNS, connect, TLS certificate, the proxy's own refusal).
    NotSent,
    /// The request may have reached the upstream, which may still be
    /// processing it (a reset after sending, a read timeout, a bad response).
    MaybeSent,
}

/// What sending the same request again can do for a failure of a kind:
/// the registry table's fourth column.
enum Retry {
    /// A retry may succeed (the upstream may be back, the connection may
    /// work, the answer may come in time).
    Helps,
    /// A retry fails the same way: a certificate, a size limit, the
    /// configuration, a loop.
    Fails,
}

/// The RFC 9209 registry as one table: each line is a kind, its token, its
/// recommended status, its [`Phase`], whether a retry can change it
/// ([`Retry`]) and the extra parameters the registry defines for it.
macro_rules! registry {
    ($(
        $(#[$doc:meta])*
        $variant:ident = $token:literal => $status:ident, $phase:ident, $retry:ident, [$($param:literal),*];
    )+) => {
        /// An error type of the RFC 9209 Proxy Error Types registry.
        ///
        /// Its [`Display`](std::fmt::Display) and [`FromStr`](std::str::FromStr)
        /// forms are the registry token (`connection_refused`), as is its serde
        /// form. Each kind knows its recommended status, its [`Phase`] and the
        /// extra `Proxy-Status` parameters the registry defines for it.
        ///
        /// # Examples
        ///
        /// ```
        /// use gateway_error::ProxyError;
        /// use http::StatusCode;
        ///
        /// let kind: ProxyError = "connection_timeout".parse()?;
        /// assert_eq!(kind, ProxyError::ConnectionTimeout);
        /// assert_eq!(kind.recommended_status(), StatusCode::GATEWAY_TIMEOUT);
        /// assert_eq!(kind.to_string(), "connection_timeout");
        /// # Ok::<(), gateway_error::UnknownProxyError>(())
        /// ```
        #[non_exhaustive]
        // The strum and serde impls are written out from this table (see
        // the `impl`s below) rather than derived: the derives' proc-macro
        // crates cost more to build than the rest of this crate.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ProxyError {
            $( $(#[$doc])* $variant, )+
        }

        impl strum::VariantArray for ProxyError {
            const VARIANTS: &'static [Self] = &[$( Self::$variant, )+];
        }

        impl strum::EnumCount for ProxyError {
            const COUNT: usize = [$( Self::$variant, )+].len();
        }

        /// The variants' tokens, in declaration order.
        const TOKENS: &[&str] = &[$( $token, )+];

        impl From<ProxyError> for &'static str {
            fn from(kind: ProxyError) -> Self {
                match kind {
                    $( ProxyError::$variant => $token, )+
                }
            }
        }

        impl std::str::FromStr for ProxyError {
            type Err = UnknownProxyError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $token => Ok(Self::$variant), )+
                    _ => Err(UnknownProxyError(())),
                }
            }
        }

        impl ProxyError {
            /// The status RFC 9209 recommends for this kind.
            ///
            /// `http_request_error` recommends "the fitting 4xx" (400 here) and
            /// `proxy_internal_response` "the fitting one" (500 here).
            ///
            /// # Examples
            ///
            /// ```
            /// use gateway_error::ProxyError;
            ///
            /// assert_eq!(ProxyError::ConnectionLimitReached.recommended_status().as_u16(), 503);
            /// ```
            #[must_use]
            pub const fn recommended_status(self) -> StatusCode {
                match self {
                    $( Self::$variant => StatusCode::$status, )+
                }
            }

            /// Whether a request that failed this way may have reached the upstream.
            ///
            /// # Examples
            ///
            /// ```
            /// use gateway_error::{Phase, ProxyError};
            ///
            /// assert_eq!(ProxyError::DnsError.phase(), Phase::NotSent);
            /// ```
            #[must_use]
            pub const fn phase(self) -> Phase {
                match self {
                    $( Self::$variant => Phase::$phase, )+
                }
            }

            /// Whether a retry cannot change a failure of this kind: the same
            /// request fails the same way (a certificate, a size limit, the
            /// configuration, a loop...). The table's `Fails` column.
            pub(crate) const fn retry_cannot_change(self) -> bool {
                match self {
                    $( Self::$variant => matches!(Retry::$retry, Retry::Fails), )+
                }
            }

            /// The extra `Proxy-Status` parameters RFC 9209 defines for this kind.
            ///
            /// # Examples
            ///
            /// ```
            /// use gateway_error::ProxyError;
            ///
            /// assert_eq!(ProxyError::HttpResponseBodySize.extra_params(), ["body-size"]);
            /// assert!(ProxyError::ConnectionRefused.extra_params().is_empty());
            /// ```
            #[must_use]
            pub const fn extra_params(self) -> &'static [&'static str] {
                match self {
                    $( Self::$variant => &[$($param),*], )+
                }
            }

            /// The registry token, as a `&'static str`.
            ///
            /// # Examples
            ///
            /// ```
            /// use gateway_error::ProxyError;
            ///
            /// assert_eq!(ProxyError::DnsTimeout.as_str(), "dns_timeout");
            /// ```
            #[must_use]
            pub fn as_str(self) -> &'static str {
                self.into()
            }
        }
    };
}

impl From<&ProxyError> for &'static str {
    fn from(kind: &ProxyError) -> Self {
        (*kind).into()
    }
}

/// The error of parsing a [`ProxyError`] from a string that is not one of
/// the registry's tokens.
///
/// # Examples
///
/// ```
/// use gateway_error::{ProxyError, UnknownProxyError};
///
/// let err: UnknownProxyError = "connection_refused ".parse::<ProxyError>().unwrap_err();
/// assert_eq!(err.to_string(), "not a proxy error type of the RFC 9209 registry");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a proxy error type of the RFC 9209 registry")]
pub struct UnknownProxyError(());

impl TryFrom<&str> for ProxyError {
    type Error = UnknownProxyError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl AsRef<str> for ProxyError {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// As `#[derive(Serialize)]` with `rename_all = "snake_case"` writes it: a
/// unit variant named by its token.
impl serde::Serialize for ProxyError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let index = ProxyError::VARIANTS
            .iter()
            .position(|kind| kind == self)
            .and_then(|index| u32::try_from(index).ok())
            .unwrap_or(u32::MAX);
        serializer.serialize_unit_variant("ProxyError", index, self.as_str())
    }
}

/// As `#[derive(Deserialize)]` reads it: a unit variant named by its token
/// (or, in formats that write variants by index, its index).
impl<'de> serde::Deserialize<'de> for ProxyError {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{self, EnumAccess, VariantAccess};

        /// A variant's identifier: its token, its bytes or its index.
        struct Variant(ProxyError);

        impl<'de> serde::Deserialize<'de> for Variant {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_identifier(VariantVisitor)
            }
        }

        struct VariantVisitor;

        impl de::Visitor<'_> for VariantVisitor {
            type Value = Variant;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 9209 proxy error type")
            }

            fn visit_u64<E: de::Error>(self, index: u64) -> Result<Variant, E> {
                usize::try_from(index)
                    .ok()
                    .and_then(|index| ProxyError::VARIANTS.get(index))
                    .map(|kind| Variant(*kind))
                    .ok_or_else(|| {
                        E::invalid_value(de::Unexpected::Unsigned(index), &"a variant index")
                    })
            }

            fn visit_str<E: de::Error>(self, token: &str) -> Result<Variant, E> {
                token
                    .parse()
                    .map(Variant)
                    .map_err(|_| E::unknown_variant(token, TOKENS))
            }

            fn visit_bytes<E: de::Error>(self, token: &[u8]) -> Result<Variant, E> {
                match std::str::from_utf8(token) {
                    Ok(token) => self.visit_str(token),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Bytes(token), &self)),
                }
            }
        }

        struct KindVisitor;

        impl<'de> de::Visitor<'de> for KindVisitor {
            type Value = ProxyError;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("enum ProxyError")
            }

            fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<ProxyError, A::Error> {
                let (Variant(kind), variant) = data.variant()?;
                variant.unit_variant()?;
                Ok(kind)
            }
        }

        deserializer.deserialize_enum("ProxyError", TOKENS, KindVisitor)
    }
}

registry! {
    /// The DNS lookup for the next hop timed out (RFC 9209 section 2.3.1).
    DnsTimeout = "dns_timeout" => GATEWAY_TIMEOUT, NotSent, Helps, [];
    /// The DNS lookup for the next hop failed (section 2.3.2).
    DnsError = "dns_error" => BAD_GATEWAY, NotSent, Helps, ["rcode", "info-code"];
    /// The proxy has no next hop configured for the request (section 2.3.3).
    DestinationNotFound = "destination_not_found" => INTERNAL_SERVER_ERROR, NotSent, Fails, [];
    /// Every next hop is down or excluded, e.g. by health checks (section 2.3.4).
    DestinationUnavailable = "destination_unavailable" => SERVICE_UNAVAILABLE, NotSent, Helps, [];
    /// The next hop's address is prohibited by policy (section 2.3.5).
    DestinationIpProhibited = "destination_ip_prohibited" => BAD_GATEWAY, NotSent, Fails, [];
    /// The next hop's address cannot be routed to (section 2.3.6).
    DestinationIpUnroutable = "destination_ip_unroutable" => BAD_GATEWAY, NotSent, Helps, [];
    /// The next hop refused the connection (section 2.3.7).
    ConnectionRefused = "connection_refused" => BAD_GATEWAY, NotSent, Helps, [];
    /// The connection closed or reset before a complete response (section 2.3.8).
    ConnectionTerminated = "connection_terminated" => BAD_GATEWAY, MaybeSent, Helps, [];
    /// Connecting to the next hop timed out (section 2.3.9).
    ConnectionTimeout = "connection_timeout" => GATEWAY_TIMEOUT, NotSent, Helps, [];
    /// Reading from the next hop timed out (section 2.3.10).
    ConnectionReadTimeout = "connection_read_timeout" => GATEWAY_TIMEOUT, MaybeSent, Helps, [];
    /// Writing to the next hop timed out (section 2.3.11).
    ConnectionWriteTimeout = "connection_write_timeout" => GATEWAY_TIMEOUT, MaybeSent, Helps, [];
    /// The proxy's limit of connections to the next hop is reached (section 2.3.12).
    ConnectionLimitReached = "connection_limit_reached" => SERVICE_UNAVAILABLE, NotSent, Helps, [];
    /// A TLS error while talking to the next hop (section 2.3.13).
    TlsProtocolError = "tls_protocol_error" => BAD_GATEWAY, MaybeSent, Helps, [];
    /// The next hop's TLS certificate failed verification (section 2.3.14).
    TlsCertificateError = "tls_certificate_error" => BAD_GATEWAY, NotSent, Fails, [];
    /// The next hop sent a TLS alert (section 2.3.15).
    TlsAlertReceived = "tls_alert_received" => BAD_GATEWAY, MaybeSent, Helps, ["alert-id", "alert-message"];
    /// The client's request was malformed, so it was not forwarded (section 2.3.16).
    HttpRequestError = "http_request_error" => BAD_REQUEST, NotSent, Fails, ["status-code", "status-phrase"];
    /// The proxy denied the request by policy (section 2.3.17).
    HttpRequestDenied = "http_request_denied" => FORBIDDEN, NotSent, Fails, [];
    /// The next hop's response was incomplete (section 2.3.18).
    HttpResponseIncomplete = "http_response_incomplete" => BAD_GATEWAY, MaybeSent, Helps, [];
    /// The response's header section was too large (section 2.3.19).
    HttpResponseHeaderSectionSize = "http_response_header_section_size" => BAD_GATEWAY, MaybeSent, Fails, ["header-section-size"];
    /// One response header field was too large (section 2.3.20).
    HttpResponseHeaderSize = "http_response_header_size" => BAD_GATEWAY, MaybeSent, Fails, ["header-name", "header-size"];
    /// The response body was too large (section 2.3.21).
    HttpResponseBodySize = "http_response_body_size" => BAD_GATEWAY, MaybeSent, Fails, ["body-size"];
    /// The response's trailer section was too large (section 2.3.22).
    HttpResponseTrailerSectionSize = "http_response_trailer_section_size" => BAD_GATEWAY, MaybeSent, Fails, ["trailer-section-size"];
    /// One response trailer field was too large (section 2.3.23).
    HttpResponseTrailerSize = "http_response_trailer_size" => BAD_GATEWAY, MaybeSent, Fails, ["trailer-name", "trailer-size"];
    /// The response's transfer coding could not be decoded (section 2.3.24).
    HttpResponseTransferCoding = "http_response_transfer_coding" => BAD_GATEWAY, MaybeSent, Fails, ["coding"];
    /// The response's content coding could not be decoded (section 2.3.25).
    HttpResponseContentCoding = "http_response_content_coding" => BAD_GATEWAY, MaybeSent, Fails, ["coding"];
    /// No response (headers) arrived in time (section 2.3.26).
    HttpResponseTimeout = "http_response_timeout" => GATEWAY_TIMEOUT, MaybeSent, Helps, [];
    /// An HTTP upgrade with the next hop failed (section 2.3.27).
    HttpUpgradeFailed = "http_upgrade_failed" => BAD_GATEWAY, MaybeSent, Helps, [];
    /// The next hop violated the HTTP protocol (section 2.3.28).
    HttpProtocolError = "http_protocol_error" => BAD_GATEWAY, MaybeSent, Helps, [];
    /// The proxy answered itself, without the next hop (section 2.3.29).
    ProxyInternalResponse = "proxy_internal_response" => INTERNAL_SERVER_ERROR, NotSent, Helps, [];
    /// The proxy failed internally (section 2.3.30).
    ProxyInternalError = "proxy_internal_error" => INTERNAL_SERVER_ERROR, MaybeSent, Helps, [];
    /// The proxy is misconfigured (section 2.3.31).
    ProxyConfigurationError = "proxy_configuration_error" => INTERNAL_SERVER_ERROR, NotSent, Fails, [];
    /// The proxy found the request looping through it (section 2.3.32).
    ProxyLoopDetected = "proxy_loop_detected" => BAD_GATEWAY, NotSent, Fails, [];
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::{EnumCount, VariantArray};

    /// Token, status and phase of every kind, as RFC 9209 section 2.3 lists them.
    const TABLE: [(&str, u16); 32] = [
        ("dns_timeout", 504),
        ("dns_error", 502),
        ("destination_not_found", 500),
        ("destination_unavailable", 503),
        ("destination_ip_prohibited", 502),
        ("destination_ip_unroutable", 502),
        ("connection_refused", 502),
        ("connection_terminated", 502),
        ("connection_timeout", 504),
        ("connection_read_timeout", 504),
        ("connection_write_timeout", 504),
        ("connection_limit_reached", 503),
        ("tls_protocol_error", 502),
        ("tls_certificate_error", 502),
        ("tls_alert_received", 502),
        ("http_request_error", 400),
        ("http_request_denied", 403),
        ("http_response_incomplete", 502),
        ("http_response_header_section_size", 502),
        ("http_response_header_size", 502),
        ("http_response_body_size", 502),
        ("http_response_trailer_section_size", 502),
        ("http_response_trailer_size", 502),
        ("http_response_transfer_coding", 502),
        ("http_response_content_coding", 502),
        ("http_response_timeout", 504),
        ("http_upgrade_failed", 502),
        ("http_protocol_error", 502),
        ("proxy_internal_response", 500),
        ("proxy_internal_error", 500),
        ("proxy_configuration_error", 500),
        ("proxy_loop_detected", 502),
    ];

    #[test]
    fn every_kind_matches_the_registry() {
        assert_eq!(ProxyError::COUNT, TABLE.len());
        for (kind, (token, status)) in ProxyError::VARIANTS.iter().zip(TABLE) {
            assert_eq!(kind.as_str(), token);
            assert_eq!(kind.to_string(), token);
            assert_eq!(token.parse::<ProxyError>(), Ok(*kind));
            assert_eq!(kind.recommended_status().as_u16(), status, "{token}");
            let json = serde_json::to_string(kind).expect("serializes");
            assert_eq!(json, format!("\"{token}\""));
            assert_eq!(serde_json::from_str::<ProxyError>(&json).ok(), Some(*kind));
        }
    }

    #[test]
    fn phases_follow_whether_bytes_were_sent() {
        use Phase::*;
        let sent_never = [
            ProxyError::DnsTimeout,
            ProxyError::DnsError,
            ProxyError::ConnectionRefused,
            ProxyError::ConnectionTimeout,
            ProxyError::ConnectionLimitReached,
            ProxyError::TlsCertificateError,
            ProxyError::DestinationUnavailable,
            ProxyError::ProxyConfigurationError,
        ];
        for kind in sent_never {
            assert_eq!(kind.phase(), NotSent, "{kind}");
        }
        let maybe = [
            ProxyError::ConnectionTerminated,
            ProxyError::ConnectionReadTimeout,
            ProxyError::ConnectionWriteTimeout,
            ProxyError::HttpResponseTimeout,
            ProxyError::HttpResponseIncomplete,
            ProxyError::HttpProtocolError,
        ];
        for kind in maybe {
            assert_eq!(kind.phase(), MaybeSent, "{kind}");
        }
    }

    #[test]
    fn serde_reads_what_the_derive_would() {
        use serde::Deserialize;
        use serde::de::IntoDeserializer;
        use serde::de::value::Error;

        // By token, by index (formats that write variants by index), and
        // unknown tokens named in the error.
        let by_token = ProxyError::deserialize("dns_error".into_deserializer());
        assert_eq!(by_token, Ok::<_, Error>(ProxyError::DnsError));
        let by_index = ProxyError::deserialize(6_u32.into_deserializer());
        assert_eq!(by_index, Ok::<_, Error>(ProxyError::ConnectionRefused));
        let out_of_range: Result<ProxyError, Error> =
            ProxyError::deserialize(32_u32.into_deserializer());
        assert!(out_of_range.is_err());
        let err = serde_json::from_str::<ProxyError>(r#""Connection_Refused""#)
            .expect_err("not a token")
            .to_string();
        assert!(
            err.starts_with(
                "unknown variant `Connection_Refused`, expected one of `dns_timeout`, `dns_error`,"
            ),
            "{err}"
        );
        assert!(serde_json::from_str::<ProxyError>("6").is_err());
        assert_eq!(
            format!("{:>20}", ProxyError::DnsError),
            "           dns_error"
        );
    }

    #[test]
    fn a_retry_cannot_change_exactly_these_kinds() {
        let same_again: Vec<&str> = ProxyError::VARIANTS
            .iter()
            .filter(|kind| kind.retry_cannot_change())
            .map(|kind| kind.as_str())
            .collect();
        assert_eq!(
            same_again,
            [
                "destination_not_found",
                "destination_ip_prohibited",
                "tls_certificate_error",
                "http_request_error",
                "http_request_denied",
                "http_response_header_section_size",
                "http_response_header_size",
                "http_response_body_size",
                "http_response_trailer_section_size",
                "http_response_trailer_size",
                "http_response_transfer_coding",
                "http_response_content_coding",
                "proxy_configuration_error",
                "proxy_loop_detected",
            ]
        );
    }

    #[test]
    fn unknown_tokens_are_rejected() {
        assert!("Connection_Refused".parse::<ProxyError>().is_err());
        assert!("".parse::<ProxyError>().is_err());
        assert!("connection-refused".parse::<ProxyError>().is_err());
    }

    #[test]
    fn extra_params_follow_the_registry() {
        assert_eq!(ProxyError::DnsError.extra_params(), ["rcode", "info-code"]);
        assert_eq!(
            ProxyError::TlsAlertReceived.extra_params(),
            ["alert-id", "alert-message"]
        );
        assert_eq!(
            ProxyError::HttpResponseHeaderSize.extra_params(),
            ["header-name", "header-size"]
        );
    }
}
