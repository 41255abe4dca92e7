//! axum 0.8 (through `axum-core`): `IntoResponse` for every error type, and
//! [`RequestId`] as an extractor.
//!
//! Inside `gateway-error-axum`'s layer the response is rendered for the
//! request (its `Accept`, method and id, the layer's policy); outside one,
//! for the default context (JSON), with the [`GatewayError`] kept in the
//! response's extensions for a layer to render again.

use axum_core::body::Body;
use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use crate::pipeline::{RequestContext, respond};
use crate::request_id::RequestId;
use crate::{BadGateway, GatewayError, GatewayTimeout, InternalServerError, ServiceUnavailable};

macro_rules! into_response {
    ($($ty:ty),+) => {$(
        /// Inside `gateway_error::axum::GatewayErrorLayer`, the response
        /// for the request (its `Accept`, method and id, the layer's
        /// policy). Without the layer, the default one: JSON, no
        /// `Proxy-Status`, no request id, whatever the request asked for;
        /// the error is kept in the response's extensions for a layer
        /// further out to render again.
        #[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
        impl IntoResponse for $ty {
            fn into_response(self) -> Response {
                respond(GatewayError::from(self)).map(Body::from)
            }
        }
    )+};
}

with_error_types!(into_response);

/// The request's id, as the adapter's layer gave it (see the
/// [pipeline](crate::pipeline)'s rule). Without the layer, extraction fails
/// with a 500 `proxy_configuration_error`.
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = InternalServerError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .or_else(|| RequestContext::current().map(|ctx| ctx.request_id().clone()))
            .ok_or_else(super::missing_adapter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{Pipeline, Rendered};
    use crate::{Format, ProxyError, RenderContext, render};

    #[test]
    fn outside_an_adapter_renders_for_the_default_context_and_keeps_the_error() {
        let cases: [(Response, GatewayError); 5] = [
            (
                BadGateway::upstream("a").into_response(),
                BadGateway::upstream("a").into(),
            ),
            (
                GatewayTimeout::new().into_response(),
                GatewayTimeout::new().into(),
            ),
            (
                ServiceUnavailable::new().into_response(),
                ServiceUnavailable::new().into(),
            ),
            (
                InternalServerError::new().into_response(),
                InternalServerError::new().into(),
            ),
            (
                GatewayError::from_kind("b", ProxyError::ConnectionRefused).into_response(),
                GatewayError::from_kind("b", ProxyError::ConnectionRefused),
            ),
        ];
        for (response, err) in cases {
            let expected = render(&err, &RenderContext::new());
            assert_eq!(response.status(), expected.status());
            assert_eq!(response.headers(), expected.headers());
            let kept = response.extensions().get::<GatewayError>();
            assert_eq!(kept.map(GatewayError::status), Some(err.status()));
            assert_eq!(kept.and_then(GatewayError::kind), err.kind());
            assert!(response.extensions().get::<Rendered>().is_none());
        }
    }

    #[test]
    fn inside_an_adapter_renders_for_the_request() {
        let ctx = Pipeline::default().capture_parts(http::Method::HEAD, Format::Html, Some(b"r"));
        let response = ctx.in_scope(|| BadGateway::new().into_response());
        let expected = ctx.error_response(BadGateway::new().into());
        assert_eq!(response.headers(), expected.headers());
        assert_eq!(response.headers()["x-request-id"], "r");
        assert!(response.extensions().get::<Rendered>().is_some());
    }
}
