//! utoipa 5: `ToSchema` for the bodies, `IntoResponses` for the errors.

use std::borrow::Cow;
use std::collections::BTreeMap;

use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, SchemaType};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, RefOr, Response, ResponseBuilder, schema};
use utoipa::{IntoResponses, PartialSchema, ToSchema};

use super::{BodyType, ErrorBody, ProblemDetails, Schema, Statuses, Type, responses};
use crate::{BadGateway, GatewayError, GatewayTimeout, InternalServerError, ServiceUnavailable};

impl Schema {
    fn to_utoipa(&self) -> schema::Schema {
        let types = self.types.iter().map(|t| match t {
            Type::Object => schema::Type::Object,
            Type::String => schema::Type::String,
            Type::Integer => schema::Type::Integer,
            Type::Boolean => schema::Type::Boolean,
        });
        let schema_type = match self.types.as_slice() {
            [_] => types.map(SchemaType::new).next().unwrap_or_default(),
            _ => types.collect(),
        };
        let mut builder = ObjectBuilder::new()
            .schema_type(schema_type)
            .description(self.description)
            .format(
                self.format
                    .map(|f| schema::SchemaFormat::Custom(f.to_owned())),
            )
            .pattern(self.pattern)
            .min_length(self.min_length)
            .max_length(self.max_length)
            .minimum(self.minimum.and_then(|n| usize::try_from(n).ok()))
            .maximum(self.maximum.and_then(|n| usize::try_from(n).ok()))
            .examples(self.examples.iter().cloned());
        if !self.values.is_empty() {
            builder = builder.enum_values(Some(self.values.iter().cloned()));
        }
        if self.types == [Type::Object] {
            for (name, required, property) in &self.properties {
                builder = builder.property(*name, property.to_utoipa());
                if *required {
                    builder = builder.required(*name);
                }
            }
            builder = builder.additional_properties(Some(AdditionalProperties::FreeForm(false)));
        }
        builder.into()
    }
}

/// The responses of an error type that can produce `T::STATUSES`.
fn into_responses<T: Statuses>() -> BTreeMap<String, RefOr<Response>> {
    responses(T::STATUSES)
        .into_iter()
        .map(|doc| {
            let mut response = ResponseBuilder::new().description(doc.description);
            for header in doc.headers {
                response = response.header(
                    header.name,
                    HeaderBuilder::new()
                        .schema(header.schema.to_utoipa())
                        .description(Some(header.description))
                        .build(),
                );
            }
            for content in doc.contents {
                let examples = content.examples.into_iter().map(|example| {
                    (
                        example.name,
                        ExampleBuilder::new()
                            .summary(example.summary)
                            .value(Some(example.value)),
                    )
                });
                response = response.content(
                    content.media_type,
                    ContentBuilder::new()
                        .schema(Some(content.schema.to_utoipa()))
                        .examples_from_iter(examples)
                        .build(),
                );
            }
            (doc.status.as_str().to_owned(), response.into())
        })
        .collect()
}

macro_rules! into_responses {
    ($($ty:ty),+) => {$(
        /// Each status this type can produce, each with the four formats,
        /// the headers and examples from the renderer (feature `utoipa`).
        ///
        /// # Examples
        ///
        /// ```
        /// use gateway_error::GatewayError;
        /// use utoipa::IntoResponses;
        ///
        /// let responses = GatewayError::responses();
        /// assert_eq!(responses.keys().collect::<Vec<_>>(), ["500", "502", "503", "504"]);
        /// ```
        #[cfg_attr(docsrs, doc(cfg(feature = "utoipa")))]
        impl IntoResponses for $ty {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                into_responses::<Self>()
            }
        }
    )+};
}

with_error_types!(into_responses);

macro_rules! to_schema {
    ($($ty:ty),+) => {$(
        #[cfg_attr(docsrs, doc(cfg(feature = "utoipa")))]
        impl PartialSchema for $ty {
            fn schema() -> RefOr<schema::Schema> {
                <Self as BodyType>::schema().to_utoipa().into()
            }
        }

        #[cfg_attr(docsrs, doc(cfg(feature = "utoipa")))]
        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(<Self as BodyType>::NAME)
            }
        }
    )+};
}

to_schema!(ErrorBody, ProblemDetails);

#[cfg(test)]
mod tests {
    use super::*;

    /// The utoipa schemas serialize to the JSON Schema of the table.
    #[test]
    fn utoipa_schemas_are_the_table() {
        for schema in [
            <ErrorBody as BodyType>::schema(),
            <ProblemDetails as BodyType>::schema(),
        ] {
            let utoipa = serde_json::to_value(schema.to_utoipa()).expect("serializes");
            assert_eq!(utoipa, serde_json::Value::Object(schema.to_json()));
        }
    }
}
