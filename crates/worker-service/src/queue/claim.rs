//! The dispatcher: claims jobs while the worker has room and hands each to a processor.
//!
//! It claims with one short statement ([`job_repo::claim`]) that commits at once and takes
//! up to as many jobs as there are free job slots. It sleeps until a NOTIFY, a finished job,
//! or the safety-net poll; on shutdown it stops claiming.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use super::{processor, Inner};
use crate::job_repo::{self, FilledSlot};

pub(crate) async fn run(inner: Arc<Inner>, shutdown: CancellationToken, jobs: TaskTracker) {
    let job_slots = Arc::new(Semaphore::new(inner.config.max_jobs));
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        let free = job_slots.available_permits();
        if free > 0 {
            match claim_batch(&inner, &shutdown, &jobs, &job_slots, free).await {
                // Every slot filled: there may be more work, claim again without waiting.
                Ok(claimed) if claimed == free => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "claiming jobs failed; retrying after the poll interval");
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(inner.config.poll_interval) => continue,
                    }
                }
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = inner.wake.notified() => {}
            () = tokio::time::sleep(inner.config.poll_interval) => {}
        }
    }
    tracing::info!(worker_id = %inner.config.worker_id, "stopped claiming");
}

async fn claim_batch(
    inner: &Arc<Inner>,
    shutdown: &CancellationToken,
    jobs: &TaskTracker,
    job_slots: &Arc<Semaphore>,
    free: usize,
) -> Result<usize, sqlx::Error> {
    let cfg = &inner.config;
    let claimed = job_repo::claim(
        &inner.pool,
        &cfg.worker_id,
        cfg.lease,
        i64::try_from(free).unwrap_or(i64::MAX),
    )
    .await?;
    let count = claimed.len();
    if count == 0 {
        return Ok(0);
    }
    metrics::counter!("worker_jobs_claimed_total").increment(count as u64);
    for job in claimed.iter().filter(|j| j.attempts == 1) {
        metrics::histogram!("worker_claim_latency_seconds").record(job.queued_secs.max(0.0));
    }

    // Jobs resumed after a crash or a retry: learn which slots are already written.
    let resumed: Vec<Uuid> = claimed
        .iter()
        .filter(|j| j.filled > 0)
        .map(|j| j.id)
        .collect();
    let mut filled: HashMap<Uuid, Vec<FilledSlot>> = HashMap::new();
    let mut slots_unknown = false;
    if !resumed.is_empty() {
        match job_repo::filled_slots(&inner.pool, &resumed).await {
            Ok(slots) => {
                for slot in slots {
                    filled.entry(slot.job_id).or_default().push(slot);
                }
            }
            Err(e) => {
                // Without the slot list a resumed job could write a slot twice (the primary
                // key would refuse). Let these leases expire; a later claim resumes them.
                tracing::warn!(error = %e, jobs = resumed.len(), "cannot load written slots; leaving resumed jobs to their lease");
                slots_unknown = true;
            }
        }
    }

    let mut held_ids = Vec::with_capacity(count);
    for job in claimed {
        if slots_unknown && job.filled > 0 {
            continue;
        }
        let Ok(permit) = job_slots.clone().try_acquire_owned() else {
            // Cannot happen (we claimed at most `free`); the lease will expire and requeue it.
            tracing::error!(job_id = %job.id, "claimed more jobs than free slots");
            continue;
        };
        let slots = filled.remove(&job.id).unwrap_or_default();
        let held = inner.hold(job.id, job.attempts);
        held_ids.push(job.id);
        tracing::debug!(job_id = %job.id, attempt = job.attempts, resumed_slots = slots.len(), "claimed job");
        use crate::knowledge::file_job::{self, FileJob};
        use crate::knowledge::{ingest::Ingest, reembed::Reembed};
        if job.kind == Ingest::KIND {
            jobs.spawn(file_job::run::<Ingest>(
                inner.clone(),
                job,
                held,
                shutdown.clone(),
                permit,
            ));
        } else if job.kind == Reembed::KIND {
            jobs.spawn(file_job::run::<Reembed>(
                inner.clone(),
                job,
                held,
                shutdown.clone(),
                permit,
            ));
        } else {
            jobs.spawn(processor::run(
                inner.clone(),
                job,
                slots,
                held,
                shutdown.clone(),
                permit,
            ));
        }
    }
    deliver_early_cancels(inner, &held_ids).await;
    Ok(count)
}

/// A cancel NOTIFY that reached the listener between the claim and the hold found no held job
/// and was dropped. The cancel committed before its NOTIFY was sent, so one look at the flags
/// after holding sees every such cancel (later ones find the job held). Without this, a job
/// whose prompts were all in flight would only learn of the cancel at its next heartbeat.
async fn deliver_early_cancels(inner: &Inner, held: &[Uuid]) {
    if held.is_empty() {
        return;
    }
    match job_repo::cancel_requested(&inner.pool, held).await {
        Ok(ids) => {
            for id in ids {
                if let Some(h) = inner.get(id) {
                    tracing::info!(job_id = %id, "cancel requested while the job was being claimed");
                    h.cancel.cancel();
                }
            }
        }
        // The heartbeat reads the same flag within HEARTBEAT_SECS.
        Err(e) => tracing::warn!(error = %e, "cannot check new claims for cancels"),
    }
}
