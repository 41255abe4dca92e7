//! Hostile cases: the strategies for every caller-controlled field, and
//! the `Case` they build (its error, its policy, what must come out).

use super::*;

pub(crate) const NASTY: &[char] = &[
    '\r',
    '\n',
    '\0',
    '\t',
    '\u{b}',
    '\u{1b}',
    '\u{7f}',
    '\u{85}',
    '\u{9f}',
    '<',
    '>',
    '&',
    '"',
    '\'',
    '\\',
    '/',
    '%',
    '#',
    ';',
    ',',
    '=',
    ':',
    '?',
    '*',
    ' ',
    '\u{a0}',
    '\u{2028}',
    '\u{2029}',
    '\u{200b}',
    '\u{202e}',
    '\u{feff}',
    '\u{fffd}',
    '\u{fffe}',
    '\u{ffff}',
    '\u{fdd0}',
    '\u{fdef}',
    '\u{1fffe}',
    '\u{10ffff}',
    '\u{301}',
    'é',
    '€',
    'ß',
    '😀',
    '🏳',
    '\u{d7ff}',
    '\u{e000}',
    'a',
    'Z',
    '0',
];

pub(crate) fn nasty_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(NASTY),
        1 => any::<char>(),
    ]
}

pub(crate) fn nasty_string(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(nasty_char(), len).prop_map(String::from_iter)
}

/// Arbitrary strings, strings of nasty characters, and strings well over
/// every cap (up to 6 KiB, multi-byte characters straddling the cut).
pub(crate) fn text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => any::<String>(),
        4 => nasty_string(0..48),
        1 => nasty_string(100..600),
        1 => (nasty_string(1..4), 200usize..1500).prop_map(|(unit, n)| unit.repeat(n)),
        1 => (prop::sample::select(&['a', 'é', '€', '😀'][..]), 1000usize..1100)
            .prop_map(|(c, n)| std::iter::repeat_n(c, n).collect()),
    ]
    .boxed()
}

/// Request ids: mostly visible ASCII (so the context accepts them), some
/// over the cap, some arbitrary.
pub(crate) fn request_id() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[!-~]{1,140}",
        2 => text(),
        1 => Just(String::new()),
    ]
    .boxed()
}

pub(crate) fn kind() -> impl Strategy<Value = ProxyError> {
    prop::sample::select(ProxyError::VARIANTS)
}

pub(crate) fn retry_after() -> impl Strategy<Value = Option<RetryAfter>> {
    prop_oneof![
        Just(None),
        any::<u32>().prop_map(|s| Some(RetryAfter::from_secs(s))),
        (0u64..=253_402_300_799)
            .prop_map(|s| Some(RetryAfter::at(UNIX_EPOCH + Duration::from_secs(s)))),
    ]
}

/// Bytes a `HeaderValue` may hold: tab, visible ASCII, space, obs-text.
pub(crate) fn header_bytes(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    let allowed: Vec<u8> = std::iter::once(b'\t')
        .chain(0x20..=0x7e)
        .chain(0x80..=0xff)
        .collect();
    prop::collection::vec(prop::sample::select(allowed), len)
}

/// Upstream `Proxy-Status` fields: valid lists of tokens and strings with
/// parameters, list syntax soup, arbitrary header bytes, and long ones
/// around [`MAX_PROXY_STATUS_LEN`].
pub(crate) fn upstream_proxy_status() -> BoxedStrategy<Option<HeaderValue>> {
    let member = (
        prop_oneof![
            "[a-z*][a-z0-9_.:/%-]{0,12}",
            "\"[ !#-\\[\\]-~]{0,12}\"",
            "\\([a-z ]{0,8}\\)",
            "[0-9]{1,4}",
            "\\?[01]",
        ],
        prop::collection::vec(
            (
                "[a-z*][a-z0-9_.*-]{0,8}",
                prop_oneof![
                    Just(String::new()),
                    "=[a-z][a-z0-9_]{0,10}",
                    "=\"[ -!#-\\[\\]-~]{0,10}\"",
                    "=-?[0-9]{1,5}",
                    "=[0-9]{1,3}\\.[0-9]{1,3}",
                    "=\\?[01]",
                    "=:[A-Za-z0-9+/]{0,8}=*:",
                ],
            ),
            0..3,
        ),
    )
        .prop_map(|(item, params)| {
            let mut s = item;
            for (key, value) in params {
                s.push(';');
                s.push_str(&key);
                s.push_str(&value);
            }
            s
        });
    let list = (
        prop::collection::vec(member, 1..6),
        prop::sample::select(&[",", ", ", " ,  ", ",\t"][..]),
    )
        .prop_map(|(members, sep)| members.join(sep));
    let long = (4000usize..4200).prop_map(|n| {
        let mut s = "a".repeat(n);
        // "aaa…aa" is one token: valid, and kept only up to the cap.
        s.replace_range(0..1, "b");
        s
    });
    prop_oneof![
        1 => Just(None),
        4 => list.prop_map(|s| HeaderValue::from_str(&s).ok()),
        2 => header_bytes(0..40).prop_map(|b| HeaderValue::from_bytes(&b).ok()),
        1 => long.prop_map(|s| HeaderValue::from_str(&s).ok()),
    ]
    .boxed()
}

#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) kind: Option<ProxyError>,
    pub(crate) details: String,
    pub(crate) upstream: String,
    pub(crate) next_hop: Option<String>,
    pub(crate) error_id: Option<String>,
    pub(crate) context_id: String,
    pub(crate) proxy_name: String,
    pub(crate) received: Option<u16>,
    pub(crate) retry_after: Option<RetryAfter>,
    pub(crate) upstream_status: Option<HeaderValue>,
    pub(crate) show_names: bool,
}

pub(crate) fn case() -> impl Strategy<Value = Case> {
    (
        (
            prop::option::weighted(0.8, kind()),
            text(),
            text(),
            prop::option::of(text()),
        ),
        (prop::option::of(request_id()), request_id(), text()),
        (
            prop::option::of(prop::sample::select(&[200u16, 404, 500, 502, 503][..])),
            retry_after(),
            upstream_proxy_status(),
            prop::bool::weighted(0.8),
        ),
    )
        .prop_map(
            |(
                (kind, details, upstream, next_hop),
                (error_id, context_id, proxy_name),
                (received, retry_after, upstream_status, show_names),
            )| Case {
                kind,
                details,
                upstream,
                next_hop,
                error_id,
                context_id,
                proxy_name,
                received,
                retry_after,
                upstream_status,
                show_names,
            },
        )
}

impl Case {
    pub(crate) fn error(&self) -> GatewayError {
        let mut err = match self.kind {
            Some(kind) => GatewayError::from_kind(self.upstream.clone(), kind),
            None => GatewayError::from(gateway_error::BadGateway::upstream(self.upstream.clone())),
        }
        .with_details(self.details.clone());
        if let Some(hop) = &self.next_hop {
            err = err.with_next_hop(hop.clone());
        }
        if let Some(id) = &self.error_id {
            err = err.with_request_id(id.clone());
        }
        if let Some(status) = self.received {
            err = err.with_received_status(StatusCode::from_u16(status).expect("valid"));
        }
        if let Some(retry_after) = self.retry_after {
            err = err.with_retry_after(retry_after);
        }
        if let Some(value) = &self.upstream_status {
            err = err.with_upstream_proxy_status(value.clone());
        }
        err
    }

    pub(crate) fn policy(&self) -> Policy {
        Policy::new()
            .with_proxy_name(self.proxy_name.clone())
            .with_upstream_names(self.show_names)
            .with_problem_type_base("https://errors.example.com/")
    }

    pub(crate) fn expected_details(&self) -> String {
        sanitized(&self.details, MAX_DETAILS_LEN)
    }

    pub(crate) fn expected_upstream(&self) -> Option<String> {
        self.show_names
            .then(|| sanitized(&self.upstream, MAX_NAME_LEN))
    }

    pub(crate) fn expected_request_id(&self) -> Option<String> {
        self.error_id
            .as_deref()
            .and_then(sanitized_request_id)
            .or_else(|| valid_context_id(&self.context_id).then(|| self.context_id.clone()))
    }
}
