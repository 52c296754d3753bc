//! The reaper: jobs whose worker stopped renewing its lease (crash, kill -9, network split)
//! are requeued, cancelled (a cancel was requested) or failed (out of attempts) even when no
//! worker is busy claiming. It also refreshes the queue-depth gauge.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::Inner;
use crate::job_repo;

pub(crate) async fn run(inner: Arc<Inner>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(inner.config.poll_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match job_repo::reap_expired(&inner.pool).await {
            Ok(reaped) if reaped != job_repo::Reaped::default() => {
                tracing::info!(
                    requeued = reaped.requeued,
                    cancelled = reaped.cancelled,
                    failed = reaped.failed,
                    "reaped jobs with expired leases"
                );
                metrics::counter!("worker_jobs_reaped_total")
                    .increment(reaped.requeued + reaped.cancelled + reaped.failed);
                inner.wake.notify_one();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reaper pass failed"),
        }
        if let Ok(depth) = job_repo::pending_count(&inner.pool).await {
            metrics::gauge!("worker_queue_depth").set(depth as f64);
        }
    }
}
