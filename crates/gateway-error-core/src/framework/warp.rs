//! warp 0.4: `Reject` and `Reply` for the error types.
//!
//! `Reject` lets a handler reject with `warp::reject::custom(err)`; `Reply`
//! lets it return the error as its reply: rendered for the request (its
//! `Accept`, method and id, the policy) while an adapter's context is
//! current (under the tower layer, or as `gateway-error-warp`'s `handle`
//! makes the reply a response), otherwise for the default context (JSON),
//! with the error kept in the response's extensions either way, for the
//! adapter to render again.

use crate::{BadGateway, GatewayError, GatewayTimeout, InternalServerError, ServiceUnavailable};

macro_rules! warp_impls {
    ($($ty:ty),*) => {$(
        #[cfg_attr(docsrs, doc(cfg(feature = "warp")))]
        impl warp::reject::Reject for $ty {}

        /// While an adapter's context is current (under the tower layer,
        /// or as `gateway_error::warp::handle` makes the reply a response),
        /// the reply for the request (its `Accept`, method and id, the
        /// policy). Otherwise the default one, which the adapter renders
        /// again: JSON, no `Proxy-Status`, no request id, whatever the
        /// request asked for.
        #[cfg_attr(docsrs, doc(cfg(feature = "warp")))]
        impl warp::Reply for $ty {
            fn into_response(self) -> warp::reply::Response {
                warp::Reply::into_response(crate::pipeline::respond(self.into()))
            }
        }
    )*};
}

with_error_types!(warp_impls);

impl GatewayError {
    /// The gateway error `rejection` carries, if a filter rejected with one
    /// of this crate's error types (`warp::reject::custom(err)`), whichever
    /// it is. For a recover filter of your own; `gateway-error-warp`'s
    /// `handle` uses it.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::{GatewayError, GatewayTimeout};
    ///
    /// let rejection = warp::reject::custom(GatewayTimeout::upstream("pricing"));
    /// let found = GatewayError::from_rejection(&rejection).expect("a gateway error");
    /// assert_eq!(found.status(), 504);
    /// assert!(GatewayError::from_rejection(&warp::reject::not_found()).is_none());
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "warp")))]
    #[must_use]
    pub fn from_rejection(rejection: &warp::Rejection) -> Option<Self> {
        macro_rules! find {
            ($($ty:ident),+) => {
                None$(.or_else(|| rejection.find::<$ty>().cloned().map(Self::from)))+
            };
        }
        with_error_types!(find)
    }
}

#[cfg(test)]
mod tests {
    use warp::Reply as _;

    use crate::{
        BadGateway, GatewayError, GatewayTimeout, InternalServerError, RenderContext,
        ServiceUnavailable, render,
    };

    #[test]
    fn outside_handle_replies_are_the_default_rendering_with_the_error_kept() {
        let cases: [(warp::reply::Response, GatewayError); 5] = [
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
                GatewayError::from(BadGateway::new()).into_response(),
                BadGateway::new().into(),
            ),
        ];
        for (response, error) in cases {
            let expected = render(&error, &RenderContext::new());
            assert_eq!(response.status(), expected.status());
            assert_eq!(response.headers(), expected.headers());
            let kept = response.extensions().get::<GatewayError>();
            assert_eq!(kept.map(GatewayError::status), Some(error.status()));
        }
    }

    #[test]
    fn rejections_carry_the_error() {
        let rejection = warp::reject::custom(BadGateway::upstream("product-service"));
        let found = rejection
            .find::<BadGateway>()
            .map(BadGateway::upstream_name);
        assert_eq!(found, Some(Some("product-service")));
        assert!(rejection.find::<GatewayError>().is_none());
    }
}
