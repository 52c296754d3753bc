//! Folders of chats (issue 25.13): `GET/POST /api/v1/chat/folders`,
//! `PATCH/DELETE /api/v1/chat/folders/{id}`. A chat is moved with the session's `folder_id`
//! (`PATCH /api/v1/chat/sessions/{id}`); a chat created with a `folder_id` takes the folder's
//! system prompt and model unless the request gives its own.
//!
//! Another user's folder is 404 (`"detail":"Folder not found"`), as a session is.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch};
use axum::{Json, Router};
use common::error::ErrorEnvelope;
use common::extract::ValidJson;
use common::schemas::limits::{MODEL_NAME_MAX_CHARS, SYSTEM_PROMPT_MAX_CHARS};
use common::validation::{body, Checker, FieldError, Validate};
use common::{AppError, AppResult};
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::chat::folders::{self, FolderFields, FolderOut};
use crate::state::AppState;

/// Longest folder name, in code points (`varchar(100)` in the schema).
pub const FOLDER_NAME_MAX_CHARS: usize = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/chat/folders",
            get(list_folders).post(create_folder),
        )
        .route(
            "/api/v1/chat/folders/{id}",
            patch(update_folder).delete(delete_folder),
        )
}

#[derive(OpenApi)]
#[openapi(
    paths(list_folders, create_folder, update_folder, delete_folder),
    components(schemas(FolderOut, FolderCreate, FolderUpdate)),
    tags((name = "chat", description = "Chat sessions and messages, stored in Postgres; search and export"))
)]
pub struct ApiDoc;

/// `POST /api/v1/chat/folders` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct FolderCreate {
    /// 1..=100 code points, not blank (trimmed).
    #[schema(min_length = 1, max_length = 100, example = "Work")]
    pub name: String,
    /// At most 20 000 code points: the system prompt of new chats in this folder.
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub system_prompt: Option<String>,
    /// The model of new chats in this folder.
    #[serde(default)]
    pub model: Option<String>,
}

/// `PATCH /api/v1/chat/folders/{id}` body: absent or null fields are left unchanged; `""`
/// clears the system prompt or the model.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct FolderUpdate {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub system_prompt: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
}

fn check_fields(
    name: Option<&str>,
    system_prompt: Option<&str>,
    model: Option<&str>,
) -> Vec<FieldError> {
    let mut c = Checker::new();
    if let Some(name) = name {
        c.str_len(body("name"), name.trim(), 1, FOLDER_NAME_MAX_CHARS);
    }
    if let Some(prompt) = system_prompt {
        c.str_len(body("system_prompt"), prompt, 0, SYSTEM_PROMPT_MAX_CHARS);
    }
    if let Some(model) = model {
        c.str_len(body("model"), model, 0, MODEL_NAME_MAX_CHARS);
    }
    c.finish()
}

impl Validate for FolderCreate {
    fn validate(&self) -> Vec<FieldError> {
        check_fields(
            Some(&self.name),
            self.system_prompt.as_deref(),
            self.model.as_deref(),
        )
    }
}

impl Validate for FolderUpdate {
    fn validate(&self) -> Vec<FieldError> {
        check_fields(
            self.name.as_deref(),
            self.system_prompt.as_deref(),
            self.model.as_deref(),
        )
    }
}

/// 404 for a folder that does not exist or is not the caller's.
pub fn folder_not_found() -> AppError {
    AppError::detailed(StatusCode::NOT_FOUND, "NOT_FOUND", "Folder not found")
}

/// Parses a folder id in a path (any UUID spelling, as session ids).
fn parse_folder_id(raw: &str) -> AppResult<Uuid> {
    crate::chat::parse_session_id(raw).map_err(|_| {
        AppError::detailed(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "Invalid folder id",
        )
    })
}

/// The caller's folder `id`, or 404: what a session is put in must be theirs.
pub async fn owned_folder(state: &AppState, user_id: Uuid, id: Uuid) -> AppResult<FolderOut> {
    folders::get(&state.db, user_id, id)
        .await?
        .ok_or_else(folder_not_found)
}

/// The caller's folders, by name.
#[utoipa::path(get, path = "/api/v1/chat/folders", tag = "chat",
    responses((status = 200, description = "The caller's folders, by name (a plain array)", body = Vec<FolderOut>)))]
pub async fn list_folders(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
) -> AppResult<Json<Vec<FolderOut>>> {
    Ok(Json(folders::list(&state.db, user_id).await?))
}

/// Creates a folder.
#[utoipa::path(post, path = "/api/v1/chat/folders", tag = "chat",
    request_body = FolderCreate,
    responses(
        (status = 201, description = "The new folder (session_count 0)", body = FolderOut),
        (status = 422, description = "Blank or over-long name, over-long system prompt or model", body = ErrorEnvelope),
    ))]
pub async fn create_folder(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
    ValidJson(body): ValidJson<FolderCreate>,
) -> AppResult<(StatusCode, Json<FolderOut>)> {
    let fields = FolderFields {
        name: Some(body.name.trim()),
        system_prompt: body.system_prompt.as_deref(),
        model: body.model.as_deref(),
    };
    let folder = folders::create(&state.db, user_id, fields).await?;
    Ok((StatusCode::CREATED, Json(folder)))
}

/// Renames a folder or changes the defaults of new chats in it (existing chats keep theirs).
#[utoipa::path(patch, path = "/api/v1/chat/folders/{id}", tag = "chat",
    params(("id" = String, Path, description = "Folder id")),
    request_body = FolderUpdate,
    responses(
        (status = 200, description = "The updated folder", body = FolderOut),
        (status = 400, description = "Malformed id", body = ErrorEnvelope),
        (status = 404, description = "No such folder (`detail`: \"Folder not found\")", body = ErrorEnvelope),
        (status = 422, description = "Invalid body (checked before the id)", body = ErrorEnvelope),
    ))]
pub async fn update_folder(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<FolderUpdate>,
) -> AppResult<Json<FolderOut>> {
    let id = parse_folder_id(&id)?;
    let fields = FolderFields {
        name: body.name.as_deref().map(str::trim),
        system_prompt: body.system_prompt.as_deref(),
        model: body.model.as_deref(),
    };
    folders::update(&state.db, user_id, id, fields)
        .await?
        .map(Json)
        .ok_or_else(folder_not_found)
}

/// Deletes a folder. Its chats are kept and go back to no folder.
#[utoipa::path(delete, path = "/api/v1/chat/folders/{id}", tag = "chat",
    params(("id" = String, Path, description = "Folder id")),
    responses(
        (status = 204, description = "Deleted (empty body); its chats are in no folder now"),
        (status = 400, description = "Malformed id", body = ErrorEnvelope),
        (status = 404, description = "No such folder (also on a repeated delete)", body = ErrorEnvelope),
    ))]
pub async fn delete_folder(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let id = parse_folder_id(&id)?;
    if folders::delete(&state.db, user_id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(folder_not_found())
    }
}
