//! `GET /api/v1/metrics/summary`: a small live summary for the dashboard's charts (additive).
//! Request rate and latency are the gateway's own (API routes only, over the last
//! `window_secs` seconds, from [`crate::metrics_window`]); queue figures come from the jobs
//! table.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use common::AppResult;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::state::AppState;

/// Seconds the rates and percentiles cover.
const WINDOW_SECS: usize = 10;
/// Seconds the completed-jobs rate covers (jobs finish less often than requests).
const JOBS_WINDOW_SECS: i64 = 60;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/metrics/summary", get(summary))
}

#[derive(OpenApi)]
#[openapi(paths(summary), components(schemas(MetricsSummary)))]
pub struct ApiDoc;

#[derive(Debug, Serialize, ToSchema)]
pub struct MetricsSummary {
    /// API requests per second through the gateway.
    pub requests_per_sec: f64,
    /// Median API latency (ms); null without traffic.
    pub p50_ms: Option<f64>,
    /// 99th percentile API latency (ms); null without traffic.
    pub p99_ms: Option<f64>,
    /// Streamed tokens relayed per second.
    pub tokens_per_sec: f64,
    /// Jobs pending or running.
    pub queue_depth: i64,
    /// Jobs finished per second (over the last minute).
    pub jobs_per_sec: f64,
    pub window_secs: usize,
}

/// Live figures for the dashboard.
#[utoipa::path(get, path = "/api/v1/metrics/summary", tag = "metrics",
    responses((status = 200, description = "Rolling summary", body = MetricsSummary)))]
pub async fn summary(
    State(state): State<AppState>,
    _user: crate::auth::CurrentUser,
) -> AppResult<Json<MetricsSummary>> {
    let live = state.metrics_window.summary(WINDOW_SECS);
    let (queue_depth, finished): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM batch_jobs WHERE status IN ('pending', 'running')), \
                (SELECT count(*) FROM batch_jobs WHERE completed_at > now() - make_interval(secs => $1))",
    )
    .bind(JOBS_WINDOW_SECS as f64)
    .fetch_one(&state.db)
    .await?;
    Ok(Json(MetricsSummary {
        requests_per_sec: live.requests_per_sec,
        p50_ms: live.p50_ms,
        p99_ms: live.p99_ms,
        tokens_per_sec: live.tokens_per_sec,
        queue_depth,
        jobs_per_sec: finished as f64 / JOBS_WINDOW_SECS as f64,
        window_secs: WINDOW_SECS,
    }))
}
