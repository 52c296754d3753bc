//! `GET /api/v1/models`: the models the model service is configured with (for the UI's
//! model picker). Relayed from the model service so there is one source of truth.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use common::schemas::{ModelInfo, ModelsResponse};
use common::AppResult;
use utoipa::OpenApi;

use crate::state::AppState;
use axum::http::request::Parts;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/models", get(list_models))
}

#[derive(OpenApi)]
#[openapi(paths(list_models), components(schemas(ModelsResponse, ModelInfo)))]
pub struct ApiDoc;

/// Lists the models the caller may use (all of them unless an admin limited the account or
/// the API key), with the default and fallback marked, each with its provider, capabilities
/// and context window.
#[utoipa::path(get, path = "/api/v1/models", tag = "generation",
    responses(
        (status = 200, description = "Configured models", body = ModelsResponse),
        (status = 503, description = "Model service unavailable", body = common::error::ErrorEnvelope),
    ))]
pub async fn list_models(
    State(state): State<AppState>,
    parts: Parts,
) -> AppResult<Json<ModelsResponse>> {
    // Signing in is not needed (as before); a signed-in caller sees what it may use.
    let user = crate::auth::authenticate(&parts, &state).await.ok();
    Ok(Json(
        crate::access::visible_models(&state, user.as_ref()).await?,
    ))
}
