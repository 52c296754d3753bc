//! Chat sessions (contract §5.6) plus the additive search, paging and export endpoints.
//!
//! Status codes: 201 create/append, 200 reads and PATCH, 204 delete; a malformed session id is
//! 400 and an unknown (or another user's) session 404, both with the envelope and the
//! reference's string `detail`; invalid bodies and queries are 422 and are checked before the
//! id (contract §3.1).

use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::error::ErrorEnvelope;
use common::extract::{ValidJson, ValidQuery};
use common::schemas::{
    ChatMessageCreate, ChatMessageImport, ChatMessageOut, ChatSearchHit, ChatSearchQuery,
    ChatSearchResponse, ChatSessionCreate, ChatSessionDetail, ChatSessionImport, ChatSessionOut,
    ChatSessionUpdate, ExportFormat, ExportQuery, Role, SessionCursor, SessionListQuery,
    SessionMessagesQuery, SESSION_MESSAGES_LIMIT_MAX,
};
use common::AppResult;
use utoipa::OpenApi;

use crate::auth::CurrentUser;
use crate::chat::repo as chat_repo;
use crate::chat::{export, generations, parse_session_id, session_not_found};
use crate::state::AppState;

/// Response header of a full session-list page: the `before` value of the next page.
pub const NEXT_CURSOR: HeaderName = HeaderName::from_static("x-next-cursor");

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/chat/sessions",
            post(create_session).get(list_sessions),
        )
        .route(
            "/api/v1/chat/sessions/{id}",
            get(get_session)
                .patch(update_session)
                .delete(delete_session),
        )
        .route("/api/v1/chat/sessions/{id}/messages", post(append_message))
        .route("/api/v1/chat/sessions/{id}/export", get(export_session))
        .route("/api/v1/chat/sessions/{id}/stop", post(stop_generation))
        .route(
            "/api/v1/chat/sessions/{id}/messages/{message_id}/activate",
            post(activate_message),
        )
        .route(
            "/api/v1/chat/sessions/{id}/messages/{message_id}/versions",
            get(message_versions),
        )
        .route(
            "/api/v1/chat/sessions/{id}/messages/{message_id}/continue",
            post(continue_message),
        )
        .route("/api/v1/chat/sessions/{id}/stream", get(resume_stream))
        .route("/api/v1/chat/search", get(search))
        .route("/api/v1/chat/import", post(import_session))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        create_session,
        list_sessions,
        get_session,
        update_session,
        delete_session,
        append_message,
        export_session,
        stop_generation,
        resume_stream,
        activate_message,
        message_versions,
        continue_message,
        import_session,
        search
    ),
    components(schemas(
        ChatSessionCreate,
        ChatSessionUpdate,
        ChatSessionOut,
        ChatSessionDetail,
        ChatMessageCreate,
        ChatMessageOut,
        ChatSearchResponse,
        ChatSearchHit,
        ExportFormat,
        StopResponse,
        MessageVersions,
        ChatSessionImport,
        ChatMessageImport,
        ImportedSession,
        Role
    )),
    tags((name = "chat", description = "Chat sessions and messages, stored in Postgres; search and export"))
)]
pub struct ApiDoc;

/// Creates a session. A missing, null or empty title becomes "New Chat". With a `folder_id`,
/// the folder's system prompt and model apply unless the body gives its own.
#[utoipa::path(post, path = "/api/v1/chat/sessions", tag = "chat",
    request_body = ChatSessionCreate,
    responses(
        (status = 201, description = "The new session (message_count 0, created_at == updated_at)", body = ChatSessionOut),
        (status = 404, description = "`folder_id` is not one of the caller's folders (`detail`: \"Folder not found\")", body = ErrorEnvelope),
        (status = 422, description = "Invalid body (title over 200 code points, system_prompt over 20 000, no JSON body)", body = ErrorEnvelope),
    ))]
pub async fn create_session(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
    ValidJson(body): ValidJson<ChatSessionCreate>,
) -> AppResult<(StatusCode, Json<ChatSessionOut>)> {
    if let Some(knowledge) = &body.knowledge {
        crate::chat::grounding::check_owned(&state, user_id, knowledge).await?;
    }
    let mut settings = body.settings();
    let mut system_prompt = body.system_prompt.clone();
    if let Some(folder_id) = body.folder_id {
        // A chat started in a folder takes the folder's defaults the request does not set.
        let folder = crate::routes::folders::owned_folder(&state, user_id, folder_id).await?;
        system_prompt = system_prompt.or(folder.system_prompt);
        settings.model = settings.model.or(folder.model);
    }
    let session = chat_repo::create_session(
        &state.db,
        user_id,
        body.effective_title(),
        system_prompt.as_deref(),
        &settings,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// Lists the caller's sessions, most recently updated first, with message counts.
///
/// Without parameters: the first 100, as the reference. Paging (additive): `limit` (1..=200)
/// and `before`, a keyset cursor `<updated_at>,<id>` of the last session already seen (or just
/// `<updated_at>`, meaning strictly older). A full page carries the next page's `before` value
/// in the `X-Next-Cursor` header. A session that is updated while a client pages moves to the
/// top and is not seen again in that walk. Filters (additive, combined): `pinned`, `archived`,
/// `folder_id` (another user's folder id gives an empty page, as any filter only narrows the
/// caller's own sessions).
#[utoipa::path(get, path = "/api/v1/chat/sessions", tag = "chat",
    params(SessionListQuery),
    responses(
        (status = 200, description = "Sessions, newest updated first (a plain array)", body = Vec<ChatSessionOut>,
            headers(("x-next-cursor" = String, description = "Present when the page is full: pass it as `before` for the next page"))),
        (status = 422, description = "Invalid limit, cursor or folder id", body = ErrorEnvelope),
    ))]
pub async fn list_sessions(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
    ValidQuery(query): ValidQuery<SessionListQuery>,
) -> AppResult<Response> {
    let limit = query.limit();
    let filter = chat_repo::SessionFilter {
        pinned: query.pinned,
        archived: query.archived,
        folder_id: query.folder_id(),
    };
    let sessions =
        chat_repo::list_sessions(&state.db, user_id, limit, query.cursor(), filter).await?;
    let mut headers = HeaderMap::new();
    if usize::try_from(limit).is_ok_and(|limit| sessions.len() == limit) {
        if let Some(last) = sessions.last() {
            if let Ok(value) = HeaderValue::from_str(&SessionCursor::after(last).encode()) {
                headers.insert(NEXT_CURSOR, value);
            }
        }
    }
    Ok((headers, Json(sessions)).into_response())
}

/// Returns one session with its messages: the active path, first message to newest.
///
/// The body is streamed from a database cursor, so memory does not grow with the conversation.
/// Paging (additive): `limit` (1..=1000) returns the newest `limit` messages of the path, in
/// order; `before=<message id>` those just before that message (pass the first id of a page to
/// get the page before it; a page whose first message has `parent_id: null` is the first).
/// With paging, `message_count` is the length of the whole active path.
#[utoipa::path(get, path = "/api/v1/chat/sessions/{id}", tag = "chat",
    params(("id" = String, Path, description = "Session id (any UUID spelling: hyphen-less, braced, urn:uuid:)"), SessionMessagesQuery),
    responses(
        (status = 200, description = "The session and its messages (the active path)", body = ChatSessionDetail),
        (status = 400, description = "Malformed id (`detail`: \"Invalid session id\")", body = ErrorEnvelope),
        (status = 404, description = "No such session (`detail`: \"Session not found\")", body = ErrorEnvelope),
        (status = 422, description = "Bad limit, or `before` is not a message of the active path", body = ErrorEnvelope),
    ))]
pub async fn get_session(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
    Path(id): Path<String>,
    ValidQuery(query): ValidQuery<SessionMessagesQuery>,
) -> AppResult<Response> {
    let id = parse_session_id(&id)?;
    let session = chat_repo::session(&state.db, user_id, id)
        .await?
        .ok_or_else(session_not_found)?;
    let page = if query.is_paged() {
        let before = match query.before_id() {
            None => None,
            Some(message) => Some(
                chat_repo::position_on_active_path(&state.db, user_id, id, message)
                    .await?
                    .ok_or_else(|| {
                        common::AppError::validation(common::validation::FieldError::new(
                            "value_error",
                            &["query", "before"],
                            "before should be the id of a message of the active path",
                        ))
                    })?,
            ),
        };
        Some(chat_repo::PathPage {
            limit: query.limit.unwrap_or(SESSION_MESSAGES_LIMIT_MAX),
            before,
        })
    } else {
        None
    };
    let messages = chat_repo::stream_active_path(state.db.clone(), user_id, id, page);
    let body = export::detail_body(session, messages, page.is_none());
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Renames a session or changes its system prompt. Absent or null fields are left unchanged
/// (so the system prompt cannot be cleared, as in the reference); an empty title is applied.
/// `folder_id` moves the chat into one of the caller's folders, `"folder_id": null` out of it.
/// `updated_at` moves only when a value actually changes.
#[utoipa::path(patch, path = "/api/v1/chat/sessions/{id}", tag = "chat",
    params(("id" = String, Path, description = "Session id")),
    request_body = ChatSessionUpdate,
    responses(
        (status = 200, description = "The updated session, with its real message count", body = ChatSessionOut),
        (status = 400, description = "Malformed id", body = ErrorEnvelope),
        (status = 404, description = "No such session, or `folder_id` is not one of the caller's folders", body = ErrorEnvelope),
        (status = 422, description = "Invalid body (checked before the id)", body = ErrorEnvelope),
    ))]
pub async fn update_session(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<ChatSessionUpdate>,
) -> AppResult<Json<ChatSessionOut>> {
    let id = parse_session_id(&id)?;
    let folder = body.folder_id.flatten();
    if body.knowledge.is_some() || folder.is_some() {
        // Another user's session is 404 before their files or folders are looked at.
        if !chat_repo::session_exists(&state.db, user_id, id).await? {
            return Err(session_not_found());
        }
    }
    if let Some(knowledge) = &body.knowledge {
        crate::chat::grounding::check_owned(&state, user_id, knowledge).await?;
    }
    if let Some(folder) = folder {
        crate::routes::folders::owned_folder(&state, user_id, folder).await?;
    }
    chat_repo::update_session(
        &state.db,
        user_id,
        id,
        body.title.as_deref(),
        body.system_prompt.as_deref(),
        &body.settings(),
    )
    .await?
    .map(Json)
    .ok_or_else(session_not_found)
}

/// Deletes a session and its messages.
#[utoipa::path(delete, path = "/api/v1/chat/sessions/{id}", tag = "chat",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 204, description = "Deleted (empty body)"),
        (status = 400, description = "Malformed id", body = ErrorEnvelope),
        (status = 404, description = "No such session (also on a repeated delete)", body = ErrorEnvelope),
    ))]
pub async fn delete_session(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let id = parse_session_id(&id)?;
    if chat_repo::delete_session(&state.db, user_id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(session_not_found())
    }
}

/// Appends a message. In the same transaction the session's `updated_at` is bumped (it moves
/// to the top of the list) and its message count incremented. `meta` is stored verbatim.
#[utoipa::path(post, path = "/api/v1/chat/sessions/{id}/messages", tag = "chat",
    params(("id" = String, Path, description = "Session id")),
    request_body = ChatMessageCreate,
    responses(
        (status = 201, description = "The stored message", body = ChatMessageOut),
        (status = 400, description = "Malformed id", body = ErrorEnvelope),
        (status = 404, description = "No such session", body = ErrorEnvelope),
        (status = 422, description = "Invalid body: bad role, empty or over-long content, meta not an object or over 16 KiB", body = ErrorEnvelope),
    ))]
pub async fn append_message(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<ChatMessageCreate>,
) -> AppResult<(StatusCode, Json<ChatMessageOut>)> {
    let id = parse_session_id(&id)?;
    let message = chat_repo::append_message(
        &state.db,
        user_id,
        id,
        body.role,
        &body.content,
        body.meta.as_ref(),
        None,
    )
    .await?
    .ok_or_else(session_not_found)?;
    Ok((StatusCode::CREATED, Json(message)))
}

/// Downloads a session: `markdown` (default; `# title`, export time, `## You` /
/// `## Assistant` / `## System` per message) or `json` (the `ChatSessionDetail`), as an
/// attachment named after the title.
#[utoipa::path(get, path = "/api/v1/chat/sessions/{id}/export", tag = "chat",
    params(("id" = String, Path, description = "Session id"), ExportQuery),
    responses(
        // JSON first: schema checkers (schemathesis) validate a JSON answer against the first
        // media type's schema.
        (status = 200, description = "The session as a file", content(
            (ChatSessionDetail = "application/json"),
            (String = "text/markdown"),
        ), headers(("content-disposition" = String, description = "attachment; filename=\"<title-slug>.md|json\""))),
        (status = 400, description = "Malformed id", body = ErrorEnvelope),
        (status = 404, description = "No such session", body = ErrorEnvelope),
        (status = 422, description = "Unknown format", body = ErrorEnvelope),
    ))]
pub async fn export_session(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
    Path(id): Path<String>,
    ValidQuery(query): ValidQuery<ExportQuery>,
) -> AppResult<Response> {
    let id = parse_session_id(&id)?;
    let session = chat_repo::session(&state.db, user_id, id)
        .await?
        .ok_or_else(session_not_found)?;
    let title = session.title.clone();
    // Both formats stream a page of messages at a time, holding no pooled connection between
    // pages: memory does not grow with the conversation, and a slow reader holds nothing.
    let messages = chat_repo::stream_active_path(state.db.clone(), user_id, id, None);
    let response = match query.format.unwrap_or_default() {
        ExportFormat::Markdown => (
            [
                (
                    header::CONTENT_TYPE,
                    "text/markdown; charset=utf-8".to_owned(),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    export::content_disposition(&title, "md"),
                ),
            ],
            export::markdown_body(session, messages, chrono::Utc::now()),
        )
            .into_response(),
        ExportFormat::Json => (
            [
                (header::CONTENT_TYPE, "application/json".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    export::content_disposition(&title, "json"),
                ),
            ],
            export::detail_body(session, messages, true),
        )
            .into_response(),
    };
    Ok(response)
}

/// Full-text search over the caller's messages (Postgres `websearch_to_tsquery('english', q)`
/// against a GIN-indexed tsvector), best `ts_rank_cd` first. Snippets are HTML-escaped with the
/// matched words wrapped in `<mark>`…`</mark>`.
#[utoipa::path(get, path = "/api/v1/chat/search", tag = "chat",
    params(ChatSearchQuery),
    responses(
        (status = 200, description = "Matches, best first", body = ChatSearchResponse),
        (status = 422, description = "q missing, blank or over 200 code points; limit outside 1..=100", body = ErrorEnvelope),
    ))]
pub async fn search(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
    ValidQuery(query): ValidQuery<ChatSearchQuery>,
) -> AppResult<Json<ChatSearchResponse>> {
    let results =
        chat_repo::search_messages(&state.db, user_id, query.q.trim(), query.limit()).await?;
    Ok(Json(ChatSearchResponse { results }))
}

/// Answer of `POST /api/v1/chat/sessions/{id}/stop`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct StopResponse {
    /// True when a running generation was stopped (its partial answer is stored with
    /// `meta.stopped = true` before this answer is sent); false when none was running here.
    pub stopped: bool,
}

/// Stops the answer being generated in the session: the model-service request is cancelled
/// and the partial answer stored with `meta.stopped = true` (and `finish_reason`
/// `"stopped"`); subscribers of the stream get `[DONE]`. Idempotent: when nothing is running,
/// `{"stopped": false}`.
#[utoipa::path(post, path = "/api/v1/chat/sessions/{id}/stop", tag = "chat",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 200, description = "Whether a generation was stopped", body = StopResponse),
        (status = 400, description = "Malformed id", body = ErrorEnvelope),
        (status = 404, description = "No such session", body = ErrorEnvelope),
    ))]
pub async fn stop_generation(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
    Path(id): Path<String>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> AppResult<Response> {
    let id = parse_session_id(&id)?;
    if state.generations.stop(user_id, id).await {
        return Ok(Json(StopResponse { stopped: true }).into_response());
    }
    if let Some(answer) =
        generations::forward_to_owner(&state, user_id, id, Method::POST, &uri, &headers).await?
    {
        return Ok(answer);
    }
    if chat_repo::session_exists(&state.db, user_id, id).await? {
        Ok(Json(StopResponse { stopped: false }).into_response())
    } else {
        Err(session_not_found())
    }
}

/// Attaches to the answer being generated in the session: first every token generated so far,
/// then the live tokens, then `[DONE]` (or `[ERROR] <message>`). Each token event carries
/// `id: <token index>` (0-based); a client that reconnects with `Last-Event-ID: <n>` gets the
/// tokens after `n` only. 204 (empty) when nothing is being generated in the session. With
/// several replicas (`GATEWAY_PEER_URL`), a replica that does not run the answer streams it
/// from the one that does. The response names the generation's user turn in `X-User-Message-Id`.
#[utoipa::path(get, path = "/api/v1/chat/sessions/{id}/stream", tag = "chat",
    params(
        ("id" = String, Path, description = "Session id"),
        ("last-event-id" = Option<String>, Header, description = "The `id:` of the last token already received"),
        crate::routes::generate::StreamQuery,
    ),
    responses(
        (status = 200, description = "SSE: `id: <n>` + `data: \"<token>\"` events, then `data: [DONE]` or `data: [ERROR] <message>`", content_type = "text/event-stream", body = String),
        (status = 204, description = "Nothing is being generated in this session"),
        (status = 400, description = "Malformed id", body = ErrorEnvelope),
        (status = 404, description = "No such session", body = ErrorEnvelope),
        (status = 422, description = "Last-Event-ID is not a token index", body = ErrorEnvelope),
    ))]
pub async fn resume_stream(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
    Path(id): Path<String>,
    uri: OriginalUri,
    headers: HeaderMap,
    Query(query): Query<crate::routes::generate::StreamQuery>,
) -> AppResult<Response> {
    let id = parse_session_id(&id)?;
    let from = match headers.get("last-event-id") {
        None => 0,
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .map(|last| last.saturating_add(1))
            .ok_or_else(|| {
                common::AppError::validation(common::validation::FieldError::new(
                    "int_parsing",
                    &["header", "last-event-id"],
                    "Last-Event-ID should be the id of a token event (a whole number)",
                ))
            })?,
    };
    let Some(generation) = state.generations.get(user_id, id) else {
        if let Some(answer) =
            generations::forward_to_owner(&state, user_id, id, Method::GET, &uri, &headers).await?
        {
            return Ok(answer);
        }
        return if chat_repo::session_exists(&state.db, user_id, id).await? {
            Ok(StatusCode::NO_CONTENT.into_response())
        } else {
            Err(session_not_found())
        };
    };
    let user_message_id = generation.user_message_id();
    let prelude = generation.meta_event().filter(|_| query.wants_meta());
    let mut response = generations::sse_response(generation.events(from), true, prelude);
    if let Some(value) = user_message_id.and_then(|m| HeaderValue::from_str(&m.to_string()).ok()) {
        response.headers_mut().insert(
            HeaderName::from_static(crate::chat::conversation::USER_MESSAGE_ID_HEADER),
            value,
        );
    }
    Ok(response)
}

/// Parses a message id in a path (any UUID spelling, as session ids): 400 with
/// `"detail":"Invalid message id"` otherwise.
pub fn parse_message_id(raw: &str) -> AppResult<uuid::Uuid> {
    parse_session_id(raw).map_err(|_| {
        common::AppError::detailed(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "Invalid message id",
        )
    })
}

/// Makes the branch through a message the session's active path (the "‹ 2 / 3 ›" switcher):
/// the active path then runs from the first message through `message_id` down to the newest
/// message below it. Returns the session with its new active path, as `GET /sessions/{id}`.
#[utoipa::path(post, path = "/api/v1/chat/sessions/{id}/messages/{message_id}/activate", tag = "chat",
    params(
        ("id" = String, Path, description = "Session id"),
        ("message_id" = String, Path, description = "Any version of a message in the session"),
    ),
    responses(
        (status = 200, description = "The session and its new active path", body = ChatSessionDetail),
        (status = 400, description = "Malformed id", body = ErrorEnvelope),
        (status = 404, description = "No such session, or the message is not in it", body = ErrorEnvelope),
    ))]
pub async fn activate_message(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
    Path((id, message_id)): Path<(String, String)>,
) -> AppResult<Json<ChatSessionDetail>> {
    let id = parse_session_id(&id)?;
    let message_id = parse_message_id(&message_id)?;
    if !chat_repo::activate(&state.db, user_id, id, message_id).await? {
        return Err(
            if chat_repo::session_exists(&state.db, user_id, id).await? {
                common::AppError::not_found("Message not found in this session")
            } else {
                session_not_found()
            },
        );
    }
    chat_repo::get_session(&state.db, user_id, id)
        .await?
        .map(Json)
        .ok_or_else(session_not_found)
}

/// Answer of `GET /api/v1/chat/sessions/{id}/messages/{message_id}/versions`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MessageVersions {
    /// Every version of the message (itself included), oldest first: `ids[sibling_index - 1]`
    /// is the version at that position. Pass one to `…/activate` to switch to its branch.
    pub ids: Vec<uuid::Uuid>,
}

/// The versions of a message (edits and regenerations add versions): the ids behind the
/// "‹ 2 / 3 ›" switcher, oldest first, in `sibling_index` order.
#[utoipa::path(get, path = "/api/v1/chat/sessions/{id}/messages/{message_id}/versions", tag = "chat",
    params(
        ("id" = String, Path, description = "Session id"),
        ("message_id" = String, Path, description = "Any version of a message in the session"),
    ),
    responses(
        (status = 200, description = "The ids of every version, oldest first", body = MessageVersions),
        (status = 400, description = "Malformed id", body = ErrorEnvelope),
        (status = 404, description = "No such session, or the message is not in it", body = ErrorEnvelope),
    ))]
pub async fn message_versions(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
    Path((id, message_id)): Path<(String, String)>,
) -> AppResult<Json<MessageVersions>> {
    let id = parse_session_id(&id)?;
    let message_id = parse_message_id(&message_id)?;
    match chat_repo::versions_of(&state.db, user_id, id, message_id).await? {
        Some(ids) => Ok(Json(MessageVersions { ids })),
        None if chat_repo::session_exists(&state.db, user_id, id).await? => Err(
            common::AppError::not_found("Message not found in this session"),
        ),
        None => Err(session_not_found()),
    }
}

/// Continues an answer that was stopped (`meta.stopped`) or cut at `max_tokens`
/// (`meta.finish_reason = "length"`), as SSE in the usual framing (`data: "<token>"` events,
/// then `[DONE]` or `[ERROR] <message>`). The model gets the conversation up to and including
/// that answer (as the last assistant turn) and an instruction to go on; the continuation is
/// appended to the same message (its `meta` then describes the continuation: `model`,
/// `usage`, `finish_reason`, `stopped`). It runs as the session's server-side generation:
/// `…/stop` and `…/stream` work on it as on any session stream. No request body.
#[utoipa::path(post, path = "/api/v1/chat/sessions/{id}/messages/{message_id}/continue", tag = "chat",
    params(
        ("id" = String, Path, description = "Session id"),
        ("message_id" = String, Path, description = "The assistant message to continue"),
    ),
    responses(
        (status = 200, description = "SSE: the continuation's tokens, then `data: [DONE]` or `data: [ERROR] <message>`", content_type = "text/event-stream", body = String),
        (status = 400, description = "Malformed id", body = ErrorEnvelope),
        (status = 404, description = "No such session, or the message is not in it", body = ErrorEnvelope),
        (status = 409, description = "Not a stopped or cut answer, or an answer is already being generated in the session", body = ErrorEnvelope),
        (status = 429, description = "Too many background generations", body = ErrorEnvelope),
    ))]
pub async fn continue_message(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, message_id)): Path<(String, String)>,
) -> AppResult<Response> {
    let id = parse_session_id(&id)?;
    let message_id = parse_message_id(&message_id)?;
    let reservation = state.generations.reserve(user.id, id).await?;
    let (request, conversation) =
        crate::chat::conversation::begin_continue(&state, user, id, message_id).await?;
    let generation = reservation
        .start(state, request, conversation)
        .ok_or_else(|| common::AppError::internal("the generation did not start"))?;
    Ok(generations::sse_response(generation.events(0), false, None))
}

/// Answer of `POST /api/v1/chat/import`: the session, and whether it was there already.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ImportedSession {
    #[serde(flatten)]
    pub session: ChatSessionOut,
    /// True when the caller had imported the same content before (and still has that chat):
    /// nothing was copied, `session` is the earlier import.
    pub already_imported: bool,
}

/// Imports a session from Sable's JSON export (`GET /sessions/{id}/export?format=json`, or any
/// `ChatSessionDetail`): a new session of the caller with the export's title, system prompt,
/// per-chat settings and flags, and its messages (role, content, meta) as one chain in order.
/// Ids, owner, timestamps and counts in the file are ignored. The same content imported again
/// by the same user (compared by a SHA-256 of what is imported, so reformatting the file does
/// not matter) makes no copy: 200 with the earlier session and `already_imported: true`.
#[utoipa::path(post, path = "/api/v1/chat/import", tag = "chat",
    request_body = ChatSessionImport,
    responses(
        (status = 201, description = "The new session (`already_imported: false`)", body = ImportedSession),
        (status = 200, description = "Imported before: the earlier session, `already_imported: true`", body = ImportedSession),
        (status = 413, description = "Body over the request size limit", body = ErrorEnvelope),
        (status = 422, description = "Not a Sable export: missing messages, bad role, over-long content, more than 10 000 messages", body = ErrorEnvelope),
    ))]
pub async fn import_session(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
    ValidJson(body): ValidJson<ChatSessionImport>,
) -> AppResult<(StatusCode, Json<ImportedSession>)> {
    let sha256 = import_digest(&body)?;
    let imported = chat_repo::import_session(&state.db, user_id, &body, Some(&sha256)).await?;
    let (status, already_imported) = match imported {
        chat_repo::Imported::New(_) => (StatusCode::CREATED, false),
        chat_repo::Imported::Already(_) => (StatusCode::OK, true),
    };
    let session = imported.into_session();
    Ok((
        status,
        Json(ImportedSession {
            session,
            already_imported,
        }),
    ))
}

/// SHA-256 of the import as parsed (re-serialized: whitespace, unknown fields and the ids and
/// timestamps an export carries do not count; the same conversation is the same import).
fn import_digest(import: &ChatSessionImport) -> AppResult<Vec<u8>> {
    use sha2::Digest;
    let canonical = serde_json::to_vec(import)
        .map_err(|e| common::AppError::internal(format!("import digest: {e}")))?;
    Ok(sha2::Sha256::digest(&canonical).to_vec())
}
