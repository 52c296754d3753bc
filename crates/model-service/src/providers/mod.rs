//! Model providers behind one trait.
//!
//! A [`Provider`] knows how to ask one backend for a completion, whole or streamed. It does not
//! retry, fall back or time out: [`crate::generation`] owns those policies so that every
//! provider behaves the same. Errors say whether they are worth retrying
//! ([`ProviderError::is_retryable`]) and never carry URLs or keys in their message.
//!
//! - [`mock::MockProvider`]: deterministic, offline, with test hooks.
//! - [`openai::OpenAiProvider`]: any OpenAI-compatible server (Groq, OpenAI, Ollama, vLLM…).

pub mod mock;
pub mod openai;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::schemas::{ChatTurn, Usage};
use futures::stream::BoxStream;

use crate::config::{Config, ProviderSettings, Resolved};

/// What a provider is asked: one model, the conversation so far, the new prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderRequest {
    pub model: String,
    pub system_prompt: Option<String>,
    /// Earlier turns, oldest first.
    pub messages: Vec<ChatTurn>,
    pub prompt: String,
    pub max_tokens: u32,
    pub temperature: f32,
}

impl ProviderRequest {
    /// Characters of everything the model reads, for token estimates.
    pub fn input_chars(&self) -> usize {
        self.system_prompt
            .as_deref()
            .map_or(0, |s| s.chars().count())
            + self
                .messages
                .iter()
                .map(|m| m.content.chars().count())
                .sum::<usize>()
            + self.prompt.chars().count()
    }
}

/// A whole answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    /// The model that answered, as the provider reports it.
    pub model: String,
    pub usage: Usage,
    /// `stop`, `length`, …
    pub finish_reason: Option<String>,
}

/// One piece of a streamed answer. `text` may be empty (e.g. a role-only first chunk);
/// such deltas are not forwarded to clients.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Delta {
    pub text: String,
    pub finish_reason: Option<String>,
}

pub type DeltaStream = BoxStream<'static, Result<Delta, ProviderError>>;

#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// Short name for logs and `/api/v1/models` (`mock`, `groq`, `openai`, `ollama`).
    fn name(&self) -> &'static str;

    /// Asks for a whole completion.
    async fn complete(&self, req: &ProviderRequest) -> Result<Completion, ProviderError>;

    /// Opens a streamed completion. Dropping the returned stream must stop the generation
    /// (for HTTP providers: abort the request).
    async fn stream(&self, req: &ProviderRequest) -> Result<DeltaStream, ProviderError>;
}

/// Why a provider call failed, coarsely: enough to choose retry or fallback and to label
/// metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No answer in time (connect, first token, between chunks, whole call).
    Timeout,
    /// The connection could not be made or broke.
    Connect,
    /// HTTP 429.
    RateLimited,
    /// HTTP 5xx (or 408/409, which OpenAI documents as retryable).
    Server,
    /// HTTP 401/403: the key is wrong, so another model will not help either.
    Auth,
    /// Any other HTTP 4xx (unknown model, bad parameter…).
    Client,
    /// The provider answered something we could not understand.
    InvalidResponse,
    /// The mock provider failed because the prompt asked it to.
    Injected,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::RateLimited => "rate_limited",
            Self::Server => "server",
            Self::Auth => "auth",
            Self::Client => "client",
            Self::InvalidResponse => "invalid_response",
            Self::Injected => "injected",
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    pub kind: ErrorKind,
    /// Client-safe text: no URL, no key, may span lines (the SSE layer flattens it).
    pub message: String,
    /// How long the provider asked us to wait (Retry-After), if it did.
    pub retry_after: Option<Duration>,
}

impl ProviderError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn timeout(what: &str, after: Duration) -> Self {
        Self::new(
            ErrorKind::Timeout,
            format!(
                "provider timed out ({what} after {:.1}s)",
                after.as_secs_f64()
            ),
        )
    }

    /// An error for an HTTP status the provider answered with.
    pub fn from_status(status: u16, detail: Option<&str>) -> Self {
        let kind = match status {
            429 => ErrorKind::RateLimited,
            401 | 403 => ErrorKind::Auth,
            408 | 409 | 500..=599 => ErrorKind::Server,
            _ => ErrorKind::Client,
        };
        let reason = reqwest_013::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("error");
        let message = match detail.map(str::trim).filter(|d| !d.is_empty()) {
            Some(detail) => format!("provider returned HTTP {status} {reason}: {detail}"),
            None => format!("provider returned HTTP {status} {reason}"),
        };
        Self::new(kind, message)
    }

    /// 429, 5xx, timeouts and connection failures are worth another attempt.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Timeout | ErrorKind::Connect | ErrorKind::RateLimited | ErrorKind::Server
        )
    }

    /// Whether trying the fallback model could help: not when the key is refused.
    pub fn allows_fallback(&self) -> bool {
        self.kind != ErrorKind::Auth
    }
}

/// Builds the provider chosen by `resolved`.
pub fn build(config: &Config, resolved: &Resolved) -> anyhow::Result<Arc<dyn Provider>> {
    Ok(match &resolved.settings {
        ProviderSettings::Mock => Arc::new(mock::MockProvider::new(mock::MockSettings {
            first_token_delay: Duration::from_millis(config.mock_first_token_delay_ms),
            token_delay: Duration::from_millis(config.mock_token_delay_ms),
        })),
        ProviderSettings::OpenAiCompatible {
            base_url,
            max_completion_tokens,
        } => Arc::new(openai::OpenAiProvider::new(openai::OpenAiSettings {
            name: resolved.provider_name,
            base_url: base_url.clone(),
            api_key: resolved.api_key.clone(),
            connect_timeout: config.connect_timeout(),
            // A safety net only: the generation layer's deadlines fire first. A whole
            // (non-streaming) answer can be silent for the entire provider timeout.
            read_timeout: config
                .provider_timeout()
                .max(config.first_token_timeout())
                .max(config.idle_timeout())
                + Duration::from_secs(5),
            max_completion_tokens: *max_completion_tokens,
        })?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_retry_and_fallback_decisions() {
        let cases = [
            (429, true, true),
            (500, true, true),
            (503, true, true),
            (408, true, true),
            (400, false, true),
            (404, false, true),
            (401, false, false),
            (403, false, false),
        ];
        for (status, retry, fallback) in cases {
            let e = ProviderError::from_status(status, None);
            assert_eq!(e.is_retryable(), retry, "{status} retryable");
            assert_eq!(e.allows_fallback(), fallback, "{status} fallback");
        }
    }

    #[test]
    fn status_messages_name_the_status_not_the_url() {
        let e = ProviderError::from_status(429, Some("slow down"));
        assert_eq!(
            e.to_string(),
            "provider returned HTTP 429 Too Many Requests: slow down"
        );
    }
}
