//! `GET /metrics` in Prometheus's text format, on its own address (`--metrics-addr`, off by
//! default) so it is never exposed with the app. The `metrics` crate's recorder and its
//! Prometheus exporter do the counting and the formatting; request metrics come from a
//! middleware, the rest from the code that knows (sign-in failures, lockouts, deliveries) or
//! is read from the database when scraped (queue depths, pool use).

use app::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

/// The process's recorder (there is one per process; every server in it reports through it).
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ];
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".to_string()), &buckets)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Suffix("wait_seconds".into()), &buckets)
                })
                .and_then(|b| b.install_recorder())
                .map_err(|err| tracing::error!(error = %err, "metrics recorder not installed"))
                .ok()
        })
        .as_ref()
}

/// The route template a request matched, passed from the route layer to [`track`] in the
/// response's extensions.
#[derive(Clone)]
struct RouteLabel(String);

/// Route layer: notes which route template served the request.
pub async fn tag_route(req: Request, next: Next) -> Response {
    let matched = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let mut response = next.run(req).await;
    if let Some(route) = matched {
        response.extensions_mut().insert(RouteLabel(route));
    }
    response
}

/// Counts every request by route template (never the raw path: ids and tokens would make
/// unbounded label values) and final status, times it, and tracks the requests in flight.
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let is_file = req.uri().path().starts_with("/pkg/");
    let in_flight = metrics::gauge!("gatehouse_http_requests_in_flight");
    in_flight.increment(1.0);
    let response = next.run(req).await;
    in_flight.decrement(1.0);
    let route = match response.extensions().get::<RouteLabel>() {
        Some(RouteLabel(route)) => route.clone(),
        None if is_file => "/pkg/{file}".to_string(),
        None => "other".to_string(),
    };
    let labels = [
        ("method", method),
        ("route", route),
        ("status", response.status().as_u16().to_string()),
    ];
    metrics::counter!("gatehouse_http_requests_total", &labels).increment(1);
    metrics::histogram!("gatehouse_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Reads the figures that live in the database, then renders every metric.
async fn scrape(State(state): State<AppState>) -> Response {
    let pool = &state.db.pool;
    metrics::gauge!("gatehouse_db_pool_connections", "state" => "idle").set(pool.num_idle() as f64);
    metrics::gauge!("gatehouse_db_pool_connections", "state" => "in_use")
        .set((pool.size() as usize).saturating_sub(pool.num_idle()) as f64);
    let waited = Instant::now();
    if let Ok(conn) = pool.acquire().await {
        metrics::histogram!("gatehouse_db_pool_wait_seconds")
            .record(waited.elapsed().as_secs_f64());
        drop(conn);
    }
    for (table, metric) in [
        ("deliveries", "gatehouse_deliveries"),
        ("scans", "gatehouse_scans"),
    ] {
        let rows: Result<Vec<(String, i64)>, _> = sqlx::query_as(&format!(
            "SELECT status, COUNT(*) FROM {table} GROUP BY status"
        ))
        .fetch_all(pool)
        .await;
        match rows {
            Ok(rows) => {
                for (status, count) in rows {
                    metrics::gauge!(metric, "status" => status).set(count as f64);
                }
            }
            Err(err) => tracing::error!(error = %err, table, "reading figures for /metrics"),
        }
    }
    match handle() {
        Some(handle) => (
            [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => http::StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// The router of the metrics address.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(state)
}
