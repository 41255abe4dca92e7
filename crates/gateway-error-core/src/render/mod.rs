//! The one renderer: every status, header and body byte of an error
//! response. `fields` decides the header fields, `body` writes the four
//! body formats (and their escaping); `Proxy-Status` has its own module.

mod body;
mod fields;
mod grpc;
mod page;
mod sha256;

use std::ops::Range;

use bytes::Bytes;
use http::header::VARY;
use http::{HeaderMap, HeaderName, Method, Response, StatusCode};

use crate::context::RenderContext;
use crate::error::GatewayError;
use crate::negotiate::Format;
use crate::proxy_status::{proxy_status_len, write_proxy_status};
use crate::request_id::X_REQUEST_ID;

use self::body::{Count, Decimal, Estimate, RetryAfterText, View};
use self::fields::replaced_by_rerender;
#[cfg(feature = "actix-web")]
pub(crate) use self::fields::{ACCEPT, Field, NO_STORE, NOSNIFF};
pub(crate) use self::fields::{RenderedFields, describes_another_body};
#[cfg(feature = "tonic")]
pub(crate) use self::grpc::status_parts;
#[cfg(feature = "actix-web")]
pub(crate) use self::page::CONTENT_SECURITY_POLICY as PAGE_CONTENT_SECURITY_POLICY;

/// Renders `error` for the request described by `ctx`.
///
/// This is the only place response bytes are decided: the framework
/// integrations and adapters all call it. The response has the error's
/// status, `Content-Type`, `Content-Length`, `Cache-Control: no-store`,
/// `Vary: Accept`, `X-Content-Type-Options: nosniff` (so that no browser
/// runs an error body as anything but its declared type), `Retry-After`
/// when the error has a hint, `x-request-id` when the body shows one (the
/// error's own id, or the context's), and `Proxy-Status` when the policy
/// names this proxy: the upstream's members, as far as the policy lets them
/// through (see [`Policy::with_upstream_names`](crate::Policy::with_upstream_names)),
/// then this proxy's. An HTML page also gets a strict
/// `Content-Security-Policy` (`default-src 'none'`, its one inline style
/// allowed by its SHA-256 hash, computed when the crate is built). A HEAD
/// request gets the same headers and an empty body.
///
/// Two retry hints, which never contradict each other:
///
/// - `Retry-After` (and the JSON member `retry_after`, in text "The
///   service expects to accept requests again in N seconds.", and on the
///   HTML page the time to try again, "in about 2 minutes"):
///   when the service expects to accept requests again (RFC 9110
///   section 10.2.3), whatever the method;
/// - the JSON member `retryable`: whether this request may be sent again
///   automatically: whether a retry can help (not for a 500 without a
///   hint, a kind a retry cannot change, or an upstream status that comes
///   again), and whether it is safe, from the failure's phase and the
///   request's method (absent when the method is unknown and decides it).
///   See [`GatewayError::is_retryable`]. When it is `false`, text says so
///   too ("Sending this request again is not expected to succeed; do not
///   resend it automatically.", "This request may already have been
///   processed; do not resend it automatically.", or, after this gateway's
///   own retry policy retried, "This gateway already retried the request;
///   do not resend it automatically."), and the HTML page tells
///   a person what to do: try again (now, or in the time `Retry-After`
///   gives), check first whether a request that may have gone through did,
///   or that trying again will not help.
///
/// # Examples
///
/// ```
/// use gateway_error::{render, BadGateway, GatewayError, RenderContext};
///
/// let err = GatewayError::from(BadGateway::upstream("product-service"));
/// let response = render(&err, &RenderContext::new());
/// assert_eq!(response.status(), 502);
/// assert_eq!(response.headers()["content-type"], "application/json");
/// assert_eq!(
///     response.body().as_ref(),
///     br#"{"error":{"code":502,"message":"Bad Gateway","details":"The server received an invalid response from the upstream server while trying to fulfill the request."}}"#
/// );
/// ```
#[must_use]
pub fn render(error: &GatewayError, ctx: &RenderContext<'_>) -> Response<Bytes> {
    let parts = render_parts(error, ctx);
    let mut response = Response::new(parts.body);
    *response.status_mut() = parts.status;
    *response.headers_mut() = parts.fields.into_http();
    if let Some(name) = ctx.policy().custom_request_id_header() {
        // The fields name the id `x-request-id`; the policy names it.
        if let Some(id) = response.headers_mut().remove(X_REQUEST_ID) {
            response.headers_mut().insert(name.clone(), id);
        }
    }
    response
}

/// What [`render`] makes of an error before the header map: the status,
/// the body and the header fields (see [`RenderedFields`]), all slices of
/// one buffer (one allocation). A framework whose types are not `http` 1's
/// builds its response from them.
#[derive(Debug)]
pub(crate) struct RenderedParts {
    /// The status.
    pub status: StatusCode,
    /// The body; empty for HEAD.
    pub body: Bytes,
    /// What `Content-Length` says: the body's length, or for HEAD the
    /// length GET's body would have.
    #[cfg_attr(not(feature = "actix-web"), allow(dead_code))]
    pub length: u64,
    /// The header fields.
    pub fields: RenderedFields,
}

/// Renders `error` into its parts (see [`RenderedParts`]).
#[must_use]
pub(crate) fn render_parts(error: &GatewayError, ctx: &RenderContext<'_>) -> RenderedParts {
    // An error `parse` read is rendered as a relay of the response it came
    // from: what this hop saw, none of the response's claims.
    let sent = error.as_sent();
    let view = View::new(sent.status(), sent.inner(), ctx);
    let format = ctx.format();
    if format == Format::Grpc {
        return grpc::render_parts(&view, ctx);
    }
    let head = ctx.method() == Some(&Method::HEAD);

    // The header values known only now and the body share one buffer: one
    // allocation for all of them, and one more when it becomes `Bytes`,
    // whose slices they are. Its size is an estimate that fits unless
    // escaping adds more than `ESCAPE_SLACK` bytes (then it grows once).
    let retry_after: &[u8] = view
        .retry_after
        .as_ref()
        .map_or(b"", RetryAfterText::as_bytes);
    let body_capacity = if head {
        0
    } else {
        let mut estimate = Estimate(0);
        view.write_body(format, &mut estimate);
        estimate.0 + ESCAPE_SLACK
    };
    let request_id = view.request_id.map_or(&b""[..], str::as_bytes);
    let mut text = String::with_capacity(
        proxy_status_len(view.inner, ctx)
            + retry_after.len()
            + request_id.len()
            + Decimal::MAX_LEN
            + body_capacity,
    );
    let proxy_status = write_proxy_status(view.inner, ctx, &mut text);
    let mut buf = text.into_bytes();
    let retry_after = view
        .retry_after
        .as_ref()
        .map(|_| push(&mut buf, retry_after));
    let request_id = view.request_id.map(|_| push(&mut buf, request_id));
    let body_start = buf.len();
    let len = if head {
        let mut count = Count(0);
        view.write_body(format, &mut count);
        count.0
    } else {
        view.write_body(format, &mut buf);
        buf.len() - body_start
    };
    let body_end = buf.len();
    let length = push(&mut buf, Decimal::new(len as u64).as_bytes());
    let shared = Bytes::from(buf);
    RenderedParts {
        status: view.status,
        body: if head {
            Bytes::new()
        } else {
            shared.slice(body_start..body_end)
        },
        length: len as u64,
        fields: RenderedFields {
            format,
            content_length: shared.slice(length),
            retry_after: retry_after.map(|range| shared.slice(range)),
            proxy_status: proxy_status.map(|range| shared.slice(range)),
            request_id: request_id.map(|range| shared.slice(range)),
            grpc: None,
        },
    }
}

/// Appends `s` to `buf`, returning where it went.
fn push(buf: &mut Vec<u8>, s: &[u8]) -> Range<usize> {
    let start = buf.len();
    buf.extend_from_slice(s);
    start..buf.len()
}

/// How many bytes of escaping the body's buffer has room for beyond its
/// estimate.
const ESCAPE_SLACK: usize = 32;

/// Renders `error` again for a response that already has headers, as the
/// adapters do once they know the request.
///
/// The renderer's own fields replace those of `previous` (`Content-Type`,
/// `Content-Length`, `Cache-Control`, `X-Content-Type-Options`,
/// `Retry-After`, `Proxy-Status`, and a `Vary` value of exactly `accept`).
/// Every field that framed or described the body being replaced is dropped,
/// so that the new body is well framed (RFC 9112 section 6) and no client
/// or cache takes the old representation's metadata for the new one's:
///
/// - message framing: `Transfer-Encoding` and `Trailer` (RFC 9112 sections
///   6.1 and 6.5);
/// - representation metadata (RFC 9110 section 8): `Content-Encoding`,
///   `Content-Language`, `Content-Location`, and `Content-Disposition`
///   (RFC 6266), which names the body as a file;
/// - a partial body: `Content-Range` (RFC 9110 section 14.4);
/// - validators of the old representation: `ETag` and `Last-Modified`
///   (RFC 9110 section 8.8);
/// - its digests: `Content-Digest` and `Repr-Digest` (RFC 9530), and the
///   obsolete `Digest` (RFC 3230) and `Content-MD5` (RFC 1864).
///
/// Every other field of `previous` is kept, after the renderer's, with the
/// other values of a `Vary`. Fields about the resource or the exchange
/// rather than the body stay: `Accept-Ranges` (RFC 9110 section 14.3),
/// `Set-Cookie`, `Location`, `Link`, tracing fields and the like.
///
/// # Examples
///
/// ```
/// use gateway_error::{render, rerender, Format, GatewayError, GatewayTimeout, RenderContext};
///
/// let err = GatewayError::from(GatewayTimeout::upstream("pricing"));
/// let mut first = render(&err, &RenderContext::new());
/// first.headers_mut().insert("x-trace", "abc".parse()?);
/// let html = RenderContext::new().with_format(Format::Html);
/// let again = rerender(&err, &html, first.into_parts().0.headers);
/// assert_eq!(again.headers()["content-type"], "text/html; charset=utf-8");
/// assert_eq!(again.headers()["x-trace"], "abc");
/// # Ok::<(), http::header::InvalidHeaderValue>(())
/// ```
#[must_use]
pub fn rerender(
    error: &GatewayError,
    ctx: &RenderContext<'_>,
    previous: HeaderMap,
) -> Response<Bytes> {
    let mut response = render(error, ctx);
    if previous.is_empty() {
        return response;
    }
    let id_name = ctx.policy().request_id_header();
    let headers = response.headers_mut();
    let has_id = headers.contains_key(id_name);
    // One pass over `previous`, skipping what is replaced: cheaper than
    // removing each name (a hash and a probe apiece) first.
    let mut current: Option<HeaderName> = None;
    for (name, value) in previous {
        if let Some(name) = name {
            current = Some(name);
        }
        let Some(name) = &current else { continue };
        if kept_by_rerender(
            name.as_str(),
            value.as_bytes(),
            has_id.then_some(id_name.as_str()),
        ) {
            headers.append(name, value);
        }
    }
    response
}

/// Whether [`rerender`] keeps a field of the response it replaces (name in
/// lowercase, value), after the renderer's own: not one the renderer sets
/// anew or one that framed or described the old body, not a `Vary` of
/// exactly `accept`, and not another request id when the renderer wrote
/// one (`id`: the name of the id's header then).
pub(crate) fn kept_by_rerender(name: &str, value: &[u8], id: Option<&str>) -> bool {
    !(replaced_by_rerender(name)
        || id == Some(name)
        || (name == VARY.as_str() && value.eq_ignore_ascii_case(fields::ACCEPT.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::body::*;
    use super::*;
    use crate::context::Policy;
    use crate::error::{BadGateway, GatewayTimeout, InternalServerError, ServiceUnavailable};
    use crate::proxy_status::PROXY_STATUS;
    use crate::registry::ProxyError;
    use http::header::{CONTENT_ENCODING, CONTENT_RANGE};
    use http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER, VARY, X_CONTENT_TYPE_OPTIONS};
    use http::{HeaderValue, Method, StatusCode};
    use std::time::{Duration, UNIX_EPOCH};

    fn typical() -> GatewayError {
        BadGateway::upstream("product-service")
            .with_kind(ProxyError::ConnectionRefused)
            .with_details("The product catalog is unreachable.")
            .with_retry_after(Duration::from_secs(30))
            .with_request_id("req-42")
            .with_source(std::io::Error::other("connect ECONNREFUSED 10.0.0.7:8080"))
            .into()
    }

    fn body(response: &Response<Bytes>) -> &str {
        std::str::from_utf8(response.body()).expect("utf-8")
    }

    fn header<'a>(response: &'a Response<Bytes>, name: &str) -> Option<&'a str> {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().expect("ascii"))
    }

    fn shown() -> Policy {
        Policy::new()
            .with_upstream_names(true)
            .with_proxy_name("gateway-demo")
    }

    #[test]
    fn json_envelope_exact_bytes() {
        let policy = shown();
        let ctx = RenderContext::new()
            .with_policy(&policy)
            .with_method(&Method::POST);
        let response = render(&typical(), &ctx);
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(
            body(&response),
            r#"{"error":{"code":502,"message":"Bad Gateway","details":"The product catalog is unreachable.","upstream":"product-service","kind":"connection_refused","retryable":true,"retry_after":30,"request_id":"req-42"}}"#
        );
        let headers: Vec<(&str, &str)> = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_str().expect("ascii")))
            .collect();
        assert_eq!(
            headers,
            [
                ("content-type", "application/json"),
                ("content-length", "207"),
                ("cache-control", "no-store"),
                ("vary", "accept"),
                ("x-content-type-options", "nosniff"),
                ("retry-after", "30"),
                (
                    "proxy-status",
                    r#"gateway-demo;error=connection_refused;next-hop="product-service""#
                ),
                ("x-request-id", "req-42"),
            ]
        );
        assert_eq!(response.body().len(), 207);
    }

    #[test]
    fn problem_json_exact_bytes() {
        let policy = shown().with_problem_type_base("https://errors.example.com/");
        let ctx = RenderContext::new()
            .with_policy(&policy)
            .with_format(Format::ProblemJson)
            .with_method(&Method::GET);
        let response = render(&typical(), &ctx);
        assert_eq!(
            header(&response, "content-type"),
            Some("application/problem+json")
        );
        assert_eq!(
            body(&response),
            r##"{"type":"https://errors.example.com/connection_refused","title":"Bad Gateway","status":502,"detail":"The product catalog is unreachable.","instance":"#req-42","upstream":"product-service","kind":"connection_refused","retryable":true,"retry_after":30,"request_id":"req-42"}"##
        );
        let plain = GatewayError::from(GatewayTimeout::new());
        let response = render(
            &plain,
            &RenderContext::new().with_format(Format::ProblemJson),
        );
        assert_eq!(
            body(&response),
            r#"{"type":"about:blank","title":"Gateway Timeout","status":504,"detail":"The server did not receive a timely response from the upstream server. The operation might still be processing."}"#
        );
    }

    /// The page up to the `h1`'s text, with the style of `page`, which
    /// its own test and the real-browser test check.
    fn html_head(status_line: &str) -> String {
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"color-scheme\" content=\"light dark\">\n<style>{}</style>\n\
             <title>{status_line}</title>\n</head>\n<body>\n<main>\n<h1>{status_line}</h1>\n",
            super::page::STYLE
        )
    }

    #[test]
    fn html_exact_bytes() {
        let policy = shown();
        let ctx = RenderContext::new()
            .with_format(Format::Html)
            .with_policy(&policy)
            .with_method(&Method::GET);
        let response = render(&typical(), &ctx);
        assert_eq!(
            header(&response, "content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(
            header(&response, "content-security-policy"),
            Some(super::page::CONTENT_SECURITY_POLICY)
        );
        assert!(
            super::page::CONTENT_SECURITY_POLICY
                .starts_with("default-src 'none'; style-src 'sha256-")
        );
        let expected = html_head("502 Bad Gateway")
            + "<ol aria-label=\"Where it failed\">\n\
               <li class=\"ok\"><span class=\"n\">You</span><span class=\"s\">Working</span></li>\n\
               <li class=\"ok\"><span class=\"n\">This site</span><span class=\"s\">Working</span></li>\n\
               <li class=\"bad\"><span class=\"n\">product-service</span><span class=\"s\">Unreachable</span></li>\n\
               </ol>\n<h2>What happened</h2>\n\
               <p>This site could not reach the service behind it, so your request was not passed on.</p>\n\
               <p>The product catalog is unreachable.</p>\n\
               <h2>What you can do</h2>\n<p>Try again in 30 seconds: reload this page.</p>\n\
               <h2>What the site&#39;s owner can do</h2>\n\
               <p>Give them this request ID: it lets them find what went wrong.</p>\n\
               <p class=\"id\"><code>req-42</code></p>\n\
               <p class=\"facts\">Error: connection_refused &middot; Retry-After: 30</p>\n\
               </main>\n</body>\n</html>\n";
        assert_eq!(body(&response), expected);
        // Names hidden, no id, no hint, the gateway's own fault, a method
        // that may not be resent.
        let err: GatewayError = InternalServerError::upstream("product-service")
            .with_kind(ProxyError::ProxyConfigurationError)
            .into();
        let response = render(
            &err,
            &RenderContext::new()
                .with_format(Format::Html)
                .with_method(&Method::POST),
        );
        let expected = html_head("500 Internal Server Error")
            + "<ol aria-label=\"Where it failed\">\n\
               <li class=\"ok\"><span class=\"n\">You</span><span class=\"s\">Working</span></li>\n\
               <li class=\"bad\"><span class=\"n\">This site</span><span class=\"s\">Failed</span></li>\n\
               <li class=\"na\"><span class=\"n\">A service behind it</span><span class=\"s\">Not reached</span></li>\n\
               </ol>\n<h2>What happened</h2>\n\
               <p>This site ran into a problem of its own and could not finish your request.</p>\n\
               <h2>What you can do</h2>\n\
               <p>Trying again will not help: the same request gets the same answer. Check the address, or go back.</p>\n\
               <h2>What the site&#39;s owner can do</h2>\n\
               <p>Tell them the time this happened and the address of this page.</p>\n\
               <p class=\"facts\">Error: proxy_configuration_error</p>\n\
               </main>\n</body>\n</html>\n";
        assert_eq!(body(&response), expected);
        // Only the HTML format carries the policy.
        for format in [Format::Json, Format::ProblemJson, Format::Text] {
            let response = render(&typical(), &ctx.with_format(format));
            assert_eq!(header(&response, "content-security-policy"), None);
        }
    }

    /// Each failure says which hop failed and what happened, in words.
    #[test]
    fn html_says_which_hop_failed() {
        let relayed = |status: u16| -> GatewayError {
            let status = StatusCode::from_u16(status).expect("a status");
            GatewayError::from_upstream_response("catalog", status, &HeaderMap::new())
        };
        let cases: [(GatewayError, &str, &str); 7] = [
            (
                BadGateway::new()
                    .with_kind(ProxyError::ConnectionRefused)
                    .into(),
                "Unreachable",
                "This site could not reach the service behind it, so your request was not passed on.",
            ),
            (
                GatewayTimeout::new()
                    .with_kind(ProxyError::ConnectionTimeout)
                    .into(),
                "No answer in time",
                "The service behind this site did not answer in time, so your request was not passed on.",
            ),
            (
                GatewayTimeout::new().into(),
                "No answer in time",
                "The service behind this site did not answer in time. It may still be working on your request.",
            ),
            (
                ServiceUnavailable::new().into(),
                "Unavailable",
                "The service behind this site is not available at the moment.",
            ),
            (
                relayed(404),
                "Error",
                "The service behind this site answered with an error.",
            ),
            (
                BadGateway::new()
                    .with_kind(ProxyError::HttpProtocolError)
                    .into(),
                "Bad answer",
                "The service behind this site sent an answer this site could not use.",
            ),
            (
                BadGateway::new()
                    .with_kind(ProxyError::ProxyLoopDetected)
                    .into(),
                "Not reached",
                "This site ran into a problem of its own and could not finish your request.",
            ),
        ];
        for (err, state, sentence) in cases {
            let response = render(&err, &RenderContext::new().with_format(Format::Html));
            let page = body(&response);
            let hop = format!(
                "<li class=\"{}\"><span class=\"n\">A service behind it</span><span class=\"s\">{state}</span></li>\n",
                if state == "Not reached" { "na" } else { "bad" }
            );
            assert!(page.contains(&hop), "{err:?}: {page}");
            let happened = format!("<h2>What happened</h2>\n<p>{sentence}</p>\n");
            assert!(page.contains(&happened), "{err:?}: {page}");
        }
    }

    /// What a person can do, from the verdict, with the time to try again
    /// as a person reads it.
    #[test]
    fn html_says_what_to_do() {
        let advice = |err: &GatewayError, method: Option<&Method>| -> String {
            let ctx = RenderContext::new().with_format(Format::Html);
            let ctx = match method {
                Some(method) => ctx.with_method(method),
                None => ctx,
            };
            let page = body(&render(err, &ctx)).to_owned();
            let start = page.find("<h2>What you can do</h2>\n<p>").expect("advice") + 28;
            page[start..start + page[start..].find("</p>").expect("end")].to_owned()
        };
        let later = |secs: u64| -> GatewayError {
            ServiceUnavailable::new()
                .with_retry_after(Duration::from_secs(secs))
                .into()
        };
        for (secs, when) in [
            (0, "now"),
            (1, "in 1 second"),
            (59, "in 59 seconds"),
            (60, "in about a minute"),
            (89, "in about a minute"),
            (90, "in about 2 minutes"),
            (120, "in about 2 minutes"),
            (3569, "in about 59 minutes"),
            (3570, "in about an hour"),
            (5400, "in about 2 hours"),
            (86_399, "in about a day"),
            (3 * 86_400, "in about 3 days"),
        ] {
            assert_eq!(
                advice(&later(secs), Some(&Method::GET)),
                format!("Try again {when}: reload this page."),
                "{secs}"
            );
        }
        let at = UNIX_EPOCH + Duration::from_secs(784_111_777);
        let dated: GatewayError = ServiceUnavailable::new().with_retry_after(at).into();
        assert_eq!(
            advice(&dated, None),
            "Try again after Sun, 06 Nov 1994 08:49:37 GMT. If you were sending a form, \
             check first whether it went through, so that it is not sent twice."
        );
        let timeout: GatewayError = GatewayTimeout::new()
            .with_kind(ProxyError::HttpResponseTimeout)
            .into();
        assert_eq!(
            advice(&timeout, Some(&Method::GET)),
            "Try again now: reload this page."
        );
        assert_eq!(
            advice(&timeout, Some(&Method::POST)),
            "Do not send it again blindly: your request may already have gone through. \
             Check first whether it did (for example, look for a confirmation), and only if it \
             did not, try again now."
        );
        assert_eq!(
            advice(&later(120), Some(&Method::POST)),
            "Do not send it again blindly: your request may already have gone through. \
             Check first whether it did (for example, look for a confirmation), and only if it \
             did not, try again in about 2 minutes."
        );
        let relayed = GatewayError::from_upstream_response(
            "catalog",
            StatusCode::NOT_FOUND,
            &HeaderMap::new(),
        );
        for method in [None, Some(&Method::GET), Some(&Method::POST)] {
            assert_eq!(
                advice(&relayed, method),
                "Trying again will not help: the same request gets the same answer. \
                 Check the address, or go back."
            );
        }
    }

    #[test]
    fn text_exact_bytes() {
        let err = GatewayError::from(ServiceUnavailable::new());
        let response = render(&err, &RenderContext::new().with_format(Format::Text));
        assert_eq!(
            header(&response, "content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(
            body(&response),
            "503 Service Unavailable\nThe service is temporarily unavailable. Please try again later.\n"
        );
        let response = render(&typical(), &RenderContext::new().with_format(Format::Text));
        assert_eq!(
            body(&response),
            "502 Bad Gateway\nThe product catalog is unreachable.\n\
             The service expects to accept requests again in 30 seconds.\nRequest ID: req-42\n"
        );
    }

    #[test]
    fn head_gets_headers_and_no_body() {
        let ctx = RenderContext::new().with_method(&Method::HEAD);
        let get = render(&typical(), &RenderContext::new().with_method(&Method::GET));
        let head = render(&typical(), &ctx);
        assert!(head.body().is_empty());
        assert_eq!(head.headers(), get.headers());
        assert_eq!(
            header(&head, "content-length"),
            Some(get.body().len().to_string().as_str())
        );
    }

    #[test]
    fn upstream_names_are_hidden_by_default() {
        let response = render(&typical(), &RenderContext::new());
        assert!(!body(&response).contains("product-service"));
        assert_eq!(header(&response, "proxy-status"), None);
        let policy = Policy::new().with_proxy_name("edge");
        let response = render(&typical(), &RenderContext::new().with_policy(&policy));
        assert_eq!(
            header(&response, "proxy-status"),
            Some("edge;error=connection_refused")
        );
    }

    #[test]
    fn the_source_never_reaches_the_client() {
        for format in Format::ALL {
            let policy = shown();
            let ctx = RenderContext::new()
                .with_format(format)
                .with_policy(&policy);
            let response = render(&typical(), &ctx);
            let mut all = body(&response).to_owned();
            for value in response.headers().values() {
                all.push_str(value.to_str().expect("ascii"));
            }
            assert!(!all.contains("ECONNREFUSED"), "{format:?}");
            assert!(!all.contains("10.0.0.7"), "{format:?}");
        }
    }

    #[test]
    fn canonical_details_say_what_is_known() {
        let cases: [(GatewayError, &str); 5] = [
            (
                GatewayTimeout::new()
                    .with_kind(ProxyError::ConnectionTimeout)
                    .into(),
                "The server did not receive a timely response from the upstream server while connecting to it.",
            ),
            (
                GatewayTimeout::new()
                    .with_kind(ProxyError::HttpResponseTimeout)
                    .into(),
                "The server did not receive a timely response from the upstream server. The operation might still be processing.",
            ),
            (
                BadGateway::new()
                    .with_kind(ProxyError::ConnectionRefused)
                    .into(),
                "The server could not reach the upstream server while trying to fulfill the request.",
            ),
            (
                BadGateway::new().into(),
                "The server received an invalid response from the upstream server while trying to fulfill the request.",
            ),
            (
                InternalServerError::new().into(),
                "The server encountered an internal error while trying to fulfill the request.",
            ),
        ];
        for (err, sentence) in cases {
            let response = render(&err, &RenderContext::new().with_format(Format::Text));
            let text = body(&response);
            assert_eq!(text.lines().nth(1), Some(sentence));
        }
    }

    #[test]
    fn retryable_is_present_only_when_known() {
        let timeout: GatewayError = GatewayTimeout::new()
            .with_kind(ProxyError::HttpResponseTimeout)
            .into();
        let unknown = body(&render(&timeout, &RenderContext::new())).to_owned();
        assert!(!unknown.contains("retryable"));
        let post = render(&timeout, &RenderContext::new().with_method(&Method::POST));
        assert!(body(&post).contains(r#""retryable":false"#));
        let get = render(&timeout, &RenderContext::new().with_method(&Method::GET));
        assert!(body(&get).contains(r#""retryable":true"#));
        let refused: GatewayError = BadGateway::new()
            .with_kind(ProxyError::ConnectionRefused)
            .into();
        assert!(body(&render(&refused, &RenderContext::new())).contains(r#""retryable":true"#));
        let internal: GatewayError = InternalServerError::new().into();
        assert!(body(&render(&internal, &RenderContext::new())).contains(r#""retryable":false"#));
    }

    /// `retryable` is true only when a retry is safe and can help: never
    /// for an upstream answer that the same request gets again, nor for a
    /// kind a retry cannot change, even when nothing was sent.
    #[test]
    fn retryable_needs_a_retry_that_can_help() {
        let relayed = |status: u16| -> GatewayError {
            let status = StatusCode::from_u16(status).expect("a status");
            GatewayError::from_upstream_response("catalog", status, &HeaderMap::new())
        };
        let not_again = "Sending this request again is not expected to succeed; do not resend it automatically.";
        let get = RenderContext::new().with_method(&Method::GET);
        for (error, retryable) in [
            (relayed(404), false),
            (relayed(400), false),
            (relayed(501), false),
            (relayed(408), true),
            (relayed(421), true),
            (relayed(425), true),
            (relayed(429), true),
            (relayed(500), false),
            (relayed(502), true),
            (relayed(503), true),
            (
                BadGateway::new()
                    .with_kind(ProxyError::TlsCertificateError)
                    .into(),
                false,
            ),
            (
                BadGateway::new()
                    .with_kind(ProxyError::HttpResponseHeaderSectionSize)
                    .into(),
                false,
            ),
        ] {
            let what = format!("{error:?}");
            assert_eq!(error.is_retryable(&Method::GET), retryable, "{what}");
            let json = render(&error, &get);
            let member = if retryable {
                r#""retryable":true"#
            } else {
                r#""retryable":false"#
            };
            assert!(body(&json).contains(member), "{what}: {}", body(&json));
            let text = render(&error, &get.with_format(Format::Text));
            assert_eq!(
                body(&text).contains(not_again),
                !retryable,
                "{what}: {}",
                body(&text)
            );
        }
        // For a POST that may have run, a retry that cannot help says so,
        // not that the request may have been processed.
        let post = RenderContext::new()
            .with_method(&Method::POST)
            .with_format(Format::Text);
        let text = render(&relayed(404), &post);
        assert!(body(&text).contains(not_again), "{}", body(&text));
        assert!(!body(&text).contains("may already have been processed"));
        // Never sent, so any method may resend it, but a retry gets the
        // same certificate.
        let certificate: GatewayError = BadGateway::new()
            .with_kind(ProxyError::TlsCertificateError)
            .into();
        assert!(!certificate.is_retryable(&Method::POST));
    }

    #[test]
    fn the_hint_and_the_verdict_agree_in_every_format() {
        // An upstream's 503 with `Retry-After: 120`, for a POST: the service
        // says when it takes requests again; this request may have run.
        let err: GatewayError = ServiceUnavailable::upstream("search")
            .with_retry_after(Duration::from_secs(120))
            .into();
        let post = |format| {
            render(
                &err,
                &RenderContext::new()
                    .with_format(format)
                    .with_method(&Method::POST),
            )
        };
        assert_eq!(
            body(&post(Format::Json)),
            r#"{"error":{"code":503,"message":"Service Unavailable","details":"The service is temporarily unavailable. Please try again later.","retryable":false,"retry_after":120}}"#
        );
        assert_eq!(
            body(&post(Format::Text)),
            "503 Service Unavailable\n\
             The service is temporarily unavailable. Please try again later.\n\
             The service expects to accept requests again in 120 seconds.\n\
             This request may already have been processed; do not resend it automatically.\n"
        );
        assert!(body(&post(Format::Html)).ends_with(
            "<h2>What you can do</h2>\n<p>Do not send it again blindly: your request may already \
             have gone through. Check first whether it did (for example, look for a confirmation), \
             and only if it did not, try again in about 2 minutes.</p>\n\
             <h2>What the site&#39;s owner can do</h2>\n\
             <p>Tell them the time this happened and the address of this page.</p>\n\
             <p class=\"facts\">Retry-After: 120</p>\n\
             </main>\n</body>\n</html>\n"
        ));
        // For GET the hint stands alone: nothing forbids resending.
        let get = render(
            &err,
            &RenderContext::new()
                .with_format(Format::Text)
                .with_method(&Method::GET),
        );
        assert_eq!(
            body(&get),
            "503 Service Unavailable\n\
             The service is temporarily unavailable. Please try again later.\n\
             The service expects to accept requests again in 120 seconds.\n"
        );
        // Without a method the verdict is unknown, and no sentence is made.
        let unknown = render(&err, &RenderContext::new().with_format(Format::Text));
        assert_eq!(body(&unknown), body(&get));
        // The gateway's own fault, without a hint: not for any method.
        let internal: GatewayError = InternalServerError::new().into();
        let text = render(
            &internal,
            &RenderContext::new()
                .with_format(Format::Text)
                .with_method(&Method::GET),
        );
        assert_eq!(
            body(&text),
            "500 Internal Server Error\n\
             The server encountered an internal error while trying to fulfill the request.\n\
             Sending this request again is not expected to succeed; do not resend it automatically.\n"
        );
        // One second, and a date.
        let soon: GatewayError = ServiceUnavailable::new()
            .with_retry_after(Duration::from_secs(1))
            .into();
        let text = render(&soon, &RenderContext::new().with_format(Format::Text));
        assert!(
            body(&text).ends_with("\nThe service expects to accept requests again in 1 second.\n")
        );
        let at = UNIX_EPOCH + Duration::from_secs(784_111_777);
        let dated: GatewayError = ServiceUnavailable::new().with_retry_after(at).into();
        let html = render(&dated, &RenderContext::new().with_format(Format::Html));
        assert!(body(&html).contains(
            "<p>Try again after Sun, 06 Nov 1994 08:49:37 GMT. If you were sending a form, "
        ));
        assert!(
            body(&html)
                .contains("<p class=\"facts\">Retry-After: Sun, 06 Nov 1994 08:49:37 GMT</p>")
        );
    }

    #[test]
    fn date_hints_are_imf_fixdate() {
        let at = UNIX_EPOCH + Duration::from_secs(784_111_777);
        let err: GatewayError = ServiceUnavailable::new().with_retry_after(at).into();
        let response = render(&err, &RenderContext::new());
        assert_eq!(
            header(&response, "retry-after"),
            Some("Sun, 06 Nov 1994 08:49:37 GMT")
        );
        assert!(body(&response).ends_with(r#","retry_after":"Sun, 06 Nov 1994 08:49:37 GMT"}}"#));
    }

    #[test]
    fn escaping_is_exact() {
        let err: GatewayError = BadGateway::upstream("<b>\"x\"</b>")
            .with_details("<script>alert('x')</script> & \"q\" \\ ü")
            .into();
        let policy = Policy::new().with_upstream_names(true);
        let json = render(&err, &RenderContext::new().with_policy(&policy));
        assert_eq!(
            body(&json),
            r#"{"error":{"code":502,"message":"Bad Gateway","details":"<script>alert('x')</script> & \"q\" \\ ü","upstream":"<b>\"x\"</b>"}}"#
        );
        let html = render(
            &err,
            &RenderContext::new()
                .with_format(Format::Html)
                .with_policy(&policy),
        );
        assert!(body(&html).contains(
            "<p>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot; \\ ü</p>"
        ));
        assert!(body(&html).contains("<span class=\"n\">&lt;b&gt;&quot;x&quot;&lt;/b&gt;</span>"));
        let mut out = Vec::new();
        json_escape(&mut out, "\u{1}\u{1f}\t\u{8}");
        assert_eq!(out, br"\u0001\u001f\t\u0008");
        let mut out = Vec::new();
        percent_encode(&mut out, "a b/#%é");
        assert_eq!(out, b"a%20b%2F%23%25%C3%A9");
    }

    #[test]
    fn every_response_says_nosniff_once() {
        let policy = Policy::new().with_proxy_name("bff");
        let errors: [GatewayError; 2] = [typical(), GatewayTimeout::new().into()];
        for error in &errors {
            for format in Format::ALL {
                for policy in [&Policy::new(), &policy] {
                    for method in [Method::GET, Method::HEAD] {
                        let ctx = RenderContext::new()
                            .with_format(format)
                            .with_policy(policy)
                            .with_method(&method);
                        for response in [
                            render(error, &ctx),
                            render(error, &ctx.with_request_id("id-7")),
                        ] {
                            let values: Vec<_> = response
                                .headers()
                                .get_all(X_CONTENT_TYPE_OPTIONS)
                                .iter()
                                .collect();
                            assert_eq!(values, ["nosniff"], "{format:?} {method}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn rerender_keeps_other_headers_and_replaces_its_own() {
        let mut previous = HeaderMap::new();
        previous.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        previous.insert(CONTENT_LENGTH, HeaderValue::from_static("999"));
        previous.insert(RETRY_AFTER, HeaderValue::from_static("5"));
        previous.insert(&PROXY_STATUS, HeaderValue::from_static("stale"));
        previous.append(VARY, HeaderValue::from_static("accept"));
        previous.append(VARY, HeaderValue::from_static("origin"));
        previous.append("set-cookie", HeaderValue::from_static("a=1"));
        previous.append("set-cookie", HeaderValue::from_static("b=2"));
        previous.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        previous.insert(CONTENT_RANGE, HeaderValue::from_static("bytes 0-9/10"));
        for (name, value) in [
            ("transfer-encoding", "chunked"),
            ("trailer", "content-digest"),
            ("content-language", "de"),
            ("content-location", "/a.json"),
            ("content-disposition", "attachment"),
            ("etag", "\"v1\""),
            ("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ("content-digest", "sha-256=:AAAA:"),
            ("repr-digest", "sha-256=:AAAA:"),
            ("digest", "SHA-256=AAAA"),
            ("content-md5", "AAAA"),
            ("x-content-type-options", "nosniff"),
            ("accept-ranges", "bytes"),
        ] {
            previous.append(name, HeaderValue::from_static(value));
        }
        let ctx = RenderContext::new().with_format(Format::Text);
        let response = rerender(&typical(), &ctx, previous);
        let headers: Vec<(&str, &str)> = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_str().expect("ascii")))
            .collect();
        assert_eq!(
            headers,
            [
                ("content-type", "text/plain; charset=utf-8"),
                ("content-length", "131"),
                ("cache-control", "no-store"),
                ("vary", "accept"),
                ("vary", "origin"),
                ("x-content-type-options", "nosniff"),
                ("retry-after", "30"),
                ("x-request-id", "req-42"),
                ("set-cookie", "a=1"),
                ("set-cookie", "b=2"),
                ("accept-ranges", "bytes"),
            ]
        );
        assert_eq!(response.body().len(), 131);
    }

    #[test]
    fn escaping_beyond_the_estimate_still_fits() {
        let err: GatewayError = BadGateway::new().with_details("'\"".repeat(100)).into();
        let html = render(&err, &RenderContext::new().with_format(Format::Html));
        assert!(body(&html).contains(&"&#39;&quot;".repeat(100)));
        let json = render(&err, &RenderContext::new());
        assert!(body(&json).contains(&"'\\\"".repeat(100)));
        for response in [html, json] {
            assert_eq!(
                header(&response, "content-length"),
                Some(response.body().len().to_string().as_str())
            );
        }
    }

    #[test]
    fn request_id_from_the_error_wins_over_the_context() {
        let ctx = RenderContext::new().with_request_id("from-ctx");
        let own = render(&typical(), &ctx);
        assert!(body(&own).contains(r#""request_id":"req-42""#));
        let none: GatewayError = BadGateway::new().into();
        assert!(body(&render(&none, &ctx)).contains(r#""request_id":"from-ctx""#));
    }
}
