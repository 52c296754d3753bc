//! Batch jobs: a validating proxy to the worker service.
//!
//! `POST /api/v1/jobs` (202), `GET /api/v1/jobs/{job_id}`, and the additive
//! `GET /api/v1/jobs` (newest first, paged), `POST /api/v1/jobs/{job_id}/cancel`,
//! `POST /api/v1/jobs/{job_id}/prompts/{index}/retry` and `DELETE /api/v1/jobs/{job_id}`.
//! Requests are validated here first (422 without a downstream call); a job id that is not a
//! UUID is answered 404 `JOB_NOT_FOUND` here, and a valid one is sent in its canonical form,
//! so client input never reaches the worker URL unescaped (contract §17.2). Worker envelopes
//! (404, 409, 422) are relayed with their status; an unreachable worker is 503.
//!
//! Every call names the caller to the worker (`routes::forward`): jobs are owned, and another
//! user's job is 404 `JOB_NOT_FOUND` like a missing one.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use common::error::ErrorEnvelope;
use common::extract::{ValidJson, ValidQuery};
use common::schemas::{
    parse_job_id, JobList, JobListQuery, JobResponse, JobStatus, JobSubmission, JobSummary,
    PromptError,
};
use common::AppResult;
use reqwest::Method;
use utoipa::OpenApi;

use super::forward::{forward, page};
use crate::auth::CurrentUser;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/jobs", post(submit_job).get(list_jobs))
        .route("/api/v1/jobs/{job_id}", get(get_job).delete(delete_job))
        .route("/api/v1/jobs/{job_id}/cancel", post(cancel_job))
        .route(
            "/api/v1/jobs/{job_id}/prompts/{index}/retry",
            post(retry_prompt),
        )
}

#[derive(OpenApi)]
#[openapi(
    paths(submit_job, get_job, list_jobs, cancel_job, retry_prompt, delete_job),
    components(schemas(
        JobSubmission,
        JobResponse,
        JobStatus,
        JobList,
        JobSummary,
        PromptError
    ))
)]
pub struct ApiDoc;

/// Submits a batch of prompts; the job runs in the background.
///
/// Poll `GET /api/v1/jobs/{job_id}` for progress. Each prompt's answer is stored as soon as it
/// is known; a job survives worker crashes and restarts.
#[utoipa::path(post, path = "/api/v1/jobs", tag = "jobs",
    request_body = JobSubmission,
    responses(
        (status = 202, description = "Accepted: the job is `pending`", body = JobResponse),
        (status = 403, description = "The caller may not use the model (`MODEL_NOT_ALLOWED`, with `allowed_models`)", body = ErrorEnvelope),
        (status = 422, description = "Invalid request (1–100 prompts of 1–10 000 characters, max_tokens 1–8192, name at most 200 characters)", body = ErrorEnvelope),
        (status = 503, description = "The worker service is unavailable", body = ErrorEnvelope),
    ))]
pub async fn submit_job(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(mut submission): ValidJson<JobSubmission>,
) -> AppResult<(StatusCode, Json<JobResponse>)> {
    if let Some(model) = crate::access::check(&state, &user, submission.model.as_deref()).await? {
        submission.model = Some(model);
    }
    let job: JobResponse = forward(&state, &user, Method::POST, "/jobs")
        .json(&submission)
        .answer()
        .await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// A job's status, progress counters, results (answered prompts in prompt order), error and
/// timestamps.
#[utoipa::path(get, path = "/api/v1/jobs/{job_id}", tag = "jobs",
    params(("job_id" = String, Path, description = "The job id (a UUID, any case)")),
    responses(
        (status = 200, description = "The job", body = JobResponse),
        (status = 404, description = "No such job (also for ids that are not UUIDs): `JOB_NOT_FOUND`", body = ErrorEnvelope),
        (status = 503, description = "The worker service is unavailable", body = ErrorEnvelope),
    ))]
pub async fn get_job(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(job_id): Path<String>,
) -> AppResult<Json<JobResponse>> {
    let id = parse_job_id(&job_id)?;
    let path = format!("/jobs/{id}");
    Ok(Json(
        forward(&state, &user, Method::GET, &path).answer().await?,
    ))
}

/// Lists the caller's jobs, newest first, as summaries (no prompts or results: the full job
/// is `GET /api/v1/jobs/{job_id}`). Pass `next_before` from a page as `before` to get the
/// next one.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs",
    params(JobListQuery),
    responses(
        (status = 200, description = "A page of jobs, newest first", body = JobList),
        (status = 422, description = "Invalid `limit` or `before`", body = ErrorEnvelope),
        (status = 503, description = "The worker service is unavailable", body = ErrorEnvelope),
    ))]
pub async fn list_jobs(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(query): ValidQuery<JobListQuery>,
) -> AppResult<Json<JobList>> {
    let list = page(&state, &user, "/jobs", query.limit(), query.before_id()).await?;
    Ok(Json(list))
}

/// Cancels a job. A pending job is cancelled at once and never starts; a running job's
/// in-flight model requests are aborted, the answers already stored are kept, and it ends
/// `cancelled` (the answer shows `cancel_requested: true` until then). A finished job cannot
/// be cancelled (409).
#[utoipa::path(post, path = "/api/v1/jobs/{job_id}/cancel", tag = "jobs",
    params(("job_id" = String, Path, description = "The job id (a UUID, any case)")),
    responses(
        (status = 200, description = "The job after the cancel request", body = JobResponse),
        (status = 404, description = "No such job: `JOB_NOT_FOUND`", body = ErrorEnvelope),
        (status = 409, description = "The job has already finished: `CONFLICT`", body = ErrorEnvelope),
        (status = 503, description = "The worker service is unavailable", body = ErrorEnvelope),
    ))]
pub async fn cancel_job(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(job_id): Path<String>,
) -> AppResult<Json<JobResponse>> {
    let id = parse_job_id(&job_id)?;
    let path = format!("/jobs/{id}/cancel");
    Ok(Json(
        forward(&state, &user, Method::POST, &path).answer().await?,
    ))
}

/// Runs one failed prompt of a finished job again (issue 25): the job becomes `pending`, a
/// worker runs that prompt alone and ends the job again with its counts updated (a prompt that
/// now succeeds moves from `failed_prompts` to `completed_prompts`). `index` is the prompt's
/// position, from 0 (`prompt_errors[].index`).
#[utoipa::path(post, path = "/api/v1/jobs/{job_id}/prompts/{index}/retry", tag = "jobs",
    params(
        ("job_id" = String, Path, description = "The job id (a UUID, any case)"),
        ("index" = i64, Path, description = "The prompt's index, from 0"),
    ),
    responses(
        (status = 202, description = "Queued again: the job, `pending`", body = JobResponse),
        (status = 404, description = "No such job (`JOB_NOT_FOUND`) or prompt (`NOT_FOUND`)", body = ErrorEnvelope),
        (status = 409, description = "The job is pending, running or cancelled, or the prompt has its answer: `CONFLICT`", body = ErrorEnvelope),
        (status = 422, description = "The index is not a whole number", body = ErrorEnvelope),
        (status = 503, description = "The worker service is unavailable", body = ErrorEnvelope),
    ))]
pub async fn retry_prompt(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((job_id, index)): Path<(String, String)>,
) -> AppResult<(StatusCode, Json<JobResponse>)> {
    let id = parse_job_id(&job_id)?;
    // Checked here so that only a number reaches the worker URL.
    let index: u32 = index.trim().parse().map_err(|_| {
        common::AppError::validation(common::validation::FieldError::new(
            "int_parsing",
            &["path", "index"],
            "The prompt index should be a whole number (0 for the first prompt)",
        ))
    })?;
    let path = format!("/jobs/{id}/prompts/{index}/retry");
    let job = forward(&state, &user, Method::POST, &path).answer().await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// Deletes a finished job (completed, failed or cancelled) with its answers. A pending or
/// running job is not deleted: 409 (cancel it first, then delete it once it has stopped).
#[utoipa::path(delete, path = "/api/v1/jobs/{job_id}", tag = "jobs",
    params(("job_id" = String, Path, description = "The job id (a UUID, any case)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such job: `JOB_NOT_FOUND`", body = ErrorEnvelope),
        (status = 409, description = "The job is pending or running: `CONFLICT`", body = ErrorEnvelope),
        (status = 503, description = "The worker service is unavailable", body = ErrorEnvelope),
    ))]
pub async fn delete_job(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(job_id): Path<String>,
) -> AppResult<StatusCode> {
    let id = parse_job_id(&job_id)?;
    let path = format!("/jobs/{id}");
    forward(&state, &user, Method::DELETE, &path).done().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::AppError;

    #[test]
    fn ids_are_canonicalised_before_forwarding() {
        let id = parse_job_id("6F9619FF-8B86-D011-B42D-00C04FC964FF").map(|u| u.to_string());
        assert_eq!(
            id.ok().as_deref(),
            Some("6f9619ff-8b86-d011-b42d-00c04fc964ff")
        );
    }

    #[test]
    fn non_uuid_ids_are_job_not_found() {
        for raw in ["nonexistent-id", "../health", "x?y=1", ""] {
            let err = parse_job_id(raw).err();
            assert_eq!(
                err.as_ref().map(AppError::code),
                Some("JOB_NOT_FOUND"),
                "{raw}"
            );
            assert_eq!(err.map(|e| e.status()), Some(StatusCode::NOT_FOUND));
        }
    }
}
