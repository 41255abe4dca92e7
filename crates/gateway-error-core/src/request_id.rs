//! Request ids for adapters to give requests that arrive without one.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use http::HeaderValue;

/// A new request id: 32 lowercase hex digits (128 bits), unique within the
/// process and unpredictable from outside it.
///
/// Not a secret: do not use it as a token.
///
/// # Examples
///
/// ```
/// let a = gateway_error::generate_request_id();
/// let b = gateway_error::generate_request_id();
/// assert_eq!(a.len(), 32);
/// assert_ne!(a, b);
/// ```
#[must_use]
pub fn generate_request_id() -> HeaderValue {
    static KEY: OnceLock<RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    const HEX: &[u8; 16] = b"0123456789abcdef";

    let key = KEY.get_or_init(RandomState::new);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut out = [0u8; 32];
    for (half, chunk) in out.chunks_exact_mut(16).enumerate() {
        let mut hasher = key.build_hasher();
        hasher.write_u64(n);
        hasher.write_usize(half);
        let word = hasher.finish();
        for (i, digit) in chunk.iter_mut().enumerate() {
            *digit = HEX[((word >> (60 - 4 * i)) & 0xf) as usize];
        }
    }
    HeaderValue::from_bytes(&out).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

/// Whether `id` is a request id worth echoing: non-empty, at most
/// [`MAX_REQUEST_ID_LEN`](crate::MAX_REQUEST_ID_LEN) bytes, visible ASCII.
/// Adapters replace any other with [`generate_request_id`].
///
/// # Examples
///
/// ```
/// use gateway_error::is_valid_request_id;
///
/// assert!(is_valid_request_id("req-42"));
/// assert!(!is_valid_request_id(""));
/// assert!(!is_valid_request_id("two words"));
/// ```
#[must_use]
pub fn is_valid_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= crate::MAX_REQUEST_ID_LEN
        && id.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_hex_and_distinct() {
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| generate_request_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in ids {
            assert!(
                id.as_bytes()
                    .iter()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
        }
    }
}
