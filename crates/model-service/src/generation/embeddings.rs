//! Embeddings (`POST /embeddings`): the model from the registry's `embeddings` alias or the
//! request, the texts split into batches of [`BATCH_SIZE`], each batch one provider call with
//! the same timeout, retry and error-class rules as a whole completion. There is no fallback
//! model (another model's vectors live in another space), and a failed batch fails the request.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::schemas::{Embedding, EmbeddingUsage, EmbeddingsRequest, EmbeddingsResponse};
use common::AppError;
use tracing::Instrument;

use super::{Generator, MIN_ATTEMPT};
use crate::providers::{ErrorKind, ProviderError};
use crate::registry::capability::Capability;

/// Texts per provider call: below every common server's limit (OpenAI takes 2,048, some
/// local servers far fewer), large enough that an index is embedded in few round trips.
pub const BATCH_SIZE: usize = 128;

impl Generator {
    /// Embeds every input of `req` within the caller's deadline (`X-Sable-Deadline-Ms`, capped
    /// by `MODEL_REQUEST_DEADLINE_SECS`).
    pub async fn embed_within(
        &self,
        req: &EmbeddingsRequest,
        requested: Option<Duration>,
    ) -> Result<EmbeddingsResponse, AppError> {
        let deadline = self.deadline(requested);
        let registry = self.registry();
        let route = registry
            .plan(req.requested_model(), Capability::Embeddings)?
            .remove(0);
        let model = Generator::display(&registry, &route);
        let texts = req.input.texts();
        let started = Instant::now();
        let mut data: Vec<Embedding> = Vec::with_capacity(texts.len());
        let mut prompt_tokens: u32 = 0;
        let mut dimensions: Option<usize> = None;
        let total = route.provider.timeouts.total;
        for (n, batch) in texts.chunks(BATCH_SIZE).enumerate() {
            if n > 0 && deadline.remaining() < MIN_ATTEMPT {
                return Err(embed_error(&model, &deadline.exhausted(None)));
            }
            let result = self
                .with_retry(
                    &route,
                    deadline,
                    Duration::ZERO,
                    (total, "whole call"),
                    || route.provider.provider.embed(route.model_id(), batch),
                )
                .instrument(tracing::info_span!(
                    "provider call",
                    provider = %route.provider.name,
                    model = %route.model_id(),
                    inputs = batch.len()
                ))
                .await
                .and_then(|answer| {
                    let uniform = answer.vectors.first().map(Vec::len);
                    if answer.vectors.len() != batch.len() {
                        Err(malformed(format!(
                            "provider returned {} embeddings for {} inputs",
                            answer.vectors.len(),
                            batch.len()
                        )))
                    } else if answer
                        .vectors
                        .iter()
                        .any(|v| v.is_empty() || Some(v.len()) != dimensions.or(uniform))
                    {
                        Err(malformed(
                            "provider returned embeddings of different lengths".to_owned(),
                        ))
                    } else {
                        dimensions = dimensions.or(uniform);
                        Ok(answer)
                    }
                });
            let answer = result.map_err(|e| embed_error(&model, &e))?;
            prompt_tokens = prompt_tokens.saturating_add(answer.prompt_tokens);
            for vector in answer.vectors {
                data.push(Embedding {
                    object: "embedding".to_owned(),
                    index: u32::try_from(data.len()).unwrap_or(u32::MAX),
                    embedding: vector,
                });
            }
        }
        route
            .metrics()
            .request_duration
            .record(started.elapsed().as_secs_f64());
        let usage = common::schemas::Usage::new(prompt_tokens, 0);
        super::record_usage(&route, &usage);
        super::trace_usage(
            &tracing::Span::current(),
            &route.provider.name,
            route.model_id(),
            &usage,
        );
        Ok(EmbeddingsResponse {
            object: "list".to_owned(),
            model: route.id(),
            data,
            usage: EmbeddingUsage::new(prompt_tokens),
            cost_usd: (!registry.is_single()).then(|| route.cost_usd(&usage)),
        })
    }
}

/// A provider answer that does not fit the request: counted like an unreadable answer.
fn malformed(message: String) -> ProviderError {
    ProviderError::new(ErrorKind::Network, message)
}

/// The envelope of a failed embeddings call: the class gives status, `code`, `retryable` and
/// `Retry-After`, as for completions.
fn embed_error(model: &str, e: &ProviderError) -> AppError {
    let status: StatusCode = e.kind.status();
    AppError::classified(
        status,
        e.kind.code(),
        format!("Embedding failed with {model}: {e}"),
        e.is_retryable(),
        e.retry_after,
    )
}
