//! Embeddings through the model service's internal `POST /embeddings` (the `embeddings`
//! alias of its provider registry), with the queue's error classes: a failure the model service
//! marks retryable (provider down, rate limited, timeout) is transient and the file waits;
//! anything else is permanent. Vectors are stored as little-endian f32s with the model that
//! made them and their dimension.

use std::time::Duration;

use common::http::ServiceClient;
use common::schemas::{EmbeddingsRequest, EmbeddingsResponse};
use common::AppError;
use reqwest::{Method, StatusCode};

/// Texts per call: a few hundred passages of a long file go in a handful of calls, each small
/// enough to answer well within its timeout.
pub const BATCH: usize = 64;
/// One call's time limit.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, PartialEq)]
pub enum EmbedError {
    /// No embeddings model is configured (`NO_EMBEDDINGS_MODEL`): index text only.
    NoModel,
    /// Worth retrying later.
    Transient(String),
    /// Retrying cannot help.
    Permanent(String),
}

/// The vectors of `texts`, in order, and the model that made them.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    pub model: String,
    pub dim: usize,
    pub vectors: Vec<Vec<f32>>,
    /// Tokens the model read, all batches together (counted towards the caller's usage).
    pub prompt_tokens: u32,
}

pub async fn embed(client: &ServiceClient, texts: &[String]) -> Result<Embedded, EmbedError> {
    let mut out = Embedded {
        model: String::new(),
        dim: 0,
        vectors: Vec::with_capacity(texts.len()),
        prompt_tokens: 0,
    };
    for batch in texts.chunks(BATCH) {
        let request = EmbeddingsRequest::new(None, batch.to_vec());
        let answer: EmbeddingsResponse = client
            .send_json(
                client
                    .request_within(Method::POST, "/embeddings", CALL_TIMEOUT)
                    .json(&request),
            )
            .await
            .map_err(classify)?;
        if answer.data.len() != batch.len() {
            return Err(EmbedError::Permanent(format!(
                "The embeddings model answered {} vectors for {} passages",
                answer.data.len(),
                batch.len()
            )));
        }
        let mut data = answer.data;
        data.sort_by_key(|d| d.index);
        for d in data {
            if out.dim == 0 {
                out.dim = d.embedding.len();
            }
            if d.embedding.len() != out.dim || out.dim == 0 {
                return Err(EmbedError::Permanent(
                    "The embeddings model answered vectors of different sizes".to_owned(),
                ));
            }
            out.vectors.push(d.embedding);
        }
        // Every batch must come from the same model: a change mid-file would mix spaces.
        if !out.model.is_empty() && out.model != answer.model {
            return Err(EmbedError::Transient(
                "The embeddings model changed while the file was embedded".to_owned(),
            ));
        }
        out.model = answer.model;
        out.prompt_tokens = out.prompt_tokens.saturating_add(answer.usage.prompt_tokens);
    }
    Ok(out)
}

/// The error class of a failed call.
fn classify(e: AppError) -> EmbedError {
    if e.code() == "NO_EMBEDDINGS_MODEL" {
        return EmbedError::NoModel;
    }
    let status = e.status();
    let transient = e.retryable().unwrap_or(
        status == StatusCode::REQUEST_TIMEOUT
            || status == StatusCode::TOO_MANY_REQUESTS
            || status.is_server_error(),
    );
    let message = format!("{}: {}", e.code(), e.public_message());
    if transient {
        EmbedError::Transient(message)
    } else {
        EmbedError::Permanent(message)
    }
}

/// A vector as stored: little-endian f32s.
pub fn to_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A stored vector; `None` when the bytes are not a whole number of f32s.
pub fn from_bytes(b: &[u8]) -> Option<Vec<f32>> {
    if !b.len().is_multiple_of(4) {
        return None;
    }
    Some(
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_through_bytes() {
        let v = vec![0.25_f32, -1.5, 3.0e-7];
        assert_eq!(from_bytes(&to_bytes(&v)), Some(v));
        assert_eq!(from_bytes(&[1, 2, 3]), None);
    }
}
