//! `GET /api/v1/models`: the configured provider, default and fallback models, and extras.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use common::schemas::ModelsResponse;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/models", get(list_models))
}

async fn list_models(State(state): State<AppState>) -> Json<ModelsResponse> {
    Json(state.generator.registry().models_response())
}
