//! The four body formats, written once into a buffer sized beforehand,
//! with their escaping.

use std::fmt::Write as _;

use http::{Method, StatusCode};

use crate::context::RenderContext;
use crate::error::{Inner, NoRetry};
use crate::negotiate::Format;
use crate::registry::{Phase, ProxyError};

use super::page;
use crate::retry_after::RetryAfter;

/// A `u64` in decimal, formatted on the stack.
pub(super) struct Decimal {
    buf: [u8; Decimal::MAX_LEN],
    start: usize,
}

impl Decimal {
    /// The length of `u64::MAX` in decimal.
    pub(super) const MAX_LEN: usize = 20;

    pub(super) fn new(mut n: u64) -> Self {
        let mut buf = [b'0'; Self::MAX_LEN];
        let mut start = buf.len();
        loop {
            start -= 1;
            // `n % 10` is a single digit.
            buf[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Self { buf, start }
    }

    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

/// The canonical sentence for an error without caller details.
pub(super) fn canonical_details(status: StatusCode, phase: Option<Phase>) -> &'static str {
    match (status, phase) {
        (StatusCode::GATEWAY_TIMEOUT, Some(Phase::NotSent)) => {
            "The server did not receive a timely response from the upstream server while connecting to it."
        }
        (StatusCode::GATEWAY_TIMEOUT, _) => {
            "The server did not receive a timely response from the upstream server. The operation might still be processing."
        }
        (StatusCode::SERVICE_UNAVAILABLE, _) => {
            "The service is temporarily unavailable. Please try again later."
        }
        (StatusCode::INTERNAL_SERVER_ERROR, _) => {
            "The server encountered an internal error while trying to fulfill the request."
        }
        (_, Some(Phase::NotSent)) => {
            "The server could not reach the upstream server while trying to fulfill the request."
        }
        _ => {
            "The server received an invalid response from the upstream server while trying to fulfill the request."
        }
    }
}

/// Everything the body writers read, resolved once.
pub(super) struct View<'a> {
    pub(super) status: StatusCode,
    pub(super) reason: &'static str,
    pub(super) inner: &'a Inner,
    pub(super) details: &'a str,
    pub(super) upstream: Option<&'a str>,
    pub(super) kind: Option<ProxyError>,
    pub(super) retryable: Option<bool>,
    /// Whether this request may be sent again, and what a person can do.
    pub(super) verdict: Verdict,
    pub(super) retry_after: Option<RetryAfterText>,
    pub(super) request_id: Option<&'a str>,
    pub(super) type_base: Option<&'a str>,
}

impl<'a> View<'a> {
    pub(super) fn new(status: StatusCode, inner: &'a Inner, ctx: &RenderContext<'a>) -> Self {
        let policy = ctx.policy();
        Self {
            status,
            reason: status.canonical_reason().unwrap_or("Error"),
            inner,
            details: inner
                .details
                .as_deref()
                .unwrap_or_else(|| canonical_details(status, inner.kind.map(ProxyError::phase))),
            upstream: inner
                .upstream
                .as_deref()
                .filter(|_| policy.shows_upstream_names()),
            kind: inner.kind,
            retryable: inner.retryable(status, ctx.method()),
            verdict: Verdict::of(status, inner, ctx.method()),
            retry_after: inner.retry_after.map(RetryAfterText::new),
            request_id: inner.request_id.as_deref().or(ctx.request_id()),
            type_base: policy.problem_type_base(),
        }
    }

    pub(super) fn write_body<S: Sink>(&self, format: Format, out: &mut S) {
        match format {
            Format::ProblemJson => self.write_problem(out),
            Format::Html => out.page(self),
            Format::Text => self.write_text(out),
            Format::Json => self.write_json(out),
            // A Trailers-Only answer has no body (see `grpc`).
            Format::Grpc => {}
        }
    }

    /// `{"error":{"code":502,"message":"Bad Gateway","details":"..."}}`
    fn write_json<S: Sink>(&self, out: &mut S) {
        out.raw("{\"error\":{\"code\":");
        out.raw(self.status.as_str());
        out.raw(",\"message\":");
        json_str(out, self.reason);
        out.raw(",\"details\":");
        json_str(out, self.details);
        self.write_members(out);
        out.raw("}}");
    }

    /// RFC 9457 problem details.
    fn write_problem<S: Sink>(&self, out: &mut S) {
        out.raw("{\"type\":");
        match (self.type_base, self.kind) {
            (Some(base), Some(kind)) => {
                out.raw("\"");
                out.json(base);
                out.raw(kind.as_str());
                out.raw("\"");
            }
            _ => out.raw("\"about:blank\""),
        }
        out.raw(",\"title\":");
        json_str(out, self.reason);
        out.raw(",\"status\":");
        out.raw(self.status.as_str());
        out.raw(",\"detail\":");
        json_str(out, self.details);
        if let Some(id) = self.request_id {
            // A fragment-only URI reference: this occurrence, on the
            // resource that was requested (RFC 9457 section 3.1.5).
            out.raw(",\"instance\":\"#");
            out.percent(id);
            out.raw("\"");
        }
        self.write_members(out);
        out.raw("}");
    }

    /// The optional members both JSON formats share (RFC 9457 section 4
    /// names: letters, digits and `_`, at least three characters).
    fn write_members<S: Sink>(&self, out: &mut S) {
        if let Some(upstream) = self.upstream {
            out.raw(",\"upstream\":");
            json_str(out, upstream);
        }
        if let Some(kind) = self.kind {
            out.raw(",\"kind\":\"");
            out.raw(kind.as_str());
            out.raw("\"");
        }
        if let Some(retryable) = self.retryable {
            out.raw(if retryable {
                ",\"retryable\":true"
            } else {
                ",\"retryable\":false"
            });
        }
        if let Some(retry_after) = &self.retry_after {
            out.raw(",\"retry_after\":");
            if retry_after.is_delay {
                out.bytes(retry_after.as_bytes());
            } else {
                out.raw("\"");
                out.bytes(retry_after.as_bytes());
                out.raw("\"");
            }
        }
        if let Some(id) = self.request_id {
            out.raw(",\"request_id\":");
            json_str(out, id);
        }
    }

    /// The page a person sees: which hop failed, what happened, what they
    /// can do and what to tell the site's owner. Static text is written in
    /// few, long pieces (see [`page`]); the style is static, so that the
    /// `Content-Security-Policy` can allow it by its hash.
    // Out of line: inlined into `write_body` beside the other formats, its
    // short copies were no longer inlined in turn (each then cost a call).
    #[inline(never)]
    fn write_html<S: Sink>(&self, out: &mut S) {
        let failure = page::Failure::of(self.status, self.kind, self.inner.received_status);
        match page::head_with_status(self.status, failure) {
            Some(head) => out.raw(head),
            None => {
                out.raw(page::HEAD);
                self.write_status_line(out);
                out.raw(page::TITLE_TO_H1);
                self.write_status_line(out);
                out.raw(page::H1_TO_HOPS);
                out.raw(failure.hops());
            }
        }
        match self.upstream {
            Some(name) if !name.is_empty() => out.html(name),
            _ => out.raw(page::GENERIC_UPSTREAM),
        }
        let details = self.inner.details.as_deref();
        out.raw(failure.happened(details.is_some()));
        if let Some(details) = details {
            out.html(details);
        }
        // What a person can do, and the start of the site owner's part.
        let (before, after) = self.verdict.sentences().1[usize::from(self.request_id.is_some())];
        out.raw(before);
        if let Some(after) = after {
            match &self.retry_after {
                Some(retry_after) => retry_after.write_when(out),
                None => out.raw("now"),
            }
            out.raw(after);
        }
        if let Some(id) = self.request_id {
            out.html(id);
            out.raw(page::OWNER_ID_END);
        }
        // The facts, each case written out, so that every static piece has
        // a known length (and is copied without a call).
        match (self.kind, &self.retry_after) {
            (Some(kind), Some(retry_after)) => {
                out.raw(page::FACTS_KIND);
                out.raw(kind.as_str());
                out.raw(page::FACTS_AND_RETRY_AFTER);
                out.bytes(retry_after.as_bytes());
                out.raw(page::FACTS_AND_END);
            }
            (Some(kind), None) => {
                out.raw(page::FACTS_KIND);
                out.raw(kind.as_str());
                out.raw(page::FACTS_AND_END);
            }
            (None, Some(retry_after)) => {
                out.raw(page::FACTS_RETRY_AFTER);
                out.bytes(retry_after.as_bytes());
                out.raw(page::FACTS_AND_END);
            }
            (None, None) => out.raw(page::END),
        }
    }

    /// At least the page's length as if nothing needed escaping: its
    /// start up to the hops, the caller's values, and the longest text
    /// each other part can have.
    fn html_len_bound(&self) -> usize {
        page::HEAD_LEN
            + 2 * self.reason.len()
            + page::REST_MAX_LEN
            + self.upstream.map_or(0, str::len)
            + self.inner.details.as_deref().map_or(0, str::len)
            + self.request_id.map_or(0, str::len)
            + self.kind.map_or(0, |kind| kind.as_str().len())
            + 2 * self
                .retry_after
                .as_ref()
                .map_or(0, |retry_after| retry_after.len)
    }

    fn write_text<S: Sink>(&self, out: &mut S) {
        self.write_status_line(out);
        out.raw("\n");
        out.raw(self.details);
        out.raw("\n");
        if let Some(retry_after) = &self.retry_after {
            retry_after.write_sentence(out);
            out.raw("\n");
        }
        if let Some(sentence) = self.verdict.sentences().0 {
            out.raw(sentence);
            out.raw("\n");
        }
        if let Some(id) = self.request_id {
            out.raw("Request ID: ");
            out.raw(id);
            out.raw("\n");
        }
    }

    pub(super) fn write_status_line<S: Sink>(&self, out: &mut S) {
        // The four statuses the error types have, in one piece each.
        let line = match self.status {
            StatusCode::BAD_GATEWAY => "502 Bad Gateway",
            StatusCode::SERVICE_UNAVAILABLE => "503 Service Unavailable",
            StatusCode::GATEWAY_TIMEOUT => "504 Gateway Timeout",
            StatusCode::INTERNAL_SERVER_ERROR => "500 Internal Server Error",
            _ => {
                out.raw(self.status.as_str());
                out.raw(" ");
                out.raw(self.reason);
                return;
            }
        };
        out.raw(line);
    }
}

/// A retry hint's field value, formatted once on the stack.
pub(super) struct RetryAfterText {
    pub(super) buf: [u8; 32],
    pub(super) len: usize,
    pub(super) is_delay: bool,
    /// The delay in seconds (0 for a date).
    pub(super) secs: u64,
}

impl RetryAfterText {
    pub(super) fn new(retry_after: RetryAfter) -> Self {
        let mut text = Self {
            buf: [0; 32],
            len: 0,
            is_delay: retry_after.as_delay().is_some(),
            secs: retry_after.as_delay().map_or(0, |delay| delay.as_secs()),
        };
        // Both forms fit: at most 10 digits, or 29 bytes of IMF-fixdate.
        match retry_after.as_delay() {
            Some(delay) => {
                let digits = Decimal::new(delay.as_secs());
                let digits = digits.as_bytes();
                text.buf[..digits.len()].copy_from_slice(digits);
                text.len = digits.len();
            }
            None => {
                let _ = write!(text, "{retry_after}");
            }
        }
        text
    }

    /// Visible ASCII: digits, or an IMF-fixdate (nothing to escape).
    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The hint as a sentence for HTML and text bodies: when the service
    /// expects to take requests again (RFC 9110 section 10.2.3), which is
    /// not a verdict on resending this request.
    pub(super) fn write_sentence<S: Sink>(&self, out: &mut S) {
        if self.is_delay {
            out.raw("The service expects to accept requests again in ");
            out.bytes(self.as_bytes());
            out.raw(if self.as_bytes() == b"1" {
                " second."
            } else {
                " seconds."
            });
        } else {
            out.raw("The service expects to accept requests again after ");
            out.bytes(self.as_bytes());
            out.raw(".");
        }
    }
}

/// The HTML page's "What you can do" paragraph and the start of the site
/// owner's part after it, without and with a request id to quote: in two
/// pieces around the time to try again, or whole when the paragraph names
/// no time.
macro_rules! advice {
    ($before:literal, $after:literal) => {
        [
            (
                concat!("</p>\n<h2>What you can do</h2>\n<p>", $before),
                Some(concat!($after, page::owner_no_id!())),
            ),
            (
                concat!("</p>\n<h2>What you can do</h2>\n<p>", $before),
                Some(concat!($after, page::owner_id!())),
            ),
        ]
    };
    ($whole:literal) => {
        [
            (
                concat!(
                    "</p>\n<h2>What you can do</h2>\n<p>",
                    $whole,
                    page::owner_no_id!()
                ),
                None,
            ),
            (
                concat!(
                    "</p>\n<h2>What you can do</h2>\n<p>",
                    $whole,
                    page::owner_id!()
                ),
                None,
            ),
        ]
    };
}

/// The HTML page's "What you can do" and the start of the site owner's
/// part, without and with a request id (see [`advice!`]).
type Advice = [(&'static str, Option<&'static str>); 2];

/// Whether this request may be sent again (the JSON `retryable`), and the
/// words each body says it in: the one place to add a verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// The method is unknown, and decides (`retryable` is absent).
    Unknown,
    /// A retry is safe and can help (`retryable: true`).
    Resend,
    /// A retry gets the same answer (`retryable: false`): the gateway's own
    /// fault with no hint that it will pass, a kind a retry cannot change,
    /// an upstream status that comes again.
    CannotHelp,
    /// A request with a non-idempotent method that may have reached the
    /// upstream (RFC 9110 section 9.2.2; `retryable: false`).
    MayHaveRun,
    /// This gateway's retry policy already retried the upstream
    /// (`retryable: false`): retry at one layer.
    AlreadyRetried,
}

impl Verdict {
    pub(super) fn of(status: StatusCode, inner: &Inner, method: Option<&Method>) -> Self {
        match inner.retryable(status, method) {
            None => Self::Unknown,
            Some(true) => Self::Resend,
            Some(false) if inner.no_retry == Some(NoRetry::Retried) => Self::AlreadyRetried,
            Some(false) if !inner.retry_can_help(status) => Self::CannotHelp,
            Some(false) => Self::MayHaveRun,
        }
    }

    /// The verdict's words, one line each: the text body's sentence (for a
    /// request that must not be resent automatically), then the HTML page's
    /// "What you can do" up to the time to try again ("now", "in about 2
    /// minutes", "after" a date) and the words after that time, or the
    /// whole paragraph when it names no time (see [`advice!`]).
    #[rustfmt::skip]
    pub(super) const fn sentences(self) -> &'static (Option<&'static str>, Advice) {
        match self {
            Self::Unknown => &(None, advice!("Try again ", ". If you were sending a form, check first whether it went through, so that it is not sent twice.</p>\n")),
            Self::Resend => &(None, advice!("Try again ", ": reload this page.</p>\n")),
            Self::CannotHelp => &(Some("Sending this request again is not expected to succeed; do not resend it automatically."), advice!("Trying again will not help: the same request gets the same answer. Check the address, or go back.</p>\n")),
            Self::MayHaveRun => &(Some("This request may already have been processed; do not resend it automatically."), advice!("Do not send it again blindly: your request may already have gone through. Check first whether it did (for example, look for a confirmation), and only if it did not, try again ", ".</p>\n")),
            Self::AlreadyRetried => &(Some("This gateway already retried the request; do not resend it automatically."), advice!("This site already tried again for you, without success: wait a few minutes before you try again yourself.</p>\n")),
        }
    }
}

impl RetryAfterText {
    /// When to try again, as a person reads it: "now", "in 30 seconds",
    /// "in about 2 minutes", "in about 3 hours", "in about 2 days", or
    /// "after" the date. Seconds are exact; longer delays are rounded to
    /// the nearest unit.
    pub(super) fn write_when<S: Sink>(&self, out: &mut S) {
        const MINUTE: u64 = 60;
        const HOUR: u64 = 60 * MINUTE;
        const DAY: u64 = 24 * HOUR;
        if !self.is_delay {
            out.raw("after ");
            out.bytes(self.as_bytes());
            return;
        }
        let secs = self.secs;
        if secs < MINUTE {
            // The field value is these seconds' digits: written into the
            // words, so that they are copied in one piece of known length.
            match *self.as_bytes() {
                [b'0'] => out.raw("now"),
                [b'1'] => out.raw("in 1 second"),
                [digit] => {
                    let mut words = *b"in 0 seconds";
                    words[3] = digit;
                    out.bytes(&words);
                }
                [tens, ones] => {
                    let mut words = *b"in 00 seconds";
                    words[3] = tens;
                    words[4] = ones;
                    out.bytes(&words);
                }
                _ => {
                    out.raw("in ");
                    out.bytes(self.as_bytes());
                    out.raw(" seconds");
                }
            }
            return;
        }
        let rounded = |unit: u64| secs / unit + u64::from(secs % unit >= unit / 2);
        let (n, one, many) = if rounded(MINUTE) < 60 {
            (rounded(MINUTE), "in about a minute", " minutes")
        } else if rounded(HOUR) < 24 {
            (rounded(HOUR), "in about an hour", " hours")
        } else {
            (rounded(DAY), "in about a day", " days")
        };
        if n == 1 {
            out.raw(one);
        } else {
            out.raw("in about ");
            out.bytes(Decimal::new(n).as_bytes());
            out.raw(many);
        }
    }
}

impl std::fmt::Write for RetryAfterText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Where body bytes go: an [`Estimate`] sizes the buffer, then the body is
/// written once into it (a HEAD request's is only counted).
pub(super) trait Sink: Sized {
    fn bytes(&mut self, b: &[u8]);

    fn raw(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    /// `s` with JSON string escaping.
    fn json(&mut self, s: &str) {
        json_escape(self, s);
    }

    /// `s` with HTML escaping (inlined: see [`html_escape`]).
    #[inline(always)]
    fn html(&mut self, s: &str) {
        html_escape(self, s);
    }

    /// `s` percent-encoded.
    fn percent(&mut self, s: &str) {
        percent_encode(self, s);
    }

    /// The HTML page of `view` (see [`View::write_html`]).
    fn page(&mut self, view: &View<'_>) {
        view.write_html(self);
    }
}

/// The body's length as if nothing needed escaping: exact for the typical
/// error, short by what escaping adds otherwise. For the HTML page, a
/// bound instead (see [`View::html_len_bound`]), which spares walking the
/// page's pieces twice.
pub(super) struct Estimate(pub(super) usize);

impl Sink for Estimate {
    fn bytes(&mut self, b: &[u8]) {
        self.0 += b.len();
    }

    fn json(&mut self, s: &str) {
        self.0 += s.len();
    }

    fn html(&mut self, s: &str) {
        self.0 += s.len();
    }

    fn percent(&mut self, s: &str) {
        self.0 += s.len();
    }

    fn page(&mut self, view: &View<'_>) {
        self.0 += view.html_len_bound();
    }
}

/// The body's exact length.
pub(super) struct Count(pub(super) usize);

impl Sink for Count {
    fn bytes(&mut self, b: &[u8]) {
        self.0 += b.len();
    }
}

impl Sink for Vec<u8> {
    fn bytes(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
}

pub(super) fn json_str<S: Sink>(out: &mut S, s: &str) {
    out.raw("\"");
    out.json(s);
    out.raw("\"");
}

/// JSON string escaping (RFC 8259 section 7): quote, backslash and every
/// control character.
pub(super) fn json_escape<S: Sink>(out: &mut S, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // Most text needs no escaping: one branch-free pass tells.
    if !s.bytes().fold(false, |any, b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    }) {
        out.raw(s);
        return;
    }
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.raw(&s[start..i]);
        if short.is_empty() {
            out.bytes(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        } else {
            out.raw(short);
        }
        start = i + 1;
    }
    out.raw(&s[start..]);
}

/// Whether HTML escaping changes `b`.
const fn html_special(b: u8) -> bool {
    matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'')
}

/// Whether any byte of `s` is [`html_special`]. Text shorter than 16
/// bytes is looked at in one or two words of 8 bytes that may overlap:
/// its first and last 8 bytes, its first and last 4, or its first, middle
/// and last byte. Longer text is looked at up to its last multiple of 8
/// bytes by a loop the compiler vectorises, then in its last 8 bytes. No
/// byte-by-byte tail: for the short names, details and ids a page shows,
/// it cost more than the rest.
#[inline(always)]
fn has_html_special(s: &[u8]) -> bool {
    let word = |chunk: Option<&[u8; 8]>| {
        chunk.is_some_and(|c| has_html_special_word(u64::from_le_bytes(*c)))
    };
    match s.len() {
        0 => false,
        // Three bytes cover up to three: the first, the middle, the last.
        1..4 => has_html_special_word(u64::from_le_bytes([
            s[0],
            s[s.len() / 2],
            s[s.len() - 1],
            0,
            0,
            0,
            0,
            0,
        ])),
        4..8 => {
            let half = |chunk: Option<&[u8; 4]>| chunk.map_or(0, |c| u32::from_le_bytes(*c));
            has_html_special_word(
                u64::from(half(s.first_chunk())) | u64::from(half(s.last_chunk())) << 32,
            )
        }
        8..16 => word(s.first_chunk()) | word(s.last_chunk()),
        len => {
            s[..len - len % 8]
                .iter()
                .fold(false, |any, &b| any | html_special(b))
                | word(s.last_chunk())
        }
    }
}

/// Whether any of the 8 bytes of `word` is [`html_special`] (a zero byte
/// is not). Each `t` below has a zero byte exactly where `word` has one
/// of the bytes it looks for, and its other bytes are below 0x80 wherever
/// `word`'s are (ASCII). `t - 0x01..` sets the high bit of each zero byte;
/// at another ASCII byte only when a borrow comes up from a zero byte
/// below it, as a byte below 0x80 but not zero lets no borrow start.
/// `& !word` leaves out the bytes that are not ASCII, none of which is
/// looked for. So the result is non-zero exactly when a byte is found.
#[inline]
const fn has_html_special_word(word: u64) -> bool {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    // `"`; `&` and `'` (0x26, 0x27); `<` and `>` (0x3c, 0x3e).
    let quote = word ^ (ONES * 0x22);
    let amp_apos = (word | ONES) ^ (ONES * 0x27);
    let angles = (word | (ONES * 0x02)) ^ (ONES * 0x3e);
    (quote.wrapping_sub(ONES) | amp_apos.wrapping_sub(ONES) | angles.wrapping_sub(ONES))
        & !word
        & HIGH
        != 0
}

/// HTML text and attribute escaping: text with nothing to escape, the
/// usual case, is copied as it is, without a call.
#[inline(always)]
pub(super) fn html_escape<S: Sink>(out: &mut S, s: &str) {
    if has_html_special(s.as_bytes()) {
        html_escape_each(out, s);
    } else {
        out.raw(s);
    }
}

/// [`html_escape`] of text with something to escape.
#[inline(never)]
fn html_escape_each<S: Sink>(out: &mut S, s: &str) {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.raw(&s[start..i]);
        out.raw(entity);
        start = i + 1;
    }
    out.raw(&s[start..]);
}

/// Percent-encodes all but RFC 3986 unreserved characters.
pub(super) fn percent_encode<S: Sink>(out: &mut S, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let unreserved = |b: u8| b.is_ascii_alphanumeric() | matches!(b, b'-' | b'.' | b'_' | b'~');
    if s.bytes().fold(true, |all, b| all & unreserved(b)) {
        out.raw(s);
        return;
    }
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if unreserved(b) {
            continue;
        }
        out.bytes(&bytes[start..i]);
        out.bytes(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        start = i + 1;
    }
    out.bytes(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use http::{Method, StatusCode};
    use strum::VariantArray;

    use super::*;
    use crate::context::Policy;
    use crate::error::{
        BadGateway, GatewayError, GatewayTimeout, InternalServerError, ServiceUnavailable,
    };
    use crate::render::render;

    /// The word-at-a-time check against the byte-by-byte one: every byte
    /// value at every place of text of every length up to 40, on grounds
    /// that are ASCII, zero, just around the bytes looked for, or not
    /// ASCII (where a borrow or a sign bit could mislead a word check).
    #[test]
    fn the_html_check_finds_what_a_byte_by_byte_one_finds() {
        let grounds = [
            b'a', 0x00, 0x01, 0x21, 0x23, 0x25, 0x28, 0x3d, 0x3f, 0x7f, 0x80, 0xa2, 0xa6, 0xbc,
            0xff,
        ];
        for len in 0..=40 {
            for ground in grounds {
                let mut text = vec![ground; len];
                assert_eq!(has_html_special(&text), html_special(ground) && len > 0);
                for at in 0..len {
                    for b in 0..=u8::MAX {
                        text[at] = b;
                        let expected = text.iter().any(|&b| html_special(b));
                        assert_eq!(has_html_special(&text), expected, "{text:?}");
                    }
                    text[at] = ground;
                }
            }
        }
    }

    /// Words of bytes around the ones looked for, in every order.
    #[test]
    fn the_word_check_is_exact() {
        let bytes = [
            0x00, 0x01, 0x21, 0x22, 0x23, 0x26, 0x27, 0x28, 0x3c, 0x3d, 0x3e, 0x3f, 0x80, 0xa2,
            0xbe, 0xff,
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..200_000 {
            let mut word = [0u8; 8];
            for byte in &mut word {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *byte = bytes[(state % bytes.len() as u64) as usize];
            }
            assert_eq!(
                has_html_special_word(u64::from_le_bytes(word)),
                word.iter().any(|&b| html_special(b)),
                "{word:?}"
            );
        }
    }

    /// The HTML buffer's bound holds for every status, kind, upstream
    /// status, verdict (a retry by this gateway's policy too) and retry
    /// hint, with the longest values an error keeps and with none.
    #[test]
    fn the_page_fits_its_bound() {
        let long = |n| "x".repeat(n);
        let date = RetryAfter::from(UNIX_EPOCH + Duration::from_secs(784_111_777));
        let hints = [
            None,
            Some(RetryAfter::from(Duration::from_secs(45))),
            Some(RetryAfter::from(Duration::from_secs(u64::from(u32::MAX)))),
            Some(date),
        ];
        let mut kinds = vec![None];
        kinds.extend(ProxyError::VARIANTS.iter().copied().map(Some));
        let mut errors = Vec::new();
        for (kind, received, values) in kinds.iter().flat_map(|&kind| {
            [None, Some(404), Some(500), Some(503)]
                .into_iter()
                .flat_map(move |received| [(kind, received, false), (kind, received, true)])
        }) {
            macro_rules! error {
                ($error:expr) => {{
                    let mut error = $error;
                    if let Some(kind) = kind {
                        error = error.with_kind(kind);
                    }
                    if let Some(status) = received {
                        let status = StatusCode::from_u16(status).expect("a status");
                        error = error.with_received_status(status);
                    }
                    if values {
                        error = error
                            .with_upstream(long(crate::MAX_NAME_LEN))
                            .with_details(long(crate::MAX_DETAILS_LEN))
                            .with_request_id(long(crate::RequestId::MAX_LEN));
                    }
                    GatewayError::from(error)
                }};
            }
            let statuses: [GatewayError; 4] = [
                error!(BadGateway::new()),
                error!(ServiceUnavailable::new()),
                error!(GatewayTimeout::new()),
                error!(InternalServerError::new()),
            ];
            for error in statuses {
                for hint in hints {
                    let error = match hint {
                        Some(hint) => error.clone().with_retry_after(hint),
                        None => error.clone(),
                    };
                    errors.push(error.clone().with_no_retry(NoRetry::Retried));
                    errors.push(error);
                }
            }
        }
        let (shown, hidden) = (Policy::new().with_upstream_names(true), Policy::new());
        let mut most = 0;
        for error in &errors {
            for method in [None, Some(&Method::GET), Some(&Method::POST)] {
                for policy in [&shown, &hidden] {
                    let ctx = RenderContext::new()
                        .with_policy(policy)
                        .with_format(Format::Html);
                    let ctx = method.map_or(ctx, |method| ctx.with_method(method));
                    let page = render(error, &ctx).into_body();
                    let sent = error.as_sent();
                    let bound = View::new(sent.status(), sent.inner(), &ctx).html_len_bound();
                    assert!(page.len() <= bound, "{error:?}");
                    most = most.max(page.len() + page::REST_MAX_LEN - bound);
                }
            }
        }
        // Generous, not wasteful.
        assert!(page::REST_MAX_LEN - most < 256, "{most}");
    }
}
