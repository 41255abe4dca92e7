//! Properties: the client-side parser on arbitrary upstream responses.

use super::*;

pub(crate) fn json_value() -> impl Strategy<Value = Value> {
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

pub(crate) fn body() -> impl Strategy<Value = Vec<u8>> {
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

pub(crate) fn content_type() -> impl Strategy<Value = Option<HeaderValue>> {
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

pub(crate) fn retry_after_header() -> impl Strategy<Value = Option<HeaderValue>> {
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

pub(crate) fn status() -> impl Strategy<Value = StatusCode> {
    prop_oneof![
        3 => prop::sample::select(&[500u16, 502, 503, 504][..]),
        1 => 100u16..1000,
    ]
    .prop_map(|s| StatusCode::from_u16(s).expect("100..1000"))
}

pub(crate) fn check_parsed(err: &GatewayError) -> Result<(), TestCaseError> {
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
