//! Read-only share links of chats (issue 25.11).
//!
//! - `POST /api/v1/chat/sessions/{id}/share` → `{token, url}`: a new link showing the chat's
//!   active path as it is now (a previous link of the chat stops working);
//! - `GET` the same path: whether the chat has a live link; `DELETE`: ends it;
//! - `GET /api/v1/shared/{token}`, without credentials: the shared chat (title and messages,
//!   no account data); an unknown or ended link is 404;
//! - `POST /api/v1/shared/{token}/copy`, signed in: a new chat of the caller holding the shared
//!   messages, to continue it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use common::error::ErrorEnvelope;
use common::schemas::{ChatMessageImport, ChatSessionImport, ChatSessionOut};
use common::{AppError, AppResult};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::auth::tokens::{digest, random_secret};
use crate::auth::CurrentUser;
use crate::chat::repo as chat_repo;
use crate::chat::shares::{self, SharedMessage, Snapshot};
use crate::chat::{parse_session_id, session_not_found};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/chat/sessions/{id}/share",
            post(share_session)
                .get(share_status)
                .delete(unshare_session),
        )
        .route("/api/v1/shared/{token}", get(shared_chat))
        .route("/api/v1/shared/{token}/copy", post(copy_shared_chat))
}

#[derive(OpenApi)]
#[openapi(
    paths(share_session, share_status, unshare_session, shared_chat, copy_shared_chat),
    components(schemas(ShareCreated, ShareStatus, SharedChat, SharedMessage)),
    tags((name = "sharing", description = "Read-only links to a chat, readable without an account"))
)]
pub struct ApiDoc;

/// Answer of `POST /api/v1/chat/sessions/{id}/share`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareCreated {
    /// The link's secret (256 random bits, base64url). Shown once: only its hash is stored.
    pub token: String,
    /// The page that shows the chat, relative to the site: `/shared/<token>`.
    #[schema(example = "/shared/3q2-7wAA…")]
    pub url: String,
    /// How many messages the link shows (the active path when it was made).
    pub message_count: usize,
    #[serde(serialize_with = "common::schemas::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
}

/// Answer of `GET /api/v1/chat/sessions/{id}/share`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareStatus {
    /// True while the chat has a live link.
    pub shared: bool,
    /// When the live link was made, and how many messages it shows (null when not shared).
    pub created_at: Option<String>,
    pub message_count: Option<i32>,
}

/// Answer of `GET /api/v1/shared/{token}`: the chat as it was shared. No ids, no owner.
#[derive(Debug, Serialize, ToSchema)]
pub struct SharedChat {
    pub title: String,
    #[serde(serialize_with = "common::schemas::timestamp::serialize")]
    pub shared_at: DateTime<Utc>,
    pub messages: Vec<SharedMessage>,
}

fn shared_not_found() -> AppError {
    AppError::detailed(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "This shared chat does not exist or is no longer shared",
    )
}

/// The live snapshot behind a token. Anything that is not a token we could have issued is
/// 404 like an ended link, without a database round trip.
async fn snapshot(state: &AppState, token: &str) -> AppResult<(Snapshot, DateTime<Utc>)> {
    let plausible = token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !plausible {
        return Err(shared_not_found());
    }
    shares::by_digest(&state.db, &digest(token))
        .await?
        .ok_or_else(shared_not_found)
}

/// Shares a chat: a new read-only link to its active path as it is now. Messages added later
/// are not shown through it; share again for a link with them (the previous link then stops
/// working).
#[utoipa::path(post, path = "/api/v1/chat/sessions/{id}/share", tag = "sharing",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 201, description = "The new link", body = ShareCreated),
        (status = 400, description = "Malformed id", body = ErrorEnvelope),
        (status = 404, description = "No such session", body = ErrorEnvelope),
    ))]
pub async fn share_session(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<(StatusCode, Json<ShareCreated>)> {
    let id = parse_session_id(&id)?;
    let token = random_secret();
    let share = shares::create(&state.db, user_id, id, &digest(&token))
        .await?
        .ok_or_else(session_not_found)?;
    Ok((
        StatusCode::CREATED,
        Json(ShareCreated {
            url: format!("/shared/{token}"),
            token,
            message_count: share.message_count,
            created_at: share.created_at,
        }),
    ))
}

/// Whether a chat has a live link (the token itself cannot be shown again).
#[utoipa::path(get, path = "/api/v1/chat/sessions/{id}/share", tag = "sharing",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 200, description = "The chat's link status", body = ShareStatus),
        (status = 400, description = "Malformed id", body = ErrorEnvelope),
        (status = 404, description = "No such session", body = ErrorEnvelope),
    ))]
pub async fn share_status(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Json<ShareStatus>> {
    let id = parse_session_id(&id)?;
    if let Some(live) = shares::live(&state.db, user_id, id).await? {
        return Ok(Json(ShareStatus {
            shared: true,
            created_at: Some(common::schemas::timestamp::format(&live.created_at)),
            message_count: Some(live.message_count),
        }));
    }
    if chat_repo::session_exists(&state.db, user_id, id).await? {
        Ok(Json(ShareStatus {
            shared: false,
            created_at: None,
            message_count: None,
        }))
    } else {
        Err(session_not_found())
    }
}

/// Ends a chat's link: it answers 404 from now on. Idempotent (204 when there was none).
#[utoipa::path(delete, path = "/api/v1/chat/sessions/{id}/share", tag = "sharing",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 204, description = "Not shared any more (empty body)"),
        (status = 400, description = "Malformed id", body = ErrorEnvelope),
        (status = 404, description = "No such session", body = ErrorEnvelope),
    ))]
pub async fn unshare_session(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let id = parse_session_id(&id)?;
    if shares::revoke(&state.db, user_id, id).await?
        || chat_repo::session_exists(&state.db, user_id, id).await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(session_not_found())
    }
}

/// A shared chat, read with its link's token and no credentials: its title, when it was
/// shared, and the messages of its active path as of sharing (role, content, created_at and
/// the reader's part of meta). Nothing about the owner.
#[utoipa::path(get, path = "/api/v1/shared/{token}", tag = "sharing",
    params(("token" = String, Path, description = "The link's token")),
    responses(
        (status = 200, description = "The shared chat", body = SharedChat),
        (status = 404, description = "Unknown or ended link", body = ErrorEnvelope),
    ))]
pub async fn shared_chat(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> AppResult<Json<SharedChat>> {
    let (snapshot, shared_at) = snapshot(&state, &token).await?;
    Ok(Json(SharedChat {
        title: snapshot.title,
        shared_at,
        messages: snapshot.messages,
    }))
}

/// Continues a shared chat as the caller's own: a new chat of theirs with the shared title and
/// messages (as one chain, the last one active). The original is not touched.
#[utoipa::path(post, path = "/api/v1/shared/{token}/copy", tag = "sharing",
    params(("token" = String, Path, description = "The link's token")),
    responses(
        (status = 201, description = "The caller's new chat", body = ChatSessionOut),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 404, description = "Unknown or ended link", body = ErrorEnvelope),
    ))]
pub async fn copy_shared_chat(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
    Path(token): Path<String>,
) -> AppResult<(StatusCode, Json<ChatSessionOut>)> {
    let (snapshot, _) = snapshot(&state, &token).await?;
    let copy = ChatSessionImport {
        title: Some(snapshot.title),
        messages: snapshot
            .messages
            .into_iter()
            .map(|m| ChatMessageImport {
                role: m.role,
                content: m.content,
                meta: m.meta,
            })
            .collect(),
        ..Default::default()
    };
    let session = chat_repo::import_session(&state.db, user_id, &copy, None)
        .await?
        .into_session();
    Ok((StatusCode::CREATED, Json(session)))
}
