//! Request ids, in one place: the header ([`X_REQUEST_ID`]), the id type
//! ([`RequestId`]), what makes an id valid, how a new one is made, and how
//! an id an error carries is cleaned. The rule adapters follow is the
//! [pipeline's](crate::pipeline#the-request-id-rule).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use std::borrow::Cow;
use std::fmt;

use http::{HeaderName, HeaderValue};

use crate::text::{MAX_REQUEST_ID_LEN, Text};

/// The request id header adapters read and echo.
///
/// # Examples
///
/// ```
/// assert_eq!(gateway_error::X_REQUEST_ID.as_str(), "x-request-id");
/// ```
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Makes the id of a request that comes without a valid one, in the shape
/// of tower-http's `MakeRequestId` (see
/// [`Pipeline::with_make_request_id`](crate::pipeline::Pipeline::with_make_request_id)).
/// Unlike tower-http's, it is not given the request: the adapters of
/// frameworks whose request types are not `http`'s (actix-web) call it too.
/// Any `Fn() -> Option<HeaderValue>` is one.
///
/// `None`, or an id that is not valid (see [`RequestId::is_valid`]), means
/// a generated one ([`RequestId::generate`]).
///
/// # Examples
///
/// ```
/// use gateway_error::MakeRequestId;
/// use http::HeaderValue;
///
/// struct Fixed;
///
/// impl MakeRequestId for Fixed {
///     fn make_request_id(&self) -> Option<HeaderValue> {
///         Some(HeaderValue::from_static("fixed-1"))
///     }
/// }
/// assert_eq!(Fixed.make_request_id().as_ref().map(HeaderValue::as_bytes), Some(&b"fixed-1"[..]));
/// ```
pub trait MakeRequestId: Send + Sync + 'static {
    /// A new request id.
    fn make_request_id(&self) -> Option<HeaderValue>;
}

impl<F> MakeRequestId for F
where
    F: Fn() -> Option<HeaderValue> + Send + Sync + 'static,
{
    fn make_request_id(&self) -> Option<HeaderValue> {
        self()
    }
}

/// A new request id: 32 lowercase hex digits (see [`RequestId::generate`]).
pub(crate) fn generate_request_id() -> HeaderValue {
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

/// Whether `id` is a request id worth echoing (see [`RequestId::is_valid`]).
pub(crate) fn is_valid_request_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= RequestId::MAX_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}

/// A request's id (see the [pipeline's rule](crate::pipeline#the-request-id-rule)): visible
/// ASCII, at most [`RequestId::MAX_LEN`] bytes.
///
/// Adapters put it in the request's extensions, and handlers extract it
/// (axum: `RequestId` as an extractor; actix-web: `RequestId` as an
/// extractor; warp: `gateway_error::warp::request_id()`).
///
/// # Examples
///
/// ```
/// use gateway_error::pipeline::Pipeline;
/// use http::{HeaderMap, HeaderValue, Method};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("x-request-id", HeaderValue::from_static("abc-123"));
/// let ctx = Pipeline::default().capture(&Method::GET, &headers);
/// assert_eq!(ctx.request_id().to_string(), "abc-123");
/// assert_eq!(ctx.request_id().header_value(), "abc-123");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RequestId {
    pub(crate) value: HeaderValue,
    generated: bool,
}

impl RequestId {
    /// The longest request id adapters echo, in bytes: a longer one is
    /// replaced by a generated one.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::RequestId;
    ///
    /// assert!(RequestId::is_valid(&"a".repeat(RequestId::MAX_LEN)));
    /// assert!(!RequestId::is_valid(&"a".repeat(RequestId::MAX_LEN + 1)));
    /// ```
    pub const MAX_LEN: usize = crate::text::MAX_REQUEST_ID_LEN;

    /// A new request id: 32 lowercase hex digits (128 bits), unique within
    /// the process and unpredictable from outside it. Not a secret: do not
    /// use it as a token.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::RequestId;
    ///
    /// let (a, b) = (RequestId::generate(), RequestId::generate());
    /// assert_eq!(a.as_str().len(), 32);
    /// assert!(a.is_generated());
    /// assert_ne!(a, b);
    /// ```
    #[must_use]
    pub fn generate() -> Self {
        Self {
            value: generate_request_id(),
            generated: true,
        }
    }

    /// Whether `id` is a request id worth echoing: non-empty, at most
    /// [`RequestId::MAX_LEN`] bytes, visible ASCII. Adapters replace any
    /// other with a new one.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::RequestId;
    ///
    /// assert!(RequestId::is_valid("req-42"));
    /// assert!(!RequestId::is_valid(""));
    /// assert!(!RequestId::is_valid("two words"));
    /// ```
    #[must_use]
    pub fn is_valid(id: &str) -> bool {
        is_valid_request_id(id)
    }

    /// A request's own valid id, else one `make` makes (when valid), else
    /// a generated one.
    pub(crate) fn from_request(id: Option<&[u8]>, make: Option<&dyn MakeRequestId>) -> Self {
        id.and_then(Self::from_client).unwrap_or_else(|| Self {
            value: make
                .and_then(MakeRequestId::make_request_id)
                .filter(|id| id.to_str().is_ok_and(is_valid_request_id))
                .unwrap_or_else(generate_request_id),
            generated: true,
        })
    }

    /// The id a request sent, when it is valid (see
    /// [`RequestId::is_valid`]): the bytes of its `x-request-id`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::RequestId;
    ///
    /// assert_eq!(RequestId::from_client(b"req-1").map(|id| id.to_string()).as_deref(), Some("req-1"));
    /// assert!(RequestId::from_client(b"two words").is_none());
    /// ```
    #[must_use]
    pub fn from_client(id: &[u8]) -> Option<Self> {
        let id = std::str::from_utf8(id)
            .ok()
            .filter(|id| is_valid_request_id(id))?;
        Some(Self {
            value: HeaderValue::from_str(id).ok()?,
            generated: false,
        })
    }

    /// The id as text.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::Pipeline;
    /// use http::Method;
    ///
    /// let ctx = Pipeline::default().capture_parts(Method::GET, Default::default(), Some(b"r-1"));
    /// assert_eq!(ctx.request_id().as_str(), "r-1");
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Valid ids are visible ASCII; generated ones are hex.
        self.value.to_str().unwrap_or_default()
    }

    /// The id as the `x-request-id` field value.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::Pipeline;
    /// use http::Method;
    ///
    /// let ctx = Pipeline::default().capture_parts(Method::GET, Default::default(), None);
    /// assert_eq!(ctx.request_id().header_value().len(), 32);
    /// ```
    #[must_use]
    pub fn header_value(&self) -> &HeaderValue {
        &self.value
    }

    /// Whether the id was generated because the request had no valid one.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::pipeline::Pipeline;
    /// use http::Method;
    ///
    /// let ctx = Pipeline::default().capture_parts(Method::GET, Default::default(), Some(b"bad id"));
    /// assert!(ctx.request_id().is_generated());
    /// ```
    #[must_use]
    pub fn is_generated(&self) -> bool {
        self.generated
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequestId").field(&self.as_str()).finish()
    }
}

/// A request id: visible ASCII only (anything else becomes `_`), at most
/// [`MAX_REQUEST_ID_LEN`](crate::MAX_REQUEST_ID_LEN) bytes. Empty ids are dropped.
pub(crate) fn clean_request_id(id: Text) -> Option<Text> {
    let visible = |b: u8| b.is_ascii_graphic();
    if id.is_empty() {
        return None;
    }
    if id.len() <= MAX_REQUEST_ID_LEN && id.bytes().all(visible) {
        return Some(id);
    }
    let cleaned: String = id
        .chars()
        .take(MAX_REQUEST_ID_LEN)
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .collect();
    Some(Cow::Owned(cleaned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_visible_ascii() {
        assert_eq!(clean_request_id(Cow::Borrowed("")), None);
        assert_eq!(
            clean_request_id(Cow::Borrowed("a b\r\né")).as_deref(),
            Some("a_b___")
        );
        let long = "x".repeat(500);
        assert_eq!(
            clean_request_id(Cow::Owned(long)).map(|s| s.len()),
            Some(128)
        );
    }

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
