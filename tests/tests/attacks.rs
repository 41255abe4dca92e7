//! The attack corpus: classic XSS payloads in every text field that reaches
//! HTML, CR/LF/NUL injection in every field that reaches a header, 1 MiB
//! inputs, and hostile upstream bodies for the client-side parser.
//!
//! Every assertion is exact: the expected page is the fixed template with
//! the escaped text, computed here; sizes are the caps' exact consequences.

use bytes::Bytes;
use gateway_error::{
    BadGateway, Format, GatewayError, GatewayTimeout, MAX_BODY_LEN, MAX_DETAILS_LEN, MAX_NAME_LEN,
    MAX_PROXY_STATUS_LEN, ParseErrorKind, Policy, ProxyError, RenderContext, parse, render,
};
use gateway_error_tests::validators::{
    VNU_INSTALL, check_problem_json, html5_parse_errors, parse_proxy_status, validator_missing,
    vnu_available, vnu_check_many,
};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use serde_json::Value;

/// Classic XSS payloads (OWASP filter-evasion cheat sheet and friends).
const XSS: &[&str] = &[
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "'><svg/onload=alert(1)>",
    "<svg/onload=alert(1)>",
    "javascript:alert(document.cookie)",
    "<a href=\"javascript:alert(1)\">click</a>",
    "<iframe src=javascript:alert(1)></iframe>",
    "</title><script>alert(1)</script>",
    "</p></body></html><script>alert(1)</script>",
    "</code><script>alert(1)</script>",
    "<!--",
    "--><script>alert(1)</script><!--",
    "]]><script>alert(1)</script>",
    "<![CDATA[<script>alert(1)</script>]]>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "&#x3C;script&#x3E;alert(1)&#x3C;/script&#x3E;",
    "<ScRiPt>alert(1)</sCrIpT>",
    "<scr\0ipt>alert(1)</scr\0ipt>",
    "<scr\nipt>alert(1)</scr\nipt>",
    "<style>*{background:url(javascript:alert(1))}</style>",
    "<textarea><script>alert(1)</script>",
    "<plaintext><script>alert(1)",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "\u{FEFF}<script>alert(1)</script>",
    "\u{FFFE}<script>\u{7f}alert(1)\u{85}</script>",
];

const STATUS_LINE: &str = "502 Bad Gateway";

/// HTML text escaping as the page must do it: `&`, `<`, `>`, `"` and `'`.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The documented sanitizing of details and names: control characters
/// and noncharacters become spaces, cut to `max` bytes on a character
/// boundary.
fn sanitized(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if out.len() + c.len_utf8() > max {
            break;
        }
        let u = u32::from(c);
        let bad = c.is_control() || (0xfdd0..=0xfdef).contains(&u) || u & 0xfffe == 0xfffe;
        out.push(if bad { ' ' } else { c });
    }
    out
}

/// A request id set on an error: non-visible-ASCII characters become `_`.
fn sanitized_id(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .take(gateway_error::RequestId::MAX_LEN)
        .collect()
}

/// The page's style: static (every page of this corpus has this one), and
/// pinned by the core's tests against its `Content-Security-Policy` hash.
fn style() -> String {
    let err: GatewayError = BadGateway::new().into();
    let page = render(&err, &RenderContext::new().with_format(Format::Html));
    let page = std::str::from_utf8(page.body()).expect("UTF-8");
    let start = page.find("<style>").expect("a style") + "<style>".len();
    let end = page.find("</style>").expect("its end");
    page[start..end].to_owned()
}

/// The fixed template, filled in: what the page must be, byte for byte
/// (a 502 of no kind, the method unknown, no retry hint).
fn page(upstream: Option<&str>, details: &str, request_id: Option<&str>) -> String {
    let mut page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n<style>{}</style>\n\
         <title>{STATUS_LINE}</title>\n</head>\n<body>\n<main>\n<h1>{STATUS_LINE}</h1>\n\
         <ol aria-label=\"Where it failed\">\n\
         <li class=\"ok\"><span class=\"n\">You</span><span class=\"s\">Working</span></li>\n\
         <li class=\"ok\"><span class=\"n\">This site</span><span class=\"s\">Working</span></li>\n\
         <li class=\"bad\"><span class=\"n\">{}</span><span class=\"s\">Bad answer</span></li>\n\
         </ol>\n<h2>What happened</h2>\n\
         <p>The service behind this site sent an answer this site could not use.</p>\n\
         <p>{}</p>\n<h2>What you can do</h2>\n<p>Try again now. If you were sending a form, \
         check first whether it went through, so that it is not sent twice.</p>\n\
         <h2>What the site&#39;s owner can do</h2>\n",
        style(),
        upstream.map_or_else(|| "A service behind it".to_owned(), escape),
        escape(details)
    );
    match request_id {
        Some(id) => page.push_str(&format!(
            "<p>Give them this request ID: it lets them find what went wrong.</p>\n\
             <p class=\"id\"><code>{}</code></p>\n",
            escape(id)
        )),
        None => {
            page.push_str("<p>Tell them the time this happened and the address of this page.</p>\n")
        }
    }
    page.push_str("</main>\n</body>\n</html>\n");
    page
}

fn body(response: &Response<Bytes>) -> &str {
    std::str::from_utf8(response.body()).expect("bodies are UTF-8")
}

fn header<'a>(response: &'a Response<Bytes>, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("visible ASCII"))
}

fn header_names(response: &Response<Bytes>) -> Vec<&str> {
    response.headers().keys().map(|k| k.as_str()).collect()
}

/// Every header value is visible ASCII (no CR, LF or NUL can be there).
fn assert_headers_clean(response: &Response<Bytes>) {
    for (name, value) in response.headers() {
        assert!(value.to_str().is_ok(), "{name}: {value:?}");
        assert!(
            !value
                .as_bytes()
                .iter()
                .any(|b| matches!(b, b'\r' | b'\n' | 0)),
            "{name}: {value:?}"
        );
    }
}

/// No markup beyond the template's: as many `<` and `"` as the template
/// with empty text, no active content.
fn assert_no_markup(page: &str, request_id: bool) {
    let bare = self::page(None, "", request_id.then_some(""));
    let count = |s: &str, c: char| s.matches(c).count();
    assert_eq!(count(page, '<'), count(&bare, '<'), "{page}");
    assert_eq!(count(page, '>'), count(&bare, '>'), "{page}");
    assert_eq!(count(page, '"'), count(&bare, '"'), "{page}");
    assert_eq!(count(page, '\''), 0, "{page}");
    // The one `<style>` is the page's own, in its head.
    let (head, rest) = page.split_once("</style>\n").expect("a style");
    assert_eq!(head.matches("<style>").count(), 1, "{page}");
    let lower = rest.to_ascii_lowercase();
    for needle in [
        "<script", "<img", "<svg", "<iframe", "<a ", "<style", "<!--", "<![cdata",
    ] {
        assert!(!lower.contains(needle), "{needle} in {page}");
    }
    let errors = html5_parse_errors(page);
    assert!(errors.is_empty(), "{errors:?}\n{page}");
}

fn shown_policy() -> Policy {
    Policy::new()
        .with_proxy_name("edge")
        .with_upstream_names(true)
}

// ---------------------------------------------------------------------------
// XSS
// ---------------------------------------------------------------------------

#[test]
fn xss_payloads_are_only_text_in_every_html_field() {
    let policy = shown_policy();
    let mut pages: Vec<(String, String)> = Vec::new();
    for payload in XSS {
        let details = sanitized(payload, MAX_DETAILS_LEN);

        // In the details, with the payload as the upstream name too (the
        // policy shows names: the hops name the upstream).
        let err: GatewayError = BadGateway::upstream(*payload)
            .with_details(*payload)
            .with_next_hop(*payload)
            .into();
        let ctx = RenderContext::new()
            .with_format(Format::Html)
            .with_policy(&policy);
        let response = render(&err, &ctx);
        let name = sanitized(payload, MAX_NAME_LEN);
        assert_eq!(
            body(&response),
            page(Some(&name), &details, None),
            "{payload:?}"
        );
        assert_no_markup(body(&response), false);
        assert_headers_clean(&response);
        pages.push((format!("details {payload:?}"), body(&response).to_owned()));

        // As the request id, set on the error.
        let id = sanitized_id(payload);
        let err: GatewayError = BadGateway::new()
            .with_details("Safe.")
            .with_request_id(*payload)
            .into();
        let response = render(&err, &ctx);
        assert_eq!(
            body(&response),
            page(None, "Safe.", Some(&id)),
            "{payload:?}"
        );
        assert_no_markup(body(&response), true);
        pages.push((format!("error id {payload:?}"), body(&response).to_owned()));

        // As the request id, from the context: kept only when it is a
        // valid id (visible ASCII), otherwise the page has no id.
        let err: GatewayError = BadGateway::new().with_details("Safe.").into();
        let response = render(&err, &ctx.with_request_id(payload));
        let valid = payload.bytes().all(|b| b.is_ascii_graphic());
        let expected = page(None, "Safe.", valid.then_some(*payload));
        assert_eq!(body(&response), expected, "{payload:?}");
        assert_no_markup(body(&response), valid);
        pages.push((
            format!("context id {payload:?}"),
            body(&response).to_owned(),
        ));

        // The other formats carry the same sanitized text, as data.
        let err: GatewayError = BadGateway::upstream(*payload)
            .with_details(*payload)
            .with_request_id(*payload)
            .into();
        for format in [Format::Json, Format::ProblemJson] {
            let response = render(&err, &ctx.with_format(format));
            let value: Value = serde_json::from_slice(response.body()).expect("JSON");
            let members = if format == Format::Json {
                &value["error"]
            } else {
                check_problem_json(response.body()).expect("RFC 9457");
                &value
            };
            let details_key = if format == Format::Json {
                "details"
            } else {
                "detail"
            };
            assert_eq!(members[details_key], details.as_str());
            assert_eq!(members["upstream"], sanitized(payload, MAX_NAME_LEN));
            assert_eq!(members["request_id"], id.as_str());
        }
        let text = render(&err, &ctx.with_format(Format::Text));
        assert_eq!(
            body(&text),
            format!("{STATUS_LINE}\n{details}\nRequest ID: {id}\n"),
            "{payload:?}"
        );
    }

    // The Nu Html Checker accepts every page (once, one JVM).
    if vnu_available() {
        let pages: Vec<(&str, &str)> = pages
            .iter()
            .map(|(name, page)| (name.as_str(), page.as_str()))
            .collect();
        vnu_check_many(&pages).expect("the Nu Html Checker accepts every page");
    } else {
        validator_missing("the Nu Html Checker (vnu)", VNU_INSTALL);
    }
}

#[test]
fn escaped_payloads_are_exact() {
    // Spelled out once, so the corpus's expectations are not only computed.
    let err: GatewayError = BadGateway::new()
        .with_details("\"><img src=x onerror=alert(1)>")
        .with_request_id("<scr\0ipt>")
        .into();
    let response = render(&err, &RenderContext::new().with_format(Format::Html));
    assert!(body(&response).contains("<p>&quot;&gt;&lt;img src=x onerror=alert(1)&gt;</p>\n"));
    assert!(body(&response).contains("<p class=\"id\"><code>&lt;scr_ipt&gt;</code></p>\n"));
    let err: GatewayError = BadGateway::new().with_details("<scr\0ipt>&lt;").into();
    let response = render(&err, &RenderContext::new().with_format(Format::Html));
    assert!(body(&response).contains("<p>&lt;scr ipt&gt;&amp;lt;</p>\n"));
}

// ---------------------------------------------------------------------------
// Header injection
// ---------------------------------------------------------------------------

const INJECTIONS: &[&str] = &[
    "edge\r\nSet-Cookie: session=evil",
    "edge\nX-Injected: 1",
    "edge\rX-Injected: 1",
    "edge\0X-Injected: 1",
    "edge\r\n\r\n<html>smuggled</html>",
    "edge\u{85}X-Injected: 1",
    "edge\u{2028}X-Injected: 1",
    "edge%0d%0aX-Injected: 1",
    "edge\"; error=dns_error, evil",
    "edge\\\"",
];

/// What `Proxy-Status` carries for a hostile name: an RFC 8941 String of
/// the sanitized name, non-ASCII as `?`, quotes and backslashes escaped.
fn sf_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in sanitized(s, MAX_NAME_LEN).chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push('"');
    out
}

#[test]
fn crlf_and_nul_in_the_proxy_name_and_next_hop_stay_in_one_field() {
    for injection in INJECTIONS {
        let policy = Policy::new()
            .with_proxy_name(*injection)
            .with_upstream_names(true);
        let err: GatewayError = BadGateway::upstream("product-service")
            .with_kind(ProxyError::ConnectionRefused)
            .with_next_hop(*injection)
            .with_request_id(*injection)
            .into();
        let ctx = RenderContext::new()
            .with_policy(&policy)
            .with_request_id(injection);
        let response = render(&err, &ctx);
        assert_headers_clean(&response);
        assert_eq!(
            header_names(&response),
            [
                "content-type",
                "content-length",
                "cache-control",
                "vary",
                "x-content-type-options",
                "proxy-status",
                "x-request-id",
            ],
            "{injection:?}"
        );
        let expected = format!(
            "{};error=connection_refused;next-hop={}",
            sf_string(injection),
            sf_string(injection)
        );
        assert_eq!(header(&response, "proxy-status"), Some(expected.as_str()));
        let members = parse_proxy_status(&expected).expect("one valid member");
        assert_eq!(members.len(), 1, "{expected}");
        // The request id is body data, sanitized to visible ASCII.
        let value: Value = serde_json::from_slice(response.body()).expect("JSON");
        assert_eq!(value["error"]["request_id"], sanitized_id(injection));
    }
}

#[test]
fn header_values_cannot_carry_crlf_or_nul() {
    for bad in [
        &b"a\r\nb"[..],
        b"a\nb",
        b"a\rb",
        b"a\0b",
        b"\r\n",
        b"a\x7fb",
    ] {
        assert!(HeaderValue::from_bytes(bad).is_err(), "{bad:?}");
    }
    assert!(HeaderValue::from_str("inner\r\nx-injected: 1").is_err());
}

#[test]
fn an_upstream_proxy_status_with_obs_text_is_dropped() {
    let policy = Policy::new().with_proxy_name("edge");
    for upstream in [
        &b"inner; details=\"caf\xc3\xa9\""[..],
        b"inner-lb, \x80bad",
        b"\xff",
        b"inner; error=dns_error, \"\xe2\x80\xa8\"",
        b"inner; error=dns_error\t, x\x85",
    ] {
        let value = HeaderValue::from_bytes(upstream).expect("obs-text is allowed in a value");
        assert!(value.to_str().is_err());
        let err: GatewayError = BadGateway::new()
            .with_kind(ProxyError::ConnectionTimeout)
            .with_upstream_proxy_status(value.clone())
            .into();
        let response = render(&err, &RenderContext::new().with_policy(&policy));
        assert_headers_clean(&response);
        assert_eq!(
            header(&response, "proxy-status"),
            Some("edge;error=connection_timeout"),
            "{upstream:?}"
        );

        // The client side keeps it verbatim (it is the upstream's), but a
        // relay of it drops it the same way, saying what it received.
        let mut headers = HeaderMap::new();
        headers.insert("proxy-status", value);
        let parsed = parse(StatusCode::BAD_GATEWAY, &headers, b"").expect("status only");
        assert_eq!(parsed.kind(), None);
        let again = render(&parsed, &RenderContext::new().with_policy(&policy));
        assert_eq!(
            header(&again, "proxy-status"),
            Some("edge;received-status=502")
        );
    }
}

#[test]
fn request_ids_from_request_headers_are_checked() {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-request-id",
        HeaderValue::from_bytes(b"req-\xc3\xa9").expect("obs-text"),
    );
    let ctx = RenderContext::from_request(&Method::GET, &headers);
    assert_eq!(ctx.request_id(), None);
    headers.insert("x-request-id", HeaderValue::from_static("req 1"));
    assert_eq!(
        RenderContext::from_request(&Method::GET, &headers).request_id(),
        None
    );
    let long = "r".repeat(gateway_error::RequestId::MAX_LEN + 1);
    headers.insert("x-request-id", HeaderValue::from_str(&long).expect("ascii"));
    assert_eq!(
        RenderContext::from_request(&Method::GET, &headers).request_id(),
        None
    );
    headers.insert(
        "x-request-id",
        HeaderValue::from_str(&long[1..]).expect("ascii"),
    );
    assert_eq!(
        RenderContext::from_request(&Method::GET, &headers).request_id(),
        Some(&long[1..])
    );
    // The renderer writes the id its body shows as a header: only the
    // validated value.
    let response = render(
        &BadGateway::new().into(),
        &RenderContext::from_request(&Method::GET, &headers),
    );
    assert_eq!(
        response
            .headers()
            .get("x-request-id")
            .map(HeaderValue::as_bytes),
        Some(&long.as_bytes()[1..])
    );
}

// ---------------------------------------------------------------------------
// Size
// ---------------------------------------------------------------------------

const MIB: usize = 1024 * 1024;

#[test]
fn one_mib_of_details_is_capped_exactly() {
    let policy = shown_policy();
    for (unit, kept) in [("a", 1024), ("é", 1024), ("€", 1023), ("😀", 1024)] {
        let huge = unit.repeat(MIB / unit.len());
        let err: GatewayError = GatewayTimeout::upstream(huge.clone())
            .with_details(huge.clone())
            .with_next_hop(huge.clone())
            .with_request_id(huge.clone())
            .into();
        assert_eq!(err.details().map(str::len), Some(kept));
        let expected_details = unit.repeat(kept / unit.len());
        assert_eq!(err.details(), Some(expected_details.as_str()));
        let name = unit.repeat(MAX_NAME_LEN / unit.len());
        assert_eq!(err.upstream_name(), Some(name.as_str()));
        assert_eq!(err.next_hop(), Some(name.as_str()));
        let id = sanitized_id(&huge);
        assert_eq!(err.request_id(), Some(id.as_str()));
        assert_eq!(id.len(), gateway_error::RequestId::MAX_LEN);

        let small: GatewayError = GatewayTimeout::upstream("x")
            .with_details("")
            .with_next_hop("")
            .with_request_id("x")
            .into();
        for format in Format::ALL {
            let ctx = RenderContext::new()
                .with_format(format)
                .with_policy(&policy);
            let response = render(&err, &ctx);
            let base = render(&small, &ctx).body().len();
            // Plain text and names: no escaping, so the growth is exact
            // (the page names the upstream in its hops).
            let names = match format {
                Format::Json | Format::ProblemJson | Format::Html => name.len() - 1,
                // No body (not in `Format::ALL`).
                Format::Text | Format::Grpc => 0,
            };
            let ids = match format {
                Format::ProblemJson => 2 * (gateway_error::RequestId::MAX_LEN - 1),
                _ => gateway_error::RequestId::MAX_LEN - 1,
            };
            assert_eq!(
                response.body().len(),
                base + kept + names + ids,
                "{format:?} {unit}"
            );
            assert_headers_clean(&response);
            let proxy_status = header(&response, "proxy-status").expect("named proxy");
            assert!(
                proxy_status.len() <= 64 + 2 + MAX_NAME_LEN,
                "{proxy_status}"
            );
        }
    }
}

#[test]
fn one_mib_of_quotes_expands_by_the_escaping_factor_only() {
    let quotes = "\"".repeat(MIB);
    let err: GatewayError = BadGateway::new().with_details(quotes).into();
    let empty: GatewayError = BadGateway::new().with_details("").into();
    for (format, factor) in [
        (Format::Json, 2),
        (Format::ProblemJson, 2),
        (Format::Html, "&quot;".len()),
        (Format::Text, 1),
    ] {
        let ctx = RenderContext::new().with_format(format);
        let len = render(&err, &ctx).body().len();
        let base = render(&empty, &ctx).body().len();
        assert_eq!(len, base + factor * MAX_DETAILS_LEN, "{format:?}");
    }
}

/// A valid `Proxy-Status` List of exactly `len` bytes: `a, a, …` with the
/// first token padded.
fn proxy_status_list(len: usize) -> String {
    let members = (len - 1) / 3;
    let mut list = vec!["a"; members].join(", ");
    let pad = len - list.len();
    list.insert_str(0, &"b".repeat(pad));
    assert_eq!(list.len(), len);
    list
}

#[test]
fn a_one_mib_upstream_proxy_status_is_dropped() {
    let policy = Policy::new().with_proxy_name("edge");
    let render_with = |value: &str| {
        let err: GatewayError = BadGateway::new()
            .with_kind(ProxyError::ConnectionTerminated)
            .with_upstream_proxy_status(HeaderValue::from_str(value).expect("valid"))
            .into();
        let response = render(&err, &RenderContext::new().with_policy(&policy));
        assert_headers_clean(&response);
        header(&response, "proxy-status")
            .expect("named proxy")
            .to_owned()
    };
    let ours = "edge;error=connection_terminated";

    let huge = proxy_status_list(MIB);
    assert!(
        sfv::Parser::new(huge.as_bytes())
            .parse::<sfv::List>()
            .is_ok()
    );
    assert_eq!(render_with(&huge), ours);

    // The cap is exact: at it, kept, and as many of its newest members as
    // fit beside ours within the same cap (renamed: names are hidden); one
    // byte over, dropped.
    let at_cap = proxy_status_list(MAX_PROXY_STATUS_LEN);
    let fit = (MAX_PROXY_STATUS_LEN - ours.len()) / "upstream, ".len();
    assert_eq!(
        render_with(&at_cap),
        format!("{}{ours}", "upstream, ".repeat(fit))
    );
    let over = proxy_status_list(MAX_PROXY_STATUS_LEN + 1);
    assert_eq!(render_with(&over), ours);

    // The parser does not keep it either.
    let mut headers = HeaderMap::new();
    headers.insert(
        "proxy-status",
        HeaderValue::from_str(&format!("{huge}; error=dns_timeout")).expect("valid"),
    );
    let parsed = parse(StatusCode::GATEWAY_TIMEOUT, &headers, b"").expect("status only");
    assert_eq!(parsed.upstream_proxy_status(), None);
    assert_eq!(parsed.kind(), None);
}

// ---------------------------------------------------------------------------
// Hostile upstream bodies
// ---------------------------------------------------------------------------

fn json_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers
}

fn parse_kind(headers: &HeaderMap, body: &[u8]) -> Result<(), ParseErrorKind> {
    parse(StatusCode::BAD_GATEWAY, headers, body)
        .map(|_| ())
        .map_err(|e| e.kind())
}

#[test]
fn invalid_utf8_in_json_bodies_is_invalid_json() {
    let json = json_headers();
    for body in [
        &b"\xff\xfe"[..],
        b"{\"error\":{\"details\":\"\xff\"}}",
        b"{\"detail\":\"caf\xc3\"}",
        b"{\"error\":{\"details\":\"\xed\xa0\x80\"}}", // an encoded surrogate
        b"{\"a\xc0\xaf\":1}",                          // an overlong '/'
        b"\xef\xbb\xbf{}",                             // a BOM: not JSON text (RFC 8259 8.1)
    ] {
        assert_eq!(
            parse_kind(&json, body),
            Err(ParseErrorKind::InvalidJson),
            "{body:?}"
        );
    }
    // Without a Content-Type, a body that looks like an object is JSON.
    assert_eq!(
        parse_kind(&HeaderMap::new(), b"  {\"detail\":\"\xff\"}"),
        Err(ParseErrorKind::InvalidJson)
    );
    // An HTML or text body is not read: the error comes from the status.
    let mut html = HeaderMap::new();
    html.insert("content-type", HeaderValue::from_static("text/html"));
    let err = parse(StatusCode::BAD_GATEWAY, &html, b"<p>\xff\xfe{</p>").expect("status only");
    assert_eq!(err.details(), None);
    let err = parse(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"\xff{").expect("status only");
    assert_eq!(err.details(), None);
    let error = parse(StatusCode::BAD_GATEWAY, &json, b"\xff").unwrap_err();
    assert_eq!(error.to_string(), "error body is not valid json");
}

#[test]
fn deeply_nested_json_is_a_clear_error() {
    let json = json_headers();
    // 100,000 levels are over the size limit before any nesting is read.
    let brackets = "[".repeat(100_000);
    assert_eq!(
        parse_kind(&json, brackets.as_bytes()),
        Err(ParseErrorKind::BodyTooLarge)
    );
    let objects = "{\"a\":".repeat(100_000);
    assert_eq!(
        parse_kind(&json, objects.as_bytes()),
        Err(ParseErrorKind::BodyTooLarge)
    );
    // Within the limit, nesting past the JSON parser's depth is invalid.
    let brackets = "[".repeat(MAX_BODY_LEN);
    assert_eq!(
        parse_kind(&json, brackets.as_bytes()),
        Err(ParseErrorKind::InvalidJson)
    );
    let objects = "{\"a\":".repeat(MAX_BODY_LEN / 5);
    assert_eq!(
        parse_kind(&json, objects.as_bytes()),
        Err(ParseErrorKind::InvalidJson)
    );
    let closed = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    assert_eq!(
        parse_kind(&json, closed.as_bytes()),
        Err(ParseErrorKind::InvalidJson)
    );
    // Without a Content-Type too.
    let objects = "{\"a\":".repeat(10_000);
    assert_eq!(
        parse_kind(&HeaderMap::new(), objects.as_bytes()),
        Err(ParseErrorKind::InvalidJson)
    );
    // Moderate nesting in an unknown member is ignored.
    let body = format!(
        "{{\"error\":{{\"details\":\"Nested.\",\"x\":{}{}}}}}",
        "[".repeat(100),
        "]".repeat(100)
    );
    let err = parse(StatusCode::BAD_GATEWAY, &json, body.as_bytes()).expect("valid");
    assert_eq!(err.details(), Some("Nested."));
}

/// How long the refusal takes is measured by the soak harness
/// (`cargo run --release -p loadtest -- hostile`), not asserted here.
#[test]
fn a_ten_mib_body_is_too_large() {
    let mut body = vec![b' '; 10 * MIB];
    body[0] = b'{';
    assert_eq!(
        parse_kind(&json_headers(), &body),
        Err(ParseErrorKind::BodyTooLarge)
    );
    assert_eq!(
        parse_kind(&HeaderMap::new(), &body),
        Err(ParseErrorKind::BodyTooLarge)
    );
    // Leading whitespace before the brace is scanned, not parsed.
    body[0] = b' ';
    *body.last_mut().expect("non-empty") = b'{';
    assert_eq!(
        parse_kind(&HeaderMap::new(), &body),
        Err(ParseErrorKind::BodyTooLarge)
    );
    // At the limit exactly, it is read.
    let mut at_limit = vec![b' '; MAX_BODY_LEN];
    at_limit[..2].copy_from_slice(b"{}");
    assert_eq!(parse_kind(&json_headers(), &at_limit), Ok(()));
    at_limit.push(b' ');
    assert_eq!(
        parse_kind(&json_headers(), &at_limit),
        Err(ParseErrorKind::BodyTooLarge)
    );
}

#[test]
fn hostile_json_values_are_sanitized_on_the_way_in() {
    let body = format!(
        r#"{{"error":{{"details":"{}<script>\r\n\u0000","upstream":"a\u0085b","request_id":"id\r\nSet-Cookie: x","kind":"connection_refused","retry_after":"-1"}}}}"#,
        "x".repeat(2000)
    );
    let err = parse(StatusCode::BAD_GATEWAY, &json_headers(), body.as_bytes()).expect("valid");
    assert_eq!(err.details(), Some("x".repeat(MAX_DETAILS_LEN).as_str()));
    assert_eq!(err.upstream_name(), Some("a b"));
    assert_eq!(err.request_id(), Some("id__Set-Cookie:_x"));
    assert_eq!(err.kind(), Some(ProxyError::ConnectionRefused));
    assert_eq!(err.retry_after(), None);
    let short = r#"{"detail":"<script>\r\n\u0000</script>"}"#;
    let err = parse(StatusCode::BAD_GATEWAY, &json_headers(), short.as_bytes()).expect("valid");
    assert_eq!(err.details(), Some("<script>   </script>"));
    // Relayed, the upstream's text is not adopted.
    let html = RenderContext::new().with_format(Format::Html);
    let relayed = body_of(&render(&err, &html));
    assert!(!relayed.contains("script"), "{relayed}");
    // Put there on purpose, it is escaped on the way out.
    let ours = GatewayError::from(
        BadGateway::new().with_details(err.details().unwrap_or_default().to_owned()),
    );
    assert_eq!(
        body_of(&render(&ours, &html)),
        page(None, "<script>   </script>", None)
    );
}

fn body_of(response: &Response<Bytes>) -> String {
    body(response).to_owned()
}
