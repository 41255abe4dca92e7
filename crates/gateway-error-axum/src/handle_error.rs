//! Inner-service failures (timeouts, refused connections) as gateway errors.

use std::error::Error;
use std::io;
use std::sync::Arc;

use axum_core::BoxError;
use gateway_error_core::{BadGateway, GatewayError, GatewayTimeout, ProxyError};

/// Turns the failure of a fallible inner service into a gateway error, for
/// axum's `HandleErrorLayer`.
///
/// The error's source chain decides:
///
/// | cause in the chain | response |
/// |---|---|
/// | `tower::timeout::error::Elapsed`, `tokio::time::error::Elapsed` | 504, kind `http_response_timeout` |
/// | `std::io::Error` of kind `ConnectionRefused` | 502, kind `connection_refused` |
/// | anything else | 502, no kind |
///
/// The error is kept as the response's source, for logs; no byte of it
/// reaches the client. So a `TimeoutLayer` around a slow upstream call gives
/// clients a 504 (not axum's 408 or a bare 500). Wrap the result in
/// [`GatewayErrorLayer`](crate::GatewayErrorLayer) so that it is rendered
/// for the request.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use axum::{Router, error_handling::HandleErrorLayer, routing::get};
/// use gateway_error_axum::{GatewayErrorLayer, handle_error};
/// use tower::{ServiceBuilder, timeout::TimeoutLayer};
///
/// let app: Router = Router::new()
///     .route("/slow", get(|| async { "eventually" }))
///     .layer(
///         ServiceBuilder::new()
///             .layer(GatewayErrorLayer::default())
///             .layer(HandleErrorLayer::new(handle_error))
///             .layer(TimeoutLayer::new(Duration::from_secs(2))),
///     );
/// ```
pub async fn handle_error(error: BoxError) -> GatewayError {
    classify(error)
}

/// Until the core has a failure classifier: the first cause in the chain
/// that names a kind decides the status.
fn classify(error: BoxError) -> GatewayError {
    let kind = std::iter::successors(Some(&*error as &(dyn Error + 'static)), |&e| e.source())
        .find_map(kind_of);
    let source = Arc::from(error);
    match kind {
        Some(kind @ ProxyError::HttpResponseTimeout) => GatewayTimeout::new()
            .with_kind(kind)
            .with_shared_source(source)
            .into(),
        Some(kind) => BadGateway::new()
            .with_kind(kind)
            .with_shared_source(source)
            .into(),
        None => BadGateway::new().with_shared_source(source).into(),
    }
}

fn kind_of(cause: &(dyn Error + 'static)) -> Option<ProxyError> {
    if cause.is::<tower::timeout::error::Elapsed>() || cause.is::<tokio::time::error::Elapsed>() {
        return Some(ProxyError::HttpResponseTimeout);
    }
    let io = cause.downcast_ref::<io::Error>()?;
    (io.kind() == io::ErrorKind::ConnectionRefused).then_some(ProxyError::ConnectionRefused)
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::fmt;

    use super::*;

    /// An error that wraps another, as clients and middleware do.
    #[derive(Debug)]
    struct Wrapped(Box<dyn Error + Send + Sync>);

    impl fmt::Display for Wrapped {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("request failed")
        }
    }

    impl Error for Wrapped {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&*self.0)
        }
    }

    #[test]
    fn the_chain_decides_status_and_kind() {
        let refused = || io::Error::from(io::ErrorKind::ConnectionRefused);
        let cases: [(BoxError, u16, Option<ProxyError>); 6] = [
            (
                tower::timeout::error::Elapsed::new().into(),
                504,
                Some(ProxyError::HttpResponseTimeout),
            ),
            (
                Wrapped(tower::timeout::error::Elapsed::new().into()).into(),
                504,
                Some(ProxyError::HttpResponseTimeout),
            ),
            (refused().into(), 502, Some(ProxyError::ConnectionRefused)),
            (
                Wrapped(refused().into()).into(),
                502,
                Some(ProxyError::ConnectionRefused),
            ),
            (
                io::Error::from(io::ErrorKind::ConnectionReset).into(),
                502,
                None,
            ),
            ("secret detail".into(), 502, None),
        ];
        for (error, status, kind) in cases {
            let text = error.to_string();
            let err = classify(error);
            assert_eq!(err.status().as_u16(), status, "{text}");
            assert_eq!(err.kind(), kind, "{text}");
            assert_eq!(err.source().map(ToString::to_string), Some(text));
        }
    }

    #[tokio::test]
    async fn tokio_timeouts_are_gateway_timeouts() {
        let elapsed =
            tokio::time::timeout(std::time::Duration::ZERO, std::future::pending::<()>()).await;
        let Err(elapsed) = elapsed else {
            panic!("a pending future cannot finish");
        };
        let err = handle_error(elapsed.into()).await;
        assert_eq!(err.status().as_u16(), 504);
        assert_eq!(err.kind(), Some(ProxyError::HttpResponseTimeout));
    }
}
