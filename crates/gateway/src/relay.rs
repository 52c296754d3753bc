//! The SSE relay: forwards each model-service event to the client as soon as it arrives.
//!
//! The upstream body is parsed with `eventsource-stream` and re-framed exactly as the
//! contract says (§6): `data: <payload>\n\n`. Nothing is buffered beyond what is already
//! available (several ready events go out in one write). When the client disconnects, axum
//! drops this stream, which drops the upstream response and so closes the connection to the
//! model service, which then stops generating.
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
use common::sse::{Event, MAX_EVENTS_PER_WRITE};
use eventsource_stream::Eventsource;
use futures::StreamExt;
use reqwest::Method;

use crate::chat::conversation::{Conversation, Recorder};
use crate::state::AppState;

/// Ends a stream with `[ERROR]` when its answer could not be stored: `[DONE]` means saved.
const NOT_SAVED: &str = "the answer could not be saved";

pub async fn stream_generation(
    state: AppState,
    request: GenerateRequest,
    conversation: Option<Conversation>,
) -> Response {
    let started = Instant::now();
    let idle_timeout = state.config.http.stream_idle_timeout();
    let mut recorder = conversation.map(|c| c.recorder(state.clone(), started));

    let upstream = state
        .model
        .send(
            state
                .model
                .streaming_request(Method::POST, "/inference/stream")
                .header(common::schemas::STREAM_META_HEADER, "1")
                .json(&request),
        )
        .await;

    let body = async_stream::stream! {
        let mut events = match upstream {
            Ok(response) => response.bytes_stream().eventsource().ready_chunks(MAX_EVENTS_PER_WRITE),
            Err(e) => {
                let last = Event::Error(e.public_message());
                yield Ok::<Bytes, Infallible>(finish(recorder.take(), last).await.encode());
                return;
            }
        };
        loop {
            let batch = match tokio::time::timeout(idle_timeout, events.next()).await {
                Ok(Some(batch)) => batch,
                Ok(None) => {
                    let last = Event::Error("The model service ended the stream unexpectedly".into());
                    yield Ok(finish(recorder.take(), last).await.encode());
                    return;
                }
                Err(_) => {
                    let last = Event::Error("The model service stopped responding".into());
                    yield Ok(finish(recorder.take(), last).await.encode());
                    return;
                }
            };
            let mut out = BytesMut::new();
            let mut last = None;
            let mut tokens = 0u64;
            for event in batch {
                let event = match event {
                    Ok(event) => Event::decode(&event.event, &event.data),
                    Err(e) => {
                        tracing::warn!(error = %e, "upstream stream broke");
                        Some(Event::Error("The connection to the model service was lost".into()))
                    }
                };
                match event {
                    Some(Event::Token(token)) => {
                        if let Some(r) = recorder.as_mut() { r.token(&token); }
                        tokens += 1;
                        Event::Token(token).encode_into(&mut out);
                    }
                    Some(Event::Meta(meta)) => {
                        if let Some(r) = recorder.as_mut() { r.meta(meta); }
                    }
                    Some(end) => {
                        last = Some(end);
                        break;
                    }
                    None => {}
                }
            }
            if tokens > 0 {
                state.metrics_window.record_tokens(tokens);
            }
            if let Some(last) = last {
                finish(recorder.take(), last).await.encode_into(&mut out);
                yield Ok(out.freeze());
                return;
            }
            if !out.is_empty() {
                yield Ok(out.freeze());
            }
        }
    };

    common::sse::response(Body::from_stream(body))
}

/// The one way a relayed stream ends: the answer is stored first, then the final event
/// (`last`, a `[DONE]` or an `[ERROR]`) is returned for sending — `[ERROR]` instead of
/// `[DONE]` when the answer could not be saved.
async fn finish(recorder: Option<Recorder>, last: Event) -> Event {
    let Some(recorder) = recorder else {
        return last;
    };
    let outcome = match &last {
        Event::Error(message) => Err(message.as_str()),
        _ => Ok(()),
    };
    if recorder.finish(outcome).await || !matches!(last, Event::Done) {
        last
    } else {
        Event::Error(NOT_SAVED.into())
    }
}
