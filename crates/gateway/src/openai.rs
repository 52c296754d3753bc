//! OpenAI's chat-completions wire format: request and response shapes, the translation to
//! and from Sable's generation request, chunk framing for streams, and OpenAI's error shape.
//! The routes are in `crate::routes::openai`.
//!
//! Honoured: `model`, `messages` (system/developer/user/assistant; string content or text
//! parts), `max_tokens`/`max_completion_tokens`, `temperature`, `stream`,
//! `stream_options.include_usage`, `n` (1 only). Accepted and ignored: `top_p`, `stop`,
//! `seed`, `user`, and any unknown field. Refused with 400: `n` ≠ 1, tool/function messages,
//! non-text content parts, a conversation that does not end with a user message.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, BytesMut};
use common::schemas::{ChatTurn, GenerateRequest, Role, Usage};
use common::sse::Event;
use common::validation::{FieldError, Validate};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

/// OpenAI's default sampling temperature (Sable's own default is 0.7).
const OPENAI_DEFAULT_TEMPERATURE: f64 = 1.0;
/// Largest error body read back when rewriting an error into OpenAI's shape.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ChatCompletionRequest {
    /// A model id from `GET /v1/models`.
    pub model: String,
    pub messages: Vec<ChatMessage>,
    #[serde(default)]
    pub max_tokens: Option<i64>,
    /// Preferred over `max_tokens` when both are given.
    #[serde(default)]
    pub max_completion_tokens: Option<i64>,
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Accepted, not used.
    #[serde(default)]
    pub top_p: Option<f64>,
    /// Accepted, not used.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub stop: Option<Value>,
    /// Only 1.
    #[serde(default)]
    pub n: Option<i64>,
    /// Accepted, not used.
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// Accepted, not used.
    #[serde(default)]
    pub seed: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct StreamOptions {
    /// Send a last chunk with the token usage before `[DONE]`.
    #[serde(default)]
    pub include_usage: bool,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ChatMessage {
    /// `system`, `developer`, `user` or `assistant`.
    pub role: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub content: Option<Value>,
}

impl ChatCompletionRequest {
    pub fn wants_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    pub fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .is_some_and(|o| o.include_usage)
    }

    /// Sable's generation request for this conversation: system and developer messages
    /// become the system prompt, the last user message the prompt, the rest earlier turns.
    pub fn to_generate(&self) -> Result<GenerateRequest, Box<FieldError>> {
        let mut system = Vec::new();
        let mut turns = Vec::new();
        for (i, message) in self.messages.iter().enumerate() {
            let text = content_text(message.content.as_ref()).ok_or_else(|| {
                boxed_invalid(
                    &format!("messages.{i}.content"),
                    "Only text content (a string or text parts) is supported",
                )
            })?;
            match message.role.as_str() {
                "system" | "developer" => system.push(text),
                "user" => turns.push(ChatTurn {
                    role: Role::User,
                    content: text,
                }),
                "assistant" => turns.push(ChatTurn {
                    role: Role::Assistant,
                    content: text,
                }),
                other => {
                    return Err(boxed_invalid(
                        &format!("messages.{i}.role"),
                        &format!("Messages with role {other:?} are not supported"),
                    ))
                }
            }
        }
        let prompt = match turns.pop() {
            Some(last) if last.role == Role::User => last.content,
            _ => {
                return Err(boxed_invalid(
                    "messages",
                    "The conversation must end with a user message",
                ))
            }
        };
        let mut request = GenerateRequest::new(prompt);
        request.model = Some(self.model.clone());
        request.max_tokens = self
            .max_completion_tokens
            .or(self.max_tokens)
            .unwrap_or(request.max_tokens);
        request.temperature = self.temperature.unwrap_or(OPENAI_DEFAULT_TEMPERATURE);
        request.system_prompt = (!system.is_empty()).then(|| system.join("\n\n"));
        request.messages = (!turns.is_empty()).then_some(turns);
        Ok(request)
    }
}

impl Validate for ChatCompletionRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.model.trim().is_empty() {
            errors.push(invalid("model", "model is required"));
        }
        if self.messages.is_empty() {
            errors.push(invalid("messages", "messages must not be empty"));
        }
        if self.n.is_some_and(|n| n != 1) {
            errors.push(invalid("n", "Only n = 1 is supported"));
        }
        errors
    }
}

fn boxed_invalid(param: &str, message: &str) -> Box<FieldError> {
    Box::new(invalid(param, message))
}

fn invalid(param: &str, message: &str) -> FieldError {
    let mut loc = vec!["body"];
    loc.extend(param.split('.'));
    FieldError::new("value_error", &loc, message)
}

/// The text of a message's content: a string, or the concatenated `text` parts.
fn content_text(content: Option<&Value>) -> Option<String> {
    match content {
        None | Some(Value::Null) => Some(String::new()),
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Array(parts)) => parts
            .iter()
            .map(
                |part| match (part.get("type").and_then(Value::as_str), part.get("text")) {
                    (Some("text"), Some(Value::String(text))) => Some(text.as_str()),
                    _ => None,
                },
            )
            .collect::<Option<Vec<_>>>()
            .map(|texts| texts.concat()),
        Some(_) => None,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatCompletion {
    pub id: String,
    /// `chat.completion`
    pub object: &'static str,
    pub created: u64,
    pub model: String,
    pub choices: Vec<Choice>,
    pub usage: Usage,
    #[schema(value_type = Option<String>)]
    pub system_fingerprint: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Choice {
    pub index: u32,
    pub message: AssistantMessage,
    #[schema(value_type = Option<Object>)]
    pub logprobs: Option<Value>,
    pub finish_reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssistantMessage {
    /// `assistant`
    pub role: &'static str,
    pub content: String,
    #[schema(value_type = Option<String>)]
    pub refusal: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    /// `list`
    pub object: &'static str,
    pub data: Vec<ModelObject>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ModelObject {
    pub id: String,
    /// `model`
    pub object: &'static str,
    pub created: u64,
    pub owned_by: String,
}

/// OpenAI's error body: `{"error": {"message", "type", "param", "code"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiError {
    pub error: OpenAiErrorBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiErrorBody {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub param: Option<String>,
    pub code: Option<String>,
}

pub fn completion_id() -> String {
    format!("chatcmpl-{}", uuid::Uuid::new_v4().simple())
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Frames a relayed stream as OpenAI's `chat.completion.chunk` events: the role in the first
/// delta, one content delta per token, a final chunk with `finish_reason`, an optional usage
/// chunk, then `data: [DONE]`. A failure ends the stream with an `error` object instead.
pub struct ChunkFramer {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    started: bool,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    tokens: u32,
}

impl ChunkFramer {
    pub fn new(model: &str, include_usage: bool) -> Self {
        Self {
            id: completion_id(),
            created: unix_now(),
            model: model.to_owned(),
            include_usage,
            started: false,
            finish_reason: None,
            usage: None,
            tokens: 0,
        }
    }

    /// Appends the bytes for `event` to `out`.
    pub fn frame(&mut self, event: &Event, out: &mut BytesMut) {
        if !self.started && !matches!(event, Event::Error(_)) {
            self.started = true;
            self.chunk(out, json!({"role": "assistant", "content": ""}), None);
        }
        match event {
            Event::Token(token) => {
                self.tokens += 1;
                self.chunk(out, json!({ "content": token }), None);
            }
            Event::Meta(meta) => {
                self.finish_reason = meta.finish_reason.clone();
                self.usage = Some(meta.usage);
                self.model.clone_from(&meta.model);
            }
            Event::Done => {
                let reason = self
                    .finish_reason
                    .clone()
                    .unwrap_or_else(|| "stop".to_owned());
                self.chunk(out, json!({}), Some(reason));
                if self.include_usage {
                    let usage = self.usage.unwrap_or_else(|| Usage::new(0, self.tokens));
                    let mut last = self.envelope(json!([]));
                    last["usage"] = json!(usage);
                    put_data(out, &last.to_string());
                }
                put_data(out, "[DONE]");
            }
            Event::Error(message) => {
                let (code, text) = split_error(message);
                let body = json!({"error": {
                    "message": text, "type": "server_error", "param": null,
                    "code": code.map(str::to_lowercase),
                }});
                put_data(out, &body.to_string());
            }
        }
    }

    fn envelope(&self, choices: Value) -> Value {
        let mut chunk = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model, "system_fingerprint": null, "choices": choices,
        });
        if self.include_usage {
            chunk["usage"] = Value::Null;
        }
        chunk
    }

    fn chunk(&self, out: &mut BytesMut, delta: Value, finish_reason: Option<String>) {
        let choice = json!([{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason }]);
        put_data(out, &self.envelope(choice).to_string());
    }
}

/// `[ERROR] CODE: message` (the model service's classified form) into its parts.
fn split_error(message: &str) -> (Option<&str>, &str) {
    match message.split_once(": ") {
        Some((code, text))
            if !code.is_empty() && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') =>
        {
            (Some(code), text)
        }
        _ => (None, message),
    }
}

fn put_data(out: &mut BytesMut, data: &str) {
    out.reserve(data.len() + 8);
    out.put_slice(b"data: ");
    out.put_slice(data.as_bytes());
    out.put_slice(b"\n\n");
}

/// Middleware for the `/v1` routes: every error answer (Sable's envelope, from a handler, an
/// extractor, the rate limiter or the framework) is rewritten into OpenAI's error shape and
/// status (422 → 400), keeping headers such as `Retry-After` and `WWW-Authenticate`.
pub async fn errors_in_openai_shape(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if !(response.status().is_client_error() || response.status().is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let envelope: Value = axum::body::to_bytes(body, ERROR_BODY_LIMIT)
        .await
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let sable_code = envelope["error"]["code"].as_str().unwrap_or("");
    let message = envelope["error"]["message"]
        .as_str()
        .unwrap_or("The request failed")
        .to_owned();
    let param = envelope["detail"][0]["loc"].as_array().map(|loc| {
        loc.iter()
            .skip(1)
            .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(".")
    });
    let status = match parts.status {
        StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
        other => other,
    };
    let (kind, code) = match (status.as_u16(), sable_code) {
        (401, _) => ("invalid_request_error", Some("invalid_api_key".to_owned())),
        (404, "UNKNOWN_MODEL" | "MODEL_NOT_FOUND") => {
            ("invalid_request_error", Some("model_not_found".to_owned()))
        }
        (429, "QUOTA_EXCEEDED") => ("insufficient_quota", Some("insufficient_quota".to_owned())),
        (429, _) => ("rate_limit_error", Some("rate_limit_exceeded".to_owned())),
        (s, code) if s >= 500 => (
            "server_error",
            (!code.is_empty()).then(|| code.to_lowercase()),
        ),
        (_, code) => (
            "invalid_request_error",
            (!code.is_empty() && code != "VALIDATION_ERROR").then(|| code.to_lowercase()),
        ),
    };
    let body = OpenAiError {
        error: OpenAiErrorBody {
            message,
            kind: kind.to_owned(),
            param: param.filter(|p| !p.is_empty()),
            code,
        },
    };
    parts.status = status;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    Response::from_parts(parts, Body::from(bytes)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::sse::StreamMeta;

    fn request(body: Value) -> ChatCompletionRequest {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn messages_become_system_prompt_history_and_prompt() {
        let r = request(json!({
            "model": "m", "max_completion_tokens": 50, "max_tokens": 9, "unknown": true,
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": [{"type": "text", "text": "What is "}, {"type": "text", "text": "Rust?"}]}
            ]
        }));
        let g = r.to_generate().unwrap();
        assert_eq!(g.prompt, "What is Rust?");
        assert_eq!(g.system_prompt.as_deref(), Some("Be brief."));
        assert_eq!(g.messages.unwrap().len(), 2);
        assert_eq!(g.max_tokens, 50);
        assert_eq!(g.temperature, 1.0);
    }

    #[test]
    fn unsupported_shapes_are_refused_with_the_param() {
        let tool = request(json!({"model": "m", "messages": [{"role": "tool", "content": "x"}]}));
        assert_eq!(tool.to_generate().unwrap_err().field(), "messages.0.role");
        let image = request(
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}),
        );
        assert_eq!(
            image.to_generate().unwrap_err().field(),
            "messages.0.content"
        );
        let ends_with_assistant =
            request(json!({"model": "m", "messages": [{"role": "assistant", "content": "x"}]}));
        assert_eq!(
            ends_with_assistant.to_generate().unwrap_err().field(),
            "messages"
        );
        let n =
            request(json!({"model": "m", "n": 2, "messages": [{"role": "user", "content": "x"}]}));
        assert_eq!(n.validate()[0].field(), "n");
    }

    #[test]
    fn streams_are_framed_as_openai_chunks() {
        let mut framer = ChunkFramer::new("m", true);
        let mut out = BytesMut::new();
        for event in [
            Event::Token("Hel".into()),
            Event::Token("lo".into()),
            Event::Meta(StreamMeta {
                model: "m-1".into(),
                usage: Usage::new(3, 2),
                finish_reason: Some("length".into()),
            }),
            Event::Done,
        ] {
            framer.frame(&event, &mut out);
        }
        let text = String::from_utf8(out.to_vec()).unwrap();
        let events: Vec<&str> = text
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| e.strip_prefix("data: ").unwrap())
            .collect();
        assert_eq!(events.len(), 6, "{text}");
        let chunk = |i: usize| serde_json::from_str::<Value>(events[i]).unwrap();
        assert_eq!(chunk(0)["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(chunk(0)["object"], "chat.completion.chunk");
        assert_eq!(chunk(1)["choices"][0]["delta"]["content"], "Hel");
        assert_eq!(chunk(3)["choices"][0]["finish_reason"], "length");
        assert_eq!(chunk(4)["choices"], json!([]));
        assert_eq!(chunk(4)["usage"]["total_tokens"], 5);
        assert_eq!(events[5], "[DONE]");
        assert!(events[..5].iter().all(|e| e.contains(&framer.id)));
    }

    #[test]
    fn stream_failures_end_with_an_error_object() {
        let mut framer = ChunkFramer::new("m", false);
        let mut out = BytesMut::new();
        framer.frame(&Event::Error("RATE_LIMITED: slow down".into()), &mut out);
        let text = String::from_utf8(out.to_vec()).unwrap();
        let body: Value =
            serde_json::from_str(text.trim().strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(body["error"]["code"], "rate_limited");
        assert_eq!(body["error"]["message"], "slow down");
        assert!(!text.contains("[DONE]"));
    }
}
