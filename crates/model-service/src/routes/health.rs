//! `GET /health` (liveness), `GET /health/ready` (a provider is configured), `GET /metrics`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use common::health::{CheckResult, HealthResponse, ReadinessResponse};

use crate::{AppState, SERVICE_NAME};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/health/ready", get(ready))
        .route("/metrics", get(common::metrics::render))
}

async fn health(State(state): State<AppState>) -> Json<HealthResponse> {
    Json(HealthResponse::healthy(
        SERVICE_NAME,
        &state.config.service.environment,
    ))
}

/// Ready once a provider is configured. The provider is not called: readiness probes run
/// often, and a paid API should not be charged (or rate-limited) for them.
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<ReadinessResponse>) {
    let mut checks = BTreeMap::new();
    checks.insert(
        format!("provider:{}", state.generator.provider_name()),
        CheckResult {
            status: "up".to_owned(),
            latency_ms: 0.0,
            error: None,
        },
    );
    let body = ReadinessResponse::new(SERVICE_NAME, checks);
    let status = if body.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
