use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::limits::*;
use super::DEFAULT_MAX_TOKENS;
use crate::validation::{body, Checker, FieldError, Validate};

/// The header in which the gateway tells the worker service who is calling (a UUID). The
/// worker writes it as the job's owner and scopes every read, list and cancel by it; another
/// user's job is answered 404 exactly like a missing one. Absent: [`DEFAULT_JOB_OWNER`].
pub const USER_ID_HEADER: &str = "x-sable-user-id";

/// The seeded default user (`00000000-0000-0000-0000-000000000001`), owner of jobs submitted
/// without [`USER_ID_HEADER`].
pub const DEFAULT_JOB_OWNER: uuid::Uuid = uuid::Uuid::from_u128(1);

/// Parses a job id: a UUID in any case, surrounding whitespace ignored. Anything else names
/// no job: 404 `JOB_NOT_FOUND` (contract §19.3), the same answer as for a missing job. Shared
/// by the gateway (which answers without calling the worker) and the worker.
pub fn parse_job_id(raw: &str) -> Result<uuid::Uuid, crate::AppError> {
    uuid::Uuid::parse_str(raw.trim()).map_err(|_| job_not_found(raw))
}

/// 404 `JOB_NOT_FOUND` naming the id as given (clipped to 100 code points).
pub fn job_not_found(raw_id: &str) -> crate::AppError {
    let shown: String = raw_id.chars().take(100).collect();
    crate::AppError::NotFound {
        code: "JOB_NOT_FOUND",
        message: format!("Job not found: {shown}"),
    }
}

/// Longest job name, in code points.
pub const JOB_NAME_MAX_CHARS: usize = 200;

/// `POST /api/v1/jobs` request (contract §5.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobSubmission {
    /// 1..=100 prompts, each 1..=10 000 code points.
    pub prompts: Vec<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default = "default_max_tokens")]
    #[schema(default = 1024, minimum = 1, maximum = 8192, required = false)]
    pub max_tokens: i64,
    /// Additive: a name to tell jobs apart, at most 200 code points (blank means none).
    #[serde(default)]
    pub name: Option<String>,
}

impl JobSubmission {
    /// The name, trimmed; `None` when absent or blank.
    pub fn clean_name(&self) -> Option<&str> {
        self.name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
    }
}

fn default_max_tokens() -> i64 {
    DEFAULT_MAX_TOKENS
}

impl Validate for JobSubmission {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.list_len(
            body("prompts"),
            self.prompts.len(),
            JOB_PROMPTS_MIN,
            JOB_PROMPTS_MAX,
        );
        for (i, prompt) in self.prompts.iter().enumerate() {
            c.str_len(
                vec!["body".into(), "prompts".into(), i.into()],
                prompt,
                1,
                PROMPT_MAX_CHARS,
            );
        }
        c.int_range(
            body("max_tokens"),
            self.max_tokens,
            MAX_TOKENS_MIN,
            MAX_TOKENS_MAX,
        );
        if let Some(model) = &self.model {
            c.str_len(body("model"), model, 0, MODEL_NAME_MAX_CHARS);
        }
        if let Some(name) = &self.name {
            // Counted without surrounding whitespace, which is not stored.
            c.str_len(body("name"), name.trim(), 0, JOB_NAME_MAX_CHARS);
        }
        c.finish()
    }
}

/// Job states. `cancelled` is additive (the reference has only the first four).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

impl std::str::FromStr for JobStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Self::Pending),
            "running" => Ok(Self::Running),
            "completed" => Ok(Self::Completed),
            "failed" => Ok(Self::Failed),
            "cancelled" => Ok(Self::Cancelled),
            other => Err(format!("unknown job status {other:?}")),
        }
    }
}

/// `JobResponse` (contract §8). Every key is always present; nullable ones as null.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobResponse {
    pub job_id: uuid::Uuid,
    pub status: JobStatus,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub total_prompts: i32,
    pub completed_prompts: i32,
    /// One entry per successfully answered prompt, in prompt order (contract shape: strings).
    /// `result_indexes` says which prompt each entry answers.
    pub results: Vec<String>,
    /// Set when the job ended `failed` (and a short note when it ended `cancelled`).
    pub error: Option<String>,

    // Additive fields (absent from the reference; clients may ignore them).
    /// The job's name, if one was given at submission.
    #[serde(default)]
    pub name: Option<String>,
    /// The submitted prompts, in order.
    #[serde(default)]
    pub prompts: Vec<String>,
    /// The requested model (null: the model service's default).
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub max_tokens: Option<i64>,
    /// Prompts that failed permanently (their errors are in `prompt_errors`). A job whose
    /// every prompt finished ends `completed` even when some failed: `failed_prompts > 0`
    /// says so.
    #[serde(default)]
    pub failed_prompts: i32,
    /// `result_indexes[k]` is the prompt index (0-based) that `results[k]` answers.
    #[serde(default)]
    pub result_indexes: Vec<i32>,
    /// One entry per prompt that failed permanently, in prompt order.
    #[serde(default)]
    pub prompt_errors: Vec<PromptError>,
    /// How many times a worker has claimed the job (a crash or a transient failure costs one).
    #[serde(default)]
    pub attempts: i32,
    #[serde(default)]
    pub max_attempts: i32,
    /// A cancel was requested while the job was running; it stops after its in-flight prompts.
    #[serde(default)]
    pub cancel_requested: bool,
    /// The last transient failure (the job is retried with backoff until `max_attempts`).
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// A prompt of a job that failed permanently (e.g. rejected by the model service).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PromptError {
    /// 0-based prompt index.
    pub index: i32,
    pub message: String,
    /// The model service's error code, e.g. `CONTEXT_TOO_LONG`, `CONTENT_POLICY` (null when
    /// unknown).
    #[serde(default)]
    pub code: Option<String>,
}

/// One job in `GET /api/v1/jobs`: status and progress without prompts and results (the full
/// job is `GET /api/v1/jobs/{job_id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobSummary {
    pub job_id: uuid::Uuid,
    pub name: Option<String>,
    /// The first prompt's first 100 code points (`…` when cut), to label unnamed jobs.
    pub preview: String,
    pub status: JobStatus,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub total_prompts: i32,
    pub completed_prompts: i32,
    pub failed_prompts: i32,
    pub model: Option<String>,
    pub error: Option<String>,
    pub last_error: Option<String>,
    pub attempts: i32,
    pub max_attempts: i32,
    pub cancel_requested: bool,
}

/// `GET /jobs/stats` of the worker service: job counts for the dashboard. Scoped to the
/// caller when `X-Sable-User-Id` is sent, over every job when it is not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JobStats {
    /// Jobs per status; every status is present (0 when none).
    pub by_status: JobStatusCounts,
    /// `pending` + `running`.
    pub active: i64,
    /// Jobs that ended (`completed`, `failed` or `cancelled`) in the last 60 seconds.
    pub finished_last_60s: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JobStatusCounts {
    pub pending: i64,
    pub running: i64,
    pub completed: i64,
    pub failed: i64,
    pub cancelled: i64,
}

/// `GET /api/v1/jobs` response: newest first, summaries only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobList {
    pub jobs: Vec<JobSummary>,
    /// Pass as `before` to get the next (older) page; null on the last page.
    pub next_before: Option<uuid::Uuid>,
}

/// `GET /api/v1/jobs` query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobListQuery {
    /// Page size, 1..=100 (default 20).
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// A `job_id` from the previous page (`next_before`): only older jobs are listed.
    #[serde(default)]
    pub before: Option<String>,
}

pub const JOB_LIST_DEFAULT_LIMIT: i64 = 20;
pub const JOB_LIST_MAX_LIMIT: i64 = 100;

impl JobListQuery {
    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(JOB_LIST_DEFAULT_LIMIT)
    }

    /// The cursor as a UUID (validated by [`Validate`]; empty means none).
    pub fn before_id(&self) -> Option<uuid::Uuid> {
        self.before
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
    }
}

impl Validate for JobListQuery {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.int_range(
            crate::validation::query("limit"),
            self.limit(),
            1,
            JOB_LIST_MAX_LIMIT,
        );
        if let Some(before) = self
            .before
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if uuid::Uuid::parse_str(before).is_err() {
                c.push(
                    FieldError::new(
                        "uuid_parsing",
                        &["query", "before"],
                        "Input should be a valid UUID",
                    )
                    .with_input(serde_json::json!(before)),
                );
            }
        }
        c.finish()
    }
}
