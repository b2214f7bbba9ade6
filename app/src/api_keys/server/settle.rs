//! The middleware that makes a change hold on every replica before its answer leaves. Above
//! the key cache (part of the application's state), which it asks.

/// Middleware: a request that may have changed something answers only once this process's
/// cache has applied the change (see [`KeyCache::settle`](super::cache::KeyCache::settle)), so the caller's next request,
/// here or on another replica, sees it.
pub async fn settle_after_change(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::Method;
    let reads_only = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let response = next.run(request).await;
    if !reads_only {
        state.key_cache.settle(&state.db).await;
    }
    response
}
