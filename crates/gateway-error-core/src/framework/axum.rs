//! axum 0.8 (through `axum-core`): `IntoResponse` for every error type.
//!
//! A handler cannot see the request, so these render for the default
//! context (JSON, no method, no request id) and keep the [`GatewayError`]
//! in the response's extensions; `gateway-error-axum`'s layer renders it
//! again with the request's `Accept`, method, request id and policy.

use axum_core::body::Body;
use axum_core::response::{IntoResponse, Response};

use crate::{BadGateway, GatewayError, GatewayTimeout, InternalServerError, ServiceUnavailable};

macro_rules! into_response {
    ($($ty:ty),+) => {$(
        #[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
        impl IntoResponse for $ty {
            fn into_response(self) -> Response {
                super::default_response(GatewayError::from(self)).map(body)
            }
        }
    )+};
}

/// The body as axum's; an adapter's skeleton's empty one without boxing.
fn body(bytes: bytes::Bytes) -> Body {
    if bytes.is_empty() {
        Body::empty()
    } else {
        Body::from(bytes)
    }
}

into_response!(
    GatewayError,
    BadGateway,
    GatewayTimeout,
    ServiceUnavailable,
    InternalServerError
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ProxyError, RenderContext, render};

    #[test]
    fn renders_for_the_default_context_and_keeps_the_error() {
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
        }
    }
}
