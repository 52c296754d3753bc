//! `GET /health` (liveness), `GET /health/ready` (a provider can be used), `GET /metrics`.

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

/// One check per provider: `up`, or `cooling_down` with the time left and the failures that
/// caused it. Ready (200) while at least one provider is up: the others are routed around;
/// the body's `status` is `degraded` while any is cooling down. Providers are not called: a
/// paid API should not be charged (or rate-limited) for probes.
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<ReadinessResponse>) {
    let registry = state.generator.registry();
    let mut checks = BTreeMap::new();
    for slot in registry.providers() {
        let breaker = slot.breaker.snapshot();
        checks.insert(
            format!("provider:{}", slot.name),
            match breaker.cooling_down {
                None => CheckResult {
                    status: "up".to_owned(),
                    latency_ms: 0.0,
                    error: None,
                },
                Some(left) => CheckResult {
                    status: "cooling_down".to_owned(),
                    latency_ms: 0.0,
                    error: Some(format!(
                        "cooling down for {:.0}s more after {} failures in a row",
                        left.as_secs_f64().ceil(),
                        breaker.consecutive_failures
                    )),
                },
            },
        );
    }
    let any_up = checks.values().any(|c| c.status == "up");
    let body = ReadinessResponse::new(SERVICE_NAME, checks);
    let status = if any_up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
