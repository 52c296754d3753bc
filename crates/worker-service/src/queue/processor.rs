//! Runs one claimed job in three steps: **launch** prompts, **collect** their outcomes, and
//! **settle** the job.
//!
//! - Launch: the prompts not yet answered (all of them on a first attempt; the missing slots
//!   after a crash or a retry) are sent to the model service in parallel, bounded by the
//!   worker-wide `WORKER_MAX_PROMPTS`.
//! - Collect: each outcome is written to its slot as soon as it lands (outcomes that land
//!   together share one statement), fenced by the claim; the statement that writes the last
//!   slot also ends the job. A permanent failure (the model service said `retryable: false`)
//!   is that prompt's error at once and the other prompts go on. No transaction is open while a
//!   prompt is in flight.
//! - Settle: how a job that stopped early ends (below).
//!
//! A job whose every slot is written ends `completed` — also when some prompts failed
//! permanently (`failed_prompts > 0`); only a job whose every prompt failed ends `failed`.
//!
//! Stopping early:
//! - cancel requested: the in-flight model requests are aborted (the model service drops its
//!   provider calls), answers already stored are kept, and the job ends `cancelled`;
//! - transient failure (model service down, rate limited, overloaded, timeout): no new
//!   prompts; in-flight ones are written; the job goes back to `pending` with a backoff delay
//!   (at least the model service's `Retry-After`), or ends `failed` when it has used its
//!   attempts;
//! - shutdown: no new prompts; in-flight ones get the grace period, then the job is released
//!   (`pending`, attempt refunded) for any worker;
//! - lease lost: stop at once and write nothing (another worker owns the job now).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::schemas::JobStatus;
use tokio::sync::{oneshot, OwnedSemaphorePermit};
use tokio::task::{JoinError, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::backoff::Backoff;
use super::writer::WriteRequest;
use super::{Held, Inner};
use crate::job_repo::{self, ClaimedJob, Fenced, FilledSlot, Finish, JobWrite, SlotWrite};
use crate::model_client::{self, PromptOutcome};

/// Why a job stopped before all its slots were written.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stop {
    Cancel,
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
    Shutdown,
    /// The lease was taken over, or the database refused our writes: write nothing more.
    Abandon,
}

/// How collecting ended.
#[derive(Debug)]
enum Collected {
    /// The last slot was written, and the job ended with it.
    Finished,
    Stopped(Stop),
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
        let mut run = JobRun::new(&inner, job, filled, &held);
        match run.collect(&shutdown).await {
            Collected::Finished => {}
            Collected::Stopped(stop) => run.settle(stop, &shutdown).await,
        }
        inner.release(id, attempt);
        inner.wake.notify_one();
    }
    .instrument(span)
    .await;
}

/// One claimed job being worked on.
struct JobRun<'a> {
    inner: &'a Arc<Inner>,
    job: ClaimedJob,
    held: &'a Held,
    prompts: Arc<Vec<String>>,
    total: usize,
    /// Slots written so far (by any attempt).
    filled: usize,
    /// Permanent failures so far (by any attempt), by prompt index.
    errors: BTreeMap<i32, String>,
    /// Prompts not yet launched.
    missing: VecDeque<usize>,
    inflight: JoinSet<(i32, PromptOutcome)>,
    /// When this worker claimed the job (with `job.running_secs`: the job's duration).
    claimed: Instant,
}

impl<'a> JobRun<'a> {
    fn new(
        inner: &'a Arc<Inner>,
        mut job: ClaimedJob,
        filled: Vec<FilledSlot>,
        held: &'a Held,
    ) -> Self {
        let total = usize::try_from(job.total_prompts).unwrap_or(0);
        let mut done = vec![false; total];
        let mut errors = BTreeMap::new();
        for slot in filled {
            if let Some(d) = usize::try_from(slot.idx).ok().and_then(|i| done.get_mut(i)) {
                *d = true;
                if let Some(e) = slot.error {
                    errors.insert(slot.idx, e);
                }
            }
        }
        let prompts = Arc::new(std::mem::take(&mut job.prompts.0));
        Self {
            inner,
            held,
            prompts,
            total,
            filled: done.iter().filter(|d| **d).count(),
            errors,
            missing: (0..total).filter(|i| !done[*i]).collect(),
            inflight: JoinSet::new(),
            job,
            claimed: Instant::now(),
        }
    }

    /// Launches prompts while there is room and collects their outcomes until every slot is
    /// written or the job must stop.
    async fn collect(&mut self, shutdown: &CancellationToken) -> Collected {
        if self.missing.is_empty() {
            // Every slot was written but the job was not ended (cannot normally happen: the
            // last slot's statement ends it). End it now.
            let finish = self.final_state();
            if matches!(
                self.write(&[], Some(&finish)).await,
                Some(Fenced::Written { .. })
            ) {
                self.record_finish(&finish);
            }
            return Collected::Finished;
        }
        let mut stop: Option<Stop> = None;
        let mut grace_deadline: Option<tokio::time::Instant> = None;
        loop {
            let can_launch = stop.is_none() && !self.missing.is_empty();
            if !can_launch && self.inflight.is_empty() {
                break;
            }
            tokio::select! {
                biased;
                () = self.held.lost.cancelled(), if stop != Some(Stop::Abandon) => {
                    tracing::warn!("lease lost (another worker took the job over, or it was deleted): abandoning it");
                    stop = Some(Stop::Abandon);
                    self.inflight.abort_all();
                }
                () = self.held.cancel.cancelled(), if !matches!(stop, Some(Stop::Cancel | Stop::Abandon)) => {
                    self.cancel(&mut stop);
                }
                Some(first) = self.inflight.join_next(), if !self.inflight.is_empty() => {
                    if let Some(collected) = self.collect_joined(first, &mut stop).await {
                        return collected;
                    }
                }
                permit = self.inner.prompt_slots.clone().acquire_owned(), if can_launch => {
                    let Ok(permit) = permit else { break };
                    if let Some(idx) = self.missing.pop_front() {
                        self.launch(idx, permit);
                    }
                }
                () = shutdown.cancelled(), if grace_deadline.is_none() => {
                    grace_deadline = Some(tokio::time::Instant::now() + self.inner.config.shutdown_grace);
                    if stop.is_none() {
                        stop = Some(Stop::Shutdown);
                    }
                }
                () = sleep_until(grace_deadline), if grace_deadline.is_some() && !self.inflight.is_empty() => {
                    tracing::warn!(in_flight = self.inflight.len(), "grace period over: abandoning in-flight prompts");
                    self.inflight.abort_all();
                    grace_deadline = Some(tokio::time::Instant::now() + Duration::from_secs(3600));
                }
            }
        }
        Collected::Stopped(stop.unwrap_or(Stop::Abandon))
    }

    /// A cancel was requested: abort the in-flight model requests (their connections close,
    /// and the model service drops the provider calls); outcomes that already landed are
    /// still collected and written. A cancel wins over a pending retry or a shutdown release.
    fn cancel(&mut self, stop: &mut Option<Stop>) {
        tracing::info!(
            in_flight = self.inflight.len(),
            "cancel requested: aborting in-flight prompts"
        );
        *stop = Some(Stop::Cancel);
        self.inflight.abort_all();
    }

    /// Sends prompt `idx` to the model service in a task holding one of the worker's prompt
    /// slots.
    fn launch(&mut self, idx: usize, permit: OwnedSemaphorePermit) {
        let prompts = self.prompts.clone();
        let model = self.job.model.clone();
        let max_tokens = i64::from(self.job.max_tokens);
        let client = self.inner.model.clone();
        let job_id = self.job.id;
        // A child of the job's span: the model service's spans join the job's trace.
        let span = tracing::info_span!("prompt", prompt = idx);
        self.inflight.spawn(tracing::Instrument::instrument(
            async move {
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
                metrics::counter!("worker_prompts_total", "outcome" => outcome.kind()).increment(1);
                metrics::histogram!("worker_prompt_duration_seconds")
                    .record(started.elapsed().as_secs_f64());
                (i32::try_from(idx).unwrap_or(i32::MAX), outcome)
            },
            span,
        ));
    }

    /// Handles `first` and every other outcome already landed: answers and permanent errors
    /// are written in one statement. `Some` when collecting is over.
    async fn collect_joined(
        &mut self,
        first: Result<(i32, PromptOutcome), JoinError>,
        stop: &mut Option<Stop>,
    ) -> Option<Collected> {
        let mut joined = vec![first];
        while let Some(more) = self.inflight.try_join_next() {
            joined.push(more);
        }
        let mut writes = Vec::new();
        for result in joined {
            match result {
                Ok((
                    idx,
                    PromptOutcome::Answer {
                        text,
                        usage,
                        model,
                        cost_usd,
                    },
                )) => {
                    writes.push(SlotWrite::answer(idx, text, usage).priced(&model, cost_usd));
                }
                Ok((idx, PromptOutcome::Permanent { code, message })) => {
                    tracing::info!(prompt = idx, code = %code, error = %message, "prompt failed permanently");
                    self.errors.insert(idx, message.clone());
                    writes.push(SlotWrite::error(idx, code, message));
                }
                Ok((
                    idx,
                    PromptOutcome::Transient {
                        message,
                        retry_after,
                    },
                )) => {
                    tracing::info!(prompt = idx, error = %message, "transient failure; the job will be retried");
                    if matches!(stop, None | Some(Stop::Shutdown)) {
                        *stop = Some(Stop::Transient {
                            message,
                            retry_after,
                        });
                    }
                }
                Err(e) if e.is_cancelled() => {}
                Err(e) => {
                    tracing::error!(error = %e, "prompt task failed");
                    if stop.is_none() {
                        *stop = Some(Stop::Transient {
                            message: "The worker failed while processing a prompt.".to_owned(),
                            retry_after: None,
                        });
                    }
                }
            }
        }
        if writes.is_empty() || *stop == Some(Stop::Abandon) {
            return None;
        }
        self.filled += writes.len();
        let finish = (self.filled == self.total).then(|| self.final_state());
        match self.write(&writes, finish.as_ref()).await {
            Some(Fenced::Written { cancel_requested }) => {
                if let Some(finish) = finish {
                    self.record_finish(&finish);
                    return Some(Collected::Finished);
                }
                if cancel_requested && !matches!(stop, Some(Stop::Cancel | Stop::Abandon)) {
                    self.cancel(stop);
                }
            }
            Some(Fenced::LeaseLost) | None => {
                *stop = Some(Stop::Abandon);
                self.inflight.abort_all();
            }
        }
        None
    }

    /// Ends or releases a job that stopped before all its slots were written.
    async fn settle(&self, stop: Stop, shutdown: &CancellationToken) {
        let cfg = &self.inner.config;
        match stop {
            Stop::Abandon => {}
            Stop::Cancel => {
                let finish = Finish {
                    status: JobStatus::Cancelled,
                    error: None,
                };
                if matches!(
                    self.write(&[], Some(&finish)).await,
                    Some(Fenced::Written { .. })
                ) {
                    tracing::info!("job cancelled");
                    self.record_finish(&finish);
                }
            }
            Stop::Transient { message, .. } if self.job.attempts >= self.job.max_attempts => {
                let attempts = self.job.attempts;
                let plural = if attempts == 1 { "" } else { "s" };
                let finish = Finish {
                    status: JobStatus::Failed,
                    error: Some(format!(
                        "{}{} Gave up after {attempts} attempt{plural}.",
                        message,
                        if message.ends_with(['.', '!', '?', ')']) {
                            ""
                        } else {
                            "."
                        }
                    )),
                };
                if matches!(
                    self.write(&[], Some(&finish)).await,
                    Some(Fenced::Written { .. })
                ) {
                    tracing::warn!(error = ?finish.error, "job failed: out of attempts");
                    self.record_finish(&finish);
                }
            }
            Stop::Transient {
                message,
                retry_after,
            } => {
                let backoff = Backoff::new(cfg.retry_base_delay, cfg.retry_max_delay);
                let attempt = u32::try_from(self.job.attempts).unwrap_or(1);
                let delay = backoff
                    .delay(attempt)
                    .max(retry_after.unwrap_or_default().min(cfg.retry_max_delay));
                let released = job_repo::release(
                    &self.inner.pool,
                    self.job.id,
                    &cfg.worker_id,
                    self.job.attempts,
                    delay,
                    Some(&message),
                    false,
                )
                .await;
                match released {
                    Ok(Fenced::Written { .. }) => {
                        tracing::info!(
                            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                            "job released for a retry"
                        );
                        metrics::counter!("worker_jobs_retried_total", "class" => retry_class(&message).to_owned())
                            .increment(1);
                        schedule_wake(self.inner.clone(), delay, shutdown.clone());
                    }
                    Ok(Fenced::LeaseLost) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot release the job; its lease will expire")
                    }
                }
            }
            Stop::Shutdown => {
                match job_repo::release(
                    &self.inner.pool,
                    self.job.id,
                    &cfg.worker_id,
                    self.job.attempts,
                    Duration::ZERO,
                    None,
                    true,
                )
                .await
                {
                    Ok(Fenced::Written { .. }) => {
                        tracing::info!("job released at shutdown");
                        let _ = job_repo::notify_queue(&self.inner.pool).await;
                    }
                    Ok(Fenced::LeaseLost) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot release the job at shutdown; its lease will expire")
                    }
                }
            }
        }
    }

    /// `worker_jobs_finished_total{status}` and `worker_job_duration_seconds{status}` (from the
    /// job's first start to its end, across attempts).
    fn record_finish(&self, finish: &Finish) {
        record_finish(finish);
        let secs = self.job.running_secs.max(0.0) + self.claimed.elapsed().as_secs_f64();
        metrics::histogram!("worker_job_duration_seconds", "status" => finish.status.as_str())
            .record(secs);
    }

    fn final_state(&self) -> Finish {
        final_state(&self.errors, self.total)
    }

    /// A fenced write through the group-commit writer, retried with backoff on database
    /// errors for as long as the lease would still hold. `None`: the database kept failing
    /// (or refused the write); the caller abandons the job and its lease expires.
    async fn write(&self, slots: &[SlotWrite], finish: Option<&Finish>) -> Option<Fenced> {
        let backoff = Backoff::new(WRITE_RETRY_BASE, WRITE_RETRY_MAX);
        let give_up_at = Instant::now() + self.inner.config.lease;
        let mut attempt = 1;
        loop {
            match group_write(self.inner, &self.job, slots, finish).await {
                Ok(Fenced::LeaseLost) => {
                    tracing::warn!("write refused: the lease was taken over");
                    return Some(Fenced::LeaseLost);
                }
                Ok(written) => return Some(written),
                Err(e) => {
                    let unique_violation =
                        common::error::Violation::of(&e) == Some(common::error::Violation::Unique);
                    tracing::error!(error = %e, attempt, "writing job progress failed");
                    let delay = backoff.delay(attempt);
                    if unique_violation || Instant::now() + delay >= give_up_at {
                        return None;
                    }
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }
}

/// First and longest delay between retries of a failed progress write.
const WRITE_RETRY_BASE: Duration = Duration::from_millis(100);
const WRITE_RETRY_MAX: Duration = Duration::from_secs(2);

/// The status a job ends with once every slot is written: `completed`, also when some prompts
/// failed permanently (`failed_prompts` says how many; each error is in its slot); `failed`
/// only when every prompt failed (naming the first).
fn final_state(errors: &BTreeMap<i32, String>, total: usize) -> Finish {
    match errors.iter().next() {
        Some((idx, message)) if errors.len() >= total => Finish {
            status: JobStatus::Failed,
            error: Some(format!(
                "All {total} prompts failed; first, prompt #{}: {message}",
                idx + 1
            )),
        },
        _ => Finish {
            status: JobStatus::Completed,
            error: None,
        },
    }
}

/// The error class of a transient failure (`<CODE>: <message>`) for the retry counter: the
/// model service's code (`RATE_LIMITED`, `PROVIDER_OVERLOADED`, `SERVICE_UNAVAILABLE`, …), or
/// `OTHER`.
fn retry_class(message: &str) -> &str {
    match message.split_once(':') {
        Some((code, _))
            if !code.is_empty()
                && code.len() <= 40
                && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') =>
        {
            code
        }
        _ => "OTHER",
    }
}

fn record_finish(finish: &Finish) {
    metrics::counter!("worker_jobs_finished_total", "status" => finish.status.as_str())
        .increment(1);
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
    fn some_permanent_failures_still_complete_the_job() {
        let errors = BTreeMap::from([(4, "bad".to_owned()), (1, "worse".to_owned())]);
        let f = final_state(&errors, 10);
        assert_eq!(f.status, JobStatus::Completed);
        assert_eq!(f.error, None);
    }

    #[test]
    fn every_prompt_failing_fails_the_job_naming_the_first() {
        let errors = BTreeMap::from([(1, "bad".to_owned()), (0, "worse".to_owned())]);
        let f = final_state(&errors, 2);
        assert_eq!(f.status, JobStatus::Failed);
        assert_eq!(
            f.error.as_deref(),
            Some("All 2 prompts failed; first, prompt #1: worse")
        );
    }
}
