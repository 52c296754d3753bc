use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::limits::*;
use super::{DEFAULT_MAX_TOKENS, DEFAULT_TEMPERATURE};
use crate::validation::{body, Checker, FieldError, Validate};

/// Header with which the gateway asks the model service for the internal trailing
/// `event: meta` of a stream (model, usage, finish reason). Public streams never carry it.
pub const STREAM_META_HEADER: &str = "x-sable-stream-meta";

/// Header of the model service's OpenAI-compatible answers (`/v1/chat/completions`) naming
/// the answering model's prices, `<input>,<output>` USD per million tokens (only with a
/// providers file): the answer's bytes are the provider's, so the gateway prices the usage
/// it reads from them.
pub const PRICE_HEADER: &str = "x-sable-price-per-mtok";

/// Header of the model service's OpenAI-compatible answers naming the model that answered
/// (`provider/model`; the fallback when it was used), whatever alias the request named: the
/// gateway keys its per-model usage by it.
pub const ANSWERED_BY_HEADER: &str = "x-sable-answered-by";

/// What `usage` cost at these prices (USD per million input/output tokens).
pub fn cost_usd(input_per_mtok: f64, output_per_mtok: f64, usage: &Usage) -> f64 {
    (f64::from(usage.prompt_tokens) * input_per_mtok
        + f64::from(usage.completion_tokens) * output_per_mtok)
        / 1_000_000.0
}

/// Reads a [`PRICE_HEADER`] value back: `None` unless it is two finite, non-negative numbers.
pub fn parse_price(value: &str) -> Option<(f64, f64)> {
    let (i, o) = value.split_once(',')?;
    let (i, o) = (i.trim().parse::<f64>().ok()?, o.trim().parse::<f64>().ok()?);
    (i.is_finite() && o.is_finite() && i >= 0.0 && o >= 0.0).then_some((i, o))
}

/// `POST /api/v1/generate` and `/api/v1/generate/stream` request (contract §5.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GenerateRequest {
    /// 1..=10 000 code points.
    #[schema(example = "Explain microservices in one sentence")]
    pub prompt: String,
    /// Model id; null or "" means the server's default model.
    #[serde(default)]
    pub model: Option<String>,
    /// 1..=8192, default 1024.
    #[serde(default = "default_max_tokens")]
    #[schema(default = 1024, minimum = 1, maximum = 8192, required = false)]
    pub max_tokens: i64,
    /// 0.0..=2.0, default 0.7.
    #[serde(default = "default_temperature")]
    #[schema(default = 0.7, minimum = 0.0, maximum = 2.0, required = false)]
    pub temperature: f64,
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// Additive: a chat session to store both turns in and to take earlier turns from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Additive, with `session_id`: a message of that session which, with every later
    /// message, is replaced by this turn (regenerate, or edit and resend).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_from_message_id: Option<String>,
    /// Additive: earlier turns of the conversation, oldest first, sent before `prompt`.
    /// The gateway fills this from the session when `session_id` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<ChatTurn>>,
    /// Additive (knowledge): ground this answer in these files of the caller (with the
    /// session's own knowledge, if any). Unknown or another user's ids: 404 `FILE_NOT_FOUND`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_ids: Option<Vec<uuid::Uuid>>,
    /// Additive (knowledge): ground this answer in the files of these collections of the
    /// caller. Unknown or another user's ids: 404 `COLLECTION_NOT_FOUND`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection_ids: Option<Vec<uuid::Uuid>>,
}

fn default_max_tokens() -> i64 {
    DEFAULT_MAX_TOKENS
}

fn default_temperature() -> f64 {
    DEFAULT_TEMPERATURE
}

impl GenerateRequest {
    pub fn new(prompt: impl Into<String>) -> Self {
        Self {
            prompt: prompt.into(),
            model: None,
            max_tokens: DEFAULT_MAX_TOKENS,
            temperature: DEFAULT_TEMPERATURE,
            system_prompt: None,
            session_id: None,
            replace_from_message_id: None,
            messages: None,
            file_ids: None,
            collection_ids: None,
        }
    }

    /// The knowledge this request names itself (`file_ids`, `collection_ids`); empty when none.
    pub fn knowledge(&self) -> super::KnowledgeSettings {
        super::KnowledgeSettings {
            collection_ids: self.collection_ids.clone().unwrap_or_default(),
            file_ids: self.file_ids.clone().unwrap_or_default(),
        }
    }

    /// The requested model, with `""` meaning "the default" as in the reference.
    pub fn requested_model(&self) -> Option<&str> {
        self.model
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
    }
}

impl Validate for GenerateRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.str_len(body("prompt"), &self.prompt, 1, PROMPT_MAX_CHARS);
        c.int_range(
            body("max_tokens"),
            self.max_tokens,
            MAX_TOKENS_MIN,
            MAX_TOKENS_MAX,
        );
        c.float_range(
            body("temperature"),
            self.temperature,
            TEMPERATURE_MIN,
            TEMPERATURE_MAX,
        );
        if let Some(model) = &self.model {
            c.str_len(body("model"), model, 0, MODEL_NAME_MAX_CHARS);
        }
        if let Some(system_prompt) = &self.system_prompt {
            c.str_len(
                body("system_prompt"),
                system_prompt,
                0,
                SYSTEM_PROMPT_MAX_CHARS,
            );
        }
        if let Some(session_id) = &self.session_id {
            if uuid::Uuid::parse_str(session_id.trim()).is_err() {
                c.push(
                    FieldError::new(
                        "uuid_parsing",
                        &["body", "session_id"],
                        "Input should be a valid UUID",
                    )
                    .with_input(serde_json::json!(session_id)),
                );
            }
        }
        if let Some(id) = &self.replace_from_message_id {
            if self.session_id.is_none() {
                c.push(FieldError::new(
                    "missing",
                    &["body", "session_id"],
                    "session_id is required with replace_from_message_id",
                ));
            } else if uuid::Uuid::parse_str(id.trim()).is_err() {
                c.push(
                    FieldError::new(
                        "uuid_parsing",
                        &["body", "replace_from_message_id"],
                        "Input should be a valid UUID",
                    )
                    .with_input(serde_json::json!(id)),
                );
            }
        }
        if let Some(ids) = &self.file_ids {
            c.list_len(body("file_ids"), ids.len(), 0, super::IDS_MAX);
        }
        if let Some(ids) = &self.collection_ids {
            c.list_len(body("collection_ids"), ids.len(), 0, super::IDS_MAX);
        }
        if let Some(messages) = &self.messages {
            c.list_len(body("messages"), messages.len(), 0, MESSAGES_MAX);
            for (i, m) in messages.iter().enumerate() {
                c.str_len(
                    vec!["body".into(), "messages".into(), i.into(), "content".into()],
                    &m.content,
                    1,
                    MESSAGE_CONTENT_MAX_CHARS,
                );
            }
        }
        c.finish()
    }
}

/// Who said a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    System,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::System => "system",
        }
    }
}

/// One earlier turn of a conversation, as given to the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChatTurn {
    pub role: Role,
    pub content: String,
}

/// Token counts; `total_tokens` is always the sum of the other two.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
}

impl Usage {
    pub fn new(prompt_tokens: u32, completion_tokens: u32) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens.saturating_add(completion_tokens),
        }
    }
}

/// `POST /api/v1/generate` response (contract §5.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GenerateResponse {
    pub text: String,
    /// The model that actually answered (the fallback, if it was used).
    pub model: String,
    pub usage: Usage,
    pub latency_ms: f64,
    /// Additive: why generation stopped (`stop`, `length`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// Additive: what the answer cost in USD at the model's configured prices (with a
    /// providers file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Additive (knowledge): the numbered passages the answer was given, when it was grounded
    /// in files (empty when the search found nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<super::Source>>,
    /// Additive (knowledge): the source numbers the answer cites.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cited: Option<Vec<u32>>,
}

/// `GET /api/v1/models` response (additive endpoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelsResponse {
    pub provider: String,
    pub default: String,
    pub fallback: Option<String>,
    pub models: Vec<ModelInfo>,
    /// Additive: alias → the model ids it names (`default`, `fast`, `embeddings`, …).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub aliases: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelInfo {
    pub id: String,
    pub provider: String,
    /// Additive: what kind of provider serves the model (`openai`, or `mock`: the offline
    /// mock), whatever the deployment named the provider. Absent from older model services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_kind: Option<String>,
    pub description: Option<String>,
    /// `default`, `fallback`, or `available`.
    pub role: String,
    /// Additive: what the model does (`chat`, `embeddings`, `vision`, `tools`, `json`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// Additive: tokens the model reads at most, when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u32>,
    /// Additive: tokens the model writes at most, when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// Additive: USD per million input tokens, when priced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_input_per_mtok: Option<f64>,
    /// Additive: USD per million output tokens, when priced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_output_per_mtok: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::parse_json_body;

    #[test]
    fn a_price_header_reads_back_and_prices_usage() {
        let (i, o) = parse_price("0.15,0.6").unwrap();
        let cost = cost_usd(i, o, &Usage::new(1_000_000, 500_000));
        assert!((cost - 0.45).abs() < 1e-12, "{cost}");
        assert_eq!(parse_price("1"), None);
        assert_eq!(parse_price("-1,2"), None);
        assert_eq!(parse_price("NaN,2"), None);
    }

    #[test]
    fn defaults_match_the_contract() {
        let r: GenerateRequest = parse_json_body(br#"{"prompt":"hi"}"#, true).unwrap();
        assert_eq!(r.max_tokens, 1024);
        assert!((r.temperature - 0.7).abs() < f64::EPSILON);
        assert!(r.validate().is_empty());
        assert_eq!(r.requested_model(), None);
    }

    #[test]
    fn every_failing_field_is_reported() {
        let r: GenerateRequest = parse_json_body(
            br#"{"prompt":"","max_tokens":0,"temperature":3,"session_id":"nope"}"#,
            true,
        )
        .unwrap();
        let fields: Vec<String> = r.validate().iter().map(FieldError::field).collect();
        assert_eq!(
            fields,
            ["prompt", "max_tokens", "temperature", "session_id"]
        );
    }

    #[test]
    fn usage_total_is_the_sum() {
        assert_eq!(Usage::new(3, 4).total_tokens, 7);
    }
}
