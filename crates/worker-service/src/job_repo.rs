//! Every SQL statement on `batch_jobs` and `batch_job_results`, in one place.
//!
//! Queue invariants kept here:
//! - a claim is one short statement that commits at once (no transaction spans a model call);
//! - every write by a worker — results, status and the heartbeat — is fenced by
//!   `(locked_by, attempts)`: the claim that produced it must still hold the job, so a worker
//!   whose lease was taken over (by another worker, or by itself in a later attempt) writes
//!   nothing;
//! - a slot is written at most once (primary key `(job_id, idx)`), in the same statement that
//!   moves the counters, so counters always equal the slots.

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::schemas::{JobResponse, JobStats, JobStatus, JobSubmission, JobSummary, PromptError};
use sqlx::types::Json;
use sqlx::PgPool;
use uuid::Uuid;

/// The channel idle workers LISTEN on; an insert trigger notifies it.
pub const QUEUE_CHANNEL: &str = "batch_jobs";
/// The channel a cancel request is announced on (payload: the job id).
pub const CANCEL_CHANNEL: &str = "batch_jobs_cancel";

const JOB_COLUMNS: &str = "
    j.id, j.name, j.status, j.created_at, j.completed_at, j.total_prompts, j.completed_prompts,
    j.failed_prompts, j.error, j.prompts, j.model, j.max_tokens, j.attempts, j.max_attempts,
    j.cancel_requested, j.last_error, j.started_at, j.updated_at,
    r.texts, r.text_idx, r.errors, r.error_idx, r.error_codes";

/// The columns of a [`JobSummary`]: no prompts, no results.
const SUMMARY_COLUMNS: &str = "
    j.id, j.name, j.status, j.created_at, j.completed_at, j.started_at, j.updated_at,
    j.total_prompts, j.completed_prompts, j.failed_prompts, j.model, j.error, j.last_error,
    j.attempts, j.max_attempts, j.cancel_requested,
    CASE WHEN char_length(j.prompts->>0) > 100 THEN left(j.prompts->>0, 100) || '…'
         ELSE COALESCE(j.prompts->>0, '') END AS preview";

const RESULTS_JOIN: &str = "
    LEFT JOIN LATERAL (
        SELECT array_agg(text ORDER BY idx) FILTER (WHERE text IS NOT NULL) AS texts,
               array_agg(idx ORDER BY idx) FILTER (WHERE text IS NOT NULL) AS text_idx,
               array_agg(error ORDER BY idx) FILTER (WHERE error IS NOT NULL) AS errors,
               array_agg(idx ORDER BY idx) FILTER (WHERE error IS NOT NULL) AS error_idx,
               array_agg(error_code ORDER BY idx) FILTER (WHERE error IS NOT NULL) AS error_codes
          FROM batch_job_results WHERE job_id = j.id
    ) r ON true";

#[derive(Debug, sqlx::FromRow)]
struct JobRow {
    id: Uuid,
    name: Option<String>,
    status: String,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    total_prompts: i32,
    completed_prompts: i32,
    failed_prompts: i32,
    error: Option<String>,
    prompts: Json<Vec<String>>,
    model: Option<String>,
    max_tokens: i32,
    attempts: i32,
    max_attempts: i32,
    cancel_requested: bool,
    last_error: Option<String>,
    started_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    texts: Option<Vec<String>>,
    text_idx: Option<Vec<i32>>,
    errors: Option<Vec<String>>,
    error_idx: Option<Vec<i32>>,
    error_codes: Option<Vec<Option<String>>>,
}

impl JobRow {
    fn into_response(self) -> JobResponse {
        let status = self.status.parse().unwrap_or(JobStatus::Failed);
        let mut codes = self.error_codes.unwrap_or_default().into_iter();
        let prompt_errors = self
            .error_idx
            .unwrap_or_default()
            .into_iter()
            .zip(self.errors.unwrap_or_default())
            .map(|(index, message)| PromptError {
                index,
                message,
                code: codes.next().flatten(),
            })
            .collect();
        JobResponse {
            job_id: self.id,
            name: self.name,
            status,
            created_at: self.created_at,
            completed_at: self.completed_at,
            total_prompts: self.total_prompts,
            completed_prompts: self.completed_prompts,
            results: self.texts.unwrap_or_default(),
            error: self.error,
            prompts: self.prompts.0,
            model: self.model,
            max_tokens: Some(i64::from(self.max_tokens)),
            failed_prompts: self.failed_prompts,
            result_indexes: self.text_idx.unwrap_or_default(),
            prompt_errors,
            attempts: self.attempts,
            max_attempts: self.max_attempts,
            cancel_requested: self.cancel_requested,
            last_error: self.last_error,
            started_at: self.started_at,
            updated_at: Some(self.updated_at),
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
struct SummaryRow {
    id: Uuid,
    name: Option<String>,
    status: String,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    total_prompts: i32,
    completed_prompts: i32,
    failed_prompts: i32,
    model: Option<String>,
    error: Option<String>,
    last_error: Option<String>,
    attempts: i32,
    max_attempts: i32,
    cancel_requested: bool,
    preview: String,
}

impl SummaryRow {
    fn into_summary(self) -> JobSummary {
        JobSummary {
            job_id: self.id,
            name: self.name,
            preview: self.preview,
            status: self.status.parse().unwrap_or(JobStatus::Failed),
            created_at: self.created_at,
            completed_at: self.completed_at,
            started_at: self.started_at,
            updated_at: Some(self.updated_at),
            total_prompts: self.total_prompts,
            completed_prompts: self.completed_prompts,
            failed_prompts: self.failed_prompts,
            model: self.model,
            error: self.error,
            last_error: self.last_error,
            attempts: self.attempts,
            max_attempts: self.max_attempts,
            cancel_requested: self.cancel_requested,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// API side: every statement is scoped by the owner (`user_id`), so another user's job is not
// found, exactly like a missing one.
// ---------------------------------------------------------------------------------------------

/// Inserts a pending job owned by `owner` (the insert trigger wakes idle workers) and
/// returns it.
#[tracing::instrument(skip(pool, submission), fields(job_id = %id, prompts = submission.prompts.len()))]
pub async fn insert(
    pool: &PgPool,
    owner: Uuid,
    id: Uuid,
    submission: &JobSubmission,
    max_attempts: i32,
) -> Result<JobResponse, sqlx::Error> {
    let model = submission
        .model
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty());
    let total = i32::try_from(submission.prompts.len()).unwrap_or(i32::MAX);
    let max_tokens = i32::try_from(submission.max_tokens).unwrap_or(i32::MAX);
    let row: JobRow = sqlx::query_as(&format!(
        "WITH j AS (
             INSERT INTO batch_jobs (id, status, model, max_tokens, prompts, total_prompts, max_attempts, user_id, name)
             VALUES ($1, 'pending', $2, $3, $4, $5, $6, $7, $8)
             RETURNING *
         ),
         r AS (SELECT NULL::text[] AS texts, NULL::int4[] AS text_idx, NULL::text[] AS errors,
                      NULL::int4[] AS error_idx, NULL::text[] AS error_codes)
         SELECT {JOB_COLUMNS} FROM j, r"
    ))
    .bind(id)
    .bind(model)
    .bind(max_tokens)
    .bind(Json(&submission.prompts))
    .bind(total)
    .bind(max_attempts)
    .bind(owner)
    .bind(submission.clean_name())
    .fetch_one(pool)
    .await?;
    Ok(row.into_response())
}

#[tracing::instrument(skip(db))]
pub async fn find(
    db: impl sqlx::PgExecutor<'_>,
    owner: Uuid,
    id: Uuid,
) -> Result<Option<JobResponse>, sqlx::Error> {
    let row: Option<JobRow> = sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM batch_jobs j {RESULTS_JOIN} WHERE j.id = $1 AND j.user_id = $2"
    ))
    .bind(id)
    .bind(owner)
    .fetch_optional(db)
    .await?;
    Ok(row.map(JobRow::into_response))
}

/// The owner's jobs as summaries, newest first; `before` is the id of the last job of the
/// previous page. Returns the page and the cursor of the next one (`None` on the last page).
#[tracing::instrument(skip(pool))]
pub async fn list(
    pool: &PgPool,
    owner: Uuid,
    limit: i64,
    before: Option<Uuid>,
) -> Result<(Vec<JobSummary>, Option<Uuid>), sqlx::Error> {
    let rows: Vec<SummaryRow> = sqlx::query_as(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM batch_jobs j
          WHERE j.user_id = $3
            AND ($1::uuid IS NULL
                 OR (j.created_at, j.id) < (SELECT created_at, id FROM batch_jobs
                                             WHERE id = $1 AND user_id = $3))
          ORDER BY j.created_at DESC, j.id DESC
          LIMIT $2"
    ))
    .bind(before)
    .bind(limit + 1)
    .bind(owner)
    .fetch_all(pool)
    .await?;
    let mut jobs: Vec<JobSummary> = rows.into_iter().map(SummaryRow::into_summary).collect();
    let next = if jobs.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
        jobs.pop();
        jobs.last().map(|j| j.job_id)
    } else {
        None
    };
    Ok((jobs, next))
}

/// What a cancel request did.
#[derive(Debug)]
pub enum CancelOutcome {
    NotFound,
    /// The job had already finished (its status).
    AlreadyFinished(JobStatus),
    /// Pending: cancelled at once. Running: cancel requested (the worker is told).
    Accepted {
        was_running: bool,
    },
}

/// Cancels the owner's job. A running job's worker learns of it by NOTIFY (and by its next
/// heartbeat or write, should the notification be missed).
#[tracing::instrument(skip(pool))]
pub async fn cancel(pool: &PgPool, owner: Uuid, id: Uuid) -> Result<CancelOutcome, sqlx::Error> {
    let was: Option<(String,)> = sqlx::query_as(
        "UPDATE batch_jobs j
            SET status = CASE WHEN j.status = 'pending' THEN 'cancelled' ELSE j.status END,
                completed_at = CASE WHEN j.status = 'pending' THEN now() ELSE j.completed_at END,
                cancel_requested = true,
                updated_at = now()
           FROM (SELECT id, status FROM batch_jobs WHERE id = $1 AND user_id = $2 FOR UPDATE) old
          WHERE j.id = old.id AND old.status IN ('pending', 'running')
          RETURNING old.status",
    )
    .bind(id)
    .bind(owner)
    .fetch_optional(pool)
    .await?;
    match was {
        Some((status,)) => {
            let was_running = status == "running";
            if was_running {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CANCEL_CHANNEL)
                    .bind(id.to_string())
                    .execute(pool)
                    .await?;
            }
            Ok(CancelOutcome::Accepted { was_running })
        }
        None => {
            let status: Option<(String,)> =
                sqlx::query_as("SELECT status FROM batch_jobs WHERE id = $1 AND user_id = $2")
                    .bind(id)
                    .bind(owner)
                    .fetch_optional(pool)
                    .await?;
            Ok(match status {
                None => CancelOutcome::NotFound,
                Some((s,)) => {
                    CancelOutcome::AlreadyFinished(s.parse().unwrap_or(JobStatus::Failed))
                }
            })
        }
    }
}

/// What a request to retry one prompt of a finished job found.
#[derive(Debug, PartialEq)]
pub enum RetryOutcome {
    /// No such job of the owner's.
    NotFound,
    /// The job is not `completed` or `failed` (pending, running or cancelled): its status.
    WrongStatus(JobStatus),
    /// The prompt index is outside the job.
    NoSuchPrompt,
    /// The prompt has its answer already.
    Answered,
    /// Queued again: the job as it was when the retry committed (`pending`), before any
    /// worker could claim it.
    Requeued(Box<JobResponse>),
}

/// What a request to delete a finished job found.
#[derive(Debug, PartialEq)]
pub enum DeleteOutcome {
    /// No such job of the owner's.
    NotFound,
    /// The job is pending or running: its status.
    WrongStatus(JobStatus),
    Deleted,
}

/// The owner's prompts job, locked for the rest of the transaction: its status and size.
async fn lock_prompts_job(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    owner: Uuid,
    id: Uuid,
) -> Result<Option<(JobStatus, i32)>, sqlx::Error> {
    let row: Option<(String, i32)> = sqlx::query_as(
        "SELECT status, total_prompts FROM batch_jobs
          WHERE id = $1 AND user_id = $2 AND kind = 'prompts' FOR UPDATE",
    )
    .bind(id)
    .bind(owner)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|(status, total)| (status.parse().unwrap_or(JobStatus::Failed), total)))
}

/// Puts one prompt of a finished (`completed` or `failed`) job back in the queue: its failed
/// slot is removed (and `failed_prompts` lowered) and the job is `pending` again with one more
/// attempt allowed. A worker claims it like any job and runs the prompts that have no slot,
/// which is this one alone (unless the job had ended before answering others: those run too),
/// then ends it `completed` or `failed` as usual. A cancelled job stays cancelled.
#[tracing::instrument(skip(pool))]
pub async fn retry_prompt(
    pool: &PgPool,
    owner: Uuid,
    id: Uuid,
    index: i64,
) -> Result<RetryOutcome, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some((status, total)) = lock_prompts_job(&mut tx, owner, id).await? else {
        return Ok(RetryOutcome::NotFound);
    };
    if !matches!(status, JobStatus::Completed | JobStatus::Failed) {
        return Ok(RetryOutcome::WrongStatus(status));
    }
    let Some(idx) = i32::try_from(index).ok().filter(|i| (0..total).contains(i)) else {
        return Ok(RetryOutcome::NoSuchPrompt);
    };
    let answered: Option<bool> = sqlx::query_scalar(
        "SELECT text IS NOT NULL FROM batch_job_results WHERE job_id = $1 AND idx = $2",
    )
    .bind(id)
    .bind(idx)
    .fetch_optional(&mut *tx)
    .await?;
    if answered == Some(true) {
        return Ok(RetryOutcome::Answered);
    }
    sqlx::query(
        "WITH gone AS (
             DELETE FROM batch_job_results WHERE job_id = $1 AND idx = $2 AND text IS NULL
             RETURNING 1
         )
         UPDATE batch_jobs
            SET status = 'pending',
                failed_prompts = failed_prompts - (SELECT count(*) FROM gone)::int,
                error = NULL,
                completed_at = NULL,
                cancel_requested = false,
                next_attempt_at = now(),
                max_attempts = GREATEST(max_attempts, attempts + 1),
                locked_by = NULL,
                locked_until = NULL,
                updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(idx)
    .execute(&mut *tx)
    .await?;
    // Read inside the transaction: once it commits, a worker may claim the job at once, and
    // the caller is answered with the state its retry created.
    let requeued = find(&mut *tx, owner, id).await?;
    tx.commit().await?;
    notify_queue(pool).await?;
    Ok(requeued.map_or(RetryOutcome::NotFound, |job| {
        RetryOutcome::Requeued(Box::new(job))
    }))
}

/// Deletes the owner's finished prompts job and its answers. A pending or running job is not
/// deleted (cancel it first): a worker may hold it.
#[tracing::instrument(skip(pool))]
pub async fn delete_finished(
    pool: &PgPool,
    owner: Uuid,
    id: Uuid,
) -> Result<DeleteOutcome, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some((status, _)) = lock_prompts_job(&mut tx, owner, id).await? else {
        return Ok(DeleteOutcome::NotFound);
    };
    if matches!(status, JobStatus::Pending | JobStatus::Running) {
        return Ok(DeleteOutcome::WrongStatus(status));
    }
    sqlx::query("DELETE FROM batch_jobs WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(DeleteOutcome::Deleted)
}

/// Job counts by status and the number finished in the last 60 s: the owner's jobs, or every
/// job when `owner` is `None` (the dashboard's system view).
#[tracing::instrument(skip(pool))]
pub async fn stats(pool: &PgPool, owner: Option<Uuid>) -> Result<JobStats, sqlx::Error> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT status, count(*),
                count(*) FILTER (WHERE completed_at > now() - interval '60 seconds')
           FROM batch_jobs
          WHERE $1::uuid IS NULL OR user_id = $1
          GROUP BY status",
    )
    .bind(owner)
    .fetch_all(pool)
    .await?;
    let mut stats = JobStats::default();
    for (status, count, recent) in rows {
        let slot = match status.parse() {
            Ok(JobStatus::Pending) => &mut stats.by_status.pending,
            Ok(JobStatus::Running) => &mut stats.by_status.running,
            Ok(JobStatus::Completed) => &mut stats.by_status.completed,
            Ok(JobStatus::Failed) => &mut stats.by_status.failed,
            Ok(JobStatus::Cancelled) => &mut stats.by_status.cancelled,
            Err(_) => continue,
        };
        *slot += count;
        stats.finished_last_60s += recent;
    }
    stats.active = stats.by_status.pending + stats.by_status.running;
    Ok(stats)
}

/// Jobs waiting to be claimed (for the queue-depth gauge).
/// Jobs waiting or running, by status (`pending`, `running`): the queue-depth gauges. Finished
/// jobs are counted by `worker_jobs_finished_total` instead of scanning the whole table.
pub async fn active_counts(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT status, count(*) FROM batch_jobs
          WHERE status IN ('pending', 'running') GROUP BY status",
    )
    .fetch_all(pool)
    .await
}

pub async fn pending_count(pool: &PgPool) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM batch_jobs WHERE status = 'pending'")
        .fetch_one(pool)
        .await?;
    Ok(n)
}

// ---------------------------------------------------------------------------------------------
// Queue side
// ---------------------------------------------------------------------------------------------

/// A job a worker has just claimed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedJob {
    pub id: Uuid,
    pub prompts: Json<Vec<String>>,
    pub model: Option<String>,
    pub max_tokens: i32,
    /// This claim's attempt number: the fencing token of every write.
    pub attempts: i32,
    pub max_attempts: i32,
    pub total_prompts: i32,
    /// Slots already written by earlier attempts.
    pub filled: i32,
    /// Seconds from the job's insert to this claim (the queue wait, on its first claim).
    pub queued_secs: f64,
    /// Seconds the job had been running before this claim (0 on its first claim).
    pub running_secs: f64,
    /// `prompts`, `ingest` (a file's ingestion, see `knowledge::ingest`) or `reembed` (new
    /// vectors after a change of embeddings model, `knowledge::reembed`).
    pub kind: String,
    /// The file an `ingest` or `reembed` job works on.
    pub file_id: Option<Uuid>,
}

/// Claims up to `limit` jobs: pending ones that are due, and running ones whose lease has
/// expired (their worker died). One statement, committed at once.
#[tracing::instrument(skip(pool))]
pub async fn claim(
    pool: &PgPool,
    worker: &str,
    lease: Duration,
    limit: i64,
) -> Result<Vec<ClaimedJob>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE batch_jobs j
            SET status = 'running',
                attempts = j.attempts + 1,
                locked_by = $1,
                locked_until = now() + make_interval(secs => $2),
                started_at = COALESCE(j.started_at, now()),
                updated_at = now()
          WHERE j.id IN (
                SELECT id FROM batch_jobs
                 WHERE status IN ('pending', 'running')
                   AND ((status = 'pending' AND next_attempt_at <= now())
                        OR (status = 'running' AND COALESCE(locked_until, '-infinity') < now()))
                   AND NOT cancel_requested
                   AND attempts < max_attempts
                 ORDER BY created_at
                 LIMIT $3
                 FOR UPDATE SKIP LOCKED)
          RETURNING j.id, j.prompts, j.model, j.max_tokens, j.attempts, j.max_attempts,
                    j.total_prompts, j.completed_prompts + j.failed_prompts AS filled,
                    EXTRACT(EPOCH FROM now() - j.created_at)::float8 AS queued_secs,
                    EXTRACT(EPOCH FROM now() - j.started_at)::float8 AS running_secs,
                    j.kind, j.file_id",
    )
    .bind(worker)
    .bind(lease.as_secs_f64())
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// A slot already written: its index and, for a failed prompt, the error.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FilledSlot {
    pub job_id: Uuid,
    pub idx: i32,
    pub error: Option<String>,
}

/// The slots earlier attempts wrote, for jobs being resumed.
pub async fn filled_slots(pool: &PgPool, jobs: &[Uuid]) -> Result<Vec<FilledSlot>, sqlx::Error> {
    sqlx::query_as("SELECT job_id, idx, error FROM batch_job_results WHERE job_id = ANY($1) ORDER BY job_id, idx")
        .bind(jobs)
        .fetch_all(pool)
        .await
}

/// The jobs among `jobs` whose cancel has been requested. Run right after a claim is
/// recorded as held: a cancel NOTIFY that arrived between the claim and the hold found no
/// held job and was dropped, but its committed flag is seen here.
pub async fn cancel_requested(pool: &PgPool, jobs: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM batch_jobs WHERE id = ANY($1) AND cancel_requested")
        .bind(jobs)
        .fetch_all(pool)
        .await
}

/// One held job as seen by the heartbeat.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LeaseState {
    pub id: Uuid,
    pub attempts: i32,
    pub cancel_requested: bool,
}

/// Extends the lease of every claim `worker` still holds among `jobs` (job id, the claim's
/// attempt); jobs missing from the answer were lost (taken over after an expired lease, by
/// another worker or by this one in a later attempt). Fenced like every other write, by
/// `(locked_by, attempts)`: a superseded attempt's heartbeat must not renew the claim that
/// replaced it.
#[tracing::instrument(skip(pool, jobs), fields(jobs = jobs.len()))]
pub async fn heartbeat(
    pool: &PgPool,
    worker: &str,
    lease: Duration,
    jobs: &[(Uuid, i32)],
) -> Result<Vec<LeaseState>, sqlx::Error> {
    let (ids, attempts): (Vec<Uuid>, Vec<i32>) = jobs.iter().copied().unzip();
    sqlx::query_as(
        "UPDATE batch_jobs j
            SET locked_until = now() + make_interval(secs => $2)
           FROM unnest($3::uuid[], $4::int[]) AS held(id, attempts)
          WHERE j.id = held.id AND j.attempts = held.attempts
            AND j.locked_by = $1 AND j.status = 'running'
          RETURNING j.id, j.attempts, j.cancel_requested",
    )
    .bind(worker)
    .bind(lease.as_secs_f64())
    .bind(ids)
    .bind(attempts)
    .fetch_all(pool)
    .await
}

/// One prompt's outcome to record: its answer, or its error (with the error's code).
#[derive(Debug, Clone)]
pub struct SlotWrite {
    pub idx: i32,
    pub text: Option<String>,
    pub error: Option<String>,
    pub error_code: Option<String>,
    /// Tokens the answer used (zero for an error): added to the job owner's day in
    /// `usage_daily`, which the gateway's daily quota reads.
    pub usage: common::schemas::Usage,
    /// The model that answered (`provider/model`), for the per-model day
    /// (`usage_model_daily`); `None` for an error.
    pub model: Option<String>,
    /// What the answer cost in USD (0 when unpriced): added to the owner's day (the USD
    /// quota) and to the model's.
    pub cost_usd: f64,
}

/// The longest model name kept for the per-model figures (as the gateway cuts them).
const MODEL_NAME_MAX: usize = 200;

impl SlotWrite {
    pub fn answer(idx: i32, text: String, usage: common::schemas::Usage) -> Self {
        Self {
            idx,
            text: Some(text),
            error: None,
            error_code: None,
            usage,
            model: None,
            cost_usd: 0.0,
        }
    }

    /// Names the model that answered and what the answer cost (`None`, negative or not
    /// finite: nothing).
    #[must_use]
    pub fn priced(mut self, model: &str, cost_usd: Option<f64>) -> Self {
        let model: String = model.trim().chars().take(MODEL_NAME_MAX).collect();
        self.model = (!model.is_empty()).then_some(model);
        self.cost_usd = cost_usd
            .filter(|c| c.is_finite() && *c > 0.0)
            .unwrap_or(0.0);
        self
    }

    pub fn error(idx: i32, code: String, message: String) -> Self {
        Self {
            idx,
            text: None,
            error: Some(message),
            error_code: Some(code),
            usage: common::schemas::Usage::default(),
            model: None,
            cost_usd: 0.0,
        }
    }
}

/// How a job ends when its last slot is written (or when it is stopped).
#[derive(Debug, Clone)]
pub struct Finish {
    pub status: JobStatus,
    pub error: Option<String>,
}

/// Result of a fenced write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fenced {
    /// Written; `cancel_requested` tells the worker to stop after its in-flight prompts.
    Written { cancel_requested: bool },
    /// The claim no longer holds the job: nothing was written.
    LeaseLost,
}

/// Gives a held job back to the queue: `pending` again, due after `delay`, unless a cancel was
/// requested meanwhile (then `cancelled`). `refund` gives the attempt back (graceful
/// shutdown: the job did nothing wrong).
#[tracing::instrument(skip(pool, last_error), fields(job_id = %job))]
pub async fn release(
    pool: &PgPool,
    job: Uuid,
    worker: &str,
    attempt: i32,
    delay: Duration,
    last_error: Option<&str>,
    refund: bool,
) -> Result<Fenced, sqlx::Error> {
    let row: Option<(bool,)> = sqlx::query_as(
        "UPDATE batch_jobs
            SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'pending' END,
                completed_at = CASE WHEN cancel_requested THEN now() END,
                attempts = attempts - $5,
                next_attempt_at = now() + make_interval(secs => $4),
                last_error = COALESCE($6, last_error),
                locked_by = NULL,
                locked_until = NULL,
                updated_at = now()
          WHERE id = $1 AND locked_by = $2 AND attempts = $3 AND status = 'running'
          RETURNING cancel_requested",
    )
    .bind(job)
    .bind(worker)
    .bind(attempt)
    .bind(delay.as_secs_f64())
    .bind(i32::from(refund))
    .bind(last_error)
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        Some((cancel_requested,)) => Fenced::Written { cancel_requested },
        None => Fenced::LeaseLost,
    })
}

/// What one reaper pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reaped {
    /// Returned to `pending` (their worker stopped renewing the lease).
    pub requeued: u64,
    pub cancelled: u64,
    pub failed: u64,
}

/// Handles running jobs whose lease expired: a requested cancel ends them `cancelled`, jobs
/// out of attempts end `failed`, the rest go back to `pending` for any worker. Rows another
/// worker is claiming right now are skipped.
#[tracing::instrument(skip(pool))]
pub async fn reap_expired(pool: &PgPool) -> Result<Reaped, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "WITH expired AS (
             SELECT id FROM batch_jobs
              WHERE status = 'running' AND COALESCE(locked_until, '-infinity') < now()
              FOR UPDATE SKIP LOCKED
         )
         UPDATE batch_jobs j
            SET status = CASE WHEN j.cancel_requested THEN 'cancelled'
                              WHEN j.attempts >= j.max_attempts THEN 'failed'
                              ELSE 'pending' END,
                completed_at = CASE WHEN j.cancel_requested OR j.attempts >= j.max_attempts
                                    THEN now() END,
                error = CASE WHEN NOT j.cancel_requested AND j.attempts >= j.max_attempts
                             THEN format('The job was interrupted %s times (its worker stopped responding); giving up.', j.attempts)
                             ELSE j.error END,
                last_error = CASE WHEN j.cancel_requested THEN j.last_error
                                  ELSE 'The worker running the job stopped responding.' END,
                next_attempt_at = now(),
                locked_by = NULL,
                locked_until = NULL,
                updated_at = now()
           FROM expired
          WHERE j.id = expired.id
          RETURNING j.status",
    )
    .fetch_all(pool)
    .await?;
    let mut reaped = Reaped::default();
    for (status,) in rows {
        match status.as_str() {
            "pending" => reaped.requeued += 1,
            "cancelled" => reaped.cancelled += 1,
            _ => reaped.failed += 1,
        }
    }
    if reaped.requeued > 0 {
        notify_queue(pool).await?;
    }
    Ok(reaped)
}

/// Wakes idle workers (used when jobs become claimable other than by insert).
pub async fn notify_queue(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(QUEUE_CHANNEL)
        .execute(pool)
        .await
        .map(|_| ())
}

/// One job's part of a batched write (see [`write_slots_batch`]).
#[derive(Debug, Clone)]
pub struct JobWrite {
    pub job: Uuid,
    pub attempt: i32,
    pub slots: Vec<SlotWrite>,
    pub finish: Option<Finish>,
}

/// Writes the slots of one or more jobs and moves their counters in one statement (one
/// commit), each job fenced by its own claim; a job's `finish` ends it and releases its lease
/// in the same statement. Returns, per job, whether the write happened (`LeaseLost` when its
/// claim no longer holds it). A failure fails the whole statement: nothing is written.
#[tracing::instrument(skip(pool, writes), fields(jobs = writes.len()))]
pub async fn write_slots_batch(
    pool: &PgPool,
    worker: &str,
    writes: &[JobWrite],
) -> Result<Vec<Fenced>, sqlx::Error> {
    let mut job_ids = Vec::with_capacity(writes.len());
    let mut attempts = Vec::with_capacity(writes.len());
    let mut oks = Vec::with_capacity(writes.len());
    let mut faileds = Vec::with_capacity(writes.len());
    let mut statuses: Vec<Option<&str>> = Vec::with_capacity(writes.len());
    let mut finish_errors: Vec<Option<&str>> = Vec::with_capacity(writes.len());
    let (mut slot_jobs, mut slot_idx, mut slot_texts, mut slot_errors, mut slot_codes) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut slot_prompt_tokens, mut slot_completion_tokens) = (Vec::new(), Vec::new());
    let (mut slot_models, mut slot_costs) = (Vec::new(), Vec::new());
    for w in writes {
        let ok = w.slots.iter().filter(|s| s.text.is_some()).count();
        job_ids.push(w.job);
        attempts.push(w.attempt);
        oks.push(i32::try_from(ok).unwrap_or(0));
        faileds.push(i32::try_from(w.slots.len() - ok).unwrap_or(0));
        statuses.push(w.finish.as_ref().map(|f| f.status.as_str()));
        finish_errors.push(w.finish.as_ref().and_then(|f| f.error.as_deref()));
        for s in &w.slots {
            slot_jobs.push(w.job);
            slot_idx.push(s.idx);
            slot_texts.push(s.text.as_deref());
            slot_errors.push(s.error.as_deref());
            slot_codes.push(s.error_code.as_deref());
            slot_prompt_tokens.push(i64::from(s.usage.prompt_tokens));
            slot_completion_tokens.push(i64::from(s.usage.completion_tokens));
            slot_models.push(s.model.as_deref());
            slot_costs.push(s.cost_usd);
        }
    }
    let rows: Vec<(Uuid, i32, bool)> = sqlx::query_as(
        "WITH input AS (
             SELECT * FROM unnest($2::uuid[], $3::int4[], $4::int4[], $5::int4[], $6::text[], $7::text[])
                 AS u(job_id, attempt, ok, failed, status, error)
         ),
         job AS (
             UPDATE batch_jobs j
                SET completed_prompts = j.completed_prompts + i.ok,
                    failed_prompts = j.failed_prompts + i.failed,
                    updated_at = now(),
                    status = COALESCE(i.status, j.status),
                    error = CASE WHEN i.status IS NULL THEN j.error ELSE i.error END,
                    completed_at = CASE WHEN i.status IS NULL THEN j.completed_at ELSE now() END,
                    locked_by = CASE WHEN i.status IS NULL THEN j.locked_by END,
                    locked_until = CASE WHEN i.status IS NULL THEN j.locked_until END
               FROM input i
              WHERE j.id = i.job_id AND j.locked_by = $1 AND j.attempts = i.attempt AND j.status = 'running'
              RETURNING j.id, j.attempts, j.cancel_requested, j.user_id
         ),
         ins AS (
             INSERT INTO batch_job_results (job_id, idx, text, error, error_code, attempt)
             SELECT s.job_id, s.idx, s.text, s.error, s.error_code, job.attempts
               FROM unnest($8::uuid[], $9::int4[], $10::text[], $11::text[], $12::text[])
                    AS s(job_id, idx, text, error, error_code)
               JOIN job ON job.id = s.job_id
             RETURNING job_id
         ),
         -- The answers' tokens count against their owner's daily quota, like the gateway's
         -- own generations (usage_daily is the one ledger both services add to).
         answered AS (
             SELECT job.user_id, u.model, u.p, u.c, u.cost
               FROM unnest($8::uuid[], $10::text[], $13::int8[], $14::int8[], $15::text[], $16::float8[])
                    AS u(job_id, text, p, c, model, cost)
               JOIN job ON job.id = u.job_id
              WHERE u.text IS NOT NULL
         ),
         usage AS (
             INSERT INTO usage_daily (user_id, day, prompt_tokens, completion_tokens, requests, cost_usd)
             SELECT a.user_id, (now() AT TIME ZONE 'utc')::date, sum(a.p), sum(a.c), count(*), sum(a.cost)
               FROM answered a
              WHERE a.user_id IS NOT NULL
                AND EXISTS (SELECT 1 FROM users WHERE users.id = a.user_id)
              GROUP BY a.user_id
             ON CONFLICT (user_id, day) DO UPDATE SET
                 prompt_tokens = usage_daily.prompt_tokens + EXCLUDED.prompt_tokens,
                 completion_tokens = usage_daily.completion_tokens + EXCLUDED.completion_tokens,
                 requests = usage_daily.requests + EXCLUDED.requests,
                 cost_usd = usage_daily.cost_usd + EXCLUDED.cost_usd
             RETURNING user_id
         ),
         -- ... and in the answering model's day (the dashboard's cost by model), all users.
         model_usage AS (
             INSERT INTO usage_model_daily (day, model, prompt_tokens, completion_tokens, requests, cost_usd)
             SELECT (now() AT TIME ZONE 'utc')::date, a.model, sum(a.p), sum(a.c), count(*), sum(a.cost)
               FROM answered a
              WHERE a.model IS NOT NULL
              GROUP BY a.model
             ON CONFLICT (day, model) DO UPDATE SET
                 prompt_tokens = usage_model_daily.prompt_tokens + EXCLUDED.prompt_tokens,
                 completion_tokens = usage_model_daily.completion_tokens + EXCLUDED.completion_tokens,
                 requests = usage_model_daily.requests + EXCLUDED.requests,
                 cost_usd = usage_model_daily.cost_usd + EXCLUDED.cost_usd
             RETURNING model
         )
         SELECT job.id, job.attempts, job.cancel_requested FROM job",
    )
    .bind(worker)
    .bind(&job_ids)
    .bind(&attempts)
    .bind(&oks)
    .bind(&faileds)
    .bind(&statuses)
    .bind(&finish_errors)
    .bind(&slot_jobs)
    .bind(&slot_idx)
    .bind(&slot_texts)
    .bind(&slot_errors)
    .bind(&slot_codes)
    .bind(&slot_prompt_tokens)
    .bind(&slot_completion_tokens)
    .bind(&slot_models)
    .bind(&slot_costs)
    .fetch_all(pool)
    .await?;
    Ok(writes
        .iter()
        .map(|w| {
            rows.iter()
                .find(|(id, attempt, _)| *id == w.job && *attempt == w.attempt)
                .map_or(Fenced::LeaseLost, |(_, _, cancel_requested)| {
                    Fenced::Written {
                        cancel_requested: *cancel_requested,
                    }
                })
        })
        .collect())
}
