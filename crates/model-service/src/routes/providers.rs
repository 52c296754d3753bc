//! `GET /providers`: each provider's state (for the admin page); `POST /providers/reload`:
//! reads `PROVIDERS_FILE` again (as SIGHUP does) and routes new requests with it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use common::{AppError, AppResult};
use serde::Serialize;

use crate::registry::Registry;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/providers", get(list))
        .route("/providers/reload", post(reload))
}

#[derive(Debug, Serialize)]
pub struct ProvidersResponse {
    /// Whether a providers file is in use (else today's single-provider settings).
    pub from_file: bool,
    pub providers: Vec<ProviderState>,
}

#[derive(Debug, Serialize)]
pub struct ProviderState {
    pub name: String,
    /// `openai` or `mock`.
    pub kind: &'static str,
    /// `up` or `cooling_down`.
    pub status: &'static str,
    pub cooldown_remaining_secs: Option<f64>,
    pub consecutive_failures: u32,
    pub in_flight: usize,
    /// Latency of its recent calls (a whole completion, or a stream up to its first token),
    /// in ms; null before the first call.
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    /// Recent calls counted (at most the last 512) and how many failed.
    pub requests: usize,
    pub errors: usize,
    /// `errors / requests`; 0 without calls.
    pub error_rate: f64,
    /// Its listed (and discovered) models, as `provider/model`.
    pub models: Vec<String>,
}

pub fn describe(registry: &Registry) -> ProvidersResponse {
    let listed = registry.models_response();
    ProvidersResponse {
        from_file: !registry.is_single(),
        providers: registry
            .providers()
            .iter()
            .map(|slot| {
                let b = slot.breaker.snapshot();
                let calls = slot.calls.snapshot();
                ProviderState {
                    name: slot.name.clone(),
                    kind: slot.kind,
                    status: if b.cooling_down.is_some() {
                        "cooling_down"
                    } else {
                        "up"
                    },
                    cooldown_remaining_secs: b.cooling_down.map(|d| d.as_secs_f64()),
                    consecutive_failures: b.consecutive_failures,
                    in_flight: slot.in_flight(),
                    latency_p50_ms: calls.p50_ms,
                    latency_p99_ms: calls.p99_ms,
                    requests: calls.calls,
                    errors: calls.errors,
                    #[allow(clippy::cast_precision_loss)]
                    error_rate: if calls.calls == 0 {
                        0.0
                    } else {
                        calls.errors as f64 / calls.calls as f64
                    },
                    models: listed
                        .models
                        .iter()
                        .filter(|m| m.provider == slot.name)
                        .map(|m| m.id.clone())
                        .collect(),
                }
            })
            .collect(),
    }
}

async fn list(State(state): State<AppState>) -> Json<ProvidersResponse> {
    Json(describe(&state.generator.registry()))
}

/// 200 with the new state; 400 `PROVIDERS_FILE_INVALID` with the file's error (the old
/// configuration stays in use).
async fn reload(State(state): State<AppState>) -> AppResult<Json<ProvidersResponse>> {
    crate::reload(&state).await.map_err(|e| {
        AppError::detailed(
            StatusCode::BAD_REQUEST,
            "PROVIDERS_FILE_INVALID",
            format!("{e:#}"),
        )
    })?;
    Ok(Json(describe(&state.generator.registry())))
}
