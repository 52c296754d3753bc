//! A learner's workshop progress, stored per user (`workshop_progress`): which tasks are done
//! — a lab check passed (`make lab-check` reports it with the learner's token) or the learner
//! marked it — and the page last opened, for "continue where you left off". Every query is
//! scoped by the caller's id, like the rest of the user data.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use common::extract::ValidJson;
use common::schemas::timestamp;
use common::validation::{body, FieldError, Validate};
use common::AppResult;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use super::curriculum::{read_curriculum, PAGES};
use super::workshop_root;
use crate::auth::CurrentUser;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Progress {
    /// Every task the learner has opened or finished, most recently touched first.
    pub tasks: Vec<TaskProgress>,
    /// The page to continue from: the most recently opened one.
    pub last: Option<LastVisited>,
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct TaskProgress {
    pub task_id: String,
    pub done: bool,
    /// `check` (the lab check passed) or `manual` (the learner marked it); null when not done.
    pub completed_via: Option<String>,
    #[serde(serialize_with = "optional_timestamp")]
    #[schema(value_type = Option<String>)]
    pub completed_at: Option<DateTime<Utc>>,
    /// `overview`, `lab`, `slides` or `production_reality`.
    pub last_page: Option<String>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String)]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LastVisited {
    pub task_id: String,
    pub page: String,
}

/// `done`: true marks the task finished (by `via`, default `manual`), false unmarks it; absent
/// leaves it. `page`: the page the learner is on.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProgressUpdate {
    pub task_id: String,
    #[serde(default)]
    pub done: Option<bool>,
    #[serde(default)]
    pub via: Option<String>,
    #[serde(default)]
    pub page: Option<String>,
}

impl Validate for ProgressUpdate {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(via) = &self.via {
            if via != "check" && via != "manual" {
                errors.push(
                    FieldError::at("enum", body("via"), "Input should be 'check' or 'manual'")
                        .with_input(json!(via)),
                );
            }
        }
        if let Some(page) = &self.page {
            if !PAGES.iter().any(|(kind, _)| kind == page) {
                errors.push(
                    FieldError::at(
                        "enum",
                        body("page"),
                        "Input should be 'overview', 'lab', 'slides' or 'production_reality'",
                    )
                    .with_input(json!(page)),
                );
            }
        }
        if self.done.is_none() && self.page.is_none() {
            errors.push(FieldError::at(
                "missing",
                body("done"),
                "Send done, page, or both",
            ));
        }
        errors
    }
}

fn optional_timestamp<S: serde::Serializer>(
    t: &Option<DateTime<Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => timestamp::serialize(t, s),
        None => s.serialize_none(),
    }
}

/// The caller's progress through the workshop.
#[utoipa::path(get, path = "/api/v1/workshop/progress", tag = "docs",
    responses(
        (status = 200, description = "The caller's progress", body = Progress),
        (status = 401, description = "No credentials", body = common::error::ErrorEnvelope),
    ))]
pub async fn get_progress(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
) -> AppResult<Json<Progress>> {
    let tasks = list(&state.db, user_id).await?;
    let last = tasks.iter().find_map(|t| {
        t.last_page.as_ref().map(|page| LastVisited {
            task_id: t.task_id.clone(),
            page: page.clone(),
        })
    });
    Ok(Json(Progress { tasks, last }))
}

/// Records the page a learner is on and/or marks a task done or not done.
#[utoipa::path(put, path = "/api/v1/workshop/progress", tag = "docs",
    request_body = ProgressUpdate,
    responses(
        (status = 200, description = "The task's progress after the update", body = TaskProgress),
        (status = 401, description = "No credentials", body = common::error::ErrorEnvelope),
        (status = 422, description = "Unknown task, page or via, or nothing to record", body = common::error::ErrorEnvelope),
    ))]
pub async fn put_progress(
    State(state): State<AppState>,
    CurrentUser { id: user_id, .. }: CurrentUser,
    ValidJson(update): ValidJson<ProgressUpdate>,
) -> AppResult<Json<TaskProgress>> {
    let root = workshop_root(&state.config);
    let wanted = update.task_id.clone();
    let known = tokio::task::spawn_blocking(move || {
        root.map(|r| read_curriculum(&r))
            .unwrap_or_default()
            .iter()
            .flat_map(|p| &p.tasks)
            .any(|t| t.id == wanted)
    })
    .await
    .unwrap_or(false);
    if !known {
        return Err(common::AppError::validation(
            FieldError::at("enum", body("task_id"), "Unknown workshop task")
                .with_input(json!(update.task_id)),
        ));
    }
    let via = update.via.as_deref().unwrap_or("manual");
    let row = upsert(&state.db, user_id, &update, via).await?;
    Ok(Json(row))
}

async fn list(db: &PgPool, user_id: Uuid) -> sqlx::Result<Vec<TaskProgress>> {
    sqlx::query_as(
        "SELECT task_id, completed_at IS NOT NULL AS done, completed_via, completed_at, \
                last_page, updated_at \
           FROM workshop_progress WHERE user_id = $1 ORDER BY updated_at DESC, task_id",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// One statement: `done` true sets the completion (keeping the first one), false clears it,
/// null leaves it; a page replaces `last_page`. A check's pass upgrades a manual mark.
async fn upsert(
    db: &PgPool,
    user_id: Uuid,
    update: &ProgressUpdate,
    via: &str,
) -> sqlx::Result<TaskProgress> {
    sqlx::query_as(
        "INSERT INTO workshop_progress AS p \
                (user_id, task_id, completed_at, completed_via, last_page, updated_at) \
         VALUES ($1, $2, CASE WHEN $3 THEN now() END, CASE WHEN $3 THEN $4 END, $5, now()) \
         ON CONFLICT (user_id, task_id) DO UPDATE SET \
           completed_at = CASE WHEN $3 IS NULL THEN p.completed_at \
                               WHEN $3 THEN COALESCE(p.completed_at, now()) END, \
           completed_via = CASE WHEN $3 IS NULL THEN p.completed_via \
                                WHEN $3 AND p.completed_via = 'check' THEN 'check' \
                                WHEN $3 THEN $4 END, \
           last_page = COALESCE($5, p.last_page), \
           updated_at = now() \
         RETURNING task_id, completed_at IS NOT NULL AS done, completed_via, completed_at, \
                   last_page, updated_at",
    )
    .bind(user_id)
    .bind(&update.task_id)
    .bind(update.done)
    .bind(via)
    .bind(&update.page)
    .fetch_one(db)
    .await
}
