//! Property tests: hostile text in every field, arbitrary `Accept` headers,
//! arbitrary upstream responses for the client-side parser, and
//! `Retry-After` round trips.
//!
//! Every expectation is computed here, independently of the crate: the
//! sanitizing rules (from their documentation), the HTML page's element
//! tree, `Accept` acceptability and the HTTP date forms. Third-party parsers
//! check the output: `serde_json`, `html5ever` (through a small tree sink
//! below), `sfv` and `sfparse` (`parse_proxy_status`).
//!
//! Case counts are bounded so the whole file runs in a few seconds in debug.

use std::cell::{Ref, RefCell};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use gateway_error::{
    Format, GatewayError, MAX_DETAILS_LEN, MAX_NAME_LEN, MAX_PROXY_STATUS_LEN, MAX_REQUEST_ID_LEN,
    ParseErrorKind, Policy, ProxyError, RenderContext, RetryAfter, parse, render,
};
use gateway_error_tests::validators::{
    SfValue, check_problem_json, html5_parse_errors, parse_proxy_status,
};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError};
use serde_json::Value;
use strum::VariantArray;

/// Bounded runs; no persistence file is written (failing cases found so far
/// are kept as plain `#[test]`s at the end of this file). `PROPTEST_CASES`
/// overrides the count for a longer run:
/// `PROPTEST_CASES=20000 cargo test --release -p gateway-error-tests --test properties`.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// The documented sanitizing rules, written independently of the crate
// ---------------------------------------------------------------------------

/// Control characters (Unicode `Cc`: U+0000..=U+001F, U+007F..=U+009F) and
/// noncharacters (U+FDD0..=U+FDEF and the last two code points of every
/// plane).
fn forbidden(c: char) -> bool {
    let u = u32::from(c);
    u <= 0x1f
        || (0x7f..=0x9f).contains(&u)
        || (0xfdd0..=0xfdef).contains(&u)
        || u & 0xfffe == 0xfffe
}

/// The longest prefix of whole characters that fits in `max` bytes.
fn cut(s: &str, max: usize) -> &str {
    let mut end = 0;
    for c in s.chars() {
        if end + c.len_utf8() > max {
            break;
        }
        end += c.len_utf8();
    }
    &s[..end]
}

/// Details, upstream names, next hops: cut to the cap on a character
/// boundary, forbidden characters become spaces.
fn sanitized(s: &str, max: usize) -> String {
    cut(s, max)
        .chars()
        .map(|c| if forbidden(c) { ' ' } else { c })
        .collect()
}

/// A request id set on an error: visible ASCII, every other character
/// becomes `_`, at most 128 bytes; an empty id is dropped.
fn sanitized_request_id(s: &str) -> Option<String> {
    let mapped: String = s
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .take(MAX_REQUEST_ID_LEN)
        .collect();
    (!mapped.is_empty()).then_some(mapped)
}

/// A request id given to the render context is used only when it is
/// already valid: 1..=128 bytes of visible ASCII.
fn valid_context_id(s: &str) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&s.len()) && s.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// RFC 8941 Strings are printable ASCII: a sanitized name with every other
/// character as `?`.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect()
}

/// The name a policy keeps for `Proxy-Status`: sanitized, printable ASCII,
/// `None` when only spaces are left.
fn expected_proxy_name(s: &str) -> Option<String> {
    let name = printable(&sanitized(s, MAX_NAME_LEN));
    (!name.trim_matches(' ').is_empty()).then_some(name)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

const NASTY: &[char] = &[
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

fn nasty_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(NASTY),
        1 => any::<char>(),
    ]
}

fn nasty_string(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(nasty_char(), len).prop_map(String::from_iter)
}

/// Arbitrary strings, strings of nasty characters, and strings well over
/// every cap (up to 6 KiB, multi-byte characters straddling the cut).
fn text() -> BoxedStrategy<String> {
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
fn request_id() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[!-~]{1,140}",
        2 => text(),
        1 => Just(String::new()),
    ]
    .boxed()
}

fn kind() -> impl Strategy<Value = ProxyError> {
    prop::sample::select(ProxyError::VARIANTS)
}

fn retry_after() -> impl Strategy<Value = Option<RetryAfter>> {
    prop_oneof![
        Just(None),
        any::<u32>().prop_map(|s| Some(RetryAfter::from_secs(s))),
        (0u64..=253_402_300_799)
            .prop_map(|s| Some(RetryAfter::at(UNIX_EPOCH + Duration::from_secs(s)))),
    ]
}

/// Bytes a `HeaderValue` may hold: tab, visible ASCII, space, obs-text.
fn header_bytes(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    let allowed: Vec<u8> = std::iter::once(b'\t')
        .chain(0x20..=0x7e)
        .chain(0x80..=0xff)
        .collect();
    prop::collection::vec(prop::sample::select(allowed), len)
}

/// Upstream `Proxy-Status` fields: valid lists of tokens and strings with
/// parameters, list syntax soup, arbitrary header bytes, and long ones
/// around [`MAX_PROXY_STATUS_LEN`].
fn upstream_proxy_status() -> BoxedStrategy<Option<HeaderValue>> {
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
struct Case {
    kind: Option<ProxyError>,
    details: String,
    upstream: String,
    next_hop: Option<String>,
    error_id: Option<String>,
    context_id: String,
    proxy_name: String,
    received: Option<u16>,
    retry_after: Option<RetryAfter>,
    upstream_status: Option<HeaderValue>,
    show_names: bool,
}

fn case() -> impl Strategy<Value = Case> {
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
    fn error(&self) -> GatewayError {
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

    fn policy(&self) -> Policy {
        Policy::new()
            .with_proxy_name(self.proxy_name.clone())
            .with_upstream_names(self.show_names)
            .with_problem_type_base("https://errors.example.com/")
    }

    fn expected_details(&self) -> String {
        sanitized(&self.details, MAX_DETAILS_LEN)
    }

    fn expected_upstream(&self) -> Option<String> {
        self.show_names
            .then(|| sanitized(&self.upstream, MAX_NAME_LEN))
    }

    fn expected_request_id(&self) -> Option<String> {
        self.error_id
            .as_deref()
            .and_then(sanitized_request_id)
            .or_else(|| valid_context_id(&self.context_id).then(|| self.context_id.clone()))
    }
}

// ---------------------------------------------------------------------------
// Checks shared by the properties
// ---------------------------------------------------------------------------

/// The longest body any error can have: a fixed allowance for the
/// template and every non-caller value, plus each capped caller value at
/// the worst escaping expansion (6 bytes per byte: `&quot;`, `\u00XX`),
/// counting the request id twice (problem+json has it in `instance`, as
/// `%XX`, and in `request_id`). The HTML page's template, with its style,
/// is the largest: about 3 KiB.
const MAX_BODY: usize = 4096 + 6 * (MAX_DETAILS_LEN + MAX_NAME_LEN + 2 * MAX_REQUEST_ID_LEN);

fn longest_kind() -> usize {
    ProxyError::VARIANTS
        .iter()
        .map(|k| k.as_str().len())
        .max()
        .unwrap_or(0)
}

/// The longest member this gateway adds to `Proxy-Status`: its name and the
/// next hop as fully escaped Strings, the longest error token, a status.
fn max_own_member() -> usize {
    (2 + 2 * MAX_NAME_LEN)
        + ";error=".len()
        + longest_kind()
        + ";next-hop=".len()
        + (2 + 2 * MAX_NAME_LEN)
        + ";received-status=".len()
        + 3
}

fn check_headers(response: &Response<Bytes>) -> Result<(), TestCaseError> {
    for (name, value) in response.headers() {
        let text = value.to_str();
        prop_assert!(text.is_ok(), "{name}: {value:?} is not visible ASCII");
        prop_assert!(
            !value
                .as_bytes()
                .iter()
                .any(|b| matches!(b, b'\r' | b'\n' | 0)),
            "{name}: {value:?}"
        );
    }
    let length = response.headers()["content-length"].to_str().unwrap_or("");
    prop_assert_eq!(length, response.body().len().to_string());
    Ok(())
}

fn json(body: &[u8]) -> Result<Value, TestCaseError> {
    serde_json::from_slice(body).map_err(|e| TestCaseError::fail(format!("not JSON: {e}")))
}

fn text_of(body: &[u8]) -> Result<&str, TestCaseError> {
    std::str::from_utf8(body).map_err(|e| TestCaseError::fail(format!("not UTF-8: {e}")))
}

/// The members of an upstream field the renderer may forward: the field
/// parses as an RFC 8941 List (by `sfv`) and fits the cap; Token and String
/// items only. With upstream names hidden, each is renamed `upstream` and
/// keeps just an `error` that is a registry token and RFC 9209's Integer
/// parameters. The renderer forwards the newest of them that fit beside
/// its own member within the cap.
fn kept_upstream_members(value: Option<&HeaderValue>, show_names: bool) -> Vec<sfv::ListEntry> {
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
    let Some(value) = value.filter(|v| v.len() <= MAX_PROXY_STATUS_LEN) else {
        return Vec::new();
    };
    let Ok(list) = sfv::Parser::new(value.as_bytes())
        .with_version(sfv::Version::Rfc8941)
        .parse::<sfv::List>()
    else {
        return Vec::new();
    };
    list.into_iter()
        .filter_map(|member| {
            let sfv::ListEntry::Item(mut item) = member else {
                return None;
            };
            match item.bare_item {
                sfv::BareItem::Token(_) | sfv::BareItem::String(_) => {}
                _ => return None,
            }
            if !show_names {
                item.bare_item =
                    sfv::BareItem::Token(sfv::Token::from_string("upstream".into()).ok()?);
                item.params.retain(|key, value| match value {
                    sfv::BareItem::Token(token) => {
                        key.as_str() == "error" && token.as_str().parse::<ProxyError>().is_ok()
                    }
                    sfv::BareItem::Integer(_) => INTEGER_PARAMS.contains(&key.as_str()),
                    _ => false,
                });
            }
            Some(sfv::ListEntry::Item(item))
        })
        .collect()
}

fn check_proxy_status(case: &Case, response: &Response<Bytes>) -> Result<(), TestCaseError> {
    let header = response.headers().get("proxy-status");
    let Some(name) = expected_proxy_name(&case.proxy_name) else {
        prop_assert!(header.is_none(), "no proxy name, yet {header:?}");
        return Ok(());
    };
    let Some(header) = header else {
        return Err(TestCaseError::fail("a proxy name but no Proxy-Status"));
    };
    let value = header
        .to_str()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(
        value.len() <= MAX_PROXY_STATUS_LEN,
        "Proxy-Status is {} bytes",
        value.len()
    );

    // sfv reads it, and the upstream's Token/String members come first.
    let list: sfv::List = sfv::Parser::new(value.as_bytes())
        .with_version(sfv::Version::Rfc8941)
        .parse()
        .map_err(|e| TestCaseError::fail(format!("sfv: {e} in {value:?}")))?;
    // Ours is bounded whatever the names, so it always fits.
    let mut ours = sfv::ListSerializer::new();
    ours.members(list.last());
    prop_assert!(ours.finish().unwrap_or_default().len() <= max_own_member());
    // The newest that fit: a suffix of the upstream's, and one more would
    // not fit.
    let kept = kept_upstream_members(case.upstream_status.as_ref(), case.show_names);
    let forwarded = &list[..list.len() - 1];
    prop_assert!(kept.ends_with(forwarded), "{}", value);
    if let Some(next) = kept
        .len()
        .checked_sub(forwarded.len() + 1)
        .map(|i| &kept[i])
    {
        let mut one = sfv::ListSerializer::new();
        one.members([next]);
        let one = one.finish().unwrap_or_default();
        prop_assert!(
            value.len() + one.len() + 2 > MAX_PROXY_STATUS_LEN,
            "{} fits in {}",
            one,
            value
        );
    }

    // sfparse reads it, and our member says what it should.
    let members = parse_proxy_status(value).map_err(TestCaseError::fail)?;
    let ours = members.last().expect("at least ours");
    prop_assert_eq!(&ours.name, &name);
    let mut params = Vec::new();
    if let Some(kind) = case.kind {
        params.push(("error".to_owned(), SfValue::Token(kind.as_str().to_owned())));
    }
    if case.show_names {
        let hop = case.next_hop.as_deref().unwrap_or(&case.upstream);
        params.push((
            "next-hop".to_owned(),
            SfValue::String(printable(&sanitized(hop, MAX_NAME_LEN))),
        ));
    }
    if let Some(status) = case.received {
        params.push((
            "received-status".to_owned(),
            SfValue::Integer(i64::from(status)),
        ));
    }
    prop_assert_eq!(&ours.params, &params, "{}", value);
    Ok(())
}

// ---------------------------------------------------------------------------
// A minimal DOM built by html5ever's tree builder
// ---------------------------------------------------------------------------

mod dom {
    use super::{Ref, RefCell};
    use html5ever::tendril::{StrTendril, TendrilSink as _};
    use html5ever::tree_builder::{ElementFlags, NodeOrText, QuirksMode, TreeSink};
    use html5ever::{Attribute, LocalName, Namespace, ParseOpts, QualName};
    use std::borrow::Cow;

    /// A parsed node, as the tests compare it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) enum Tree {
        Doctype(String),
        Element(String, Vec<(String, String)>, Vec<Tree>),
        Text(String),
        Comment(String),
    }

    enum Data {
        Document,
        Doctype(String),
        Element(QualName, Vec<(String, String)>),
        Text(String),
        Comment(String),
        Other,
    }

    struct Node {
        /// The element's name (a placeholder for other nodes), for `elem_name`.
        name: QualName,
        data: Data,
        parent: Option<usize>,
        children: Vec<usize>,
        template_contents: Option<usize>,
    }

    struct Sink {
        nodes: RefCell<Vec<Node>>,
        placeholder: QualName,
    }

    impl Sink {
        fn push(&self, data: Data) -> usize {
            let name = match &data {
                Data::Element(name, _) => name.clone(),
                _ => self.placeholder.clone(),
            };
            let mut nodes = self.nodes.borrow_mut();
            nodes.push(Node {
                name,
                data,
                parent: None,
                children: Vec::new(),
                template_contents: None,
            });
            nodes.len() - 1
        }

        fn detach(nodes: &mut [Node], child: usize) {
            if let Some(parent) = nodes[child].parent.take() {
                nodes[parent].children.retain(|&c| c != child);
            }
        }

        /// Inserts at `index` among `parent`'s children, merging text with
        /// the text node before it.
        fn insert(&self, parent: usize, index: usize, child: NodeOrText<usize>) {
            let id = match child {
                NodeOrText::AppendText(text) => {
                    let mut nodes = self.nodes.borrow_mut();
                    if let Some(&prev) = index
                        .checked_sub(1)
                        .and_then(|i| nodes[parent].children.get(i))
                    {
                        if let Data::Text(existing) = &mut nodes[prev].data {
                            existing.push_str(&text);
                            return;
                        }
                    }
                    drop(nodes);
                    self.push(Data::Text(text.to_string()))
                }
                NodeOrText::AppendNode(node) => node,
            };
            let mut nodes = self.nodes.borrow_mut();
            Self::detach(&mut nodes, id);
            let index = index.min(nodes[parent].children.len());
            nodes[parent].children.insert(index, id);
            nodes[id].parent = Some(parent);
        }

        fn tree(&self, id: usize) -> Option<Tree> {
            let nodes = self.nodes.borrow();
            let node = &nodes[id];
            let children = || {
                node.children
                    .iter()
                    .filter_map(|&c| self.tree(c))
                    .collect::<Vec<_>>()
            };
            Some(match &node.data {
                Data::Document | Data::Other => return None,
                Data::Doctype(name) => Tree::Doctype(name.clone()),
                Data::Element(name, attrs) => {
                    Tree::Element(name.local.to_string(), attrs.clone(), children())
                }
                Data::Text(text) => Tree::Text(text.clone()),
                Data::Comment(text) => Tree::Comment(text.clone()),
            })
        }
    }

    impl TreeSink for Sink {
        type Handle = usize;
        type Output = Vec<Tree>;
        type ElemName<'a> = Ref<'a, QualName>;

        fn finish(self) -> Vec<Tree> {
            let children = self.nodes.borrow()[0].children.clone();
            children.into_iter().filter_map(|c| self.tree(c)).collect()
        }

        fn parse_error(&self, _msg: Cow<'static, str>) {}

        fn get_document(&self) -> usize {
            0
        }

        fn elem_name<'a>(&'a self, target: &'a usize) -> Ref<'a, QualName> {
            Ref::map(self.nodes.borrow(), |nodes| &nodes[*target].name)
        }

        fn create_element(
            &self,
            name: QualName,
            attrs: Vec<Attribute>,
            flags: ElementFlags,
        ) -> usize {
            let attrs = attrs
                .into_iter()
                .map(|a| (a.name.local.to_string(), a.value.to_string()))
                .collect();
            let id = self.push(Data::Element(name, attrs));
            if flags.template {
                let contents = self.push(Data::Other);
                self.nodes.borrow_mut()[id].template_contents = Some(contents);
            }
            id
        }

        fn create_comment(&self, text: StrTendril) -> usize {
            self.push(Data::Comment(text.to_string()))
        }

        fn create_pi(&self, _target: StrTendril, _data: StrTendril) -> usize {
            self.push(Data::Other)
        }

        fn append(&self, parent: &usize, child: NodeOrText<usize>) {
            let len = self.nodes.borrow()[*parent].children.len();
            self.insert(*parent, len, child);
        }

        fn append_based_on_parent_node(
            &self,
            element: &usize,
            prev_element: &usize,
            child: NodeOrText<usize>,
        ) {
            if self.nodes.borrow()[*element].parent.is_some() {
                self.append_before_sibling(element, child);
            } else {
                self.append(prev_element, child);
            }
        }

        fn append_doctype_to_document(
            &self,
            name: StrTendril,
            _public_id: StrTendril,
            _system_id: StrTendril,
        ) {
            let id = self.push(Data::Doctype(name.to_string()));
            self.append(&0, NodeOrText::AppendNode(id));
        }

        fn get_template_contents(&self, target: &usize) -> usize {
            self.nodes.borrow()[*target]
                .template_contents
                .unwrap_or(*target)
        }

        fn same_node(&self, x: &usize, y: &usize) -> bool {
            x == y
        }

        fn set_quirks_mode(&self, _mode: QuirksMode) {}

        fn append_before_sibling(&self, sibling: &usize, child: NodeOrText<usize>) {
            let (parent, index) = {
                let nodes = self.nodes.borrow();
                let Some(parent) = nodes[*sibling].parent else {
                    return;
                };
                let index = nodes[parent]
                    .children
                    .iter()
                    .position(|c| c == sibling)
                    .unwrap_or(0);
                (parent, index)
            };
            self.insert(parent, index, child);
        }

        fn add_attrs_if_missing(&self, target: &usize, attrs: Vec<Attribute>) {
            let mut nodes = self.nodes.borrow_mut();
            if let Data::Element(_, existing) = &mut nodes[*target].data {
                for a in attrs {
                    let name = a.name.local.to_string();
                    if !existing.iter().any(|(n, _)| *n == name) {
                        existing.push((name, a.value.to_string()));
                    }
                }
            }
        }

        fn remove_from_parent(&self, target: &usize) {
            Self::detach(&mut self.nodes.borrow_mut(), *target);
        }

        fn reparent_children(&self, node: &usize, new_parent: &usize) {
            let children = std::mem::take(&mut self.nodes.borrow_mut()[*node].children);
            for child in children {
                self.nodes.borrow_mut()[child].parent = None;
                self.append(new_parent, NodeOrText::AppendNode(child));
            }
        }
    }

    /// Parses a document and returns its top-level nodes.
    pub(crate) fn parse(html: &str) -> Vec<Tree> {
        let placeholder = QualName::new(None, Namespace::from(""), LocalName::from(""));
        let sink = Sink {
            nodes: RefCell::new(vec![Node {
                name: placeholder.clone(),
                data: Data::Document,
                parent: None,
                children: Vec::new(),
                template_contents: None,
            }]),
            placeholder,
        };
        html5ever::parse_document(sink, ParseOpts::default()).one(html)
    }

    /// Drops the whitespace-only text nodes directly under `html`, `head`
    /// and `body` (the template's line breaks); text anywhere else is kept.
    pub(crate) fn strip_layout(nodes: Vec<Tree>) -> Vec<Tree> {
        nodes
            .into_iter()
            .filter_map(|node| match node {
                Tree::Element(name, attrs, children)
                    if matches!(name.as_str(), "html" | "head" | "body" | "main" | "ol") =>
                {
                    let children = strip_layout(
                        children
                            .into_iter()
                            .filter(|c| !matches!(c, Tree::Text(t) if t.trim_matches(['\n', ' ']).is_empty()))
                            .collect(),
                    );
                    Some(Tree::Element(name, attrs, children))
                }
                Tree::Text(t) if t.trim_matches(['\n', ' ']).is_empty() => None,
                other => Some(other),
            })
            .collect()
    }
}

use dom::Tree;

fn el(name: &str, attrs: &[(&str, &str)], children: Vec<Tree>) -> Tree {
    Tree::Element(
        name.to_owned(),
        attrs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        children,
    )
}

fn txt(s: &str) -> Vec<Tree> {
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
fn retry_cannot_help(err: &GatewayError, retry_after: Option<RetryAfter>) -> bool {
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
fn page_style() -> String {
    let err: GatewayError = gateway_error::BadGateway::new().into();
    let page = render(&err, &RenderContext::new().with_format(Format::Html));
    let page = std::str::from_utf8(page.body()).expect("UTF-8");
    let start = page.find("<style>").expect("a style") + "<style>".len();
    let end = page.find("</style>").expect("its end");
    page[start..end].to_owned()
}

/// "now", "in 30 seconds", "in about 2 minutes"...: seconds exact, longer
/// delays rounded to the nearest minute, hour or day.
fn when(retry_after: Option<RetryAfter>) -> String {
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
fn expected_failure(err: &GatewayError) -> (bool, &'static str, &'static str) {
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

fn hop(class: &str, name: &str, state: &str) -> Tree {
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
fn expected_page(
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

// ---------------------------------------------------------------------------
// Properties: hostile text in every field
// ---------------------------------------------------------------------------

fn check_all_formats(case: &Case) -> Result<(), TestCaseError> {
    let err = case.error();
    let policy = case.policy();
    let details = case.expected_details();
    let upstream = case.expected_upstream();
    let request_id = case.expected_request_id();

    for format in Format::ALL {
        let ctx = RenderContext::new()
            .with_format(format)
            .with_policy(&policy)
            .with_method(&Method::GET)
            .with_request_id(&case.context_id);
        let response = render(&err, &ctx);
        prop_assert_eq!(response.status(), err.status());
        check_headers(&response)?;
        check_proxy_status(case, &response)?;
        let body = response.body();
        prop_assert!(
            body.len() <= MAX_BODY,
            "{format:?} body is {} bytes",
            body.len()
        );
        match format {
            Format::Json => {
                let value = json(body)?;
                let error = &value["error"];
                prop_assert_eq!(error["details"].as_str(), Some(details.as_str()));
                prop_assert_eq!(error["upstream"].as_str(), upstream.as_deref());
                prop_assert_eq!(error["request_id"].as_str(), request_id.as_deref());
            }
            Format::ProblemJson => {
                check_problem_json(body).map_err(TestCaseError::fail)?;
                let value = json(body)?;
                prop_assert_eq!(value["detail"].as_str(), Some(details.as_str()));
                prop_assert_eq!(value["upstream"].as_str(), upstream.as_deref());
                prop_assert_eq!(value["request_id"].as_str(), request_id.as_deref());
                let instance = value["instance"]
                    .as_str()
                    .map(|i| i.strip_prefix('#').and_then(percent_decode));
                prop_assert_eq!(instance, request_id.clone().map(Some));
            }
            Format::Html => {
                let page = text_of(body)?;
                let errors = html5_parse_errors(page);
                prop_assert!(errors.is_empty(), "{errors:?}\n{page}");
                let tree = dom::strip_layout(dom::parse(page));
                let expected = expected_page(
                    &err,
                    &details,
                    upstream.as_deref(),
                    case.retry_after,
                    request_id.as_deref(),
                );
                prop_assert_eq!(tree, expected, "{}", page);
            }
            Format::Text => {
                let text = text_of(body)?;
                let lines: Vec<&str> = text.split('\n').collect();
                prop_assert_eq!(lines.get(1).copied(), Some(details.as_str()));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    /// Hostile details, upstream names, next hops, request ids (on the
    /// error and on the context), proxy names and upstream `Proxy-Status`
    /// fields, rendered in every format.
    #[test]
    fn hostile_text_renders_safely_in_every_format(case in case()) {
        check_all_formats(&case)?;
    }

    /// HEAD gets the same headers as GET and no body.
    #[test]
    fn head_has_get_headers_and_no_body(case in case()) {
        let err = case.error();
        let policy = case.policy();
        for format in Format::ALL {
            let ctx = RenderContext::new().with_format(format).with_policy(&policy);
            let get = render(&err, &ctx.with_method(&Method::GET));
            let head = render(&err, &ctx.with_method(&Method::HEAD));
            prop_assert!(head.body().is_empty());
            prop_assert_eq!(head.headers(), get.headers());
        }
    }

    /// What the JSON formats carry comes back through the client-side
    /// parser, and rendered again it is relayed, never adopted.
    #[test]
    fn json_bodies_round_trip_through_parse(case in case()) {
        let err = case.error();
        let policy = case.policy();
        for format in [Format::Json, Format::ProblemJson] {
            let ctx = RenderContext::new()
                .with_format(format)
                .with_policy(&policy)
                .with_request_id(&case.context_id);
            let response = render(&err, &ctx);
            let back = parse(response.status(), response.headers(), response.body())
                .map_err(|e| TestCaseError::fail(format!("{format:?}: {e}")))?;
            prop_assert_eq!(back.status(), err.status());
            let (details, upstream, id) =
                (case.expected_details(), case.expected_upstream(), case.expected_request_id());
            prop_assert_eq!(back.details(), Some(details.as_str()));
            prop_assert_eq!(back.upstream_name(), upstream.as_deref());
            prop_assert_eq!(back.request_id(), id.as_deref());
            prop_assert_eq!(back.kind(), err.kind());
            prop_assert_eq!(back.retry_after(), err.retry_after());
            // The upstream's status travels in `Proxy-Status` only, which a
            // policy that names no proxy does not send, and which `parse`
            // reads only up to its cap.
            let carried = expected_proxy_name(&case.proxy_name).is_some()
                && response
                    .headers()
                    .get("proxy-status")
                    .is_some_and(|field| field.len() <= MAX_PROXY_STATUS_LEN);
            if carried {
                prop_assert_eq!(back.received_status(), err.received_status());
            }
            // A gateway that renders the parsed answer again relays it: its
            // status for the one it received, none of the answer's claims,
            // the same wait.
            let again = render(&back, &RenderContext::new().with_format(format).with_policy(&policy));
            let relayed = if err.status() == StatusCode::SERVICE_UNAVAILABLE {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::BAD_GATEWAY
            };
            prop_assert_eq!(again.status(), relayed);
            let relay = parse(again.status(), again.headers(), again.body())
                .map_err(|e| TestCaseError::fail(format!("{format:?}: {e}")))?;
            prop_assert_eq!(relay.kind(), None);
            prop_assert_eq!(relay.upstream_name(), None);
            prop_assert_eq!(relay.request_id(), None);
            prop_assert_eq!(relay.retry_after(), err.retry_after());
            if expected_proxy_name(&case.proxy_name).is_some() {
                prop_assert_eq!(relay.received_status(), Some(err.status()));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Properties: Accept negotiation
// ---------------------------------------------------------------------------

/// One media range of a generated `Accept` header, with what it means.
#[derive(Debug, Clone)]
struct GenRange {
    text: String,
    ty: &'static str,
    subtype: &'static str,
    /// Has media-type parameters other than the weight.
    has_params: bool,
    /// Has a parameter none of our formats has (anything but charset=utf-8).
    foreign: bool,
    q: u16,
}

impl GenRange {
    fn matches(&self, format: Format) -> bool {
        let (ty, subtype) = format.media_type().split_once('/').expect("type/subtype");
        !self.foreign
            && (self.ty == "*"
                || self.ty.eq_ignore_ascii_case(ty)
                    && (self.subtype == "*" || self.subtype.eq_ignore_ascii_case(subtype)))
    }

    /// `*/*` < `type/*` < `type/subtype`, each with parameters above without.
    fn specificity(&self) -> u8 {
        let level = if self.ty == "*" {
            1
        } else if self.subtype == "*" {
            2
        } else {
            3
        };
        level * 2 + u8::from(self.has_params)
    }
}

const TYPES: &[(&str, &[&str])] = &[
    ("text", &["html", "plain", "*", "css"]),
    (
        "application",
        &["json", "problem+json", "*", "xml", "vnd.api+json"],
    ),
    ("image", &["png", "*"]),
    ("*", &["*"]),
];

/// (text, foreign)
const PARAMS: &[(&str, bool)] = &[
    ("charset=utf-8", false),
    ("charset=UTF-8", false),
    ("Charset=\"utf-8\"", false),
    ("charset=\"UTF\\-8\"", false),
    ("charset=iso-8859-1", true),
    ("level=1", true),
    ("profile=\"https://example.com/a,b\"", true),
    ("format=flowed", true),
];

/// (text, thousandths)
const QVALUES: &[(&str, u16)] = &[
    ("1", 1000),
    ("1.", 1000),
    ("1.0", 1000),
    ("1.000", 1000),
    ("0", 0),
    ("0.", 0),
    ("0.0", 0),
    ("0.000", 0),
    ("0.001", 1),
    ("0.25", 250),
    ("0.5", 500),
    ("0.8", 800),
    ("0.999", 999),
];

const OWS: &[&str] = &["", "", " ", "\t", " \t "];

fn case_variant(s: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<bool>(), s.len()).prop_map(move |upper| {
        s.chars()
            .zip(upper)
            .map(|(c, u)| if u { c.to_ascii_uppercase() } else { c })
            .collect()
    })
}

fn gen_range() -> impl Strategy<Value = GenRange> {
    let ty_sub = prop::sample::select(TYPES)
        .prop_flat_map(|(ty, subs)| (Just(ty), prop::sample::select(subs)));
    (
        ty_sub,
        prop::collection::vec(
            (prop::sample::select(OWS), prop::sample::select(PARAMS)),
            0..3,
        ),
        prop::option::weighted(
            0.7,
            (
                prop::sample::select(OWS),
                prop::sample::select(&["q", "Q"][..]),
                prop::sample::select(QVALUES),
            ),
        ),
        prop::sample::select(&["", ";ext=1", "; x=\"a,b\"", ";;"][..]),
        any::<u64>(),
    )
        .prop_flat_map(|((ty, subtype), params, weight, ext, _)| {
            (case_variant(ty), case_variant(subtype)).prop_map(move |(ty_text, sub_text)| {
                let mut text = format!("{ty_text}/{sub_text}");
                let mut foreign = false;
                for (ows, (param, is_foreign)) in &params {
                    text.push_str(ows);
                    text.push(';');
                    text.push_str(ows);
                    text.push_str(param);
                    foreign |= is_foreign;
                }
                let mut q = 1000;
                if let Some((ows, key, (value, thousandths))) = weight {
                    text.push_str(ows);
                    text.push(';');
                    text.push_str(ows);
                    text.push_str(key);
                    text.push('=');
                    text.push_str(value);
                    text.push_str(ext);
                    q = thousandths;
                }
                GenRange {
                    text,
                    ty,
                    subtype,
                    has_params: !params.is_empty(),
                    foreign,
                    q,
                }
            })
        })
}

/// Elements that are not valid media ranges: they must be skipped.
const INVALID: &[&str] = &[
    "text/",
    "/html",
    "*/html",
    "text/html;q=2",
    "text/html;q=1.5",
    "text/html;q=1.001",
    "text/html;q=0.1234",
    "text/html;q=\"0.5\"",
    "text/html;q",
    "text/html;=x",
    "text html",
    "text/html;a=\"\u{1}\"",
    "application/json extra",
    "\"text/html\"",
];

#[derive(Debug, Clone)]
enum Element {
    Range(GenRange),
    Invalid(&'static str),
}

fn accept_header() -> impl Strategy<Value = (Vec<Element>, String)> {
    prop::collection::vec(
        (
            prop_oneof![
                6 => gen_range().prop_map(Element::Range),
                1 => prop::sample::select(INVALID).prop_map(Element::Invalid),
            ],
            prop::sample::select(&[",", ", ", " ,", ",,", " , , ", ",\t"][..]),
        ),
        0..10,
    )
    .prop_map(|elements| {
        let mut header = String::new();
        let mut list = Vec::new();
        for (i, (element, sep)) in elements.into_iter().enumerate() {
            if i > 0 {
                header.push_str(sep);
            }
            header.push_str(match &element {
                Element::Range(r) => &r.text,
                Element::Invalid(s) => s,
            });
            list.push(element);
        }
        (list, header)
    })
}

/// The simple acceptability rule: some range matching the format has q > 0
/// and no range more specific than it gives the format q = 0.
fn acceptable(ranges: &[&GenRange], format: Format) -> bool {
    let matching: Vec<&&GenRange> = ranges.iter().filter(|r| r.matches(format)).collect();
    matching.iter().any(|r| {
        r.q > 0
            && !matching
                .iter()
                .any(|m| m.specificity() > r.specificity() && m.q == 0)
    })
}

/// The quality the most specific matching ranges give the format (the
/// highest among equally specific ones); 0 when no range matches.
fn quality(ranges: &[&GenRange], format: Format) -> u16 {
    let matching: Vec<&&GenRange> = ranges.iter().filter(|r| r.matches(format)).collect();
    let top = matching.iter().map(|r| r.specificity()).max();
    matching
        .iter()
        .filter(|r| Some(r.specificity()) == top)
        .map(|r| r.q)
        .max()
        .unwrap_or(0)
}

fn check_negotiation(elements: &[Element], header: &str) -> Result<(), TestCaseError> {
    let ranges: Vec<&GenRange> = elements
        .iter()
        .filter_map(|e| match e {
            Element::Range(r) => Some(r),
            Element::Invalid(_) => None,
        })
        .collect();
    let chosen = Format::try_negotiate_bytes(header.as_bytes());
    let fallback = Format::negotiate_bytes(header.as_bytes());
    prop_assert_eq!(fallback, chosen.unwrap_or(Format::Json));
    let acceptable_formats: Vec<Format> = Format::ALL
        .into_iter()
        .filter(|&f| acceptable(&ranges, f))
        .collect();
    if ranges.is_empty() {
        // No valid media range at all: as if there were no Accept header.
        prop_assert_eq!(chosen, Some(Format::Json));
        return Ok(());
    }
    match chosen {
        None => prop_assert!(
            acceptable_formats.is_empty(),
            "None, but {acceptable_formats:?} are acceptable"
        ),
        Some(format) => {
            prop_assert!(
                acceptable_formats.contains(&format),
                "{format:?} chosen, acceptable: {acceptable_formats:?}"
            );
            // The highest quality wins, ties broken in `Format::ALL` order.
            let best = acceptable_formats.iter().copied().max_by_key(|&f| {
                (
                    quality(&ranges, f),
                    std::cmp::Reverse(Format::ALL.iter().position(|&a| a == f)),
                )
            });
            prop_assert_eq!(Some(format), best);
        }
    }
    Ok(())
}

/// A reference reader for well-formed `Accept` headers (RFC 9110 section
/// 12.5.1 grammar, every element a valid media range with an optional
/// weight): `None` as soon as anything does not fit the grammar.
fn reference_ranges(header: &[u8]) -> Option<Vec<GenRange>> {
    fn tchar(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
    }
    fn ows(s: &[u8], i: &mut usize) {
        while s.get(*i).is_some_and(|&b| b == b' ' || b == b'\t') {
            *i += 1;
        }
    }
    fn token<'a>(s: &'a [u8], i: &mut usize) -> Option<&'a [u8]> {
        let start = *i;
        while s.get(*i).copied().is_some_and(tchar) {
            *i += 1;
        }
        (*i > start).then(|| &s[start..*i])
    }
    fn value(s: &[u8], i: &mut usize) -> Option<(Vec<u8>, bool)> {
        if s.get(*i) != Some(&b'"') {
            return token(s, i).map(|t| (t.to_vec(), false));
        }
        *i += 1;
        let mut out = Vec::new();
        loop {
            let b = *s.get(*i)?;
            *i += 1;
            match b {
                b'"' => return Some((out, true)),
                b'\\' => {
                    let next = *s.get(*i)?;
                    if next != b'\t' && !(0x20..=0x7e).contains(&next) && next < 0x80 {
                        return None;
                    }
                    out.push(next);
                    *i += 1;
                }
                b'\t' | 0x20..=0x7e | 0x80..=0xff => out.push(b),
                _ => return None,
            }
        }
    }
    fn qvalue(v: &[u8]) -> Option<u16> {
        let text = std::str::from_utf8(v).ok()?;
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let frac_value = format!("{frac:0<3}").parse::<u16>().ok()?;
        match int {
            "0" => Some(frac_value),
            "1" if frac_value == 0 => Some(1000),
            _ => None,
        }
    }
    const NAMES: [&str; 10] = [
        "text",
        "application",
        "image",
        "*",
        "html",
        "plain",
        "json",
        "problem+json",
        "css",
        "xml",
    ];
    fn known(t: &[u8]) -> &'static str {
        NAMES
            .iter()
            .find(|n| n.as_bytes().eq_ignore_ascii_case(t))
            .copied()
            .unwrap_or("other")
    }

    let s = header;
    let mut i = 0;
    let mut ranges = Vec::new();
    loop {
        ows(s, &mut i);
        match s.get(i) {
            None => return Some(ranges),
            Some(b',') => {
                i += 1;
                continue;
            }
            Some(_) => {}
        }
        let ty = token(s, &mut i)?;
        if s.get(i) != Some(&b'/') {
            return None;
        }
        i += 1;
        let subtype = token(s, &mut i)?;
        if ty == b"*" && subtype != b"*" {
            return None;
        }
        let (mut has_params, mut foreign, mut q, mut weighted) = (false, false, 1000, false);
        loop {
            let before = i;
            ows(s, &mut i);
            if s.get(i) != Some(&b';') {
                i = before;
                break;
            }
            i += 1;
            ows(s, &mut i);
            let Some(name) = token(s, &mut i) else {
                continue; // empty parameter
            };
            if s.get(i) != Some(&b'=') {
                return None;
            }
            i += 1;
            let (value, quoted) = value(s, &mut i)?;
            if weighted {
                continue; // accept-ext
            }
            if name.eq_ignore_ascii_case(b"q") {
                if quoted {
                    return None;
                }
                q = qvalue(&value)?;
                weighted = true;
            } else {
                has_params = true;
                foreign |= !(name.eq_ignore_ascii_case(b"charset")
                    && value.eq_ignore_ascii_case(b"utf-8"));
            }
        }
        ows(s, &mut i);
        if !matches!(s.get(i), None | Some(b',')) {
            return None;
        }
        let subtype_name = if subtype == b"*" { "*" } else { known(subtype) };
        ranges.push(GenRange {
            text: String::new(),
            ty: known(ty),
            subtype: subtype_name,
            has_params,
            foreign,
            q,
        });
    }
}

/// Accept-like soup: elements assembled from pieces of the grammar, mostly
/// well-formed, some near misses and some soup, so that about half of the
/// headers are well-formed and the rest are close to it.
fn accept_soup() -> impl Strategy<Value = Vec<u8>> {
    const TYPES: &[&str] = &["text", "TEXT", "application", "*", "image", "x"];
    const SUBTYPES: &[&str] = &["html", "Html", "plain", "json", "problem+json", "*", "x"];
    const PARAMS: &[&str] = &[
        "q=0",
        "q=1",
        "q=0.5",
        "Q=0.25",
        "q=0.001",
        "q=1.000",
        "q=0.",
        "charset=utf-8",
        "charset=\"utf-8\"",
        "charset=\"ut\\f-8\"",
        "level=1",
        "x=\"a,b\"",
        "",
        "a=\"\\\"\"",
    ];
    const BAD_TYPES: &[&str] = &["", "te xt", "text/html"];
    const BAD_PARAMS: &[&str] = &[
        "q=\"0.5\"",
        "q=2",
        "=",
        "q=0.1234",
        "q",
        "q=1.5",
        "x=\"",
        "x y",
    ];
    const OWS: &[&str] = &["", "", " ", "\t"];
    const SOUP: &[&str] = &[
        "text", "html", "/", ";", ",", "=", "q=", "0", ".", " ", "\"", "\\", "*",
    ];
    let range = |types: &'static [&'static str], params: &'static [&'static str]| {
        (
            prop::sample::select(types),
            prop::sample::select(SUBTYPES),
            prop::collection::vec(
                (
                    prop::sample::select(OWS),
                    prop::sample::select(OWS),
                    prop::sample::select(params),
                ),
                0..3,
            ),
        )
            .prop_map(|(ty, subtype, params)| {
                let mut s = format!("{ty}/{subtype}");
                for (before, after, param) in params {
                    s.push_str(before);
                    s.push(';');
                    s.push_str(after);
                    s.push_str(param);
                }
                s
            })
    };
    let element = prop_oneof![
        12 => range(TYPES, PARAMS),
        1 => range(BAD_TYPES, PARAMS),
        1 => range(TYPES, BAD_PARAMS),
        1 => prop::collection::vec(prop::sample::select(SOUP), 0..8).prop_map(|p| p.concat()),
    ];
    prop::collection::vec(
        (element, prop::sample::select(&[",", ", ", " , ", ",,"][..])),
        0..6,
    )
    .prop_map(|elements| {
        let mut out = String::new();
        for (i, (element, sep)) in elements.into_iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            out.push_str(&element);
        }
        out.into_bytes()
    })
}

proptest! {
    #![proptest_config(config(1024))]

    /// Generated headers: the chosen format is acceptable (and the best
    /// one), or the JSON fallback when none is.
    #[test]
    fn negotiation_chooses_an_acceptable_format((elements, header) in accept_header()) {
        check_negotiation(&elements, &header)?;
        // Several Accept field lines are one list.
        let mut headers = HeaderMap::new();
        for part in header.split(',') {
            if let Ok(value) = HeaderValue::from_str(part) {
                headers.append("accept", value);
            }
        }
        if headers.get_all("accept").iter().count() == header.split(',').count() {
            prop_assert_eq!(
                RenderContext::new().with_accept(&headers).format(),
                Format::negotiate_bytes(header.as_bytes())
            );
        }
    }

    /// Accept-like soup, checked against the reference reader whenever the
    /// header is well-formed.
    #[test]
    fn negotiation_agrees_with_a_reference_reader(header in accept_soup()) {
        let chosen = Format::try_negotiate_bytes(&header);
        prop_assert_eq!(Format::negotiate_bytes(&header), chosen.unwrap_or(Format::Json));
        if let Some(ranges) = reference_ranges(&header) {
            let elements: Vec<Element> = ranges.into_iter().map(Element::Range).collect();
            check_negotiation(&elements, std::str::from_utf8(&header).expect("ascii"))?;
        }
    }

    /// Arbitrary bytes never panic, and the answer is consistent.
    #[test]
    fn negotiation_never_panics(header in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        // Past the 8 KiB and 64-range limits.
        (accept_soup(), 1usize..600).prop_map(|(soup, n)| {
            let mut long = soup.repeat(n);
            long.extend_from_slice(b",text/html");
            long
        }),
    ]) {
        let chosen = Format::try_negotiate_bytes(&header);
        prop_assert_eq!(Format::negotiate_bytes(&header), chosen.unwrap_or(Format::Json));
        if let Some(format) = chosen.filter(|&f| f != Format::Json) {
            // A format other than the default needs a range that names it.
            let lower = header.to_ascii_lowercase();
            let (_, subtype) = format.media_type().split_once('/').expect("type/subtype");
            let named = lower.windows(subtype.len()).any(|w| w == subtype.as_bytes())
                || lower.contains(&b'*');
            prop_assert!(named, "{format:?} from {:?}", String::from_utf8_lossy(&header));
        }
    }
}

// ---------------------------------------------------------------------------
// Properties: the client-side parser on arbitrary responses
// ---------------------------------------------------------------------------

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::String),
        prop::sample::select(ProxyError::VARIANTS).prop_map(|k| Value::from(k.as_str())),
        "[0-9]{1,12}".prop_map(Value::String),
        Just(Value::String("Sun, 06 Nov 1994 08:49:37 GMT".to_owned())),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(
                            &[
                                "error",
                                "details",
                                "detail",
                                "upstream",
                                "kind",
                                "request_id",
                                "retry_after",
                                "status",
                                "title",
                                "type",
                                "instance",
                                "code",
                            ][..]
                        )
                        .prop_map(str::to_owned),
                        text(),
                    ],
                    inner
                ),
                0..8
            )
            .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => prop::collection::vec(any::<u8>(), 0..512),
        4 => json_value().prop_map(|v| serde_json::to_vec(&v).expect("serializes")),
        // Truncated or corrupted JSON.
        2 => (json_value(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(v, at, byte)| {
            let mut bytes = serde_json::to_vec(&v).expect("serializes");
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                if byte % 2 == 0 {
                    bytes.truncate(i);
                } else {
                    bytes[i] = byte;
                }
            }
            bytes
        }),
    ]
}

fn content_type() -> impl Strategy<Value = Option<HeaderValue>> {
    prop_oneof![
        Just(None),
        prop::sample::select(
            &[
                "application/json",
                "application/problem+json",
                "APPLICATION/Problem+JSON; charset=utf-8",
                "application/vnd.api+json",
                "application/+json",
                "application/json5",
                "text/html; charset=utf-8",
                "text/plain",
                "text/json",
                "",
                ";",
                "/",
            ][..]
        )
        .prop_map(|s| Some(HeaderValue::from_static(s))),
        header_bytes(0..32).prop_map(|b| HeaderValue::from_bytes(&b).ok()),
    ]
}

fn retry_after_header() -> impl Strategy<Value = Option<HeaderValue>> {
    prop_oneof![
        Just(None),
        "[ \t]{0,2}[0-9]{1,12}[ \t]{0,2}".prop_map(|s| HeaderValue::from_str(&s).ok()),
        "-?[0-9]{1,3}(\\.[0-9]{1,3})?".prop_map(|s| HeaderValue::from_str(&s).ok()),
        Just(Some(HeaderValue::from_static(
            "Sun, 06 Nov 1994 08:49:37 GMT"
        ))),
        Just(Some(HeaderValue::from_static(
            "Sunday, 06-Nov-94 08:49:37 GMT"
        ))),
        Just(Some(HeaderValue::from_static("Sun Nov  6 08:49:37 1994"))),
        Just(Some(HeaderValue::from_static(
            "Fri, 31 Dec 9999 23:59:59 GMT"
        ))),
        Just(Some(HeaderValue::from_static(
            "Sat, 01 Jan 10000 00:00:00 GMT"
        ))),
        header_bytes(0..40).prop_map(|b| HeaderValue::from_bytes(&b).ok()),
    ]
}

fn status() -> impl Strategy<Value = StatusCode> {
    prop_oneof![
        3 => prop::sample::select(&[500u16, 502, 503, 504][..]),
        1 => 100u16..1000,
    ]
    .prop_map(|s| StatusCode::from_u16(s).expect("100..1000"))
}

fn check_parsed(err: &GatewayError) -> Result<(), TestCaseError> {
    if let Some(details) = err.details() {
        prop_assert!(details.len() <= MAX_DETAILS_LEN);
        prop_assert!(!details.contains(forbidden), "{details:?}");
    }
    if let Some(upstream) = err.upstream_name() {
        prop_assert!(upstream.len() <= MAX_NAME_LEN);
        prop_assert!(!upstream.contains(forbidden), "{upstream:?}");
    }
    if let Some(id) = err.request_id() {
        prop_assert!(valid_context_id(id), "{id:?}");
    }
    if let Some(value) = err.upstream_proxy_status() {
        prop_assert!(value.len() <= MAX_PROXY_STATUS_LEN);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(512))]

    /// `parse` never panics; Ok values hold sanitized text and render again
    /// in every format, validly.
    #[test]
    fn parse_never_panics_and_ok_values_render(
        status in status(),
        content_type in content_type(),
        retry_after in retry_after_header(),
        proxy_status in upstream_proxy_status(),
        body in body(),
    ) {
        let mut headers = HeaderMap::new();
        if let Some(v) = content_type {
            headers.insert("content-type", v);
        }
        if let Some(v) = retry_after {
            headers.insert("retry-after", v);
        }
        if let Some(v) = proxy_status {
            headers.insert("proxy-status", v);
        }
        let result = parse(status, &headers, &body);
        if !matches!(status.as_u16(), 500 | 502 | 503 | 504) {
            prop_assert_eq!(result.map(|_| ()).map_err(|e| e.kind()), Err(ParseErrorKind::Status));
            return Ok(());
        }
        let Ok(err) = result else {
            return Ok(());
        };
        prop_assert_eq!(err.status(), status);
        check_parsed(&err)?;
        let policy = Policy::new()
            .with_proxy_name("edge")
            .with_upstream_names(true)
            .with_problem_type_base("https://errors.example.com/");
        for format in Format::ALL {
            let ctx = RenderContext::new().with_format(format).with_policy(&policy);
            let response = render(&err, &ctx);
            check_headers(&response)?;
            let value = response.headers()["proxy-status"].to_str().expect("checked");
            parse_proxy_status(value).map_err(TestCaseError::fail)?;
            prop_assert!(response.body().len() <= MAX_BODY);
            match format {
                Format::Json => {
                    json(response.body())?;
                }
                Format::ProblemJson => check_problem_json(response.body()).map_err(TestCaseError::fail)?,
                Format::Html => {
                    let errors = html5_parse_errors(text_of(response.body())?);
                    prop_assert!(errors.is_empty(), "{errors:?}");
                }
                _ => {}
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Properties: Retry-After
// ---------------------------------------------------------------------------

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const LONG_DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
/// 9999-12-31T23:59:59Z, the last instant an HTTP date can express.
const LAST_DATE: u64 = 253_402_300_799;

/// The civil (proleptic Gregorian, UTC) fields of a Unix time:
/// (year, month 1..=12, day, hour, minute, second, weekday 0 = Sunday).
fn civil(secs: u64) -> (u64, usize, u64, u64, u64, u64, usize) {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Howard Hinnant's days_from_civil inverse, for days >= 0.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let weekday = usize::try_from((days + 4) % 7).expect("< 7");
    (
        year,
        usize::try_from(month).expect("1..=12"),
        day,
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        weekday,
    )
}

fn imf_fixdate(secs: u64) -> String {
    let (y, mo, d, h, mi, s, wd) = civil(secs);
    format!(
        "{}, {d:02} {} {y:04} {h:02}:{mi:02}:{s:02} GMT",
        DAYS[wd],
        MONTHS[mo - 1]
    )
}

fn rfc850(secs: u64) -> String {
    let (y, mo, d, h, mi, s, wd) = civil(secs);
    format!(
        "{}, {d:02}-{}-{:02} {h:02}:{mi:02}:{s:02} GMT",
        LONG_DAYS[wd],
        MONTHS[mo - 1],
        y % 100
    )
}

fn asctime(secs: u64) -> String {
    let (y, mo, d, h, mi, s, wd) = civil(secs);
    format!(
        "{} {} {d:>2} {h:02}:{mi:02}:{s:02} {y:04}",
        DAYS[wd],
        MONTHS[mo - 1]
    )
}

proptest! {
    #![proptest_config(config(1024))]

    /// Delays: format then parse is the identity, with or without spaces
    /// and leading zeros around them.
    #[test]
    fn retry_after_delays_round_trip(secs in any::<u32>(), zeros in 0usize..3, ows in "[ \t]{0,2}") {
        let hint = RetryAfter::from_secs(secs);
        let text = hint.to_string();
        prop_assert_eq!(&text, &secs.to_string());
        prop_assert_eq!(text.parse::<RetryAfter>(), Ok(hint));
        prop_assert_eq!(RetryAfter::from_header_value(&hint.to_header_value()), Ok(hint));
        let padded = format!("{ows}{}{text}{ows}", "0".repeat(zeros));
        prop_assert_eq!(padded.parse::<RetryAfter>(), Ok(hint));
    }

    /// Dates: whole seconds from 1970 to 9999 format as IMF-fixdate and
    /// parse back to the same instant; sub-second parts are truncated.
    #[test]
    fn retry_after_dates_round_trip(secs in prop_oneof![0..=LAST_DATE, LAST_DATE - 100_000..=LAST_DATE], nanos in 0u32..1_000_000_000) {
        let at = UNIX_EPOCH + Duration::from_secs(secs);
        let hint = RetryAfter::at(at + Duration::from_nanos(u64::from(nanos)));
        prop_assert_eq!(hint.as_date(), Some(at));
        let text = hint.to_string();
        prop_assert_eq!(&text, &imf_fixdate(secs));
        let value = hint.to_header_value();
        prop_assert_eq!(value.to_str().ok(), Some(text.as_str()));
        prop_assert_eq!(text.parse::<RetryAfter>(), Ok(hint));
        prop_assert_eq!(RetryAfter::from_header_value(&hint.to_header_value()), Ok(hint));
    }

    /// The three date forms of one instant parse to it (RFC 850 has a
    /// two-digit year, read as 1970..=2069).
    #[test]
    fn retry_after_date_forms_agree(secs in prop_oneof![0..=LAST_DATE, 0u64..3_155_760_000]) {
        let expected = Ok(RetryAfter::at(UNIX_EPOCH + Duration::from_secs(secs)));
        prop_assert_eq!(imf_fixdate(secs).parse::<RetryAfter>(), expected.clone());
        prop_assert_eq!(asctime(secs).parse::<RetryAfter>(), expected.clone(), "{}", asctime(secs));
        // date3 may also be written with a zero: `Nov 06`.
        let zero_day = asctime(secs).replacen("  ", " 0", 1);
        prop_assert_eq!(zero_day.parse::<RetryAfter>(), expected.clone(), "{}", zero_day);
        if civil(secs).0 < 2070 {
            prop_assert_eq!(rfc850(secs).parse::<RetryAfter>(), expected, "{}", rfc850(secs));
        }
    }

    /// Arbitrary text never panics the Retry-After parser.
    #[test]
    fn retry_after_parse_never_panics(s in prop_oneof![any::<String>(), "[ -~]{0,40}"]) {
        if let Ok(hint) = s.parse::<RetryAfter>() {
            let back = hint.to_string().parse::<RetryAfter>();
            prop_assert_eq!(back, Ok(hint));
        }
    }
}

// ---------------------------------------------------------------------------
// Plain tests: the reference code itself, and regressions
// ---------------------------------------------------------------------------

#[test]
fn the_reference_date_formatter_matches_rfc_9110_examples() {
    assert_eq!(imf_fixdate(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(rfc850(784_111_777), "Sunday, 06-Nov-94 08:49:37 GMT");
    assert_eq!(asctime(784_111_777), "Sun Nov  6 08:49:37 1994");
    assert_eq!(imf_fixdate(LAST_DATE), "Fri, 31 Dec 9999 23:59:59 GMT");
    assert_eq!(imf_fixdate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_eq!(imf_fixdate(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
}

#[test]
fn the_reference_sanitizer_matches_documented_examples() {
    assert_eq!(
        sanitized("a\r\nb\0c\u{7f}d\u{85}e\u{FFFE}f\u{FDD0}g\u{1FFFF}h", 100),
        "a  b c d e f g h"
    );
    assert_eq!(sanitized(&"€".repeat(400), MAX_DETAILS_LEN).len(), 1023);
    assert_eq!(sanitized_request_id("a b\r\né").as_deref(), Some("a_b___"));
    assert_eq!(sanitized_request_id(""), None);
    assert_eq!(printable("héllo\t"), "h?llo?");
}

#[test]
fn the_reference_accept_reader_reads_the_grammar() {
    let ranges = reference_ranges(b"text/html;q=0.5, */*;q=0 ,application/json;charset=\"utf-8\"")
        .expect("well-formed");
    assert_eq!(ranges.len(), 3);
    assert_eq!(
        (ranges[0].ty, ranges[0].subtype, ranges[0].q),
        ("text", "html", 500)
    );
    assert_eq!((ranges[1].ty, ranges[1].q), ("*", 0));
    assert!(ranges[2].has_params && !ranges[2].foreign);
    assert!(reference_ranges(b"text/html;q=1.5").is_none());
    assert!(reference_ranges(b"*/html").is_none());
    assert!(reference_ranges(b", ,").is_some_and(|r| r.is_empty()));
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

#[test]
fn the_body_bound_holds_for_the_worst_case() {
    // Every capped field full of the character with the worst expansion.
    let quote = "\"".repeat(5000);
    let err = GatewayError::from_kind(quote.clone(), ProxyError::HttpResponseTrailerSectionSize)
        .with_details(quote.clone())
        .with_request_id(quote)
        .with_retry_after(RetryAfter::at(UNIX_EPOCH + Duration::from_secs(LAST_DATE)));
    let policy = Policy::new()
        .with_upstream_names(true)
        .with_problem_type_base("https://errors.example.com/");
    for format in Format::ALL {
        let ctx = RenderContext::new()
            .with_format(format)
            .with_policy(&policy)
            .with_method(&Method::GET);
        let len = render(&err, &ctx).body().len();
        assert!(len <= MAX_BODY, "{format:?}: {len}");
    }
}

/// Regression: `Policy::with_problem_type_base` once kept any text (only
/// sanitized), so the problem `type` member (base + kind) could be something
/// other than a URI reference, failing RFC 9457's schema. Minimized from a
/// property over arbitrary bases: `" "`. Such bases are now ignored.
#[test]
fn problem_type_bases_give_uri_references() {
    for base in [" ", "é/", "%", "::", "https://x/{a}/"] {
        let policy = Policy::new().with_problem_type_base(base);
        let err = GatewayError::from_kind("u", ProxyError::DnsError);
        let ctx = RenderContext::new()
            .with_policy(&policy)
            .with_format(Format::ProblemJson);
        let response = render(&err, &ctx);
        check_problem_json(response.body()).unwrap_or_else(|e| panic!("{base:?}: {e}"));
    }
}
