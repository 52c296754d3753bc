//! `GET /api/v1/metrics/summary`: a small live summary for the dashboard's charts (additive).
//! Request rate, latency, tokens/s and time to first token are the gateway's own (API routes
//! and relayed streams, from [`crate::metrics_window`]): headline figures over the last
//! `window_secs` seconds and a `series` of `series_interval_secs`-second points over the last
//! five minutes; queue figures come from the worker service's `GET /jobs/stats` (the gateway
//! does not read the jobs table).
//!
//! **Who may read it: administrators.** Every figure is system-wide (all users' traffic), so
//! with accounts (`AUTH_MODE=jwt`) another user would learn how busy everyone else is; a
//! non-admin gets 403 `FORBIDDEN` in the usual envelope and the UI hides the live panel. With
//! `AUTH_MODE=off` the one implicit user operates the install and is an admin.

use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use common::error::ErrorEnvelope;
use common::schemas::JobStats;
use reqwest::Method;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::auth::AdminUser;
use crate::metrics_window::Point;
use crate::state::AppState;

/// Seconds the headline rates and percentiles cover.
const WINDOW_SECS: usize = 10;
/// Seconds per point of the series, and how many points (five minutes).
const SERIES_INTERVAL_SECS: usize = 5;
const SERIES_POINTS: usize = 60;
/// Seconds the finished-jobs rate covers: the worker's `finished_last_60s`.
const JOBS_WINDOW_SECS: f64 = 60.0;
/// How long the summary waits for the worker's job stats (the dashboard polls it).
const JOBS_STATS_TIMEOUT: Duration = Duration::from_secs(2);

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/metrics/summary", get(summary))
}

#[derive(OpenApi)]
#[openapi(paths(summary), components(schemas(MetricsSummary, MetricsPoint)))]
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
    /// Median time to first token of relayed streams (ms); null without streams.
    pub ttft_p50_ms: Option<f64>,
    /// 99th percentile time to first token (ms); null without streams.
    pub ttft_p99_ms: Option<f64>,
    /// Median latency of knowledge retrievals (ms, grounded answers and `/retrieve`); null
    /// without retrievals.
    pub retrieval_p50_ms: Option<f64>,
    pub retrieval_p99_ms: Option<f64>,
    /// Passages given per grounded answer (mean); null without grounded answers.
    pub passages_per_answer: Option<f64>,
    /// Jobs pending or running.
    pub queue_depth: i64,
    /// Jobs finished per second (over the last minute).
    pub jobs_per_sec: f64,
    pub window_secs: usize,
    /// Seconds each point of `series` covers.
    pub series_interval_secs: usize,
    /// The last minutes, oldest first, one point per complete interval since the gateway
    /// started (at most five minutes).
    pub series: Vec<MetricsPoint>,
}

/// One interval of the summary's series.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricsPoint {
    /// Unix time (seconds) at which the interval ended.
    pub end_unix: u64,
    pub requests_per_sec: f64,
    pub tokens_per_sec: f64,
    /// API latency percentiles (ms); null for an interval without requests.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Time to first token percentiles (ms); null for an interval without streams.
    pub ttft_p50_ms: Option<f64>,
    pub ttft_p99_ms: Option<f64>,
    /// Retrieval latency percentiles (ms); null for an interval without retrievals.
    pub retrieval_p50_ms: Option<f64>,
    pub retrieval_p99_ms: Option<f64>,
    /// Passages per grounded answer; null for an interval without grounded answers.
    pub passages_per_answer: Option<f64>,
}

impl From<Point> for MetricsPoint {
    fn from(p: Point) -> Self {
        let s = p.summary;
        Self {
            end_unix: p.end_unix,
            requests_per_sec: s.requests_per_sec,
            tokens_per_sec: s.tokens_per_sec,
            p50_ms: s.p50_ms,
            p99_ms: s.p99_ms,
            ttft_p50_ms: s.ttft_p50_ms,
            ttft_p99_ms: s.ttft_p99_ms,
            retrieval_p50_ms: s.retrieval_p50_ms,
            retrieval_p99_ms: s.retrieval_p99_ms,
            passages_per_answer: s.passages_per_answer,
        }
    }
}

/// Live figures for the dashboard (administrators only when accounts are on).
#[utoipa::path(get, path = "/api/v1/metrics/summary", tag = "metrics",
    responses(
        (status = 200, description = "Rolling summary", body = MetricsSummary),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not an administrator (the figures are system-wide)", body = ErrorEnvelope),
    ))]
pub async fn summary(State(state): State<AppState>, _admin: AdminUser) -> Json<MetricsSummary> {
    let live = state.metrics_window.summary(WINDOW_SECS);
    let series = state
        .metrics_window
        .series(SERIES_INTERVAL_SECS, SERIES_POINTS)
        .into_iter()
        .map(MetricsPoint::from)
        .collect();
    // Queue figures belong to the worker service (it owns `batch_jobs`). When it cannot be
    // reached the live figures are still worth showing, so the queue reads as empty and the
    // cause is logged (the dashboard's worker card shows the outage from /health/ready).
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
        ttft_p50_ms: live.ttft_p50_ms,
        ttft_p99_ms: live.ttft_p99_ms,
        retrieval_p50_ms: live.retrieval_p50_ms,
        retrieval_p99_ms: live.retrieval_p99_ms,
        passages_per_answer: live.passages_per_answer,
        queue_depth: jobs.active,
        jobs_per_sec: jobs.finished_last_60s as f64 / JOBS_WINDOW_SECS,
        window_secs: WINDOW_SECS,
        series_interval_secs: SERIES_INTERVAL_SECS,
        series,
    })
}
