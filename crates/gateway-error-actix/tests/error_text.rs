//! The ways an actix-web handler can fail with a gateway error (the error
//! type, `actix_web::Error`, the `GatewayError` enum, an `HttpResponse`
//! from the error): each is rendered, and neither the error's `Debug` or
//! `Display` text nor its source reaches the client.

use actix_web::body::MessageBody as _;
use actix_web::test::{self, TestRequest};
use actix_web::{App, Error, HttpResponse, web};
use gateway_error::actix::GatewayErrors;
use gateway_error::{BadGateway, GatewayError, Policy, ProxyError, RenderContext, render};

const SECRET: &str = "connect ECONNREFUSED 10.0.0.7:8080";

fn error() -> BadGateway {
    BadGateway::upstream("product-service")
        .with_kind(ProxyError::ConnectionRefused)
        .with_source(std::io::Error::other(SECRET))
}

fn policy() -> Policy {
    Policy::new().with_proxy_name("bff")
}

#[actix_web::test]
async fn every_way_to_fail_renders_the_error() {
    let app = test::init_service(
        App::new()
            .wrap(GatewayErrors::new(policy()))
            .route(
                "/typed",
                web::get().to(|| async { Err::<String, _>(error()) }),
            )
            .route(
                "/actix-error",
                web::get().to(|| async { Err::<String, Error>(error().into()) }),
            )
            .route(
                "/enum",
                web::get().to(|| async { Err::<String, _>(GatewayError::from(error())) }),
            )
            .route(
                "/response",
                web::get().to(|| async { HttpResponse::from_error(Error::from(error())) }),
            ),
    )
    .await;
    let headers = {
        let mut h = http::HeaderMap::new();
        h.insert("x-request-id", http::HeaderValue::from_static("req-1"));
        h
    };
    let policy = policy();
    let ctx = RenderContext::from_request(&http::Method::GET, &headers).with_policy(&policy);
    let want = render(&GatewayError::from(error()), &ctx);
    let mut expected: Vec<(String, String)> = want
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    expected.sort();
    for path in ["/typed", "/actix-error", "/enum", "/response"] {
        let req = TestRequest::get()
            .uri(path)
            .insert_header(("x-request-id", "req-1"))
            .to_request();
        let response = test::call_service(&app, req).await;
        let status = response.status().as_u16();
        let mut headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        headers.sort();
        let body = response.into_body().try_into_bytes().unwrap_or_default();
        let body = String::from_utf8_lossy(&body).into_owned();
        assert_eq!(status, 502, "{path}");
        assert_eq!(headers, expected, "{path}");
        assert_eq!(body.as_bytes(), want.body().as_ref(), "{path}");
        for text in [SECRET, "BadGateway", "product-service", "bad gateway ("] {
            assert!(!body.contains(text), "{path}: {body}");
        }
    }
}

/// actix-web's own `InternalError` (`ErrorBadGateway(err)`) answers with
/// the wrapped error's `Display` text, which the adapter cannot re-render:
/// that text is the short message and the kind, never the upstream's name
/// (hidden by the policy), the details or the source.
#[actix_web::test]
async fn actix_internal_errors_show_no_upstream_name() {
    let app = test::init_service(App::new().wrap(GatewayErrors::new(policy())).route(
        "/internal",
        web::get().to(|| async {
            Err::<String, Error>(actix_web::error::ErrorBadGateway(
                error().with_details("the catalog is down"),
            ))
        }),
    ))
    .await;
    let req = TestRequest::get().uri("/internal").to_request();
    let response = test::call_service(&app, req).await;
    assert_eq!(response.status().as_u16(), 502);
    let body = response.into_body().try_into_bytes().unwrap_or_default();
    assert_eq!(&body[..], b"bad gateway (connection_refused)");
}
