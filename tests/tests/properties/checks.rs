//! Checks shared by the properties: headers, bodies, `Proxy-Status`.

use super::*;

/// The longest body any error can have: a fixed allowance for the
/// template and every non-caller value, plus each capped caller value at
/// the worst escaping expansion (6 bytes per byte: `&quot;`, `\u00XX`),
/// counting the request id twice (problem+json has it in `instance`, as
/// `%XX`, and in `request_id`). The HTML page's template, with its style,
/// is the largest: about 3 KiB.
pub(crate) const MAX_BODY: usize =
    4096 + 6 * (MAX_DETAILS_LEN + MAX_NAME_LEN + 2 * gateway_error::RequestId::MAX_LEN);

pub(crate) fn longest_kind() -> usize {
    ProxyError::VARIANTS
        .iter()
        .map(|k| k.as_str().len())
        .max()
        .unwrap_or(0)
}

/// The longest member this gateway adds to `Proxy-Status`: its name and the
/// next hop as fully escaped Strings, the longest error token, a status.
pub(crate) fn max_own_member() -> usize {
    (2 + 2 * MAX_NAME_LEN)
        + ";error=".len()
        + longest_kind()
        + ";next-hop=".len()
        + (2 + 2 * MAX_NAME_LEN)
        + ";received-status=".len()
        + 3
}

pub(crate) fn check_headers(response: &Response<Bytes>) -> Result<(), TestCaseError> {
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

pub(crate) fn json(body: &[u8]) -> Result<Value, TestCaseError> {
    serde_json::from_slice(body).map_err(|e| TestCaseError::fail(format!("not JSON: {e}")))
}

pub(crate) fn text_of(body: &[u8]) -> Result<&str, TestCaseError> {
    std::str::from_utf8(body).map_err(|e| TestCaseError::fail(format!("not UTF-8: {e}")))
}

/// The members of an upstream field the renderer may forward: the field
/// parses as an RFC 8941 List (by `sfv`) and fits the cap; Token and String
/// items only. With upstream names hidden, each is renamed `upstream` and
/// keeps just an `error` that is a registry token and RFC 9209's Integer
/// parameters. The renderer forwards the newest of them that fit beside
/// its own member within the cap.
pub(crate) fn kept_upstream_members(
    value: Option<&HeaderValue>,
    show_names: bool,
) -> Vec<sfv::ListEntry> {
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

pub(crate) fn check_proxy_status(
    case: &Case,
    response: &Response<Bytes>,
) -> Result<(), TestCaseError> {
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
