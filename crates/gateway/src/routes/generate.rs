//! `POST /api/v1/generate` (proxy) and `POST /api/v1/generate/stream` (SSE relay).

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};
use common::extract::ValidJson;
use common::schemas::{GenerateRequest, GenerateResponse, Usage};
use common::{AppError, AppResult};
use utoipa::OpenApi;

use crate::auth::CurrentUser;
use crate::chat::conversation::{self, Conversation};
use crate::chat::{generations, grounding};
use crate::relay;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/generate", post(generate))
        .route("/api/v1/generate/stream", post(generate_stream))
}

/// `?meta=1` on a stream: send the `event: meta` of a grounded answer (its sources) before the
/// first token. Off by default, so streams keep the contract's bytes for clients that read
/// every `data:` line as a token.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// `1` or `true`: an `event: meta` line with `data: {"sources":[…]}` comes first when the
    /// answer is grounded in files.
    meta: Option<String>,
}

impl StreamQuery {
    pub fn wants_meta(&self) -> bool {
        matches!(self.meta.as_deref().map(str::trim), Some("1" | "true"))
    }
}

#[derive(OpenApi)]
#[openapi(
    paths(generate, generate_stream),
    components(schemas(
        GenerateRequest,
        GenerateResponse,
        Usage,
        common::schemas::ChatTurn,
        common::schemas::Role,
        common::schemas::Source,
        common::schemas::KnowledgeSettings
    ))
)]
pub struct ApiDoc;

/// Generates a complete answer.
///
/// With `session_id`, the session's system prompt and earlier turns are sent to the model
/// and both turns are stored in the session.
///
/// Knowledge: with `file_ids` / `collection_ids` (and in a session with `knowledge`), the
/// answer is grounded in those files: it is given numbered passages, cites them as `[n]`, and
/// the response carries `sources` and `cited` (also stored in the answer's `meta`).
#[utoipa::path(post, path = "/api/v1/generate", tag = "generation",
    request_body = GenerateRequest,
    responses(
        (status = 200, description = "The generated answer; with `session_id`, header `X-User-Message-Id` names the stored user turn", body = GenerateResponse),
        (status = 400, description = "The provider refused the request: `code` is `INVALID_REQUEST`, `CONTEXT_TOO_LONG` or `CONTENT_POLICY`, `retryable: false` (sending it again cannot help)", body = common::error::ErrorEnvelope),
        (status = 403, description = "The caller may not use the model (`MODEL_NOT_ALLOWED`, with `allowed_models`)", body = common::error::ErrorEnvelope),
        (status = 404, description = "Unknown session_id, a named file or collection that is not the caller's (`FILE_NOT_FOUND`, `COLLECTION_NOT_FOUND`), or a model the provider does not know (`UNKNOWN_MODEL`, after the fallback model was tried)", body = common::error::ErrorEnvelope),
        (status = 422, description = "Invalid request (the detail list names each field)", body = common::error::ErrorEnvelope),
        (status = 429, description = "Rate limited — by this gateway (`generate` limit) or by the provider (`RATE_LIMITED`, `retryable: true`); `Retry-After` says when to try again", body = common::error::ErrorEnvelope),
        (status = 502, description = "The provider failed (after retries and fallback): `PROVIDER_AUTH`, `PROVIDER_UNREACHABLE` or `INFERENCE_ERROR`", body = common::error::ErrorEnvelope),
        (status = 503, description = "The model service is unavailable, or the provider is overloaded (`PROVIDER_OVERLOADED`, `retryable: true`)", body = common::error::ErrorEnvelope),
        (status = 504, description = "The provider did not answer within the request's deadline, retries and fallback included (`PROVIDER_TIMEOUT`, `retryable: true`)", body = common::error::ErrorEnvelope),
    ))]
pub async fn generate(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(mut request): ValidJson<GenerateRequest>,
) -> AppResult<Json<GenerateResponse>> {
    if request.session_id.is_none() {
        // With a session, `begin` checks the model once the session's settings apply.
        crate::access::check_generate(&state, &user, &mut request).await?;
    }
    let named = grounding::named_by(&state, &user, &mut request).await?;
    let mut conversation = conversation::begin(&state, user, &mut request).await?;
    let grounded =
        grounding::for_turn(&state, &user, &named, &mut conversation, &mut request).await?;
    let mut result: AppResult<GenerateResponse> =
        state.model.post_json("/inference", &request).await;
    if let Ok(answer) = &mut result {
        state
            .usage
            .add(user.id, &answer.model, answer.usage, answer.cost_usd);
        if let Some(grounded) = &grounded {
            answer.cited = Some(grounded.cited(&answer.text));
            answer.sources = Some(grounded.sources.clone());
        }
    }
    if let Some(conversation) = conversation {
        conversation.finish_sync(&state, &result).await;
    }
    result.map(Json)
}

/// Streams the answer token by token as Server-Sent Events.
///
/// Each token is one event whose data is the token as a JSON string literal; the stream ends
/// with `data: [DONE]`, or with `data: [ERROR] <message>` on failure (also when the model
/// service is unreachable). Validation errors are answered with 422 before any stream starts.
///
/// With `session_id` the answer is a server-side generation: it goes on when the client
/// disconnects and is stored when it ends; `POST /api/v1/chat/sessions/{id}/stop` ends it
/// early, and `GET /api/v1/chat/sessions/{id}/stream` attaches to it again.
///
/// Knowledge (`file_ids`, `collection_ids`, a session's `knowledge`): the answer is grounded
/// in those files. With `?meta=1` the stream starts with `event: meta` +
/// `data: {"sources":[{n, file_id, filename, chunk_id, page, heading, snippet, score,
/// char_start, char_end}]}` (an empty list when nothing relevant was found) before the first
/// token; without it the bytes are the contract's. The stored answer's `meta` has `sources`
/// and `cited`.
#[utoipa::path(post, path = "/api/v1/generate/stream", tag = "generation",
    params(StreamQuery),
    request_body = GenerateRequest,
    responses(
        (status = 200, description = "SSE: `data: \"<token>\"` events, then `data: [DONE]` or `data: [ERROR] <CODE>: <message>` — provider failures arrive here with their class (`CONTEXT_TOO_LONG`, `RATE_LIMITED`, `PROVIDER_TIMEOUT`, …), not as a status; failures of Sable's own hops as `data: [ERROR] <message>`", content_type = "text/event-stream", body = String),
        (status = 400, description = "Refused before streaming (e.g. a `Host` not in ALLOWED_HOSTS); a provider's refusal arrives in the stream as `data: [ERROR] CONTEXT_TOO_LONG: …` and the like", body = common::error::ErrorEnvelope),
        (status = 403, description = "The caller may not use the model (`MODEL_NOT_ALLOWED`, with `allowed_models`)", body = common::error::ErrorEnvelope),
        (status = 404, description = "Unknown session_id, or a named file or collection that is not the caller's (`FILE_NOT_FOUND`, `COLLECTION_NOT_FOUND`)", body = common::error::ErrorEnvelope),
        (status = 409, description = "An answer is already being generated in this session", body = common::error::ErrorEnvelope),
        (status = 422, description = "Invalid request", body = common::error::ErrorEnvelope),
        (status = 429, description = "Rate limited (`generate` limit or the per-user stream cap), or too many background generations (per user or per gateway); `Retry-After` says when to try again", body = common::error::ErrorEnvelope),
        (status = 504, description = "Not answered before streaming starts: a provider that does not answer in time ends the stream with `data: [ERROR] PROVIDER_TIMEOUT: …`", body = common::error::ErrorEnvelope),
    ))]
pub async fn generate_stream(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<StreamQuery>,
    ValidJson(mut request): ValidJson<GenerateRequest>,
) -> AppResult<Response> {
    // Named files are checked before anything is reserved or stored.
    let named = grounding::named_by(&state, &user, &mut request).await?;
    if request.session_id.is_none() {
        // With a session, `begin` checks the model once the session's settings apply.
        crate::access::check_generate(&state, &user, &mut request).await?;
    }
    // A session stream is a server-side generation: the session is reserved first (409 when
    // an answer is already being generated in it, 429 over the background bounds), so nothing
    // is stored for a request that is refused.
    let reservation = match request
        .session_id
        .as_deref()
        .map(|raw| uuid::Uuid::parse_str(raw.trim()))
    {
        Some(Ok(session_id)) => Some(state.generations.reserve(user.id, session_id).await?),
        // No session, or a malformed id that `begin` rejects with the usual 422.
        _ => None,
    };
    let mut conversation = conversation::begin(&state, user, &mut request).await?;
    let grounded =
        grounding::for_turn(&state, &user, &named, &mut conversation, &mut request).await?;
    let prelude = grounded
        .filter(|_| query.wants_meta())
        .map(|g| common::sse::meta_event(&g.meta_json()));
    let header = conversation.as_ref().map(Conversation::header);
    let mut response = match (reservation, conversation) {
        (Some(reservation), Some(conversation)) => {
            match reservation.start(state, request, conversation) {
                Some(generation) => generations::sse_response(generation.events(0), false, prelude),
                None => return Err(AppError::internal("the generation did not start")),
            }
        }
        (_, conversation) => {
            relay::stream_generation(state, user.id, request, conversation, prelude).await
        }
    };
    if let Some((name, value)) = header {
        response.headers_mut().insert(name, value);
    }
    Ok(response)
}
