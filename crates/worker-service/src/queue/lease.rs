//! The heartbeat: extends the lease of every held job well before it expires, and learns
//! from the same statement which jobs were asked to cancel and which were lost (taken over by
//! another worker after this one failed to renew in time).

use std::collections::HashMap;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::Inner;
use crate::job_repo;

pub(crate) async fn run(inner: Arc<Inner>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(inner.config.heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        beat(&inner).await;
    }
}

/// One heartbeat over every held job.
pub(crate) async fn beat(inner: &Inner) {
    let held = inner.held();
    if held.is_empty() {
        return;
    }
    let claims: Vec<(Uuid, i32)> = held.iter().map(|(id, h)| (*id, h.attempt)).collect();
    let cfg = &inner.config;
    let states = match job_repo::heartbeat(&inner.pool, &cfg.worker_id, cfg.lease, &claims).await {
        Ok(states) => states,
        Err(e) => {
            // The fence protects the jobs if the leases expire before the next beat succeeds.
            tracing::warn!(error = %e, jobs = claims.len(), "lease heartbeat failed");
            return;
        }
    };
    let states: HashMap<Uuid, job_repo::LeaseState> =
        states.into_iter().map(|s| (s.id, s)).collect();
    let mut renewed = 0u64;
    for (id, h) in held {
        match states.get(&id) {
            Some(state) if state.attempts == h.attempt => {
                renewed += 1;
                if state.cancel_requested {
                    h.cancel.cancel();
                }
            }
            _ => {
                // Finished meanwhile (then nobody listens), or taken over: stop writing.
                if inner.get(id).is_some_and(|cur| cur.attempt == h.attempt) {
                    tracing::warn!(job_id = %id, attempt = h.attempt, "lease lost; stopping the job");
                    metrics::counter!("worker_leases_lost_total").increment(1);
                    h.lost.cancel();
                }
            }
        }
    }
    metrics::counter!("worker_lease_renewals_total").increment(renewed);
}
