//! Folders of chats (issue 25.13): the SQL. Every query is scoped by the caller's id; another
//! user's folder is "not found". A session's `folder_id` is set through the session routes
//! (`repo::update_session`); the database's (folder_id, user_id) key refuses a folder of
//! another user, and deleting a folder puts its chats back to "no folder".

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use super::repo::RepoResult;

/// A folder as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow, ToSchema)]
pub struct FolderOut {
    pub id: Uuid,
    pub name: String,
    /// The system prompt new chats created in this folder start with (null: none).
    pub system_prompt: Option<String>,
    /// The model new chats created in this folder use (null: the default).
    pub model: Option<String>,
    /// How many of the caller's chats are in it (archived ones included).
    pub session_count: i64,
    #[serde(serialize_with = "common::schemas::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "common::schemas::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

/// What a create or update writes; `None` leaves a value unchanged (unset on create), `""`
/// clears the system prompt or model.
#[derive(Debug, Clone, Copy, Default)]
pub struct FolderFields<'a> {
    pub name: Option<&'a str>,
    pub system_prompt: Option<&'a str>,
    pub model: Option<&'a str>,
}

macro_rules! folder_columns {
    () => {
        "f.id, f.name, f.system_prompt, f.model, f.created_at, f.updated_at, \
         (SELECT count(*) FROM chat_sessions s WHERE s.folder_id = f.id) AS session_count"
    };
}

/// The caller's folders, by name (case-insensitive), then age.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn list(db: &PgPool, user_id: Uuid) -> RepoResult<Vec<FolderOut>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        folder_columns!(),
        " FROM chat_folders f WHERE f.user_id = $1 ORDER BY lower(f.name), f.created_at, f.id"
    ))
    .bind(user_id)
    .fetch_all(db)
    .await?)
}

/// One folder of the caller; `None` when it is not theirs.
#[tracing::instrument(skip_all, fields(folder_id = %id))]
pub async fn get(db: &PgPool, user_id: Uuid, id: Uuid) -> RepoResult<Option<FolderOut>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        folder_columns!(),
        " FROM chat_folders f WHERE f.id = $1 AND f.user_id = $2"
    ))
    .bind(id)
    .bind(user_id)
    .fetch_optional(db)
    .await?)
}

/// Creates a folder (`name` is required by the route).
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn create(db: &PgPool, user_id: Uuid, fields: FolderFields<'_>) -> RepoResult<FolderOut> {
    Ok(sqlx::query_as(concat!(
        "WITH f AS (INSERT INTO chat_folders (id, user_id, name, system_prompt, model) \
         VALUES ($1, $2, $3, NULLIF($4, ''), NULLIF($5, '')) RETURNING *) SELECT ",
        folder_columns!(),
        " FROM f"
    ))
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(fields.name.unwrap_or_default())
    .bind(fields.system_prompt)
    .bind(fields.model)
    .fetch_one(db)
    .await?)
}

/// Renames a folder or changes its defaults; `None` when it is not the caller's.
#[tracing::instrument(skip_all, fields(folder_id = %id))]
pub async fn update(
    db: &PgPool,
    user_id: Uuid,
    id: Uuid,
    fields: FolderFields<'_>,
) -> RepoResult<Option<FolderOut>> {
    Ok(sqlx::query_as(concat!(
        "WITH f AS (UPDATE chat_folders SET \
             name = COALESCE($3, name), \
             system_prompt = CASE WHEN $4::text IS NULL THEN system_prompt ELSE NULLIF($4, '') END, \
             model = CASE WHEN $5::text IS NULL THEN model ELSE NULLIF($5, '') END, \
             updated_at = clock_timestamp() \
         WHERE id = $1 AND user_id = $2 RETURNING *) SELECT ",
        folder_columns!(),
        " FROM f"
    ))
    .bind(id)
    .bind(user_id)
    .bind(fields.name)
    .bind(fields.system_prompt)
    .bind(fields.model)
    .fetch_optional(db)
    .await?)
}

/// Deletes a folder; its chats stay, in no folder. `false` when it is not the caller's.
#[tracing::instrument(skip_all, fields(folder_id = %id))]
pub async fn delete(db: &PgPool, user_id: Uuid, id: Uuid) -> RepoResult<bool> {
    let done = sqlx::query("DELETE FROM chat_folders WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}
