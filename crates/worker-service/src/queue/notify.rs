//! LISTEN/NOTIFY: new jobs wake the dispatcher within milliseconds; cancel requests reach the
//! job's processor at once. Reconnects by itself; after a (re)connect the dispatcher is woken
//! in case notifications were missed (the poll remains the safety net).

use std::sync::Arc;

use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::Inner;
use crate::job_repo::{CANCEL_CHANNEL, QUEUE_CHANNEL};

pub(crate) async fn run(inner: Arc<Inner>, stop: CancellationToken) {
    loop {
        let mut listener = match connect(&inner).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN for new jobs; polling until reconnected");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(inner.config.poll_interval) => continue,
                }
            }
        };
        inner.wake.notify_one();
        loop {
            let next = tokio::select! {
                () = stop.cancelled() => return,
                next = listener.try_recv() => next,
            };
            match next {
                Ok(Some(notification)) => {
                    if notification.channel() == CANCEL_CHANNEL {
                        if let Some(held) = Uuid::parse_str(notification.payload())
                            .ok()
                            .and_then(|id| inner.get(id))
                        {
                            held.cancel.cancel();
                        }
                    } else {
                        inner.wake.notify_one();
                    }
                }
                // The connection dropped; the listener reconnects on the next call. Notifications
                // sent meanwhile are lost, so look for work now.
                Ok(None) => inner.wake.notify_one(),
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN connection failed");
                    break;
                }
            }
        }
    }
}

async fn connect(inner: &Inner) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(&inner.pool).await?;
    listener.listen_all([QUEUE_CHANNEL, CANCEL_CHANNEL]).await?;
    Ok(listener)
}
