//! What each response must be, and how it differs.

use std::collections::BTreeMap;

use bytes::Bytes;
use gateway_error::{GatewayError, RenderContext, RequestId, render};
use http::{HeaderMap, HeaderValue, Method, Response};

use crate::client::Got;
use crate::servers::Framework;
use crate::table::{CASES, Case, M, SECRET, get_twin, path, policy};

/// Fields the frameworks add themselves, left out of every comparison.
const EXCLUDED: [&str; 4] = ["date", "server", "connection", "keep-alive"];

/// A request id the server generated: 32 lowercase hex digits.
fn is_generated_id(id: &[u8]) -> bool {
    id.len() == 32
        && id
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// Header fields by name, values of one name in order.
pub(crate) type Fields = BTreeMap<String, Vec<Vec<u8>>>;

/// One response with the generated request id (if any) replaced by
/// `{generated-id}`, for comparing the frameworks with each other.
pub(crate) struct Normalized {
    pub(crate) status: u16,
    pub(crate) fields: Fields,
    pub(crate) body: Vec<u8>,
}

/// Failures, each naming the case, the framework and the field.
#[derive(Default)]
pub(crate) struct Findings(pub(crate) Vec<String>);

impl Findings {
    pub(crate) fn add(&mut self, index: usize, framework: Option<Framework>, what: String) {
        let case = &CASES[index];
        let who = framework.map_or("all frameworks", Framework::name);
        self.0.push(format!(
            "case {index} [{who}] {} {} accept={:?} x-request-id={} error={:?} style={:?} via={:?}: {what}",
            case.method.method(),
            path(index),
            case.accept,
            show_ids(&case.sent_ids(index)),
            case.failure,
            case.style,
            case.via(),
        ));
    }
}

/// The headers the client sent that the renderer reads.
fn sent_headers(index: usize, case: &Case) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for accept in case.accept {
        headers.append(http::header::ACCEPT, HeaderValue::from_static(accept));
    }
    for id in case.sent_ids(index) {
        if let Ok(value) = HeaderValue::from_bytes(&id) {
            headers.append("x-request-id", value);
        }
    }
    if case.method == M::Post {
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(case.content_type),
        );
    }
    headers
}

/// What the core renderer produces for this request, answered with
/// request id `id`.
pub(crate) fn expected(
    index: usize,
    case: &Case,
    method: &Method,
    id: Option<&str>,
) -> Response<Bytes> {
    let headers = sent_headers(index, case);
    let policy = policy();
    let mut ctx = RenderContext::from_request(method, &headers).with_policy(&policy);
    if let Some(id) = id {
        ctx = ctx.with_request_id(id);
    }
    render(&case.failure.error(), &ctx)
}

fn fields_of_got(got: &Got) -> Fields {
    let mut fields = Fields::new();
    for (name, value) in &got.headers {
        if !EXCLUDED.contains(&name.as_str()) {
            fields.entry(name.clone()).or_default().push(value.clone());
        }
    }
    fields
}

fn fields_of(headers: &HeaderMap) -> Fields {
    let mut fields = Fields::new();
    for (name, value) in headers {
        fields
            .entry(name.as_str().to_owned())
            .or_default()
            .push(value.as_bytes().to_vec());
    }
    fields
}

fn show(bytes: &[u8]) -> String {
    const MAX: usize = 600;
    let text = String::from_utf8_lossy(bytes);
    if text.len() > MAX {
        let mut end = MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{:?}... ({} bytes)", &text[..end], bytes.len())
    } else {
        format!("{text:?}")
    }
}

fn show_ids(ids: &[Vec<u8>]) -> String {
    if ids.is_empty() {
        return "(none)".to_owned();
    }
    let shown: Vec<String> = ids.iter().map(|id| show(id)).collect();
    shown.join(", ")
}

fn show_values(values: Option<&Vec<Vec<u8>>>) -> String {
    match values {
        None => "(absent)".to_owned(),
        Some(values) => {
            let shown: Vec<String> = values.iter().map(|v| show(v)).collect();
            shown.join(", ")
        }
    }
}

/// Where two bodies first differ.
fn body_difference(want: &[u8], got: &[u8]) -> String {
    let at = want
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(got.len()));
    let from = at.saturating_sub(40);
    format!(
        "body differs at byte {at} (expected {} bytes, got {}): expected ...{} got ...{}\n    expected body: {}\n    got body:      {}",
        want.len(),
        got.len(),
        show(&want[from..want.len().min(at + 80)]),
        show(&got[from.min(got.len())..got.len().min(at + 80)]),
        show(want),
        show(got),
    )
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Checks one response against the renderer; returns it normalized for
/// the comparison across frameworks.
pub(crate) fn check(
    index: usize,
    framework: Framework,
    got: &Got,
    findings: &mut Findings,
) -> Normalized {
    let case = &CASES[index];
    let method = case.method.method();
    let mut fail = |what: String| findings.add(index, Some(framework), what);

    // The request id: echoed when valid, generated otherwise.
    let ids = got.values("x-request-id");
    let got_id = match ids.as_slice() {
        [one] => Some(*one),
        other => {
            fail(format!(
                "x-request-id: expected one field, got {}",
                other.len()
            ));
            other.first().copied()
        }
    };
    // An error's own id (`with_request_id`) wins over the request's, in
    // the body and the header alike.
    let own = case.failure.error().request_id().map(str::to_owned);
    let echoed = case.echoed_id(index);
    let generated = echoed.is_none();
    let id: Option<String> = if let Some(own) = own {
        if got_id != Some(own.as_bytes()) {
            fail(format!(
                "x-request-id: expected the error's own {own:?}, got {}",
                got_id.map_or_else(|| "(none)".to_owned(), show)
            ));
        }
        Some(own)
    } else if generated {
        match got_id {
            Some(id) if is_generated_id(id) => Some(String::from_utf8_lossy(id).into_owned()),
            Some(id) => {
                fail(format!(
                    "x-request-id: expected a generated id (32 lowercase hex), got {}",
                    show(id)
                ));
                std::str::from_utf8(id)
                    .ok()
                    .filter(|id| RequestId::is_valid(id))
                    .map(str::to_owned)
            }
            None => None,
        }
    } else {
        if got_id != echoed.as_deref().map(str::as_bytes) {
            fail(format!(
                "x-request-id: expected the request's {:?} echoed, got {}",
                echoed.as_deref().unwrap_or_default(),
                got_id.map_or_else(|| "(none)".to_owned(), show)
            ));
        }
        echoed
    };

    let want = expected(index, case, &method, id.as_deref());
    let mut want_fields = fields_of(want.headers());
    if let Some(id) = &id {
        want_fields.insert("x-request-id".to_owned(), vec![id.as_bytes().to_vec()]);
    }
    let got_fields = fields_of_got(got);

    if got.status != want.status().as_u16() {
        fail(format!(
            "status: expected {}, got {}",
            want.status().as_u16(),
            got.status
        ));
    }
    let names: std::collections::BTreeSet<&String> =
        want_fields.keys().chain(got_fields.keys()).collect();
    for name in names {
        let (w, g) = (want_fields.get(name), got_fields.get(name));
        if w != g {
            fail(format!(
                "header {name}: expected {}, got {}",
                show_values(w),
                show_values(g)
            ));
        }
    }
    if got.body != want.body().as_ref() {
        fail(body_difference(want.body(), &got.body));
    }

    // HEAD: no body, GET's length.
    if case.method == M::Head {
        if !got.body.is_empty() {
            fail(format!(
                "HEAD response has a body of {} bytes",
                got.body.len()
            ));
        }
        let get = expected(index, case, &Method::GET, id.as_deref());
        let get_len = get.body().len().to_string();
        let length = got_fields.get("content-length");
        if length != Some(&vec![get_len.clone().into_bytes()]) {
            fail(format!(
                "HEAD content-length: expected GET's {get_len} (from the renderer), got {}",
                show_values(length)
            ));
        }
    }

    // The source error's text, nowhere.
    let error: GatewayError = case.failure.error();
    let mut secrets = vec![SECRET.to_owned()];
    if let Some(source) = std::error::Error::source(&error) {
        secrets.push(source.to_string());
    }
    for secret in &secrets {
        for (name, value) in &got.headers {
            if contains(value, secret.as_bytes()) {
                fail(format!("source error text {secret:?} in header {name}"));
            }
        }
        if contains(&got.body, secret.as_bytes()) {
            fail(format!("source error text {secret:?} in the body"));
        }
    }

    normalize(
        got.status,
        got_fields,
        &got.body,
        generated.then_some(id).flatten(),
    )
}

fn replace(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    if from.is_empty() {
        return bytes.to_vec();
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

fn normalize(
    status: u16,
    mut fields: Fields,
    body: &[u8],
    generated: Option<String>,
) -> Normalized {
    let mut body = body.to_vec();
    if let Some(id) = generated {
        let placeholder = b"{generated-id}";
        for values in fields.values_mut() {
            for value in values.iter_mut() {
                *value = replace(value, id.as_bytes(), placeholder);
            }
        }
        body = replace(&body, id.as_bytes(), placeholder);
    }
    Normalized {
        status,
        fields,
        body,
    }
}

/// The servers' answers to case `index` are the same bytes.
pub(crate) fn compare_frameworks(
    index: usize,
    answers: &[(Framework, &Normalized)],
    findings: &mut Findings,
) {
    let Some((_, first)) = answers.first() else {
        return;
    };
    let all_same = |f: &dyn Fn(&Normalized) -> String| {
        let reference = f(first);
        if answers.iter().all(|(_, n)| f(n) == reference) {
            None
        } else {
            Some(
                answers
                    .iter()
                    .map(|(fw, n)| format!("{}={}", fw.name(), f(n)))
                    .collect::<Vec<_>>()
                    .join(" | "),
            )
        }
    };
    let mut differ = Vec::new();
    if let Some(diff) = all_same(&|n| n.status.to_string()) {
        differ.push(format!("status: {diff}"));
    }
    let names: std::collections::BTreeSet<&String> =
        answers.iter().flat_map(|(_, n)| n.fields.keys()).collect();
    for name in names {
        if let Some(diff) = all_same(&|n| show_values(n.fields.get(name))) {
            differ.push(format!("header {name}: {diff}"));
        }
    }
    if let Some(diff) = all_same(&|n| show(&n.body)) {
        differ.push(format!("body: {diff}"));
    }
    for what in differ {
        findings.add(index, None, format!("frameworks differ on {what}"));
    }
}

/// A HEAD case's `Content-Length` equals what the same framework sent for
/// its GET twin, and that GET's body length.
pub(crate) fn compare_head_with_get(
    framework: Framework,
    responses: &[Option<Got>],
    findings: &mut Findings,
) {
    for (index, case) in CASES.iter().enumerate() {
        if case.method != M::Head {
            continue;
        }
        let Some(twin) = get_twin(case) else {
            findings.add(
                index,
                Some(framework),
                "HEAD case without a GET twin".to_owned(),
            );
            continue;
        };
        let (Some(head), Some(get)) = (&responses[index], &responses[twin]) else {
            continue;
        };
        let head_len = head.values("content-length");
        let get_len = get.values("content-length");
        if head_len != get_len {
            findings.add(
                index,
                Some(framework),
                format!(
                    "HEAD content-length {:?} differs from GET case {twin}'s {:?}",
                    head_len.iter().map(|v| show(v)).collect::<Vec<_>>(),
                    get_len.iter().map(|v| show(v)).collect::<Vec<_>>(),
                ),
            );
        }
        let body_len = get.body.len().to_string();
        if head_len != [body_len.as_bytes()] {
            findings.add(
                index,
                Some(framework),
                format!(
                    "HEAD content-length {:?} differs from GET case {twin}'s body length {body_len}",
                    head_len.iter().map(|v| show(v)).collect::<Vec<_>>(),
                ),
            );
        }
    }
}
