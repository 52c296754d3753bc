//! `GET /health` (liveness, static and cheap) and `GET /health/ready` (database and
//! downstream services, answered 503 when any is down).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use common::health::{probe, HealthResponse, ReadinessResponse};
use common::http::ServiceClient;
use reqwest::Method;
use utoipa::OpenApi;

use crate::state::AppState;
use crate::SERVICE_NAME;

/// How long one readiness probe may take; a hung dependency must not hang `/health/ready`.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/health/ready", get(ready))
}

#[derive(OpenApi)]
#[openapi(
    paths(health, ready),
    components(schemas(HealthResponse, ReadinessResponse, common::health::CheckResult))
)]
pub struct ApiDoc;

/// Liveness: the gateway process answers.
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, description = "The gateway is up", body = HealthResponse)))]
pub async fn health(State(state): State<AppState>) -> Json<HealthResponse> {
    Json(HealthResponse::healthy(
        SERVICE_NAME,
        &state.config.service.environment,
    ))
}

/// Readiness: checks the database, the model service and the worker service concurrently.
/// A dependency that is down says only `unreachable` or `timed out`; the cause is logged.
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses(
        (status = 200, description = "Every dependency is up", body = ReadinessResponse),
        (status = 503, description = "At least one dependency is down", body = ReadinessResponse),
    ))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<ReadinessResponse>) {
    let (database, model, worker) = tokio::join!(
        probe("database", PROBE_TIMEOUT, common::db::ping(&state.db)),
        probe("model_service", PROBE_TIMEOUT, probe_health(&state.model)),
        probe("worker_service", PROBE_TIMEOUT, probe_health(&state.worker)),
    );
    let mut checks = BTreeMap::from([
        ("database".to_owned(), database),
        ("model_service".to_owned(), model),
        ("worker_service".to_owned(), worker),
    ]);
    // Shared rate limits (Redis): while it is down generation is refused, so not ready.
    if let Some(limits) = state.limits.as_ref().filter(|l| l.has_shared_store()) {
        let check = probe("rate_limit_store", PROBE_TIMEOUT, async {
            if limits.store_reachable().await {
                Ok(())
            } else {
                Err("unreachable")
            }
        });
        checks.insert("rate_limit_store".to_owned(), check.await);
    }
    let body = ReadinessResponse::new(SERVICE_NAME, checks);
    let status = if body.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

async fn probe_health(client: &ServiceClient) -> Result<(), common::AppError> {
    client
        .send(
            client
                .request(Method::GET, "/health")
                .timeout(PROBE_TIMEOUT),
        )
        .await
        .map(|_| ())
}
