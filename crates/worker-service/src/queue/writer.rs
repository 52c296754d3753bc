//! Group commit for progress writes: processors hand their fenced writes to this task, which
//! sends whatever has accumulated as one statement ([`job_repo::write_slots_batch`]). An idle
//! worker writes each result at once; a busy one writes many jobs' results per commit.
//! If a batched statement fails, its writes are sent again one job per statement so that one
//! bad write (which the fence or the slot key refused) cannot hold back the others; retrying a
//! failed write with backoff is the processor's part.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::Inner;
use crate::job_repo::{self, Fenced, JobWrite};

/// Largest number of jobs in one statement.
const MAX_BATCH: usize = 256;

pub(crate) struct WriteRequest {
    pub write: JobWrite,
    pub reply: oneshot::Sender<Result<Fenced, sqlx::Error>>,
}

pub(crate) async fn run(
    inner: Arc<Inner>,
    mut requests: mpsc::Receiver<WriteRequest>,
    stop: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            () = stop.cancelled() => return,
            next = requests.recv() => match next {
                Some(r) => r,
                None => return,
            },
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match requests.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        flush(&inner, batch).await;
    }
}

async fn flush(inner: &Inner, batch: Vec<WriteRequest>) {
    let worker = &inner.config.worker_id;
    if batch.len() > 1 {
        let writes: Vec<JobWrite> = batch.iter().map(|r| r.write.clone()).collect();
        match job_repo::write_slots_batch(&inner.pool, worker, &writes).await {
            Ok(results) => {
                metrics::histogram!("worker_write_batch_jobs").record(batch.len() as f64);
                for (request, result) in batch.into_iter().zip(results) {
                    let _ = request.reply.send(Ok(result));
                }
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, jobs = batch.len(), "batched write failed; writing one by one")
            }
        }
    }
    for request in batch {
        let result =
            job_repo::write_slots_batch(&inner.pool, worker, std::slice::from_ref(&request.write))
                .await
                .map(|fenced| fenced.into_iter().next().unwrap_or(Fenced::LeaseLost));
        let _ = request.reply.send(result);
    }
}
