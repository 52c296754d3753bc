//! The job API (contract §7.2, plus the additive list, cancel and stats):
//! `POST /jobs` → 202, `GET /jobs/{id}`, `GET /jobs?limit=&before=` (summaries),
//! `POST /jobs/{id}/cancel`, `GET /jobs/stats`, `POST /jobs/{id}/prompts/{index}/retry` (one
//! failed prompt again) and `DELETE /jobs/{id}` (a finished job).
//!
//! Every job belongs to a user: the caller named by the `X-Sable-User-Id` header (a UUID, set
//! by the gateway from its authenticated user), or the seeded default user when the header is
//! absent. Reads, lists and cancels see only the caller's jobs; another user's job is 404
//! `JOB_NOT_FOUND`, exactly like a missing one. `GET /jobs/stats` without the header counts
//! every job (the dashboard's system view).

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use common::extract::{ValidJson, ValidQuery};
use common::schemas::{
    job_not_found as not_found, parse_job_id as parse_id, JobList, JobListQuery, JobResponse,
    JobStats, JobStatus, JobSubmission, DEFAULT_JOB_OWNER, USER_ID_HEADER,
};
use common::{AppError, AppResult};
use uuid::Uuid;

use crate::job_repo::{self, CancelOutcome, DeleteOutcome, RetryOutcome};
use crate::AppState;

/// The `X-Sable-User-Id` header: `None` when absent; a value that is not a UUID is 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallerHeader(pub Option<Uuid>);

impl CallerHeader {
    /// The caller, or the default user when the header is absent.
    pub fn owner(self) -> Uuid {
        self.0.unwrap_or(DEFAULT_JOB_OWNER)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CallerHeader {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(USER_ID_HEADER) else {
            return Ok(Self(None));
        };
        value
            .to_str()
            .ok()
            .and_then(|v| Uuid::parse_str(v.trim()).ok())
            .map(|id| Self(Some(id)))
            .ok_or_else(|| AppError::BadRequest {
                code: "BAD_REQUEST",
                message: "X-Sable-User-Id must be a UUID".to_owned(),
            })
    }
}

#[tracing::instrument(skip_all, fields(prompts = submission.prompts.len()))]
pub async fn submit(
    State(state): State<AppState>,
    caller: CallerHeader,
    ValidJson(submission): ValidJson<JobSubmission>,
) -> AppResult<(StatusCode, Json<JobResponse>)> {
    let id = Uuid::now_v7();
    let inserted = job_repo::insert(
        &state.db,
        caller.owner(),
        id,
        &submission,
        state.config.job_max_attempts,
    )
    .await;
    let job = match inserted {
        Ok(job) => job,
        Err(e)
            if e.as_database_error()
                .is_some_and(|d| d.kind() == sqlx::error::ErrorKind::ForeignKeyViolation) =>
        {
            return Err(AppError::BadRequest {
                code: "UNKNOWN_USER",
                message: "X-Sable-User-Id names no user".to_owned(),
            })
        }
        Err(e) => return Err(e.into()),
    };
    metrics::counter!("worker_jobs_submitted_total").increment(1);
    Ok((StatusCode::ACCEPTED, Json(job)))
}

#[tracing::instrument(skip(state))]
pub async fn get(
    State(state): State<AppState>,
    caller: CallerHeader,
    Path(raw_id): Path<String>,
) -> AppResult<Json<JobResponse>> {
    let id = parse_id(&raw_id)?;
    job_repo::find(&state.db, caller.owner(), id)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(&raw_id))
}

/// The caller's jobs as summaries (no prompts, no results), newest first.
#[tracing::instrument(skip(state))]
pub async fn list(
    State(state): State<AppState>,
    caller: CallerHeader,
    ValidQuery(query): ValidQuery<JobListQuery>,
) -> AppResult<Json<JobList>> {
    let (jobs, next_before) =
        job_repo::list(&state.db, caller.owner(), query.limit(), query.before_id()).await?;
    Ok(Json(JobList { jobs, next_before }))
}

/// Counts by status and the number finished in the last 60 s: the caller's jobs when
/// `X-Sable-User-Id` is sent, every job when it is not.
///
/// ```json
/// {"by_status":{"pending":0,"running":1,"completed":12,"failed":0,"cancelled":2},
///  "active":1,"finished_last_60s":3}
/// ```
#[tracing::instrument(skip(state))]
pub async fn stats(
    State(state): State<AppState>,
    caller: CallerHeader,
) -> AppResult<Json<JobStats>> {
    Ok(Json(job_repo::stats(&state.db, caller.0).await?))
}

/// Pending: cancelled at once. Running: the worker aborts the job's in-flight model requests,
/// keeps the answers already stored, and ends the job `cancelled` (until then the answer
/// shows `cancel_requested: true`). Finished: 409.
#[tracing::instrument(skip(state))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: CallerHeader,
    Path(raw_id): Path<String>,
) -> AppResult<Json<JobResponse>> {
    let id = parse_id(&raw_id)?;
    let owner = caller.owner();
    match job_repo::cancel(&state.db, owner, id).await? {
        CancelOutcome::NotFound => Err(not_found(&raw_id)),
        CancelOutcome::AlreadyFinished(status) => Err(AppError::Conflict(format!(
            "Job {id} is already {}; only pending or running jobs can be cancelled",
            status.as_str()
        ))),
        CancelOutcome::Accepted { .. } => job_repo::find(&state.db, owner, id)
            .await?
            .map(Json)
            .ok_or_else(|| not_found(&raw_id)),
    }
}

/// The 409 for a job whose status does not allow `what`.
fn wrong_status(id: Uuid, status: JobStatus, what: &str) -> AppError {
    AppError::Conflict(format!("Job {id} is {}; {what}", status.as_str()))
}

/// Re-runs one prompt of a finished job (`completed` or `failed`) that has no answer (its
/// error is dropped): the job goes back to `pending`, a worker runs that prompt and ends the
/// job again, its counts updated. 202 with the job. 404 for an unknown job or prompt index,
/// 409 for a job that is pending, running or cancelled, or a prompt that has its answer.
#[tracing::instrument(skip(state))]
pub async fn retry_prompt(
    State(state): State<AppState>,
    caller: CallerHeader,
    Path((raw_id, raw_index)): Path<(String, String)>,
) -> AppResult<(StatusCode, Json<JobResponse>)> {
    let id = parse_id(&raw_id)?;
    let index: i64 = raw_index.trim().parse().map_err(|_| {
        AppError::validation(common::validation::FieldError::new(
            "int_parsing",
            &["path", "index"],
            "The prompt index should be a whole number (0 for the first prompt)",
        ))
    })?;
    let owner = caller.owner();
    let job = match job_repo::retry_prompt(&state.db, owner, id, index).await? {
        RetryOutcome::Requeued(job) => job,
        RetryOutcome::NotFound => return Err(not_found(&raw_id)),
        RetryOutcome::WrongStatus(status) => {
            return Err(wrong_status(
                id,
                status,
                "only a prompt of a completed or failed job can be retried",
            ))
        }
        RetryOutcome::NoSuchPrompt => {
            return Err(AppError::not_found(format!(
                "Job {id} has no prompt #{index} (prompts are numbered from 0)"
            )))
        }
        RetryOutcome::Answered => {
            return Err(AppError::Conflict(format!(
                "Prompt #{index} of job {id} has its answer; only a failed prompt is retried"
            )))
        }
    };
    metrics::counter!("worker_prompt_retries_total").increment(1);
    Ok((StatusCode::ACCEPTED, Json(*job)))
}

/// Deletes a finished job (completed, failed or cancelled) and its answers: 204. A pending or
/// running job is 409 (cancel it first, then delete it).
#[tracing::instrument(skip(state))]
pub async fn delete(
    State(state): State<AppState>,
    caller: CallerHeader,
    Path(raw_id): Path<String>,
) -> AppResult<StatusCode> {
    let id = parse_id(&raw_id)?;
    match job_repo::delete_finished(&state.db, caller.owner(), id).await? {
        DeleteOutcome::Deleted => Ok(StatusCode::NO_CONTENT),
        DeleteOutcome::WrongStatus(status) => Err(wrong_status(
            id,
            status,
            "only a finished job can be deleted (cancel it first)",
        )),
        DeleteOutcome::NotFound => Err(not_found(&raw_id)),
    }
}
