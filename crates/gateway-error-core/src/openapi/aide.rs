//! aide 0.15 (schemars 0.9): `JsonSchema` for the bodies, `OperationOutput`
//! for the errors.

use std::borrow::Cow;

use aide::OperationOutput;
use aide::generate::GenContext;
use aide::openapi::{
    Example, Header, MediaType, Operation, ParameterSchemaOrContent, ReferenceOr, Response,
    SchemaObject,
};
use schemars::{JsonSchema, SchemaGenerator};

use super::{BodyType, ErrorBody, ProblemDetails, ResponseDoc, Schema, Statuses, responses};
use crate::{BadGateway, GatewayError, GatewayTimeout, InternalServerError, ServiceUnavailable};

impl Schema {
    fn to_aide(&self) -> SchemaObject {
        SchemaObject {
            json_schema: self.to_json().into(),
            external_docs: None,
            example: None,
        }
    }
}

impl ResponseDoc {
    fn into_aide(self) -> Response {
        let mut response = Response {
            description: self.description,
            ..Response::default()
        };
        response.headers = self
            .headers
            .into_iter()
            .map(|header| {
                let item = Header {
                    description: Some(header.description.to_owned()),
                    style: Default::default(),
                    required: header.required,
                    deprecated: None,
                    format: ParameterSchemaOrContent::Schema(header.schema.to_aide()),
                    example: None,
                    examples: Default::default(),
                    extensions: Default::default(),
                };
                (header.name, ReferenceOr::Item(item))
            })
            .collect();
        response.content = self
            .contents
            .into_iter()
            .map(|content| {
                let mut media_type = MediaType {
                    schema: Some(content.schema.to_aide()),
                    ..MediaType::default()
                };
                media_type.examples = content
                    .examples
                    .into_iter()
                    .map(|example| {
                        let item = Example {
                            summary: Some(example.summary.to_owned()),
                            value: Some(example.value),
                            ..Example::default()
                        };
                        (example.name.to_owned(), ReferenceOr::Item(item))
                    })
                    .collect();
                (content.media_type.to_owned(), media_type)
            })
            .collect();
        response
    }
}

/// The responses of an error type that can produce `T::STATUSES`.
fn inferred<T: Statuses>() -> Vec<(Option<u16>, Response)> {
    responses(T::STATUSES)
        .into_iter()
        .map(|doc| (Some(doc.status.as_u16()), doc.into_aide()))
        .collect()
}

macro_rules! operation_output {
    ($($ty:ty),+) => {$(
        /// Each status this type can produce, each with the four formats,
        /// the headers and examples from the renderer (feature `aide`).
        /// aide infers them for handlers returning `Result<T, Self>`.
        ///
        /// # Examples
        ///
        /// ```
        /// use aide::OperationOutput;
        /// use aide::openapi::Operation;
        /// use gateway_error::GatewayTimeout;
        ///
        /// let responses = aide::generate::in_context(|ctx| {
        ///     GatewayTimeout::inferred_responses(ctx, &mut Operation::default())
        /// });
        /// assert_eq!(responses.len(), 1);
        /// assert_eq!(responses[0].0, Some(504));
        /// ```
        #[cfg_attr(docsrs, doc(cfg(feature = "aide")))]
        impl OperationOutput for $ty {
            type Inner = Self;

            fn operation_response(
                _ctx: &mut GenContext,
                _operation: &mut Operation,
            ) -> Option<Response> {
                // One response only where the type has one status.
                match <Self as Statuses>::STATUSES {
                    [status] => responses(&[*status]).pop().map(ResponseDoc::into_aide),
                    _ => None,
                }
            }

            fn inferred_responses(
                _ctx: &mut GenContext,
                _operation: &mut Operation,
            ) -> Vec<(Option<u16>, Response)> {
                inferred::<Self>()
            }
        }
    )+};
}

with_error_types!(operation_output);

macro_rules! json_schema {
    ($($ty:ty),+) => {$(
        #[cfg_attr(docsrs, doc(cfg(feature = "aide")))]
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed(<Self as BodyType>::NAME)
            }

            fn json_schema(_generator: &mut SchemaGenerator) -> schemars::Schema {
                <Self as BodyType>::schema().to_json().into()
            }
        }
    )+};
}

json_schema!(ErrorBody, ProblemDetails);
