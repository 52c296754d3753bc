//! Runs one claimed job.
//!
//! The prompts not yet answered (all of them on a first attempt; the missing slots after a
//! crash or a retry) are sent to the model service in parallel, bounded by the worker-wide
//! `WORKER_MAX_PROMPTS`. Each outcome is written to its slot as soon as it lands (outcomes that
//! land together share one statement), fenced by the claim; the statement that writes the last
//! slot also ends the job. No transaction is open while a prompt is in flight.
//!
//! Stopping early:
//! - cancel requested: no new prompts; in-flight ones are written; the job ends `cancelled`;
//! - transient failure (model service down, 429, 5xx, timeout): no new prompts; in-flight ones
//!   are written; the job goes back to `pending` with a backoff delay, or ends `failed` when it
//!   has used its attempts;
//! - shutdown: no new prompts; in-flight ones get the grace period, then the job is released
//!   (`pending`, attempt refunded) for any worker;
//! - lease lost: stop at once and write nothing (another worker owns the job now).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::schemas::JobStatus;
use tokio::sync::{oneshot, OwnedSemaphorePermit};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::writer::WriteRequest;
use super::{backoff, Held, Inner};
use crate::job_repo::{self, ClaimedJob, Fenced, FilledSlot, Finish, JobWrite, SlotWrite};
use crate::model_client::{self, PromptOutcome};

/// Why a job stopped before all its slots were written.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stop {
    Cancel,
    Transient(String),
    Shutdown,
    /// The lease was taken over, or the database refused our writes: write nothing more.
    Abandon,
}

pub(crate) async fn run(
    inner: Arc<Inner>,
    job: ClaimedJob,
    filled: Vec<FilledSlot>,
    held: Held,
    shutdown: CancellationToken,
    _job_slot: OwnedSemaphorePermit,
) {
    let (id, attempt) = (job.id, job.attempts);
    let span = tracing::info_span!("job", job_id = %id, attempt);
    async {
        process(&inner, job, filled, &held, &shutdown).await;
        inner.release(id, attempt);
        inner.wake.notify_one();
    }
    .instrument(span)
    .await;
}

async fn process(
    inner: &Arc<Inner>,
    mut job: ClaimedJob,
    filled: Vec<FilledSlot>,
    held: &Held,
    shutdown: &CancellationToken,
) {
    let total = usize::try_from(job.total_prompts).unwrap_or(0);
    let mut done = vec![false; total];
    let mut errors: BTreeMap<i32, String> = BTreeMap::new();
    for slot in filled {
        if let Some(d) = usize::try_from(slot.idx).ok().and_then(|i| done.get_mut(i)) {
            *d = true;
            if let Some(e) = slot.error {
                errors.insert(slot.idx, e);
            }
        }
    }
    let mut filled_count = done.iter().filter(|d| **d).count();
    let mut missing: VecDeque<usize> = (0..total).filter(|i| !done[*i]).collect();
    let prompts = Arc::new(std::mem::take(&mut job.prompts.0));
    let model = job.model.clone();
    let max_tokens = i64::from(job.max_tokens);

    if missing.is_empty() {
        // Every slot was written but the job was not ended (cannot normally happen: the last
        // slot's statement ends it). End it now.
        let finish = final_state(&errors, total);
        let _ = write(inner, &job, &[], Some(&finish)).await;
        record_finish(&finish);
        return;
    }

    let mut inflight: JoinSet<(i32, PromptOutcome)> = JoinSet::new();
    let mut stop: Option<Stop> = None;
    let mut grace_deadline: Option<tokio::time::Instant> = None;
    loop {
        let can_launch = stop.is_none() && !missing.is_empty();
        if !can_launch && inflight.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            () = held.lost.cancelled(), if stop != Some(Stop::Abandon) => {
                tracing::warn!("lease lost: abandoning the job to its new owner");
                stop = Some(Stop::Abandon);
                inflight.abort_all();
            }
            Some(first) = inflight.join_next(), if !inflight.is_empty() => {
                let mut joined = vec![first];
                while let Some(more) = inflight.try_join_next() {
                    joined.push(more);
                }
                let mut writes = Vec::new();
                for result in joined {
                    match result {
                        Ok((idx, PromptOutcome::Answer(text))) => writes.push(SlotWrite { idx, text: Some(text), error: None }),
                        Ok((idx, PromptOutcome::Permanent(message))) => {
                            errors.insert(idx, message.clone());
                            writes.push(SlotWrite { idx, text: None, error: Some(message) });
                        }
                        Ok((idx, PromptOutcome::Transient(message))) => {
                            tracing::info!(prompt = idx, error = %message, "transient failure; the job will be retried");
                            if matches!(stop, None | Some(Stop::Shutdown)) {
                                stop = Some(Stop::Transient(message));
                            }
                        }
                        Err(e) if e.is_cancelled() => {}
                        Err(e) => {
                            tracing::error!(error = %e, "prompt task failed");
                            if stop.is_none() {
                                stop = Some(Stop::Transient("The worker failed while processing a prompt.".to_owned()));
                            }
                        }
                    }
                }
                if writes.is_empty() || stop == Some(Stop::Abandon) {
                    continue;
                }
                filled_count += writes.len();
                let finish = (filled_count == total).then(|| final_state(&errors, total));
                match write(inner, &job, &writes, finish.as_ref()).await {
                    Some(Fenced::Written { cancel_requested }) => {
                        if let Some(finish) = finish {
                            record_finish(&finish);
                            return;
                        }
                        if cancel_requested && matches!(stop, None | Some(Stop::Shutdown)) {
                            stop = Some(Stop::Cancel);
                        }
                    }
                    Some(Fenced::LeaseLost) | None => {
                        stop = Some(Stop::Abandon);
                        inflight.abort_all();
                    }
                }
            }
            permit = inner.prompt_slots.clone().acquire_owned(), if can_launch => {
                let Ok(permit) = permit else { break };
                let Some(idx) = missing.pop_front() else { continue };
                let prompts = prompts.clone();
                let model = model.clone();
                let client = inner.model.clone();
                let job_id = job.id;
                inflight.spawn(async move {
                    let _permit = permit;
                    let started = Instant::now();
                    let prompt = prompts.get(idx).map_or("", String::as_str);
                    // The model service logs this call under the job's id and prompt index.
                    let request_id = format!("job-{job_id}-{idx}");
                    let outcome = common::request_id::scope(
                        request_id,
                        model_client::generate(&client, prompt, model.as_deref(), max_tokens),
                    )
                    .await;
                    let kind = match &outcome {
                        PromptOutcome::Answer(_) => "answer",
                        PromptOutcome::Permanent(_) => "permanent_error",
                        PromptOutcome::Transient(_) => "transient_error",
                    };
                    metrics::counter!("worker_prompts_total", "outcome" => kind).increment(1);
                    metrics::histogram!("worker_prompt_duration_seconds").record(started.elapsed().as_secs_f64());
                    (i32::try_from(idx).unwrap_or(i32::MAX), outcome)
                });
            }
            () = held.cancel.cancelled(), if stop.is_none() => {
                tracing::info!("cancel requested: finishing in-flight prompts");
                stop = Some(Stop::Cancel);
            }
            () = shutdown.cancelled(), if grace_deadline.is_none() => {
                grace_deadline = Some(tokio::time::Instant::now() + inner.config.shutdown_grace);
                if stop.is_none() {
                    stop = Some(Stop::Shutdown);
                }
            }
            () = sleep_until(grace_deadline), if grace_deadline.is_some() && !inflight.is_empty() => {
                tracing::warn!(in_flight = inflight.len(), "grace period over: abandoning in-flight prompts");
                inflight.abort_all();
                grace_deadline = Some(tokio::time::Instant::now() + Duration::from_secs(3600));
            }
        }
    }

    match stop {
        Some(Stop::Abandon) | None => {}
        Some(Stop::Cancel) => {
            let finish = Finish {
                status: JobStatus::Cancelled,
                error: None,
            };
            if matches!(
                write(inner, &job, &[], Some(&finish)).await,
                Some(Fenced::Written { .. })
            ) {
                tracing::info!("job cancelled");
                record_finish(&finish);
            }
        }
        Some(Stop::Transient(message)) if job.attempts >= job.max_attempts => {
            let attempts = job.attempts;
            let plural = if attempts == 1 { "" } else { "s" };
            let finish = Finish {
                status: JobStatus::Failed,
                error: Some(format!(
                    "{message} Gave up after {attempts} attempt{plural}."
                )),
            };
            if matches!(
                write(inner, &job, &[], Some(&finish)).await,
                Some(Fenced::Written { .. })
            ) {
                tracing::warn!(error = ?finish.error, "job failed: out of attempts");
                record_finish(&finish);
            }
        }
        Some(Stop::Transient(message)) => {
            let cfg = &inner.config;
            let delay = backoff::delay(job.attempts, cfg.retry_base_delay, cfg.retry_max_delay);
            let released = job_repo::release(
                &inner.pool,
                job.id,
                &cfg.worker_id,
                job.attempts,
                delay,
                Some(&message),
                false,
            )
            .await;
            match released {
                Ok(Fenced::Written { .. }) => {
                    tracing::info!(
                        delay_ms = delay.as_millis() as u64,
                        "job released for a retry"
                    );
                    metrics::counter!("worker_jobs_retried_total").increment(1);
                    schedule_wake(inner.clone(), delay, shutdown.clone());
                }
                Ok(Fenced::LeaseLost) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot release the job; its lease will expire")
                }
            }
        }
        Some(Stop::Shutdown) => {
            let cfg = &inner.config;
            match job_repo::release(
                &inner.pool,
                job.id,
                &cfg.worker_id,
                job.attempts,
                Duration::ZERO,
                None,
                true,
            )
            .await
            {
                Ok(Fenced::Written { .. }) => {
                    tracing::info!("job released at shutdown");
                    let _ = job_repo::notify_queue(&inner.pool).await;
                }
                Ok(Fenced::LeaseLost) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot release the job at shutdown; its lease will expire")
                }
            }
        }
    }
}

/// The status a job ends with once every slot is written: `completed` when every prompt was
/// answered, `failed` (naming the first failed prompt) when any prompt failed permanently.
fn final_state(errors: &BTreeMap<i32, String>, total: usize) -> Finish {
    match errors.iter().next() {
        None => Finish {
            status: JobStatus::Completed,
            error: None,
        },
        Some((idx, message)) => Finish {
            status: JobStatus::Failed,
            error: Some(format!(
                "{} of {total} prompts failed; first, prompt #{}: {message}",
                errors.len(),
                idx + 1
            )),
        },
    }
}

fn record_finish(finish: &Finish) {
    metrics::counter!("worker_jobs_finished_total", "status" => finish.status.as_str())
        .increment(1);
}

/// A fenced write, retried briefly on database errors. `None`: the database kept failing (or
/// refused the write); the caller abandons the job and its lease expires.
async fn write(
    inner: &Inner,
    job: &ClaimedJob,
    slots: &[SlotWrite],
    finish: Option<&Finish>,
) -> Option<Fenced> {
    let mut delay = Duration::from_millis(100);
    for attempt in 1..=3 {
        match group_write(inner, job, slots, finish).await {
            Ok(Fenced::LeaseLost) => {
                tracing::warn!("write refused: the lease was taken over");
                return Some(Fenced::LeaseLost);
            }
            Ok(written) => return Some(written),
            Err(e) => {
                let unique_violation = e
                    .as_database_error()
                    .is_some_and(|d| d.kind() == sqlx::error::ErrorKind::UniqueViolation);
                tracing::error!(error = %e, attempt, "writing job progress failed");
                if unique_violation || attempt == 3 {
                    return None;
                }
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
        }
    }
    None
}

/// Hands a write to the worker's group-commit writer and waits for its outcome.
async fn group_write(
    inner: &Inner,
    job: &ClaimedJob,
    slots: &[SlotWrite],
    finish: Option<&Finish>,
) -> Result<Fenced, sqlx::Error> {
    let (reply, outcome) = oneshot::channel();
    let write = JobWrite {
        job: job.id,
        attempt: job.attempts,
        slots: slots.to_vec(),
        finish: finish.cloned(),
    };
    inner
        .writer
        .send(WriteRequest { write, reply })
        .await
        .map_err(|_| sqlx::Error::PoolClosed)?;
    outcome.await.map_err(|_| sqlx::Error::PoolClosed)?
}

/// Wakes idle workers when a retried job falls due.
fn schedule_wake(inner: Arc<Inner>, delay: Duration, shutdown: CancellationToken) {
    tokio::spawn(async move {
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(delay) => {
                inner.wake.notify_one();
                let _ = job_repo::notify_queue(&inner.pool).await;
            }
        }
    });
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_answered_is_completed() {
        let f = final_state(&BTreeMap::new(), 3);
        assert_eq!(f.status, JobStatus::Completed);
        assert_eq!(f.error, None);
    }

    #[test]
    fn any_permanent_failure_fails_the_job_naming_the_first() {
        let errors = BTreeMap::from([(4, "bad".to_owned()), (1, "worse".to_owned())]);
        let f = final_state(&errors, 10);
        assert_eq!(f.status, JobStatus::Failed);
        assert_eq!(
            f.error.as_deref(),
            Some("2 of 10 prompts failed; first, prompt #2: worse")
        );
    }
}
