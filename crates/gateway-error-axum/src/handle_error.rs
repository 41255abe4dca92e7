//! Inner-service failures (timeouts, refused connections) as gateway errors.

use std::error::Error;
use std::future::Ready;
use std::sync::Arc;
use std::time::Duration;

use axum_core::BoxError;
use gateway_error_core::{
    GatewayError, GatewayTimeout, ProxyError, RetryAfter, ServiceUnavailable,
};

/// Turns the failure of a fallible inner service into a gateway error, for
/// axum's `HandleErrorLayer`.
///
/// The error's source chain decides: `tower::timeout::error::Elapsed` gives
/// a 504 with kind `http_response_timeout`; tower's load shedding
/// (`tower::load_shed::error::Overloaded`, what `load_shed` answers when a
/// `concurrency_limit` or any other limit behind it is not ready) gives a
/// 503 with kind `connection_limit_reached`; everything else goes to the
/// core's classifier, [`GatewayError::from_error`] (tokio's `Elapsed`: 504;
/// a refused connection: 502 `connection_refused`; a reset: 502
/// `connection_terminated`; ...; anything unknown: a plain 502).
///
/// The error is kept as the response's source, for logs; no byte of it
/// reaches the client. So a `TimeoutLayer` around a slow upstream call gives
/// clients a 504 (not axum's 408 or a bare 500). Wrap the result in
/// [`GatewayErrorLayer`](crate::GatewayErrorLayer) so that it is rendered
/// for the request. To send a `Retry-After` with load-shedding 503s, use
/// [`handle_error_with`].
///
/// tower-http's `TimeoutLayer` is not needed (and does not fit): it answers
/// by itself, with an empty 408 by default, or with an empty 504 from
/// `TimeoutLayer::with_status_code(StatusCode::GATEWAY_TIMEOUT, ..)`, a
/// response without a gateway error in it (no body, no `Proxy-Status`, no
/// `Cache-Control: no-store`). Use tower's `TimeoutLayer` behind
/// `HandleErrorLayer::new(handle_error)`, as below.
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
    HandleErrorConfig::new().classify(error)
}

/// How [`handle_error_with`] answers: what [`handle_error`] does, plus the
/// `Retry-After` to send when load shedding refuses a request.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use gateway_error_axum::HandleErrorConfig;
///
/// let config = HandleErrorConfig::new().with_overloaded_retry_after(Duration::from_secs(5));
/// # let _ = config;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct HandleErrorConfig {
    overloaded_retry_after: Option<RetryAfter>,
}

impl HandleErrorConfig {
    /// The configuration of [`handle_error`]: no `Retry-After` on 503s from
    /// load shedding.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error_axum::HandleErrorConfig;
    ///
    /// assert_eq!(HandleErrorConfig::new(), HandleErrorConfig::default());
    /// ```
    pub const fn new() -> Self {
        Self {
            overloaded_retry_after: None,
        }
    }

    /// Sends `Retry-After: <delay>` (and `"retry_after"` in the body) with
    /// the 503 `connection_limit_reached` answered when load shedding
    /// refuses a request. A delay is rounded up to whole seconds.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use gateway_error_axum::HandleErrorConfig;
    ///
    /// let config = HandleErrorConfig::new().with_overloaded_retry_after(Duration::from_secs(5));
    /// # let _ = config;
    /// ```
    pub fn with_overloaded_retry_after(mut self, delay: Duration) -> Self {
        self.overloaded_retry_after = Some(RetryAfter::delay(delay));
        self
    }

    /// The gateway error for an inner service's `error`, as
    /// [`handle_error`] describes, with this configuration.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use gateway_error_axum::HandleErrorConfig;
    /// use gateway_error_core::{ProxyError, RetryAfter};
    ///
    /// let config = HandleErrorConfig::new().with_overloaded_retry_after(Duration::from_secs(5));
    /// let err = config.classify(tower::load_shed::error::Overloaded::new().into());
    /// assert_eq!(err.status().as_u16(), 503);
    /// assert_eq!(err.kind(), Some(ProxyError::ConnectionLimitReached));
    /// assert_eq!(err.retry_after(), Some(RetryAfter::from_secs(5)));
    /// ```
    #[must_use]
    pub fn classify(&self, error: BoxError) -> GatewayError {
        // tower's timeout and load shedding are the causes the core's
        // classifier cannot see.
        let mut chain =
            std::iter::successors(Some(&*error as &(dyn Error + 'static)), |&e| e.source());
        let found = chain.find_map(|cause| {
            if cause.is::<tower::timeout::error::Elapsed>() {
                Some(Cause::Elapsed)
            } else if cause.is::<tower::load_shed::error::Overloaded>() {
                Some(Cause::Overloaded)
            } else {
                None
            }
        });
        match found {
            Some(Cause::Elapsed) => GatewayTimeout::new()
                .with_kind(ProxyError::HttpResponseTimeout)
                .with_shared_source(Arc::from(error))
                .into(),
            Some(Cause::Overloaded) => {
                let err = ServiceUnavailable::new()
                    .with_kind(ProxyError::ConnectionLimitReached)
                    .with_shared_source(Arc::from(error));
                match self.overloaded_retry_after {
                    Some(retry_after) => err.with_retry_after(retry_after).into(),
                    None => err.into(),
                }
            }
            None => GatewayError::from_error(error),
        }
    }
}

/// The causes decided here rather than by the core's classifier.
enum Cause {
    Elapsed,
    Overloaded,
}

/// [`handle_error`] with a configuration, for axum's `HandleErrorLayer`.
///
/// # Examples
///
/// A concurrency limit of 64 in-flight requests; the 65th gets a 503
/// `connection_limit_reached` with `Retry-After: 1` at once, instead of
/// waiting:
///
/// ```
/// use std::time::Duration;
///
/// use axum::{Router, error_handling::HandleErrorLayer, routing::get};
/// use gateway_error_axum::{GatewayErrorLayer, HandleErrorConfig, handle_error_with};
/// use tower::ServiceBuilder;
///
/// let config = HandleErrorConfig::new().with_overloaded_retry_after(Duration::from_secs(1));
/// let app: Router = Router::new()
///     .route("/products", get(|| async { "[]" }))
///     .layer(
///         ServiceBuilder::new()
///             .layer(GatewayErrorLayer::default())
///             .layer(HandleErrorLayer::new(handle_error_with(config)))
///             .load_shed()
///             .concurrency_limit(64),
///     );
/// ```
pub fn handle_error_with(
    config: HandleErrorConfig,
) -> impl FnOnce(BoxError) -> Ready<GatewayError> + Clone + Send + Sync + 'static {
    move |error| std::future::ready(config.classify(error))
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
        let cases: [(BoxError, u16, Option<ProxyError>); 8] = [
            (
                tower::load_shed::error::Overloaded::new().into(),
                503,
                Some(ProxyError::ConnectionLimitReached),
            ),
            (
                Wrapped(tower::load_shed::error::Overloaded::new().into()).into(),
                503,
                Some(ProxyError::ConnectionLimitReached),
            ),
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
            let err = HandleErrorConfig::new().classify(error);
            assert_eq!(err.status().as_u16(), status, "{text}");
            assert_eq!(err.kind(), kind, "{text}");
            assert_eq!(err.source().map(ToString::to_string), Some(text));
        }
    }

    #[test]
    fn only_load_shedding_gets_the_configured_retry_after() {
        let config =
            HandleErrorConfig::new().with_overloaded_retry_after(Duration::from_millis(1500));
        let err = config.classify(tower::load_shed::error::Overloaded::new().into());
        assert_eq!(err.retry_after(), Some(RetryAfter::from_secs(2)));
        let err =
            HandleErrorConfig::new().classify(tower::load_shed::error::Overloaded::new().into());
        assert_eq!(err.retry_after(), None);
        let err = config.classify(tower::timeout::error::Elapsed::new().into());
        assert_eq!((err.status().as_u16(), err.retry_after()), (504, None));
        let err = config.classify(io::Error::from(io::ErrorKind::ConnectionRefused).into());
        assert_eq!((err.status().as_u16(), err.retry_after()), (502, None));
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
