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
    let mut depth_refreshed: Option<tokio::time::Instant> = None;
    // Rare events exist at 0 from the start, so rate() and alerts see them before the first.
    for outcome in ["requeued", "cancelled", "failed"] {
        metrics::counter!("worker_jobs_reaped_total", "outcome" => outcome).increment(0);
    }
    for status in ["completed", "failed", "cancelled"] {
        metrics::counter!("worker_jobs_finished_total", "status" => status).increment(0);
    }
    for outcome in ["answer", "permanent_error", "transient_error"] {
        metrics::counter!("worker_prompts_total", "outcome" => outcome).increment(0);
    }
    // The class is the error's code; OTHER stands for every code not seen yet.
    metrics::counter!("worker_jobs_retried_total", "class" => "OTHER").increment(0);
    for name in [
        "worker_leases_lost_total",
        "worker_lease_renewals_total",
        "worker_jobs_claimed_total",
        "worker_jobs_submitted_total",
    ] {
        metrics::counter!(name).increment(0);
    }
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
                for (outcome, n) in [
                    ("requeued", reaped.requeued),
                    ("cancelled", reaped.cancelled),
                    ("failed", reaped.failed),
                ] {
                    if n > 0 {
                        metrics::counter!("worker_jobs_reaped_total", "outcome" => outcome)
                            .increment(n);
                    }
                }
                inner.wake.notify_one();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reaper pass failed"),
        }
        // The depth gauges cost one query, at most every QUEUE_DEPTH_INTERVAL, not per scrape.
        if depth_refreshed.is_none_or(|t| t.elapsed() >= QUEUE_DEPTH_INTERVAL) {
            depth_refreshed = Some(tokio::time::Instant::now());
            refresh_queue_depth(&inner).await;
        }
    }
}

/// How often the queue-depth gauges are refreshed (at most).
pub(crate) const QUEUE_DEPTH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// `worker_queue_jobs{status="pending"|"running"}`, and `worker_queue_depth` (pending) as before.
async fn refresh_queue_depth(inner: &Inner) {
    match job_repo::active_counts(&inner.pool).await {
        Ok(counts) => {
            for status in ["pending", "running"] {
                let n = counts
                    .iter()
                    .find(|(s, _)| s == status)
                    .map_or(0, |(_, n)| *n);
                #[allow(clippy::cast_precision_loss)]
                let n = n as f64;
                metrics::gauge!("worker_queue_jobs", "status" => status).set(n);
                if status == "pending" {
                    metrics::gauge!("worker_queue_depth").set(n);
                }
            }
        }
        Err(e) => tracing::debug!(error = %e, "cannot refresh the queue depth"),
    }
}
