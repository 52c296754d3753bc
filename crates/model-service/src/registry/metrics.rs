//! A route's Prometheus series, looked up once per route instead of once per call.
//!
//! Each `metrics::histogram!`/`counter!` with labels builds its key (the label strings), hashes
//! it and reads the recorder's registry, and the `model` label is first bounded
//! ([`common::observability::bounded_label`]: a lock and a hash set); per whole answer that
//! was ~3,000 instructions for the same few series every time (docs/benchmarks.md,
//! "Performance II"). The handles are made on a route's first call and kept with its model
//! (a route is one provider's model; a reload makes new ones). The series, their names and
//! labels are unchanged: the bounded label is computed at the same first use and never
//! changes afterwards for a given value.

use std::sync::OnceLock;

use metrics::{Counter, Histogram};

/// The series one route records into.
pub struct RouteMetrics {
    /// `model_provider_request_duration_seconds{provider, model}`.
    pub request_duration: Histogram,
    /// `model_provider_time_to_first_token_seconds{provider, model}`.
    pub time_to_first_token: Histogram,
    /// `model_prompt_tokens_total{model}`.
    pub prompt_tokens: Counter,
    /// `model_completion_tokens_total{model}`.
    pub completion_tokens: Counter,
}

impl RouteMetrics {
    fn new(provider: &str, model_id: &str) -> Self {
        let model = common::observability::bounded_label("model", model_id);
        let labels = [("provider", provider.to_owned()), ("model", model.clone())];
        Self {
            request_duration: metrics::histogram!(
                "model_provider_request_duration_seconds",
                &labels
            ),
            time_to_first_token: metrics::histogram!(
                "model_provider_time_to_first_token_seconds",
                &labels
            ),
            prompt_tokens: metrics::counter!("model_prompt_tokens_total", "model" => model.clone()),
            completion_tokens: metrics::counter!("model_completion_tokens_total", "model" => model),
        }
    }
}

/// [`RouteMetrics`] made on first use. Not part of a model's identity: every cell compares
/// equal, and a clone starts empty.
#[derive(Default)]
pub struct MetricsCell(OnceLock<RouteMetrics>);

impl MetricsCell {
    pub fn get(&self, provider: &str, model_id: &str) -> &RouteMetrics {
        self.0.get_or_init(|| RouteMetrics::new(provider, model_id))
    }
}

impl Clone for MetricsCell {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for MetricsCell {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for MetricsCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsCell")
    }
}
