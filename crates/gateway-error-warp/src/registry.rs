//! The request contexts `handle` keeps for the [`request_id`](crate::request_id)
//! filter: warp gives filters no request-local state, so they are kept by
//! the tokio task serving the request, from the start of `handle` until the
//! response is made (or the request is dropped).

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

use gateway_error_core::pipeline::RequestContext;
use tokio::task::Id;

static CONTEXTS: LazyLock<Mutex<HashMap<Id, RequestContext>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// A request's context, kept under its task's id while this lives.
pub(crate) struct Registration {
    ctx: RequestContext,
    task: Option<Id>,
}

impl Registration {
    pub(crate) fn new(ctx: RequestContext) -> Self {
        let task = tokio::task::try_id();
        if let Some(task) = task {
            contexts().insert(task, ctx.clone());
        }
        Self { ctx, task }
    }

    pub(crate) fn context(&self) -> &RequestContext {
        &self.ctx
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(task) = self.task {
            contexts().remove(&task);
        }
    }
}

/// The context of the request the current task serves, if `handle` runs it.
pub(crate) fn lookup() -> Option<RequestContext> {
    let task = tokio::task::try_id()?;
    contexts().get(&task).cloned()
}

fn contexts() -> std::sync::MutexGuard<'static, HashMap<Id, RequestContext>> {
    // The map holds no invariant a panic could break.
    CONTEXTS.lock().unwrap_or_else(PoisonError::into_inner)
}
