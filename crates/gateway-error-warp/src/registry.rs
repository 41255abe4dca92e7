//! The request's context for the routes `handle` wraps: warp gives an
//! adapter no hook around each poll of the request's future, so `handle`
//! binds the context to the tokio task serving the request (one per
//! connection for HTTP/1, one per stream for HTTP/2) from the start of
//! `handle` until the response is made or the request is dropped.

use gateway_error_core::pipeline::{Pipeline, RequestContext, TaskBinding};
use http::{HeaderMap, Method};

/// A request's context, current in its task while this lives.
pub(crate) struct Registration {
    ctx: RequestContext,
    _binding: TaskBinding,
}

impl Registration {
    /// Captures the request's context (nested inside another `handle`'s,
    /// which is current then) and binds it to the task.
    pub(crate) fn begin(pipeline: &Pipeline, method: &Method, headers: &HeaderMap) -> Self {
        let ctx = pipeline.capture(method, headers);
        let _binding = ctx.bind_to_task();
        Self { ctx, _binding }
    }

    pub(crate) fn context(&self) -> &RequestContext {
        &self.ctx
    }
}
