//! The hyper example (the one tower layer) over a loopback socket: exact status, fields
//! and body, compared with `gateway_error::render` for the same request.

use bytes::Bytes;
use gateway_error::{RenderContext, render};
use http::{HeaderValue, Method, Response};
use tokio::net::TcpListener;
use tokio::time::timeout;

mod common;

use common::{LIMIT, send};

/// What `render` gives for the product error and this request, as parsed.
fn expected(method: &Method, accept: &str, id: &str) -> (u16, Vec<(String, String)>, String) {
    let accept = [HeaderValue::from_str(accept).expect("an Accept value")];
    let policy = example_hyper::policy();
    let ctx = RenderContext::new()
        .with_accept_values(&accept)
        .with_method(method)
        .with_request_id(id)
        .with_policy(&policy);
    let response: Response<Bytes> = render(&example_hyper::product_error(), &ctx);
    let mut fields: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().expect("ASCII").to_owned()))
        .collect();
    fields.sort();
    let body = String::from_utf8(response.body().to_vec()).expect("UTF-8");
    (response.status().as_u16(), fields, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adapter_answers_with_the_renderers_bytes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("an address");
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(example_hyper::serve(listener, stopped));

    // An error for a browser: HTML, the policy's Proxy-Status, the id.
    let got = send(
        addr,
        "GET /products/7 HTTP/1.1\r\naccept: text/html\r\nx-request-id: req-1",
    )
    .await;
    let want = expected(&Method::GET, "text/html", "req-1");
    assert_eq!(got, want);
    assert_eq!(got.0, 502);
    assert!(
        want.1
            .contains(&("content-type".into(), "text/html; charset=utf-8".into()))
    );
    assert!(want.1.contains(&(
        "proxy-status".into(),
        "edge;error=connection_refused".into()
    )));
    assert!(want.1.contains(&("x-request-id".into(), "req-1".into())));

    // HEAD: GET's fields and length, no body.
    let got = send(
        addr,
        "HEAD /products/7 HTTP/1.1\r\naccept: text/html\r\nx-request-id: req-2",
    )
    .await;
    let get = expected(&Method::GET, "text/html", "req-2");
    assert_eq!(got, expected(&Method::HEAD, "text/html", "req-2"));
    assert_eq!((got.0, &got.1, got.2.as_str()), (502, &get.1, ""));

    // A generated id when the client sent an invalid one, in body and header.
    let got = send(addr, "GET /products/7 HTTP/1.1\r\nx-request-id: not valid").await;
    let id = got
        .1
        .iter()
        .find(|(name, _)| name == "x-request-id")
        .map(|(_, id)| id.clone())
        .expect("an id");
    assert!(id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    assert_eq!(got, expected(&Method::GET, "application/json", &id));

    // A success: the handler's response, the id echoed.
    let got = send(addr, "GET /health HTTP/1.1\r\nx-request-id: req-3").await;
    let fields = vec![
        ("content-length".to_owned(), "2".to_owned()),
        (
            "content-type".to_owned(),
            "text/plain; charset=utf-8".to_owned(),
        ),
        ("x-request-id".to_owned(), "req-3".to_owned()),
    ];
    assert_eq!(got, (200, fields, "ok".to_owned()));

    let _ = stop.send(());
    timeout(LIMIT, server)
        .await
        .expect("the server stops in time")
        .expect("the server task")
        .expect("the server");
}
