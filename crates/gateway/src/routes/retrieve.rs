//! `POST /api/v1/retrieve`: passages of the caller's files that answer a query (hybrid:
//! full-text rank and vector similarity fused by reciprocal rank fusion), forwarded to the
//! worker service, which owns the passages, with the caller's id.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use common::error::ErrorEnvelope;
use common::extract::ValidJson;
use common::schemas::{Passage, RetrieveRequest, RetrieveResponse};
use common::AppResult;
use reqwest::Method;
use utoipa::OpenApi;

use super::forward::forward;
use crate::auth::CurrentUser;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/retrieve", post(retrieve))
}

#[derive(OpenApi)]
#[openapi(
    paths(retrieve),
    components(schemas(RetrieveRequest, RetrieveResponse, Passage))
)]
pub struct ApiDoc;

/// Ranked passages for `query` from the caller's ready files: all of them, or the named
/// `file_ids` and the files of the named `collection_ids`. Each passage names its file, page
/// (PDF), heading path, text, fused `score` and the rank each side gave it.
#[utoipa::path(post, path = "/api/v1/retrieve", tag = "files",
    request_body = RetrieveRequest,
    responses(
        (status = 200, description = "Passages, best first (empty when nothing matches)", body = RetrieveResponse),
        (status = 404, description = "A named file or collection is not the caller's: `FILE_NOT_FOUND` / `COLLECTION_NOT_FOUND`", body = ErrorEnvelope),
        (status = 422, description = "Invalid query (1–2000 characters), top_k (1–50) or ids", body = ErrorEnvelope),
    ))]
pub async fn retrieve(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(req): ValidJson<RetrieveRequest>,
) -> AppResult<Json<RetrieveResponse>> {
    let started = std::time::Instant::now();
    let answer = forward(&state, &user, Method::POST, "/retrieve")
        .json(&req)
        .answer()
        .await?;
    // The query's embedding counts towards the caller's usage, like a generation.
    crate::chat::grounding::record_retrieval(&state, user.id, &answer, started, "api");
    Ok(Json(answer))
}
