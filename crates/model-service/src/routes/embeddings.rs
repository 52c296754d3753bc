//! `POST /embeddings`: texts in, vectors out, in OpenAI's embeddings shape.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use common::extract::ValidJson;
use common::schemas::{EmbeddingsRequest, EmbeddingsResponse};
use common::AppResult;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/embeddings", post(embeddings))
}

/// 200 with one vector per input, in input order; 422 for invalid input; 400
/// `NO_EMBEDDINGS_MODEL` when the request names no model and none is configured. A provider
/// failure answers with its class, as `POST /inference` does.
#[tracing::instrument(skip_all, fields(model = req.requested_model().unwrap_or("embeddings"), inputs = req.input.texts().len()))]
async fn embeddings(
    State(state): State<AppState>,
    headers: HeaderMap,
    ValidJson(req): ValidJson<EmbeddingsRequest>,
) -> AppResult<Json<EmbeddingsResponse>> {
    let deadline = common::http::requested_deadline(&headers);
    Ok(Json(state.generator.embed_within(&req, deadline).await?))
}
