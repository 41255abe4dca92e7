//! Properties: `Accept` negotiation, against generated headers and a
//! reference reader of the grammar.

use super::*;

/// One media range of a generated `Accept` header, with what it means.
#[derive(Debug, Clone)]
pub(crate) struct GenRange {
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

pub(crate) const TYPES: &[(&str, &[&str])] = &[
    ("text", &["html", "plain", "*", "css"]),
    (
        "application",
        &["json", "problem+json", "*", "xml", "vnd.api+json"],
    ),
    ("image", &["png", "*"]),
    ("*", &["*"]),
];

/// (text, foreign)
pub(crate) const PARAMS: &[(&str, bool)] = &[
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
pub(crate) const QVALUES: &[(&str, u16)] = &[
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

pub(crate) const OWS: &[&str] = &["", "", " ", "\t", " \t "];

pub(crate) fn case_variant(s: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<bool>(), s.len()).prop_map(move |upper| {
        s.chars()
            .zip(upper)
            .map(|(c, u)| if u { c.to_ascii_uppercase() } else { c })
            .collect()
    })
}

pub(crate) fn gen_range() -> impl Strategy<Value = GenRange> {
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
pub(crate) const INVALID: &[&str] = &[
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
pub(crate) enum Element {
    Range(GenRange),
    Invalid(&'static str),
}

pub(crate) fn accept_header() -> impl Strategy<Value = (Vec<Element>, String)> {
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
pub(crate) fn acceptable(ranges: &[&GenRange], format: Format) -> bool {
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
pub(crate) fn quality(ranges: &[&GenRange], format: Format) -> u16 {
    let matching: Vec<&&GenRange> = ranges.iter().filter(|r| r.matches(format)).collect();
    let top = matching.iter().map(|r| r.specificity()).max();
    matching
        .iter()
        .filter(|r| Some(r.specificity()) == top)
        .map(|r| r.q)
        .max()
        .unwrap_or(0)
}

pub(crate) fn check_negotiation(elements: &[Element], header: &str) -> Result<(), TestCaseError> {
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
pub(crate) fn reference_ranges(header: &[u8]) -> Option<Vec<GenRange>> {
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
pub(crate) fn accept_soup() -> impl Strategy<Value = Vec<u8>> {
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
