//! The reqwest side of the extension traits (feature `reqwest`).

use super::ResponseExt;
use crate::error::GatewayError;

impl ResponseExt for ::reqwest::Response {}

/// `?` on a `reqwest::Error`: the error classified as
/// [`GatewayError::from_error`] does (a timeout is a 504
/// `http_response_timeout`, a refused connection a 502
/// `connection_refused`, ...), without an upstream name.
///
/// reqwest's URL is not used as a name: it may show internal hosts. Prefer
/// [`ResultExt::upstream`](crate::ResultExt::upstream), which names the
/// upstream for the body, `Proxy-Status` and logs.
///
/// # Examples
///
/// ```no_run
/// use gateway_error::GatewayError;
///
/// async fn product() -> Result<String, GatewayError> {
///     Ok(reqwest::get("http://127.0.0.1:8081/products/7").await?.text().await?)
/// }
/// ```
impl From<::reqwest::Error> for GatewayError {
    fn from(error: ::reqwest::Error) -> Self {
        Self::from_error(error)
    }
}
