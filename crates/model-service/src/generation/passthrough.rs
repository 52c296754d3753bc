//! OpenAI chat completions forwarded whole (`POST /v1/chat/completions`): the same model
//! resolution, retries, fallback, deadlines, cancellation, metrics and usage as
//! [`Generator::complete`] and [`Generator::stream`], around [`Provider::chat`] and
//! [`Provider::chat_stream`]. The body is not translated: per attempt only `model` is set (the
//! fallback's id when it is tried) and a stream asks for usage (`stream_options.include_usage`).
//!
//! - A request whose model lacks a capability it needs (an image part without `vision`,
//!   `tools` without `tools`, …) is refused with 400 before any provider is called, and the
//!   fallback is tried only when its model has every capability the request needs
//!   ([`crate::capabilities`]).
//! - A stream is opened, retried and falls back until its first chunk that carries the answer
//!   (text, a tool call, a refusal or a finish reason); a failure until then is an error
//!   answer (status and class), not a stream. After it, a failure ends the stream with
//!   `data: [ERROR] <CODE>: <message>`.
//! - Every answer reports usage: the provider's, or an estimate (characters / 4) when it sent
//!   none; a stream always ends with a usage-only chunk, then `data: [DONE]`.
//!
//! [`Provider::chat`]: crate::providers::Provider::chat
//! [`Provider::chat_stream`]: crate::providers::Provider::chat_stream

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use common::schemas::openai::{completion_usage, ChunkView};
use common::schemas::Usage;
use common::AppError;
use futures::stream::BoxStream;
use futures::StreamExt;
use serde_json::{json, Value};
use tracing::Instrument;

use super::{
    classified_error, error_text, may_fall_back, note_fallback, record_usage, trace_usage,
    CompletionGuard, Deadline, DurationGuard, Generator, Outcome, StreamGuard, MIN_ATTEMPT,
};
use crate::capabilities::{self, CapabilityTable};
use crate::providers::{ChunkStream, ProviderError};
use crate::registry::capability::Capability;
use crate::registry::{Price, Registry, Route};

/// A stream opened up to its first chunk that carries the answer: the chunks so far and the
/// rest.
type Opened = (Vec<Bytes>, ChunkStream);

/// Which model answered an OpenAI request, for the gateway's accounting (the answer's bytes
/// are the provider's): its id as answers name it, and its prices (with a providers file).
#[derive(Debug, Clone, PartialEq)]
pub struct Answered {
    pub model: String,
    pub price: Option<Price>,
}

impl Answered {
    fn new(registry: &Registry, route: &Route) -> Self {
        Self {
            model: Generator::display(registry, route),
            price: (!registry.is_single()).then(|| route.price()),
        }
    }
}

impl Generator {
    /// The routes to try for `body`: the requested model (or the default), then its fallbacks
    /// that cover the request. 400 when the requested model lacks a capability the request
    /// needs.
    fn chat_candidates(
        &self,
        body: &Value,
        capabilities: &CapabilityTable,
    ) -> Result<(Arc<Registry>, Vec<Route>), AppError> {
        let needs = capabilities::needs(body);
        let requested = body.get("model").and_then(Value::as_str);
        let registry = self.registry();
        let mut candidates = registry.plan(requested, Capability::Chat)?;
        if let Some(primary) = candidates.first() {
            if let Some(need) =
                capabilities::of_route(capabilities, &registry, primary).missing(&needs)
            {
                return Err(capabilities::refusal(
                    &Self::display(&registry, primary),
                    need,
                ));
            }
        }
        candidates.retain(|route| {
            let covered = capabilities::of_route(capabilities, &registry, route)
                .missing(&needs)
                .is_none();
            if !covered {
                tracing::debug!(model = %route.id(), "fallback skipped: it lacks a capability the request needs");
            }
            covered
        });
        Ok((registry, candidates))
    }

    /// A whole `chat.completion` for `body` (an OpenAI request), as the provider wrote it
    /// (with an estimated `usage` when it had none).
    pub async fn chat_within(
        &self,
        body: Value,
        capabilities: &CapabilityTable,
        requested: Option<Duration>,
    ) -> Result<(Bytes, Answered), AppError> {
        let mut guard = CompletionGuard::start(self.stats.clone());
        let result = self
            .chat_inner(body, capabilities, self.deadline(requested))
            .await;
        guard.finished = true;
        result
    }

    async fn chat_inner(
        &self,
        mut body: Value,
        capabilities: &CapabilityTable,
        deadline: Deadline,
    ) -> Result<(Bytes, Answered), AppError> {
        let (registry, candidates) = self.chat_candidates(&body, capabilities)?;
        let mut failures: Vec<(String, ProviderError)> = Vec::new();
        for (i, route) in candidates.iter().enumerate() {
            let model = Self::display(&registry, route);
            if i > 0 {
                if deadline.remaining() < MIN_ATTEMPT {
                    failures.push((model, deadline.exhausted(None)));
                    break;
                }
                note_fallback(&failures, &model);
            }
            body["model"] = Value::from(route.model_id());
            let total = route.provider.timeouts.total;
            let reserve = Self::fallback_reserve(&deadline, i + 1 < candidates.len(), total);
            let call_started = Instant::now();
            let request = &body;
            let result = self
                .with_retry(route, deadline, reserve, (total, "whole call"), || {
                    route.provider.provider.chat(request)
                })
                .instrument(tracing::info_span!(
                    "provider call",
                    provider = %route.provider.name,
                    model = %route.model_id()
                ))
                .await;
            match result {
                Ok(answer) => {
                    route
                        .metrics()
                        .request_duration
                        .record(call_started.elapsed().as_secs_f64());
                    let (answer, usage) = match completion_usage(&answer) {
                        // The provider's bytes, untouched.
                        Some(usage) => (answer, usage),
                        None => with_estimated_usage(&body, &answer),
                    };
                    self.account(route, &usage, &tracing::Span::current());
                    return Ok((answer, Answered::new(&registry, route)));
                }
                Err(e) => {
                    let stop = !may_fall_back(&e, route, candidates.get(i + 1));
                    failures.push((model, e));
                    if stop {
                        break;
                    }
                }
            }
        }
        Err(classified_error(&failures))
    }

    fn account(&self, route: &Route, usage: &Usage, span: &tracing::Span) {
        self.stats.tokens(u64::from(usage.completion_tokens));
        record_usage(route, usage);
        trace_usage(span, &route.provider.name, route.model_id(), usage);
    }

    /// A streamed answer for `body` (an OpenAI request with `stream: true`): the SSE body's
    /// bytes, each provider chunk as `data: <chunk>`, then a usage-only chunk and
    /// `data: [DONE]` (or `data: [ERROR] …`). Failures before the first chunk that carries
    /// the answer are the `Err` (see the module docs).
    pub async fn chat_stream_within(
        self: Arc<Self>,
        mut body: Value,
        capabilities: &CapabilityTable,
        requested: Option<Duration>,
    ) -> Result<(BoxStream<'static, Bytes>, Answered), AppError> {
        let (registry, candidates) = self.chat_candidates(&body, capabilities)?;
        let span = tracing::Span::current();
        let deadline = self.deadline(requested);
        let mut guard = StreamGuard::start(self.stats.clone(), span.clone());
        let started = Instant::now();
        if let Some(object) = body.as_object_mut() {
            object.insert("stream".to_owned(), Value::Bool(true));
            let options = object.entry("stream_options").or_insert_with(|| json!({}));
            if let Some(options) = options.as_object_mut() {
                options.insert("include_usage".to_owned(), Value::Bool(true));
            } else {
                *options = json!({"include_usage": true});
            }
        }
        let mut failures: Vec<(String, ProviderError)> = Vec::new();
        let mut opened = None;
        for (i, route) in candidates.iter().enumerate() {
            let model = Self::display(&registry, route);
            if i > 0 {
                if deadline.remaining() < MIN_ATTEMPT {
                    failures.push((model, deadline.exhausted(None)));
                    break;
                }
                note_fallback(&failures, &model);
            }
            body["model"] = Value::from(route.model_id());
            let first_token = route.provider.timeouts.first_token;
            let reserve = Self::fallback_reserve(&deadline, i + 1 < candidates.len(), first_token);
            let call = tracing::info_span!(parent: &span, "provider call", provider = %route.provider.name, model = %route.model_id());
            let request = &body;
            let result = self
                .with_retry(
                    route,
                    deadline,
                    reserve,
                    (first_token, "waiting for the first token"),
                    || Self::chat_open(route, request),
                )
                .instrument(call)
                .await;
            match result {
                Ok(stream) => {
                    opened = Some((model, route.clone(), stream));
                    break;
                }
                Err(e) => {
                    let stop = !may_fall_back(&e, route, candidates.get(i + 1));
                    failures.push((model, e));
                    if stop {
                        break;
                    }
                }
            }
        }
        let Some((model, route, (first, mut rest))) = opened else {
            guard.finish(Outcome::Failed);
            return Err(classified_error(&failures));
        };
        let request_duration = route.metrics().request_duration.clone();
        route
            .metrics()
            .time_to_first_token
            .record(started.elapsed().as_secs_f64());
        let idle = route.provider.timeouts.idle;
        let answered = Answered::new(&registry, &route);
        let this = self;
        let stream = async_stream::stream! {
            // The provider counts this stream in flight until it ends.
            let _in_flight = route.provider.enter();
            // Recorded when this stream ends, however it ends (dropped by the client too).
            let _duration = DurationGuard::start(request_duration);
            let mut seen = Seen::default();
            let mut out = BytesMut::new();
            for chunk in &first {
                seen.observe(chunk);
                frame(&mut out, chunk);
            }
            yield out.split().freeze();
            loop {
                match tokio::time::timeout(idle, rest.next()).await {
                    Ok(Some(Ok(chunk))) => {
                        seen.observe(&chunk);
                        frame(&mut out, &chunk);
                        yield out.split().freeze();
                    }
                    Ok(Some(Err(e))) => {
                        span.in_scope(|| tracing::warn!(model = %model, kind = e.kind.as_str(), error = %e, "provider stream failed after its first token"));
                        metrics::counter!("model_provider_errors_total", "kind" => e.kind.as_str()).increment(1);
                        route.provider.breaker.record_failure(e.kind);
                        guard.finish(Outcome::Failed);
                        yield common::sse::error_event(&error_text(Some(e.kind), &format!("Streaming failed with {model}: {e}")));
                        return;
                    }
                    Ok(None) => break,
                    Err(_) => {
                        let e = ProviderError::timeout("between tokens", idle);
                        span.in_scope(|| tracing::warn!(model = %model, error = %e, "provider stream stalled"));
                        metrics::counter!("model_provider_errors_total", "kind" => e.kind.as_str()).increment(1);
                        guard.finish(Outcome::Failed);
                        yield common::sse::error_event(&error_text(Some(e.kind), &format!("Streaming failed with {model}: {e}")));
                        return;
                    }
                }
            }
            guard.finish(Outcome::Completed);
            let usage = match seen.usage {
                Some(usage) => usage,
                None => {
                    let usage = Usage::new(estimated_prompt_tokens(&body), seen.tokens);
                    let chunk = json!({"id": seen.id, "object": "chat.completion.chunk",
                        "created": 0, "model": seen.model.as_deref().unwrap_or(&model),
                        "choices": [], "usage": usage});
                    frame(&mut out, chunk.to_string().as_bytes());
                    usage
                }
            };
            this.account(&route, &usage, &span);
            out.put_slice(b"data: [DONE]\n\n");
            yield out.split().freeze();
        }
        .boxed();
        Ok((stream, answered))
    }

    /// Opens a provider stream and reads it up to its first chunk that carries the answer (or
    /// its end), so that failures until then can still be retried or fall back.
    async fn chat_open(route: &Route, body: &Value) -> Result<Opened, ProviderError> {
        let mut stream = route.provider.provider.chat_stream(body).await?;
        let mut first = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            let carries = serde_json::from_slice::<ChunkView>(&chunk)
                .is_ok_and(|c| c.carries_answer() || c.is_usage_only());
            first.push(chunk);
            if carries {
                break;
            }
        }
        Ok((first, stream))
    }
}

/// What the stream's chunks said so far.
#[derive(Default)]
struct Seen {
    id: Option<String>,
    model: Option<String>,
    usage: Option<Usage>,
    /// Chunks with text, a refusal or tool-call fragments (the estimate's completion tokens).
    tokens: u32,
}

impl Seen {
    fn observe(&mut self, chunk: &[u8]) {
        let Ok(view) = serde_json::from_slice::<ChunkView>(chunk) else {
            return;
        };
        if self.id.is_none() {
            self.id = serde_json::from_slice::<IdOnly>(chunk)
                .ok()
                .and_then(|c| c.id);
        }
        if view.model.is_some() {
            self.model = view.model.clone();
        }
        if let Some(usage) = view.usage {
            self.usage = Some(usage.usage());
        }
        if view.carries_answer() {
            self.tokens = self.tokens.saturating_add(1);
        }
    }
}

#[derive(serde::Deserialize)]
struct IdOnly {
    #[serde(default)]
    id: Option<String>,
}

/// `data: <chunk>\n\n`. A chunk sent over several `data:` lines is re-serialised on one.
fn frame(out: &mut BytesMut, chunk: &[u8]) {
    out.put_slice(b"data: ");
    if chunk.contains(&b'\n') {
        match serde_json::from_slice::<Value>(chunk) {
            Ok(v) => out.put_slice(v.to_string().as_bytes()),
            Err(_) => out.put_slice(
                &chunk
                    .iter()
                    .map(|&b| if b == b'\n' { b' ' } else { b })
                    .collect::<Vec<_>>(),
            ),
        }
    } else {
        out.put_slice(chunk);
    }
    out.put_slice(b"\n\n");
}

/// Characters of the messages (and tools) sent, divided by four.
fn estimated_prompt_tokens(body: &Value) -> u32 {
    let chars = body.get("messages").map_or(0, |m| m.to_string().len())
        + body.get("tools").map_or(0, |t| t.to_string().len());
    u32::try_from(chars / 4).unwrap_or(u32::MAX)
}

/// An answer that reported no usage, with an estimate added: the prompt estimate and the
/// characters of the answer's messages divided by four.
fn with_estimated_usage(body: &Value, answer: &[u8]) -> (Bytes, Usage) {
    let mut answer: Value = serde_json::from_slice(answer).unwrap_or_else(|_| json!({}));
    let written = answer["choices"].as_array().map_or(0, |choices| {
        choices
            .iter()
            .map(|c| c.get("message").map_or(0, |m| m.to_string().len()))
            .sum::<usize>()
    });
    let usage = Usage::new(
        estimated_prompt_tokens(body),
        u32::try_from(written / 4).unwrap_or(u32::MAX),
    );
    if let Some(object) = answer.as_object_mut() {
        object.insert("usage".to_owned(), json!(usage));
    }
    (Bytes::from(answer.to_string()), usage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generation::Timeouts;
    use crate::providers::mock::{MockProvider, MockSettings};
    use crate::registry::breaker::Breaker;
    use crate::registry::{ProviderSlot, ProviderTimeouts};
    use crate::retry::RetryPolicy;
    use crate::stats::GenerationStats;

    fn generator() -> Generator {
        let t = Duration::from_secs(5);
        Generator::new(
            Registry::single(
                ProviderSlot::new(
                    "mock",
                    "mock",
                    Arc::new(MockProvider::new(MockSettings::default())),
                    ProviderTimeouts {
                        total: t,
                        first_token: t,
                        idle: t,
                    },
                    Breaker::new("mock", u32::MAX, Duration::ZERO),
                ),
                "primary",
                Some("text-only"),
                &[],
                None,
            ),
            RetryPolicy::new(1, Duration::from_millis(1)),
            Timeouts {
                total: Duration::from_secs(5),
                first_token: Duration::from_secs(5),
                idle: Duration::from_secs(5),
                request_deadline: Duration::from_secs(30),
            },
            Arc::new(GenerationStats::default()),
        )
    }

    fn ids((_, routes): (Arc<Registry>, Vec<Route>)) -> Vec<String> {
        routes.iter().map(|r| r.model_id().to_owned()).collect()
    }

    #[test]
    fn the_fallback_is_tried_only_when_it_covers_the_request() {
        let g = generator();
        let table = CapabilityTable::parse("text-only=chat,json").unwrap();
        let plain = json!({"model": "primary", "messages": [{"role": "user", "content": "hi"}]});
        assert_eq!(
            ids(g.chat_candidates(&plain, &table).unwrap()),
            ["primary", "text-only"]
        );
        let image = json!({"model": "primary", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "u"}}]}]});
        assert_eq!(ids(g.chat_candidates(&image, &table).unwrap()), ["primary"]);
        let tools = json!({"model": "primary", "tools": [{"type": "function"}],
            "messages": [{"role": "user", "content": "hi"}]});
        assert_eq!(ids(g.chat_candidates(&tools, &table).unwrap()), ["primary"]);
        let mut refused = tools.clone();
        refused["model"] = json!("text-only");
        let e = g.chat_candidates(&refused, &table).unwrap_err();
        assert_eq!(
            (e.status().as_u16(), e.code()),
            (400, "MODEL_LACKS_CAPABILITY")
        );
    }

    #[tokio::test]
    async fn whole_answers_carry_usage_and_streams_end_with_usage_then_done() {
        let g = Arc::new(generator());
        let table = CapabilityTable::default();
        let body =
            json!({"model": "primary", "messages": [{"role": "user", "content": "hello there"}]});
        let answer: Value =
            serde_json::from_slice(&g.chat_within(body.clone(), &table, None).await.unwrap().0)
                .unwrap();
        assert!(answer["usage"]["total_tokens"].as_u64().unwrap() > 0);
        let (with, usage) = with_estimated_usage(
            &body,
            br#"{"choices": [{"message": {"content": "0123456789abcdef"}}]}"#,
        );
        let with: Value = serde_json::from_slice(&with).unwrap();
        assert_eq!(with["usage"]["completion_tokens"], usage.completion_tokens);
        assert!(usage.prompt_tokens > 0 && usage.completion_tokens > 0);

        let mut streamed = body;
        streamed["stream"] = json!(true);
        let bytes: Vec<Bytes> = g
            .clone()
            .chat_stream_within(streamed, &table, None)
            .await
            .unwrap()
            .0
            .collect()
            .await;
        let text = String::from_utf8(bytes.concat()).unwrap();
        let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
        assert_eq!(events.last(), Some(&"data: [DONE]"));
        let usage: Value =
            serde_json::from_str(events[events.len() - 2].strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(usage["choices"], json!([]));
        assert!(usage["usage"]["completion_tokens"].as_u64().unwrap() > 0);
        assert_eq!(g.stats.snapshot().streams_completed, 1);
    }
}
