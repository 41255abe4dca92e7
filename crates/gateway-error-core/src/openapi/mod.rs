//! OpenAPI documentation of the error responses, for utoipa and aide.
//!
//! A handler that returns `Result<T, GatewayError>`, or one of the four
//! error types, gets its error responses documented from that type alone:
//! each status the type can produce, each with the four formats the
//! renderer negotiates (`application/json`, `application/problem+json`,
//! `text/html`, `text/plain`), the headers it sends (`Cache-Control`,
//! `Vary`, `Retry-After`, `Proxy-Status`, `x-request-id`) and examples.
//!
//! Nothing here is written by hand twice: the headers, their presence and
//! every example come from calls of the real renderer ([`render`]) on a
//! representative error per status, and one table of body members feeds the
//! utoipa and the aide schemas alike. The JSON schemas are exact: each
//! body member the renderer writes is listed (with its type, range or
//! pattern), the required ones are required, and no other member is
//! allowed, so a document generator, a client generator or a validator
//! sees exactly what the wire carries.
//!
//! | feature | crate | what implements what | MSRV |
//! |---|---|---|---|
//! | `utoipa` | utoipa 5.x | [`ErrorBody`] and [`ProblemDetails`]: `ToSchema`; the error types: `IntoResponses` | utoipa 5: 1.75 (this crate: 1.85) |
//! | `aide` | aide 0.15.x (axum 0.8, schemars 0.9) | [`ErrorBody`] and [`ProblemDetails`]: `schemars::JsonSchema`; the error types: `OperationOutput` | aide 0.15 declares none (this crate: 1.85) |
//!
//! utoipa 6 needs rustc 1.88 and aide 0.16 (schemars 1) is a pre-release:
//! neither is supported yet. aide 0.14 (schemars 0.8) is not supported.
//!
//! aide marks the headers every error carries (`Cache-Control`, `Vary`) as
//! required; utoipa 5's header object has no such field.
//!
//! The response schemas are inline (one per status and format, with that
//! status's `code` or `status`), so a document needs no registered
//! components; [`ErrorBody`] and [`ProblemDetails`] name the same bodies
//! for all four statuses, to reference from your own schemas.
//!
//! # Examples
//!
//! With utoipa (feature `utoipa`), name the error type in the handler's
//! `#[utoipa::path(responses((status = 200, body = Product), GatewayError))]`;
//! with utoipa's own feature `auto_into_responses`, a handler returning
//! `Result<T, GatewayError>` needs no `responses` at all when `T` implements
//! `IntoResponses` too (utoipa merges both). The map it gets:
//!
//! ```
//! # #[cfg(feature = "utoipa")] {
//! use gateway_error::BadGateway;
//! use utoipa::IntoResponses;
//!
//! let responses = BadGateway::responses();
//! assert_eq!(responses.keys().collect::<Vec<_>>(), ["502"]);
//! # }
//! ```
//!
//! With aide (feature `aide`), a handler returning `Result<T, GatewayError>`
//! on an `ApiRouter` documents itself, through these responses:
//!
//! ```
//! # #[cfg(feature = "aide")] {
//! use aide::openapi::Operation;
//! use aide::OperationOutput;
//! use gateway_error::GatewayError;
//!
//! let statuses: Vec<_> = aide::generate::in_context(|ctx| {
//!     GatewayError::inferred_responses(ctx, &mut Operation::default())
//! })
//! .into_iter()
//! .filter_map(|(status, _)| status)
//! .collect();
//! assert_eq!(statuses, [500, 502, 503, 504]);
//! # }
//! ```
//!
//! [`render`]: crate::render

use std::time::Duration;

use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, StatusCode};
use serde_json::{Map, Value};
use strum::VariantArray;

use crate::error::Inner;
use crate::{
    BadGateway, Format, GatewayError, GatewayTimeout, InternalServerError, MAX_DETAILS_LEN,
    MAX_NAME_LEN, Policy, ProxyError, RenderContext, ServiceUnavailable,
};

#[cfg(feature = "aide")]
mod aide;
#[cfg(feature = "utoipa")]
mod utoipa;

/// The JSON body, `application/json`:
/// `{"error":{"code":502,"message":"Bad Gateway","details":"..."}}` and the
/// optional members `upstream`, `kind`, `retryable`, `retry_after` and
/// `request_id`.
///
/// A type for documentation only (it has no values): its schema, named
/// `GatewayErrorBody`, covers all four statuses. Read a body with
/// [`parse`](crate::parse).
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "utoipa")] {
/// use gateway_error::openapi::ErrorBody;
/// use utoipa::ToSchema;
///
/// assert_eq!(ErrorBody::name(), "GatewayErrorBody");
/// # }
/// # #[cfg(feature = "aide")] {
/// use gateway_error::openapi::ErrorBody;
/// use schemars::JsonSchema;
///
/// assert_eq!(ErrorBody::schema_name(), "GatewayErrorBody");
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorBody {}

/// The RFC 9457 problem details body, `application/problem+json`: `type`,
/// `title`, `status`, `detail`, `instance` when there is a request id, and
/// the optional members of [`ErrorBody`].
///
/// A type for documentation only (it has no values): its schema, named
/// `GatewayProblemDetails`, covers all four statuses.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "utoipa")] {
/// use gateway_error::openapi::ProblemDetails;
/// use utoipa::ToSchema;
///
/// assert_eq!(ProblemDetails::name(), "GatewayProblemDetails");
/// # }
/// # #[cfg(feature = "aide")] {
/// use gateway_error::openapi::ProblemDetails;
/// use schemars::JsonSchema;
///
/// assert_eq!(ProblemDetails::schema_name(), "GatewayProblemDetails");
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemDetails {}

/// The statuses an error type can produce.
trait Statuses {
    const STATUSES: &'static [StatusCode];
}

macro_rules! statuses {
    ($all:ident, $($ty:ident),+) => {
        impl Statuses for $all {
            const STATUSES: &'static [StatusCode] = $all::ALL_STATUSES;
        }
        $(
            impl Statuses for $ty {
                const STATUSES: &'static [StatusCode] = &[$ty::STATUS];
            }
        )+
    };
}

with_error_types!(statuses);

/// A JSON type a value may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Type {
    Object,
    String,
    Integer,
    Boolean,
}

impl Type {
    #[cfg_attr(
        not(any(feature = "aide", test)),
        allow(dead_code, reason = "for aide")
    )]
    fn as_str(self) -> &'static str {
        match self {
            Self::Object => "object",
            Self::String => "string",
            Self::Integer => "integer",
            Self::Boolean => "boolean",
        }
    }
}

/// A JSON Schema, as much of it as the bodies and headers need: what the
/// utoipa and aide schemas are both built from.
#[derive(Clone, Debug, Default)]
struct Schema {
    types: Vec<Type>,
    description: Option<&'static str>,
    values: Vec<Value>,
    format: Option<&'static str>,
    pattern: Option<&'static str>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    minimum: Option<u64>,
    maximum: Option<u64>,
    examples: Vec<Value>,
    /// Properties in order, each with whether it is required; an object
    /// schema allows no other.
    properties: Vec<(&'static str, bool, Schema)>,
}

impl Schema {
    fn of(types: &[Type], description: &'static str) -> Self {
        Self {
            types: types.to_vec(),
            description: Some(description),
            ..Self::default()
        }
    }

    fn values(mut self, values: impl IntoIterator<Item = Value>) -> Self {
        self.values = values.into_iter().collect();
        self
    }

    fn object(description: &'static str, properties: Vec<(&'static str, bool, Schema)>) -> Self {
        Self {
            properties,
            ..Self::of(&[Type::Object], description)
        }
    }

    /// The schema as JSON Schema (draft 2020-12, as OpenAPI 3.1 uses it).
    #[cfg_attr(
        not(any(feature = "aide", test)),
        allow(dead_code, reason = "for aide")
    )]
    fn to_json(&self) -> Map<String, Value> {
        let mut out = Map::new();
        match self.types.as_slice() {
            [one] => out.insert("type".into(), one.as_str().into()),
            many => out.insert(
                "type".into(),
                many.iter().map(|t| Value::from(t.as_str())).collect(),
            ),
        };
        if let Some(description) = self.description {
            out.insert("description".into(), description.into());
        }
        if !self.values.is_empty() {
            out.insert("enum".into(), self.values.clone().into());
        }
        if let Some(format) = self.format {
            out.insert("format".into(), format.into());
        }
        if let Some(pattern) = self.pattern {
            out.insert("pattern".into(), pattern.into());
        }
        if let Some(n) = self.min_length {
            out.insert("minLength".into(), n.into());
        }
        if let Some(n) = self.max_length {
            out.insert("maxLength".into(), n.into());
        }
        if let Some(n) = self.minimum {
            out.insert("minimum".into(), n.into());
        }
        if let Some(n) = self.maximum {
            out.insert("maximum".into(), n.into());
        }
        if !self.examples.is_empty() {
            out.insert("examples".into(), self.examples.clone().into());
        }
        if self.types == [Type::Object] {
            let properties = self
                .properties
                .iter()
                .map(|(name, _, schema)| ((*name).to_owned(), Value::Object(schema.to_json())))
                .collect();
            out.insert("properties".into(), Value::Object(properties));
            out.insert("required".into(), self.required().collect());
            out.insert("additionalProperties".into(), false.into());
        }
        out
    }

    #[cfg_attr(
        not(any(feature = "aide", test)),
        allow(dead_code, reason = "for aide")
    )]
    fn required(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.properties
            .iter()
            .filter(|(_, required, _)| *required)
            .map(|(name, _, _)| *name)
    }
}

/// `Retry-After` in the body and the header: delay-seconds or an
/// IMF-fixdate (RFC 9110 section 10.2.3).
const IMF_FIXDATE: &str = "^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$";

/// The same, as a header field value: digits or an IMF-fixdate.
const RETRY_AFTER_FIELD: &str = "^([0-9]+|(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT)$";

/// The reason phrases of `statuses`.
fn reasons(statuses: &[StatusCode]) -> impl Iterator<Item = Value> + '_ {
    statuses
        .iter()
        .map(|s| Value::from(s.canonical_reason().unwrap_or("Error")))
}

/// The codes of `statuses`.
fn codes(statuses: &[StatusCode]) -> impl Iterator<Item = Value> + '_ {
    statuses.iter().map(|s| Value::from(s.as_u16()))
}

/// The optional members both JSON formats share, in the renderer's order.
fn shared_members() -> Vec<(&'static str, bool, Schema)> {
    vec![
        (
            "upstream",
            false,
            Schema {
                max_length: Some(MAX_NAME_LEN),
                ..Schema::of(
                    &[Type::String],
                    "The upstream's name, when the policy shows upstream names.",
                )
            },
        ),
        (
            "kind",
            false,
            Schema::of(
                &[Type::String],
                "The RFC 9209 Proxy-Status error type of the failure.",
            )
            .values(ProxyError::VARIANTS.iter().map(|k| Value::from(k.as_str()))),
        ),
        (
            "retryable",
            false,
            Schema::of(
                &[Type::Boolean],
                "Whether the request may be sent again automatically, when known: a retry can help (not for a kind or an upstream status that a retry gets again) and is safe, from the failure's phase and the method's idempotency (RFC 9110 section 9.2.2).",
            ),
        ),
        (
            "retry_after",
            false,
            Schema {
                minimum: Some(0),
                maximum: Some(u64::from(u32::MAX)),
                pattern: Some(IMF_FIXDATE),
                ..Schema::of(
                    &[Type::Integer, Type::String],
                    "The retry hint, as in Retry-After: a delay in seconds (an integer) or an IMF-fixdate (a string).",
                )
            },
        ),
        (
            "request_id",
            false,
            Schema {
                pattern: Some("^[!-~]+$"),
                min_length: Some(1),
                max_length: Some(crate::RequestId::MAX_LEN),
                ..Schema::of(&[Type::String], "The request's id.")
            },
        ),
    ]
}

fn details_schema() -> Schema {
    Schema {
        max_length: Some(MAX_DETAILS_LEN),
        ..Schema::of(
            &[Type::String],
            "What happened, for a person: the caller's text or a canonical sentence.",
        )
    }
}

/// `{"error":{...}}` for `statuses`.
fn json_body(statuses: &[StatusCode]) -> Schema {
    let mut members = vec![
        (
            "code",
            true,
            Schema::of(&[Type::Integer], "The HTTP status code.").values(codes(statuses)),
        ),
        (
            "message",
            true,
            Schema::of(&[Type::String], "The status's reason phrase.").values(reasons(statuses)),
        ),
        ("details", true, details_schema()),
    ];
    members.extend(shared_members());
    Schema::object(
        "A gateway error (gateway-error's JSON body).",
        vec![("error", true, Schema::object("The error.", members))],
    )
}

/// RFC 9457 problem details for `statuses`.
fn problem_body(statuses: &[StatusCode]) -> Schema {
    let mut members = vec![
        (
            "type",
            true,
            Schema {
                format: Some("uri-reference"),
                ..Schema::of(
                    &[Type::String],
                    "`about:blank`, or the policy's problem type base followed by the kind.",
                )
            },
        ),
        (
            "title",
            true,
            Schema::of(&[Type::String], "The status's reason phrase.").values(reasons(statuses)),
        ),
        (
            "status",
            true,
            Schema::of(&[Type::Integer], "The HTTP status code.").values(codes(statuses)),
        ),
        (
            "detail",
            true,
            Schema {
                description: Some("What happened, for a person."),
                ..details_schema()
            },
        ),
        (
            "instance",
            false,
            Schema {
                format: Some("uri-reference"),
                pattern: Some("^#"),
                ..Schema::of(
                    &[Type::String],
                    "This occurrence: `#` and the percent-encoded request id.",
                )
            },
        ),
    ];
    members.extend(shared_members());
    Schema::object("A gateway error as RFC 9457 problem details.", members)
}

/// One documented response.
struct ResponseDoc {
    status: StatusCode,
    description: String,
    headers: Vec<HeaderDoc>,
    contents: Vec<ContentDoc>,
}

/// One header of a response.
struct HeaderDoc {
    name: String,
    description: &'static str,
    /// Sent with every error (utoipa 5 cannot say so).
    #[cfg_attr(
        not(any(feature = "aide", test)),
        allow(dead_code, reason = "for aide")
    )]
    required: bool,
    schema: Schema,
}

/// One format of a response.
struct ContentDoc {
    media_type: &'static str,
    schema: Schema,
    examples: Vec<ExampleDoc>,
}

/// An example body, made by the renderer.
struct ExampleDoc {
    name: &'static str,
    summary: &'static str,
    value: Value,
}

/// What each header the renderer may send means.
fn header_description(name: &str) -> &'static str {
    match name {
        "cache-control" => "Always `no-store`: an error answer is not to be cached.",
        "vary" => "`accept`: the body's format follows the request's `Accept`.",
        "retry-after" => {
            "When the error has a retry hint: delay-seconds or an IMF-fixdate (RFC 9110 section 10.2.3)."
        }
        "proxy-status" => {
            "RFC 9209 Proxy-Status, when the policy names this proxy: the upstream's members, then this proxy's."
        }
        "x-request-id" => "The request's id, echoed by the framework adapter.",
        "x-content-type-options" => "`nosniff`: the body is only what its Content-Type says.",
        "content-security-policy" => {
            "HTML pages only: nothing loads or runs; the page's own style is allowed by its SHA-256 hash."
        }
        _ => "Sent by the renderer.",
    }
}

/// The request id of the examples.
const EXAMPLE_REQUEST_ID: &str = "7f3a9c2e41d8b605";

/// An error of `status` with every optional part set.
fn typical(status: StatusCode) -> GatewayError {
    let (upstream, kind) = match status {
        StatusCode::GATEWAY_TIMEOUT => ("pricing", ProxyError::HttpResponseTimeout),
        StatusCode::SERVICE_UNAVAILABLE => ("search", ProxyError::ConnectionLimitReached),
        StatusCode::INTERNAL_SERVER_ERROR => ("routes", ProxyError::ProxyConfigurationError),
        _ => ("product-service", ProxyError::ConnectionRefused),
    };
    GatewayError::for_status(status, Inner::default())
        .with_upstream(upstream)
        .with_kind(kind)
        .with_retry_after(Duration::from_secs(30))
}

/// The responses for `statuses`, from the renderer.
fn responses(statuses: &[StatusCode]) -> Vec<ResponseDoc> {
    statuses.iter().map(|&status| response(status)).collect()
}

fn response(status: StatusCode) -> ResponseDoc {
    let full = typical(status);
    let bare = GatewayError::for_status(status, Inner::default());
    let policy = Policy::new().with_proxy_name("gateway");
    let full_ctx = |format| {
        RenderContext::new()
            .with_format(format)
            .with_method(&Method::GET)
            .with_request_id(EXAMPLE_REQUEST_ID)
            .with_policy(&policy)
    };
    let bare_ctx = |format| RenderContext::new().with_format(format);

    // Headers: those of the fullest answer, and those only the HTML page
    // has (its `Content-Security-Policy`); required are those even the
    // barest has. The body's own fields are in `content`.
    let full_response = crate::render(&full, &full_ctx(Format::Json));
    let full_page = crate::render(&full, &full_ctx(Format::Html));
    let bare_response = crate::render(&bare, &bare_ctx(Format::Json));
    let page_only = full_page
        .headers()
        .iter()
        .filter(|(name, _)| !full_response.headers().contains_key(*name));
    let headers = full_response
        .headers()
        .iter()
        .chain(page_only)
        .filter(|(name, _)| **name != CONTENT_TYPE && **name != CONTENT_LENGTH)
        .map(|(name, value)| HeaderDoc {
            name: name.as_str().to_owned(),
            description: header_description(name.as_str()),
            required: bare_response.headers().contains_key(name),
            schema: Schema {
                pattern: (name == http::header::RETRY_AFTER).then_some(RETRY_AFTER_FIELD),
                examples: vec![String::from_utf8_lossy(value.as_bytes()).into()],
                ..Schema::of(&[Type::String], header_description(name.as_str()))
            },
        })
        .collect();

    let contents = Format::ALL
        .into_iter()
        .map(|format| {
            let example = |name, summary, response: http::Response<bytes::Bytes>| {
                let body = response.into_body();
                let value = match format {
                    Format::Json | Format::ProblemJson => serde_json::from_slice(&body).ok()?,
                    _ => Value::String(String::from_utf8(body.to_vec()).ok()?),
                };
                Some(ExampleDoc {
                    name,
                    summary,
                    value,
                })
            };
            let examples = [
                example(
                    "typical",
                    "With a kind, a retry hint and a request id (a GET)",
                    crate::render(&full, &full_ctx(format)),
                ),
                example(
                    "bare",
                    "Without them",
                    crate::render(&bare, &bare_ctx(format)),
                ),
            ];
            ContentDoc {
                media_type: essence(format.content_type()),
                schema: match format {
                    Format::Json => json_body(&[status]),
                    Format::ProblemJson => problem_body(&[status]),
                    _ => Schema::of(&[Type::String], "The same, for a person."),
                },
                examples: examples.into_iter().flatten().collect(),
            }
        })
        .collect();

    ResponseDoc {
        status,
        description: format!(
            "{} {}: {}",
            status.as_str(),
            status.canonical_reason().unwrap_or("Error"),
            status_description(status)
        ),
        headers,
        contents,
    }
}

/// A media type without its parameters.
fn essence(content_type: &'static str) -> &'static str {
    content_type
        .split(';')
        .next()
        .map_or(content_type, str::trim)
}

fn status_description(status: StatusCode) -> &'static str {
    match status {
        StatusCode::GATEWAY_TIMEOUT => "an upstream did not answer in time.",
        StatusCode::SERVICE_UNAVAILABLE => "an upstream is unavailable or at its limit.",
        StatusCode::INTERNAL_SERVER_ERROR => "the gateway failed, not an upstream.",
        _ => "an upstream failed or answered with something invalid.",
    }
}

/// [`ErrorBody`] or [`ProblemDetails`].
trait BodyType {
    const NAME: &'static str;
    fn schema() -> Schema;
}

impl BodyType for ErrorBody {
    const NAME: &'static str = "GatewayErrorBody";
    fn schema() -> Schema {
        json_body(GatewayError::ALL_STATUSES)
    }
}

impl BodyType for ProblemDetails {
    const NAME: &'static str = "GatewayProblemDetails";
    fn schema() -> Schema {
        problem_body(GatewayError::ALL_STATUSES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rendered_header_is_described() {
        for doc in responses(GatewayError::ALL_STATUSES) {
            let names: Vec<&str> = doc.headers.iter().map(|h| h.name.as_str()).collect();
            for name in [
                "cache-control",
                "vary",
                "retry-after",
                "proxy-status",
                "x-request-id",
                "content-security-policy",
            ] {
                assert!(names.contains(&name), "{name} in {names:?}");
            }
            for header in &doc.headers {
                assert_ne!(
                    header.description, "Sent by the renderer.",
                    "{}",
                    header.name
                );
            }
            let required: Vec<&str> = doc
                .headers
                .iter()
                .filter(|h| h.required)
                .map(|h| h.name.as_str())
                .collect();
            assert!(required.contains(&"cache-control"));
            assert!(!required.contains(&"retry-after"));
            assert_eq!(doc.contents.len(), 4);
            for content in &doc.contents {
                assert_eq!(content.examples.len(), 2, "{}", content.media_type);
            }
        }
    }

    #[test]
    fn media_types_are_bare() {
        let types: Vec<&str> = Format::ALL
            .into_iter()
            .map(|f| essence(f.content_type()))
            .collect();
        assert_eq!(
            types,
            [
                "application/json",
                "application/problem+json",
                "text/html",
                "text/plain"
            ]
        );
    }
}
