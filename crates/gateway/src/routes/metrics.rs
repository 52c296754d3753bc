//! `GET /api/v1/metrics/summary`: a small live summary for the dashboard's charts (additive).
//! Request rate and latency are the gateway's own (API routes only, over the last
//! `window_secs` seconds, from [`crate::metrics_window`]); queue figures come from the worker
//! service's `GET /jobs/stats` (the gateway does not read the jobs table).

use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use common::schemas::JobStats;
use reqwest::Method;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::auth::CurrentUser;
use crate::state::AppState;

/// Seconds the rates and percentiles cover.
const WINDOW_SECS: usize = 10;
/// Seconds the finished-jobs rate covers: the worker's `finished_last_60s`.
const JOBS_WINDOW_SECS: f64 = 60.0;
/// How long the summary waits for the worker's job stats (the dashboard polls it).
const JOBS_STATS_TIMEOUT: Duration = Duration::from_secs(2);

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
// Signed-in callers only (any user: the figures are system-wide, like the request rates).
pub async fn summary(State(state): State<AppState>, _caller: CurrentUser) -> Json<MetricsSummary> {
    let live = state.metrics_window.summary(WINDOW_SECS);
    // Queue figures belong to the worker service (it owns `batch_jobs`); system-wide, as the
    // request rates are. When it cannot be reached the live figures are still worth showing,
    // so the queue reads as empty and the cause is logged (the dashboard's worker card shows
    // the outage from /health/ready).
    let jobs = state
        .worker
        .send_json::<JobStats>(
            state
                .worker
                .request(Method::GET, "/jobs/stats")
                .timeout(JOBS_STATS_TIMEOUT),
        )
        .await
        .inspect_err(
            |e| tracing::warn!(error = %e, "job stats unavailable for the metrics summary"),
        )
        .unwrap_or_default();
    Json(MetricsSummary {
        requests_per_sec: live.requests_per_sec,
        p50_ms: live.p50_ms,
        p99_ms: live.p99_ms,
        tokens_per_sec: live.tokens_per_sec,
        queue_depth: jobs.active,
        jobs_per_sec: jobs.finished_last_60s as f64 / JOBS_WINDOW_SECS,
        window_secs: WINDOW_SECS,
    })
}
