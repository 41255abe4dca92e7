//! The HTML page the fixed template must produce, as a tree, computed
//! here from the error (what it says, when to retry, the hops).

use super::*;

pub(crate) fn el(name: &str, attrs: &[(&str, &str)], children: Vec<Tree>) -> Tree {
    Tree::Element(
        name.to_owned(),
        attrs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        children,
    )
}

pub(crate) fn txt(s: &str) -> Vec<Tree> {
    if s.is_empty() {
        Vec::new()
    } else {
        vec![Tree::Text(s.to_owned())]
    }
}

/// The page the fixed template must produce, as a tree.
/// The sentence an HTML or text body has for a GET that must not be sent
/// again automatically: only when a retry cannot help (a GET is
/// idempotent).
/// Whether a retry cannot change how `err` failed: the gateway's own 500
/// without a hint, a kind that fails the same way again, or an upstream
/// status that the same request gets again (a 4xx but 408, 421, 425 and
/// 429; 500, 501, 505, 506, 508, 510, 511).
pub(crate) fn retry_cannot_help(err: &GatewayError, retry_after: Option<RetryAfter>) -> bool {
    use ProxyError::*;
    let same_kind_again = err.kind().is_some_and(|kind| {
        matches!(
            kind,
            DestinationNotFound
                | DestinationIpProhibited
                | TlsCertificateError
                | HttpRequestError
                | HttpRequestDenied
                | HttpResponseHeaderSectionSize
                | HttpResponseHeaderSize
                | HttpResponseBodySize
                | HttpResponseTrailerSectionSize
                | HttpResponseTrailerSize
                | HttpResponseTransferCoding
                | HttpResponseContentCoding
                | ProxyConfigurationError
                | ProxyLoopDetected
        )
    });
    let same_status_again = err.received_status().is_some_and(|status| {
        status.is_client_error() && !matches!(status.as_u16(), 408 | 421 | 425 | 429)
            || matches!(status.as_u16(), 500 | 501 | 505 | 506 | 508 | 510 | 511)
    });
    (err.status() == StatusCode::INTERNAL_SERVER_ERROR && retry_after.is_none())
        || same_kind_again
        || same_status_again
}

/// The page's style, taken from a page: it is static (the property checks
/// that every page has this one), and the core's tests pin it against the
/// `Content-Security-Policy` hash.
pub(crate) fn page_style() -> String {
    let err: GatewayError = gateway_error::BadGateway::new().into();
    let page = render(&err, &RenderContext::new().with_format(Format::Html));
    let page = std::str::from_utf8(page.body()).expect("UTF-8");
    let start = page.find("<style>").expect("a style") + "<style>".len();
    let end = page.find("</style>").expect("its end");
    page[start..end].to_owned()
}

/// "now", "in 30 seconds", "in about 2 minutes"...: seconds exact, longer
/// delays rounded to the nearest minute, hour or day.
pub(crate) fn when(retry_after: Option<RetryAfter>) -> String {
    let Some(retry_after) = retry_after else {
        return "now".to_owned();
    };
    let Some(secs) = retry_after.as_delay().map(|d| d.as_secs()) else {
        return format!("after {retry_after}");
    };
    let round = |unit: u64| (secs + unit / 2) / unit;
    let (n, unit) = if secs < 60 {
        (secs, "second")
    } else if round(60) < 60 {
        (round(60), "minute")
    } else if round(3600) < 24 {
        (round(3600), "hour")
    } else {
        (round(86_400), "day")
    };
    match (n, unit) {
        (0, _) => "now".to_owned(),
        (1, "second") => "in 1 second".to_owned(),
        (1, "hour") => "in about an hour".to_owned(),
        (1, unit) => format!("in about a {unit}"),
        (n, "second") => format!("in {n} seconds"),
        (n, unit) => format!("in about {n} {unit}s"),
    }
}

/// The hops' states and what happened, for a GET.
pub(crate) fn expected_failure(err: &GatewayError) -> (bool, &'static str, &'static str) {
    use ProxyError::*;
    let own = err.kind().is_some_and(|kind| {
        matches!(
            kind,
            DestinationNotFound
                | HttpRequestError
                | HttpRequestDenied
                | ProxyInternalResponse
                | ProxyInternalError
                | ProxyConfigurationError
                | ProxyLoopDetected
        )
    });
    let not_sent = err.phase() == Some(gateway_error::Phase::NotSent);
    match err.status().as_u16() {
        500 => (
            true,
            "Not reached",
            "This site ran into a problem of its own and could not finish your request.",
        ),
        _ if own => (
            true,
            "Not reached",
            "This site ran into a problem of its own and could not finish your request.",
        ),
        503 => (
            false,
            "Unavailable",
            "The service behind this site is not available at the moment.",
        ),
        504 if not_sent => (
            false,
            "No answer in time",
            "The service behind this site did not answer in time, so your request was not passed on.",
        ),
        504 => (
            false,
            "No answer in time",
            "The service behind this site did not answer in time. It may still be working on your request.",
        ),
        _ if err.received_status().is_some() => (
            false,
            "Error",
            "The service behind this site answered with an error.",
        ),
        _ if not_sent => (
            false,
            "Unreachable",
            "This site could not reach the service behind it, so your request was not passed on.",
        ),
        _ => (
            false,
            "Bad answer",
            "The service behind this site sent an answer this site could not use.",
        ),
    }
}

pub(crate) fn hop(class: &str, name: &str, state: &str) -> Tree {
    el(
        "li",
        &[("class", class)],
        vec![
            el("span", &[("class", "n")], txt(name)),
            el("span", &[("class", "s")], txt(state)),
        ],
    )
}

/// The page for a GET, as a tree.
pub(crate) fn expected_page(
    err: &GatewayError,
    details: &str,
    upstream: Option<&str>,
    retry_after: Option<RetryAfter>,
    request_id: Option<&str>,
) -> Vec<Tree> {
    let status = err.status();
    let status_line = format!(
        "{} {}",
        status.as_str(),
        status.canonical_reason().unwrap_or("")
    );
    let (gateway_failed, state, happened) = expected_failure(err);
    // An empty name is no name.
    let upstream = upstream
        .filter(|name| !name.is_empty())
        .unwrap_or("A service behind it");
    let hops = vec![
        hop("ok", "You", "Working"),
        if gateway_failed {
            hop("bad", "This site", "Failed")
        } else {
            hop("ok", "This site", "Working")
        },
        hop(if gateway_failed { "na" } else { "bad" }, upstream, state),
    ];
    let advice = if retry_cannot_help(err, retry_after) {
        "Trying again will not help: the same request gets the same answer. Check the address, or go back.".to_owned()
    } else {
        format!("Try again {}: reload this page.", when(retry_after))
    };
    let mut main = vec![
        el("h1", &[], txt(&status_line)),
        el("ol", &[("aria-label", "Where it failed")], hops),
        el("h2", &[], txt("What happened")),
        el("p", &[], txt(happened)),
        el("p", &[], txt(details)),
        el("h2", &[], txt("What you can do")),
        el("p", &[], txt(&advice)),
        el("h2", &[], txt("What the site's owner can do")),
    ];
    match request_id {
        Some(id) => {
            main.push(el(
                "p",
                &[],
                txt("Give them this request ID: it lets them find what went wrong."),
            ));
            main.push(el("p", &[("class", "id")], vec![el("code", &[], txt(id))]));
        }
        None => main.push(el(
            "p",
            &[],
            txt("Tell them the time this happened and the address of this page."),
        )),
    }
    let mut facts = Vec::new();
    if let Some(kind) = err.kind() {
        facts.push(format!("Error: {kind}"));
    }
    if let Some(retry_after) = retry_after {
        facts.push(match retry_after.as_delay() {
            Some(delay) => format!("Retry-After: {}", delay.as_secs()),
            None => format!("Retry-After: {retry_after}"),
        });
    }
    if !facts.is_empty() {
        main.push(el("p", &[("class", "facts")], txt(&facts.join(" \u{b7} "))));
    }
    vec![
        Tree::Doctype("html".to_owned()),
        el(
            "html",
            &[("lang", "en")],
            vec![
                el(
                    "head",
                    &[],
                    vec![
                        el("meta", &[("charset", "utf-8")], Vec::new()),
                        el(
                            "meta",
                            &[
                                ("name", "viewport"),
                                ("content", "width=device-width, initial-scale=1"),
                            ],
                            Vec::new(),
                        ),
                        el(
                            "meta",
                            &[("name", "color-scheme"), ("content", "light dark")],
                            Vec::new(),
                        ),
                        el("style", &[], txt(&page_style())),
                        el("title", &[], txt(&status_line)),
                    ],
                ),
                el("body", &[], vec![el("main", &[], main)]),
            ],
        ),
    ]
}

#[test]
fn the_dom_sees_injected_markup() {
    let tree = dom::strip_layout(dom::parse(
        "<!DOCTYPE html><html><head><title>t</title></head><body><p>a<b x=1>b</b><!--c--></p></body></html>",
    ));
    let p = el(
        "p",
        &[],
        vec![
            Tree::Text("a".into()),
            el("b", &[("x", "1")], txt("b")),
            Tree::Comment("c".into()),
        ],
    );
    assert_eq!(
        tree,
        vec![
            Tree::Doctype("html".into()),
            el(
                "html",
                &[],
                vec![
                    el("head", &[], vec![el("title", &[], txt("t"))]),
                    el("body", &[], vec![p])
                ]
            ),
        ]
    );
}
