use app::state::AppState;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use http::StatusCode;
use serde_json::json;
use std::time::Duration;

/// How long `/healthz` waits for the database: a balancer's check gives up after a few
/// seconds, and should see a clear 503 rather than a timeout of its own.
pub const DATABASE_CHECK: Duration = Duration::from_secs(1);

/// `GET /healthz`: 200 when the database answers within [`DATABASE_CHECK`]; 503 when it does
/// not, and 503 `draining` once this process is stopping (it still serves the requests it
/// gets, but a balancer should send no more).
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let unavailable = StatusCode::SERVICE_UNAVAILABLE;
    if state.is_draining() {
        return (unavailable, Json(json!({"status": "draining"})));
    }
    match state.db.ping_within(DATABASE_CHECK).await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({"status": "ok", "database": "ok"})),
        ),
        Err(err) => {
            tracing::error!(error = %err, "health check: database unreachable");
            (
                unavailable,
                Json(json!({"status": "error", "database": "unreachable"})),
            )
        }
    }
}
