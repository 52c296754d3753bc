//! The OpenAI-compatible API: `POST /v1/chat/completions`, `GET /v1/models`,
//! `GET /v1/models/{id}`. Any OpenAI client works by changing its base URL to
//! `http://<host>/v1` and its key to a Sable API key (any key in `AUTH_MODE=off`). The same
//! accounts, limits, quotas and metrics apply as on the native API; errors use OpenAI's shape.
//!
//! Chat requests are forwarded, not translated (see `crate::openai`): tools, structured output,
//! image parts and every sampling field reach the provider, and its answer comes back whole.
//! The model service refuses (400) a request its model lacks a capability for.
//!
//! Conversations are not stored (OpenAI clients send the whole history every time) unless the
//! request names a session in `X-Sable-Session-Id`: then its last user message (or the tool
//! results it ends with) and the answer (text and tool calls) are stored there.
//!
//! Knowledge: the extra body field `sable: {file_ids, collection_ids}` (and, with
//! `X-Sable-Session-Id`, the session's own `knowledge`) grounds the answer as on the native
//! API: the passages found for the last user message are numbered and given to the model as a
//! system message in front of the client's messages. The answer carries them as an extra
//! top-level field `sources` (and `cited`, the numbers it cites); a stream carries `sources` on
//! its first chunk. Another user's ids are 404 (`file_not_found`, `collection_not_found`).

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use common::extract::ValidJson;
use common::schemas::ModelsResponse;
use common::validation::FieldError;
use common::{AppError, AppResult};
use reqwest::Method;
use utoipa::OpenApi;
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::chat::{conversation, grounding};
use crate::openai::{
    self, AssistantMessage, ChatBody, ChatCompletion, ChatCompletionRequest, ChatMessage, Choice,
    ModelList, ModelObject, OpenAiError, OpenAiErrorBody, StreamOptions,
};
use crate::state::AppState;

/// Header naming a chat session to store the exchange in.
pub const SESSION_HEADER: &str = "x-sable-session-id";

/// The model service's route for forwarded OpenAI chat requests.
const UPSTREAM_PATH: &str = "/v1/chat/completions";

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
        AssistantMessage, ModelList, ModelObject, OpenAiError, OpenAiErrorBody,
        common::schemas::KnowledgeSettings, common::schemas::Source
    )),
    tags((name = "openai", description = "OpenAI-compatible API (base URL `/v1`)"))
)]
pub struct ApiDoc;

/// Creates a chat completion, as OpenAI's API does (`stream: true` for chunks over SSE). The
/// request is forwarded to the model's provider with every field intact, and its answer
/// returned whole (tool calls, refusals, logprobs, usage details).
///
/// With `sable: {file_ids, collection_ids}` (or a session with knowledge) the answer is grounded
/// in those files and carries the extra top-level fields `sources` and `cited`; a stream puts
/// `sources` on its first chunk.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", operation_id = "openai_chat_completions",
    request_body = ChatCompletionRequest,
    params(("x-sable-session-id" = Option<uuid::Uuid>, Header, description = "Store the last user message (or tool results) and the answer in this chat session")),
    responses(
        (status = 200, description = "A `chat.completion`, or with `stream: true` SSE `chat.completion.chunk` events ending with `data: [DONE]`", body = ChatCompletion),
        (status = 400, description = "Invalid request (`param` names the field), or the model lacks a capability the request needs (`code: model_lacks_capability`)", body = OpenAiError),
        (status = 401, description = "Missing or invalid API key", body = OpenAiError),
        (status = 403, description = "The API key or account may not use the model (`code: model_not_allowed`)", body = OpenAiError),
        (status = 404, description = "Unknown model, unknown session, or a file or collection in `sable` that is not the caller's (`code: file_not_found`, `collection_not_found`)", body = OpenAiError),
        (status = 413, description = "Request body too large", body = OpenAiError),
        (status = 429, description = "Rate limit (with `Retry-After`)", body = OpenAiError),
        (status = 502, description = "The provider failed", body = OpenAiError),
        (status = 503, description = "The model service is unavailable", body = OpenAiError),
        (status = 504, description = "The provider timed out", body = OpenAiError),
    ))]
pub async fn chat_completions(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    ValidJson(mut body): ValidJson<ChatBody>,
) -> AppResult<Response> {
    let started = Instant::now();
    // A model the caller may not use is 403 (with the list), not an unknown one.
    crate::access::check(&state, &user, Some(body.model())).await?;
    let model = known_model(&state, &user, body.model()).await?;
    // Named files are checked before anything is stored (404 unless all are the caller's).
    let named = body.take_knowledge();
    grounding::check_owned(&state, user.id, &named).await?;
    let mut conversation = match session_header(&headers)? {
        Some(session_id) => Some(
            conversation::attach(&state, user, session_id, &body.session_turn(), &model.id).await?,
        ),
        None => None,
    };
    let query = body.session_turn();
    let turn = grounding::Turn {
        query: &query,
        // No system-prompt limit on this path: the configured budget alone.
        room_tokens: usize::MAX,
        route: "openai",
    };
    let grounded = grounding::grounded_turn(&state, &user, &named, &mut conversation, turn).await?;
    let grounded = grounded.map(|(grounded, block)| {
        body.put_grounding(block);
        grounded
    });

    if body.wants_stream() {
        let include_usage = body.include_usage();
        body.ask_for_usage();
        // The model service answers once the provider's first chunk is in (retries and the
        // fallback happen before), within the deadline it is told; a little more here.
        let within = state.config.http.stream_idle_timeout() + Duration::from_secs(5);
        let send = state.model.send(
            state
                .model
                .streaming_request(Method::POST, UPSTREAM_PATH)
                .json(&body.0),
        );
        let upstream = tokio::time::timeout(within, send)
            .await
            .unwrap_or_else(|_| {
                Err(AppError::ServiceUnavailable(
                    "The model service timed out".to_owned(),
                ))
            });
        let upstream = match upstream {
            Ok(upstream) => upstream,
            Err(e) => {
                // The session keeps the failed answer, as the native stream does.
                if let Some(conversation) = conversation {
                    conversation.finish_sync(&state, &Err(copy(&e))).await;
                }
                return Err(e);
            }
        };
        let recorder = conversation.map(|c| c.recorder(state.clone(), started));
        let stream = openai::relay(
            state.clone(),
            user.id,
            upstream,
            include_usage,
            recorder,
            &model.id,
            grounded.map(|g| openai::sources_field(&g.sources)),
        );
        return Ok(common::sse::response(Body::from_stream(stream)));
    }

    let result = whole_answer(&state, &body).await;
    if let Some(conversation) = conversation {
        let latency_ms = (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0;
        let stored = match &result {
            Ok((answer, answered)) => Ok(openai::stored_answer(answer, latency_ms, answered.price)),
            Err(e) => Err(copy(e)),
        };
        conversation.finish_sync(&state, &stored).await;
    }
    let (answer, answered) = result?;
    if let Some(usage) = common::schemas::openai::completion_usage(&answer) {
        let cost = crate::usage::cost_at(answered.price, &usage);
        state
            .usage
            .add(user.id, answered.model_or(&model.id), usage, cost);
    }
    // The provider's bytes, as they came (a grounded answer's sources put in front).
    let answer = match &grounded {
        Some(grounded) => openai::with_sources(&answer, grounded),
        None => answer,
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], answer).into_response())
}

/// The model service's whole answer to `body`: a `chat.completion`'s JSON bytes, and the
/// prices of the model that answered (with a providers file).
async fn whole_answer(
    state: &AppState,
    body: &ChatBody,
) -> AppResult<(Bytes, crate::usage::Answered)> {
    let response = state
        .model
        .send(
            state
                .model
                .request(Method::POST, UPSTREAM_PATH)
                .json(&body.0),
        )
        .await?;
    let answered = crate::usage::Answered::of(response.headers());
    let answer = response
        .bytes()
        .await
        .map_err(|e| state.model.transport_error(&e))?;
    Ok((answer, answered))
}

/// The failure as a session stores it (its status, code and message).
fn copy(e: &AppError) -> AppError {
    AppError::Upstream {
        status: e.status(),
        code: e.code().to_owned(),
        message: e.public_message(),
        detail: None,
        retryable: e.retryable(),
        retry_after: None,
    }
}

/// The models this server serves (the model service's registry).
#[utoipa::path(get, path = "/v1/models", tag = "openai", operation_id = "openai_list_models",
    responses(
        (status = 200, description = "`{object: list, data: [model]}`", body = ModelList),
        (status = 401, description = "Missing or invalid API key", body = OpenAiError),
    ))]
pub async fn list_models(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Json<ModelList>> {
    Ok(Json(ModelList {
        object: "list",
        data: to_objects(crate::access::visible_models(&state, Some(&user)).await?),
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
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Json<ModelObject>> {
    known_model(&state, &user, &id).await.map(Json)
}

fn to_objects(registry: ModelsResponse) -> Vec<ModelObject> {
    registry
        .models
        .into_iter()
        .map(|m| ModelObject {
            id: m.id,
            object: "model",
            created: 0,
            owned_by: m.provider.clone(),
            provider: Some(m.provider),
            capabilities: m.capabilities,
            context_window: m.context_window,
        })
        .collect()
}

/// The model named `id`, or 404 `model_not_found`: the OpenAI API serves the models that
/// `GET /v1/models` lists, and no others.
/// Besides a listed id, an alias (`fast`) or a bare id of a listed `provider/model` is known:
/// the model service resolves those (and refuses an ambiguous one).
async fn known_model(state: &AppState, user: &CurrentUser, id: &str) -> AppResult<ModelObject> {
    let id = id.trim();
    let registry = crate::access::visible_models(state, Some(user)).await?;
    let by_name = registry.aliases.contains_key(id)
        || registry
            .models
            .iter()
            .any(|m| m.id.strip_prefix(&format!("{}/", m.provider)) == Some(id));
    let provider = registry.provider.clone();
    to_objects(registry)
        .into_iter()
        .find(|m| m.id == id)
        .or_else(|| {
            by_name.then(|| ModelObject {
                id: id.to_owned(),
                object: "model",
                created: 0,
                owned_by: provider,
                provider: None,
                capabilities: Vec::new(),
                context_window: None,
            })
        })
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
