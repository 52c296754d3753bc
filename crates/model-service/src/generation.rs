//! Turning a [`GenerateRequest`] into provider calls: model resolution, retry with backoff,
//! fallback, deadlines, and cancellation accounting.
//!
//! Rules (contract §11, with the §17.2 defects fixed):
//! - every provider failure has a class ([`crate::providers::ErrorKind`]); the class decides
//!   retry, fallback, and what the caller is told: an envelope with the class's `code`,
//!   status, `retryable` and `Retry-After`, or a stream's `data: [ERROR] <CODE>: <message>`;
//! - the requested model (or the default) is tried first; a retryable failure (rate limited,
//!   overloaded, timeout, network) is retried per [`RetryPolicy`];
//! - if it still fails **before its first token** with a class another model can help with
//!   (overloaded, timeout, unknown model), the fallback model is tried once, with the same
//!   retry policy; an invalid, too long or refused request is not sent again;
//! - once a token has been sent nothing is retried or replaced: the stream ends with an
//!   error event, so no text is ever duplicated;
//! - deadlines: one request has a [`Deadline`] for all its attempts and the fallback together:
//!   the caller's `X-Sable-Deadline-Ms`, capped by `MODEL_REQUEST_DEADLINE_SECS` (for a stream
//!   it covers the time to the first token). Each attempt gets its own timeout
//!   (`PROVIDER_TIMEOUT_SECS` for a whole completion, `FIRST_TOKEN_TIMEOUT_SECS` for a stream's
//!   first token) but never more than the time left, less the fallback's share while the
//!   primary is tried; no retry or fallback starts when the time left cannot fit one (the
//!   answer is then 504 `PROVIDER_TIMEOUT`, retryable). Between tokens a stream gets
//!   `IDLE_TIMEOUT_SECS`;
//! - dropping the stream returned by [`Generator::stream`] drops the provider stream (the mock
//!   stops, HTTP requests are aborted) and counts a cancellation in [`GenerationStats`]; a
//!   whole completion whose caller went away (its future dropped) is counted the same way.

mod embeddings;

pub use embeddings::BATCH_SIZE as EMBEDDINGS_BATCH_SIZE;
mod passthrough;
pub use passthrough::Answered;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::schemas::{GenerateRequest, GenerateResponse, DEFAULT_MAX_TOKENS};
use common::AppError;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use tracing::Instrument;

use crate::providers::{Completion, Delta, DeltaStream, ErrorKind, ProviderError, ProviderRequest};
use crate::registry::breaker::Admission;
use crate::registry::capability::Capability;
use crate::registry::{Registry, Route};
use crate::retry::RetryPolicy;
use crate::stats::GenerationStats;

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Whole non-streaming call.
    pub total: Duration,
    /// From opening a stream to its first token.
    pub first_token: Duration,
    /// Between two tokens of a stream.
    pub idle: Duration,
    /// One request, all attempts and the fallback included (`MODEL_REQUEST_DEADLINE_SECS`);
    /// a caller's shorter deadline wins.
    pub request_deadline: Duration,
}

/// The shortest attempt worth starting: with less time left, no retry or fallback begins.
pub const MIN_ATTEMPT: Duration = Duration::from_millis(200);

/// The time one request has for all its attempts and its fallback.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
    budget: Duration,
}

impl Deadline {
    /// From now, `budget` long.
    pub fn within(budget: Duration) -> Self {
        Self {
            at: Instant::now() + budget,
            budget,
        }
    }

    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// The failure recorded when no (further) attempt fits: a timeout, so retryable (504).
    fn exhausted(&self, after: Option<&ProviderError>) -> ProviderError {
        let budget = self.budget.as_secs_f64();
        ProviderError::new(
            crate::providers::ErrorKind::Timeout,
            match after {
                Some(e) => format!(
                    "{e}; no time left for another attempt within the request's {budget:.1}s deadline"
                ),
                None => format!("not tried: no time left within the request's {budget:.1}s deadline"),
            },
        )
    }
}

/// One event of a generation stream; the wire format lives in `common::sse`.
pub use common::sse::{Event as StreamEvent, StreamMeta};

pub struct Generator {
    /// Replaced whole on reload; a request keeps the registry it started with.
    registry: std::sync::RwLock<Arc<Registry>>,
    retry: RetryPolicy,
    timeouts: Timeouts,
    stats: Arc<GenerationStats>,
}

impl Generator {
    pub fn new(
        registry: Registry,
        retry: RetryPolicy,
        timeouts: Timeouts,
        stats: Arc<GenerationStats>,
    ) -> Self {
        Self {
            registry: std::sync::RwLock::new(Arc::new(registry)),
            retry,
            timeouts,
            stats,
        }
    }

    /// The registry requests are routed with now.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Routes new requests with `registry` (requests under way finish with the old one).
    pub fn replace_registry(&self, registry: Registry) {
        *self
            .registry
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(registry);
    }

    /// How a route is named in messages: its model id without a providers file (as before),
    /// else `provider/model`.
    fn display(registry: &Registry, route: &Route) -> String {
        if registry.is_single() {
            route.model_id().to_owned()
        } else {
            route.id()
        }
    }

    /// The routes a chat request goes to, in order.
    fn chat_plan(&self, req: &GenerateRequest) -> Result<(Arc<Registry>, Vec<Route>), AppError> {
        let registry = self.registry();
        let routes = registry.plan(req.requested_model(), Capability::Chat)?;
        Ok((registry, routes))
    }

    fn provider_request(req: &GenerateRequest, model: &str) -> ProviderRequest {
        ProviderRequest {
            model: model.to_owned(),
            system_prompt: req.system_prompt.clone().filter(|s| !s.trim().is_empty()),
            messages: req.messages.clone().unwrap_or_default(),
            prompt: req.prompt.clone(),
            max_tokens: u32::try_from(req.max_tokens)
                .unwrap_or(u32::try_from(DEFAULT_MAX_TOKENS).unwrap_or(1024)),
            #[allow(clippy::cast_possible_truncation)]
            temperature: req.temperature as f32,
        }
    }

    /// A whole completion (`POST /inference`). A failure is the classified envelope of
    /// [`classified_error`].
    pub async fn complete(&self, req: &GenerateRequest) -> Result<GenerateResponse, AppError> {
        self.complete_within(req, None).await
    }

    /// [`complete`](Self::complete) within the caller's deadline (`X-Sable-Deadline-Ms`),
    /// capped by `MODEL_REQUEST_DEADLINE_SECS`.
    pub async fn complete_within(
        &self,
        req: &GenerateRequest,
        requested: Option<Duration>,
    ) -> Result<GenerateResponse, AppError> {
        let mut guard = CompletionGuard::start(self.stats.clone());
        let result = self.complete_inner(req, self.deadline(requested)).await;
        guard.finished = true;
        result
    }

    /// The request's deadline: the caller's, capped by `MODEL_REQUEST_DEADLINE_SECS`.
    fn deadline(&self, requested: Option<Duration>) -> Deadline {
        let own = self.timeouts.request_deadline;
        Deadline::within(requested.map_or(own, |r| r.min(own)))
    }

    /// What the primary keeps back for the fallback (when there is one): one fallback attempt,
    /// at most half of the time left.
    fn fallback_reserve(
        deadline: &Deadline,
        has_fallback: bool,
        per_attempt: Duration,
    ) -> Duration {
        if has_fallback {
            per_attempt.min(deadline.remaining() / 2)
        } else {
            Duration::ZERO
        }
    }

    async fn complete_inner(
        &self,
        req: &GenerateRequest,
        deadline: Deadline,
    ) -> Result<GenerateResponse, AppError> {
        let started = Instant::now();
        let mut failures: Vec<(String, ProviderError)> = Vec::new();
        let (registry, routes) = self.chat_plan(req)?;
        for (i, route) in routes.iter().enumerate() {
            let model = Self::display(&registry, route);
            if i > 0 {
                if deadline.remaining() < MIN_ATTEMPT {
                    failures.push((model, deadline.exhausted(None)));
                    break;
                }
                note_fallback(&failures, &model);
            }
            let preq = Self::provider_request(req, route.model_id());
            let total = route.provider.timeouts.total;
            let reserve = Self::fallback_reserve(&deadline, i + 1 < routes.len(), total);
            let call_started = Instant::now();
            let result = self
                .with_retry(route, deadline, reserve, (total, "whole call"), || {
                    route.provider.provider.complete(&preq)
                })
                .instrument(tracing::info_span!(
                    "provider call",
                    provider = %route.provider.name,
                    model = %route.model_id()
                ))
                .await;
            match result {
                Ok(completion) => {
                    route
                        .metrics()
                        .request_duration
                        .record(call_started.elapsed().as_secs_f64());
                    return Ok(self.response(completion, &registry, route, started));
                }
                Err(e) => {
                    let stop = !may_fall_back(&e, route, routes.get(i + 1));
                    failures.push((model, e));
                    if stop {
                        break;
                    }
                }
            }
        }
        Err(classified_error(&failures))
    }

    fn response(
        &self,
        c: Completion,
        registry: &Registry,
        route: &Route,
        started: Instant,
    ) -> GenerateResponse {
        self.stats.tokens(u64::from(c.usage.completion_tokens));
        let model = route.model_id();
        record_usage(route, &c.usage);
        trace_usage(
            &tracing::Span::current(),
            &route.provider.name,
            model,
            &c.usage,
        );
        let latency_ms = (started.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0;
        GenerateResponse {
            text: c.text,
            // Without a providers file: what the provider reports (as before); with one, the
            // route, so that the caller sees which provider answered.
            model: if !registry.is_single() {
                route.id()
            } else if c.model.is_empty() {
                model.to_owned()
            } else {
                c.model
            },
            usage: c.usage,
            latency_ms,
            finish_reason: c.finish_reason,
            cost_usd: (!registry.is_single()).then(|| route.cost_usd(&c.usage)),
            sources: None,
            cited: None,
        }
    }

    /// A streamed completion (`POST /inference/stream`). Ends with exactly one
    /// [`StreamEvent::Done`] or [`StreamEvent::Error`].
    pub fn stream(self: Arc<Self>, req: GenerateRequest) -> BoxStream<'static, StreamEvent> {
        self.stream_within(req, None)
    }

    /// [`stream`](Self::stream) whose first token must come within the caller's deadline
    /// (`X-Sable-Deadline-Ms`), capped by `MODEL_REQUEST_DEADLINE_SECS`.
    pub fn stream_within(
        self: Arc<Self>,
        req: GenerateRequest,
        requested: Option<Duration>,
    ) -> BoxStream<'static, StreamEvent> {
        let span = tracing::Span::current();
        let deadline = self.deadline(requested);
        async_stream::stream! {
            let mut guard = StreamGuard::start(self.stats.clone(), span.clone());
            let stream_started = Instant::now();
            let mut failures: Vec<(String, ProviderError)> = Vec::new();
            let mut opened = None;
            let (registry, routes) = match self.chat_plan(&req) {
                Ok(plan) => plan,
                Err(e) => {
                    guard.finish(Outcome::Failed);
                    yield StreamEvent::Error(format!("{}: {e}", e.code()));
                    return;
                }
            };
            for (i, route) in routes.iter().enumerate() {
                let model = Self::display(&registry, route);
                if i > 0 {
                    if deadline.remaining() < MIN_ATTEMPT {
                        failures.push((model, deadline.exhausted(None)));
                        break;
                    }
                    span.in_scope(|| note_fallback(&failures, &model));
                }
                let preq = Self::provider_request(&req, route.model_id());
                let first_token = route.provider.timeouts.first_token;
                let reserve = Self::fallback_reserve(&deadline, i + 1 < routes.len(), first_token);
                // One span per model tried (retries inside): provider and model as attributes.
                let call = tracing::info_span!(parent: &span, "provider call", provider = %route.provider.name, model = %route.model_id());
                let result = self
                    .with_retry(route, deadline, reserve, (first_token, "waiting for the first token"), || Self::open(route, &preq))
                    .instrument(call)
                    .await;
                match result {
                    Ok(stream) => {
                        opened = Some((model, route.clone(), stream));
                        break;
                    }
                    Err(e) => {
                        let stop = !may_fall_back(&e, route, routes.get(i + 1));
                        failures.push((model, e));
                        if stop {
                            break;
                        }
                    }
                }
            }
            let Some((model, route, (first, mut rest))) = opened else {
                guard.finish(Outcome::Failed);
                yield StreamEvent::Error(error_text(reported(&failures).map(|e| e.kind), &failure_message(true, &failures)));
                return;
            };
            // The provider counts this stream in flight until it ends.
            let _in_flight = route.provider.enter();
            let route_metrics = route.metrics();
            route_metrics.time_to_first_token.record(stream_started.elapsed().as_secs_f64());
            // Recorded when this stream ends, however it ends (dropped by the client too).
            let _duration = DurationGuard::start(route_metrics.request_duration.clone());
            let mut completion_tokens: u32 = 0;
            let token_counter = self.stats.token_counter();
            let mut finish_reason = first.as_ref().and_then(|d| d.finish_reason.clone());
            if let Some(text) = first.map(|d| d.text).filter(|t| !t.is_empty()) {
                token_counter.add(1);
                completion_tokens += 1;
                yield StreamEvent::Token(text);
            }
            let idle = route.provider.timeouts.idle;
            loop {
                // Most deltas are already buffered (one provider read carries many): those are
                // taken without arming a timer (a clock read and a timer entry per token).
                let next = match rest.next().now_or_never() {
                    Some(next) => Ok(next),
                    None => tokio::time::timeout(idle, rest.next()).await,
                };
                match next {
                    Ok(Some(Ok(delta))) => {
                        if delta.finish_reason.is_some() {
                            finish_reason = delta.finish_reason;
                        }
                        if !delta.text.is_empty() {
                            token_counter.add(1);
                            completion_tokens += 1;
                            yield StreamEvent::Token(delta.text);
                        }
                    }
                    Ok(Some(Err(e))) => {
                        span.in_scope(|| tracing::warn!(model = %model, kind = e.kind.as_str(), error = %e, "provider stream failed after its first token"));
                        metrics::counter!("model_provider_errors_total", "kind" => e.kind.as_str()).increment(1);
                        route.provider.breaker.record_failure(e.kind);
                        guard.finish(Outcome::Failed);
                        yield StreamEvent::Error(error_text(Some(e.kind), &format!("Streaming failed with {model}: {e}")));
                        return;
                    }
                    Ok(None) => break,
                    Err(_) => {
                        let e = ProviderError::timeout("between tokens", idle);
                        span.in_scope(|| tracing::warn!(model = %model, error = %e, "provider stream stalled"));
                        metrics::counter!("model_provider_errors_total", "kind" => e.kind.as_str()).increment(1);
                        route.provider.breaker.record_failure(e.kind);
                        guard.finish(Outcome::Failed);
                        yield StreamEvent::Error(error_text(Some(e.kind), &format!("Streaming failed with {model}: {e}")));
                        return;
                    }
                }
            }
            guard.finish(Outcome::Completed);
            let usage = common::schemas::Usage::new(estimate_prompt_tokens(&req), completion_tokens);
            record_usage(&route, &usage);
            trace_usage(&span, &route.provider.name, route.model_id(), &usage);
            yield StreamEvent::Meta(StreamMeta {
                model,
                usage,
                finish_reason: Some(finish_reason.unwrap_or_else(|| "stop".to_owned())),
                cost_usd: (!registry.is_single()).then(|| route.cost_usd(&usage)),
            });
            yield StreamEvent::Done;
        }
        .boxed()
    }

    /// Opens a provider stream and waits for its first non-empty delta (or its end), so that
    /// failures up to that point can still be retried or fall back.
    /// (The caller bounds the attempt's time: see [`with_retry`](Self::with_retry).)
    async fn open(
        route: &Route,
        preq: &ProviderRequest,
    ) -> Result<(Option<Delta>, DeltaStream), ProviderError> {
        let mut stream = route.provider.provider.stream(preq).await?;
        loop {
            match stream.next().await {
                Some(Ok(d)) if d.text.is_empty() && d.finish_reason.is_none() => continue,
                Some(Ok(d)) => return Ok((Some(d), stream)),
                Some(Err(e)) => return Err(e),
                None => return Ok((None, stream)),
            }
        }
    }

    /// Runs `attempt` until it succeeds, fails permanently, the attempts are used up, or the
    /// `deadline` (less `reserve`, the fallback's share) cannot fit another one. Each attempt
    /// gets `per_attempt.0` (named `per_attempt.1` in its timeout error), never more than the
    /// time left.
    async fn with_retry<T, F, Fut>(
        &self,
        route: &Route,
        deadline: Deadline,
        reserve: Duration,
        per_attempt: (Duration, &str),
        mut attempt: F,
    ) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let (per_attempt, what) = per_attempt;
        let model = route.model_id();
        let breaker = &route.provider.breaker;
        let available = || deadline.remaining().saturating_sub(reserve);
        let mut n = 1;
        loop {
            if let Admission::CoolingDown(left) = breaker.admit() {
                return Err(cooling_down(&route.provider.name, left));
            }
            let _in_flight = route.provider.enter();
            // The first attempt of a model always runs (the caller checked the time left);
            // with less than MIN_ATTEMPT after the reserve it gets MIN_ATTEMPT.
            let limit = per_attempt.min(available().max(MIN_ATTEMPT.min(deadline.remaining())));
            let attempt_started = Instant::now();
            let outcome = tokio::time::timeout(limit, attempt())
                .await
                .unwrap_or_else(|_| Err(ProviderError::timeout(what, limit)));
            route
                .provider
                .calls
                .record(attempt_started.elapsed(), outcome.is_err());
            match outcome {
                Ok(value) => {
                    breaker.record_success();
                    return Ok(value);
                }
                Err(e) => {
                    metrics::counter!("model_provider_errors_total", "kind" => e.kind.as_str())
                        .increment(1);
                    breaker.record_failure(e.kind);
                    if !(e.is_retryable() && self.retry.should_retry(n)) {
                        tracing::warn!(model, attempt = n, kind = e.kind.as_str(), error = %e, "provider call failed");
                        return Err(e);
                    }
                    let delay = self.retry.delay(n, e.retry_after, &mut rand::thread_rng());
                    if available() < delay + MIN_ATTEMPT {
                        tracing::warn!(model, attempt = n, kind = e.kind.as_str(), error = %e, "provider call failed; no time left for a retry");
                        // A rate limit keeps its class (and Retry-After): no other model helps.
                        return Err(if e.allows_fallback() {
                            deadline.exhausted(Some(&e))
                        } else {
                            e
                        });
                    }
                    tracing::info!(
                        model,
                        attempt = n,
                        kind = e.kind.as_str(),
                        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        error = %e,
                        "provider call failed, retrying"
                    );
                    metrics::counter!("model_provider_retries_total", "kind" => e.kind.as_str())
                        .increment(1);
                    tokio::time::sleep(delay).await;
                    n += 1;
                }
            }
        }
    }
}

/// The failure recorded for a provider that is cooling down: overloaded (so another provider
/// is tried), with the time left as `Retry-After`.
fn cooling_down(provider: &str, left: Duration) -> ProviderError {
    let mut e = ProviderError::new(
        ErrorKind::Overloaded,
        format!(
            "provider `{provider}` is cooling down after repeated failures ({:.0}s left)",
            left.as_secs_f64().ceil()
        ),
    );
    e.retry_after = Some(left);
    e
}

/// Whether a failure on `from` may be followed by a try on `next`: never for the caller's
/// own faults (invalid, too long, refused by policy); otherwise when another model can help
/// (overloaded, timeout, unknown model), or when `next` is on another provider (a rate limit,
/// a broken connection or a bad key there says nothing about the other one).
fn may_fall_back(e: &ProviderError, from: &Route, next: Option<&Route>) -> bool {
    let Some(next) = next else {
        return false;
    };
    if matches!(
        e.kind,
        ErrorKind::InvalidRequest | ErrorKind::ContextTooLong | ErrorKind::ContentPolicy
    ) {
        return false;
    }
    e.allows_fallback()
        || (!Arc::ptr_eq(&from.provider, &next.provider)
            && matches!(
                e.kind,
                ErrorKind::RateLimited | ErrorKind::Network | ErrorKind::Auth
            ))
}

/// Exports the counters of rare events at 0, one series per error class, before the first
/// event: `rate()`, dashboards and alerts then see a 0 rather than no data (Prometheus's
/// instrumentation guidance: "avoid missing metrics"). Called once at start-up.
pub fn export_counters_at_zero() {
    for kind in crate::providers::ErrorKind::ALL.map(crate::providers::ErrorKind::as_str) {
        metrics::counter!("model_provider_errors_total", "kind" => kind).increment(0);
        metrics::counter!("model_provider_retries_total", "kind" => kind).increment(0);
        metrics::counter!("model_fallbacks_total", "kind" => kind).increment(0);
    }
    for name in [
        "model_streams_started_total",
        "model_streams_failed_total",
        "model_stream_cancelled_total",
        "model_completions_cancelled_total",
        "model_tokens_generated_total",
    ] {
        metrics::counter!(name).increment(0);
    }
}

fn note_fallback(failures: &[(String, ProviderError)], fallback: &str) {
    if let Some((primary, e)) = failures.last() {
        tracing::warn!(primary = %primary, fallback, error = %e, "primary model failed, trying the fallback");
    }
    let kind = failures.last().map_or("unknown", |(_, e)| e.kind.as_str());
    metrics::counter!("model_fallbacks_total", "kind" => kind).increment(1);
}

/// `model_prompt_tokens_total{model}` and `model_completion_tokens_total{model}`.
fn record_usage(route: &Route, usage: &common::schemas::Usage) {
    let metrics = route.metrics();
    metrics
        .prompt_tokens
        .increment(u64::from(usage.prompt_tokens));
    metrics
        .completion_tokens
        .increment(u64::from(usage.completion_tokens));
}

/// The answer's provider, model and token counts as attributes of `span` (the request's), in
/// the OpenTelemetry GenAI conventions' names. A no-op when tracing is off.
fn trace_usage(span: &tracing::Span, provider: &str, model: &str, usage: &common::schemas::Usage) {
    use common::tracing_otel::set_attribute;
    set_attribute(span, "gen_ai.system", provider.to_owned());
    set_attribute(span, "gen_ai.response.model", model.to_owned());
    set_attribute(
        span,
        "gen_ai.usage.input_tokens",
        i64::from(usage.prompt_tokens),
    );
    set_attribute(
        span,
        "gen_ai.usage.output_tokens",
        i64::from(usage.completion_tokens),
    );
}

/// Records into a histogram the time from [`start`](Self::start) until it is dropped.
struct DurationGuard {
    histogram: metrics::Histogram,
    started: Instant,
}

impl DurationGuard {
    fn start(histogram: metrics::Histogram) -> Self {
        Self {
            histogram,
            started: Instant::now(),
        }
    }
}

impl Drop for DurationGuard {
    fn drop(&mut self) {
        self.histogram.record(self.started.elapsed().as_secs_f64());
    }
}

/// The failure whose class the caller is told about when every model tried failed: the last
/// one, unless an earlier one was retryable and the last is not (the primary being
/// overloaded is worth a retry even when the fallback model is unknown).
fn reported(failures: &[(String, ProviderError)]) -> Option<&ProviderError> {
    let (_, last) = failures.last()?;
    if last.is_retryable() {
        return Some(last);
    }
    Some(
        failures
            .iter()
            .rev()
            .map(|(_, e)| e)
            .find(|e| e.is_retryable())
            .unwrap_or(last),
    )
}

/// The envelope for a failed whole completion: the reported failure's class gives the status,
/// `code`, `retryable` and `Retry-After`.
fn classified_error(failures: &[(String, ProviderError)]) -> AppError {
    let message = failure_message(false, failures);
    match reported(failures) {
        Some(e) => AppError::classified(
            e.kind.status(),
            e.kind.code(),
            message,
            e.is_retryable(),
            e.retry_after,
        ),
        None => AppError::Inference(message),
    }
}

/// The text of a stream's `[ERROR]` event: `<CODE>: <message>`, e.g.
/// `CONTEXT_TOO_LONG: Streaming failed with m: …` (the SSE layer keeps it on one line).
pub fn error_text(kind: Option<crate::providers::ErrorKind>, message: &str) -> String {
    let code = kind.map_or("INFERENCE_ERROR", crate::providers::ErrorKind::code);
    format!("{code}: {message}")
}

/// The client-facing failure message (contract §7.1 wording, plus the causes).
fn failure_message(streaming: bool, failures: &[(String, ProviderError)]) -> String {
    match failures {
        [(model, e)] if streaming => format!("Streaming failed with {model}: {e}"),
        [(model, e)] => format!("Inference failed with {model}: {e}"),
        [(a, ea), (b, eb), ..] => {
            let causes = format!("{a}: {ea}; {b}: {eb}");
            if streaming {
                format!("Streaming failed with both {a} and {b} ({causes})")
            } else {
                format!("Both {a} and {b} failed ({causes})")
            }
        }
        [] => "No model was tried".to_owned(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Completed,
    Failed,
}

/// Counts a whole completion whose future was dropped before it finished: its caller went
/// away, and the provider call it owned was dropped with it.
struct CompletionGuard {
    stats: Arc<GenerationStats>,
    finished: bool,
}

impl CompletionGuard {
    fn start(stats: Arc<GenerationStats>) -> Self {
        stats.completion_started();
        Self {
            stats,
            finished: false,
        }
    }
}

impl Drop for CompletionGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.stats.completion_cancelled();
            tracing::info!("caller went away; completion cancelled and provider call dropped");
        }
    }
}

/// Counts a stream's start and end; a stream dropped before it finished was cancelled by
/// its client (the provider stream it owned is dropped with it).
struct StreamGuard {
    stats: Arc<GenerationStats>,
    span: tracing::Span,
    finished: bool,
}

impl StreamGuard {
    fn start(stats: Arc<GenerationStats>, span: tracing::Span) -> Self {
        stats.stream_started();
        Self {
            stats,
            span,
            finished: false,
        }
    }

    fn finish(&mut self, outcome: Outcome) {
        self.finished = true;
        match outcome {
            Outcome::Completed => self.stats.stream_completed(),
            Outcome::Failed => self.stats.stream_failed(),
        }
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.stats.stream_cancelled();
            self.span.in_scope(|| {
                tracing::info!("client went away; stream cancelled and provider stream dropped")
            });
        }
    }
}

/// Providers do not report usage on streams (without extra options), so prompt tokens are
/// estimated the way the mock counts them: characters of everything sent, divided by four.
fn estimate_prompt_tokens(req: &GenerateRequest) -> u32 {
    let chars = req.prompt.chars().count()
        + req
            .system_prompt
            .as_deref()
            .map_or(0, |s| s.chars().count())
        + req
            .messages
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|m| m.content.chars().count())
            .sum::<usize>();
    u32::try_from(chars / 4).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ErrorKind;
    use crate::providers::Provider;
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// One scripted call: the model it is for and what it returns.
    type Step = (String, Result<Vec<&'static str>, ErrorKind>);

    /// A provider that plays a script: one entry per call, per model.
    struct Scripted {
        script: Mutex<Vec<Step>>,
        calls: AtomicUsize,
    }

    #[async_trait]
    impl Provider for Scripted {
        fn name(&self) -> &str {
            "scripted"
        }
        async fn complete(&self, req: &ProviderRequest) -> Result<Completion, ProviderError> {
            let tokens = self.next(&req.model)?;
            Ok(Completion {
                text: tokens.concat(),
                model: req.model.clone(),
                usage: common::schemas::Usage::new(1, u32::try_from(tokens.len()).unwrap()),
                finish_reason: Some("stop".into()),
            })
        }
        async fn stream(&self, req: &ProviderRequest) -> Result<DeltaStream, ProviderError> {
            let tokens = self.next(&req.model)?;
            Ok(futures::stream::iter(tokens.into_iter().map(|t| {
                Ok(Delta {
                    text: t.into(),
                    finish_reason: None,
                })
            }))
            .boxed())
        }
        async fn embed(
            &self,
            model: &str,
            inputs: &[String],
        ) -> Result<crate::providers::Embeddings, ProviderError> {
            let tokens = self.next(model)?;
            Ok(crate::providers::Embeddings {
                // Batches of three inputs: `["short"]` answers one vector too few.
                vectors: inputs
                    .iter()
                    .take(if tokens == ["short"] {
                        inputs.len() - 1
                    } else {
                        inputs.len()
                    })
                    .map(|t| vec![t.len() as f32, 1.0])
                    .collect(),
                model: model.to_owned(),
                prompt_tokens: u32::try_from(inputs.len()).unwrap(),
            })
        }
    }

    impl Scripted {
        fn new(script: Vec<(&str, Result<Vec<&'static str>, ErrorKind>)>) -> Arc<Self> {
            Arc::new(Self {
                script: Mutex::new(script.into_iter().map(|(m, r)| (m.to_owned(), r)).collect()),
                calls: AtomicUsize::new(0),
            })
        }
        fn next(&self, model: &str) -> Result<Vec<&'static str>, ProviderError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let mut script = self.script.lock().unwrap();
            let i = script
                .iter()
                .position(|(m, _)| m == model)
                .expect("unexpected call");
            let (_, result) = script.remove(i);
            result.map_err(|kind| ProviderError::new(kind, "scripted failure"))
        }
    }

    fn registry(provider: Arc<dyn crate::providers::Provider>, fallback: Option<&str>) -> Registry {
        let t = Duration::from_secs(120);
        Registry::single(
            crate::registry::ProviderSlot::new(
                "test",
                "mock",
                provider,
                crate::registry::ProviderTimeouts {
                    total: t,
                    first_token: t,
                    idle: t,
                },
                crate::registry::breaker::Breaker::new("test", u32::MAX, Duration::ZERO),
            ),
            "primary",
            fallback,
            &[],
            Some("emb"),
        )
    }

    fn generator(provider: Arc<Scripted>, fallback: Option<&str>) -> Arc<Generator> {
        Arc::new(Generator::new(
            registry(provider, fallback),
            RetryPolicy::new(3, Duration::from_millis(1)),
            Timeouts {
                total: Duration::from_secs(5),
                first_token: Duration::from_secs(5),
                idle: Duration::from_secs(5),
                request_deadline: Duration::from_secs(30),
            },
            Arc::new(GenerationStats::default()),
        ))
    }

    /// A provider whose `primary` model never answers (a stalled connection) and whose other
    /// models answer at once.
    struct StalledPrimary;

    #[async_trait]
    impl Provider for StalledPrimary {
        fn name(&self) -> &str {
            "stalled"
        }
        async fn complete(&self, req: &ProviderRequest) -> Result<Completion, ProviderError> {
            if req.model == "primary" {
                futures::future::pending::<()>().await;
            }
            Ok(Completion {
                text: "from fb".into(),
                model: req.model.clone(),
                usage: common::schemas::Usage::new(1, 2),
                finish_reason: Some("stop".into()),
            })
        }
        async fn stream(&self, req: &ProviderRequest) -> Result<DeltaStream, ProviderError> {
            if req.model == "primary" {
                return Ok(futures::stream::pending().boxed());
            }
            Ok(futures::stream::iter([Ok(Delta {
                text: "from fb".into(),
                finish_reason: None,
            })])
            .boxed())
        }
        async fn embed(
            &self,
            _model: &str,
            _inputs: &[String],
        ) -> Result<crate::providers::Embeddings, ProviderError> {
            futures::future::pending().await
        }
    }

    /// Per-attempt timeouts far longer than the request's deadline (as with the defaults:
    /// 3 attempts × 2 models × 2 min).
    fn stalled(fallback: Option<&str>) -> Arc<Generator> {
        Arc::new(Generator::new(
            registry(Arc::new(StalledPrimary), fallback),
            RetryPolicy::new(3, Duration::from_millis(1)),
            Timeouts {
                total: Duration::from_secs(120),
                first_token: Duration::from_secs(120),
                idle: Duration::from_secs(120),
                request_deadline: Duration::from_secs(270),
            },
            Arc::new(GenerationStats::default()),
        ))
    }

    #[tokio::test]
    async fn a_stalled_primary_leaves_time_for_the_fallback_within_the_deadline() {
        let g = stalled(Some("fb"));
        let started = Instant::now();
        let r = g
            .complete_within(
                &GenerateRequest::new("hi"),
                Some(Duration::from_millis(1200)),
            )
            .await
            .unwrap();
        assert_eq!(r.model, "fb");
        assert!(
            started.elapsed() < Duration::from_millis(1200),
            "{:?}",
            started.elapsed()
        );

        let started = Instant::now();
        let events: Vec<_> = g
            .clone()
            .stream_within(
                GenerateRequest::new("hi"),
                Some(Duration::from_millis(1200)),
            )
            .collect()
            .await;
        assert_eq!(events[0], StreamEvent::Token("from fb".into()));
        assert_eq!(events.last(), Some(&StreamEvent::Done));
        assert!(
            started.elapsed() < Duration::from_millis(1200),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_stalled_provider_without_fallback_answers_504_within_the_deadline() {
        let g = stalled(None);
        let started = Instant::now();
        let e = g
            .complete_within(
                &GenerateRequest::new("hi"),
                Some(Duration::from_millis(800)),
            )
            .await
            .unwrap_err();
        let took = started.elapsed();
        assert_eq!(
            (e.status().as_u16(), e.code(), e.retryable()),
            (504, "PROVIDER_TIMEOUT", Some(true))
        );
        assert!(
            took >= Duration::from_millis(600) && took < Duration::from_millis(900),
            "{took:?}"
        );

        let started = Instant::now();
        let events: Vec<_> = g
            .clone()
            .stream_within(GenerateRequest::new("hi"), Some(Duration::from_millis(800)))
            .collect()
            .await;
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "{:?}",
            started.elapsed()
        );
        match events.as_slice() {
            [StreamEvent::Error(m)] => assert!(m.starts_with("PROVIDER_TIMEOUT: "), "{m}"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_services_own_deadline_caps_the_callers() {
        let g = generator(Scripted::new(vec![]), None);
        let capped = g.deadline(Some(Duration::from_secs(3600))).remaining();
        assert!(capped <= Duration::from_secs(30) && capped > Duration::from_secs(29));
        let shorter = g.deadline(Some(Duration::from_secs(2))).remaining();
        assert!(shorter <= Duration::from_secs(2));
        let own = g.deadline(None).remaining();
        assert!(own > Duration::from_secs(29));
    }

    #[tokio::test]
    async fn retryable_failures_are_retried_then_succeed() {
        let p = Scripted::new(vec![
            ("primary", Err(ErrorKind::RateLimited)),
            ("primary", Err(ErrorKind::Overloaded)),
            ("primary", Ok(vec!["ok"])),
        ]);
        let g = generator(p.clone(), Some("fb"));
        let r = g.complete(&GenerateRequest::new("hi")).await.unwrap();
        assert_eq!((r.text.as_str(), r.model.as_str()), ("ok", "primary"));
        assert_eq!(p.calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn an_unknown_model_skips_retries_and_uses_the_fallback() {
        let p = Scripted::new(vec![
            ("primary", Err(ErrorKind::UnknownModel)),
            ("fb", Ok(vec!["from fb"])),
        ]);
        let g = generator(p.clone(), Some("fb"));
        let r = g.complete(&GenerateRequest::new("hi")).await.unwrap();
        assert_eq!(r.model, "fb");
        assert_eq!(p.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn requests_invalid_everywhere_are_sent_once_and_keep_their_class() {
        use axum::http::StatusCode;
        for (kind, status, code) in [
            (
                ErrorKind::InvalidRequest,
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
            ),
            (
                ErrorKind::ContextTooLong,
                StatusCode::BAD_REQUEST,
                "CONTEXT_TOO_LONG",
            ),
            (
                ErrorKind::ContentPolicy,
                StatusCode::BAD_REQUEST,
                "CONTENT_POLICY",
            ),
            (ErrorKind::Auth, StatusCode::BAD_GATEWAY, "PROVIDER_AUTH"),
        ] {
            let p = Scripted::new(vec![("primary", Err(kind))]);
            let g = generator(p.clone(), Some("fb"));
            let e = g.complete(&GenerateRequest::new("hi")).await.unwrap_err();
            assert_eq!((e.status(), e.code()), (status, code));
            assert_eq!(e.retryable(), Some(false));
            assert!(
                e.to_string().starts_with("Inference failed with primary"),
                "{e}"
            );
            assert_eq!(
                p.calls.load(Ordering::SeqCst),
                1,
                "{kind:?}: no retry, no fallback"
            );
        }
    }

    #[tokio::test]
    async fn both_models_failing_names_both_and_reports_the_retryable_class() {
        let p = Scripted::new(vec![
            ("primary", Err(ErrorKind::Overloaded)),
            ("primary", Err(ErrorKind::Overloaded)),
            ("primary", Err(ErrorKind::Overloaded)),
            ("fb", Err(ErrorKind::UnknownModel)),
        ]);
        let g = generator(p, Some("fb"));
        let events: Vec<_> = g.stream(GenerateRequest::new("hi")).collect().await;
        match events.as_slice() {
            [StreamEvent::Error(m)] => assert!(
                m.starts_with("PROVIDER_OVERLOADED: Streaming failed with both primary and fb"),
                "{m}"
            ),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn rate_limits_are_retried_but_not_sent_to_the_fallback() {
        let p = Scripted::new(vec![
            ("primary", Err(ErrorKind::RateLimited)),
            ("primary", Err(ErrorKind::RateLimited)),
            ("primary", Err(ErrorKind::RateLimited)),
        ]);
        let g = generator(p.clone(), Some("fb"));
        let e = g.complete(&GenerateRequest::new("hi")).await.unwrap_err();
        assert_eq!((e.code(), e.retryable()), ("RATE_LIMITED", Some(true)));
        assert_eq!(p.calls.load(Ordering::SeqCst), 3);
    }

    fn embed_request(n: usize) -> common::schemas::EmbeddingsRequest {
        common::schemas::EmbeddingsRequest::new(
            Some("emb"),
            (0..n).map(|i| "x".repeat(i % 7 + 1)).collect(),
        )
    }

    #[tokio::test]
    async fn embeddings_are_batched_retried_and_kept_in_input_order() {
        let n = EMBEDDINGS_BATCH_SIZE * 2 + 5;
        let p = Scripted::new(vec![
            ("emb", Ok(vec!["ok"])),
            ("emb", Err(ErrorKind::Overloaded)),
            ("emb", Ok(vec!["ok"])),
            ("emb", Ok(vec!["ok"])),
        ]);
        let g = generator(p.clone(), Some("fb"));
        let r = g.embed_within(&embed_request(n), None).await.unwrap();
        assert_eq!(p.calls.load(Ordering::SeqCst), 4, "3 batches, one retried");
        assert_eq!(r.data.len(), n);
        assert_eq!(r.model, "test/emb");
        assert_eq!(r.usage.prompt_tokens, u32::try_from(n).unwrap());
        for (i, e) in r.data.iter().enumerate() {
            assert_eq!(e.index as usize, i);
            assert_eq!(e.embedding[0] as usize, i % 7 + 1, "input order kept");
        }
    }

    #[tokio::test]
    async fn embeddings_never_fall_back_and_keep_the_error_class() {
        for (kind, code) in [
            (ErrorKind::InvalidRequest, "INVALID_REQUEST"),
            (ErrorKind::UnknownModel, "UNKNOWN_MODEL"),
            (ErrorKind::ContextTooLong, "CONTEXT_TOO_LONG"),
        ] {
            let p = Scripted::new(vec![("emb", Err(kind))]);
            let g = generator(p.clone(), Some("fb"));
            let e = g.embed_within(&embed_request(2), None).await.unwrap_err();
            assert_eq!((e.code(), e.retryable()), (code, Some(false)));
            assert!(
                e.to_string().starts_with("Embedding failed with emb"),
                "{e}"
            );
            assert_eq!(p.calls.load(Ordering::SeqCst), 1, "{kind:?}");
        }
        let p = Scripted::new(vec![("emb", Ok(vec!["short"]))]);
        let e = generator(p, None)
            .embed_within(&embed_request(3), None)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "PROVIDER_UNREACHABLE");
        assert!(e.to_string().contains("2 embeddings for 3 inputs"), "{e}");
    }

    #[tokio::test]
    async fn a_dropped_completion_counts_a_cancellation() {
        let p = Scripted::new(vec![]);
        let g = generator(p, None);
        let stats = g.stats.clone();
        {
            let mut guard = CompletionGuard::start(stats.clone());
            guard.finished = false;
        }
        let s = stats.snapshot();
        assert_eq!((s.completions_started, s.completions_cancelled), (1, 1));
    }

    #[tokio::test]
    async fn stream_retries_then_streams_then_done() {
        let p = Scripted::new(vec![
            ("primary", Err(ErrorKind::Timeout)),
            ("primary", Ok(vec!["a ", "", "b "])),
        ]);
        let g = generator(p, None);
        let events: Vec<_> = g.clone().stream(GenerateRequest::new("hi")).collect().await;
        assert_eq!(
            events,
            [
                StreamEvent::Token("a ".into()),
                StreamEvent::Token("b ".into()),
                StreamEvent::Meta(StreamMeta {
                    model: "primary".into(),
                    usage: common::schemas::Usage::new(0, 2),
                    finish_reason: Some("stop".into()),
                    cost_usd: None,
                }),
                StreamEvent::Done
            ]
        );
        let s = g.stats.snapshot();
        assert_eq!(
            (s.streams_started, s.streams_completed, s.tokens_generated),
            (1, 1, 2)
        );
    }

    #[tokio::test]
    async fn dropping_a_stream_counts_a_cancellation() {
        let p = Scripted::new(vec![("primary", Ok(vec!["a ", "b ", "c "]))]);
        let g = generator(p, None);
        let mut s = g.clone().stream(GenerateRequest::new("hi"));
        assert_eq!(s.next().await, Some(StreamEvent::Token("a ".into())));
        drop(s);
        assert_eq!(g.stats.snapshot().streams_cancelled, 1);
    }
}
