//! actix-web 4: `ResponseError` and `Responder` for the error types.
//!
//! actix-web 4 speaks http 0.2 and the renderer http 1, so the rendered
//! response is converted here, by the bytes of its status and headers; no
//! http 0.2 type leaves this file. The [`GatewayError`] goes into the
//! response's extensions, where `gateway-error-actix` finds it to render it
//! again with the request's context.

use actix_web::body::BoxBody;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, Responder, ResponseError};

use super::renders_again;
use crate::{
    BadGateway, GatewayError, GatewayTimeout, InternalServerError, RenderContext,
    ServiceUnavailable, render,
};

/// The actix-web response for `error`, rendered for the default context;
/// under `gateway-error-actix`'s middleware only its skeleton (see
/// [`default_response`](super::default_response)).
fn respond(error: GatewayError) -> HttpResponse {
    let mut response = if renders_again() {
        HttpResponse::new(status(error.status()))
    } else {
        let (parts, body) = render(&error, &RenderContext::new()).into_parts();
        let mut response = HttpResponse::with_body(status(parts.status), BoxBody::new(body));
        let headers = response.headers_mut();
        for (name, value) in &parts.headers {
            // Always valid: they come from an http 1 map. Skipped, not unwrapped.
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_str().as_bytes()),
                HeaderValue::from_bytes(value.as_bytes()),
            ) {
                headers.append(name, value);
            }
        }
        response
    };
    response.extensions_mut().insert(error);
    response
}

/// An http 1 status as actix-web's.
fn status(status: http::StatusCode) -> StatusCode {
    StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

macro_rules! actix_impls {
    ($($name:ident),*) => {$(
        impl ResponseError for $name {
            fn status_code(&self) -> StatusCode {
                status(self.status())
            }

            fn error_response(&self) -> HttpResponse {
                respond(self.clone().into())
            }
        }

        impl Responder for $name {
            type Body = BoxBody;

            fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
                respond(self.into())
            }
        }
    )*};
}

actix_impls!(
    BadGateway,
    GatewayTimeout,
    ServiceUnavailable,
    InternalServerError,
    GatewayError
);

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody as _;

    #[test]
    fn error_response_is_the_default_rendering_and_keeps_the_error() {
        let err = BadGateway::upstream("product-service")
            .with_source(std::io::Error::other("secret: connect 10.0.0.7"));
        assert_eq!(ResponseError::status_code(&err), StatusCode::BAD_GATEWAY);

        let response = err.error_response();
        let expected = crate::render(&err.clone().into(), &crate::RenderContext::new());
        assert_eq!(response.status().as_u16(), expected.status().as_u16());
        assert_eq!(response.headers().len(), expected.headers().len());
        for (name, value) in expected.headers() {
            assert_eq!(
                response.headers().get(name.as_str()).map(|v| v.as_bytes()),
                Some(value.as_bytes()),
                "{name}"
            );
        }
        let found = response
            .extensions()
            .get::<GatewayError>()
            .map(GatewayError::status);
        assert_eq!(found, Some(http::StatusCode::BAD_GATEWAY));
        let body = response.into_body().try_into_bytes().ok();
        assert_eq!(body.as_deref(), Some(expected.body().as_ref()));
    }

    #[test]
    fn under_the_middleware_only_the_skeleton_is_made() {
        let err = GatewayTimeout::upstream("pricing");
        let response = crate::framework::rendered_again(|| err.error_response());
        assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
        assert!(response.headers().is_empty());
        let found = response
            .extensions()
            .get::<GatewayError>()
            .and_then(GatewayError::upstream_name)
            .map(str::to_owned);
        assert_eq!(found.as_deref(), Some("pricing"));
        let body = response.into_body().try_into_bytes().ok();
        assert_eq!(body.as_deref(), Some(&b""[..]));
    }

    #[test]
    fn every_type_has_its_status() {
        let cases: [(&dyn ResponseError, u16); 5] = [
            (&BadGateway::new(), 502),
            (&GatewayTimeout::new(), 504),
            (&ServiceUnavailable::new(), 503),
            (&InternalServerError::new(), 500),
            (&GatewayError::from(GatewayTimeout::new()), 504),
        ];
        for (err, code) in cases {
            assert_eq!(err.status_code().as_u16(), code);
            assert_eq!(err.error_response().status().as_u16(), code);
        }
    }
}
