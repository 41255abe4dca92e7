//! Inner-service failures (timeouts, refused connections) as gateway errors.

use std::error::Error;
use std::sync::Arc;

use axum_core::BoxError;
use gateway_error_core::{GatewayError, GatewayTimeout, ProxyError};

/// Turns the failure of a fallible inner service into a gateway error, for
/// axum's `HandleErrorLayer`.
///
/// The error's source chain decides: `tower::timeout::error::Elapsed` gives
/// a 504 with kind `http_response_timeout`, and everything else goes to the
/// core's classifier, [`GatewayError::from_error`] (tokio's `Elapsed`: 504;
/// a refused connection: 502 `connection_refused`; a reset: 502
/// `connection_terminated`; ...; anything unknown: a plain 502).
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
    // tower's timeout is the one cause the core's classifier cannot see.
    let chain = std::iter::successors(Some(&*error as &(dyn Error + 'static)), |&e| e.source());
    if chain
        .into_iter()
        .any(|cause| cause.is::<tower::timeout::error::Elapsed>())
    {
        return GatewayTimeout::new()
            .with_kind(ProxyError::HttpResponseTimeout)
            .with_shared_source(Arc::from(error))
            .into();
    }
    GatewayError::from_error(error)
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::fmt;
    use std::io;

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
                Some(ProxyError::ConnectionTerminated),
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
