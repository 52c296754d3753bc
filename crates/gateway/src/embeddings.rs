//! OpenAI's embeddings wire format (`POST /v1/embeddings`): the request as OpenAI clients send
//! it, its translation to the model service's `POST /embeddings`, and the answer with floats or
//! base64 (the official Python client asks for base64 unless told otherwise: little-endian
//! `f32`s, as OpenAI sends them). The route is in `crate::routes::embeddings`.
//!
//! Honoured: `model` (an alias, `provider/model` or a model id; omitted means the `embeddings`
//! alias), `input` (a string or a list of strings), `encoding_format` (`float` or `base64`).
//! Accepted and ignored: `user`. Refused with 400: token-array inputs, `dimensions`.

use base64::Engine;
use common::schemas::{EmbeddingInput, EmbeddingUsage, EmbeddingsRequest, EmbeddingsResponse};
use common::validation::{body, FieldError, Validate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct EmbeddingsCreate {
    /// A model from `GET /v1/models` with the `embeddings` capability, an alias, or omitted
    /// for the server's embeddings model.
    #[serde(default)]
    pub model: Option<String>,
    /// A string or a list of 1..=2048 strings, each 1..=100 000 code points.
    pub input: EmbeddingInput,
    /// `float` (default) or `base64`.
    #[serde(default)]
    pub encoding_format: Option<String>,
    /// Not supported (vectors have the model's own length).
    #[serde(default)]
    pub dimensions: Option<i64>,
    /// Accepted, not used.
    #[serde(default)]
    pub user: Option<String>,
}

impl EmbeddingsCreate {
    pub fn base64(&self) -> bool {
        self.encoding_format.as_deref() == Some("base64")
    }

    /// The model service's request.
    pub fn to_internal(&self) -> EmbeddingsRequest {
        EmbeddingsRequest {
            model: self.model.clone(),
            input: self.input.clone(),
        }
    }
}

impl Validate for EmbeddingsCreate {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = self.to_internal().validate();
        if !matches!(
            self.encoding_format.as_deref(),
            None | Some("float" | "base64")
        ) {
            errors.push(FieldError::at(
                "value_error",
                body("encoding_format"),
                "encoding_format must be `float` or `base64`",
            ));
        }
        if self.dimensions.is_some() {
            errors.push(FieldError::at(
                "value_error",
                body("dimensions"),
                "dimensions is not supported: vectors have the model's own length",
            ));
        }
        errors
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingList {
    /// `list`
    pub object: &'static str,
    pub model: String,
    pub data: Vec<EmbeddingObject>,
    pub usage: EmbeddingUsage,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingObject {
    /// `embedding`
    pub object: &'static str,
    pub index: u32,
    pub embedding: EmbeddingVector,
}

/// The floats, or with `encoding_format: base64` their little-endian `f32` bytes in base64.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EmbeddingVector {
    Float(Vec<f32>),
    Base64(String),
}

impl EmbeddingList {
    pub fn from_internal(answer: EmbeddingsResponse, base64: bool) -> Self {
        Self {
            object: "list",
            model: answer.model,
            data: answer
                .data
                .into_iter()
                .map(|d| EmbeddingObject {
                    object: "embedding",
                    index: d.index,
                    embedding: if base64 {
                        EmbeddingVector::Base64(encode(&d.embedding))
                    } else {
                        EmbeddingVector::Float(d.embedding)
                    },
                })
                .collect(),
            usage: answer.usage,
        }
    }
}

fn encode(vector: &[f32]) -> String {
    let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::schemas::Embedding;
    use serde_json::json;

    #[test]
    fn base64_is_little_endian_f32() {
        let answer = EmbeddingsResponse {
            object: "list".into(),
            model: "mock/e".into(),
            data: vec![Embedding {
                object: "embedding".into(),
                index: 0,
                embedding: vec![1.0, -0.5],
            }],
            usage: EmbeddingUsage::new(2),
            cost_usd: None,
        };
        let list = EmbeddingList::from_internal(answer, true);
        let value = serde_json::to_value(&list).unwrap();
        // 1.0 = 00 00 80 3f, -0.5 = 00 00 00 bf.
        assert_eq!(value["data"][0]["embedding"], "AACAPwAAAL8=");
        assert_eq!(
            value["usage"],
            json!({"prompt_tokens": 2, "total_tokens": 2})
        );
    }

    #[test]
    fn unknown_formats_and_dimensions_are_refused_by_field() {
        let r: EmbeddingsCreate = serde_json::from_value(
            json!({"model": "m", "input": "x", "encoding_format": "int8", "dimensions": 3}),
        )
        .unwrap();
        let fields: Vec<String> = r.validate().iter().map(FieldError::field).collect();
        assert_eq!(fields, ["encoding_format", "dimensions"]);
    }
}
