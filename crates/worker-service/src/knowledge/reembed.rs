//! Runs one claimed re-embed job (`batch_jobs.kind = 'reembed'`): the embeddings model changed
//! since the file was indexed (retrieval noticed, [`ingest_repo::queue_reembeds`]), so its
//! passages get vectors of the current model. The file stays `ready` throughout: until the
//! new vectors are written, in one fenced transaction, it is found by its text only (the vector
//! side compares only vectors of the query's own model and dimension), never by mixed vectors.
//!
//! Failures keep the file as it is: a transient one (the provider down) is retried with the
//! queue's backoff, a permanent one ends the job `failed` (retrieval queues no other re-embed
//! of that file to that model for an hour).

use uuid::Uuid;

use super::embed::{self, EmbedError};
use super::file_job::FileJob;
use super::ingest_repo::{self, Claim, Embeddings, Written};
use crate::job_repo::{self, ClaimedJob};
use crate::queue::backoff::Backoff;
use crate::queue::Inner;

pub(crate) enum Outcome {
    /// New vectors for these passages.
    Embedded {
        ids: Vec<Uuid>,
        model: String,
        dim: i32,
        vectors: Vec<Vec<u8>>,
    },
    /// Nothing to do (the file is not ready, or no model is configured now).
    Nothing(&'static str),
    /// The file was deleted (its job cancelled).
    Cancelled,
    Transient(String),
    Permanent(String),
}

/// Re-embedding as a knowledge job kind ([`file_job::run`]).
pub(crate) struct Reembed;

impl FileJob for Reembed {
    type Outcome = Outcome;
    const KIND: &'static str = "reembed";

    fn cancelled() -> Outcome {
        Outcome::Cancelled
    }

    async fn work(inner: &Inner, job: &ClaimedJob) -> Outcome {
        reembed(inner, job).await
    }

    async fn settle(inner: &Inner, job: &ClaimedJob, claim: Claim<'_>, outcome: Outcome) {
        settle(inner, job, claim, outcome).await;
    }
}

async fn reembed(inner: &Inner, job: &ClaimedJob) -> Outcome {
    let Some(file) = job.file_id else {
        return Outcome::Cancelled;
    };
    let passages = match ingest_repo::passages_to_reembed(&inner.pool, file).await {
        Ok(p) => p,
        Err(e) => return Outcome::Transient(format!("database: {e}")),
    };
    if passages.is_empty() {
        return Outcome::Nothing("The file is not ready; nothing to re-embed");
    }
    let (ids, texts): (Vec<Uuid>, Vec<String>) = passages.into_iter().unzip();
    match embed::embed(&inner.model, &texts).await {
        Ok(e) => Outcome::Embedded {
            ids,
            model: e.model,
            dim: i32::try_from(e.dim).unwrap_or(i32::MAX),
            vectors: e.vectors.iter().map(|v| embed::to_bytes(v)).collect(),
        },
        Err(EmbedError::NoModel) => {
            Outcome::Nothing("No embeddings model is configured; nothing to re-embed")
        }
        Err(EmbedError::Transient(m)) => Outcome::Transient(m),
        Err(EmbedError::Permanent(m)) => {
            Outcome::Permanent(format!("The passages could not be re-embedded: {m}"))
        }
    }
}

async fn settle(inner: &Inner, job: &ClaimedJob, claim: Claim<'_>, outcome: Outcome) {
    let file = job.file_id.unwrap_or_default();
    let written = match outcome {
        Outcome::Embedded {
            ids,
            model,
            dim,
            vectors,
        } => {
            ingest_repo::finish_reembedded(
                &inner.pool,
                claim,
                file,
                &ids,
                Embeddings {
                    model: &model,
                    dim,
                    vectors: &vectors,
                },
            )
            .await
        }
        Outcome::Cancelled => return end_cancelled(inner, claim).await,
        Outcome::Nothing(why) => ingest_repo::end_job_only(&inner.pool, claim, file, Ok(why)).await,
        Outcome::Permanent(message) => {
            tracing::warn!(error = %message, "re-embedding failed; the file keeps its passages");
            ingest_repo::end_job_only(&inner.pool, claim, file, Err(&message)).await
        }
        Outcome::Transient(message) => return retry(inner, job, claim, &message).await,
    };
    match written {
        Ok(Written::Done) => {}
        Ok(Written::FileGone) => end_cancelled(inner, claim).await,
        Ok(Written::LeaseLost) => tracing::warn!("lease lost: the new owner re-embeds the file"),
        Err(e) => tracing::error!(error = %e, "writing the re-embedded file failed"),
    }
}

async fn end_cancelled(inner: &Inner, claim: Claim<'_>) {
    if let Err(e) = ingest_repo::end_cancelled(&inner.pool, claim).await {
        tracing::warn!(error = %e, "cannot end a cancelled re-embed; its lease will expire");
    }
}

/// A transient failure: back to `pending` after a backoff, or failed when out of attempts
/// (the file stays ready with its passages either way).
async fn retry(inner: &Inner, job: &ClaimedJob, claim: Claim<'_>, message: &str) {
    let file = job.file_id.unwrap_or_default();
    if job.attempts >= job.max_attempts {
        let error = format!("{message}. Gave up after {} attempts.", job.attempts);
        if let Err(e) = ingest_repo::end_job_only(&inner.pool, claim, file, Err(&error)).await {
            tracing::error!(error = %e, "cannot fail an exhausted re-embed");
        }
        return;
    }
    let cfg = &inner.config;
    let delay = Backoff::new(cfg.retry_base_delay, cfg.retry_max_delay)
        .delay(u32::try_from(job.attempts).unwrap_or(1));
    tracing::info!(error = %message, delay_ms = delay.as_millis() as u64, "re-embed will be retried");
    if let Err(e) = job_repo::release(
        &inner.pool,
        job.id,
        claim.worker,
        claim.attempt,
        delay,
        Some(message),
        false,
    )
    .await
    {
        tracing::warn!(error = %e, "cannot release the re-embed job; its lease will expire");
    }
}
