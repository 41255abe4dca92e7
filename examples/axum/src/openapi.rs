//! OpenAPI (feature `utoipa` of gateway-error): each route's error responses
//! come from its error type's `IntoResponses`, rendered by the real renderer.

use std::error::Error;

use axum::http::header::CONTENT_TYPE;
use axum::routing::{MethodRouter, get};
use gateway_error::GatewayError;
use utoipa::IntoResponses;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{
    Content, Info, OpenApi, PathsBuilder, Required, ResponseBuilder, ResponsesBuilder,
};

/// A JSON answer, or the responses of the error type `E`.
fn operation<E: IntoResponses>(summary: &str) -> OperationBuilder {
    let ok = ResponseBuilder::new().description("OK").content(
        "application/json",
        Content::new(Some(ObjectBuilder::new().schema_type(Type::Object))),
    );
    let id = ParameterBuilder::new()
        .name("id")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)));
    OperationBuilder::new()
        .summary(Some(summary))
        .parameter(id)
        .responses(
            ResponsesBuilder::new()
                .response("200", ok)
                .responses_from_into_responses::<E>(),
        )
}

/// The OpenAPI document of the BFF's routes.
pub(crate) fn openapi() -> OpenApi {
    let paths = PathsBuilder::new()
        .path(
            "/products/{id}",
            PathItem::new(HttpMethod::Get, operation::<GatewayError>("A product")),
        )
        .path(
            "/reviews/{id}",
            PathItem::new(
                HttpMethod::Get,
                operation::<GatewayError>("A product's reviews"),
            ),
        );
    OpenApi::new(Info::new("example-axum", env!("CARGO_PKG_VERSION")), paths)
}

/// `GET /openapi.json`: the document, serialized once.
pub(crate) fn route<S: Clone + Send + Sync + 'static>() -> Result<MethodRouter<S>, Box<dyn Error>> {
    let json = openapi().to_json()?;
    Ok(get(move || {
        let json = json.clone();
        async move { ([(CONTENT_TYPE, "application/json")], json) }
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_lists_each_routes_error_statuses() {
        let doc = serde_json::to_value(super::openapi()).expect("serializes");
        let statuses = |path: &str| -> Vec<String> {
            doc["paths"][path]["get"]["responses"]
                .as_object()
                .map(|r| r.keys().cloned().collect())
                .unwrap_or_default()
        };
        assert_eq!(
            statuses("/products/{id}"),
            ["200", "500", "502", "503", "504"]
        );
        assert_eq!(
            statuses("/reviews/{id}"),
            ["200", "500", "502", "503", "504"]
        );
        let media: Vec<&String> =
            doc["paths"]["/products/{id}"]["get"]["responses"]["503"]["content"]
                .as_object()
                .map(|c| c.keys().collect())
                .unwrap_or_default();
        assert_eq!(
            media,
            [
                "application/json",
                "application/problem+json",
                "text/html",
                "text/plain"
            ]
        );
    }
}
