//! `POST /v1/embeddings`, OpenAI-compatible: the same accounts, rate limits (the `generate`
//! class), daily quota and usage counting as chat completions; errors in OpenAI's shape.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use common::extract::ValidJson;
use common::schemas::{EmbeddingsResponse, Usage};
use common::AppResult;
use reqwest::Method;
use utoipa::OpenApi;

use crate::auth::CurrentUser;
use crate::embeddings::{EmbeddingList, EmbeddingObject, EmbeddingVector, EmbeddingsCreate};
use crate::openai::{self, OpenAiError};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/embeddings", post(create_embeddings))
        .layer(axum::middleware::from_fn(openai::errors_in_openai_shape))
}

#[derive(OpenApi)]
#[openapi(
    paths(create_embeddings),
    components(schemas(
        EmbeddingsCreate,
        EmbeddingList,
        EmbeddingObject,
        EmbeddingVector,
        common::schemas::EmbeddingInput,
        common::schemas::EmbeddingUsage
    ))
)]
pub struct ApiDoc;

/// Creates embeddings, as OpenAI's API does: one vector per input, in input order.
#[utoipa::path(post, path = "/v1/embeddings", tag = "openai", operation_id = "openai_create_embeddings",
    request_body = EmbeddingsCreate,
    responses(
        (status = 200, description = "`{object: list, model, data: [{object: embedding, index, embedding}], usage}`", body = EmbeddingList),
        (status = 400, description = "Invalid request (`param` names the field), a model without embeddings, or no embeddings model configured", body = OpenAiError),
        (status = 401, description = "Missing or invalid API key", body = OpenAiError),
        (status = 403, description = "The API key or account may not use the model (`code: model_not_allowed`)", body = OpenAiError),
        (status = 404, description = "Unknown model", body = OpenAiError),
        (status = 429, description = "Rate limit or daily quota (with `Retry-After`)", body = OpenAiError),
        (status = 502, description = "The provider failed", body = OpenAiError),
        (status = 503, description = "The provider or the model service is unavailable", body = OpenAiError),
        (status = 504, description = "The provider timed out", body = OpenAiError),
    ))]
pub async fn create_embeddings(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(body): ValidJson<EmbeddingsCreate>,
) -> AppResult<Json<EmbeddingList>> {
    let model = body.model.as_deref().unwrap_or("embeddings");
    crate::access::check(&state, &user, Some(model)).await?;
    let answer: EmbeddingsResponse = state
        .model
        .send_json(
            state
                .model
                .request(Method::POST, "/embeddings")
                .json(&body.to_internal()),
        )
        .await?;
    state.usage.add(
        user.id,
        &answer.model,
        Usage::new(answer.usage.prompt_tokens, 0),
        answer.cost_usd,
    );
    Ok(Json(EmbeddingList::from_internal(answer, body.base64())))
}
