use std::sync::{Arc, Mutex};

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, ETAG, TRANSFER_ENCODING};
use http::{HeaderValue, Method, Response, StatusCode};

use super::context::content_length;
use super::*;
use crate::{BadGateway, Format, GatewayError, GatewayTimeout, ProxyError, X_REQUEST_ID, render};

/// A pipeline whose observer records (status, error.type, request id,
/// rendered again) per report.
type Reports = Arc<Mutex<Vec<(u16, String, String, bool)>>>;

fn recording() -> (Pipeline, Reports) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let pipeline = Pipeline::new(Policy::new().with_proxy_name("edge")).on_error(
        move |event: &ErrorEvent<'_>| {
            log.lock().unwrap().push((
                event.status().as_u16(),
                event.error_type().to_owned(),
                event.request_id().to_string(),
                event.rendered_again(),
            ));
        },
    );
    (pipeline, seen)
}

#[test]
fn an_error_rendered_for_the_current_context_is_kept_as_it_is_and_reported_once() {
    let (pipeline, seen) = recording();
    let ctx = pipeline.capture_parts(Method::POST, Format::Text, Some(b"req-1"));
    let error = GatewayError::from_kind("db", ProxyError::ConnectionRefused);
    let response = ctx.in_scope(|| respond(error.clone()));
    let body = response.body().clone();
    let Finished::Kept(response) = ctx.finish(response) else {
        panic!("rendered again")
    };
    assert_eq!(response.body(), &body);
    let expected = render(&error, &ctx.render_context());
    assert_eq!(response.body(), expected.body());
    assert_eq!(response.headers()["x-request-id"], "req-1");
    assert_eq!(
        response.headers()["proxy-status"],
        "edge;error=connection_refused"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        [(502, "connection_refused".into(), "req-1".into(), false)]
    );
}

#[test]
fn an_error_rendered_without_a_context_is_rendered_again_over_stale_framing() {
    let (pipeline, seen) = recording();
    let ctx = pipeline.capture_parts(Method::GET, Format::Html, Some(b"req-2"));
    // As in a task the handler spawned: no context current.
    let mut response = respond(GatewayTimeout::upstream("pricing").into());
    for (name, value) in [
        (TRANSFER_ENCODING, "chunked"),
        (ETAG, "\"v1\""),
        (http::header::HeaderName::from_static("x-trace"), "t-1"),
    ] {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    let Finished::Rendered(response) = ctx.finish(response) else {
        panic!("kept a response rendered for no context")
    };
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(response.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(
        response.headers()[CONTENT_LENGTH],
        response.body().len().to_string()
    );
    assert!(response.headers().get(TRANSFER_ENCODING).is_none());
    assert_eq!(response.headers()["x-trace"], "t-1");
    assert_eq!(response.headers()["x-request-id"], "req-2");
    assert!(response.extensions().get::<Rendered>().is_some());
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert!(seen.lock().unwrap()[0].3, "reported as rendered again");
}

#[test]
fn responses_without_errors_echo_the_id_unless_they_have_one() {
    let ctx = Pipeline::default().capture_parts(Method::GET, Format::Json, Some(b"req-3"));
    let response = ctx.finish(Response::new(())).map_body(|b| b, |_| ());
    assert_eq!(response.headers()["x-request-id"], "req-3");

    let own = Response::builder()
        .header("x-request-id", "upstream-7")
        .body(())
        .unwrap();
    let response = ctx.finish(own).map_body(|b| b, |_| ());
    assert_eq!(response.headers()["x-request-id"], "upstream-7");
}

#[test]
fn a_handlers_own_id_wins_on_a_rendered_again_error_in_header_and_body() {
    let ctx = Pipeline::default().capture_parts(Method::GET, Format::Text, Some(b"req-4"));
    let mut response = respond(BadGateway::new().into());
    response
        .headers_mut()
        .insert("x-request-id", HeaderValue::from_static("own-4"));
    let Finished::Rendered(response) = ctx.finish(response) else {
        panic!("kept")
    };
    assert_eq!(response.headers()["x-request-id"], "own-4");
    assert!(response.body().ends_with(b"Request ID: own-4\n"));

    // The error's own id wins over both.
    let mut response = respond(BadGateway::new().with_request_id("err-4").into());
    response
        .headers_mut()
        .insert("x-request-id", HeaderValue::from_static("own-4"));
    let response = ctx.finish(response).map_body(|b| b, |b| b);
    assert_eq!(response.headers()["x-request-id"], "err-4");
    assert!(response.body().ends_with(b"Request ID: err-4\n"));
}

#[test]
fn ids_follow_one_rule() {
    let pipeline = Pipeline::default();
    let valid = pipeline.capture_parts(Method::GET, Format::Json, Some(b"abc"));
    assert_eq!(valid.request_id().as_str(), "abc");
    assert!(!valid.request_id().is_generated());
    for bad in [&b""[..], b"two words", b"\xff", &[b'a'; 129]] {
        let ctx = pipeline.capture_parts(Method::GET, Format::Json, Some(bad));
        assert!(ctx.request_id().is_generated(), "{bad:?}");
        assert_eq!(ctx.request_id().as_str().len(), 32);
    }
    let none = pipeline.capture_parts(Method::GET, Format::Json, None);
    assert!(none.request_id().is_generated());
}

#[test]
fn nested_contexts_share_the_id_render_with_their_own_policy_and_report_once() {
    let (outer_pipeline, seen) = recording();
    let inner_pipeline = Pipeline::new(Policy::new().with_proxy_name("inner"));
    let outer = outer_pipeline.capture_parts(Method::GET, Format::Json, Some(b"req-5"));
    let (inner, response) = outer.in_scope(|| {
        let inner = inner_pipeline.capture_parts(Method::GET, Format::Json, Some(b"ignored"));
        let response = inner.in_scope(|| respond(BadGateway::new().into()));
        (inner.clone(), inner.finish(response))
    });
    assert!(inner.is_nested());
    assert_eq!(inner.request_id().as_str(), "req-5");
    let Finished::Kept(response) = response else {
        panic!("inner rendered again")
    };
    assert_eq!(response.headers()["proxy-status"], "inner");
    assert!(
        seen.lock().unwrap().is_empty(),
        "the inner adapter does not report"
    );
    let Finished::Kept(response) = outer.finish(response) else {
        panic!("outer rendered again")
    };
    assert_eq!(response.headers()["proxy-status"], "inner");
    assert_eq!(response.headers()["x-request-id"], "req-5");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[test]
fn the_current_context_is_restored_after_a_panic_and_on_other_threads_there_is_none() {
    let ctx = Pipeline::default().capture_parts(Method::GET, Format::Json, None);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ctx.in_scope(|| panic!("handler"))
    }));
    assert!(panicked.is_err());
    assert!(RequestContext::current().is_none());
    ctx.in_scope(|| {
        let elsewhere = std::thread::spawn(|| RequestContext::current().is_none());
        assert!(elsewhere.join().unwrap());
    });
}

#[test]
fn head_responses_have_gets_length_and_no_body() {
    let ctx = Pipeline::default().capture_parts(Method::HEAD, Format::Json, None);
    let response = ctx.error_response(BadGateway::new().into());
    assert!(response.body().is_empty());
    let get = Pipeline::default()
        .capture_parts(Method::GET, Format::Json, None)
        .error_response(BadGateway::new().into());
    assert_eq!(
        content_length(response.headers()),
        Some(get.body().len() as u64)
    );
}

#[test]
fn quiet_pipelines_still_call_observers() {
    let (pipeline, seen) = recording();
    let pipeline = pipeline.with_tracing(false);
    assert!(!pipeline.traces());
    let ctx = pipeline.capture_parts(Method::GET, Format::Json, None);
    let _ = ctx.finish(ctx.error_response(BadGateway::new().into()));
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[test]
fn a_head_changed_after_rendering_is_rendered_again() {
    let ctx = Pipeline::default().capture_parts(Method::GET, Format::Json, Some(b"req-6"));
    let fresh = || ctx.in_scope(|| respond(BadGateway::new().into()));
    assert!(matches!(ctx.finish(fresh()), Finished::Kept(_)));
    for (name, value) in [
        (CONTENT_LENGTH, "999"),
        (CONTENT_LENGTH, "+1"),
        (CONTENT_TYPE, "text/plain"),
        (ETAG, "\"v2\""),
    ] {
        let mut response = fresh();
        response
            .headers_mut()
            .insert(name.clone(), HeaderValue::from_static(value));
        let Finished::Rendered(response) = ctx.finish(response) else {
            panic!("kept a response whose {name} changed")
        };
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(
            response.headers()[CONTENT_LENGTH],
            response.body().len().to_string()
        );
    }
}

/// The `tracing` event: OpenTelemetry field names, the source chain in
/// `exception.message`, and no such field for an error without a source.
#[cfg(feature = "tracing")]
#[test]
fn the_tracing_event_has_the_opentelemetry_fields() {
    use crate::test_support::{Events, field};

    let events = Events::default();
    let pipeline = Pipeline::new(Policy::new());
    tracing::subscriber::with_default(events.clone(), || {
        let ctx = pipeline.capture_parts(Method::POST, Format::Json, Some(b"req-7"));
        let refused = BadGateway::upstream("orders")
            .with_kind(ProxyError::ConnectionRefused)
            .with_source(std::io::Error::other("connect to 10.0.0.7 refused"));
        let _ = ctx.finish(ctx.error_response(refused.into()));
        let ctx = pipeline.capture_parts(Method::GET, Format::Json, Some(b"req-8"));
        let busy = GatewayError::from_upstream_response(
            "orders",
            StatusCode::SERVICE_UNAVAILABLE,
            &http::HeaderMap::new(),
        );
        let _ = ctx.finish(ctx.error_response(busy));
    });
    let events = events.take();
    let [(level, refused), (busy_level, busy)] = &events[..] else {
        panic!("two events expected: {events:?}")
    };
    assert_eq!(*level, tracing::Level::WARN);
    let expected = [
        ("error.type", "connection_refused"),
        ("http.response.status_code", "502"),
        ("http.request.method", "POST"),
        ("http.request.header.x-request-id", "req-7"),
        ("gateway_error.upstream", "orders"),
        ("gateway_error.phase", "not_sent"),
        ("gateway_error.retryable", "true"),
        ("exception.message", "connect to 10.0.0.7 refused"),
    ];
    for (name, value) in expected {
        assert_eq!(field(refused, name).as_deref(), Some(value), "{name}");
    }
    assert_eq!(*busy_level, tracing::Level::WARN);
    assert_eq!(field(busy, "error.type").as_deref(), Some("503"));
    assert_eq!(field(busy, "exception.message"), None, "{busy:?}");
}

/// A handler that sets its own `x-request-id` on an error response: the
/// header, every format's body and the log event carry that one id,
/// whether the error was rendered in the request's context or without one
/// (a spawned task); an error's own id wins over both.
#[test]
fn one_response_carries_one_request_id_on_every_path() {
    for format in Format::ALL {
        for in_context in [true, false] {
            for error_id in [None, Some("err-9")] {
                let (pipeline, seen) = recording();
                let ctx = pipeline.capture_parts(Method::GET, format, Some(b"req-7"));
                let mut error = GatewayError::from_kind("db", ProxyError::ConnectionRefused);
                if let Some(id) = error_id {
                    error = error.with_request_id(id);
                }
                let mut response = if in_context {
                    ctx.in_scope(|| respond(error.clone()))
                } else {
                    respond(error.clone())
                };
                response
                    .headers_mut()
                    .insert(&X_REQUEST_ID, HeaderValue::from_static("handler-3"));
                let response = ctx.finish(response).map_body(|kept| kept, |again| again);
                let want = error_id.unwrap_or("handler-3");
                let what = format!("{format:?}, in context: {in_context}, {error_id:?}");
                assert_eq!(response.headers()["x-request-id"], want, "{what}");
                assert_eq!(
                    response.headers().get_all("x-request-id").iter().count(),
                    1,
                    "{what}"
                );
                let body = std::str::from_utf8(response.body()).expect("utf-8");
                assert!(body.contains(want), "{what}: {body}");
                assert!(!body.contains("req-7"), "{what}: {body}");
                let reports = seen.lock().unwrap();
                assert_eq!(reports.len(), 1, "{what}");
                assert_eq!(reports[0].2, want, "{what}");
            }
        }
    }
}

/// A handler's id that is not a valid request id does not win: the
/// request's id is the one, in the header and the body.
#[test]
fn an_invalid_handler_id_gives_way_to_the_request_id() {
    let (pipeline, seen) = recording();
    let ctx = pipeline.capture_parts(Method::GET, Format::Text, Some(b"req-8"));
    let mut response = ctx.in_scope(|| respond(BadGateway::new().into()));
    response
        .headers_mut()
        .insert(&X_REQUEST_ID, HeaderValue::from_static("two words"));
    let response = ctx.finish(response).map_body(|kept| kept, |again| again);
    assert_eq!(response.headers()["x-request-id"], "req-8");
    assert!(response.body().ends_with(b"Request ID: req-8\n"));
    assert_eq!(seen.lock().unwrap()[0].2, "req-8");
}

/// With the shortcut off, a handler's error is rendered for the default
/// context and the adapter renders it again: the same bytes, by the other
/// route (the conformance suite runs every framework both ways).
#[test]
fn the_shortcut_off_renders_again_with_the_same_bytes() {
    for format in Format::ALL {
        let error = GatewayError::from_kind("db", ProxyError::HttpResponseTimeout);
        let mut answers = Vec::new();
        for on in [true, false] {
            let (pipeline, _) = recording();
            let pipeline = pipeline.with_render_in_handler(on);
            let ctx = pipeline.capture_parts(Method::POST, format, Some(b"req-9"));
            let response = ctx.in_scope(|| respond(error.clone()));
            assert_eq!(
                response.extensions().get::<Rendered>().is_some(),
                on,
                "{format:?}"
            );
            let finished = ctx.finish(response);
            assert_eq!(matches!(finished, Finished::Kept(_)), on, "{format:?}");
            let response = finished.map_body(|kept| kept, |again| again);
            let mut headers: Vec<_> = response
                .headers()
                .iter()
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect();
            headers.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
            answers.push((response.status(), headers, response.body().clone()));
        }
        assert_eq!(answers[0], answers[1], "{format:?}");
    }
}

#[test]
fn the_request_id_travels_in_the_policys_header() {
    let name = http::HeaderName::from_static("x-correlation-id");
    let pipeline = Pipeline::new(Policy::new().with_request_id_header(name.clone()));
    for on in [true, false] {
        let pipeline = pipeline.clone().with_render_in_handler(on);
        // Read from the policy's header, not from `x-request-id`.
        let request = http::Request::post("/orders")
            .header("x-correlation-id", "corr-1")
            .header("x-request-id", "other-1")
            .header("accept", "text/plain")
            .body(())
            .expect("a request");
        let ctx = pipeline.capture(request.method(), request.headers());
        assert_eq!(ctx.request_id().as_str(), "corr-1");
        let response = ctx.in_scope(|| respond(BadGateway::new().into()));
        let response = ctx
            .finish(response)
            .map_body(|kept| kept, |rendered| rendered);
        assert_eq!(response.headers()["x-correlation-id"], "corr-1", "{on}");
        assert!(response.headers().get("x-request-id").is_none(), "{on}");
        assert!(response.body().ends_with(b"Request ID: corr-1\n"), "{on}");

        // A success is echoed under that name too; a generated id is put
        // into the request under it.
        let mut request = http::Request::get("/").body(()).expect("a request");
        let ctx = pipeline.begin(&mut request);
        assert_eq!(
            request.headers()["x-correlation-id"],
            ctx.request_id().as_str()
        );
        let response = ctx
            .finish(Response::new(()))
            .map_body(|kept| kept, |_| unreachable!());
        assert_eq!(
            response.headers()["x-correlation-id"],
            ctx.request_id().as_str()
        );
        assert!(response.headers().get("x-request-id").is_none());
    }
}

#[test]
fn a_request_without_an_id_gets_one_the_pipeline_makes() {
    let made =
        Pipeline::default().with_make_request_id(|| Some(HeaderValue::from_static("made-1")));
    let ctx = made.capture_parts(Method::GET, Format::Text, None);
    assert_eq!(ctx.request_id().as_str(), "made-1");
    assert!(ctx.request_id().is_generated());
    // The request's own valid id wins; an invalid one is replaced.
    let ctx = made.capture_parts(Method::GET, Format::Text, Some(b"own-1"));
    assert_eq!(ctx.request_id().as_str(), "own-1");
    let ctx = made.capture_parts(Method::GET, Format::Text, Some(b"two words"));
    assert_eq!(ctx.request_id().as_str(), "made-1");
    // What the maker makes must be valid too; else a generated one.
    for bad in [None, Some(HeaderValue::from_static("two words"))] {
        let pipeline = Pipeline::default().with_make_request_id(move || bad.clone());
        let ctx = pipeline.capture_parts(Method::GET, Format::Text, None);
        assert_eq!(ctx.request_id().as_str().len(), 32);
    }
}

#[test]
fn nesting_is_found_in_the_request_without_the_shortcut() {
    // Two adapters on one request (a layer on a nested router inside the
    // app's), both with the shortcut off: the inner one finds the outer's
    // context in the request's extensions, renders under its own policy,
    // and the outer keeps that answer and reports it once.
    let (outer_pipeline, seen) = recording();
    let outer_pipeline = outer_pipeline.with_render_in_handler(false);
    let inner_pipeline =
        Pipeline::new(Policy::new().with_proxy_name("inner")).with_render_in_handler(false);
    let mut request = http::Request::get("/inner")
        .header("x-request-id", "req-9")
        .body(())
        .expect("a request");
    let outer = outer_pipeline.begin(&mut request);
    let inner = inner_pipeline.begin(&mut request);
    assert!(inner.is_nested());
    assert_eq!(inner.request_id().as_str(), "req-9");
    // No scope is current: the handler's error is rendered for no request.
    assert!(RequestContext::current().is_none());
    let response = respond(BadGateway::new().into());
    let Finished::Rendered(response) = inner.finish(response) else {
        panic!("the inner adapter renders it for the request")
    };
    assert_eq!(response.headers()["proxy-status"], "inner");
    assert!(
        seen.lock().unwrap().is_empty(),
        "the inner adapter does not report"
    );
    let Finished::Kept(response) = outer.finish(response) else {
        panic!("the outer adapter keeps the inner's answer")
    };
    assert_eq!(response.headers()["proxy-status"], "inner");
    assert_eq!(response.headers()["x-request-id"], "req-9");
    assert_eq!(
        *seen.lock().unwrap(),
        [(502, "502".into(), "req-9".into(), true)]
    );
}
