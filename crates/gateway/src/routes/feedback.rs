//! Feedback on answers (issue 25, feature 12): the session owner rates an assistant message
//! thumbs up or down with an optional comment (`PUT`, `DELETE` clears it); the message then
//! carries `feedback` wherever it is shown (session, export). Administrators read the counts
//! per model (`GET /api/v1/metrics/feedback`) for the dashboard.
//!
//! Another user's session is 404 as everywhere in chat; a message that is not an answer is
//! 422 (nothing to rate).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use common::error::ErrorEnvelope;
use common::extract::ValidJson;
use common::schemas::{ChatMessageOut, MessageFeedback, Role};
use common::validation::{body, Checker, FieldError, Validate};
use common::{AppError, AppResult};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::auth::{AdminUser, CurrentUser};
use crate::chat::repo::{self as chat_repo, ModelFeedback};
use crate::chat::{parse_session_id, session_not_found};
use crate::routes::chat::parse_message_id;
use crate::state::AppState;

/// Longest comment, in code points (the column's CHECK says the same).
pub const FEEDBACK_COMMENT_MAX_CHARS: usize = 2000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/chat/sessions/{id}/messages/{message_id}/feedback",
            put(put_feedback).delete(delete_feedback),
        )
        .route("/api/v1/metrics/feedback", get(feedback_per_model))
}

#[derive(OpenApi)]
#[openapi(
    paths(put_feedback, delete_feedback, feedback_per_model),
    components(schemas(FeedbackIn, MessageFeedback, FeedbackPerModel, ModelFeedback))
)]
pub struct ApiDoc;

/// `PUT …/messages/{message_id}/feedback` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct FeedbackIn {
    /// 1 (thumbs up) or -1 (thumbs down).
    pub rating: i64,
    /// Optional, at most 2 000 code points; blank is the same as none.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
}

impl FeedbackIn {
    /// The comment to store: trimmed, none when blank.
    fn comment(&self) -> Option<&str> {
        self.comment
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
    }
}

impl Validate for FeedbackIn {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        if self.rating != 1 && self.rating != -1 {
            c.push(
                FieldError::new(
                    "literal_error",
                    &["body", "rating"],
                    "Input should be 1 or -1",
                )
                .with_input(serde_json::json!(self.rating)),
            );
        }
        if let Some(comment) = &self.comment {
            c.str_len(body("comment"), comment, 0, FEEDBACK_COMMENT_MAX_CHARS);
        }
        c.finish()
    }
}

/// Answer of `GET /api/v1/metrics/feedback`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackPerModel {
    /// One row per model that has rated answers, most rated first.
    pub models: Vec<ModelFeedback>,
}

/// Rates an answer: thumbs up (`rating: 1`) or down (`-1`), with an optional comment. Giving
/// feedback again replaces it. Returns the message with its `feedback`.
#[utoipa::path(put, path = "/api/v1/chat/sessions/{id}/messages/{message_id}/feedback", tag = "chat",
    params(
        ("id" = String, Path, description = "Session id"),
        ("message_id" = String, Path, description = "An assistant message of the session"),
    ),
    request_body = FeedbackIn,
    responses(
        (status = 200, description = "The message with its feedback", body = ChatMessageOut),
        (status = 400, description = "Malformed id", body = ErrorEnvelope),
        (status = 404, description = "No such session (or another user's), or the message is not in it", body = ErrorEnvelope),
        (status = 422, description = "Rating not 1 or -1, comment over 2 000 code points, or the message is not an answer", body = ErrorEnvelope),
    ))]
pub async fn put_feedback(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
    Path((id, message_id)): Path<(String, String)>,
    ValidJson(feedback): ValidJson<FeedbackIn>,
) -> AppResult<Json<ChatMessageOut>> {
    let id = parse_session_id(&id)?;
    let message_id = parse_message_id(&message_id)?;
    // Validated: 1 or -1.
    let rating = if feedback.rating > 0 { 1 } else { -1 };
    let rated = chat_repo::set_feedback(
        &state.db,
        user_id,
        id,
        message_id,
        Some((rating, feedback.comment())),
    )
    .await?;
    if !rated {
        return Err(why_not_rated(&state, user_id, id, message_id).await);
    }
    chat_repo::message(&state.db, user_id, id, message_id)
        .await?
        .map(Json)
        .ok_or_else(session_not_found)
}

/// Clears the feedback on an answer (nothing to clear is fine: 204 all the same).
#[utoipa::path(delete, path = "/api/v1/chat/sessions/{id}/messages/{message_id}/feedback", tag = "chat",
    params(
        ("id" = String, Path, description = "Session id"),
        ("message_id" = String, Path, description = "An assistant message of the session"),
    ),
    responses(
        (status = 204, description = "The answer has no feedback now"),
        (status = 400, description = "Malformed id", body = ErrorEnvelope),
        (status = 404, description = "No such session (or another user's), or the message is not in it", body = ErrorEnvelope),
        (status = 422, description = "The message is not an answer", body = ErrorEnvelope),
    ))]
pub async fn delete_feedback(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
    Path((id, message_id)): Path<(String, String)>,
) -> AppResult<StatusCode> {
    let id = parse_session_id(&id)?;
    let message_id = parse_message_id(&message_id)?;
    if chat_repo::set_feedback(&state.db, user_id, id, message_id, None).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(why_not_rated(&state, user_id, id, message_id).await)
    }
}

/// The error for a message that could not be rated: no such session (404), no such message
/// in it (404), or not an answer (422).
async fn why_not_rated(state: &AppState, user_id: Uuid, id: Uuid, message_id: Uuid) -> AppError {
    match chat_repo::message_in_session(&state.db, user_id, id, message_id).await {
        Err(e) => e.into(),
        Ok(Some((role, _, _))) if role != Role::Assistant => AppError::validation(FieldError::new(
            "value_error",
            &["path", "message_id"],
            "Only an assistant's answer can be rated",
        )),
        Ok(Some(_)) => AppError::internal("the answer could not be rated"),
        Ok(None) => match chat_repo::session_exists(&state.db, user_id, id).await {
            Ok(true) => AppError::not_found("Message not found in this session"),
            Ok(false) => session_not_found(),
            Err(e) => e.into(),
        },
    }
}

/// Thumbs up and down per model over every user's rated answers (administrators only: the
/// counts cover everyone's chats).
#[utoipa::path(get, path = "/api/v1/metrics/feedback", tag = "metrics",
    responses(
        (status = 200, description = "Counts per model", body = FeedbackPerModel),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not an administrator", body = ErrorEnvelope),
    ))]
pub async fn feedback_per_model(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> AppResult<Json<FeedbackPerModel>> {
    let models = chat_repo::feedback_per_model(&state.db).await?;
    Ok(Json(FeedbackPerModel { models }))
}
