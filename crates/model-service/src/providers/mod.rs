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
pub mod mock_embeddings;
pub mod openai;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::http::StatusCode;
use bytes::Bytes;
use common::schemas::{ChatTurn, Usage};
use futures::stream::BoxStream;
use serde_json::Value;

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

/// What one embeddings call returns: one vector per input, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    /// The model that answered, as the provider reports it.
    pub model: String,
    pub prompt_tokens: u32,
}

#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// Short name for logs and `/api/v1/models` (`mock`, `groq`, `openai`, `ollama`).
    fn name(&self) -> &str;

    /// Asks for a whole completion.
    async fn complete(&self, req: &ProviderRequest) -> Result<Completion, ProviderError>;

    /// Opens a streamed completion. Dropping the returned stream must stop the generation
    /// (for HTTP providers: abort the request).
    async fn stream(&self, req: &ProviderRequest) -> Result<DeltaStream, ProviderError>;

    /// Embeds `inputs` with `model` in one call (the caller splits large requests into
    /// batches and checks that one vector came back per input).
    async fn embed(&self, model: &str, inputs: &[String]) -> Result<Embeddings, ProviderError>;

    /// OpenAI chat completions, forwarded rather than translated (`/v1/chat/completions`):
    /// `body` is the client's request with `model` set to the model to ask, and the answer is
    /// the provider's `chat.completion`, whole: its bytes as the provider sent them.
    async fn chat(&self, body: &Value) -> Result<Bytes, ProviderError> {
        let _ = body;
        Err(not_forwarding(self.name()))
    }

    /// [`chat`](Self::chat) streamed: each item is one `chat.completion.chunk` as the provider
    /// sent it (its JSON, without the SSE framing), up to but not including `[DONE]`.
    async fn chat_stream(&self, body: &Value) -> Result<ChunkStream, ProviderError> {
        let _ = body;
        Err(not_forwarding(self.name()))
    }
}

/// The chunks of a forwarded chat-completions stream (see [`Provider::chat_stream`]).
pub type ChunkStream = BoxStream<'static, Result<Bytes, ProviderError>>;

fn not_forwarding(provider: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::InvalidRequest,
        format!("the {provider} provider does not take OpenAI chat requests"),
    )
}

/// The class of a provider failure. Every failure is put in exactly one class, here in the
/// model service, and the class travels with it: in this service's error envelope (`code`,
/// status, `retryable`, `Retry-After`), in the `[ERROR]` event of a stream
/// (`[ERROR] <CODE>: <message>`), through the gateway, and into the worker's retry decision.
///
/// | class | `code` | status | retried | fallback model |
/// | --- | --- | --- | --- | --- |
/// | `invalid_request` | `INVALID_REQUEST` | 400 | no | no |
/// | `context_too_long` | `CONTEXT_TOO_LONG` | 400 | no | no |
/// | `content_policy` | `CONTENT_POLICY` | 400 | no | no |
/// | `unknown_model` | `UNKNOWN_MODEL` | 404 | no | yes |
/// | `auth` | `PROVIDER_AUTH` | 502 | no | no |
/// | `rate_limited` | `RATE_LIMITED` | 429 (+ `Retry-After`) | yes | no |
/// | `overloaded` | `PROVIDER_OVERLOADED` | 503 | yes | yes |
/// | `timeout` | `PROVIDER_TIMEOUT` | 504 | yes | yes |
/// | `network` | `PROVIDER_UNREACHABLE` | 502 | yes | no |
/// | `other` | `INFERENCE_ERROR` | 502 | no | no |
///
/// "Retried" means both the model service's own attempts and a caller's retry later (the
/// envelope's `retryable`). The fallback model is tried only where another model can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The provider refused the request as malformed (HTTP 400/422 of no more specific kind).
    InvalidRequest,
    /// The prompt (with its history) does not fit the model's context window.
    ContextTooLong,
    /// The provider's content policy refused the prompt or the answer.
    ContentPolicy,
    /// The provider does not know the model (HTTP 404, `model_not_found`).
    UnknownModel,
    /// HTTP 401/403: the key is wrong, so another model will not help either.
    Auth,
    /// HTTP 429.
    RateLimited,
    /// HTTP 5xx (or 409, which OpenAI documents as retryable), or an error object the provider
    /// sent inside a 200 answer.
    Overloaded,
    /// No answer in time (first token, between chunks, whole call; HTTP 408/504).
    Timeout,
    /// The connection could not be made or broke, or the provider answered something that
    /// could not be read.
    Network,
    /// A failure of no specific class: the mock's `[mock:error]`.
    Other,
}

impl ErrorKind {
    /// Every class, e.g. to export a counter per class at 0 before its first event.
    pub const ALL: [Self; 10] = [
        Self::InvalidRequest,
        Self::ContextTooLong,
        Self::ContentPolicy,
        Self::UnknownModel,
        Self::Auth,
        Self::RateLimited,
        Self::Overloaded,
        Self::Timeout,
        Self::Network,
        Self::Other,
    ];

    /// The class name, for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::ContextTooLong => "context_too_long",
            Self::ContentPolicy => "content_policy",
            Self::UnknownModel => "unknown_model",
            Self::Auth => "auth",
            Self::RateLimited => "rate_limited",
            Self::Overloaded => "overloaded",
            Self::Timeout => "timeout",
            Self::Network => "network",
            Self::Other => "other",
        }
    }

    /// The envelope's machine-readable `code`.
    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidRequest => "INVALID_REQUEST",
            Self::ContextTooLong => "CONTEXT_TOO_LONG",
            Self::ContentPolicy => "CONTENT_POLICY",
            Self::UnknownModel => "UNKNOWN_MODEL",
            Self::Auth => "PROVIDER_AUTH",
            Self::RateLimited => "RATE_LIMITED",
            Self::Overloaded => "PROVIDER_OVERLOADED",
            Self::Timeout => "PROVIDER_TIMEOUT",
            Self::Network => "PROVIDER_UNREACHABLE",
            Self::Other => "INFERENCE_ERROR",
        }
    }

    /// The HTTP status this service answers with: 4xx for the caller's fault, 429 passed on,
    /// 502/503/504 for upstream faults.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidRequest | Self::ContextTooLong | Self::ContentPolicy => {
                StatusCode::BAD_REQUEST
            }
            Self::UnknownModel => StatusCode::NOT_FOUND,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Auth | Self::Network | Self::Other => StatusCode::BAD_GATEWAY,
        }
    }

    /// Whether the same request may succeed later: rate limits, overload, timeouts and
    /// connection failures.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::RateLimited | Self::Overloaded | Self::Timeout | Self::Network
        )
    }

    /// Whether another model may succeed where this one failed.
    pub fn allows_fallback(self) -> bool {
        matches!(self, Self::Overloaded | Self::Timeout | Self::UnknownModel)
    }

    /// Classifies an HTTP error answer of an OpenAI-compatible provider, using its error
    /// `code`/`type` and message where the status alone is ambiguous (a 400 may be a context
    /// overflow, a policy refusal or an unknown model).
    pub fn from_http(status: u16, provider_code: Option<&str>, detail: Option<&str>) -> Self {
        let text = format!(
            "{} {}",
            provider_code.unwrap_or_default(),
            detail.unwrap_or_default()
        )
        .to_lowercase();
        let mentions = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
        let context = mentions(&[
            "context_length",
            "context length",
            "context window",
            "maximum context",
            "too many tokens",
            "reduce the length",
        ]);
        let policy = mentions(&[
            "content_policy",
            "content policy",
            "content_filter",
            "safety",
        ]);
        let unknown_model = mentions(&["model_not_found", "model_decommissioned"])
            || (text.contains("model")
                && mentions(&[
                    "does not exist",
                    "not found",
                    "decommissioned",
                    "unknown model",
                ]));
        match status {
            401 | 403 => Self::Auth,
            429 => Self::RateLimited,
            408 | 504 => Self::Timeout,
            413 => Self::ContextTooLong,
            404 => Self::UnknownModel,
            400..=499 if context => Self::ContextTooLong,
            400..=499 if policy => Self::ContentPolicy,
            400..=499 if unknown_model => Self::UnknownModel,
            409 => Self::Overloaded,
            400..=499 => Self::InvalidRequest,
            _ => Self::Overloaded,
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

    /// An error for an HTTP status the provider answered with (`provider_code` is the
    /// provider's own error code or type, e.g. `context_length_exceeded`).
    pub fn from_status(status: u16, provider_code: Option<&str>, detail: Option<&str>) -> Self {
        let kind = ErrorKind::from_http(status, provider_code, detail);
        let reason = reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("error");
        let message = match detail.map(str::trim).filter(|d| !d.is_empty()) {
            Some(detail) => format!("provider returned HTTP {status} {reason}: {detail}"),
            None => format!("provider returned HTTP {status} {reason}"),
        };
        Self::new(kind, message)
    }

    /// See [`ErrorKind::is_retryable`].
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// See [`ErrorKind::allows_fallback`].
    pub fn allows_fallback(&self) -> bool {
        self.kind.allows_fallback()
    }
}

/// Builds the provider chosen by `resolved`.
pub fn build(config: &Config, resolved: &Resolved) -> anyhow::Result<Arc<dyn Provider>> {
    Ok(match &resolved.settings {
        ProviderSettings::Mock => Arc::new(mock::MockProvider::new(mock::MockSettings {
            first_token_delay: config.mock_first_token_delay,
            token_delay: config.mock_token_delay,
        })),
        ProviderSettings::OpenAiCompatible {
            base_url,
            max_completion_tokens,
        } => Arc::new(openai::OpenAiProvider::new(openai::OpenAiSettings {
            name: resolved.provider_name.to_owned(),
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
            http2_prior_knowledge: config.openai_http2_prior_knowledge,
        })?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_classes_with_retry_and_fallback_decisions() {
        use ErrorKind::*;
        let cases = [
            (429, None, None, RateLimited, true, false),
            (500, None, None, Overloaded, true, true),
            (503, None, None, Overloaded, true, true),
            (504, None, None, Timeout, true, true),
            (408, None, None, Timeout, true, true),
            (
                400,
                None,
                Some("bad parameter"),
                InvalidRequest,
                false,
                false,
            ),
            (422, None, None, InvalidRequest, false, false),
            (
                404,
                Some("model_not_found"),
                None,
                UnknownModel,
                false,
                true,
            ),
            (
                400,
                None,
                Some("The model `x` does not exist"),
                UnknownModel,
                false,
                true,
            ),
            (
                400,
                Some("context_length_exceeded"),
                None,
                ContextTooLong,
                false,
                false,
            ),
            (
                400,
                None,
                Some("This model's maximum context length is 8192 tokens"),
                ContextTooLong,
                false,
                false,
            ),
            (413, None, None, ContextTooLong, false, false),
            (
                400,
                Some("content_filter"),
                None,
                ContentPolicy,
                false,
                false,
            ),
            (401, None, None, Auth, false, false),
            (403, None, None, Auth, false, false),
        ];
        for (status, code, detail, kind, retry, fallback) in cases {
            let e = ProviderError::from_status(status, code, detail);
            assert_eq!(e.kind, kind, "{status} {code:?} {detail:?}");
            assert_eq!(e.is_retryable(), retry, "{status} retryable");
            assert_eq!(e.allows_fallback(), fallback, "{status} fallback");
        }
    }

    #[test]
    fn caller_faults_are_4xx_and_upstream_faults_5xx() {
        use ErrorKind::*;
        for kind in [
            InvalidRequest,
            ContextTooLong,
            ContentPolicy,
            UnknownModel,
            RateLimited,
        ] {
            assert!(kind.status().is_client_error(), "{kind:?}");
            assert!(!kind.is_retryable() || kind == RateLimited, "{kind:?}");
        }
        for kind in [Auth, Overloaded, Timeout, Network, Other] {
            assert!(kind.status().is_server_error(), "{kind:?}");
        }
    }

    #[test]
    fn status_messages_name_the_status_not_the_url() {
        let e = ProviderError::from_status(429, None, Some("slow down"));
        assert_eq!(
            e.to_string(),
            "provider returned HTTP 429 Too Many Requests: slow down"
        );
    }
}
