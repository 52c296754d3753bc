//! `POST /embeddings` of the model service (internal) in OpenAI's embeddings shape, which the
//! gateway's `POST /v1/embeddings` serves to clients.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::limits::{EMBEDDING_INPUTS_MAX, EMBEDDING_INPUT_MAX_CHARS, MODEL_NAME_MAX_CHARS};
use crate::validation::{body, Checker, FieldError, Validate};

/// Texts to embed: one string or a list of strings (OpenAI's token-array inputs are not
/// accepted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum EmbeddingInput {
    One(String),
    Many(Vec<String>),
}

impl EmbeddingInput {
    pub fn texts(&self) -> &[String] {
        match self {
            Self::One(text) => std::slice::from_ref(text),
            Self::Many(texts) => texts,
        }
    }

    pub fn into_texts(self) -> Vec<String> {
        match self {
            Self::One(text) => vec![text],
            Self::Many(texts) => texts,
        }
    }
}

/// An embeddings request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmbeddingsRequest {
    /// An alias, `provider/model` or a bare model id; null or "" means the `embeddings` alias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// 1..=2048 texts of 1..=100 000 code points each.
    pub input: EmbeddingInput,
}

impl EmbeddingsRequest {
    pub fn new(model: Option<&str>, texts: Vec<String>) -> Self {
        Self {
            model: model.map(str::to_owned),
            input: EmbeddingInput::Many(texts),
        }
    }

    /// The requested model, `""` meaning the default.
    pub fn requested_model(&self) -> Option<&str> {
        self.model
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
    }
}

impl Validate for EmbeddingsRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        if let Some(model) = &self.model {
            c.str_len(body("model"), model, 0, MODEL_NAME_MAX_CHARS);
        }
        match &self.input {
            EmbeddingInput::One(text) => {
                c.str_len(body("input"), text, 1, EMBEDDING_INPUT_MAX_CHARS);
            }
            EmbeddingInput::Many(texts) => {
                c.list_len(body("input"), texts.len(), 1, EMBEDDING_INPUTS_MAX);
                for (i, text) in texts.iter().enumerate() {
                    c.str_len(
                        vec![json!("body"), json!("input"), json!(i)],
                        text,
                        1,
                        EMBEDDING_INPUT_MAX_CHARS,
                    );
                }
            }
        }
        c.finish()
    }
}

/// An embeddings answer, in OpenAI's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmbeddingsResponse {
    /// `list`
    pub object: String,
    /// The model that answered (`provider/model` once resolved).
    pub model: String,
    /// One vector per input, in input order (`index` is the input's position).
    pub data: Vec<Embedding>,
    pub usage: EmbeddingUsage,
    /// Additive: what the call cost in USD at the model's configured price (with a providers
    /// file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Embedding {
    /// `embedding`
    pub object: String,
    pub index: u32,
    pub embedding: Vec<f32>,
}

/// Input tokens (an embedding has no output tokens).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EmbeddingUsage {
    pub prompt_tokens: u32,
    pub total_tokens: u32,
}

impl EmbeddingUsage {
    pub fn new(prompt_tokens: u32) -> Self {
        Self {
            prompt_tokens,
            total_tokens: prompt_tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::parse_json_body;

    #[test]
    fn one_string_or_a_list_is_accepted() {
        let one: EmbeddingsRequest = parse_json_body(br#"{"input":"hello"}"#, true).unwrap();
        assert_eq!(one.input.texts(), ["hello"]);
        assert_eq!(one.requested_model(), None);
        assert!(one.validate().is_empty());
        let many: EmbeddingsRequest =
            parse_json_body(br#"{"model":"m","input":["a","b"]}"#, true).unwrap();
        assert_eq!(many.input.texts(), ["a", "b"]);
        assert_eq!(many.requested_model(), Some("m"));
    }

    #[test]
    fn empty_inputs_are_refused_by_field() {
        let r: EmbeddingsRequest = parse_json_body(br#"{"input":["a",""]}"#, true).unwrap();
        let fields: Vec<String> = r.validate().iter().map(FieldError::field).collect();
        assert_eq!(fields, ["input.1"]);
        let r: EmbeddingsRequest = parse_json_body(br#"{"input":[]}"#, true).unwrap();
        assert_eq!(r.validate()[0].field(), "input");
        let r: EmbeddingsRequest = parse_json_body(br#"{"input":""}"#, true).unwrap();
        assert_eq!(r.validate()[0].field(), "input");
    }
}
