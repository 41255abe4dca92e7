//! The OpenAPI documents of a small axum app, built with utoipa and with
//! aide, are valid (openapi-spec-validator) and true to the bytes: every
//! body the renderer writes, for every kind, status and JSON format, with
//! and without the optional members, validates against the schema the
//! document gives for its status and media type, and every header the app
//! sends is documented with a schema its value satisfies.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use gateway_error::axum::GatewayErrorLayer;
use gateway_error::{
    BadGateway, Format, GatewayError, GatewayTimeout, InternalServerError, Policy, ProxyError,
    RenderContext, ServiceUnavailable, render,
};
use gateway_error_tests::validators::validator_missing;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use strum::VariantArray;
use tower::ServiceExt;

/// Where `.ci/run` puts the validator; when unset, `PATH` is searched.
const VALIDATOR_ENV: &str = "OPENAPI_SPEC_VALIDATOR";

// ---------------------------------------------------------------------------
// The app: the same handlers, documented by utoipa and by aide
// ---------------------------------------------------------------------------

const PRODUCTS: &str = "/products/{id}";
const QUOTES: &str = "/quotes/{kind}";

/// The path parameters (aide reads their names from the schema).
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct ProductPath {
    /// The product.
    id: u32,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct QuotePath {
    /// An RFC 9209 error type.
    kind: String,
}

/// One status only: `BadGateway`.
#[utoipa::path(
    get,
    path = "/products/{id}",
    params(("id" = u32, Path, description = "The product")),
    responses((status = 200, description = "The product", body = String), BadGateway)
)]
async fn product(Path(ProductPath { id }): Path<ProductPath>) -> Result<String, BadGateway> {
    Err(BadGateway::upstream("product-service")
        .with_kind(ProxyError::ConnectionRefused)
        .with_details(format!("Product {id} is unreachable.")))
}

/// Any of the four statuses: the kind named in the path decides.
#[utoipa::path(
    get,
    path = "/quotes/{kind}",
    params(("kind" = String, Path, description = "An RFC 9209 error type")),
    responses((status = 200, description = "A quote", body = String), GatewayError)
)]
async fn quote(Path(QuotePath { kind }): Path<QuotePath>) -> Result<String, GatewayError> {
    Err(failure(&kind))
}

/// The same for POST, where a timeout is not safely retryable.
#[utoipa::path(
    post,
    path = "/quotes/{kind}",
    params(("kind" = String, Path, description = "An RFC 9209 error type")),
    responses((status = 200, description = "An order", body = String), GatewayError)
)]
async fn order(Path(QuotePath { kind }): Path<QuotePath>) -> Result<String, GatewayError> {
    Err(failure(&kind))
}

fn failure(kind: &str) -> GatewayError {
    match kind.parse::<ProxyError>() {
        Ok(kind) => {
            GatewayError::from_kind("pricing", kind).with_retry_after(Duration::from_secs(7))
        }
        Err(_) => InternalServerError::new().into(),
    }
}

fn policy() -> Policy {
    Policy::new().with_proxy_name("openapi-test")
}

fn utoipa_app() -> (Router, Doc) {
    use utoipa_axum::router::OpenApiRouter;
    use utoipa_axum::routes;

    let (router, api) = OpenApiRouter::new()
        .routes(routes!(product))
        .routes(routes!(quote, order))
        .split_for_parts();
    let doc = serde_json::to_value(&api).expect("the utoipa document serializes");
    (
        router.layer(GatewayErrorLayer::new(policy())),
        Doc::new("utoipa", doc),
    )
}

fn aide_app() -> (Router, Doc) {
    use aide::axum::ApiRouter;
    use aide::axum::routing::get;
    use aide::openapi::{Info, OpenApi};

    let mut api = OpenApi {
        info: Info {
            title: "openapi test".into(),
            version: "1".into(),
            ..Info::default()
        },
        ..OpenApi::default()
    };
    let router = ApiRouter::new()
        .api_route(PRODUCTS, get(product))
        .api_route(QUOTES, get(quote).post(order))
        .finish_api(&mut api);
    let doc = serde_json::to_value(&api).expect("the aide document serializes");
    (
        router.layer(GatewayErrorLayer::new(policy())),
        Doc::new("aide", doc),
    )
}

fn documents() -> [Doc; 2] {
    [utoipa_app().1, aide_app().1]
}

// ---------------------------------------------------------------------------
// Reading a document
// ---------------------------------------------------------------------------

/// A JSON pointer to `segments` (RFC 6901), as a URI fragment.
fn fragment(segments: &[&str]) -> String {
    let mut out = String::from("#");
    for segment in segments {
        out.push('/');
        for c in segment.chars() {
            match c {
                '~' => out.push_str("~0"),
                '/' => out.push_str("~1"),
                '{' => out.push_str("%7B"),
                '}' => out.push_str("%7D"),
                c => out.push(c),
            }
        }
    }
    out
}

/// A document, and the validators compiled from its schemas.
struct Doc {
    name: &'static str,
    value: Value,
    validators: RefCell<HashMap<String, Rc<jsonschema::Validator>>>,
}

impl Doc {
    fn new(name: &'static str, value: Value) -> Self {
        Self {
            name,
            value,
            validators: RefCell::default(),
        }
    }

    /// The schema at `segments`, compiled with the whole document as its
    /// root so that any `$ref` in it resolves as a reader would resolve it.
    fn validator(&self, segments: &[&str]) -> Rc<jsonschema::Validator> {
        let mut pointer = String::new();
        for segment in segments {
            pointer.push('/');
            pointer.push_str(&segment.replace('~', "~0").replace('/', "~1"));
        }
        if let Some(validator) = self.validators.borrow().get(&pointer) {
            return Rc::clone(validator);
        }
        assert!(
            self.value.pointer(&pointer).is_some(),
            "{}: no schema at {pointer}",
            self.name
        );
        let mut root = self.value.clone();
        root["$ref"] = Value::String(fragment(segments));
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("{}: schema at {pointer} does not compile: {e}", self.name));
        let validator = Rc::new(validator);
        self.validators
            .borrow_mut()
            .insert(pointer, Rc::clone(&validator));
        validator
    }
}

fn media_type(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or_default().trim()
}

/// Checks one response of the app (or of `render`) against what the
/// document says about `method path` and the response's status.
fn check(
    doc: &Doc,
    path: &str,
    method: &str,
    response: &Response<bytes::Bytes>,
) -> Result<(), String> {
    let status = response.status().as_str().to_owned();
    let documented = &doc.value["paths"][path][method]["responses"][&status];
    if !documented.is_object() {
        return Err(format!(
            "{method} {path}: status {status} is not documented"
        ));
    }
    let at = |rest: &[&str]| -> Vec<String> {
        let mut segments = vec![
            "paths".to_owned(),
            path.to_owned(),
            method.to_owned(),
            "responses".to_owned(),
            status.clone(),
        ];
        segments.extend(rest.iter().map(|s| (*s).to_owned()));
        segments
    };
    let validate = |segments: Vec<String>, instance: &Value| -> Result<(), String> {
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let errors: Vec<String> = doc
            .validator(&segments)
            .iter_errors(instance)
            .map(|e| format!("at {}: {e}", e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{}: {method} {path} {status}: {instance} against {}: {}",
                doc.name,
                fragment(&segments),
                errors.join("; ")
            ))
        }
    };

    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or("no content-type")?;
    let media = media_type(content_type);
    if !documented["content"][media].is_object() {
        return Err(format!(
            "{method} {path} {status}: {media} is not documented"
        ));
    }
    if !response.body().is_empty() {
        let body: Value = match media {
            "application/json" | "application/problem+json" => {
                serde_json::from_slice(response.body()).map_err(|e| format!("not JSON: {e}"))?
            }
            _ => Value::String(
                String::from_utf8(response.body().to_vec()).map_err(|e| e.to_string())?,
            ),
        };
        validate(at(&["content", media, "schema"]), &body)?;
    }

    for (name, value) in response.headers() {
        if name == http::header::CONTENT_TYPE || name == http::header::CONTENT_LENGTH {
            continue;
        }
        if !documented["headers"][name.as_str()].is_object() {
            return Err(format!(
                "{method} {path} {status}: header {name} is not documented"
            ));
        }
        let value = Value::String(value.to_str().map_err(|e| e.to_string())?.to_owned());
        validate(at(&["headers", name.as_str(), "schema"]), &value)?;
    }
    let headers = documented["headers"].as_object().ok_or("no headers")?;
    for (name, header) in headers {
        if header["required"] == true && !response.headers().contains_key(name.as_str()) {
            return Err(format!(
                "{method} {path} {status}: required header {name} is missing"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The documents are valid OpenAPI
// ---------------------------------------------------------------------------

/// The openapi-spec-validator command, or `None` to skip (never under CI:
/// see `validator_missing`).
fn spec_validator() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(VALIDATOR_ENV).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let on_path = Command::new("openapi-spec-validator")
        .arg("--help")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if on_path {
        return Some(PathBuf::from("openapi-spec-validator"));
    }
    validator_missing(
        "openapi-spec-validator",
        &format!("pip install openapi-spec-validator, or set {VALIDATOR_ENV} to its command"),
    );
    None
}

#[test]
fn the_documents_are_valid_openapi() {
    let documents = documents();
    for Doc {
        name, value: doc, ..
    } in &documents
    {
        assert_eq!(
            doc["openapi"].as_str().map(|v| &v[..2]),
            Some("3."),
            "{name}"
        );
    }
    let Some(validator) = spec_validator() else {
        return;
    };
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    for Doc {
        name, value: doc, ..
    } in &documents
    {
        let file = std::env::temp_dir().join(format!(
            "gateway-error-openapi-{name}-{}-{stamp}.json",
            std::process::id()
        ));
        std::fs::write(&file, serde_json::to_vec_pretty(doc).expect("serializes"))
            .expect("writes the document");
        let output = Command::new(&validator)
            .arg(&file)
            .stdin(Stdio::null())
            .output();
        let _ = std::fs::remove_file(&file);
        let output = output.unwrap_or_else(|e| panic!("{}: {e}", validator.display()));
        assert!(
            output.status.success(),
            "{name}: openapi-spec-validator rejects the document:\n{}\n{}\n{doc:#}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

// ---------------------------------------------------------------------------
// The documents describe the statuses, formats and headers
// ---------------------------------------------------------------------------

#[test]
fn each_error_type_documents_its_statuses_formats_and_headers() {
    for Doc {
        name, value: doc, ..
    } in documents()
    {
        for (path, methods, statuses) in [
            (PRODUCTS, &["get"][..], &["502"][..]),
            (
                QUOTES,
                &["get", "post"][..],
                &["500", "502", "503", "504"][..],
            ),
        ] {
            for method in methods {
                let responses = doc["paths"][path][method]["responses"]
                    .as_object()
                    .unwrap_or_else(|| panic!("{name}: no responses for {method} {path}"));
                let documented: Vec<&str> = responses
                    .keys()
                    .map(String::as_str)
                    .filter(|s| s.starts_with('5'))
                    .collect();
                assert_eq!(documented, statuses, "{name} {method} {path}");
                assert!(responses.contains_key("200"), "{name} {method} {path}");
                for status in statuses {
                    let response = &responses[*status];
                    let content: Vec<&str> = response["content"]
                        .as_object()
                        .map(|c| c.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    assert_eq!(
                        content,
                        [
                            "application/json",
                            "application/problem+json",
                            "text/html",
                            "text/plain"
                        ],
                        "{name} {method} {path} {status}"
                    );
                    for header in [
                        "cache-control",
                        "vary",
                        "retry-after",
                        "proxy-status",
                        "x-request-id",
                    ] {
                        assert!(
                            response["headers"][header].is_object(),
                            "{name} {method} {path} {status}: {header}"
                        );
                    }
                    if name == "aide" {
                        assert_eq!(response["headers"]["cache-control"]["required"], true);
                        assert_eq!(response["headers"]["retry-after"]["required"], Value::Null);
                    }
                }
            }
        }
    }
}

/// The examples are the renderer's bytes, and valid against their schemas.
#[test]
fn the_examples_are_rendered_and_valid() {
    for doc in documents() {
        let name = doc.name;
        let response = &doc.value["paths"][QUOTES]["get"]["responses"]["503"];
        let bare = GatewayError::from(ServiceUnavailable::new());
        for format in Format::ALL {
            let media = media_type(format.content_type());
            let rendered = render(&bare, &RenderContext::new().with_format(format));
            let expected = match format {
                Format::Json | Format::ProblemJson => {
                    serde_json::from_slice(rendered.body()).expect("JSON")
                }
                _ => Value::String(String::from_utf8(rendered.body().to_vec()).expect("UTF-8")),
            };
            let examples = &response["content"][media]["examples"];
            assert_eq!(examples["bare"]["value"], expected, "{name} {media}");
            for example in ["bare", "typical"] {
                let value = &examples[example]["value"];
                let errors: Vec<String> = doc
                    .validator(&[
                        "paths",
                        QUOTES,
                        "get",
                        "responses",
                        "503",
                        "content",
                        media,
                        "schema",
                    ])
                    .iter_errors(value)
                    .map(|e| e.to_string())
                    .collect();
                assert!(errors.is_empty(), "{name} {media} {example}: {errors:?}");
            }
        }
        let typical = &response["content"]["application/json"]["examples"]["typical"]["value"];
        assert_eq!(typical["error"]["retry_after"], 30, "{name}");
        assert_eq!(typical["error"]["retryable"], true, "{name}");
        assert!(typical["error"]["request_id"].is_string(), "{name}");
    }
}

// ---------------------------------------------------------------------------
// Every body the renderer writes validates against the documents
// ---------------------------------------------------------------------------

/// Every status, with every kind and none, each in the ways a body varies:
/// retry hint none, delay or date; upstream hidden or shown; request id
/// none or one needing percent-encoding; method none, GET or POST; problem
/// type `about:blank` or a base.
#[test]
fn every_rendered_json_body_validates() {
    let date = UNIX_EPOCH + Duration::from_secs(784_111_777);
    let kinds: Vec<Option<ProxyError>> = std::iter::once(None)
        .chain(ProxyError::VARIANTS.iter().copied().map(Some))
        .collect();
    let shown = Policy::new()
        .with_proxy_name("gw")
        .with_upstream_names(true)
        .with_problem_type_base("https://errors.example.com/problems/");
    let hidden = Policy::new();
    let documents = documents();
    let mut checked = 0;
    for status in [500u16, 502, 503, 504] {
        for kind in &kinds {
            for hint in 0..3 {
                let mut err: GatewayError = match status {
                    500 => InternalServerError::upstream("routes").into(),
                    503 => ServiceUnavailable::upstream("search").into(),
                    504 => GatewayTimeout::upstream("pricing").into(),
                    _ => BadGateway::upstream("product-service").into(),
                };
                if let Some(kind) = kind {
                    err = err.with_kind(*kind);
                }
                err = match hint {
                    1 => err.with_retry_after(Duration::from_secs(u64::from(u32::MAX))),
                    2 => err.with_retry_after(date),
                    _ => err,
                };
                if hint == 2 {
                    err = err.with_details("Details with \"quotes\", <markup> and ünïcödé.");
                }
                for (policy, method, request_id) in [
                    (&hidden, None, None),
                    (&shown, Some(&Method::GET), Some("req-42")),
                    (&hidden, Some(&Method::POST), Some("a b/#%é?~")),
                    (&shown, None, None),
                ] {
                    for format in [Format::Json, Format::ProblemJson] {
                        let mut ctx = RenderContext::new().with_format(format).with_policy(policy);
                        if let Some(method) = method {
                            ctx = ctx.with_method(method);
                        }
                        if let Some(id) = request_id {
                            ctx = ctx.with_request_id(id);
                        }
                        let response = render(&err, &ctx);
                        assert_eq!(response.status().as_u16(), status);
                        for doc in &documents {
                            check(doc, QUOTES, "get", &response).unwrap_or_else(|e| panic!("{e}"));
                            if status == 502 {
                                check(doc, PRODUCTS, "get", &response)
                                    .unwrap_or_else(|e| panic!("{e}"));
                            }
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked, 4 * kinds.len() * 3 * 4 * 2 * 2);
}

// ---------------------------------------------------------------------------
// The app's own answers validate against its documents
// ---------------------------------------------------------------------------

async fn call(app: &Router, method: &Method, uri: &str, accept: &str) -> Response<bytes::Bytes> {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("accept", accept)
        .header("x-request-id", "req-7")
        .body(Body::empty())
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    Response::from_parts(parts, bytes)
}

#[tokio::test]
async fn the_apps_answers_validate_against_their_documents() {
    let accepts = [
        "application/json",
        "application/problem+json",
        "text/html",
        "text/plain",
    ];
    for (app, doc) in [utoipa_app(), aide_app()] {
        for accept in accepts {
            let response = call(&app, &Method::GET, "/products/7", accept).await;
            assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
            assert_eq!(response.headers()["x-request-id"], "req-7");
            check(&doc, PRODUCTS, "get", &response).unwrap_or_else(|e| panic!("{e}"));
            for kind in ProxyError::VARIANTS {
                for method in [Method::GET, Method::POST, Method::HEAD] {
                    let uri = format!("/quotes/{kind}");
                    let response = call(&app, &method, &uri, accept).await;
                    assert_eq!(
                        response.status(),
                        GatewayError::from_kind("pricing", *kind).status()
                    );
                    assert_eq!(response.headers()["retry-after"], "7");
                    // HEAD is answered by the GET route: documented there.
                    let documented = if method == Method::POST {
                        "post"
                    } else {
                        "get"
                    };
                    check(&doc, QUOTES, documented, &response)
                        .unwrap_or_else(|e| panic!("{method} {uri} {accept}: {e}"));
                }
            }
        }
    }
}

/// The schemas are strict: a member the renderer does not write, or one of
/// the wrong type, fails. (The guard against a document that accepts
/// anything.)
#[test]
fn the_schemas_reject_what_the_renderer_does_not_write() {
    for doc in documents() {
        let name = doc.name;
        let json = doc.validator(&[
            "paths",
            QUOTES,
            "get",
            "responses",
            "502",
            "content",
            "application/json",
            "schema",
        ]);
        let problem = doc.validator(&[
            "paths",
            QUOTES,
            "get",
            "responses",
            "502",
            "content",
            "application/problem+json",
            "schema",
        ]);
        let good = json!({"error": {"code": 502, "message": "Bad Gateway", "details": "x"}});
        assert!(json.is_valid(&good), "{name}");
        for bad in [
            json!({"error": {"code": 503, "message": "Bad Gateway", "details": "x"}}),
            json!({"error": {"code": 502, "message": "Bad Gateway"}}),
            json!({"error": {"code": 502, "message": "Bad Gateway", "details": "x", "extra": 1}}),
            json!({"error": {"code": 502, "message": "Bad Gateway", "details": "x", "retryable": "yes"}}),
            json!({"error": {"code": 502, "message": "Bad Gateway", "details": "x", "retry_after": "soon"}}),
            json!({"error": {"code": 502, "message": "Bad Gateway", "details": "x", "kind": "oops"}}),
        ] {
            assert!(!json.is_valid(&bad), "{name}: {bad}");
        }
        let good =
            json!({"type": "about:blank", "title": "Bad Gateway", "status": 502, "detail": "x"});
        assert!(problem.is_valid(&good), "{name}");
        for bad in [
            json!({"type": "about:blank", "title": "Bad Gateway", "status": 504, "detail": "x"}),
            json!({"type": "about:blank", "title": "Bad Gateway", "status": 502}),
            json!({"type": "about:blank", "title": "Bad Gateway", "status": 502, "detail": "x", "instance": "req"}),
            json!({"type": "about:blank", "title": "Bad Gateway", "status": 502, "detail": "x", "retry_after": -1}),
        ] {
            assert!(!problem.is_valid(&bad), "{name}: {bad}");
        }
    }
}
