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
            Format::Html => self.write_html(out),
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
    fn write_html<S: Sink>(&self, out: &mut S) {
        let failure = page::Failure::of(self.status, self.kind, self.inner.received_status);
        match page::head_with_status(self.status) {
            Some(head) => out.raw(head),
            None => {
                out.raw(page::HEAD);
                self.write_status_line(out);
                out.raw(page::TITLE_TO_H1);
                self.write_status_line(out);
                out.raw(page::H1_TO_HOPS);
            }
        }
        out.raw(failure.hops());
        match self.upstream {
            Some(name) if !name.is_empty() => out.html(name),
            _ => out.raw(page::GENERIC_UPSTREAM),
        }
        let details = self.inner.details.as_deref();
        out.raw(failure.happened(details.is_some()));
        if let Some(details) = details {
            out.html(details);
            out.raw("</p>\n");
        }
        let (_, before, after) = self.verdict.sentences();
        out.raw(before);
        if let Some(after) = after {
            match &self.retry_after {
                Some(retry_after) => retry_after.write_when(out),
                None => out.raw("now"),
            }
            out.raw(after);
        }
        match self.request_id {
            Some(id) => {
                out.raw(page::OWNER_ID);
                out.html(id);
                out.raw(page::OWNER_ID_END);
            }
            None => out.raw(page::OWNER_NO_ID),
        }
        if let Some(kind) = self.kind {
            out.raw(page::FACTS_KIND);
            out.raw(kind.as_str());
        }
        if let Some(retry_after) = &self.retry_after {
            out.raw(if self.kind.is_some() {
                page::FACTS_AND_RETRY_AFTER
            } else {
                page::FACTS_RETRY_AFTER
            });
            out.bytes(retry_after.as_bytes());
        }
        if self.kind.is_some() || self.retry_after.is_some() {
            out.raw(page::FACTS_END);
        }
        out.raw(page::END);
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

/// The HTML page's "What you can do" paragraph, from its start: the words
/// before the time to try again.
macro_rules! advice {
    ($before:literal) => {
        concat!("<h2>What you can do</h2>\n<p>", $before)
    };
}

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
    /// "What you can do" up to the time to try again, and the words after
    /// that time ("now", "in about 2 minutes", "after" a date), or `None`
    /// when the paragraph names no time.
    #[rustfmt::skip]
    pub(super) const fn sentences(self) -> (Option<&'static str>, &'static str, Option<&'static str>) {
        match self {
            Self::Unknown => (None, advice!("Try again "), Some(". If you were sending a form, check first whether it went through, so that it is not sent twice.</p>\n")),
            Self::Resend => (None, advice!("Try again "), Some(": reload this page.</p>\n")),
            Self::CannotHelp => (Some("Sending this request again is not expected to succeed; do not resend it automatically."), advice!("Trying again will not help: the same request gets the same answer. Check the address, or go back.</p>\n"), None),
            Self::MayHaveRun => (Some("This request may already have been processed; do not resend it automatically."), advice!("Do not send it again blindly: your request may already have gone through. Check first whether it did (for example, look for a confirmation), and only if it did not, try again "), Some(".</p>\n")),
            Self::AlreadyRetried => (Some("This gateway already retried the request; do not resend it automatically."), advice!("This site already tried again for you, without success: wait a few minutes before you try again yourself.</p>\n"), None),
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
        let rounded = |unit: u64| secs / unit + u64::from(secs % unit >= unit / 2);
        let (n, one, many) = if secs < MINUTE {
            (secs, "in 1 second", " seconds")
        } else if rounded(MINUTE) < 60 {
            (rounded(MINUTE), "in about a minute", " minutes")
        } else if rounded(HOUR) < 24 {
            (rounded(HOUR), "in about an hour", " hours")
        } else {
            (rounded(DAY), "in about a day", " days")
        };
        match n {
            0 => out.raw("now"),
            1 => out.raw(one),
            _ => {
                out.raw(if secs < MINUTE { "in " } else { "in about " });
                out.bytes(Decimal::new(n).as_bytes());
                out.raw(many);
            }
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

    /// `s` with HTML escaping.
    fn html(&mut self, s: &str) {
        html_escape(self, s);
    }

    /// `s` percent-encoded.
    fn percent(&mut self, s: &str) {
        percent_encode(self, s);
    }
}

/// The body's length as if nothing needed escaping: exact for the typical
/// error, short by what escaping adds otherwise.
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

/// HTML text and attribute escaping.
pub(super) fn html_escape<S: Sink>(out: &mut S, s: &str) {
    if !s.bytes().fold(false, |any, b| {
        any | matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'')
    }) {
        out.raw(s);
        return;
    }
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
