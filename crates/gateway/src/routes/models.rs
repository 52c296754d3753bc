//! `GET /api/v1/models`: the models the model service is configured with (for the UI's
//! model picker). Relayed from the model service so there is one source of truth.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use common::schemas::{ModelInfo, ModelsResponse};
use common::AppResult;
use reqwest::Method;
use utoipa::OpenApi;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/models", get(list_models))
}

#[derive(OpenApi)]
#[openapi(paths(list_models), components(schemas(ModelsResponse, ModelInfo)))]
pub struct ApiDoc;

/// Lists the configured provider's models, with the default and fallback marked.
#[utoipa::path(get, path = "/api/v1/models", tag = "generation",
    responses(
        (status = 200, description = "Configured models", body = ModelsResponse),
        (status = 503, description = "Model service unavailable", body = common::error::ErrorEnvelope),
    ))]
pub async fn list_models(State(state): State<AppState>) -> AppResult<Json<ModelsResponse>> {
    let models = state
        .model
        .send_json(state.model.request(Method::GET, "/api/v1/models"))
        .await?;
    Ok(Json(models))
}
