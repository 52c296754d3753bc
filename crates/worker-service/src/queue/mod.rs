//! The durable job queue: one [`Worker`] per process claims jobs from `batch_jobs` and runs
//! their prompts against the model service.
//!
//! - [`claim`]: the dispatcher. Wakes on LISTEN/NOTIFY (see [`notify`]), on a finished job, or
//!   on the slow safety-net poll; claims as many jobs as it has room for in one statement.
//! - [`lease`]: the heartbeat that extends the leases of held jobs and learns about cancels
//!   and lost leases.
//! - [`reaper`]: requeues, cancels or fails jobs whose worker stopped renewing its lease.
//! - [`processor`]: runs one claimed job: prompts in parallel within the per-worker limit,
//!   each result written to its slot as it lands, fenced by the claim.
//!
//! No database transaction is ever open while a model call is in flight.

pub mod backoff;
pub mod claim;
pub mod lease;
pub mod notify;
pub mod processor;
pub mod reaper;
pub mod writer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use common::http::ServiceClient;
use sqlx::PgPool;
use tokio::sync::{mpsc, Notify, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::config::Config;

/// The queue settings of one worker.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    pub worker_id: String,
    pub max_jobs: usize,
    pub max_prompts: usize,
    pub lease: Duration,
    pub heartbeat: Duration,
    pub poll_interval: Duration,
    pub retry_base_delay: Duration,
    pub retry_max_delay: Duration,
    /// After the shutdown signal, how long in-flight prompts may run before the jobs are
    /// released anyway.
    pub shutdown_grace: Duration,
    /// Blob store and extraction limits for ingestion jobs (`None`: this worker leaves them
    /// to be retried by one that can).
    pub ingest: Option<crate::knowledge::ingest::IngestSettings>,
}

impl QueueConfig {
    pub fn from_config(
        config: &Config,
        worker_id: String,
        ingest: Option<crate::knowledge::ingest::IngestSettings>,
    ) -> Self {
        Self {
            ingest,
            worker_id,
            max_jobs: config.worker_max_jobs,
            max_prompts: config.worker_max_prompts,
            lease: config.lease(),
            heartbeat: config.heartbeat(),
            poll_interval: config.poll_interval(),
            retry_base_delay: config.job_retry_base_delay(),
            retry_max_delay: config.job_retry_max_delay(),
            shutdown_grace: config.shutdown_grace(),
        }
    }
}

/// Control handles of one job this worker holds.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    pub attempt: i32,
    /// A cancel was requested: stop after the in-flight prompts.
    pub cancel: CancellationToken,
    /// The lease was taken over: stop now, write nothing.
    pub lost: CancellationToken,
}

/// State shared by the worker's tasks.
pub(crate) struct Inner {
    pub pool: PgPool,
    pub model: ServiceClient,
    pub config: QueueConfig,
    /// Signalled when work may be claimable (NOTIFY, a finished job, a retry falling due).
    pub wake: Notify,
    /// Prompts in flight over all jobs (`WORKER_MAX_PROMPTS`).
    pub prompt_slots: Arc<Semaphore>,
    /// Progress writes go through the group-commit writer.
    pub writer: mpsc::Sender<writer::WriteRequest>,
    held: Mutex<HashMap<Uuid, Held>>,
}

impl Inner {
    /// Records a freshly claimed job. A stale entry for the same job (our own earlier claim,
    /// whose lease expired meanwhile) is told it lost the job.
    pub fn hold(&self, id: Uuid, attempt: i32) -> Held {
        let held = Held {
            attempt,
            cancel: CancellationToken::new(),
            lost: CancellationToken::new(),
        };
        let mut map = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = map.insert(id, held.clone()) {
            old.lost.cancel();
        }
        metrics::gauge!("worker_jobs_in_flight").set(map.len() as f64);
        held
    }

    /// Forgets a job (only if it is still this claim's entry).
    pub fn release(&self, id: Uuid, attempt: i32) {
        let mut map = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if map.get(&id).is_some_and(|h| h.attempt == attempt) {
            map.remove(&id);
        }
        metrics::gauge!("worker_jobs_in_flight").set(map.len() as f64);
    }

    pub fn held(&self) -> Vec<(Uuid, Held)> {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(id, h)| (*id, h.clone()))
            .collect()
    }

    pub fn get(&self, id: Uuid) -> Option<Held> {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
    }
}

/// A running worker. Stop it by cancelling the shutdown token given to [`Worker::start`],
/// then [`Worker::join`].
pub struct Worker {
    id: String,
    task: JoinHandle<()>,
}

impl Worker {
    /// Starts the dispatcher, the listener, the heartbeat and the reaper.
    pub fn start(
        pool: PgPool,
        model: ServiceClient,
        config: QueueConfig,
        shutdown: CancellationToken,
    ) -> Self {
        let id = config.worker_id.clone();
        let (writes, write_requests) = mpsc::channel(1024);
        let inner = Arc::new(Inner {
            pool,
            model,
            writer: writes,
            prompt_slots: Arc::new(Semaphore::new(config.max_prompts)),
            config,
            wake: Notify::new(),
            held: Mutex::new(HashMap::new()),
        });
        let task = tokio::spawn(run(inner, write_requests, shutdown));
        Self { id, task }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Waits until the worker has stopped: no more claims, every held job finished or released.
    pub async fn join(self) {
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "worker task failed");
        }
    }
}

async fn run(
    inner: Arc<Inner>,
    write_requests: mpsc::Receiver<writer::WriteRequest>,
    shutdown: CancellationToken,
) {
    tracing::info!(worker_id = %inner.config.worker_id, max_jobs = inner.config.max_jobs,
        max_prompts = inner.config.max_prompts, "worker started");
    // Support tasks outlive the shutdown signal until every job is finished or released: held
    // jobs still need their leases renewed and their cancels delivered.
    let support = CancellationToken::new();
    let jobs = TaskTracker::new();
    let listener = tokio::spawn(notify::run(inner.clone(), support.clone()));
    let heartbeat = tokio::spawn(lease::run(inner.clone(), support.clone()));
    let reaper = tokio::spawn(reaper::run(inner.clone(), shutdown.clone()));
    let writer = tokio::spawn(writer::run(inner.clone(), write_requests, support.clone()));

    claim::run(inner.clone(), shutdown, jobs.clone()).await;

    jobs.close();
    jobs.wait().await;
    support.cancel();
    for task in [listener, heartbeat, reaper, writer] {
        let _ = task.await;
    }
    tracing::info!(worker_id = %inner.config.worker_id, "worker stopped");
}
