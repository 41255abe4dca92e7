//! Framework trait impls, one small file each, behind features. They only
//! delegate to [`render`](crate::render); the adapters re-render with the
//! request's context.

#[cfg(feature = "actix-web")]
mod actix;
#[cfg(feature = "axum")]
mod axum;
#[cfg(feature = "warp")]
mod warp;

#[cfg(any(feature = "axum", feature = "actix-web", feature = "warp"))]
use crate::{GatewayError, RenderContext, render};

/// The response a handler's error becomes before any adapter sees the
/// request: rendered for the default context, with the error kept in the
/// response's extensions so that the adapter can render it again.
///
/// Inside [`rendered_again`] (an adapter is polling the handler and will
/// render the error again for the request) the default rendering would be
/// thrown away, so only its skeleton is made: the status, no fields, no
/// body, the error in the extensions.
#[cfg(any(feature = "axum", feature = "actix-web", feature = "warp"))]
#[allow(dead_code, reason = "used by the framework files as they are written")]
pub(crate) fn default_response(error: GatewayError) -> http::Response<bytes::Bytes> {
    let mut response = if renders_again() {
        let mut skeleton = http::Response::new(bytes::Bytes::new());
        *skeleton.status_mut() = error.status();
        skeleton
    } else {
        render(&error, &RenderContext::new())
    };
    response.extensions_mut().insert(error);
    response
}

/// Whether an adapter on this thread will render a gateway error response
/// again (see [`rendered_again`]).
#[cfg(any(feature = "axum", feature = "actix-web", feature = "warp"))]
pub(crate) fn renders_again() -> bool {
    RENDERED_AGAIN.get() > 0
}

#[cfg(any(feature = "axum", feature = "actix-web", feature = "warp"))]
thread_local! {
    /// How many adapters on this thread are inside [`rendered_again`].
    static RENDERED_AGAIN: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Runs `f` (an adapter polling the handlers it wraps, on this thread)
/// with the framework impls told that every gateway error response they
/// make will be rendered again by the adapter, so that they skip the
/// default rendering. For the adapter crates only; not a stable API.
///
/// Polls are synchronous, so a handler polled inside `f` runs on this
/// thread; a handler spawned elsewhere renders as usual. The count is
/// restored even if `f` panics.
#[cfg(any(feature = "axum", feature = "actix-web", feature = "warp"))]
pub fn rendered_again<R>(f: impl FnOnce() -> R) -> R {
    struct Exit;
    impl Drop for Exit {
        fn drop(&mut self) {
            RENDERED_AGAIN.set(RENDERED_AGAIN.get().saturating_sub(1));
        }
    }
    RENDERED_AGAIN.set(RENDERED_AGAIN.get().saturating_add(1));
    let _exit = Exit;
    f()
}

#[cfg(all(test, feature = "axum"))]
mod tests {
    use super::*;
    use crate::BadGateway;

    fn skeleton(response: &http::Response<bytes::Bytes>) -> bool {
        response.headers().is_empty() && response.body().is_empty()
    }

    #[test]
    fn inside_an_adapter_only_the_skeleton_is_made() {
        let error = || GatewayError::from(BadGateway::upstream("a").with_details("d"));
        let outside = default_response(error());
        assert_eq!(
            outside.headers(),
            render(&error(), &RenderContext::new()).headers()
        );
        assert!(!outside.body().is_empty());

        let inside = rendered_again(|| rendered_again(|| default_response(error())));
        assert_eq!(inside.status(), 502);
        assert!(skeleton(&inside));
        let kept = inside.extensions().get::<GatewayError>();
        assert_eq!(kept.and_then(GatewayError::details), Some("d"));

        // Leaving an inner scope keeps the outer one; leaving the last,
        // even by a panic, restores the full rendering.
        assert!(skeleton(&rendered_again(|| {
            let _ = rendered_again(|| 0);
            default_response(error())
        })));
        let panicked = std::panic::catch_unwind(|| rendered_again(|| panic!("handler")));
        assert!(panicked.is_err());
        assert!(!skeleton(&default_response(error())));
    }
}
