//! The OpenAI-compatible API: `POST /v1/chat/completions`, `GET /v1/models`,
//! `GET /v1/models/{id}`. Any OpenAI client works by changing its base URL to
//! `http://<host>/v1` and its key to a Sable API key (any key in `AUTH_MODE=off`). The same
//! accounts, limits and metrics apply as on the native API; errors use OpenAI's shape.
//!
//! Conversations are not stored (OpenAI clients send the whole history every time) unless the
//! request names a session in `X-Sable-Session-Id`: then its last user message and the answer
//! are stored there, as the native stream does.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::{Bytes, BytesMut};
use common::extract::ValidJson;
use common::schemas::{GenerateResponse, ModelsResponse};
use common::validation::FieldError;
use common::{AppError, AppResult};
use futures::StreamExt;
use reqwest::Method;
use utoipa::OpenApi;
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::chat::conversation;
use crate::openai::{
    self, AssistantMessage, ChatCompletion, ChatCompletionRequest, ChatMessage, Choice,
    ChunkFramer, ModelList, ModelObject, OpenAiError, OpenAiErrorBody, StreamOptions,
};
use crate::relay;
use crate::state::AppState;

/// Header naming a chat session to store the exchange in.
pub const SESSION_HEADER: &str = "x-sable-session-id";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(list_models))
        .route("/v1/models/{id}", get(get_model))
        .layer(axum::middleware::from_fn(openai::errors_in_openai_shape))
}

#[derive(OpenApi)]
#[openapi(
    paths(chat_completions, list_models, get_model),
    components(schemas(
        ChatCompletionRequest, ChatMessage, StreamOptions, ChatCompletion, Choice,
        AssistantMessage, ModelList, ModelObject, OpenAiError, OpenAiErrorBody
    )),
    tags((name = "openai", description = "OpenAI-compatible API (base URL `/v1`)"))
)]
pub struct ApiDoc;

/// Creates a chat completion, as OpenAI's API does (`stream: true` for chunks over SSE).
#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", operation_id = "openai_chat_completions",
    request_body = ChatCompletionRequest,
    params(("x-sable-session-id" = Option<uuid::Uuid>, Header, description = "Store the last user message and the answer in this chat session")),
    responses(
        (status = 200, description = "A `chat.completion`, or with `stream: true` SSE `chat.completion.chunk` events ending with `data: [DONE]`", body = ChatCompletion),
        (status = 400, description = "Invalid request (`param` names the field)", body = OpenAiError),
        (status = 401, description = "Missing or invalid API key", body = OpenAiError),
        (status = 404, description = "Unknown model, or unknown session", body = OpenAiError),
        (status = 429, description = "Rate limit (with `Retry-After`)", body = OpenAiError),
        (status = 502, description = "The provider failed", body = OpenAiError),
        (status = 503, description = "The model service is unavailable", body = OpenAiError),
    ))]
pub async fn chat_completions(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    ValidJson(body): ValidJson<ChatCompletionRequest>,
) -> AppResult<Response> {
    let request = body.to_generate().map_err(|e| AppError::validation(*e))?;
    let model = known_model(&state, &body.model).await?;
    let conversation = match session_header(&headers)? {
        Some(session_id) => {
            Some(conversation::attach(&state, user, session_id, &request.prompt, &model.id).await?)
        }
        None => None,
    };

    if body.wants_stream() {
        let events = relay::upstream_events(state, user.id, request, conversation).await;
        let mut framer = ChunkFramer::new(&model.id, body.include_usage());
        let stream = events.map(move |batch| {
            let mut out = BytesMut::new();
            for event in &batch {
                framer.frame(event, &mut out);
            }
            Ok::<Bytes, Infallible>(out.freeze())
        });
        return Ok(common::sse::response(Body::from_stream(stream)));
    }

    let result: AppResult<GenerateResponse> = state
        .model
        .send_json(
            state
                .model
                .request(Method::POST, "/inference")
                .json(&request),
        )
        .await;
    if let Some(conversation) = conversation {
        conversation.finish_sync(&state, &result).await;
    }
    let answer = result?;
    state.usage.add(user.id, answer.usage);
    Ok(Json(ChatCompletion {
        id: openai::completion_id(),
        object: "chat.completion",
        created: openai::unix_now(),
        model: answer.model,
        choices: vec![Choice {
            index: 0,
            message: AssistantMessage {
                role: "assistant",
                content: answer.text,
                refusal: None,
            },
            logprobs: None,
            finish_reason: answer.finish_reason.unwrap_or_else(|| "stop".to_owned()),
        }],
        usage: answer.usage,
        system_fingerprint: None,
    })
    .into_response())
}

/// The models this server serves (the model service's registry).
#[utoipa::path(get, path = "/v1/models", tag = "openai", operation_id = "openai_list_models",
    responses(
        (status = 200, description = "`{object: list, data: [model]}`", body = ModelList),
        (status = 401, description = "Missing or invalid API key", body = OpenAiError),
    ))]
pub async fn list_models(
    State(state): State<AppState>,
    _user: CurrentUser,
) -> AppResult<Json<ModelList>> {
    Ok(Json(ModelList {
        object: "list",
        data: models(&state).await?,
    }))
}

/// One model.
#[utoipa::path(get, path = "/v1/models/{id}", tag = "openai", operation_id = "openai_get_model",
    params(("id" = String, Path, description = "Model id")),
    responses(
        (status = 200, description = "The model", body = ModelObject),
        (status = 401, description = "Missing or invalid API key", body = OpenAiError),
        (status = 404, description = "Unknown model", body = OpenAiError),
    ))]
pub async fn get_model(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Json<ModelObject>> {
    known_model(&state, &id).await.map(Json)
}

async fn models(state: &AppState) -> AppResult<Vec<ModelObject>> {
    let registry: ModelsResponse = state
        .model
        .send_json(state.model.request(Method::GET, "/api/v1/models"))
        .await?;
    Ok(registry
        .models
        .into_iter()
        .map(|m| ModelObject {
            id: m.id,
            object: "model",
            created: 0,
            owned_by: m.provider,
        })
        .collect())
}

/// The model named `id`, or 404 `model_not_found`: the OpenAI API serves the models that
/// `GET /v1/models` lists, and no others.
async fn known_model(state: &AppState, id: &str) -> AppResult<ModelObject> {
    models(state)
        .await?
        .into_iter()
        .find(|m| m.id == id.trim())
        .ok_or_else(|| {
            AppError::detailed(
                StatusCode::NOT_FOUND,
                "MODEL_NOT_FOUND",
                format!(
                    "The model `{}` does not exist (see GET /v1/models)",
                    id.trim()
                ),
            )
        })
}

fn session_header(headers: &HeaderMap) -> AppResult<Option<Uuid>> {
    let Some(value) = headers.get(SESSION_HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| Uuid::parse_str(v.trim()).ok())
        .map(Some)
        .ok_or_else(|| {
            AppError::validation(FieldError::new(
                "uuid_parsing",
                &["header", SESSION_HEADER],
                "X-Sable-Session-Id must be a session id (UUID)",
            ))
        })
}
