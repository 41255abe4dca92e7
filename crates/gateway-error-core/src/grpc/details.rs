//! `grpc-status-details-bin`: a `google.rpc.Status` (code, message,
//! an `ErrorInfo` and a `RetryInfo`), encoded by hand (five messages of
//! a few fields each: lighter than a protobuf library) and in base64
//! without padding, as gRPC's PROTOCOL-HTTP2.md asks binary fields to
//! be sent.

use std::time::Duration;

/// What the details say.
#[cfg(feature = "grpc-details")]
pub(crate) struct Details<'a> {
    pub(crate) code: i32,
    pub(crate) message: &'a str,
    /// `ErrorInfo.reason`: the RFC 9209 token of the error's kind.
    pub(crate) reason: Option<&'a str>,
    /// `ErrorInfo.domain`: the gateway's name, when the policy names it.
    pub(crate) domain: Option<&'a str>,
    /// `ErrorInfo.metadata["status"]`: the HTTP status an HTTP client
    /// would have received.
    pub(crate) status: &'a str,
    /// `RetryInfo.retry_delay`: the wait, when there is one.
    pub(crate) retry_delay: Option<Duration>,
}

const ERROR_INFO: &str = "type.googleapis.com/google.rpc.ErrorInfo";
const RETRY_INFO: &str = "type.googleapis.com/google.rpc.RetryInfo";

#[cfg(feature = "grpc-details")]
impl Details<'_> {
    /// The encoded `google.rpc.Status`, written once into a buffer of its
    /// exact size (each nested message's length is known beforehand).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let entry = bytes_len(b"status".len()) + bytes_len(self.status.len());
        let info = self.reason.map_or(0, |r| bytes_len(r.len()))
            + self.domain.map_or(0, |d| bytes_len(d.len()))
            + bytes_len(entry);
        let info_any = bytes_len(ERROR_INFO.len()) + bytes_len(info);
        let duration = self.retry_delay.map(|delay| {
            let secs = delay.as_secs();
            let nanos = u64::from(delay.subsec_nanos());
            (
                secs,
                nanos,
                varint_field_len(secs) + varint_field_len(nanos),
            )
        });
        let retry = duration.map(|(_, _, len)| bytes_len(len));
        let retry_any = retry.map(|retry| bytes_len(RETRY_INFO.len()) + bytes_len(retry));
        let code = u64::try_from(self.code).unwrap_or(0);
        let total = varint_field_len(code)
            + bytes_len(self.message.len())
            + bytes_len(info_any)
            + retry_any.map_or(0, bytes_len);

        let mut out = Vec::with_capacity(total);
        varint_field(&mut out, 1, code);
        bytes_field(&mut out, 2, self.message.as_bytes());
        header(&mut out, 3, info_any);
        bytes_field(&mut out, 1, ERROR_INFO.as_bytes());
        header(&mut out, 2, info);
        if let Some(reason) = self.reason {
            bytes_field(&mut out, 1, reason.as_bytes());
        }
        if let Some(domain) = self.domain {
            bytes_field(&mut out, 2, domain.as_bytes());
        }
        header(&mut out, 3, entry);
        bytes_field(&mut out, 1, b"status");
        bytes_field(&mut out, 2, self.status.as_bytes());
        if let (Some((secs, nanos, len)), Some(retry), Some(retry_any)) =
            (duration, retry, retry_any)
        {
            header(&mut out, 3, retry_any);
            bytes_field(&mut out, 1, RETRY_INFO.as_bytes());
            header(&mut out, 2, retry);
            header(&mut out, 1, len);
            varint_field(&mut out, 1, secs);
            varint_field(&mut out, 2, nanos);
        }
        out
    }
}

/// The encoded length of a length-delimited field (number below 16) whose
/// value is `len` bytes long.
#[cfg(feature = "grpc-details")]
fn bytes_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// The encoded length of a varint field (number below 16); a zero (the
/// default) is not written.
#[cfg(feature = "grpc-details")]
fn varint_field_len(value: u64) -> usize {
    if value == 0 { 0 } else { 1 + varint_len(value) }
}

#[cfg(feature = "grpc-details")]
fn varint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// A varint field; a zero (the default) is not written.
#[cfg(feature = "grpc-details")]
fn varint_field(out: &mut Vec<u8>, field: u64, value: u64) {
    if value != 0 {
        varint(out, field << 3);
        varint(out, value);
    }
}

/// The key and length of a length-delimited field.
#[cfg(feature = "grpc-details")]
fn header(out: &mut Vec<u8>, field: u64, len: usize) {
    varint(out, (field << 3) | 2);
    varint(out, len as u64);
}

#[cfg(feature = "grpc-details")]
fn bytes_field(out: &mut Vec<u8>, field: u64, value: &[u8]) {
    header(out, field, value.len());
    out.extend_from_slice(value);
}

#[cfg(feature = "grpc-details")]
fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Base64 (RFC 4648 section 4) without padding.
#[cfg(feature = "grpc-details")]
pub(crate) fn base64(bytes: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sextet = |n: u32, shift: u32| ALPHABET[((n >> shift) & 0x3f) as usize];
    let mut out = Vec::with_capacity(bytes.len().div_ceil(3) * 4);
    let mut chunks = bytes.chunks_exact(3);
    for chunk in &mut chunks {
        let n = u32::from(chunk[0]) << 16 | u32::from(chunk[1]) << 8 | u32::from(chunk[2]);
        out.extend_from_slice(&[sextet(n, 18), sextet(n, 12), sextet(n, 6), sextet(n, 0)]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend_from_slice(&[sextet(n, 18), sextet(n, 12)]);
        }
        [a, b] => {
            let n = u32::from(a) << 16 | u32::from(b) << 8;
            out.extend_from_slice(&[sextet(n, 18), sextet(n, 12), sextet(n, 6)]);
        }
        _ => {}
    }
    out
}

/// What this crate reads of a `google.rpc.Status`'s details: the wait of
/// a `RetryInfo`, and an `ErrorInfo`'s reason (an RFC 9209 token, when a
/// gateway of this crate sent it) and `status` metadata.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Read<'a> {
    pub(crate) retry_delay: Option<Duration>,
    pub(crate) reason: Option<&'a [u8]>,
    pub(crate) status: Option<&'a [u8]>,
}

/// Reads an encoded `google.rpc.Status` (`None` when it is not one: a
/// detail that does not decode is ignored, never an error).
pub(crate) fn read(status: &[u8]) -> Option<Read<'_>> {
    let mut read = Read::default();
    for field in Fields(status) {
        let (3, Value::Bytes(any)) = field? else {
            continue;
        };
        let mut type_url = None;
        let mut value = None;
        for field in Fields(any) {
            match field? {
                (1, Value::Bytes(url)) => type_url = Some(url),
                (2, Value::Bytes(bytes)) => value = Some(bytes),
                _ => {}
            }
        }
        let value = value.unwrap_or_default();
        match type_url {
            Some(url) if url == RETRY_INFO.as_bytes() => {
                for field in Fields(value) {
                    let (1, Value::Bytes(duration)) = field? else {
                        continue;
                    };
                    let (mut secs, mut nanos) = (0u64, 0u64);
                    for field in Fields(duration) {
                        match field? {
                            (1, Value::Varint(n)) => secs = n,
                            (2, Value::Varint(n)) => nanos = n,
                            _ => {}
                        }
                    }
                    // A negative or out-of-range delay is no delay.
                    let nanos = u32::try_from(nanos).ok().filter(|&n| n < 1_000_000_000);
                    if let (Ok(secs), Some(nanos)) = (i64::try_from(secs), nanos) {
                        read.retry_delay = Some(Duration::new(secs.unsigned_abs(), nanos));
                    }
                }
            }
            Some(url) if url == ERROR_INFO.as_bytes() => {
                for field in Fields(value) {
                    match field? {
                        (1, Value::Bytes(reason)) => read.reason = Some(reason),
                        (3, Value::Bytes(entry)) => {
                            let mut key = None;
                            let mut val = None;
                            for field in Fields(entry) {
                                match field? {
                                    (1, Value::Bytes(k)) => key = Some(k),
                                    (2, Value::Bytes(v)) => val = Some(v),
                                    _ => {}
                                }
                            }
                            if key == Some(&b"status"[..]) {
                                read.status = val;
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Some(read)
}

/// A protobuf field's value, of the wire types this reader meets.
enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// The fields of an encoded message, in order; `None` ends a message that
/// does not decode.
struct Fields<'a>(&'a [u8]);

impl<'a> Iterator for Fields<'a> {
    type Item = Option<(u64, Value<'a>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let field = self.field();
        if field.is_none() {
            self.0 = &[];
        }
        Some(field)
    }
}

impl<'a> Fields<'a> {
    fn field(&mut self) -> Option<(u64, Value<'a>)> {
        let key = self.varint()?;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => self.skip(8)?,
            2 => {
                let len = usize::try_from(self.varint()?).ok()?;
                let (bytes, rest) = (self.0.get(..len)?, self.0.get(len..)?);
                self.0 = rest;
                Value::Bytes(bytes)
            }
            5 => self.skip(4)?,
            _ => return None,
        };
        Some((key >> 3, value))
    }

    fn skip(&mut self, n: usize) -> Option<Value<'a>> {
        self.0 = self.0.get(n..)?;
        Some(Value::Fixed)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for (i, &byte) in self.0.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                self.0 = &self.0[i + 1..];
                return Some(value);
            }
        }
        None
    }
}

/// Base64 (standard alphabet), padded or not, as gRPC's PROTOCOL-HTTP2.md
/// asks a binary field to be read; `None` when it is not base64.
pub(crate) fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    let text = text
        .strip_suffix(b"==")
        .or_else(|| text.strip_suffix(b"="))
        .unwrap_or(text);
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    for chunk in text.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let sextet = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return None,
            };
            n |= u32::from(sextet) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(all(test, feature = "grpc-details"))]
mod tests {
    use super::*;

    #[test]
    fn base64_is_rfc_4648_without_padding() {
        for (input, output) in [
            (&b""[..], &b""[..]),
            (b"f", b"Zg"),
            (b"fo", b"Zm8"),
            (b"foo", b"Zm9v"),
            (b"foob", b"Zm9vYg"),
            (b"fooba", b"Zm9vYmE"),
            (b"foobar", b"Zm9vYmFy"),
            (b"\xff\xfe\xfd", b"//79"),
        ] {
            assert_eq!(base64(input), output);
        }
    }

    #[test]
    fn what_is_encoded_reads_back() {
        let details = Details {
            code: 14,
            message: "502 Bad Gateway: 50% \u{2713}",
            reason: Some("connection_refused"),
            domain: Some("edge"),
            status: "502",
            retry_delay: Some(Duration::from_millis(2_500)),
        };
        let encoded = details.encode();
        assert_eq!(encoded.len(), encoded.capacity(), "sized exactly");
        let got = read(&encoded).expect("decodes");
        assert_eq!(got.retry_delay, Some(Duration::from_millis(2_500)));
        assert_eq!(got.reason, Some(&b"connection_refused"[..]));
        assert_eq!(got.status, Some(&b"502"[..]));
        assert_eq!(decode_base64(&base64(&encoded)), Some(encoded.clone()));
        // Malformed details are none, never a panic.
        for cut in 0..encoded.len() {
            let _ = read(&encoded[..cut]);
        }
        assert_eq!(read(&[0x1a, 0xff]), None);
        assert_eq!(decode_base64(b"Zm9v!"), None);
        assert_eq!(decode_base64(b"Zm9vYg=="), Some(b"foob".to_vec()));
        assert_eq!(decode_base64(b"Z"), None);
    }

    #[test]
    fn varints_are_little_endian_groups_of_seven() {
        for (value, bytes) in [
            (0, &[0u8][..]),
            (1, &[1]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (300, &[0xac, 0x02]),
            (
                u64::MAX,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ] {
            let mut out = Vec::new();
            varint(&mut out, value);
            assert_eq!(out, bytes, "{value}");
            assert_eq!(varint_len(value), bytes.len(), "{value}");
        }
    }
}
