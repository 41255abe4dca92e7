//! Fuzzing's regression tests and the property checks its targets run.
//!
//! The cargo-fuzz targets in `fuzz/` compile this file as a module and call
//! [`checks`] on every input, so a fuzz target and the tests here check
//! exactly the same things. Every input a target ever crashed on is kept
//! below as a `#[test]`, inline as a byte literal (see `fuzz/README.md`);
//! the `seeds_*` tests run a few realistic inputs per target.

/// The property checks, one per fuzz target, each over the target's raw
/// input bytes. They panic when a property does not hold.
pub mod checks {
    use std::time::{Duration, UNIX_EPOCH};

    use gateway_error_core::{
        BadGateway, Format, GatewayError, MAX_BODY_LEN, MAX_DETAILS_LEN, MAX_NAME_LEN,
        MAX_PROXY_STATUS_LEN, PROXY_STATUS, ParseErrorKind, Policy, ProxyError, RenderContext,
        RetryAfter, parse, render,
    };
    use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
    use http::{HeaderMap, HeaderValue, Method, StatusCode};
    use sfv::{BareItem, List, ListEntry, Parser, TokenRef, Version};
    use strum::VariantArray;

    /// Only this many leading bytes of an `Accept` value are negotiated.
    const ACCEPT_MAX_LEN: usize = 8 * 1024;
    /// Only this many non-empty media ranges are negotiated.
    const ACCEPT_MAX_RANGES: usize = 64;
    /// The longest field value `RetryAfter` formats: an IMF-fixdate.
    const RETRY_AFTER_MAX_LEN: usize = 29;
    /// 9999-12-31T23:59:59Z, the last second an HTTP date can express.
    const MAX_DATE_SECS: u64 = 253_402_300_799;
    /// The proxy name the `parse` check renders with.
    const GATEWAY: &str = "fuzz-gw";

    /// Target `negotiate`: the input is one `Accept` field value.
    ///
    /// The choice is stable, the same through every entry point, ignores
    /// case, empty list elements and the order of the media ranges, and a
    /// trailing `*/*;q=0` can only turn "nothing valid" into "nothing
    /// acceptable".
    pub fn negotiate(accept: &[u8]) {
        let chosen = Format::try_negotiate_bytes(accept);
        assert_eq!(Format::try_negotiate_bytes(accept), chosen, "not stable");
        let fallback = chosen.unwrap_or_default();
        assert_eq!(Format::negotiate_bytes(accept), fallback);
        if let Ok(value) = HeaderValue::from_bytes(accept) {
            assert_eq!(Format::negotiate(Some(&value)), fallback);
            let mut headers = HeaderMap::new();
            headers.insert(ACCEPT, value);
            assert_eq!(
                RenderContext::new().with_accept(&headers).format(),
                fallback
            );
        }

        let lower = accept.to_ascii_lowercase();
        assert_eq!(Format::try_negotiate_bytes(&lower), chosen, "lowercase");
        let upper = accept.to_ascii_uppercase();
        assert_eq!(Format::try_negotiate_bytes(&upper), chosen, "uppercase");

        if accept.len() < ACCEPT_MAX_LEN {
            let prefixed = [b",", accept].concat();
            assert_eq!(
                Format::try_negotiate_bytes(&prefixed),
                chosen,
                "leading empty element"
            );
        }
        let least = b",*/*;q=0";
        if accept.len() + least.len() <= ACCEPT_MAX_LEN {
            let appended = [accept, least].concat();
            let got = Format::try_negotiate_bytes(&appended);
            assert!(
                got == chosen || (chosen == Some(Format::Json) && got.is_none()),
                "appending */*;q=0 changed {chosen:?} into {got:?}"
            );
        }
        // Without quotes every comma separates two ranges.
        if !accept.contains(&b'"') && accept.len() <= ACCEPT_MAX_LEN {
            let elements: Vec<&[u8]> = accept.split(|&b| b == b',').collect();
            let ranges = elements
                .iter()
                .filter(|e| e.iter().any(|&b| b != b' ' && b != b'\t'))
                .count();
            if ranges <= ACCEPT_MAX_RANGES {
                let reversed = elements
                    .iter()
                    .rev()
                    .copied()
                    .collect::<Vec<_>>()
                    .join(&b","[..]);
                assert_eq!(Format::try_negotiate_bytes(&reversed), chosen, "order");
            }
            if ranges < ACCEPT_MAX_RANGES {
                negotiate_most_specific(accept, chosen);
            }
        }
    }

    /// Appends a range more specific than any other can be for its format
    /// (`type/subtype;charset=utf-8`), to an `accept` without quotes that
    /// has room for one more range.
    fn negotiate_most_specific(accept: &[u8], chosen: Option<Format>) {
        let with = |format: Format, q: &str| {
            let range = format!(",{};charset=utf-8{q}", format.media_type());
            let appended = [accept, range.as_bytes()].concat();
            (appended.len() <= ACCEPT_MAX_LEN).then(|| Format::try_negotiate_bytes(&appended))
        };
        for (rank, format) in Format::ALL.into_iter().enumerate() {
            // Accepting a format fully: it, or one we prefer, is chosen.
            if let Some(got) = with(format, "") {
                let got_rank = got.and_then(|g| Format::ALL.iter().position(|&f| f == g));
                assert!(
                    got_rank.is_some_and(|r| r <= rank),
                    "accepting {format:?} fully chose {got:?}"
                );
            }
        }
        // Refusing the chosen format with the most specific range (only
        // another such range, with a higher q, could outweigh it).
        let charset = accept
            .windows(7)
            .any(|w| w.eq_ignore_ascii_case(b"charset"));
        if let Some(format) = chosen.filter(|_| !charset) {
            if let Some(got) = with(format, ";q=0") {
                assert_ne!(got, Some(format), "refusing {format:?} still chose it");
            }
        }
    }

    /// Target `retry_after`: the input is one `Retry-After` field value,
    /// and its first 12 bytes are also a duration (seconds, nanoseconds).
    ///
    /// `FromStr` and `from_header_value` agree; whatever parses formats and
    /// parses back to the same value; built delays and dates do too.
    pub fn retry_after(input: &[u8]) {
        let from_str = std::str::from_utf8(input)
            .ok()
            .map(str::parse::<RetryAfter>);
        let from_header = HeaderValue::from_bytes(input)
            .ok()
            .map(|v| RetryAfter::from_header_value(&v));
        if let (Some(a), Some(b)) = (&from_str, &from_header) {
            assert_eq!(a, b, "FromStr and from_header_value disagree");
        }
        for parsed in [from_str, from_header].into_iter().flatten() {
            match parsed {
                Ok(retry) => {
                    round_trip(retry);
                    if retry.as_delay().is_some() {
                        let trimmed = input.trim_ascii();
                        assert!(trimmed.iter().all(u8::is_ascii_digit), "{trimmed:?}");
                    }
                }
                Err(err) => assert!(!err.to_string().is_empty()),
            }
        }

        let mut raw = [0u8; 12];
        let n = input.len().min(raw.len());
        raw[..n].copy_from_slice(&input[..n]);
        let [s0, s1, s2, s3, s4, s5, s6, s7, n0, n1, n2, n3] = raw;
        let secs = u64::from_le_bytes([s0, s1, s2, s3, s4, s5, s6, s7]);
        let nanos = u32::from_le_bytes([n0, n1, n2, n3]) % 1_000_000_000;
        let duration = Duration::new(secs, nanos);
        round_trip(RetryAfter::delay(duration));
        round_trip(RetryAfter::from_secs(
            u32::try_from(secs >> 32).unwrap_or(u32::MAX),
        ));
        if let Some(date) = UNIX_EPOCH.checked_add(duration) {
            round_trip(RetryAfter::at(date));
        }
        if let Some(date) = UNIX_EPOCH.checked_sub(duration) {
            round_trip(RetryAfter::at(date));
        }
    }

    fn round_trip(retry: RetryAfter) {
        let text = retry.to_string();
        assert!(text.len() <= RETRY_AFTER_MAX_LEN, "{text}");
        assert_eq!(text.parse::<RetryAfter>(), Ok(retry), "format then parse");
        let value = retry.to_header_value();
        assert_eq!(value.as_bytes(), text.as_bytes());
        assert_eq!(RetryAfter::from_header_value(&value), Ok(retry));
        if let Some(date) = retry.as_date() {
            let since = date.duration_since(UNIX_EPOCH).expect("not before 1970");
            assert_eq!(since.subsec_nanos(), 0, "whole seconds");
            assert!(since.as_secs() <= MAX_DATE_SECS);
        }
        // The renderer formats the hint into a fixed buffer of its own.
        let err = GatewayError::from(BadGateway::new().with_retry_after(retry));
        let ctx = RenderContext::new().with_format(Format::Text);
        let response = render(&err, &ctx);
        assert_eq!(response.headers()[RETRY_AFTER], value);
        let body = std::str::from_utf8(response.body()).expect("utf-8");
        let sentence = match retry.as_delay().map(|delay| delay.as_secs()) {
            Some(1) => "The service expects to accept requests again in 1 second.".to_owned(),
            Some(secs) => {
                format!("The service expects to accept requests again in {secs} seconds.")
            }
            None => format!("The service expects to accept requests again after {text}."),
        };
        assert!(body.contains(&sentence), "{body}");
    }

    /// Target `parse`: the input is a response.
    ///
    /// Byte 0 picks the status (`& 7` indexes 500, 502, 503, 504, 200, 404,
    /// 501, 599); then `Content-Type`, `Retry-After` and `Proxy-Status`
    /// values, one per line (`\n`; an empty or invalid line sends no
    /// field); the rest is the body.
    ///
    /// `parse` never panics, its errors are the documented ones, what it
    /// keeps is sanitized and bounded, and an `Ok` renders in every format
    /// without panicking into a response that parses back to the same error.
    pub fn parse_response(input: &[u8]) {
        let Some((&flags, rest)) = input.split_first() else {
            return;
        };
        let status = [500, 502, 503, 504, 200, 404, 501, 599][usize::from(flags & 7)];
        let status = StatusCode::from_u16(status).expect("valid status");
        let mut headers = HeaderMap::new();
        let mut rest = rest;
        for name in [CONTENT_TYPE, RETRY_AFTER, PROXY_STATUS.clone()] {
            let (line, after) = split_line(rest);
            rest = after;
            match HeaderValue::from_bytes(line) {
                Ok(value) if !line.is_empty() => {
                    headers.insert(name, value);
                }
                _ => {}
            }
        }
        let body = rest;

        let err = match parse(status, &headers, body) {
            Ok(err) => err,
            Err(err) => {
                assert!(!err.to_string().is_empty());
                match err.kind() {
                    ParseErrorKind::Status => {
                        assert!(!matches!(status.as_u16(), 500 | 502 | 503 | 504));
                    }
                    ParseErrorKind::BodyTooLarge => assert!(body.len() > MAX_BODY_LEN),
                    _ => {}
                }
                return;
            }
        };
        assert_eq!(err.status(), status);
        if let Some(details) = err.details() {
            assert!(details.len() <= MAX_DETAILS_LEN);
            assert!(!details.contains(char::is_control), "{details:?}");
        }
        if let Some(upstream) = err.upstream_name() {
            assert!(upstream.len() <= MAX_NAME_LEN);
            assert!(!upstream.contains(char::is_control), "{upstream:?}");
        }
        if let Some(id) = err.request_id() {
            assert!(id.len() <= gateway_error::RequestId::MAX_LEN && !id.is_empty());
            assert!(id.bytes().all(|b| b.is_ascii_graphic()), "{id:?}");
        }
        if let Some(Ok(retry)) = headers.get(RETRY_AFTER).map(RetryAfter::from_header_value) {
            assert_eq!(err.retry_after(), Some(retry), "the header wins");
        }
        let received = headers.get(&PROXY_STATUS);
        assert_eq!(
            err.upstream_proxy_status(),
            received.filter(|v| v.len() <= MAX_PROXY_STATUS_LEN)
        );
        render_round_trip(&err);
    }

    /// Renders `err`, an error `parse` read, in every format, for GET and
    /// HEAD, and parses the JSON ones back: it is rendered as a relay of
    /// the response it came from (this hop received its status), adopting
    /// none of its claims (kind, details, upstream name, request id), and
    /// keeping its wait.
    fn render_round_trip(err: &GatewayError) {
        let policy = Policy::new()
            .with_proxy_name(GATEWAY)
            .with_upstream_names(true);
        let relayed = if err.status() == StatusCode::SERVICE_UNAVAILABLE {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::BAD_GATEWAY
        };
        for format in Format::ALL {
            for method in [Method::GET, Method::HEAD] {
                let ctx = RenderContext::new()
                    .with_format(format)
                    .with_method(&method)
                    .with_policy(&policy);
                let response = render(err, &ctx);
                assert_eq!(response.status(), relayed);
                let headers = response.headers();
                assert_eq!(headers[CONTENT_TYPE], format.content_type());
                let len: usize = headers[CONTENT_LENGTH]
                    .to_str()
                    .ok()
                    .and_then(|len| len.parse().ok())
                    .expect("Content-Length is a number");
                let body = response.body();
                if method == Method::HEAD {
                    assert!(body.is_empty());
                    continue;
                }
                assert_eq!(len, body.len());
                std::str::from_utf8(body).expect("utf-8 body");
                let members = proxy_status_members(headers);
                let Some(ListEntry::Item(ours)) = members.last() else {
                    panic!("no member of ours: {members:?}");
                };
                assert_eq!(
                    ours.bare_item.as_token().map(TokenRef::as_str),
                    Some(GATEWAY)
                );
                assert_eq!(
                    ours.params
                        .get("received-status")
                        .and_then(BareItem::as_integer),
                    Some(sfv::integer(i64::from(err.status().as_u16())))
                );
                assert_eq!(ours.params.get("error"), None);
                if matches!(format, Format::Json | Format::ProblemJson) {
                    serde_json::from_slice::<serde_json::Value>(body).expect("json body");
                    let again = parse(response.status(), headers, body).expect("parses back");
                    assert_eq!(again.status(), relayed);
                    assert_eq!(again.received_status(), Some(err.status()), "{format:?}");
                    assert_eq!(again.kind(), None, "{format:?}");
                    assert_eq!(again.upstream_name(), None, "{format:?}");
                    assert_eq!(again.request_id(), None, "{format:?}");
                    assert_eq!(again.retry_after(), err.retry_after(), "{format:?}");
                }
            }
        }
    }

    /// Target `proxy_status`: appending our member to an upstream's
    /// `Proxy-Status`.
    ///
    /// Byte 0: bit 0 shows upstream names, bit 1 sets a received status of
    /// 502, bits 2..8 pick the kind (0: none). Then the proxy name and the
    /// upstream name, one per line (`\n`, lossy UTF-8); the rest is the
    /// upstream's `Proxy-Status` value (inputs that are not a valid header
    /// value are skipped).
    ///
    /// The field sent is a valid RFC 8941 (and RFC 9651) List: the
    /// upstream's members as the policy forwards them (all Token and String
    /// members unchanged when names are shown; with names hidden, Token
    /// members with only registry `error`s and Integer parameters), then ours with the
    /// right parameters, all within a bounded size; a second gateway appends
    /// to it in turn.
    pub fn proxy_status(input: &[u8]) {
        let Some((&flags, rest)) = input.split_first() else {
            return;
        };
        let (name, rest) = split_line(rest);
        let (upstream, value) = split_line(rest);
        let Ok(received) = HeaderValue::from_bytes(value) else {
            return;
        };
        let kind = match usize::from(flags >> 2) {
            0 => None,
            i => Some(ProxyError::VARIANTS[(i - 1) % ProxyError::VARIANTS.len()]),
        };
        let mut error = BadGateway::new().with_upstream_proxy_status(received.clone());
        if flags & 2 != 0 {
            error = error.with_received_status(StatusCode::BAD_GATEWAY);
        }
        if !upstream.is_empty() {
            error = error.with_upstream(String::from_utf8_lossy(upstream).into_owned());
        }
        if let Some(kind) = kind {
            error = error.with_kind(kind);
        }
        let err = GatewayError::from(error);
        let policy = Policy::new()
            .with_proxy_name(String::from_utf8_lossy(name).into_owned())
            .with_upstream_names(flags & 1 != 0);
        let response = render(&err, &RenderContext::new().with_policy(&policy));
        let Some(proxy_name) = policy.proxy_name() else {
            assert!(response.headers().get(&PROXY_STATUS).is_none());
            return;
        };
        let sent = response
            .headers()
            .get(&PROXY_STATUS)
            .expect("a named proxy sends Proxy-Status");
        assert!(sent.len() <= MAX_PROXY_STATUS_LEN, "{} bytes", sent.len());
        let members = proxy_status_members(response.headers());
        Parser::new(sent.as_bytes())
            .with_version(Version::Rfc9651)
            .parse::<List>()
            .expect("an RFC 9651 List too");

        // The upstream's members, unchanged.
        let (ours, theirs) = members.split_last().expect("our member");
        let kept: List = if received.len() <= MAX_PROXY_STATUS_LEN {
            Parser::new(received.as_bytes())
                .with_version(Version::Rfc8941)
                .parse::<List>()
                .unwrap_or_default()
        } else {
            List::new()
        };
        let kept = forwarded(kept, policy.shows_upstream_names());
        // The newest that fit beside ours: a suffix, one more would not fit.
        assert!(
            kept.ends_with(theirs),
            "upstream members {theirs:?} of {kept:?}"
        );
        if let Some(dropped) = kept.len().checked_sub(theirs.len() + 1).map(|i| &kept[i]) {
            let mut one = sfv::ListSerializer::new();
            one.members([dropped]);
            let one = one.finish().expect("a member");
            assert!(
                sent.len() + one.len() + 2 > MAX_PROXY_STATUS_LEN,
                "{one} fits"
            );
        }

        // Ours, last.
        let ListEntry::Item(ours) = ours else {
            panic!("our member is an inner list: {ours:?}");
        };
        match TokenRef::from_str(proxy_name) {
            Ok(token) => assert_eq!(ours.bare_item.as_token(), Some(token)),
            Err(_) => assert_eq!(
                ours.bare_item.as_string().map(|s| s.as_str()),
                Some(proxy_name)
            ),
        }
        let param = |key: &str| ours.params.get(key);
        assert_eq!(
            param("error")
                .and_then(BareItem::as_token)
                .map(TokenRef::as_str),
            kind.map(ProxyError::as_str)
        );
        let next_hop = err
            .upstream_name()
            .filter(|_| policy.shows_upstream_names())
            .map(printable_ascii);
        assert_eq!(
            param("next-hop")
                .and_then(BareItem::as_string)
                .map(|s| s.as_str().to_owned()),
            next_hop
        );
        assert_eq!(
            param("received-status").and_then(BareItem::as_integer),
            (flags & 2 != 0).then(|| sfv::integer(502))
        );
        for (key, _) in &ours.params {
            assert!(
                ["error", "next-hop", "received-status"].contains(&key.as_str()),
                "unexpected parameter {key}"
            );
        }

        // A client reads it back, and finds our member.
        let again = parse(response.status(), response.headers(), response.body())
            .expect("our own response parses");
        assert_eq!(again.upstream_proxy_status(), Some(sent));
        assert_eq!(again.kind(), err.kind());
        // The next gateway relays it: it appends a member saying what it
        // received, never the kind ours said.
        let outer = Policy::new().with_proxy_name("outer");
        for shows_names in [true, false] {
            let outer = outer.clone().with_upstream_names(shows_names);
            let next = render(&again, &RenderContext::new().with_policy(&outer));
            let chained = proxy_status_members(next.headers());
            let (last, before) = chained.split_last().expect("a member");
            let kept = forwarded(members.clone(), shows_names);
            assert!(kept.ends_with(before), "{before:?} of {kept:?}");
            let ListEntry::Item(last) = last else {
                panic!("an inner list: {last:?}");
            };
            assert_eq!(
                last.bare_item.as_token().map(TokenRef::as_str),
                Some("outer")
            );
            assert_eq!(last.params.get("error"), None);
            assert_eq!(
                last.params
                    .get("received-status")
                    .and_then(BareItem::as_integer),
                Some(sfv::integer(i64::from(response.status().as_u16())))
            );
        }
    }

    /// The upstream members a gateway forwards (`Policy::with_upstream_names`):
    /// Token and String items; with names hidden, each renamed `upstream`,
    /// and of their parameters only `error` with a registry token and RFC
    /// 9209's Integer parameters.
    fn forwarded(list: List, shows_names: bool) -> List {
        const INTEGER_PARAMS: [&str; 9] = [
            "received-status",
            "info-code",
            "alert-id",
            "status-code",
            "header-section-size",
            "header-size",
            "body-size",
            "trailer-section-size",
            "trailer-size",
        ];
        list.into_iter()
            .filter_map(|entry| {
                let ListEntry::Item(mut item) = entry else {
                    return None;
                };
                match item.bare_item {
                    BareItem::Token(_) | BareItem::String(_) => {}
                    _ => return None,
                }
                if !shows_names {
                    item.bare_item =
                        BareItem::Token(sfv::Token::from_string("upstream".into()).ok()?);
                    item.params.retain(|key, value| match value {
                        BareItem::Token(token) => {
                            key.as_str() == "error" && token.as_str().parse::<ProxyError>().is_ok()
                        }
                        BareItem::Integer(_) => INTEGER_PARAMS.contains(&key.as_str()),
                        _ => false,
                    });
                }
                Some(ListEntry::Item(item))
            })
            .collect()
    }

    /// The `Proxy-Status` field of a response, parsed as an RFC 8941 List.
    fn proxy_status_members(headers: &HeaderMap) -> List {
        let value = headers.get(&PROXY_STATUS).expect("Proxy-Status");
        assert!(value.to_str().is_ok(), "visible ASCII: {value:?}");
        Parser::new(value.as_bytes())
            .with_version(Version::Rfc8941)
            .parse::<List>()
            .unwrap_or_else(|e| panic!("{value:?} is not a List: {e}"))
    }

    /// The text before the first `\n` (or all of it), and the rest.
    fn split_line(input: &[u8]) -> (&[u8], &[u8]) {
        match input.iter().position(|&b| b == b'\n') {
            Some(i) => (&input[..i], &input[i + 1..]),
            None => (input, &[]),
        }
    }

    /// What an RFC 8941 String can carry: non-ASCII becomes `?`.
    fn printable_ascii(s: &str) -> String {
        s.chars()
            .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
            .collect()
    }
}

#[cfg(test)]
mod seeds {
    //! A few realistic inputs per target, through the same checks.

    use super::checks;
    use gateway_error_core::{
        BadGateway, Format, GatewayError, GatewayTimeout, InternalServerError, Policy, ProxyError,
        RenderContext, ServiceUnavailable, render,
    };
    use std::time::Duration;

    #[test]
    fn seeds_negotiate() {
        for accept in [
            &b"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"[..],
            b"*/*",
            b"application/json, text/plain, */*",
            b"application/problem+json",
            b"text/plain;charset=utf-8;q=0.5, text/html;level=1;q=0.4",
            b"text/*;q=0.3, text/plain;q=0.7, text/plain;format=flowed, */*;q=0.5",
            b"text/plain; charset=\"UTF-8\"; q=0.9",
            b"application/json;q=0, */*;q=0.001",
            b"image/png",
            b"",
            b"\xff\xfe",
            b"a/b;x=\"unterminated, text/html",
        ] {
            checks::negotiate(accept);
        }
        let long = b"text/plain,".repeat(1000);
        checks::negotiate(&long);
    }

    #[test]
    fn seeds_retry_after() {
        for value in [
            &b"120"[..],
            b"0",
            b"4294967295",
            b"4294967296",
            b" \t007\t ",
            b"Sun, 06 Nov 1994 08:49:37 GMT",
            b"Sunday, 06-Nov-94 08:49:37 GMT",
            b"Sun Nov  6 08:49:37 1994",
            b"Fri, 31 Dec 9999 23:59:59 GMT",
            b"Thu, 01 Jan 1970 00:00:00 GMT",
            b"-5",
            b"1.5",
            b"12\xff",
            b"",
        ] {
            checks::retry_after(value);
        }
    }

    #[test]
    fn seeds_parse() {
        let policy = Policy::new()
            .with_proxy_name("bff")
            .with_upstream_names(true)
            .with_problem_type_base("https://errors.example.com/");
        let errors: [GatewayError; 4] = [
            BadGateway::upstream("product-service")
                .with_kind(ProxyError::ConnectionRefused)
                .with_details("The product catalog is unreachable.")
                .with_retry_after(Duration::from_secs(30))
                .with_request_id("req-42")
                .into(),
            GatewayTimeout::upstream("pricing")
                .with_kind(ProxyError::HttpResponseTimeout)
                .into(),
            ServiceUnavailable::new()
                .with_retry_after(Duration::from_secs(120))
                .into(),
            InternalServerError::new().into(),
        ];
        let flag = |status: u16| [500, 502, 503, 504].iter().position(|&s| s == status);
        for err in &errors {
            for format in Format::ALL {
                let ctx = RenderContext::new()
                    .with_format(format)
                    .with_policy(&policy);
                let response = render(err, &ctx);
                let header = |name: &str| {
                    response
                        .headers()
                        .get(name)
                        .map_or(&[][..], |v| v.as_bytes())
                };
                let status = flag(response.status().as_u16()).expect("a gateway status");
                let input = [
                    &[u8::try_from(status).expect("small")][..],
                    header("content-type"),
                    b"\n",
                    header("retry-after"),
                    b"\n",
                    header("proxy-status"),
                    b"\n",
                    response.body(),
                ]
                .concat();
                checks::parse_response(&input);
            }
        }
        for input in [
            &b"\x01application/json\n\n\n{\"error\":{\"code\":502}}"[..],
            b"\x01\n30\ninner; error=dns_timeout, edge; error=connection_refused\n",
            b"\x02application/problem+json\nSun, 06 Nov 1994 08:49:37 GMT\n\n{\"title\":\"Service Unavailable\",\"status\":503,\"detail\":\"Down\",\"kind\":\"destination_unavailable\",\"retry_after\":\"120\"}",
            b"\x01text/html\n\n\n<!DOCTYPE html><p>{}</p>",
            b"\x04application/json\n\n\n{}",
            b"\x01\n\n\n {\"detail\":\"\\u0000\\u2028\",\"request_id\":\"\\u00e9\"}",
            b"\x01application/json\n\n\n[[[[[[[[",
        ] {
            checks::parse_response(input);
        }
    }

    #[test]
    fn seeds_proxy_status() {
        for input in [
            &b"\x00bff\n\n"[..],
            b"\x1dbff\nproduct-service\nproxy.example.net; error=dns_timeout",
            b"\x07edge gateway\n10.0.0.7:8080\nExampleCDN, \"inner\"; error=connection_refused; details=\"tls\", (a b), 42",
            b"\x01gw\n\nSomeProxy; error=http_protocol_error; details=\"Malformed response header: space before colon\"",
            b"\x1c\xff\xfe\nhop\nnot a list ((",
            b"\x00\n\nExampleCDN",
            b"\x04edge\n\ninner-lb;error=connection_refused;next-hop=\"10.9.8.7:5432\";details=\"FATAL: password authentication failed for user app\"",
            b"\x05edge\n\ninner-lb;error=connection_refused;next-hop=\"10.9.8.7:5432\";details=\"FATAL: password authentication failed for user app\"",
        ] {
            checks::proxy_status(input);
        }
        let long = [&b"\x01gw\nup\n"[..], &b"a, ".repeat(2000)].concat();
        checks::proxy_status(&long);
    }
}

#[cfg(test)]
mod findings {
    //! Every input a fuzz target crashed on, minimized (`cargo fuzz tmin`),
    //! one `#[test]` each, calling the target's check on the input inline.
    //!
    //! None yet: the first runs (2026-11-23, about 9.6 million executions
    //! over the four targets, with and without AddressSanitizer) found no
    //! crash and no failed property.
}
