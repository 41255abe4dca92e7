//! The layer in a `Router`, driven with `oneshot`: exact status, header
//! fields and body bytes.

use axum::BoxError;
use axum::http::Method;

use crate::common::{
    SECRET, app, assert_same, bad, expected, fields, header, is_generated_id, request, routes,
    send, timeout, unavailable,
};

#[tokio::test]
async fn no_accept_gets_the_json_envelope() -> Result<(), BoxError> {
    let response = send(
        app(),
        request(Method::GET, "/bad", &[("x-request-id", "req-1")])?,
    )
    .await?;
    assert_same(&response, &expected(bad(), &Method::GET, None, "req-1")?);
    assert_eq!(
        fields(response.headers()),
        [
            ("cache-control", "no-store"),
            ("content-length", "198"),
            ("content-type", "application/json"),
            ("proxy-status", "bff"),
            ("vary", "accept"),
            ("x-content-type-options", "nosniff"),
            ("x-request-id", "req-1"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    assert_eq!(
        response.body(),
        r#"{"error":{"code":502,"message":"Bad Gateway","details":"The server received an invalid response from the upstream server while trying to fulfill the request.","retryable":true,"request_id":"req-1"}}"#
    );
    Ok(())
}

#[tokio::test]
async fn html_is_negotiated() -> Result<(), BoxError> {
    let headers = [("accept", "text/html"), ("x-request-id", "req-1")];
    let response = send(app(), request(Method::GET, "/bad", &headers)?).await?;
    assert_same(
        &response,
        &expected(bad(), &Method::GET, Some("text/html"), "req-1")?,
    );
    assert_eq!(
        header(&response, "content-type"),
        "text/html; charset=utf-8"
    );
    // The page's exact bytes but for its style (which the core's tests
    // check against the policy's hash).
    let body = std::str::from_utf8(response.body()).expect("utf-8");
    let (head, page) = body.split_once("</style>\n").expect("a style");
    assert!(head.starts_with(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n<style>"
    ));
    assert_eq!(
        page,
        "<title>502 Bad Gateway</title>\n</head>\n<body>\n<main>\n<h1>502 Bad Gateway</h1>\n\
         <ol aria-label=\"Where it failed\">\n\
         <li class=\"ok\"><span class=\"n\">You</span><span class=\"s\">Working</span></li>\n\
         <li class=\"ok\"><span class=\"n\">This site</span><span class=\"s\">Working</span></li>\n\
         <li class=\"bad\"><span class=\"n\">A service behind it</span><span class=\"s\">Bad answer</span></li>\n\
         </ol>\n<h2>What happened</h2>\n\
         <p>The service behind this site sent an answer this site could not use.</p>\n\
         <h2>What you can do</h2>\n<p>Try again now: reload this page.</p>\n\
         <h2>What the site&#39;s owner can do</h2>\n\
         <p>Give them this request ID: it lets them find what went wrong.</p>\n\
         <p class=\"id\"><code>req-1</code></p>\n\
         </main>\n</body>\n</html>\n"
    );
    Ok(())
}

#[tokio::test]
async fn problem_json_is_negotiated() -> Result<(), BoxError> {
    let accept = "application/problem+json";
    let headers = [("accept", accept), ("x-request-id", "req-1")];
    let response = send(app(), request(Method::GET, "/timeout", &headers)?).await?;
    assert_same(
        &response,
        &expected(timeout(), &Method::GET, Some(accept), "req-1")?,
    );
    assert_eq!(
        header(&response, "content-type"),
        "application/problem+json"
    );
    assert_eq!(
        header(&response, "proxy-status"),
        "bff;error=http_response_timeout"
    );
    assert_eq!(
        response.body(),
        r##"{"type":"about:blank","title":"Gateway Timeout","status":504,"detail":"The server did not receive a timely response from the upstream server. The operation might still be processing.","instance":"#req-1","kind":"http_response_timeout","retryable":true,"request_id":"req-1"}"##
    );
    Ok(())
}

#[tokio::test]
async fn accept_fields_are_negotiated_together() -> Result<(), BoxError> {
    let headers = [
        ("accept", "text/plain;q=0.5"),
        ("accept", "text/html"),
        ("x-request-id", "req-1"),
    ];
    let response = send(app(), request(Method::GET, "/bad", &headers)?).await?;
    assert_eq!(
        header(&response, "content-type"),
        "text/html; charset=utf-8"
    );
    Ok(())
}

#[tokio::test]
async fn retry_after_is_sent_as_a_field_and_in_the_body() -> Result<(), BoxError> {
    let headers = [("accept", "text/plain"), ("x-request-id", "req-1")];
    let response = send(app(), request(Method::GET, "/unavailable", &headers)?).await?;
    assert_same(
        &response,
        &expected(unavailable(), &Method::GET, Some("text/plain"), "req-1")?,
    );
    assert_eq!(response.status(), 503);
    assert_eq!(header(&response, "retry-after"), "30");
    assert_eq!(
        response.body(),
        "503 Service Unavailable\nThe service is temporarily unavailable. Please try again later.\n\
         The service expects to accept requests again in 30 seconds.\nRequest ID: req-1\n"
    );
    Ok(())
}

#[tokio::test]
async fn head_has_no_body_and_the_length_of_get() -> Result<(), BoxError> {
    for accept in [
        "application/json",
        "text/html",
        "application/problem+json",
        "text/plain",
    ] {
        let headers = [("accept", accept), ("x-request-id", "req-1")];
        let get = send(app(), request(Method::GET, "/unavailable", &headers)?).await?;
        let head = send(app(), request(Method::HEAD, "/unavailable", &headers)?).await?;
        assert_same(
            &head,
            &expected(unavailable(), &Method::HEAD, Some(accept), "req-1")?,
        );
        assert!(head.body().is_empty());
        assert_eq!(fields(head.headers()), fields(get.headers()), "{accept}");
        assert_eq!(
            header(&head, "content-length"),
            get.body().len().to_string()
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_post_that_timed_out_is_not_retryable() -> Result<(), BoxError> {
    let headers = [("x-request-id", "req-1")];
    let post = send(app(), request(Method::POST, "/timeout", &headers)?).await?;
    let get = send(app(), request(Method::GET, "/timeout", &headers)?).await?;
    assert_same(&post, &expected(timeout(), &Method::POST, None, "req-1")?);
    assert_same(&get, &expected(timeout(), &Method::GET, None, "req-1")?);
    let body =
        |r: &axum::http::Response<bytes::Bytes>| String::from_utf8_lossy(r.body()).into_owned();
    assert!(body(&post).contains(r#""retryable":false"#));
    assert!(body(&get).contains(r#""retryable":true"#));
    Ok(())
}

#[tokio::test]
async fn a_missing_request_id_is_generated_echoed_and_shown() -> Result<(), BoxError> {
    let response = send(app(), request(Method::GET, "/bad", &[])?).await?;
    let id = header(&response, "x-request-id").to_owned();
    assert!(is_generated_id(&id), "{id}");
    assert_same(&response, &expected(bad(), &Method::GET, None, &id)?);
    let body = String::from_utf8_lossy(response.body()).into_owned();
    assert!(
        body.ends_with(&format!(r#","request_id":"{id}"}}}}"#)),
        "{body}"
    );

    // The handler sees the id it answers with.
    let echo = send(app(), request(Method::GET, "/echo-id", &[])?).await?;
    let id = header(&echo, "x-request-id");
    assert!(is_generated_id(id), "{id}");
    assert_eq!(echo.body(), id);
    Ok(())
}

#[tokio::test]
async fn an_invalid_request_id_is_replaced() -> Result<(), BoxError> {
    let long = "a".repeat(129);
    for bad_id in ["", "has space", long.as_str()] {
        let headers = [("x-request-id", bad_id)];
        let echo = send(app(), request(Method::GET, "/echo-id", &headers)?).await?;
        let id = header(&echo, "x-request-id");
        assert!(is_generated_id(id), "{bad_id:?} became {id:?}");
        assert_eq!(echo.body(), id);
    }
    let longest = "a".repeat(128);
    let headers = [("x-request-id", longest.as_str())];
    let echo = send(app(), request(Method::GET, "/echo-id", &headers)?).await?;
    assert_eq!(header(&echo, "x-request-id"), longest);
    Ok(())
}

#[tokio::test]
async fn the_handlers_other_headers_are_kept() -> Result<(), BoxError> {
    let headers = [("accept", "text/html"), ("x-request-id", "req-1")];
    let response = send(app(), request(Method::GET, "/headers", &headers)?).await?;
    let rendered = expected(bad(), &Method::GET, Some("text/html"), "req-1")?;
    assert_eq!(response.body(), rendered.body());
    let mut want = fields(rendered.headers());
    want.extend(
        [
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("vary", "origin"),
            ("x-custom", "kept"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(fields(response.headers()), want);
    let vary: Vec<_> = response.headers().get_all("vary").iter().collect();
    assert_eq!(vary, ["accept", "origin"]);
    Ok(())
}

#[tokio::test]
async fn other_responses_only_get_the_request_id() -> Result<(), BoxError> {
    for (uri, status) in [("/ok", 200), ("/missing", 404)] {
        let headers = [("accept", "text/html"), ("x-request-id", "req-1")];
        let with = send(app(), request(Method::GET, uri, &headers)?).await?;
        let without = send(routes(), request(Method::GET, uri, &headers)?).await?;
        assert_eq!(with.status(), status);
        assert_eq!(with.status(), without.status());
        assert_eq!(with.body(), without.body());
        let mut want = fields(without.headers());
        want.push(("x-request-id".to_owned(), "req-1".to_owned()));
        want.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(fields(with.headers()), want);
    }
    Ok(())
}

#[tokio::test]
async fn the_source_never_reaches_the_client() -> Result<(), BoxError> {
    for uri in ["/bad", "/timeout", "/unavailable", "/headers"] {
        for accept in ["*/*", "application/problem+json", "text/html", "text/plain"] {
            let headers = [("accept", accept)];
            let response = send(app(), request(Method::GET, uri, &headers)?).await?;
            assert!(response.status().is_server_error());
            let body = String::from_utf8_lossy(response.body());
            assert!(!body.contains(SECRET), "{uri} {accept}: {body}");
            for (name, value) in fields(response.headers()) {
                assert!(!value.contains(SECRET), "{uri} {accept}: {name}");
            }
        }
    }
    Ok(())
}

#[tokio::test]
async fn the_error_stays_in_the_extensions() -> Result<(), BoxError> {
    use tower::ServiceExt;
    let response = app()
        .oneshot(request(Method::GET, "/timeout", &[])?)
        .await?;
    let err = response
        .extensions()
        .get::<gateway_error_core::GatewayError>();
    assert_eq!(err.map(|e| e.status().as_u16()), Some(504));
    Ok(())
}
