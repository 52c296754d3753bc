//! `GET /health` (liveness) and `GET /health/ready` (database and model service).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use common::health::{check, HealthResponse, ReadinessResponse};
use reqwest::Method;

use crate::{AppState, SERVICE_NAME};

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn health(State(state): State<AppState>) -> Json<HealthResponse> {
    Json(HealthResponse::healthy(
        SERVICE_NAME,
        &state.config.service.environment,
    ))
}

pub async fn ready(State(state): State<AppState>) -> Response {
    let database = check(PROBE_TIMEOUT, common::db::ping(&state.db));
    let model = check(PROBE_TIMEOUT, async {
        let request = state
            .model
            .request(Method::GET, "/health")
            .timeout(PROBE_TIMEOUT);
        state
            .model
            .send(request)
            .await
            .map(|_| ())
            .map_err(|e| e.public_message())
    });
    let (database, model) = tokio::join!(database, model);
    let checks = BTreeMap::from([
        ("database".to_owned(), database),
        ("model_service".to_owned(), model),
    ]);
    let body = ReadinessResponse::new(SERVICE_NAME, checks);
    let status = if body.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}
