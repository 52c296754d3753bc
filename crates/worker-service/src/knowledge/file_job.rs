//! What the knowledge job kinds (ingestion, re-embedding) share: the work runs under the job's
//! claim until it ends, the file is deleted (the job cancelled), the claim is lost (another
//! worker took the job over after an expired lease: this one writes nothing), or the worker shuts
//! down (the job is given back at once, its attempt refunded, and any worker starts it over).
//! Then the outcome is settled, the job's slot freed and the claim loop woken.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::ingest_repo::Claim;
use crate::job_repo::{self, ClaimedJob};
use crate::queue::{Held, Inner};

/// One knowledge job kind.
pub(crate) trait FileJob {
    /// What the work produced (or why it stopped).
    type Outcome: Send;
    /// The kind, as `batch_jobs.kind` and the tracing span's `kind` name it.
    const KIND: &'static str;
    /// The outcome when the file was deleted mid-work (the job cancelled).
    fn cancelled() -> Self::Outcome;
    /// Does the job's work.
    fn work(inner: &Inner, job: &ClaimedJob) -> impl Future<Output = Self::Outcome> + Send;
    /// Writes the outcome back, fenced by `claim`.
    fn settle(
        inner: &Inner,
        job: &ClaimedJob,
        claim: Claim<'_>,
        outcome: Self::Outcome,
    ) -> impl Future<Output = ()> + Send;
}

/// Runs one claimed job of kind `J` (see the module docs).
pub(crate) async fn run<J: FileJob>(
    inner: Arc<Inner>,
    job: ClaimedJob,
    held: Held,
    shutdown: CancellationToken,
    _job_slot: OwnedSemaphorePermit,
) {
    let (id, attempt) = (job.id, job.attempts);
    let span = tracing::info_span!("file_job", kind = J::KIND, job_id = %id, attempt, file_id = ?job.file_id);
    async {
        let claim = Claim {
            job: id,
            worker: &inner.config.worker_id,
            attempt,
        };
        let outcome = tokio::select! {
            biased;
            () = held.lost.cancelled() => None,
            () = held.cancel.cancelled() => Some(J::cancelled()),
            () = shutdown.cancelled() => {
                let _ = job_repo::release(&inner.pool, id, claim.worker, attempt, Duration::ZERO, None, true).await;
                None
            }
            outcome = J::work(&inner, &job) => Some(outcome),
        };
        if let Some(outcome) = outcome {
            J::settle(&inner, &job, claim, outcome).await;
        }
        inner.release(id, attempt);
        inner.wake.notify_one();
    }
    .instrument(span)
    .await;
}
