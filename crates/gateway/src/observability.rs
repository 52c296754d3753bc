//! The gateway's own Prometheus figures (the per-request counters come from the shared
//! layer in `common::metrics`):
//!
//! - `gateway_overhead_seconds{route}` — [`overhead`]: a request's time in the gateway minus
//!   the time it waited on the model or worker service (until their response head), for
//!   requests that called one;
//! - `gateway_open_streams` (gauge), `gateway_stream_duration_seconds{outcome}`,
//!   `gateway_time_to_first_token_seconds{model}` and `gateway_tokens_relayed_total` —
//!   [`StreamMetrics`], one per relayed stream.

use std::time::{Duration, Instant};

use axum::extract::MatchedPath;
use axum::response::Response;
use common::observability::{bounded_label, upstream};

/// Runs `request` (the rest of the stack) and records `gateway_overhead_seconds{route}` if it
/// called another service: its time in the gateway minus the time it waited on the others.
/// For a stream, the gateway's part ends when the response head is ready (the relay's
/// per-event work is not counted). Applied by [`crate::layers`].
pub async fn overhead<F>(route: Option<MatchedPath>, request: F) -> Response
where
    F: std::future::Future<Output = Response>,
{
    let started = Instant::now();
    let (response, waited) = upstream::measure(request).await;
    if let Some(waited) = waited {
        let own = started.elapsed().saturating_sub(waited);
        // The label is made only for the requests that record it.
        let route = route.map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
        metrics::histogram!("gateway_overhead_seconds", "route" => route).record(own.as_secs_f64());
    }
    response
}

/// How a relayed stream ended, for `gateway_stream_duration_seconds{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamOutcome {
    /// `[DONE]` was sent.
    Done,
    /// `[ERROR]` was sent.
    Error,
    /// The client went away first (the response body was dropped).
    Cancelled,
}

impl StreamOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Error => "error",
            Self::Cancelled => "cancelled",
        }
    }
}

/// One relayed stream's figures. Created when the relay starts (the open-streams gauge goes
/// up) and recorded when dropped — with the response body, so a client that disconnects is
/// counted too.
pub struct StreamMetrics {
    started: Instant,
    first_token: Option<Duration>,
    /// The model that answered (from the model service's metadata event), else the requested.
    model: Option<String>,
    outcome: StreamOutcome,
}

/// Exports the counters of rare events at 0 before their first event, one series per known
/// label (rate-limit class, sign-in failure kind, peer route): `rate()`, the dashboard and the
/// alerts then see a 0 rather than no data. Called once at start-up.
pub fn export_counters_at_zero() {
    use crate::auth::AuthError;
    use crate::limits::Class;
    let classes = [Class::Generate, Class::Read, Class::Auth].map(Class::as_str);
    for class in classes
        .into_iter()
        .chain(["streams", "background_generations"])
    {
        metrics::counter!("rate_limit_rejections_total", "class" => class).increment(0);
    }
    let kinds = [
        AuthError::Missing,
        AuthError::Invalid,
        AuthError::Expired,
        AuthError::BadKey,
    ]
    .map(|e| e.kind());
    for kind in kinds.into_iter().chain(["unavailable"]) {
        metrics::counter!("auth_failures_total", "kind" => kind).increment(0);
    }
    for route in ["stream", "stop"] {
        metrics::counter!("gateway_peer_forwards_total", "route" => route).increment(0);
    }
    metrics::counter!("gateway_tokens_relayed_total").increment(0);
}

impl StreamMetrics {
    pub fn start(requested_model: Option<&str>) -> Self {
        metrics::gauge!("gateway_open_streams").increment(1.0);
        Self {
            started: Instant::now(),
            first_token: None,
            model: requested_model
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_owned),
            outcome: StreamOutcome::Cancelled,
        }
    }

    /// `n` tokens were relayed to the client.
    pub fn tokens(&mut self, n: u64) {
        if n == 0 {
            return;
        }
        if self.first_token.is_none() {
            self.first_token = Some(self.started.elapsed());
        }
        metrics::counter!("gateway_tokens_relayed_total").increment(n);
    }

    /// The model service named the model that answered.
    pub fn model(&mut self, model: &str) {
        self.model = Some(model.to_owned());
    }

    pub fn finished(&mut self, outcome: StreamOutcome) {
        self.outcome = outcome;
    }
}

impl Drop for StreamMetrics {
    fn drop(&mut self) {
        metrics::gauge!("gateway_open_streams").decrement(1.0);
        metrics::histogram!("gateway_stream_duration_seconds", "outcome" => self.outcome.as_str())
            .record(self.started.elapsed().as_secs_f64());
        if let Some(ttft) = self.first_token {
            let model = bounded_label("model", self.model.as_deref().unwrap_or("default"));
            metrics::histogram!("gateway_time_to_first_token_seconds", "model" => model)
                .record(ttft.as_secs_f64());
        }
    }
}
