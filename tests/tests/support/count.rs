//! A reqwest middleware that counts the requests that reach it: placed
//! under a retry middleware, one count per attempt.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts the requests that reach it into its counter.
pub(crate) struct Count(pub(crate) Arc<AtomicUsize>);

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for Count {
    async fn handle(
        &self,
        request: reqwest::Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        self.0.fetch_add(1, Ordering::SeqCst);
        next.run(request, extensions).await
    }
}
