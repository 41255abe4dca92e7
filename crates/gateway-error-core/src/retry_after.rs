//! The HTTP `Retry-After` field ([RFC 9110, section 10.2.3]).
//!
//! ```text
//! Retry-After = HTTP-date / delay-seconds
//! delay-seconds = 1*DIGIT
//! ```
//!
//! Values are sent as delay-seconds or as an IMF-fixdate
//! (`Sun, 06 Nov 1994 08:49:37 GMT`). When parsing, all three date forms
//! of RFC 9110 are accepted: IMF-fixdate, the obsolete RFC 850 form
//! (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`).
//!
//! [RFC 9110, section 10.2.3]: https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::RETRY_AFTER;
use http::{HeaderMap, HeaderValue};

/// The last second an HTTP date can express: 9999-12-31T23:59:59Z.
///
/// `httpdate` panics when formatting anything later, so dates are clamped here.
const MAX_DATE_SECS: u64 = 253_402_300_799;

/// A `Retry-After` hint: a delay in whole seconds, or an HTTP date
/// (RFC 9110 section 10.2.3).
///
/// # Examples
///
/// ```
/// use gateway_error::RetryAfter;
/// use std::time::Duration;
///
/// let delay = RetryAfter::from_secs(120);
/// assert_eq!(delay.to_string(), "120");
/// let date: RetryAfter = "Sun, 06 Nov 1994 08:49:37 GMT".parse()?;
/// assert_eq!(date.to_string(), "Sun, 06 Nov 1994 08:49:37 GMT");
/// assert_eq!(RetryAfter::delay(Duration::from_millis(1500)).as_delay(), Some(Duration::from_secs(2)));
/// # Ok::<(), gateway_error::ParseRetryAfterError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RetryAfter(Repr);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Repr {
    /// delay-seconds.
    Delay(u32),
    /// HTTP-date, whole seconds within `UNIX_EPOCH..=MAX_DATE_SECS`.
    Date(SystemTime),
}

impl RetryAfter {
    /// A delay of `secs` whole seconds.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::RetryAfter;
    ///
    /// assert_eq!(RetryAfter::from_secs(120).to_string(), "120");
    /// ```
    pub const fn from_secs(secs: u32) -> Self {
        Self(Repr::Delay(secs))
    }

    /// A delay, rounded up to whole seconds and saturating at `u32::MAX` seconds.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use gateway_error::RetryAfter;
    ///
    /// assert_eq!(RetryAfter::delay(Duration::from_millis(1200)), RetryAfter::from_secs(2));
    /// ```
    pub fn delay(delay: Duration) -> Self {
        let secs = delay
            .as_secs()
            .saturating_add(u64::from(delay.subsec_nanos() > 0));
        Self::from_secs(u32::try_from(secs).unwrap_or(u32::MAX))
    }

    /// A point in time, truncated to whole seconds.
    ///
    /// Dates before `UNIX_EPOCH` clamp to `UNIX_EPOCH`; dates after the end of
    /// year 9999 (the last an HTTP date can express) clamp to
    /// `9999-12-31T23:59:59Z`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, SystemTime, UNIX_EPOCH};
    /// use gateway_error::RetryAfter;
    ///
    /// let date = UNIX_EPOCH + Duration::from_millis(784_111_777_500);
    /// assert_eq!(
    ///     RetryAfter::at(date).as_date(),
    ///     Some(UNIX_EPOCH + Duration::from_secs(784_111_777)),
    /// );
    /// ```
    pub fn at(date: SystemTime) -> Self {
        let secs = date
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs())
            .min(MAX_DATE_SECS);
        // Cannot overflow: `secs` is at most `MAX_DATE_SECS`.
        Self(Repr::Date(UNIX_EPOCH + Duration::from_secs(secs)))
    }

    /// The delay, if this is the delay-seconds form.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use gateway_error::RetryAfter;
    ///
    /// assert_eq!(RetryAfter::from_secs(5).as_delay(), Some(Duration::from_secs(5)));
    /// assert_eq!(RetryAfter::at(UNIX_EPOCH).as_delay(), None);
    /// ```
    pub fn as_delay(&self) -> Option<Duration> {
        match self.0 {
            Repr::Delay(secs) => Some(Duration::from_secs(u64::from(secs))),
            Repr::Date(_) => None,
        }
    }

    /// The date, if this is the HTTP-date form.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::UNIX_EPOCH;
    /// use gateway_error::RetryAfter;
    ///
    /// assert_eq!(RetryAfter::at(UNIX_EPOCH).as_date(), Some(UNIX_EPOCH));
    /// assert_eq!(RetryAfter::from_secs(5).as_date(), None);
    /// ```
    pub fn as_date(&self) -> Option<SystemTime> {
        match self.0 {
            Repr::Delay(_) => None,
            Repr::Date(date) => Some(date),
        }
    }

    /// How long to wait, counting from `now`.
    ///
    /// The delay form returns its delay; the date form returns the time from
    /// `now` until the date, or zero if the date is not after `now`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use gateway_error::RetryAfter;
    ///
    /// let now = UNIX_EPOCH + Duration::from_secs(1_000);
    /// let at = RetryAfter::at(now + Duration::from_secs(30));
    /// assert_eq!(at.delay_from(now), Duration::from_secs(30));
    /// assert_eq!(RetryAfter::at(UNIX_EPOCH).delay_from(now), Duration::ZERO);
    /// assert_eq!(RetryAfter::from_secs(7).delay_from(now), Duration::from_secs(7));
    /// ```
    pub fn delay_from(&self, now: SystemTime) -> Duration {
        match self.0 {
            Repr::Delay(secs) => Duration::from_secs(u64::from(secs)),
            Repr::Date(date) => date.duration_since(now).unwrap_or(Duration::ZERO),
        }
    }

    /// The field value as a header value: delay-seconds or an IMF-fixdate.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use gateway_error::RetryAfter;
    ///
    /// assert_eq!(RetryAfter::from_secs(120).to_header_value(), "120");
    /// let date = RetryAfter::at(UNIX_EPOCH + Duration::from_secs(784_111_777));
    /// assert_eq!(date.to_header_value(), "Sun, 06 Nov 1994 08:49:37 GMT");
    /// ```
    pub fn to_header_value(&self) -> HeaderValue {
        match self.0 {
            Repr::Delay(secs) => HeaderValue::from(secs),
            // An IMF-fixdate is always visible ASCII, so the fallback is unreachable.
            Repr::Date(date) => HeaderValue::try_from(httpdate::fmt_http_date(date))
                .unwrap_or_else(|_| HeaderValue::from_static("0")),
        }
    }

    /// Parses a header value (see [`FromStr`](#impl-FromStr-for-RetryAfter)).
    ///
    /// # Errors
    ///
    /// Fails with [`ParseRetryAfterErrorKind::NotVisibleAscii`] if the value
    /// holds bytes other than visible ASCII, space or tab, and otherwise as
    /// `str::parse` does.
    ///
    /// # Examples
    ///
    /// ```
    /// use http::HeaderValue;
    /// use gateway_error::RetryAfter;
    ///
    /// let value = HeaderValue::from_static("120");
    /// assert_eq!(RetryAfter::from_header_value(&value)?, RetryAfter::from_secs(120));
    /// # Ok::<(), gateway_error::ParseRetryAfterError>(())
    /// ```
    pub fn from_header_value(value: &HeaderValue) -> Result<Self, ParseRetryAfterError> {
        value
            .to_str()
            .map_err(|_| ParseRetryAfterError {
                kind: ParseRetryAfterErrorKind::NotVisibleAscii,
            })
            .and_then(str::parse)
    }
}

/// The `Retry-After` hint of a response's headers: the one place a gateway
/// relaying an upstream's answer and a client reading a gateway's answer
/// read it, so that both see the same wait.
///
/// `Retry-After` is a single value, so a field sent as several field lines
/// (`5` and then `3600`), or as one line a proxy combined with commas
/// (`5, 3600`), is invalid (RFC 9110 section 5.3). It is not dropped: of its
/// values that parse, the longest wait from now counts. An upstream that
/// asks for an hour must not be hit again in five seconds because a relay
/// duplicated the field. Values that do not parse add nothing; a delay too
/// large to represent saturates (see [`RetryAfter`]'s `FromStr`).
pub(crate) fn from_headers(headers: &HeaderMap) -> Option<RetryAfter> {
    let mut hints = headers.get_all(RETRY_AFTER).iter().flat_map(|line| {
        let whole = RetryAfter::from_header_value(line).ok();
        // A line that is not one value may be several joined with commas
        // by a proxy: delay-seconds, or an HTTP date (which has a comma of
        // its own, after the day's name).
        let joined = whole
            .is_none()
            .then(|| split_joined(line.to_str().unwrap_or_default()));
        whole.into_iter().chain(joined.into_iter().flatten())
    });
    let first = hints.next()?;
    // The clock is read only when there is a choice to make.
    let mut rest = hints.peekable();
    if rest.peek().is_none() {
        return Some(first);
    }
    let now = SystemTime::now();
    Some(rest.fold(first, |longest, hint| {
        if hint.delay_from(now) > longest.delay_from(now) {
            hint
        } else {
            longest
        }
    }))
}

/// The values of a line that several were joined into with commas: each
/// part that is delay-seconds, and each day's name with the part after it
/// that together are an HTTP date; what is neither is dropped.
fn split_joined(line: &str) -> Vec<RetryAfter> {
    let parts: Vec<&str> = line.split(',').collect();
    let mut values = Vec::new();
    let mut i = 0;
    while i < parts.len() {
        if let Ok(value) = parts[i].parse::<RetryAfter>() {
            values.push(value);
            i += 1;
            continue;
        }
        let date = parts
            .get(i + 1)
            .and_then(|rest| format!("{},{rest}", parts[i]).parse::<RetryAfter>().ok());
        match date {
            Some(date) => {
                values.push(date);
                i += 2;
            }
            None => i += 1,
        }
    }
    values
}

/// Formats the field value: `120` or `Sun, 06 Nov 1994 08:49:37 GMT`.
///
/// # Examples
///
/// ```
/// use gateway_error::RetryAfter;
///
/// assert_eq!(RetryAfter::from_secs(120).to_string(), "120");
/// ```
impl fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Repr::Delay(secs) => write!(f, "{secs}"),
            Repr::Date(date) => write!(f, "{}", httpdate::HttpDate::from(date)),
        }
    }
}

/// Parses a field value: delay-seconds or any of the three HTTP date forms.
///
/// Spaces and tabs around the value are ignored. Leading zeros in
/// delay-seconds are allowed.
///
/// # Errors
///
/// Fails with the [`ParseRetryAfterErrorKind`] describing the problem:
/// `Empty` for an empty value, `Negative` for `-5`, `Fractional` for `1.5`,
/// `NotVisibleAscii` for bytes other than visible ASCII, space or tab, and
/// `InvalidDate` for anything else that is not an HTTP date (such as `+5`,
/// `5s` or `0x10`).
///
/// A delay too large to represent is never an error: it saturates at
/// `u32::MAX` seconds (about 136 years), as RFC 9111 section 1.2.2 asks of
/// caches for delta-seconds. A hint that vanished because it was too large
/// would let clients retry at once, the opposite of what it asked.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use gateway_error::RetryAfter;
///
/// let delay: RetryAfter = "120".parse()?;
/// assert_eq!(delay.as_delay(), Some(Duration::from_secs(120)));
///
/// let date: RetryAfter = "Sun Nov  6 08:49:37 1994".parse()?;
/// assert_eq!(date.as_date(), Some(UNIX_EPOCH + Duration::from_secs(784_111_777)));
///
/// let huge: RetryAfter = "100000000000000000000".parse()?;
/// assert_eq!(huge, RetryAfter::from_secs(u32::MAX));
/// # Ok::<(), gateway_error::ParseRetryAfterError>(())
/// ```
impl FromStr for RetryAfter {
    type Err = ParseRetryAfterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s).map_err(|kind| ParseRetryAfterError { kind })
    }
}

/// The parser behind `FromStr`, reporting only the error kind.
fn parse(s: &str) -> Result<RetryAfter, ParseRetryAfterErrorKind> {
    use ParseRetryAfterErrorKind as Kind;

    if !s.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)) {
        return Err(Kind::NotVisibleAscii);
    }
    let s = s.trim_matches([' ', '\t']);
    if s.is_empty() {
        Err(Kind::Empty)
    } else if is_digits(s) {
        // Only overflow can fail here (`s` is a non-empty run of digits):
        // a delay too large to represent saturates, it never vanishes.
        Ok(RetryAfter::from_secs(s.parse().unwrap_or(u32::MAX)))
    } else if is_decimal(s) {
        Err(Kind::Fractional)
    } else if s
        .strip_prefix('-')
        .is_some_and(|n| is_digits(n) || is_decimal(n))
    {
        Err(Kind::Negative)
    } else {
        httpdate::parse_http_date(s)
            .map(RetryAfter::at)
            .map_err(|_| Kind::InvalidDate)
    }
}

/// Same as [`RetryAfter::delay`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use gateway_error::RetryAfter;
///
/// assert_eq!(RetryAfter::from(Duration::from_secs(3)), RetryAfter::from_secs(3));
/// ```
impl From<Duration> for RetryAfter {
    fn from(delay: Duration) -> Self {
        Self::delay(delay)
    }
}

/// Same as [`RetryAfter::at`].
///
/// # Examples
///
/// ```
/// use std::time::UNIX_EPOCH;
/// use gateway_error::RetryAfter;
///
/// assert_eq!(RetryAfter::from(UNIX_EPOCH), RetryAfter::at(UNIX_EPOCH));
/// ```
impl From<SystemTime> for RetryAfter {
    fn from(date: SystemTime) -> Self {
        Self::at(date)
    }
}

/// `1*DIGIT`.
fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `1*DIGIT "." 1*DIGIT`.
fn is_decimal(s: &str) -> bool {
    s.split_once('.')
        .is_some_and(|(whole, frac)| is_digits(whole) && is_digits(frac))
}

/// Why a `Retry-After` value was rejected.
///
/// # Examples
///
/// ```
/// use gateway_error::RetryAfter;
///
/// let err = "soon".parse::<RetryAfter>().unwrap_err();
/// assert_eq!(err.to_string(), "retry-after is not delay-seconds or an http-date");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", .kind.message())]
pub struct ParseRetryAfterError {
    kind: ParseRetryAfterErrorKind,
}

impl ParseRetryAfterError {
    /// What was wrong with the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::{ParseRetryAfterErrorKind, RetryAfter};
    ///
    /// let err = "-5".parse::<RetryAfter>().unwrap_err();
    /// assert_eq!(err.kind(), ParseRetryAfterErrorKind::Negative);
    /// assert_eq!(err.to_string(), "retry-after is negative");
    /// ```
    pub fn kind(&self) -> ParseRetryAfterErrorKind {
        self.kind
    }
}

/// The kinds of [`ParseRetryAfterError`].
///
/// # Examples
///
/// ```
/// use gateway_error::{ParseRetryAfterErrorKind, RetryAfter};
///
/// assert_eq!("1.5".parse::<RetryAfter>().unwrap_err().kind(), ParseRetryAfterErrorKind::Fractional);
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseRetryAfterErrorKind {
    /// The value is empty or only whitespace.
    Empty,
    /// The value is a negative number, such as `-5`.
    Negative,
    /// The value is a number with a fractional part, such as `1.5`.
    Fractional,
    /// The value is neither delay-seconds nor an HTTP date.
    InvalidDate,
    /// The value holds bytes other than visible ASCII, space or tab.
    NotVisibleAscii,
}

impl ParseRetryAfterErrorKind {
    const fn message(self) -> &'static str {
        match self {
            Self::Empty => "retry-after is empty",
            Self::Negative => "retry-after is negative",
            Self::Fractional => "retry-after is fractional",
            Self::InvalidDate => "retry-after is not delay-seconds or an http-date",
            Self::NotVisibleAscii => "retry-after is not visible ascii",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9110's example date, `Sun, 06 Nov 1994 08:49:37 GMT`.
    const RFC_SECS: u64 = 784_111_777;

    fn secs(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn kind(s: &str) -> ParseRetryAfterErrorKind {
        s.parse::<RetryAfter>().unwrap_err().kind()
    }

    #[test]
    fn parses_delay_seconds() {
        assert_eq!("120".parse(), Ok(RetryAfter::from_secs(120)));
        assert_eq!("0".parse(), Ok(RetryAfter::from_secs(0)));
        assert_eq!("4294967295".parse(), Ok(RetryAfter::from_secs(u32::MAX)));
        assert_eq!("007".parse(), Ok(RetryAfter::from_secs(7)));
    }

    #[test]
    fn parses_all_three_date_forms() {
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            let parsed: RetryAfter = form.parse().unwrap();
            assert_eq!(parsed.as_date(), Some(secs(RFC_SECS)), "{form}");
            assert_eq!(parsed.as_delay(), None);
        }
    }

    #[test]
    fn formats_imf_fixdate() {
        let date = RetryAfter::at(secs(RFC_SECS));
        assert_eq!(date.to_string(), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(
            RetryAfter::at(UNIX_EPOCH).to_string(),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
    }

    #[test]
    fn delay_round_trip() {
        let delay = RetryAfter::from_secs(120);
        assert_eq!(delay.to_string(), "120");
        assert_eq!(delay.as_delay(), Some(Duration::from_secs(120)));
        assert_eq!(delay.as_date(), None);
        assert_eq!(delay.to_string().parse(), Ok(delay));
    }

    #[test]
    fn duration_rounds_up() {
        assert_eq!(
            RetryAfter::delay(Duration::from_millis(1200)),
            RetryAfter::from_secs(2)
        );
        assert_eq!(
            RetryAfter::delay(Duration::from_nanos(1)),
            RetryAfter::from_secs(1)
        );
        assert_eq!(RetryAfter::delay(Duration::ZERO), RetryAfter::from_secs(0));
        assert_eq!(
            RetryAfter::delay(Duration::from_secs(3)),
            RetryAfter::from_secs(3)
        );
        assert_eq!(
            RetryAfter::from(Duration::from_millis(1200)),
            RetryAfter::from_secs(2)
        );
    }

    #[test]
    fn duration_saturates() {
        let max = RetryAfter::from_secs(u32::MAX);
        assert_eq!(RetryAfter::delay(Duration::MAX), max);
        assert_eq!(
            RetryAfter::delay(Duration::from_secs(u64::from(u32::MAX) + 1)),
            max
        );
        assert_eq!(
            RetryAfter::delay(Duration::new(u64::from(u32::MAX), 1)),
            max
        );
        assert_eq!(
            RetryAfter::delay(Duration::new(u64::from(u32::MAX) - 1, 1)),
            RetryAfter::from_secs(u32::MAX)
        );
    }

    #[test]
    fn date_truncates_and_clamps() {
        let at = RetryAfter::at(secs(RFC_SECS) + Duration::from_millis(999));
        assert_eq!(at.as_date(), Some(secs(RFC_SECS)));
        assert_eq!(
            RetryAfter::from(secs(RFC_SECS)),
            RetryAfter::at(secs(RFC_SECS))
        );

        let before_epoch = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(RetryAfter::at(before_epoch).as_date(), Some(UNIX_EPOCH));

        let far = RetryAfter::at(secs(MAX_DATE_SECS + 1_000_000));
        assert_eq!(far.as_date(), Some(secs(MAX_DATE_SECS)));
        assert_eq!(far.to_string(), "Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(far.to_header_value(), "Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn every_error_kind() {
        use ParseRetryAfterErrorKind as K;

        assert_eq!(kind(""), K::Empty);
        assert_eq!(kind(" \t "), K::Empty);
        assert_eq!(kind("-5"), K::Negative);
        assert_eq!(kind("-1.5"), K::Negative);
        assert_eq!(kind("1.5"), K::Fractional);
        assert_eq!(kind("+5"), K::InvalidDate);
        assert_eq!(kind("5s"), K::InvalidDate);
        assert_eq!(kind("0x10"), K::InvalidDate);
        assert_eq!(kind("-"), K::InvalidDate);
        assert_eq!(kind("1."), K::InvalidDate);
        assert_eq!(kind("1 2"), K::InvalidDate);
        assert_eq!(kind("soon"), K::InvalidDate);
        assert_eq!(kind("Sun, 06 Nov 1994 08:49:37 UTC"), K::InvalidDate);
        assert_eq!(kind("Sun, 32 Nov 1994 08:49:37 GMT"), K::InvalidDate);
        assert_eq!(kind("12\u{7f}"), K::NotVisibleAscii);
        assert_eq!(kind("\n12"), K::NotVisibleAscii);
        assert_eq!(kind("12é"), K::NotVisibleAscii);

        let obs_text = HeaderValue::from_bytes(b"12\xff").unwrap();
        let err = RetryAfter::from_header_value(&obs_text).unwrap_err();
        assert_eq!(err.kind(), K::NotVisibleAscii);
    }

    #[test]
    fn error_messages() {
        use ParseRetryAfterErrorKind as K;

        let message = |kind: K| ParseRetryAfterError { kind }.to_string();
        assert_eq!(message(K::Empty), "retry-after is empty");
        assert_eq!(message(K::Negative), "retry-after is negative");
        assert_eq!(message(K::Fractional), "retry-after is fractional");
        assert_eq!(
            message(K::InvalidDate),
            "retry-after is not delay-seconds or an http-date"
        );
        assert_eq!(
            message(K::NotVisibleAscii),
            "retry-after is not visible ascii"
        );
    }

    #[test]
    fn thousand_digits() {
        let nines = "9".repeat(1000);
        assert_eq!(nines.parse(), Ok(RetryAfter::from_secs(u32::MAX)));
        let zeros = format!("{}42", "0".repeat(998));
        assert_eq!(zeros.parse(), Ok(RetryAfter::from_secs(42)));
        let fraction = format!("{nines}.{nines}");
        assert_eq!(kind(&fraction), ParseRetryAfterErrorKind::Fractional);
    }

    #[test]
    fn delays_too_large_to_represent_saturate() {
        for huge in [
            "4294967296",
            "1000000000000",
            "18446744073709551616",
            "99999999999999999999999999",
        ] {
            assert_eq!(huge.parse(), Ok(RetryAfter::from_secs(u32::MAX)), "{huge}");
            let value = HeaderValue::from_static(huge);
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, value);
            assert_eq!(
                from_headers(&headers),
                Some(RetryAfter::from_secs(u32::MAX)),
                "{huge}"
            );
        }
        assert_eq!(
            RetryAfter::from_secs(u32::MAX).to_header_value(),
            "4294967295"
        );
    }

    #[test]
    fn several_lines_count_as_the_longest_wait() {
        let headers = |lines: &[&'static str]| {
            let mut headers = HeaderMap::new();
            for line in lines {
                headers.append(RETRY_AFTER, HeaderValue::from_static(line));
            }
            headers
        };
        let wait = |n| Some(RetryAfter::from_secs(n));
        assert_eq!(from_headers(&headers(&[])), None);
        assert_eq!(from_headers(&headers(&["5"])), wait(5));
        assert_eq!(from_headers(&headers(&["5", "3600"])), wait(3600));
        assert_eq!(from_headers(&headers(&["3600", "5"])), wait(3600));
        assert_eq!(from_headers(&headers(&["soon", "5"])), wait(5));
        assert_eq!(from_headers(&headers(&["soon"])), None);
        assert_eq!(from_headers(&headers(&["5, 3600"])), wait(3600));
        assert_eq!(from_headers(&headers(&["5,soon"])), wait(5));
        // A date joined with a delay keeps its own comma.
        assert_eq!(
            from_headers(&headers(&["5, Fri, 31 Dec 9999 23:59:59 GMT"])),
            Some(RetryAfter::at(secs(MAX_DATE_SECS)))
        );
        assert_eq!(
            from_headers(&headers(&["Sun, 06 Nov 1994 08:49:37 GMT, 7"])),
            wait(7)
        );
        // A date far ahead waits longer than a short delay; one in the
        // past waits less.
        let far = headers(&["5", "Fri, 31 Dec 9999 23:59:59 GMT"]);
        assert_eq!(
            from_headers(&far),
            Some(RetryAfter::at(secs(MAX_DATE_SECS)))
        );
        let past = headers(&["Sun, 06 Nov 1994 08:49:37 GMT", "5"]);
        assert_eq!(from_headers(&past), wait(5));
        // The date form of one line is read whole, commas and all.
        let date = headers(&["Sun, 06 Nov 1994 08:49:37 GMT"]);
        assert_eq!(from_headers(&date), Some(RetryAfter::at(secs(RFC_SECS))));
    }

    #[test]
    fn trims_spaces_and_tabs() {
        assert_eq!(" \t120\t ".parse(), Ok(RetryAfter::from_secs(120)));
        let date: RetryAfter = "\t Sun, 06 Nov 1994 08:49:37 GMT  ".parse().unwrap();
        assert_eq!(date.as_date(), Some(secs(RFC_SECS)));
        let value = HeaderValue::from_static(" 120 ");
        assert_eq!(
            RetryAfter::from_header_value(&value),
            Ok(RetryAfter::from_secs(120))
        );
    }

    #[test]
    fn delay_from_past_and_future() {
        let now = secs(RFC_SECS);
        let future = RetryAfter::at(now + Duration::from_secs(90));
        assert_eq!(future.delay_from(now), Duration::from_secs(90));
        let past = RetryAfter::at(now - Duration::from_secs(90));
        assert_eq!(past.delay_from(now), Duration::ZERO);
        assert_eq!(RetryAfter::at(now).delay_from(now), Duration::ZERO);
        // `now` with a fractional second.
        let later_now = now + Duration::from_millis(250);
        assert_eq!(future.delay_from(later_now), Duration::from_millis(89_750));
        assert_eq!(
            RetryAfter::from_secs(30).delay_from(now),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn header_value_round_trip() {
        for retry in [
            RetryAfter::from_secs(0),
            RetryAfter::from_secs(120),
            RetryAfter::from_secs(u32::MAX),
            RetryAfter::at(secs(RFC_SECS)),
        ] {
            let value = retry.to_header_value();
            assert_eq!(value, retry.to_string().as_str());
            assert_eq!(RetryAfter::from_header_value(&value), Ok(retry));
        }
        assert_eq!(RetryAfter::from_secs(120).to_header_value(), "120");
        assert_eq!(
            RetryAfter::at(secs(RFC_SECS)).to_header_value(),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
    }

    #[test]
    fn format_parse_identity() {
        let delays = (0..=10_000)
            .chain((0..=u32::MAX).step_by(65_537))
            .chain([u32::MAX]);
        for delay in delays {
            let retry = RetryAfter::from_secs(delay);
            assert_eq!(retry.to_string().parse(), Ok(retry), "{delay}");
        }
        let dates = (0..=100_000)
            .chain((0..=MAX_DATE_SECS).step_by(86_399_999))
            .chain([RFC_SECS, MAX_DATE_SECS]);
        for date in dates {
            let retry = RetryAfter::at(secs(date));
            assert_eq!(retry.to_string().parse(), Ok(retry), "{date}");
            assert_eq!(retry.as_date(), Some(secs(date)));
        }
    }
}
