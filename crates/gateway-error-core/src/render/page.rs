//! The HTML page's static parts: its style, the `Content-Security-Policy`
//! that allows that style by its hash, and the text around the values the
//! page is filled in with. Everything here is known at compile time, so a
//! render copies a few long pieces and computes no hash.

use http::StatusCode;

use crate::registry::{Phase, ProxyError};

use super::sha256::sha256_base64;

/// The page's one `<style>` element's text. A macro, so that [`HEAD`] can
/// be one `concat!`; [`STYLE`] is the same text.
macro_rules! style {
    () => {
        concat!(
            ":root{color-scheme:light dark;--bg:#f4f5f7;--card:#fff;--fg:#1c2024;--mut:#4d5562;",
            "--line:#c9ced6;--ok:#17692e;--bad:#b42318;--badbg:#fdeceb}",
            "@media(prefers-color-scheme:dark){:root{--bg:#121418;--card:#1d2127;--fg:#e9ebee;",
            "--mut:#b1b8c3;--line:#454c57;--ok:#7dd492;--bad:#ff9289;--badbg:#3b1f1d}}",
            "*{box-sizing:border-box}",
            "body{margin:0;background:var(--bg);color:var(--fg);",
            "font:1rem/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}",
            "main{max-width:44rem;margin:0 auto;padding:2rem 1rem 3rem}",
            "h1{font-size:1.75rem;line-height:1.2;margin:0 0 1.25rem}",
            "h2{font-size:1.125rem;margin:1.75rem 0 .25rem}",
            "p{margin:.25rem 0 .5rem}",
            "ol{list-style:none;display:flex;gap:1.5rem;margin:0;padding:0}",
            "li{position:relative;flex:1;min-width:0;padding:.5rem .75rem;background:var(--card);",
            "border:1px solid var(--line);border-top:.375rem solid var(--ok);border-radius:.375rem}",
            "li+li::before{content:\"\";position:absolute;left:-1.5rem;top:50%;width:1.5rem;",
            "border-top:2px solid var(--line)}",
            ".n{display:block;font-weight:600;overflow-wrap:anywhere}",
            ".s{display:block;font-size:.875rem;color:var(--ok)}",
            "li.bad{border:2px solid var(--bad);border-top-width:.375rem;background:var(--badbg)}",
            ".bad .s{color:var(--bad);font-weight:700}",
            "li.na{border-top-color:var(--line)}.na .s{color:var(--mut)}",
            "code{font-family:ui-monospace,Menlo,Consolas,monospace;overflow-wrap:anywhere}",
            ".id code{display:inline-block;padding:.25rem .5rem;font-size:.875rem;background:var(--card);",
            "border:1px solid var(--line);border-radius:.25rem;user-select:all}",
            ".facts{color:var(--mut);font-size:.875rem}",
            "@media(max-width:32rem){ol{flex-direction:column;gap:1rem}",
            "li+li::before{left:50%;top:-1rem;width:0;height:1rem;border-top:0;",
            "border-left:2px solid var(--line)}}"
        )
    };
}

/// The page's style: static, so that its hash is a constant.
pub(super) const STYLE: &str = style!();

/// The page up to its title.
macro_rules! head {
    () => {
        concat!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
            "<meta name=\"color-scheme\" content=\"light dark\">\n<style>",
            style!(),
            "</style>\n<title>"
        )
    };
}

/// The page up to its title.
pub(super) const HEAD: &str = head!();

/// From the title's end to the `h1`'s text.
pub(super) const TITLE_TO_H1: &str = "</title>\n</head>\n<body>\n<main>\n<h1>";

/// From the `h1`'s end to the hops: the visitor's, which never failed.
macro_rules! h1_to_hops {
    () => {
        concat!(
            "</h1>\n<ol aria-label=\"Where it failed\">\n",
            "<li class=\"ok\"><span class=\"n\">You</span><span class=\"s\">Working</span></li>\n"
        )
    };
}

/// From the `h1`'s end to the hops.
pub(super) const H1_TO_HOPS: &str = h1_to_hops!();

/// The gateway's hop, working, and the start of the upstream's (failed).
macro_rules! upstream_failed {
    () => {
        concat!(
            "<li class=\"ok\"><span class=\"n\">This site</span><span class=\"s\">Working</span></li>\n",
            "<li class=\"bad\"><span class=\"n\">"
        )
    };
}

/// The gateway's hop, failed, and the start of the upstream's (not reached).
macro_rules! gateway_failed {
    () => {
        concat!(
            "<li class=\"bad\"><span class=\"n\">This site</span><span class=\"s\">Failed</span></li>\n",
            "<li class=\"na\"><span class=\"n\">"
        )
    };
}

/// The page up to the upstream's name in one piece, for the statuses the
/// error types have: the head, the `h1`, and the hops before the
/// upstream's (see [`Failure::hops`]).
pub(super) fn head_with_status(status: StatusCode, failure: Failure) -> Option<&'static str> {
    macro_rules! with {
        ($line:literal) => {
            [
                with!($line; upstream_failed!()),
                with!($line; gateway_failed!()),
            ]
        };
        ($line:literal; $($hops:tt)*) => {
            concat!(
                head!(),
                $line,
                "</title>\n</head>\n<body>\n<main>\n<h1>",
                $line,
                h1_to_hops!(),
                $($hops)*
            )
        };
    }
    let heads = match status {
        StatusCode::BAD_GATEWAY => with!("502 Bad Gateway"),
        StatusCode::SERVICE_UNAVAILABLE => with!("503 Service Unavailable"),
        StatusCode::GATEWAY_TIMEOUT => with!("504 Gateway Timeout"),
        StatusCode::INTERNAL_SERVER_ERROR => with!("500 Internal Server Error"),
        _ => return None,
    };
    Some(heads[usize::from(failure == Failure::Gateway)])
}

/// The upstream's name when the policy hides it.
pub(super) const GENERIC_UPSTREAM: &str = "A service behind it";

/// The start of the site owner's part, with a request id to quote: a
/// macro, so that each verdict's advice on the page can end with it in
/// one piece (see `body::Verdict::sentences`).
macro_rules! owner_id {
    () => {
        concat!(
            "<h2>What the site&#39;s owner can do</h2>\n",
            "<p>Give them this request ID: it lets them find what went wrong.</p>\n",
            "<p class=\"id\"><code>"
        )
    };
}
pub(super) use owner_id;

/// The site owner's part, without a request id.
macro_rules! owner_no_id {
    () => {
        concat!(
            "<h2>What the site&#39;s owner can do</h2>\n",
            "<p>Tell them the time this happened and the address of this page.</p>\n"
        )
    };
}
pub(super) use owner_no_id;

/// After the request id.
pub(super) const OWNER_ID_END: &str = "</code></p>\n";
/// The facts the JSON bodies carry too, beside the status in the `h1`:
/// the kind, ...
pub(super) const FACTS_KIND: &str = "<p class=\"facts\">Error: ";
/// ... and the retry hint's field value, after the kind ...
pub(super) const FACTS_AND_RETRY_AFTER: &str = " &middot; Retry-After: ";
/// ... or alone.
pub(super) const FACTS_RETRY_AFTER: &str = "<p class=\"facts\">Retry-After: ";

/// The page's end.
macro_rules! end {
    () => {
        "</main>\n</body>\n</html>\n"
    };
}
/// The page's end, without facts ...
pub(super) const END: &str = end!();
/// ... and after them.
pub(super) const FACTS_AND_END: &str = concat!("</p>\n", end!());

/// The length of the page's text up to the hops, but for the reason
/// phrase in its two status lines (each the status, a space, the phrase).
pub(super) const HEAD_LEN: usize = HEAD.len() + TITLE_TO_H1.len() + H1_TO_HOPS.len() + 2 * 4;

/// At least the length of the page's text from the hops on, but for the
/// caller's values (the upstream's name, details, request id), the kind
/// and the retry hint's field value: the HTML buffer is sized from it
/// instead of from a walk through the page's pieces. Generous; a test
/// checks it against every kind of page.
pub(super) const REST_MAX_LEN: usize = 832;

/// `Content-Security-Policy` of HTML error pages: nothing may load or run;
/// only the page's own style applies, allowed by its SHA-256 hash (CSP
/// Level 3, `hash-source`), not by `'unsafe-inline'`. No forms may submit,
/// no `<base>` may change where links go, no page may frame it.
pub(crate) const CONTENT_SECURITY_POLICY: &str = {
    const PREFIX: &[u8] = b"default-src 'none'; style-src 'sha256-";
    const SUFFIX: &[u8] = b"'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
    const HASH: [u8; 44] = sha256_base64(STYLE.as_bytes());
    const LEN: usize = PREFIX.len() + HASH.len() + SUFFIX.len();
    const BYTES: [u8; LEN] = {
        let mut out = [0u8; LEN];
        let mut i = 0;
        while i < LEN {
            out[i] = if i < PREFIX.len() {
                PREFIX[i]
            } else if i < PREFIX.len() + HASH.len() {
                HASH[i - PREFIX.len()]
            } else {
                SUFFIX[i - PREFIX.len() - HASH.len()]
            };
            i += 1;
        }
        out
    };
    match std::str::from_utf8(&BYTES) {
        Ok(policy) => policy,
        Err(_) => panic!("the policy is ASCII"),
    }
};

/// The hop that failed and why, in the words the page uses: decided from
/// the status, the kind and whether the upstream answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Failure {
    /// The gateway's own fault: its configuration, a loop, a request it
    /// refused, a 500.
    Gateway,
    /// The upstream could not be reached (the request was not sent).
    Unreachable,
    /// No connection in time (the request was not sent).
    ConnectTimeout,
    /// No answer in time: the upstream may still be working on it.
    Timeout,
    /// Unavailable, overloaded or out of connections.
    Unavailable,
    /// The upstream answered with an error status.
    Answered,
    /// The upstream's answer could not be used.
    BadAnswer,
}

/// The text after the upstream's name: its state, and what happened, in a
/// paragraph left open (the advice after it closes it); the second closes
/// it and opens one for the caller's details.
macro_rules! happened {
    ($state:literal, $sentence:literal) => {
        (
            concat!(
                "</span><span class=\"s\">",
                $state,
                "</span></li>\n</ol>\n<h2>What happened</h2>\n<p>",
                $sentence
            ),
            concat!(
                "</span><span class=\"s\">",
                $state,
                "</span></li>\n</ol>\n<h2>What happened</h2>\n<p>",
                $sentence,
                "</p>\n<p>"
            ),
        )
    };
}

impl Failure {
    pub(super) fn of(
        status: StatusCode,
        kind: Option<ProxyError>,
        received_status: Option<StatusCode>,
    ) -> Self {
        use ProxyError::*;
        let gateways_own = kind.is_some_and(|kind| {
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
        let not_sent = kind.map(ProxyError::phase) == Some(Phase::NotSent);
        match status {
            StatusCode::INTERNAL_SERVER_ERROR => Self::Gateway,
            _ if gateways_own => Self::Gateway,
            StatusCode::SERVICE_UNAVAILABLE => Self::Unavailable,
            StatusCode::GATEWAY_TIMEOUT if not_sent => Self::ConnectTimeout,
            StatusCode::GATEWAY_TIMEOUT => Self::Timeout,
            _ if received_status.is_some() => Self::Answered,
            _ if not_sent => Self::Unreachable,
            _ => Self::BadAnswer,
        }
    }

    /// The gateway's hop and the start of the upstream's, up to its name.
    pub(super) const fn hops(self) -> &'static str {
        match self {
            Self::Gateway => gateway_failed!(),
            _ => upstream_failed!(),
        }
    }

    /// After the upstream's name: its state, and what happened in plain
    /// words; with `details`, the start of their paragraph too.
    pub(super) const fn happened(self, details: bool) -> &'static str {
        let (alone, with_details) = match self {
            Self::Gateway => happened!(
                "Not reached",
                "This site ran into a problem of its own and could not finish your request."
            ),
            Self::Unreachable => happened!(
                "Unreachable",
                "This site could not reach the service behind it, so your request was not passed on."
            ),
            Self::ConnectTimeout => happened!(
                "No answer in time",
                "The service behind this site did not answer in time, so your request was not passed on."
            ),
            Self::Timeout => happened!(
                "No answer in time",
                "The service behind this site did not answer in time. It may still be working on your request."
            ),
            Self::Unavailable => happened!(
                "Unavailable",
                "The service behind this site is not available at the moment."
            ),
            Self::Answered => happened!(
                "Error",
                "The service behind this site answered with an error."
            ),
            Self::BadAnswer => happened!(
                "Bad answer",
                "The service behind this site sent an answer this site could not use."
            ),
        };
        if details { with_details } else { alone }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_the_style_by_its_hash() {
        assert_eq!(
            CONTENT_SECURITY_POLICY,
            format!(
                "default-src 'none'; style-src 'sha256-{}'; base-uri 'none'; \
                 form-action 'none'; frame-ancestors 'none'",
                std::str::from_utf8(&sha256_base64(STYLE.as_bytes())).expect("ascii")
            )
        );
        assert!(HEAD.contains(&format!("<style>{STYLE}</style>")));
        // Nothing in the style ends the element early or needs escaping.
        assert!(!STYLE.contains('<') && !STYLE.contains('&'));
    }
}
