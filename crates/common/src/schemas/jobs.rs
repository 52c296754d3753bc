use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::limits::*;
use super::DEFAULT_MAX_TOKENS;
use crate::validation::{body, Checker, FieldError, Validate};

/// `POST /api/v1/jobs` request (contract §5.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobSubmission {
    /// 1..=100 prompts, each 1..=10 000 code points.
    pub prompts: Vec<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default = "default_max_tokens")]
    #[schema(default = 1024, minimum = 1, maximum = 8192)]
    pub max_tokens: i64,
}

fn default_max_tokens() -> i64 {
    DEFAULT_MAX_TOKENS
}

impl Validate for JobSubmission {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.list_len(body("prompts"), self.prompts.len(), JOB_PROMPTS_MIN, JOB_PROMPTS_MAX);
        for (i, prompt) in self.prompts.iter().enumerate() {
            c.str_len(
                vec!["body".into(), "prompts".into(), i.into()],
                prompt,
                1,
                PROMPT_MAX_CHARS,
            );
        }
        c.int_range(body("max_tokens"), self.max_tokens, MAX_TOKENS_MIN, MAX_TOKENS_MAX);
        if let Some(model) = &self.model {
            c.str_len(body("model"), model, 0, MODEL_NAME_MAX_CHARS);
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
    /// One entry per finished prompt, in prompt order (contract shape: strings).
    pub results: Vec<String>,
    pub error: Option<String>,
}
