//! The job API (contract §7.2, plus the additive list and cancel):
//! `POST /jobs` → 202, `GET /jobs/{id}`, `GET /jobs?limit=&before=`, `POST /jobs/{id}/cancel`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use common::extract::{ValidJson, ValidQuery};
use common::schemas::{JobList, JobListQuery, JobResponse, JobSubmission};
use common::{AppError, AppResult};
use uuid::Uuid;

use crate::job_repo::{self, CancelOutcome};
use crate::AppState;

#[tracing::instrument(skip_all, fields(prompts = submission.prompts.len()))]
pub async fn submit(
    State(state): State<AppState>,
    ValidJson(submission): ValidJson<JobSubmission>,
) -> AppResult<(StatusCode, Json<JobResponse>)> {
    let id = Uuid::now_v7();
    let job = job_repo::insert(&state.db, id, &submission, state.config.job_max_attempts).await?;
    metrics::counter!("worker_jobs_submitted_total").increment(1);
    Ok((StatusCode::ACCEPTED, Json(job)))
}

#[tracing::instrument(skip(state))]
pub async fn get(
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
) -> AppResult<Json<JobResponse>> {
    let id = parse_id(&raw_id)?;
    job_repo::find(&state.db, id)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(&raw_id))
}

#[tracing::instrument(skip(state))]
pub async fn list(
    State(state): State<AppState>,
    ValidQuery(query): ValidQuery<JobListQuery>,
) -> AppResult<Json<JobList>> {
    let (jobs, next_before) = job_repo::list(&state.db, query.limit(), query.before_id()).await?;
    Ok(Json(JobList { jobs, next_before }))
}

/// Pending: cancelled at once. Running: the worker stops after its in-flight prompts, keeps
/// the results, and ends the job `cancelled` (the answer shows `cancel_requested: true`).
/// Finished: 409.
#[tracing::instrument(skip(state))]
pub async fn cancel(
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
) -> AppResult<Json<JobResponse>> {
    let id = parse_id(&raw_id)?;
    match job_repo::cancel(&state.db, id).await? {
        CancelOutcome::NotFound => Err(not_found(&raw_id)),
        CancelOutcome::AlreadyFinished(status) => Err(AppError::Conflict(format!(
            "Job {id} is already {}; only pending or running jobs can be cancelled",
            status.as_str()
        ))),
        CancelOutcome::Accepted { .. } => job_repo::find(&state.db, id)
            .await?
            .map(Json)
            .ok_or_else(|| not_found(&raw_id)),
    }
}

/// A job id is a UUID in any case; anything else names no job (404, as the reference).
fn parse_id(raw: &str) -> AppResult<Uuid> {
    Uuid::parse_str(raw.trim()).map_err(|_| not_found(raw))
}

pub fn not_found(raw_id: &str) -> AppError {
    let shown: String = raw_id.chars().take(100).collect();
    AppError::NotFound {
        code: "JOB_NOT_FOUND",
        message: format!("Job not found: {shown}"),
    }
}
