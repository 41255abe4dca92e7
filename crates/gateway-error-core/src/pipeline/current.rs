//! The request context current on this thread, while an adapter polls.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::RequestContext;

thread_local! {
    static CURRENT: RefCell<Option<RequestContext>> = const { RefCell::new(None) };
}

pub(super) fn get() -> Option<RequestContext> {
    CURRENT.with(|current| current.borrow().clone())
}

/// Runs `f` with `ctx` current; the previous context comes back afterwards,
/// even if `f` panics.
pub(super) fn scope<R>(ctx: &RequestContext, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<RequestContext>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            // During thread teardown the slot may be gone: nothing to restore.
            let _ = CURRENT.try_with(|current| *current.borrow_mut() = previous);
        }
    }
    let previous = CURRENT.with(|current| current.replace(Some(ctx.clone())));
    let _restore = Restore(previous);
    f()
}

pin_project! {
    /// A future whose every poll runs with a [`RequestContext`] current
    /// (see [`RequestContext::instrument`]).
    #[derive(Debug)]
    pub(crate) struct Instrumented<F> {
        #[pin]
        inner: F,
        ctx: RequestContext,
    }
}

impl<F> Instrumented<F> {
    pub(super) fn new(ctx: RequestContext, inner: F) -> Self {
        Self { inner, ctx }
    }

    /// The context the future runs with.
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    pub(crate) fn context(&self) -> &RequestContext {
        &self.ctx
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let inner = this.inner;
        this.ctx.in_scope(|| inner.poll(cx))
    }
}
