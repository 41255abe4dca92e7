//! Request contexts bound to a tokio task, for frameworks that give an
//! adapter no hook around each poll of the request's future (warp): while
//! a [`TaskBinding`] lives, [`RequestContext::current`] in that task
//! returns its context.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use tokio::task::Id;

use super::RequestContext;

static BOUND: LazyLock<Mutex<HashMap<Id, RequestContext>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Keeps a [`RequestContext`] current in the tokio task that bound it, until
/// dropped (see [`RequestContext::bind_to_task`]).
///
/// # Examples
///
/// ```
/// use gateway_error::pipeline::{Pipeline, RequestContext};
/// use http::Method;
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let id = tokio::spawn(async {
///     let ctx = Pipeline::default().capture_parts(Method::GET, Default::default(), Some(b"t-1"));
///     let _binding = ctx.bind_to_task();
///     tokio::task::yield_now().await;
///     RequestContext::current().map(|ctx| ctx.request_id().to_string())
/// })
/// .await
/// .expect("the task runs");
/// assert_eq!(id.as_deref(), Some("t-1"));
/// # });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "the context is current only while the binding lives"]
pub struct TaskBinding {
    task: Option<Id>,
}

impl Drop for TaskBinding {
    fn drop(&mut self) {
        if let Some(task) = self.task {
            bound().remove(&task);
        }
    }
}

pub(super) fn bind(ctx: &RequestContext) -> TaskBinding {
    let task = tokio::task::try_id().filter(|task| {
        // A task already bound (an outer adapter) keeps its context.
        let mut bound = bound();
        match bound.get(task) {
            Some(_) => false,
            None => {
                bound.insert(*task, ctx.clone());
                true
            }
        }
    });
    TaskBinding { task }
}

/// A binding that binds nothing (the shortcut is off).
pub(super) fn unbound() -> TaskBinding {
    TaskBinding { task: None }
}

pub(super) fn lookup() -> Option<RequestContext> {
    let task = tokio::task::try_id()?;
    bound().get(&task).cloned()
}

fn bound() -> MutexGuard<'static, HashMap<Id, RequestContext>> {
    // The map holds no invariant a panic could break.
    BOUND.lock().unwrap_or_else(PoisonError::into_inner)
}
