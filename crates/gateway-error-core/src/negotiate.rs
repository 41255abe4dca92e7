//! HTTP `Accept` content negotiation ([RFC 9110 §12.5.1]) among the four
//! body formats an error can be rendered in, and gRPC callers told apart by
//! their `content-type`.
//!
//! The parser works directly on the header bytes, never allocates, never
//! panics, and bounds its work: only the first 8 KiB and the first 64 media
//! ranges of a header are considered.
//!
//! [RFC 9110 §12.5.1]: https://www.rfc-editor.org/rfc/rfc9110#section-12.5.1

use http::HeaderValue;

/// Only this many leading bytes of an `Accept` value are considered.
const MAX_LEN: usize = 8 * 1024;
/// Only this many (non-empty) media ranges are considered.
const MAX_RANGES: usize = 64;

/// Whether a `content-type` value is gRPC's: `application/grpc`, alone or
/// with a `+<subtype>` suffix or parameters (media types are
/// case-insensitive, RFC 9110 section 8.3.1).
fn is_grpc(content_type: &[u8]) -> bool {
    const GRPC: &[u8] = b"application/grpc";
    content_type.len() >= GRPC.len()
        && content_type[..GRPC.len()].eq_ignore_ascii_case(GRPC)
        && matches!(
            content_type.get(GRPC.len()),
            None | Some(b'+' | b';' | b' ' | b'\t')
        )
}

/// The body formats an error can be rendered in.
///
/// # Examples
///
/// ```
/// use gateway_error::Format;
///
/// let accept = http::HeaderValue::from_static("text/html,*/*;q=0.8");
/// let format = Format::negotiate(Some(&accept));
/// assert_eq!(format, Format::Html);
/// assert_eq!(format.content_type(), "text/html; charset=utf-8");
/// assert_eq!(Format::default(), Format::Json);
/// ```
///
/// Exhaustive on purpose: these are the formats every renderer and adapter
/// of this crate is written for; another would be a breaking change anyway.
/// [`Format::ALL`] lists the four that `Accept` chooses among; a gRPC
/// caller gets [`Format::Grpc`] whatever it accepts (see
/// [`Format::from_request`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// `application/json`: the JSON error envelope.
    #[default]
    Json,
    /// `application/problem+json`: RFC 9457 problem details.
    ProblemJson,
    /// `text/html`: a minimal HTML page.
    Html,
    /// `text/plain`: plain text.
    Text,
    /// `application/grpc`: a gRPC Trailers-Only answer (gRPC's
    /// PROTOCOL-HTTP2.md): HTTP 200, no body, the error in `grpc-status`,
    /// `grpc-message` and `grpc-retry-pushback-ms` (see
    /// [`render`](crate::render)). Chosen by a request's `content-type`
    /// (`application/grpc` or `application/grpc+<subtype>`), never by
    /// `Accept`.
    Grpc,
}

impl Format {
    /// Every format `Accept` chooses among, in server preference order
    /// (used to break ties): `Json`, `ProblemJson`, `Html`, `Text`. Not
    /// [`Format::Grpc`], which a request's `content-type` chooses.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::Format;
    ///
    /// assert_eq!(Format::ALL[0], Format::Json);
    /// assert_eq!(Format::ALL.len(), 4);
    /// ```
    pub const ALL: [Format; 4] = [
        Format::Json,
        Format::ProblemJson,
        Format::Html,
        Format::Text,
    ];

    /// The bare media type (`type/subtype`, no parameters).
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::Format;
    ///
    /// assert_eq!(Format::ProblemJson.media_type(), "application/problem+json");
    /// assert_eq!(Format::Html.media_type(), "text/html");
    /// ```
    #[must_use]
    pub const fn media_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::ProblemJson => "application/problem+json",
            Format::Html => "text/html",
            Format::Text => "text/plain",
            Format::Grpc => "application/grpc",
        }
    }

    /// The value to send in the `Content-Type` response header (textual
    /// formats carry `charset=utf-8`).
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::Format;
    ///
    /// assert_eq!(Format::Json.content_type(), "application/json");
    /// assert_eq!(Format::Text.content_type(), "text/plain; charset=utf-8");
    /// ```
    #[must_use]
    pub const fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::ProblemJson => "application/problem+json",
            Format::Html => "text/html; charset=utf-8",
            Format::Text => "text/plain; charset=utf-8",
            Format::Grpc => "application/grpc",
        }
    }

    /// `(type, subtype)` as matched against media ranges.
    const fn parts(self) -> (&'static [u8], &'static [u8]) {
        match self {
            Format::Json => (b"application", b"json"),
            Format::ProblemJson => (b"application", b"problem+json"),
            Format::Html => (b"text", b"html"),
            Format::Text => (b"text", b"plain"),
            Format::Grpc => (b"application", b"grpc"),
        }
    }

    /// The format for a request: [`Format::Grpc`] for a gRPC call (its
    /// `content-type` is `application/grpc` or `application/grpc+<subtype>`,
    /// as gRPC's PROTOCOL-HTTP2.md defines it; `application/grpc-web` is
    /// another protocol and is not one), otherwise the one its `Accept`
    /// fields ask for (see [`Format::negotiate_fields`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::Format;
    /// use http::{HeaderMap, HeaderValue};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("accept", HeaderValue::from_static("text/html"));
    /// assert_eq!(Format::from_request(&headers), Format::Html);
    /// headers.insert("content-type", HeaderValue::from_static("application/grpc+proto"));
    /// assert_eq!(Format::from_request(&headers), Format::Grpc);
    /// ```
    #[must_use]
    pub fn from_request(headers: &http::HeaderMap) -> Format {
        Format::from_request_bytes(
            headers
                .get(http::header::CONTENT_TYPE)
                .map(HeaderValue::as_bytes),
            headers
                .get_all(http::header::ACCEPT)
                .iter()
                .map(HeaderValue::as_bytes),
        )
    }

    /// [`Format::from_request`] over raw bytes, for frameworks whose header
    /// types are not `http` 1's: the request's `content-type` value, if it
    /// has one, and its `Accept` field values in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::Format;
    ///
    /// let accept: [&[u8]; 1] = [b"text/plain"];
    /// assert_eq!(Format::from_request_bytes(Some(b"application/grpc"), accept), Format::Grpc);
    /// assert_eq!(Format::from_request_bytes(Some(b"application/grpc-web"), accept), Format::Text);
    /// assert_eq!(Format::from_request_bytes(None, accept), Format::Text);
    /// ```
    #[must_use]
    pub fn from_request_bytes<'a>(
        content_type: Option<&[u8]>,
        accept: impl IntoIterator<Item = &'a [u8]>,
    ) -> Format {
        if content_type.is_some_and(is_grpc) {
            Format::Grpc
        } else {
            Format::negotiate_fields(accept)
        }
    }

    /// Picks the format for a request's `Accept` header.
    ///
    /// Falls back to [`Format::Json`] when the header is absent, empty,
    /// unparseable, or accepts none of our formats.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::Format;
    /// use http::{HeaderMap, header::ACCEPT};
    ///
    /// let mut headers = HeaderMap::new();
    /// assert_eq!(Format::negotiate(headers.get(ACCEPT)), Format::Json);
    ///
    /// headers.insert(ACCEPT, "application/problem+json".parse().unwrap());
    /// assert_eq!(Format::negotiate(headers.get(ACCEPT)), Format::ProblemJson);
    /// ```
    #[must_use]
    pub fn negotiate(accept: Option<&HeaderValue>) -> Format {
        accept.map_or(Format::Json, |v| Format::negotiate_bytes(v.as_bytes()))
    }

    /// Like [`Format::negotiate`], over raw header bytes. Several `Accept`
    /// field lines may be passed joined with `,`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::Format;
    ///
    /// assert_eq!(Format::negotiate_bytes(b"text/plain, text/*;q=0.5"), Format::Text);
    /// assert_eq!(Format::negotiate_bytes(b"image/png"), Format::Json);
    /// assert_eq!(Format::negotiate_bytes(b"\xff\xfe"), Format::Json);
    /// ```
    #[must_use]
    pub fn negotiate_bytes(accept: &[u8]) -> Format {
        Format::try_negotiate_bytes(accept).unwrap_or_default()
    }

    /// Negotiates over every `Accept` field line of a request, in order
    /// (RFC 9110 section 5.3: several lines are one comma-separated list);
    /// none means JSON.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::Format;
    ///
    /// let fields: [&[u8]; 2] = [b"text/plain;q=0.5", b"text/html"];
    /// assert_eq!(Format::negotiate_fields(fields), Format::Html);
    /// assert_eq!(Format::negotiate_fields(std::iter::empty()), Format::Json);
    /// ```
    #[must_use]
    pub fn negotiate_fields<'a>(fields: impl IntoIterator<Item = &'a [u8]>) -> Format {
        let mut fields = fields.into_iter();
        match (fields.next(), fields.next()) {
            (None, _) => Format::Json,
            (Some(one), None) => Format::negotiate_bytes(one),
            (Some(first), Some(second)) => {
                let mut joined = first.to_vec();
                for field in std::iter::once(second).chain(fields) {
                    joined.push(b',');
                    joined.extend_from_slice(field);
                }
                Format::negotiate_bytes(&joined)
            }
        }
    }

    /// Picks the acceptable format with the highest quality, ties broken by
    /// [`Format::ALL`] order.
    ///
    /// Returns `None` when the header contains valid media ranges but none of
    /// them accepts any of our formats (the caller may then answer 406 or
    /// fall back). A header with no valid media range at all (empty,
    /// whitespace, garbage) is treated like an absent header and yields
    /// `Some(Format::Json)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::Format;
    ///
    /// assert_eq!(Format::try_negotiate_bytes(b"text/*"), Some(Format::Html));
    /// assert_eq!(Format::try_negotiate_bytes(b"image/png"), None);
    /// assert_eq!(Format::try_negotiate_bytes(b"*/*;q=0"), None);
    /// assert_eq!(Format::try_negotiate_bytes(b""), Some(Format::Json));
    /// ```
    #[must_use]
    pub fn try_negotiate_bytes(accept: &[u8]) -> Option<Format> {
        // The values API clients send most, answered without parsing; a
        // test checks each against the general path below.
        match accept {
            b"application/json" | b"*/*" => return Some(Format::Json),
            b"application/problem+json" => return Some(Format::ProblemJson),
            b"text/html" => return Some(Format::Html),
            b"text/plain" => return Some(Format::Text),
            _ => {}
        }
        Format::negotiate_ranges(accept)
    }

    /// The general path of [`Format::try_negotiate_bytes`].
    fn negotiate_ranges(accept: &[u8]) -> Option<Format> {
        // Per format: (specificity, q) of the most specific matching range.
        let mut best = [(0u8, 0u16); Format::ALL.len()];
        let mut any_valid = false;
        for range in Ranges::new(accept)
            .take(MAX_RANGES)
            .filter_map(MediaRange::parse)
        {
            any_valid = true;
            for (slot, format) in best.iter_mut().zip(Format::ALL) {
                let candidate = (range.specificity(format), range.q);
                // Equally specific ranges: the highest q wins (order-independent).
                if candidate.0 > 0 && candidate > *slot {
                    *slot = candidate;
                }
            }
        }
        if !any_valid {
            return Some(Format::default());
        }
        let mut chosen = None;
        let mut chosen_q = 0;
        for (format, (_, q)) in Format::ALL.into_iter().zip(best) {
            if q > chosen_q {
                chosen = Some(format);
                chosen_q = q;
            }
        }
        chosen
    }
}

/// One parsed `media-range [ weight ]`.
struct MediaRange<'a> {
    ty: &'a [u8],
    subtype: &'a [u8],
    /// Weight in thousandths, `0..=1000`.
    q: u16,
    /// Has media-type parameters (other than `q`).
    has_params: bool,
    /// Has a parameter we never produce, so it matches none of our formats.
    foreign_params: bool,
}

impl<'a> MediaRange<'a> {
    /// Parses one trimmed, non-empty list element; `None` if it is invalid.
    fn parse(s: &'a [u8]) -> Option<Self> {
        let (ty, rest) = token(s)?;
        let (subtype, mut rest) = token(rest.strip_prefix(b"/")?)?;
        if ty == b"*" && subtype != b"*" {
            return None;
        }
        let mut range = MediaRange {
            ty,
            subtype,
            q: 1000,
            has_params: false,
            foreign_params: false,
        };
        let mut weighted = false;
        loop {
            rest = trim_start_ows(rest);
            let Some(after) = rest.strip_prefix(b";") else {
                return rest.is_empty().then_some(range);
            };
            rest = trim_start_ows(after);
            if rest.is_empty() || rest.starts_with(b";") {
                continue; // empty parameter, allowed by the grammar
            }
            let (name, after) = token(rest)?;
            let (value, quoted, after) = param_value(after.strip_prefix(b"=")?)?;
            rest = after;
            if weighted {
                // RFC 7231 accept-ext after the weight: syntax-checked, ignored.
            } else if name.eq_ignore_ascii_case(b"q") {
                if quoted {
                    return None; // the grammar only allows a bare qvalue
                }
                range.q = parse_qvalue(value)?;
                weighted = true;
            } else {
                range.has_params = true;
                let utf8 = name.eq_ignore_ascii_case(b"charset")
                    && unescaped_eq_ignore_case(value, b"utf-8");
                range.foreign_params |= !utf8;
            }
        }
    }

    /// How specifically this range matches `format`; 0 when it does not.
    /// `*/*` < `*/*;p` < `type/*` < `type/*;p` < `type/sub` < `type/sub;p`.
    fn specificity(&self, format: Format) -> u8 {
        if self.foreign_params {
            return 0;
        }
        let (ty, subtype) = format.parts();
        let level = if self.ty == b"*" {
            1 // parse() guarantees the subtype is `*` too
        } else if !self.ty.eq_ignore_ascii_case(ty) {
            return 0;
        } else if self.subtype == b"*" {
            2
        } else if self.subtype.eq_ignore_ascii_case(subtype) {
            3
        } else {
            return 0;
        };
        level * 2 + u8::from(self.has_params)
    }
}

/// Iterator over the trimmed, non-empty elements of a comma-separated list,
/// skipping commas inside quoted strings.
struct Ranges<'a> {
    rest: Option<&'a [u8]>,
    /// The input was cut at [`MAX_LEN`]: its last element may be partial.
    truncated: bool,
}

impl<'a> Ranges<'a> {
    fn new(accept: &'a [u8]) -> Self {
        Ranges {
            rest: Some(accept.get(..MAX_LEN).unwrap_or(accept)),
            truncated: accept.len() > MAX_LEN,
        }
    }
}

impl<'a> Iterator for Ranges<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            let s = self.rest?;
            let element = if let Some(comma) = find_comma(s) {
                self.rest = s.get(comma + 1..);
                s.get(..comma)?
            } else {
                self.rest = None;
                if self.truncated {
                    return None; // possibly cut mid-range: don't guess
                }
                s
            };
            let element = trim_ows(element);
            if !element.is_empty() {
                return Some(element);
            }
        }
    }
}

/// Position of the first list-separating comma (not inside a quoted string).
fn find_comma(s: &[u8]) -> Option<usize> {
    let (mut quoted, mut escaped, mut prev) = (false, false, 0u8);
    s.iter().position(|&b| {
        let is_separator = if escaped {
            escaped = false;
            false
        } else if quoted {
            escaped = b == b'\\';
            quoted = b != b'"';
            false
        } else {
            // A quoted string can only start a parameter value.
            quoted = b == b'"' && prev == b'=';
            b == b','
        };
        prev = b;
        is_separator
    })
}

/// Splits a non-empty RFC 9110 `token` off the front of `s`.
fn token(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = s.iter().position(|&b| !is_tchar(b)).unwrap_or(s.len());
    if len == 0 {
        None
    } else {
        s.split_at_checked(len)
    }
}

/// Splits a parameter value (token or quoted-string) off the front of `s`.
/// Returns `(raw value, was quoted, rest)`; a quoted value is returned
/// without its quotes but still escaped.
fn param_value(s: &[u8]) -> Option<(&[u8], bool, &[u8])> {
    let Some(body) = s.strip_prefix(b"\"") else {
        let (value, rest) = token(s)?;
        return Some((value, false, rest));
    };
    let mut escaped = false;
    for (i, &b) in body.iter().enumerate() {
        if b != b'\t' && (b < 0x20 || b == 0x7f) {
            return None; // not qdtext / quoted-pair
        }
        if escaped {
            escaped = false;
        } else if b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            return Some((body.get(..i)?, true, body.get(i + 1..)?));
        }
    }
    None // unterminated
}

/// Parses an RFC 9110 `qvalue` into thousandths.
fn parse_qvalue(value: &[u8]) -> Option<u16> {
    let (int, frac): (u16, &[u8]) = match value {
        [b'0'] => (0, &[]),
        [b'1'] => (1000, &[]),
        [b'0', b'.', frac @ ..] => (0, frac),
        [b'1', b'.', frac @ ..] => (1000, frac),
        _ => return None,
    };
    if frac.len() > 3 {
        return None;
    }
    let mut q = int;
    let mut place = 100;
    for &digit in frac {
        if !digit.is_ascii_digit() {
            return None;
        }
        q += u16::from(digit - b'0') * place;
        place /= 10;
    }
    (q <= 1000).then_some(q)
}

/// Compares a (possibly backslash-escaped) value with `expected`, ASCII
/// case-insensitively.
fn unescaped_eq_ignore_case(raw: &[u8], expected: &[u8]) -> bool {
    let mut raw = raw.iter();
    let mut expected = expected.iter();
    loop {
        let byte = match raw.next() {
            Some(b'\\') => raw.next(),
            other => other,
        };
        match (byte, expected.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => {}
            _ => return false,
        }
    }
}

pub(crate) const fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

fn trim_start_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    s
}

fn trim_ows(s: &[u8]) -> &[u8] {
    let mut s = trim_start_ows(s);
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use Format::{Html, Json, ProblemJson, Text};

    #[test]
    fn grpc_callers_are_told_by_their_content_type() {
        for grpc in [
            &b"application/grpc"[..],
            b"application/grpc+proto",
            b"application/grpc+json",
            b"Application/GRPC+proto",
            b"application/grpc; charset=utf-8",
        ] {
            assert!(is_grpc(grpc), "{:?}", String::from_utf8_lossy(grpc));
            let html: [&[u8]; 1] = [b"text/html"];
            assert_eq!(Format::from_request_bytes(Some(grpc), html), Format::Grpc);
        }
        for other in [
            &b"application/grpc-web"[..],
            b"application/grpc-web-text+proto",
            b"application/grpcx",
            b"application/grp",
            b"application/json",
            b"",
            b"\xffapplication/grpc",
        ] {
            assert!(!is_grpc(other), "{:?}", String::from_utf8_lossy(other));
        }
        // `Accept` never chooses gRPC.
        assert_eq!(Format::negotiate_bytes(b"application/grpc"), Json);
        assert!(!Format::ALL.contains(&Format::Grpc));
    }

    #[test]
    fn fast_path_values_agree_with_the_general_path() {
        for (accept, format) in [
            ("application/json", Json),
            ("*/*", Json),
            ("application/problem+json", ProblemJson),
            ("text/html", Html),
            ("text/plain", Text),
        ] {
            assert_eq!(Format::try_negotiate_bytes(accept.as_bytes()), Some(format));
            assert_eq!(Format::negotiate_ranges(accept.as_bytes()), Some(format));
        }
    }

    fn try_neg(accept: &str) -> Option<Format> {
        Format::try_negotiate_bytes(accept.as_bytes())
    }

    fn neg(accept: &str) -> Format {
        Format::negotiate_bytes(accept.as_bytes())
    }

    #[test]
    fn metadata() {
        assert_eq!(Format::ALL, [Json, ProblemJson, Html, Text]);
        assert_eq!(Format::default(), Json);
        for f in Format::ALL {
            let (ty, sub) = f.parts();
            assert_eq!(f.media_type().as_bytes(), [ty, b"/", sub].concat());
            assert!(f.content_type().starts_with(f.media_type()));
            assert!(HeaderValue::from_str(f.content_type()).is_ok());
        }
    }

    #[test]
    fn header_value_entry_point() {
        assert_eq!(Format::negotiate(None), Json);
        let hv = HeaderValue::from_static("text/plain");
        assert_eq!(Format::negotiate(Some(&hv)), Text);
        let hv = HeaderValue::from_static("image/png");
        assert_eq!(Format::negotiate(Some(&hv)), Json);
        let hv = HeaderValue::from_bytes(b"text/html;x=\"\xe9\"").ok();
        assert_eq!(Format::negotiate(hv.as_ref()), Json);
    }

    #[test]
    fn typical_headers() {
        let cases: &[(&str, Option<Format>)] = &[
            ("*/*", Some(Json)),
            ("application/json", Some(Json)),
            ("application/problem+json", Some(ProblemJson)),
            (
                "application/problem+json, application/json;q=0.9",
                Some(ProblemJson),
            ),
            ("text/html", Some(Html)),
            ("text/plain", Some(Text)),
            (
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                Some(Html),
            ),
            (
                "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
                Some(Html),
            ),
            ("text/*", Some(Html)),
            ("application/*", Some(Json)),
            ("text/*;q=0.5, text/plain", Some(Text)),
            ("image/png", None),
            ("*/*;q=0", None),
            ("TEXT/HTML", Some(Html)),
            ("Application/Problem+JSON", Some(ProblemJson)),
            ("application/json;q=0.5, text/plain;q=0.6", Some(Text)),
            ("text/html;q=0.7, */*;q=0.8", Some(Json)),
            ("text/plain, application/json", Some(Json)),
            ("application/xml, text/plain;q=0.1", Some(Text)),
        ];
        for &(accept, expected) in cases {
            assert_eq!(try_neg(accept), expected, "{accept:?}");
            assert_eq!(neg(accept), expected.unwrap_or(Json), "{accept:?}");
        }
    }

    #[test]
    fn zero_quality_is_precise() {
        assert_eq!(try_neg("*/*, application/json;q=0"), Some(ProblemJson));
        assert_eq!(
            try_neg("application/*, application/json;q=0"),
            Some(ProblemJson)
        );
        assert_eq!(try_neg("*/*;q=0.1, application/*;q=0"), Some(Html));
        assert_eq!(try_neg("text/*;q=0, */*"), Some(Json));
        assert_eq!(try_neg("text/html;q=0, text/*"), Some(Text));
        assert_eq!(
            try_neg("*/*, application/*;q=0, text/html;q=0.000"),
            Some(Text)
        );
        assert_eq!(
            try_neg("application/json;q=0, application/problem+json;q=0, text/*;q=0"),
            None
        );
    }

    #[test]
    fn specificity_beats_order_and_quality() {
        // The most specific range decides, even if a broader one has a higher q.
        assert_eq!(
            try_neg("*/*;q=1, text/*;q=0.2, text/plain;q=0.1"),
            Some(Json)
        );
        assert_eq!(try_neg("application/*;q=0.1, */*;q=1"), Some(Html));
        assert_eq!(
            try_neg("text/plain;charset=utf-8;q=0.9, text/plain;q=0.1, text/html;q=0.5"),
            Some(Text)
        );
        assert_eq!(try_neg("text/plain;charset=utf-8;q=0, text/plain"), None);
        // Equally specific duplicates: highest q, independent of order.
        assert_eq!(
            try_neg("text/html;q=0.1, text/html;q=0.9, text/plain;q=0.5"),
            Some(Html)
        );
        assert_eq!(
            try_neg("text/html;q=0.9, text/html;q=0.1, text/plain;q=0.5"),
            Some(Html)
        );
    }

    #[test]
    fn ties_use_server_preference() {
        assert_eq!(try_neg("text/plain, text/html"), Some(Html));
        assert_eq!(
            try_neg("text/plain;q=0.5, application/problem+json;q=0.5"),
            Some(ProblemJson)
        );
        assert_eq!(try_neg("text/*, application/*"), Some(Json));
    }

    #[test]
    fn parameters() {
        assert_eq!(try_neg("text/html;level=1"), None);
        assert_eq!(try_neg("text/html;level=1, text/plain;q=0.1"), Some(Text));
        assert_eq!(try_neg("application/json;charset=utf-8"), Some(Json));
        assert_eq!(try_neg("application/json; Charset=\"UTF-8\""), Some(Json));
        assert_eq!(try_neg("application/json;charset=\"utf\\-8\""), Some(Json));
        assert_eq!(try_neg("text/plain;charset=iso-8859-1"), None);
        assert_eq!(try_neg("text/plain;charset=utf-8;format=flowed"), None);
        assert_eq!(
            try_neg("text/plain;format=flowed, text/*;q=0.3"),
            Some(Html)
        );
        assert_eq!(
            try_neg("text/plain ; charset=utf-8 ; Q=0.5, text/html;q=0.4"),
            Some(Text)
        );
        // Empty parameters are allowed.
        assert_eq!(try_neg("text/plain;;q=0.5;, text/html;q=0.4"), Some(Text));
        // Parameters after the weight are RFC 7231 accept-ext: ignored.
        assert_eq!(
            try_neg("text/plain;q=0.5;level=1, text/html;q=0.4"),
            Some(Text)
        );
        assert_eq!(
            try_neg("text/plain;q=0.5;q=0.1, text/html;q=0.4"),
            Some(Text)
        );
        // No whitespace around '=' per the grammar; a valueless parameter is invalid.
        assert_eq!(try_neg("text/plain;q =0.5, image/png"), None);
        assert_eq!(try_neg("text/plain;q, image/png"), None);
        assert_eq!(try_neg("text/plain;charset=, image/png"), None);
        assert_eq!(try_neg("text/plain x, image/png"), None);
    }

    #[test]
    fn quoted_strings() {
        assert_eq!(try_neg("text/html;foo=\"a,b\";q=0.5"), None);
        assert_eq!(
            try_neg("text/html;charset=\"a,b\", text/plain;q=0.5"),
            Some(Text)
        );
        assert_eq!(
            try_neg("text/html;foo=\"a\\\",b, text/html\", text/plain;q=0.5"),
            Some(Text)
        );
        assert_eq!(
            try_neg("text/html;foo=\"a\\\\\", text/plain;q=0.5"),
            Some(Text)
        );
        assert_eq!(try_neg("text/plain;q=\"0.5\", image/png"), None);
        // Unterminated quote swallows the rest: nothing valid.
        assert_eq!(try_neg("text/html;foo=\"a, text/plain"), Some(Json));
        // A quote outside a parameter value does not start a quoted string.
        assert_eq!(try_neg("te\"xt/html, text/plain"), Some(Text));
        assert_eq!(try_neg("text/html;a=\"\x01\", image/png"), None);
    }

    #[test]
    fn qvalues() {
        for q in ["0", "0.", "0.5", "0.123", "1", "1.", "1.0", "1.000"] {
            assert!(parse_qvalue(q.as_bytes()).is_some(), "{q}");
        }
        for q in [
            "", "1.0001", "1.001", "1.5", "2", "0.1234", "abc", "-0", ".5", "0,5", "00", "0.a",
            "+1", "1e0",
        ] {
            assert_eq!(parse_qvalue(q.as_bytes()), None, "{q}");
        }
        assert_eq!(parse_qvalue(b"0.5"), Some(500));
        assert_eq!(parse_qvalue(b"0.05"), Some(50));
        assert_eq!(parse_qvalue(b"0.999"), Some(999));
        assert_eq!(parse_qvalue(b"1.000"), Some(1000));
        assert_eq!(try_neg("text/plain;q=0.001"), Some(Text));
        assert_eq!(try_neg("text/html;q=0.001, text/plain;q=0.002"), Some(Text));
    }

    #[test]
    fn invalid_ranges_are_skipped() {
        // Only invalid ranges: treated like an absent header.
        for accept in [
            "",
            " ",
            ",,, ,\t,",
            ";;;",
            "/",
            "a/",
            "/b",
            "*/html",
            "*",
            "text",
            "text/plain/x",
            "text/plain;q=1.0001",
            "text/plain;q=abc",
            "text/plain;q=",
            "tëxt/plain",
            "text/plain;",
        ] {
            let expected = if accept == "text/plain;" {
                Some(Text)
            } else {
                Some(Json)
            };
            assert_eq!(try_neg(accept), expected, "{accept:?}");
        }
        // An invalid range does not spoil the others.
        assert_eq!(try_neg("text/plain;q=1.0001, text/html;q=0.1"), Some(Html));
        assert_eq!(try_neg("*/html, text/plain;q=abc, image/png"), None);
        assert_eq!(try_neg(",,text/plain,,"), Some(Text));
        assert_eq!(try_neg(" \t text/plain \t "), Some(Text));
    }

    #[test]
    fn joined_header_lines() {
        assert_eq!(
            try_neg("text/html;q=0.2, image/png,text/plain;q=0.3"),
            Some(Text)
        );
        assert_eq!(try_neg("application/json;q=0,*/*"), Some(ProblemJson));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        assert_eq!(Format::negotiate_bytes(b"\xff\xfe\x00/\x80"), Json);
        assert_eq!(Format::try_negotiate_bytes(b"text/plain;x=\"\xff\""), None);
        assert_eq!(Format::try_negotiate_bytes(b"\xff, text/plain"), Some(Text));
        // Pseudo-random garbage over an alphabet heavy in syntax characters.
        let alphabet = b"*/;=,\"\\ \tq01.atextplainhtml\xff\x00";
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut random_byte = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            usize::from(state.to_le_bytes()[3])
        };
        let mut buf = [0u8; 64];
        for _ in 0..20_000 {
            for b in &mut buf {
                let i = random_byte() % alphabet.len();
                *b = alphabet.get(i).copied().unwrap_or(b'x');
            }
            let len = random_byte() % (buf.len() + 1);
            let input = buf.get(..len).unwrap_or(&buf);
            let _ = Format::negotiate_bytes(input);
        }
    }

    #[test]
    fn long_headers_are_bounded() {
        // 1 MiB: the acceptable range lies beyond the first 8 KiB.
        let mut big = vec![b' '; 1 << 20];
        big.extend_from_slice(b",text/plain");
        assert_eq!(Format::try_negotiate_bytes(&big), Some(Json));

        let mut big = b"text/plain;q=0.5,".to_vec();
        big.resize(1 << 20, b',');
        assert_eq!(Format::try_negotiate_bytes(&big), Some(Text));

        let big = vec![b'"'; 1 << 20];
        assert_eq!(Format::negotiate_bytes(&big), Json);
        let big = [b"a=\"".as_slice(), &vec![b'\\'; 1 << 20]].concat();
        assert_eq!(Format::negotiate_bytes(&big), Json);

        // A range cut at the 8 KiB boundary is dropped rather than misread
        // (`application/jsonx` cut to `application/json`).
        let mut cut = b"image/png;q=0.1,".to_vec();
        let pad = MAX_LEN - cut.len() - b"application/json".len();
        cut.extend(std::iter::repeat_n(b' ', pad));
        cut.extend_from_slice(b"application/jsonx");
        assert_eq!(Format::try_negotiate_bytes(&cut), None);
        cut.truncate(MAX_LEN);
        assert_eq!(Format::try_negotiate_bytes(&cut), Some(Json));
    }

    #[test]
    fn at_most_64_ranges() {
        let mut accept = "image/png,".repeat(MAX_RANGES - 1);
        accept.push_str("text/plain,text/html");
        assert_eq!(try_neg(&accept), Some(Text));
        // Empty elements do not count.
        let accept = format!("{}{accept}", ",".repeat(100));
        assert_eq!(try_neg(&accept), Some(Text));
        let mut accept = "image/png,".repeat(MAX_RANGES);
        accept.push_str("text/plain");
        assert_eq!(try_neg(&accept), None);
    }
}
