//! `POST /v1/chat/completions`: an OpenAI chat-completions request, forwarded whole to the
//! model's provider (the gateway's OpenAI-compatible API calls it). The body is read as JSON and
//! passed on untouched but for `model` (and, for streams, `stream_options.include_usage`);
//! see [`crate::generation`]'s passthrough for retries, fallback and capabilities.
//!
//! Answers: 200 with the provider's `chat.completion`, or with `stream: true` an SSE body of
//! its `chat.completion.chunk`s (`data: <chunk>`), a usage-only chunk and `data: [DONE]`; a
//! failure after the first chunk ends it with `data: [ERROR] <CODE>: <message>`. Errors before
//! that are this service's envelope: 422 for a malformed request, 400
//! `MODEL_LACKS_CAPABILITY`, and the provider failure classes.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use common::extract::ValidJson;
use common::validation::{FieldError, Validate};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::Value;

use crate::generation::Answered;
use crate::registry::Price;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/chat/completions", post(chat_completions))
}

/// An OpenAI chat request, kept as JSON: only what every provider needs is checked here.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct ChatBody(pub Value);

impl Validate for ChatBody {
    fn validate(&self) -> Vec<FieldError> {
        check(&self.0)
    }
}

/// `model` a non-empty string, `messages` a non-empty array of objects with a string `role`,
/// `stream` a boolean when present.
pub fn check(body: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let error = |loc: &[&str], message: &str| FieldError::new("value_error", loc, message);
    if body
        .get("model")
        .and_then(Value::as_str)
        .is_none_or(|m| m.trim().is_empty())
    {
        errors.push(error(
            &["body", "model"],
            "model must be a non-empty string",
        ));
    }
    match body.get("messages").and_then(Value::as_array) {
        Some(messages) if !messages.is_empty() => {
            for (i, message) in messages.iter().enumerate() {
                if message.get("role").and_then(Value::as_str).is_none() {
                    let i = i.to_string();
                    errors.push(error(
                        &["body", "messages", &i, "role"],
                        "each message needs a string role",
                    ));
                }
            }
        }
        _ => errors.push(error(
            &["body", "messages"],
            "messages must be a non-empty array",
        )),
    }
    if body
        .get("stream")
        .is_some_and(|s| !s.is_boolean() && !s.is_null())
    {
        errors.push(error(&["body", "stream"], "stream must be a boolean"));
    }
    errors
}

#[tracing::instrument(skip_all)]
async fn chat_completions(
    State(state): State<AppState>,
    headers: HeaderMap,
    ValidJson(body): ValidJson<ChatBody>,
) -> Response {
    let deadline = common::http::requested_deadline(&headers);
    let body = body.0;
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        return match state
            .generator
            .clone()
            .chat_stream_within(body, &state.capabilities, deadline)
            .await
        {
            Ok((stream, answered)) => with_answered(
                common::sse::response(axum::body::Body::from_stream(
                    stream.map(Ok::<_, std::convert::Infallible>),
                )),
                &answered,
            ),
            Err(e) => e.into_response(),
        };
    }
    match state
        .generator
        .chat_within(body, &state.capabilities, deadline)
        .await
    {
        Ok((answer, answered)) => with_answered(
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                answer,
            )
                .into_response(),
            &answered,
        ),
        Err(e) => e.into_response(),
    }
}

/// Names the answering model and its prices (with a providers file) for the gateway's
/// accounting.
fn with_answered(mut response: Response, answered: &Answered) -> Response {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&answered.model) {
        headers.insert(common::schemas::ANSWERED_BY_HEADER, value);
    }
    if let Some(value) = answered
        .price
        .and_then(|p| HeaderValue::from_str(&p.header_value()).ok())
    {
        headers.insert(Price::HEADER, value);
    }
    response
}
