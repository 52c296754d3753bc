//! The SSE relay: forwards each model-service event to the client as soon as it arrives.
//!
//! The upstream body is parsed with [`SseReader`] (one buffer, no allocation per event) and
//! re-framed exactly as the contract says (§6): `data: <payload>\n\n`. Nothing is buffered
//! beyond what is already available: the events of one upstream read go out in one write.
//! When the client disconnects, axum drops this stream, which drops the upstream response and
//! so closes the connection to the model service, which then stops generating.
//!
//! Failures never produce an empty 200: an unreachable model service, an upstream error, a
//! stall longer than the idle timeout or an upstream that closes early all end the stream
//! with a single-line `data: [ERROR] <message>` event.

use std::convert::Infallible;
use std::time::Instant;

use axum::body::Body;
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use common::schemas::GenerateRequest;
use common::sse::{Event, SseReader};
use futures::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;

use uuid::Uuid;

use crate::chat::conversation::{Conversation, Recorder};
use crate::chat::repo::AnswerError;
use crate::observability::{StreamMetrics, StreamOutcome};
use crate::state::AppState;

/// Ends a stream with `[ERROR]` when its answer could not be stored: `[DONE]` means saved.
const NOT_SAVED: &str = "the answer could not be saved";

/// `POST /api/v1/generate/stream`: the contract's framing of [`upstream_events`].
/// `prelude`: bytes sent before the first event (the public `event: meta` of a stream that
/// asked for it).
pub async fn stream_generation(
    state: AppState,
    owner: Uuid,
    request: GenerateRequest,
    conversation: Option<Conversation>,
    prelude: Option<Bytes>,
) -> Response {
    let events = upstream_events(state, owner, request, conversation).await;
    let body = events.filter_map(|batch| {
        let mut out = BytesMut::with_capacity(common::sse::encoded_len_hint(&batch));
        for event in batch.iter().filter(|e| !matches!(e, Event::Meta(_))) {
            event.encode_into(&mut out);
        }
        std::future::ready((!out.is_empty()).then(|| Ok::<Bytes, Infallible>(out.freeze())))
    });
    let body = futures::stream::iter(prelude.map(Ok::<Bytes, Infallible>)).chain(body);
    common::sse::response(Body::from_stream(body))
}

/// Opens the model service's stream for `request` and yields its events in batches (the
/// events that were ready together; one batch is one write to the client), ending with
/// exactly one `Done` or `Error`. With a conversation, the answer is stored before that
/// final event is yielded. Internal `Meta` events are included for framers that need them.
pub async fn upstream_events(
    state: AppState,
    owner: Uuid,
    request: GenerateRequest,
    conversation: Option<Conversation>,
) -> impl Stream<Item = Vec<Event>> + Send + 'static {
    upstream_events_until(
        state,
        owner,
        request,
        conversation,
        CancellationToken::new(),
    )
    .await
}

/// [`upstream_events`] that also ends when `stop` is cancelled (an explicit stop of a
/// server-side generation, or shutdown): the upstream request is dropped (the model service
/// stops generating), the partial answer is stored with `meta.stopped = true`, and the stream
/// ends with `[DONE]`.
pub async fn upstream_events_until(
    state: AppState,
    owner: Uuid,
    request: GenerateRequest,
    conversation: Option<Conversation>,
    stop: CancellationToken,
) -> impl Stream<Item = Vec<Event>> + Send + 'static {
    let started = Instant::now();
    let idle_timeout = state.config.http.stream_idle_timeout();
    let mut recorder = conversation.map(|c| c.recorder(state.clone(), started));
    // Open-streams gauge, time to first token, duration: recorded when the stream is dropped.
    let mut stream_metrics = StreamMetrics::start(request.model.as_deref());

    let send = state.model.post_stream(
        "/inference/stream",
        (common::schemas::STREAM_META_HEADER, "1"),
        &request,
    );
    // The wait for the response head is bounded by the idle timeout and ends on a stop: a
    // model service that accepted the connection and then hangs (a stopped process, a host
    // deep in swap) must neither hold the stream open nor make a stop wait.
    let head_deadline = tokio::time::Instant::now() + idle_timeout;
    let upstream = tokio::select! {
        biased;
        () = stop.cancelled() => None,
        upstream = tokio::time::timeout_at(head_deadline, send) => Some(upstream),
    };

    // Every open stream holds this generator for its whole life, and a generator is as large
    // as its largest await: the awaits that end a stream (storing the answer: database
    // futures of several KB) are boxed, so they take memory only while they run.
    async_stream::stream! {
        let mut first_token_seen = false;
        let mut body = match upstream {
            Some(Ok(Ok(response))) => response.into_body(),
            Some(Ok(Err(e))) => {
                stream_metrics.finished(StreamOutcome::Error);
                let error = AnswerError { code: e.code().to_owned(), message: e.public_message() };
                yield vec![Box::pin(finish_failed(recorder.take(), error)).await];
                return;
            }
            Some(Err(_)) => {
                tracing::warn!("the model service sent no response head within the stream idle timeout");
                stream_metrics.finished(StreamOutcome::Error);
                let last = Event::Error("The model service stopped responding".into());
                yield vec![Box::pin(finish(recorder.take(), last)).await];
                return;
            }
            None => {
                stream_metrics.finished(StreamOutcome::Cancelled);
                if let Some(recorder) = recorder.take() {
                    Box::pin(recorder.finish_stopped()).await;
                }
                yield vec![Event::Done];
                return;
            }
        };
        let mut reader = SseReader::default();
        // The idle timeout runs from the last whole event (a trickle of bytes that never
        // completes one does not keep the stream alive).
        let mut idle_until = tokio::time::Instant::now() + idle_timeout;
        loop {
            let next = tokio::select! {
                biased;
                () = stop.cancelled() => None,
                next = tokio::time::timeout_at(idle_until, body.chunk()) => Some(next),
            };
            let Some(next) = next else {
                // Closes the connection to the model service, which stops generating.
                drop(body);
                stream_metrics.finished(StreamOutcome::Cancelled);
                if let Some(recorder) = recorder.take() {
                    Box::pin(recorder.finish_stopped()).await;
                }
                yield vec![Event::Done];
                return;
            };
            // The events of one upstream read form one batch (one write to the client).
            // Only whole events count: a body that ends or breaks inside one drops that part.
            let broken = match next {
                Ok(Ok(Some(chunk))) => match reader.push_bytes(chunk) {
                    Ok(()) => None,
                    Err(e) => {
                        tracing::warn!(error = %e, "upstream stream refused");
                        Some(Event::Error("The model service sent an event that is too large".into()))
                    }
                },
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "upstream stream broke");
                    Some(Event::Error("The connection to the model service was lost".into()))
                }
                Ok(Ok(None)) => Some(Event::Error("The model service ended the stream unexpectedly".into())),
                Err(_) => {
                    stream_metrics.finished(StreamOutcome::Error);
                    let last = Event::Error("The model service stopped responding".into());
                    yield vec![Box::pin(finish(recorder.take(), last)).await];
                    return;
                }
            };
            let mut out = Vec::new();
            let mut last = None;
            let mut tokens = 0u64;
            while let Some(raw) = reader.next_event(false) {
                match Event::decode_raw(raw) {
                    Some(Event::Token(token)) => {
                        if let Some(r) = recorder.as_mut() { r.token(&token); }
                        tokens += 1;
                        out.push(Event::Token(token));
                    }
                    Some(Event::Meta(meta)) => {
                        stream_metrics.model(&meta.model);
                        // The owner's daily usage (in the background: the answer goes on).
                        state.usage.add(owner, &meta.model, meta.usage, meta.cost_usd);
                        if let Some(r) = recorder.as_mut() { r.meta(meta.clone()); }
                        out.push(Event::Meta(meta));
                    }
                    Some(end) => {
                        last = Some(end);
                        break;
                    }
                    None => {}
                }
            }
            if !out.is_empty() {
                idle_until = tokio::time::Instant::now() + idle_timeout;
            }
            if tokens > 0 {
                state.metrics_window.record_tokens(tokens);
                if !std::mem::replace(&mut first_token_seen, true) {
                    // The dashboard's TTFT: the moment StreamMetrics reports to Prometheus.
                    state.metrics_window.record_ttft(started.elapsed());
                }
                stream_metrics.tokens(tokens);
            }
            if let Some(last) = last.or(broken) {
                let last = Box::pin(finish(recorder.take(), last)).await;
                stream_metrics.finished(if matches!(last, Event::Done) { StreamOutcome::Done } else { StreamOutcome::Error });
                out.push(last);
                yield out;
                return;
            }
            if !out.is_empty() {
                yield out;
            }
        }
    }
}

/// The one way a relayed stream ends: the answer is stored first, then the final event
/// (`last`, a `[DONE]` or an `[ERROR]`) is returned for sending — `[ERROR]` instead of
/// `[DONE]` when the answer could not be saved.
async fn finish(recorder: Option<Recorder>, last: Event) -> Event {
    let Some(recorder) = recorder else {
        return last;
    };
    let outcome = match &last {
        Event::Error(message) => Err(AnswerError::from_event(
            message,
            AnswerError::STREAM_INTERRUPTED,
        )),
        _ => Ok(()),
    };
    if recorder.finish(outcome).await || !matches!(last, Event::Done) {
        last
    } else {
        Event::Error(NOT_SAVED.into())
    }
}

/// [`finish`] for a stream that failed before it started (the model service refused or could
/// not be reached): the failure keeps the class of the envelope the model service would send.
async fn finish_failed(recorder: Option<Recorder>, error: AnswerError) -> Event {
    let last = Event::Error(error.message.clone());
    if let Some(recorder) = recorder {
        recorder.finish(Err(error)).await;
    }
    last
}
