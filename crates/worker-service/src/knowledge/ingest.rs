//! Runs one claimed ingestion job (`batch_jobs.kind = 'ingest'`): read the blob → extract →
//! chunk → embed → index, the file's `stage` showing where it is. The queue's machinery is
//! shared with prompt jobs: the claim, the lease and its heartbeat, the reaper (a worker killed
//! mid-file leaves the job to be claimed again; ingestion starts over, replacing any chunks),
//! cancel (deleting the file cancels the job), and retries with backoff for transient failures
//! (the store or the embedding provider unavailable: the file stays `processing`).
//!
//! A file that cannot be read fails alone with a readable error; nothing is written unless the
//! claim still holds the job and the file still exists ([`ingest_repo`]).

use super::chunk;
use super::embed::{self, EmbedError};
use super::extract::{self, ExtractError};
use super::file_job::FileJob;
use super::ingest_repo::{self, Claim, Embeddings, Written};
use super::store::BlobStore;
use crate::job_repo::{self, ClaimedJob};
use crate::queue::backoff::Backoff;
use crate::queue::Inner;

/// What ingestion needs beyond the queue.
#[derive(Clone)]
pub struct IngestSettings {
    pub store: BlobStore,
    pub limits: extract::Limits,
}

impl std::fmt::Debug for IngestSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestSettings")
            .field("store", &self.store.describe)
            .field("limits", &self.limits)
            .finish()
    }
}

/// Why ingestion stopped short of `ready`.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The file cannot be ingested; `failed` with this message.
    Permanent(String),
    /// Try again later (backoff); the file stays `processing`.
    Transient(String),
    /// The file was deleted.
    Gone,
}

/// What ingestion produced.
pub(crate) struct Ingested {
    pages: Option<i32>,
    chunks: Vec<chunk::Chunk>,
    /// The chunks' vectors (little-endian f32s) with their model and dimension; `None` when no
    /// embeddings model is configured (the file is searchable by its text only).
    vectors: Option<(String, i32, Vec<Vec<u8>>)>,
}

/// Ingestion as a knowledge job kind ([`file_job::run`]).
pub(crate) struct Ingest;

impl FileJob for Ingest {
    type Outcome = Result<Ingested, Failure>;
    const KIND: &'static str = "ingest";

    fn cancelled() -> Self::Outcome {
        Err(Failure::Gone)
    }

    async fn work(inner: &Inner, job: &ClaimedJob) -> Self::Outcome {
        ingest(inner, job).await
    }

    async fn settle(inner: &Inner, job: &ClaimedJob, claim: Claim<'_>, outcome: Self::Outcome) {
        settle(inner, job, claim, outcome).await;
    }
}

async fn ingest(inner: &Inner, job: &ClaimedJob) -> Result<Ingested, Failure> {
    let Some(settings) = inner.config.ingest.as_ref() else {
        return Err(Failure::Transient(
            "This worker cannot ingest files".to_owned(),
        ));
    };
    let file_id = job.file_id.ok_or(Failure::Gone)?;
    let db = |e: sqlx::Error| Failure::Transient(format!("database: {e}"));
    let file = ingest_repo::load(&inner.pool, file_id)
        .await
        .map_err(db)?
        .ok_or(Failure::Gone)?;
    ingest_repo::set_stage(&inner.pool, file.id, "extracting")
        .await
        .map_err(db)?;
    let bytes = settings.store.read(&file.blob_key).await.map_err(|e| {
        tracing::warn!(error = %e, "stored file unreadable");
        Failure::Transient("The file store is unavailable".to_owned())
    })?;
    let extracted = extract::extract(&file.kind, bytes, settings.limits)
        .await
        .map_err(|ExtractError(message)| Failure::Permanent(message))?;
    ingest_repo::set_stage(&inner.pool, file.id, "chunking")
        .await
        .map_err(db)?;
    let pages = (!extracted.page_starts.is_empty())
        .then(|| i32::try_from(extracted.page_starts.len()).unwrap_or(i32::MAX));
    // Tokenising is CPU work: off the runtime.
    let chunks = tokio::task::spawn_blocking(move || chunk::chunks(&extracted))
        .await
        .map_err(|_| Failure::Permanent("The file could not be split into passages".to_owned()))?;
    if chunks.is_empty() {
        return Err(Failure::Permanent("No text found in the file".to_owned()));
    }
    ingest_repo::set_stage(&inner.pool, file.id, "embedding")
        .await
        .map_err(db)?;
    let texts: Vec<String> = chunks.iter().map(|c| c.text.clone()).collect();
    let vectors = match embed::embed(&inner.model, &texts).await {
        Ok(e) => Some((
            e.model,
            i32::try_from(e.dim).unwrap_or(i32::MAX),
            e.vectors.iter().map(|v| embed::to_bytes(v)).collect(),
        )),
        Err(EmbedError::NoModel) => {
            tracing::info!("no embeddings model configured: indexing text only");
            None
        }
        Err(EmbedError::Transient(message)) => return Err(Failure::Transient(message)),
        Err(EmbedError::Permanent(message)) => {
            return Err(Failure::Permanent(format!(
                "The passages could not be embedded: {message}"
            )))
        }
    };
    ingest_repo::set_stage(&inner.pool, file.id, "indexing")
        .await
        .map_err(db)?;
    Ok(Ingested {
        pages,
        chunks,
        vectors,
    })
}

async fn settle(
    inner: &Inner,
    job: &ClaimedJob,
    claim: Claim<'_>,
    outcome: Result<Ingested, Failure>,
) {
    let file = job.file_id.unwrap_or_default();
    let written = match outcome {
        Ok(done) => {
            let owner = match ingest_repo::load(&inner.pool, file).await {
                Ok(Some(f)) => f.user_id,
                _ => return end_cancelled(inner, claim).await,
            };
            ingest_repo::finish_ready(
                &inner.pool,
                claim,
                file,
                owner,
                done.pages,
                &done.chunks,
                done.vectors
                    .as_ref()
                    .map(|(model, dim, vectors)| Embeddings {
                        model,
                        dim: *dim,
                        vectors,
                    }),
            )
            .await
        }
        Err(Failure::Permanent(message)) => {
            tracing::info!(error = %message, "file failed ingestion");
            ingest_repo::finish_failed(&inner.pool, claim, file, &message).await
        }
        Err(Failure::Gone) => return end_cancelled(inner, claim).await,
        Err(Failure::Transient(message)) => return retry(inner, job, claim, &message).await,
    };
    match written {
        Ok(Written::Done) => {
            metrics::counter!("worker_files_ingested_total").increment(1);
        }
        Ok(Written::FileGone) => end_cancelled(inner, claim).await,
        Ok(Written::LeaseLost) => tracing::warn!("lease lost: the new owner ingests the file"),
        Err(e) => {
            // The lease expires and the job is claimed again.
            tracing::error!(error = %e, "writing the ingested file failed");
        }
    }
}

async fn end_cancelled(inner: &Inner, claim: Claim<'_>) {
    tracing::info!("file deleted: ingestion cancelled");
    if let Err(e) = ingest_repo::end_cancelled(&inner.pool, claim).await {
        tracing::warn!(error = %e, "cannot end a cancelled ingestion; its lease will expire");
    }
}

/// A transient failure: back to `pending` after a backoff, or failed when out of attempts.
async fn retry(inner: &Inner, job: &ClaimedJob, claim: Claim<'_>, message: &str) {
    let file = job.file_id.unwrap_or_default();
    if job.attempts >= job.max_attempts {
        let error = format!(
            "{message}. Gave up after {} attempts; upload the file again to retry.",
            job.attempts
        );
        if let Err(e) = ingest_repo::finish_failed(&inner.pool, claim, file, &error).await {
            tracing::error!(error = %e, "cannot fail an exhausted ingestion");
        }
        return;
    }
    let cfg = &inner.config;
    let delay = Backoff::new(cfg.retry_base_delay, cfg.retry_max_delay)
        .delay(u32::try_from(job.attempts).unwrap_or(1));
    tracing::info!(error = %message, delay_ms = delay.as_millis() as u64, "ingestion will be retried");
    match job_repo::release(
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
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "cannot release the ingestion job; its lease will expire")
        }
    }
}
