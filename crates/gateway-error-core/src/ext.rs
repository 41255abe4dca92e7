//! `?` in one call: extension traits that turn a failed upstream call, or an
//! upstream's own error answer, into a [`GatewayError`].

use std::borrow::Cow;
use std::error::Error as StdError;

use crate::error::{
    BadGateway, GatewayError, GatewayTimeout, InternalServerError, ServiceUnavailable,
};

#[cfg(feature = "reqwest")]
mod reqwest;

mod sealed {
    pub trait Sealed {}
    impl<T, E> Sealed for Result<T, E> {}

    /// What [`ResponseExt`](super::ResponseExt) reads of a response: its
    /// status, fields and extensions.
    pub trait Head {
        fn head(&self) -> (http::StatusCode, &http::HeaderMap, &http::Extensions);
    }

    impl<B> Head for http::Response<B> {
        fn head(&self) -> (http::StatusCode, &http::HeaderMap, &http::Extensions) {
            (self.status(), self.headers(), self.extensions())
        }
    }

    #[cfg(feature = "reqwest")]
    impl Head for reqwest::Response {
        fn head(&self) -> (http::StatusCode, &http::HeaderMap, &http::Extensions) {
            (self.status(), self.headers(), self.extensions())
        }
    }
}

/// Names the upstream a fallible call went to, and turns its error into a
/// [`GatewayError`]: `?` in one call, in the spirit of anyhow's `Context`.
///
/// `result.upstream("product-service")` is
/// [`GatewayError::from_upstream_error`]`("product-service", e)` for an
/// `Err(e)`: the kind comes from the error's types
/// ([`ProxyError::classify`](crate::ProxyError::classify)), the status is the
/// kind's recommended one (a plain 502 when nothing in the chain is
/// recognised), and `e` is kept as the source, for logs only. An `Ok` value
/// passes through untouched.
///
/// An error that already is a gateway error ([`GatewayError`] or one of
/// its four types) is kept as it is, not wrapped; it gets the name only when
/// it names no upstream yet.
///
/// There is no such method on `Option`: a missing value says nothing about
/// which status is right (a lookup in the gateway's own configuration is a
/// 500, an upstream's empty answer a 502), so write the error you mean,
/// for example `.ok_or_else(|| BadGateway::upstream("name"))?`.
///
/// The result's error is a [`GatewayError`], so a handler that uses `?`
/// on it returns `Result<_, GatewayError>`: `?` cannot turn a
/// `GatewayError` back into one of the four types (`BadGateway`...), which
/// are for building one error by hand.
///
/// This trait is sealed: it is implemented for `Result` only.
///
/// # Examples
///
/// ```
/// use std::io;
///
/// use gateway_error::{GatewayError, ProxyError, ResultExt};
///
/// fn connect() -> io::Result<u32> {
///     Err(io::Error::from(io::ErrorKind::ConnectionRefused))
/// }
///
/// fn handler() -> Result<u32, GatewayError> {
///     let price = connect().upstream("pricing")?;
///     Ok(price)
/// }
///
/// let err = handler().unwrap_err();
/// assert_eq!(err.status().as_u16(), 502);
/// assert_eq!(err.kind(), Some(ProxyError::ConnectionRefused));
/// assert_eq!(err.upstream_name(), Some("pricing"));
/// ```
///
/// With reqwest (feature `reqwest`, which classifies `reqwest::Error`):
///
/// ```no_run
/// # #[cfg(feature = "reqwest")]
/// # mod with_reqwest {
/// use gateway_error::{GatewayError, ResponseExt, ResultExt};
///
/// async fn product(client: &reqwest::Client) -> Result<String, GatewayError> {
///     let body = client
///         .get("http://product-service.internal/products/7")
///         .send()
///         .await
///         .upstream("product-service")?
///         .error_for_upstream_status("product-service")?
///         .text()
///         .await
///         .upstream("product-service")?;
///     Ok(body)
/// }
/// # }
/// ```
pub trait ResultExt<T>: sealed::Sealed {
    /// The value, or the error as the [`GatewayError`] of a failed call to
    /// the upstream `name`.
    ///
    /// # Errors
    ///
    /// The error of an `Err`, classified by
    /// [`GatewayError::from_upstream_error`] (kept as it is when it already
    /// is a gateway error).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    ///
    /// use gateway_error::{GatewayError, ProxyError, ResultExt};
    ///
    /// let timed_out: io::Result<()> = Err(io::ErrorKind::TimedOut.into());
    /// let err = timed_out.upstream("search").unwrap_err();
    /// assert_eq!(err.status().as_u16(), 504);
    /// assert_eq!(err.kind(), Some(ProxyError::HttpResponseTimeout));
    ///
    /// let fine: io::Result<u8> = Ok(7);
    /// assert_eq!(fine.upstream("search")?, 7);
    /// # Ok::<(), GatewayError>(())
    /// ```
    fn upstream(self, name: impl Into<Cow<'static, str>>) -> Result<T, GatewayError>;
}

impl<T, E> ResultExt<T> for Result<T, E>
where
    E: StdError + Send + Sync + 'static,
{
    fn upstream(self, name: impl Into<Cow<'static, str>>) -> Result<T, GatewayError> {
        self.map_err(|error| into_gateway_error(name.into(), Box::new(error)))
    }
}

/// `error` as a gateway error for the upstream `name`: gateway errors are
/// kept (named if they were not), anything else is classified.
fn into_gateway_error(
    name: Cow<'static, str>,
    error: Box<dyn StdError + Send + Sync + 'static>,
) -> GatewayError {
    macro_rules! keep {
        ($($ty:ident),+) => {{
            $(
                let error = match error.downcast::<$ty>() {
                    Ok(err) => return name_if_unnamed(GatewayError::from(*err), name),
                    Err(error) => error,
                };
            )+
            error
        }};
    }
    let error = with_error_types!(keep);
    GatewayError::from_upstream_error(name, error)
}

fn name_if_unnamed(err: GatewayError, name: Cow<'static, str>) -> GatewayError {
    // Its own name: a name a parsed answer claimed is not ours.
    if err.inner().upstream.is_some() {
        err
    } else {
        err.with_upstream(name)
    }
}

/// Turns an upstream's own error answer (a 4xx or 5xx status) into a
/// [`GatewayError`], in the spirit of reqwest's `error_for_status`.
///
/// A non-error response passes through, so a success goes on to be read.
/// An error response becomes
/// [`GatewayError::from_upstream_response`]: an upstream 503 or 429 becomes
/// a 503, any other error status a 502; its `Retry-After` is kept whatever
/// the status; the upstream's status is kept as `received-status`, and its
/// `Proxy-Status` members are kept so that this gateway's member is
/// appended to them. Nothing of the upstream's body is used.
///
/// As with `error_for_status`, 1xx, 2xx and 3xx responses pass: a 3xx that
/// reaches the caller was asked for (reqwest follows redirects unless told
/// not to; a 304 answers a conditional request).
///
/// A 502 made from an upstream 4xx (but 408, 421, 425 and 429) or 500 is not
/// `retryable`: the same request gets the same answer. When an upstream's
/// answer is one your clients should see as it is (a 404 for an unknown
/// product, say), check for it before this call; see the second example.
///
/// Implemented for `http::Response<B>` and, with feature `reqwest`, for
/// `reqwest::Response`. This trait is sealed.
///
/// # Examples
///
/// ```
/// use gateway_error::{GatewayError, ResponseExt, RetryAfter};
/// use http::{Response, StatusCode};
///
/// let unavailable = Response::builder()
///     .status(StatusCode::SERVICE_UNAVAILABLE)
///     .header("retry-after", "30")
///     .body(())?;
/// let err = unavailable.error_for_upstream_status("search").unwrap_err();
/// assert_eq!(err.status().as_u16(), 503);
/// assert_eq!(err.retry_after(), Some(RetryAfter::from_secs(30)));
///
/// let ok = Response::builder().status(StatusCode::OK).body("hits")?;
/// assert_eq!(*ok.error_for_upstream_status("search")?.body(), "hits");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// An upstream's 404 passed on as this service's 404, any other error
/// answer turned into a gateway error:
///
/// ```
/// use gateway_error::{GatewayError, ResponseExt};
/// use http::{Response, StatusCode};
///
/// /// `None` when the product does not exist.
/// fn product(upstream: Response<String>) -> Result<Option<String>, GatewayError> {
///     if upstream.status() == StatusCode::NOT_FOUND {
///         return Ok(None); // the handler answers 404 itself
///     }
///     Ok(Some(upstream.error_for_upstream_status("catalog")?.into_body()))
/// }
///
/// let missing = Response::builder().status(404).body(String::new())?;
/// assert_eq!(product(missing)?, None);
/// let broken = Response::builder().status(400).body(String::new())?;
/// let err = product(broken).unwrap_err();
/// assert_eq!(err.status(), StatusCode::BAD_GATEWAY);
/// assert!(!err.is_retryable(&http::Method::GET)); // a retry gets the same 400
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait ResponseExt: Sized + sealed::Head {
    /// The response when its status is not an error, otherwise the
    /// [`GatewayError`] for the upstream `name`'s answer.
    ///
    /// # Errors
    ///
    /// A 4xx or 5xx response, as
    /// [`GatewayError::from_upstream_response`] makes it (the response and
    /// its body are dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::ResponseExt;
    /// use http::{Response, StatusCode};
    ///
    /// let response = Response::builder()
    ///     .status(StatusCode::NOT_FOUND)
    ///     .body(())?;
    /// let err = response.error_for_upstream_status("catalog").unwrap_err();
    /// assert_eq!(err.status().as_u16(), 502);
    /// assert_eq!(err.received_status(), Some(StatusCode::NOT_FOUND));
    /// # Ok::<(), http::Error>(())
    /// ```
    fn error_for_upstream_status(
        self,
        name: impl Into<Cow<'static, str>>,
    ) -> Result<Self, GatewayError> {
        check_status(self.head(), Some(name.into()))?;
        Ok(self)
    }

    /// [`error_for_upstream_status`](Self::error_for_upstream_status)
    /// without a name, for a call whose steps are named once, at its end:
    /// in a block whose `?`s make unnamed gateway errors (reqwest's errors
    /// convert with the `reqwest` feature), one
    /// [`upstream(name)`](crate::ResultExt::upstream) on the block's
    /// result names them all.
    ///
    /// # Errors
    ///
    /// A 4xx or 5xx response, as
    /// [`error_for_upstream_status`](Self::error_for_upstream_status) makes
    /// it, with no upstream name.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::{BadGateway, GatewayError, ResponseExt, ResultExt};
    /// use http::{Response, StatusCode};
    ///
    /// fn price(answer: Response<&'static str>) -> Result<u32, GatewayError> {
    ///     (|| {
    ///         let body = answer.check_upstream_status()?.into_body();
    ///         Ok::<_, GatewayError>(body.trim().parse().map_err(|_| BadGateway::new())?)
    ///     })()
    ///     .upstream("pricing") // every step's error, named once
    /// }
    ///
    /// let err = price(Response::builder().status(503).body("")?).unwrap_err();
    /// assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
    /// assert_eq!(err.upstream_name(), Some("pricing"));
    /// let err = price(Response::new("seven")).unwrap_err();
    /// assert_eq!(err.upstream_name(), Some("pricing"));
    /// assert_eq!(price(Response::new("7"))?, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn check_upstream_status(self) -> Result<Self, GatewayError> {
        check_status(self.head(), None)?;
        Ok(self)
    }
}

impl<B> ResponseExt for http::Response<B> {}

/// `Err` for an error status (4xx or 5xx), as `error_for_status` decides;
/// one a retry policy handed back after it retried (a
/// [`Retried`](crate::retry::Retried) in the extensions) says so.
fn check_status(
    (status, headers, extensions): (http::StatusCode, &http::HeaderMap, &http::Extensions),
    name: Option<Cow<'static, str>>,
) -> Result<(), GatewayError> {
    if status.is_client_error() || status.is_server_error() {
        let err = GatewayError::relay(name, status, headers);
        Err(match extensions.get::<crate::retry::Retried>() {
            Some(retried) => err.with_no_retry(retried.no_retry()),
            None => err,
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use http::{HeaderValue, Response, StatusCode};

    use super::*;
    use crate::{ProxyError, RetryAfter};

    #[test]
    fn errors_are_classified_and_named() {
        let cases = [
            (
                io::ErrorKind::ConnectionRefused,
                502,
                Some(ProxyError::ConnectionRefused),
            ),
            (
                io::ErrorKind::ConnectionReset,
                502,
                Some(ProxyError::ConnectionTerminated),
            ),
            (
                io::ErrorKind::TimedOut,
                504,
                Some(ProxyError::HttpResponseTimeout),
            ),
            (io::ErrorKind::Other, 502, None),
        ];
        for (kind, status, proxy_error) in cases {
            let result: io::Result<()> = Err(io::Error::new(kind, "secret upstream text"));
            let err = result.upstream("product-service").unwrap_err();
            assert_eq!(err.status().as_u16(), status, "{kind:?}");
            assert_eq!(err.kind(), proxy_error, "{kind:?}");
            assert_eq!(err.upstream_name(), Some("product-service"));
            assert_eq!(
                StdError::source(&err).map(ToString::to_string).as_deref(),
                Some("secret upstream text")
            );
            assert!(!err.to_string().contains("secret"));
        }
        let ok: io::Result<u8> = Ok(3);
        assert_eq!(ok.upstream("product-service").ok(), Some(3));
    }

    #[test]
    fn gateway_errors_are_kept_not_wrapped() {
        let named: Result<(), GatewayError> =
            Err(GatewayError::from_kind("inner", ProxyError::DnsTimeout));
        let err = named.upstream("outer").unwrap_err();
        assert_eq!(
            (err.status().as_u16(), err.kind(), err.upstream_name()),
            (504, Some(ProxyError::DnsTimeout), Some("inner"))
        );
        assert!(StdError::source(&err).is_none());

        let unnamed: Result<(), ServiceUnavailable> = Err(ServiceUnavailable::new()
            .with_kind(ProxyError::ConnectionLimitReached)
            .with_retry_after(RetryAfter::from_secs(5)));
        let err = unnamed.upstream("outer").unwrap_err();
        assert_eq!(err.status().as_u16(), 503);
        assert_eq!(err.kind(), Some(ProxyError::ConnectionLimitReached));
        assert_eq!(err.retry_after(), Some(RetryAfter::from_secs(5)));
        assert_eq!(err.upstream_name(), Some("outer"));

        let timeout: Result<(), GatewayTimeout> = Err(GatewayTimeout::new());
        assert_eq!(timeout.upstream("x").unwrap_err().status().as_u16(), 504);
        let internal: Result<(), InternalServerError> = Err(InternalServerError::new());
        assert_eq!(internal.upstream("x").unwrap_err().status().as_u16(), 500);
        let bad: Result<(), BadGateway> = Err(BadGateway::new());
        let err = bad.upstream("x").unwrap_err();
        assert_eq!((err.status().as_u16(), err.kind()), (502, None));
    }

    #[test]
    fn error_statuses_become_gateway_errors() {
        let response = |status: u16| {
            Response::builder()
                .status(status)
                .header("retry-after", "30")
                .header("proxy-status", "inner;error=connection_refused")
                .body(())
                .expect("valid response")
        };
        for status in [100, 200, 204, 304, 399] {
            let passed = response(status).error_for_upstream_status("u");
            assert_eq!(passed.map(|r| r.status().as_u16()).ok(), Some(status));
        }
        // The upstream's wait is kept whatever the status; a rate limit
        // is a 503.
        let retry_after = Some(RetryAfter::from_secs(30));
        let cases = [
            (400, 502),
            (404, 502),
            (429, 503),
            (500, 502),
            (503, 503),
            (599, 502),
        ];
        for (received, status) in cases {
            let err = response(received)
                .error_for_upstream_status("search")
                .unwrap_err();
            assert_eq!(err.status().as_u16(), status, "{received}");
            assert_eq!(err.received_status(), StatusCode::from_u16(received).ok());
            assert_eq!(err.retry_after(), retry_after, "{received}");
            assert_eq!(err.upstream_name(), Some("search"));
            assert_eq!(
                err.upstream_proxy_status(),
                Some(&HeaderValue::from_static("inner;error=connection_refused"))
            );
        }
    }
}
