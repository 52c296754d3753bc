//! OpenAI's chat-completions API on the gateway's side: the request kept as JSON (checked, not
//! translated), the stream relay, the model-list shapes and OpenAI's error shape. The routes
//! are in `crate::routes::openai`.
//!
//! **Forward, don't translate.** A `/v1/chat/completions` body goes to the model service, and
//! from there to the provider, as the client wrote it: every field OpenAI defines and any
//! other one. Sable reads `model` (the key's and the list's check), `stream` and
//! `stream_options`, and for a stored session the last message; it sets only
//! `stream_options.include_usage` on a stream, because quotas need the usage (the usage-only
//! chunk reaches the client only when it asked for it). The answer comes back whole: a
//! `chat.completion` as the provider wrote it, or its chunks byte for byte, then `[DONE]`.

use std::convert::Infallible;
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use common::schemas::openai::ChunkView;
use common::schemas::{knowledge_errors, GenerateResponse, KnowledgeSettings, Source, Usage};
use common::sse::{SseReader, StreamMeta};
use common::validation::{FieldError, Validate};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::chat::conversation::Recorder;
use crate::chat::grounding::Grounding;
use crate::chat::repo::AnswerError;
use crate::observability::{StreamMetrics, StreamOutcome};
use crate::state::AppState;

/// Largest error body read back when rewriting an error into OpenAI's shape.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// Longest model id accepted.
const MODEL_MAX_CHARS: usize = 200;

/// A chat-completions request as the client sent it. Checked for what Sable itself needs
/// (`model`, `messages`, `stream`, `stream_options`); everything else is the provider's to
/// judge.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct ChatBody(pub Value);

impl Validate for ChatBody {
    fn validate(&self) -> Vec<FieldError> {
        let body = &self.0;
        let mut errors = Vec::new();
        match body.get("model").and_then(Value::as_str).map(str::trim) {
            Some(m) if !m.is_empty() && m.chars().count() <= MODEL_MAX_CHARS => {}
            _ => errors.push(invalid(
                "model",
                "model must be a model id from GET /v1/models",
            )),
        }
        match body.get("messages").and_then(Value::as_array) {
            Some(messages) if !messages.is_empty() => {
                for (i, message) in messages.iter().enumerate() {
                    if message.get("role").and_then(Value::as_str).is_none() {
                        errors.push(invalid(
                            &format!("messages.{i}.role"),
                            "each message needs a string role",
                        ));
                    }
                }
            }
            _ => errors.push(invalid("messages", "messages must be a non-empty array")),
        }
        if body
            .get("stream")
            .is_some_and(|s| !s.is_boolean() && !s.is_null())
        {
            errors.push(invalid("stream", "stream must be a boolean"));
        }
        if body
            .get("stream_options")
            .is_some_and(|o| !o.is_object() && !o.is_null())
        {
            errors.push(invalid(
                "stream_options",
                "stream_options must be an object",
            ));
        }
        match body
            .get(SABLE_FIELD)
            .filter(|v| !v.is_null())
            .map(|v| serde_json::from_value::<KnowledgeSettings>(v.clone()).map_err(|_| ()))
        {
            None => {}
            Some(Ok(knowledge)) => {
                errors.extend(knowledge_errors(&knowledge, &["body", SABLE_FIELD]))
            }
            Some(Err(())) => errors.push(invalid(
                SABLE_FIELD,
                "sable must be {\"file_ids\": [file id], \"collection_ids\": [collection id]}",
            )),
        }
        errors
    }
}

/// Sable's own extra body field: `sable: {file_ids, collection_ids}` grounds the answer in
/// those files (as `file_ids` / `collection_ids` do on the native API).
pub const SABLE_FIELD: &str = "sable";

impl ChatBody {
    pub fn model(&self) -> &str {
        self.0
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
    }

    pub fn wants_stream(&self) -> bool {
        self.0.get("stream").and_then(Value::as_bool) == Some(true)
    }

    /// Whether the client asked for the usage-only chunk at the end of a stream.
    pub fn include_usage(&self) -> bool {
        self.0["stream_options"]["include_usage"] == Value::Bool(true)
    }

    /// Asks the provider for the usage chunk (Sable needs it for quotas and metrics).
    pub fn ask_for_usage(&mut self) {
        if let Some(body) = self.0.as_object_mut() {
            let options = body.entry("stream_options").or_insert_with(|| json!({}));
            if !options.is_object() {
                *options = json!({});
            }
            options["include_usage"] = Value::Bool(true);
        }
    }

    /// The knowledge named in the `sable` field (checked by `validate`), taken out of the body:
    /// the provider has no use for it, and OpenAI's own API refuses unknown fields.
    pub fn take_knowledge(&mut self) -> KnowledgeSettings {
        self.0
            .as_object_mut()
            .and_then(|body| body.remove(SABLE_FIELD))
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    }

    /// Puts the grounding block first among the messages, as a system message of its own:
    /// the client's system messages follow, so they keep the last word on how to answer.
    pub fn put_grounding(&mut self, block: String) {
        if let Some(messages) = self.0["messages"].as_array_mut() {
            messages.insert(0, json!({"role": "system", "content": block}));
        }
    }

    /// What a stored session records as this request's turn: the last user message's text,
    /// or, when the conversation ends with tool results, those results.
    pub fn session_turn(&self) -> String {
        let messages = self.0["messages"].as_array().map_or(&[][..], Vec::as_slice);
        let tail = messages
            .iter()
            .rposition(|m| m["role"] != "tool")
            .map_or(0, |i| i + 1);
        if tail < messages.len() {
            let results: Vec<String> = messages[tail..]
                .iter()
                .map(|m| {
                    format!(
                        "[tool result {}] {}",
                        m["tool_call_id"].as_str().unwrap_or("?"),
                        content_text(&m["content"])
                    )
                })
                .collect();
            return results.join("\n");
        }
        messages
            .iter()
            .rev()
            .find(|m| m["role"] == "user")
            .map(|m| content_text(&m["content"]))
            .unwrap_or_default()
    }
}

fn invalid(param: &str, message: &str) -> FieldError {
    let mut loc = vec!["body"];
    loc.extend(param.split('.'));
    FieldError::new("value_error", &loc, message)
}

/// A message content as text: a string, or its text parts (an image part as `[image]`).
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .map(|p| match p["type"].as_str() {
                Some("text") => p["text"].as_str().unwrap_or_default().to_owned(),
                Some(other) => format!("[{other}]"),
                None => String::new(),
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// A tool call as a stored session shows it: `[tool call <id>] name(arguments)`.
fn tool_call_line(id: &str, name: &str, arguments: &str) -> String {
    format!("[tool call {id}] {name}({arguments})")
}

/// The first choice of a whole answer (its JSON bytes) as Sable stores it in a session: its
/// text, its refusal, and one line per tool call.
/// `price`: the answering model's, as the model service named it (see `usage::price_of`).
pub fn stored_answer(bytes: &[u8], latency_ms: f64, price: Option<(f64, f64)>) -> GenerateResponse {
    let answer: Value = serde_json::from_slice(bytes).unwrap_or_default();
    let choice = &answer["choices"][0];
    let message = &choice["message"];
    let mut lines: Vec<String> = [&message["content"], &message["refusal"]]
        .into_iter()
        .filter_map(|v| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned))
        .collect();
    for call in message["tool_calls"].as_array().into_iter().flatten() {
        lines.push(tool_call_line(
            call["id"].as_str().unwrap_or_default(),
            call["function"]["name"].as_str().unwrap_or_default(),
            call["function"]["arguments"].as_str().unwrap_or_default(),
        ));
    }
    let usage = common::schemas::openai::completion_usage(bytes).unwrap_or_default();
    GenerateResponse {
        text: lines.join("\n"),
        model: answer["model"].as_str().unwrap_or_default().to_owned(),
        usage,
        latency_ms,
        finish_reason: choice["finish_reason"].as_str().map(str::to_owned),
        cost_usd: crate::usage::cost_at(price, &usage),
        sources: None,
        cited: None,
    }
}

/// A tool call being streamed: its id, name and arguments so far (for a stored session).
#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

// ---- the sources of a grounded answer -------------------------------------------------------

/// `"sources":[…]`: the extra field of a grounded answer (`sources` as the model was given
/// them, numbered as it cites them), ready to go into a JSON object.
pub fn sources_field(sources: &[Source]) -> String {
    format!(
        "\"sources\":{}",
        serde_json::to_string(sources).unwrap_or_else(|_| "[]".to_owned())
    )
}

/// A whole answer (a `chat.completion`'s bytes) with the grounding's top-level fields:
/// `sources`, and `cited`, the numbers its first choice cites. The provider's bytes are kept as
/// they are otherwise: the fields go in front of its first key.
pub fn with_sources(answer: &[u8], grounding: &Grounding) -> Bytes {
    let parsed: Value = serde_json::from_slice(answer).unwrap_or_default();
    let text = parsed["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default();
    let fields = format!(
        "{},\"cited\":{}",
        sources_field(&grounding.sources),
        json!(grounding.cited(text))
    );
    splice_fields(answer, &fields).unwrap_or_else(|| Bytes::copy_from_slice(answer))
}

/// `object` (a JSON object's bytes) with `fields` (`"a":1,"b":2`) put first; `None` when it is
/// not an object.
fn splice_fields(object: &[u8], fields: &str) -> Option<Bytes> {
    let open = object.iter().position(|b| !b.is_ascii_whitespace())?;
    if object[open] != b'{' {
        return None;
    }
    let rest = &object[open + 1..];
    let empty = rest
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'}');
    let mut out = BytesMut::with_capacity(object.len() + fields.len() + 2);
    out.put_slice(b"{");
    out.put_slice(fields.as_bytes());
    if !empty {
        out.put_slice(b",");
    }
    out.put_slice(rest);
    Some(out.freeze())
}

// ---- the stream relay ----------------------------------------------------------------------

/// Relays the model service's stream of `chat.completion.chunk`s to the client, each chunk's
/// bytes unchanged, as soon as they arrive; a grounded answer's `sources` (the
/// [`sources_field`]) go into the first chunk as an extra top-level field. The usage chunk is counted for the owner's quota
/// and passed on only when the client asked for it (`include_usage`); `[ERROR]` becomes an
/// OpenAI `error` object; with a session, the answer (text and tool calls) is stored before
/// `[DONE]` is sent. A stall longer than the idle timeout or a broken connection ends the
/// stream with an `error` object. Dropping the stream drops the upstream request.
pub fn relay(
    state: AppState,
    owner: Uuid,
    upstream: reqwest::Response,
    include_usage: bool,
    recorder: Option<Recorder>,
    requested_model: &str,
    sources: Option<String>,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    let started = Instant::now();
    let mut sources = sources;
    let idle_timeout = state.config.http.stream_idle_timeout();
    let mut stream_metrics = StreamMetrics::start(Some(requested_model));
    let mut recorder = recorder;
    let answered = crate::usage::Answered::of(upstream.headers());
    let price = answered.price;
    // Usage is counted for the model that answered, not the alias that was asked for.
    let accounted_model = answered.model_or(requested_model).to_owned();
    async_stream::stream! {
        let mut body = upstream.bytes_stream();
        let mut reader = SseReader::default();
        let mut calls: Vec<PartialCall> = Vec::new();
        let mut finish_reason: Option<String> = None;
        let mut model: Option<String> = None;
        let mut first_token_seen = false;
        // Whether the recorder has text yet (tool-call lines go on lines of their own).
        let mut wrote_text = false;
        let mut idle_until = tokio::time::Instant::now() + idle_timeout;
        loop {
            let broken = match tokio::time::timeout_at(idle_until, body.next()).await {
                Ok(Some(Ok(chunk))) => match reader.push_bytes(chunk) {
                    Ok(()) => None,
                    Err(e) => {
                        tracing::warn!(error = %e, "upstream stream refused");
                        Some("The model service sent an event that is too large")
                    }
                },
                Ok(Some(Err(e))) => {
                    tracing::warn!(error = %e, "upstream stream broke");
                    Some("The connection to the model service was lost")
                }
                Ok(None) => Some("The model service ended the stream unexpectedly"),
                Err(_) => Some("The model service stopped responding"),
            };
            let mut out = BytesMut::new();
            let mut tokens = 0u64;
            let mut end: Option<Result<(), String>> = None;
            while let Some(event) = reader.next_event(false) {
                let data = event.data;
                if data == b"[DONE]" {
                    end = Some(Ok(()));
                    break;
                }
                if let Some(message) = data.strip_prefix(b"[ERROR]") {
                    end = Some(Err(String::from_utf8_lossy(message).trim().to_owned()));
                    break;
                }
                let view: ChunkView = serde_json::from_slice(data).unwrap_or_default();
                if let Some(m) = &view.model {
                    model.get_or_insert_with(|| m.clone());
                }
                if view.is_usage_only() {
                    let usage = view.usage.map(|u| u.usage()).unwrap_or_default();
                    let cost_usd = crate::usage::cost_at(price, &usage);
                    state.usage.add(owner, &accounted_model, usage, cost_usd);
                    if let Some(r) = recorder.as_mut() {
                        r.meta(StreamMeta {
                            model: model.clone().unwrap_or_default(),
                            usage,
                            finish_reason: finish_reason.clone(),
                            cost_usd,
                        });
                    }
                    if !include_usage {
                        continue;
                    }
                } else {
                    if view.carries_answer() {
                        tokens += 1;
                        wrote_text |= collect(&view, recorder.as_mut(), &mut calls, &mut finish_reason);
                    }
                    if let Some(fields) = sources.take() {
                        let first = splice_fields(data, &fields);
                        put_data(&mut out, first.as_deref().unwrap_or(data));
                        continue;
                    }
                }
                put_data(&mut out, data);
            }
            if tokens > 0 {
                idle_until = tokio::time::Instant::now() + idle_timeout;
                state.metrics_window.record_tokens(tokens);
                if !std::mem::replace(&mut first_token_seen, true) {
                    state.metrics_window.record_ttft(started.elapsed());
                }
                stream_metrics.tokens(tokens);
            }
            let end = end.or_else(|| broken.map(|m| Err(m.to_owned())));
            if let Some(end) = end {
                if let Some(m) = &model {
                    stream_metrics.model(m);
                }
                let mut end = end;
                if let Some(mut r) = recorder.take() {
                    for call in &calls {
                        let line = tool_call_line(&call.id, &call.name, &call.arguments);
                        r.token(&if wrote_text { format!("\n{line}") } else { line });
                        wrote_text = true;
                    }
                    let outcome = end.as_ref().map(|_| ()).map_err(|m| {
                        AnswerError::from_event(m, AnswerError::STREAM_INTERRUPTED)
                    });
                    let saved = r.finish(outcome).await;
                    if !saved && end.is_ok() {
                        end = Err("the answer could not be saved".to_owned());
                    }
                }
                match end {
                    Ok(()) => {
                        stream_metrics.finished(StreamOutcome::Done);
                        put_data(&mut out, b"[DONE]");
                    }
                    Err(message) => {
                        stream_metrics.finished(StreamOutcome::Error);
                        put_data(&mut out, error_chunk(&message).as_bytes());
                    }
                }
                yield Ok(out.freeze());
                return;
            }
            if !out.is_empty() {
                yield Ok(out.freeze());
            }
        }
    }
}

/// Feeds a chunk's text, refusal and tool-call fragments (first choice) to the recorder;
/// true when it gave the recorder text.
fn collect(
    view: &ChunkView,
    recorder: Option<&mut Recorder>,
    calls: &mut Vec<PartialCall>,
    finish_reason: &mut Option<String>,
) -> bool {
    let Some(choice) = view.choices.iter().find(|c| c.index == 0) else {
        return false;
    };
    if choice.finish_reason.is_some() {
        finish_reason.clone_from(&choice.finish_reason);
    }
    let Some(recorder) = recorder else {
        return false;
    };
    let Some(delta) = &choice.delta else {
        return false;
    };
    let mut wrote = false;
    for text in [&delta.content, &delta.refusal].into_iter().flatten() {
        if !text.is_empty() {
            recorder.token(text);
            wrote = true;
        }
    }
    for fragment in delta.tool_calls.iter().flatten() {
        let i = fragment["index"]
            .as_u64()
            .and_then(|i| usize::try_from(i).ok())
            .unwrap_or(0)
            .min(127);
        if calls.len() <= i {
            calls.resize_with(i + 1, PartialCall::default);
        }
        let call = &mut calls[i];
        if let Some(id) = fragment["id"].as_str() {
            call.id = id.to_owned();
        }
        if let Some(name) = fragment["function"]["name"].as_str() {
            call.name.push_str(name);
        }
        if let Some(arguments) = fragment["function"]["arguments"].as_str() {
            call.arguments.push_str(arguments);
        }
    }
    wrote
}

/// OpenAI's in-stream error object for a `[ERROR] CODE: message` of the model service.
fn error_chunk(message: &str) -> String {
    let (code, text) = split_error(message);
    json!({"error": {
        "message": text, "type": "server_error", "param": null,
        "code": code.map(str::to_lowercase),
    }})
    .to_string()
}

/// `CODE: message` (the model service's classified form) into its parts.
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

/// `data: <payload>\n\n`.
fn put_data(out: &mut BytesMut, data: &[u8]) {
    out.reserve(data.len() + 8);
    out.put_slice(b"data: ");
    out.put_slice(data);
    out.put_slice(b"\n\n");
}

// ---- shapes for the OpenAPI document --------------------------------------------------------

/// The request, as documented here. It is forwarded as JSON, so fields not listed pass too
/// (`metadata`, `store`, `reasoning_effort`, a provider's own…).
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ChatCompletionRequest {
    /// A model id from `GET /v1/models`.
    pub model: String,
    /// `system`, `developer`, `user`, `assistant` and `tool` messages; content as a string or
    /// parts (`text`, `image_url`, …); `name`, `tool_calls`, `tool_call_id` as OpenAI defines.
    pub messages: Vec<ChatMessage>,
    pub stream: Option<bool>,
    pub stream_options: Option<StreamOptions>,
    pub max_tokens: Option<i64>,
    pub max_completion_tokens: Option<i64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub n: Option<i64>,
    /// A string or up to 4 strings.
    #[schema(value_type = Option<Object>)]
    pub stop: Option<Value>,
    pub seed: Option<i64>,
    pub presence_penalty: Option<f64>,
    pub frequency_penalty: Option<f64>,
    #[schema(value_type = Option<Object>)]
    pub logit_bias: Option<Value>,
    pub logprobs: Option<bool>,
    pub top_logprobs: Option<i64>,
    pub user: Option<String>,
    /// `[{type: function, function: {name, description, parameters, strict}}]`
    #[schema(value_type = Option<Vec<Object>>)]
    pub tools: Option<Vec<Value>>,
    /// `none`, `auto`, `required`, or `{type: function, function: {name}}`.
    #[schema(value_type = Option<Object>)]
    pub tool_choice: Option<Value>,
    pub parallel_tool_calls: Option<bool>,
    /// `{type: text}`, `{type: json_object}` or `{type: json_schema, json_schema: {name, schema, strict}}`.
    #[schema(value_type = Option<Object>)]
    pub response_format: Option<Value>,
    /// Sable's extra field (with the Python client: `extra_body={"sable": {...}}`): answer from
    /// these files and collections of the caller, as the native API's `file_ids` and
    /// `collection_ids` do. The answer then has top-level `sources` and `cited` (a stream:
    /// `sources` on its first chunk). Another user's or an unknown id: 404
    /// (`file_not_found`, `collection_not_found`). Never forwarded to the provider.
    pub sable: Option<KnowledgeSettings>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct StreamOptions {
    /// Send a last chunk with the token usage before `[DONE]`.
    pub include_usage: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ChatMessage {
    /// `system`, `developer`, `user`, `assistant`, `tool`.
    pub role: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub content: Option<Value>,
}

/// A `chat.completion`, as the provider wrote it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatCompletion {
    pub id: String,
    /// `chat.completion`
    pub object: String,
    pub created: u64,
    pub model: String,
    pub choices: Vec<Choice>,
    pub usage: Option<Usage>,
    pub system_fingerprint: Option<String>,
    /// Additive, for a request with `sable` knowledge (or a session that has some): the
    /// numbered passages the model was given, `[n]` in the text cites `sources[n-1]`. On a
    /// stream, the first chunk carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<Source>>,
    /// Additive, with `sources`: the numbers the answer cites.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cited: Option<Vec<u32>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Choice {
    pub index: u32,
    pub message: AssistantMessage,
    #[schema(value_type = Option<Object>)]
    pub logprobs: Option<Value>,
    /// `stop`, `length`, `tool_calls`, `content_filter`.
    pub finish_reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssistantMessage {
    /// `assistant`
    pub role: String,
    pub content: Option<String>,
    pub refusal: Option<String>,
    /// `[{id, type: function, function: {name, arguments}}]`
    #[schema(value_type = Option<Vec<Object>>)]
    pub tool_calls: Option<Vec<Value>>,
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
    /// Additive: the provider that serves it (with a providers file, the part before `/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Additive: what it does (`chat`, `embeddings`, `vision`, `tools`, `json`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// Additive: the tokens it reads at most, when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u32>,
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

    fn body(v: Value) -> ChatBody {
        ChatBody(v)
    }

    #[test]
    fn only_what_sable_needs_is_checked() {
        let ok = body(
            json!({"model": "m", "n": 2, "tools": [{"x": 1}], "unknown": true,
            "messages": [{"role": "tool", "content": "x"}]}),
        );
        assert!(ok.validate().is_empty());
        let bad = body(json!({"model": " ", "stream": "yes", "stream_options": 3,
            "messages": [{"content": "x"}]}));
        let fields: Vec<String> = bad.validate().iter().map(FieldError::field).collect();
        assert_eq!(
            fields,
            ["model", "messages.0.role", "stream", "stream_options"]
        );
        assert_eq!(
            body(json!({"model": "m"})).validate()[0].field(),
            "messages"
        );
    }

    #[test]
    fn streams_ask_for_usage_and_remember_whether_the_client_did() {
        let mut b =
            body(json!({"model": "m", "stream": true, "stream_options": {"x": 1}, "messages": []}));
        assert!(b.wants_stream() && !b.include_usage());
        b.ask_for_usage();
        assert_eq!(
            b.0["stream_options"],
            json!({"x": 1, "include_usage": true})
        );
        let mut b = body(json!({"model": "m", "messages": []}));
        b.ask_for_usage();
        assert_eq!(b.0["stream_options"], json!({"include_usage": true}));
    }

    #[test]
    fn session_turns_are_the_last_user_text_or_the_tool_results() {
        let b = body(json!({"model": "m", "messages": [
            {"role": "user", "content": "first"},
            {"role": "user", "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "u"}}]}]}));
        assert_eq!(b.session_turn(), "look [image_url]");
        let b = body(json!({"model": "m", "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "tool_calls": [{"id": "c1"}]},
            {"role": "tool", "tool_call_id": "c1", "content": "21 C"}]}));
        assert_eq!(b.session_turn(), "[tool result c1] 21 C");
        let answer = json!({"model": "m-1", "choices": [{"finish_reason": "tool_calls", "message": {"content": null,
            "tool_calls": [{"id": "c1", "function": {"name": "get_weather", "arguments": "{}"}}]}}],
            "usage": {"prompt_tokens": 2, "completion_tokens": 3}});
        let stored = stored_answer(answer.to_string().as_bytes(), 1.0, None);
        assert_eq!(stored.text, "[tool call c1] get_weather({})");
        assert_eq!(stored.usage.total_tokens, 5);
        assert_eq!(stored.finish_reason.as_deref(), Some("tool_calls"));
    }

    #[test]
    fn the_sable_field_is_checked_and_taken_out_before_forwarding() {
        let id = Uuid::from_u128(7);
        let mut b = body(
            json!({"model": "m", "messages": [{"role": "user", "content": "q"}],
            "sable": {"file_ids": [id]}}),
        );
        assert!(b.validate().is_empty());
        assert_eq!(b.take_knowledge().file_ids, vec![id]);
        assert!(b.0.get("sable").is_none(), "the provider never sees it");
        for bad in [
            json!({"file_ids": ["not-a-uuid"]}),
            json!([1]),
            json!({"file_ids": 3}),
        ] {
            let b = body(json!({"model": "m", "messages": [{"role": "user"}], "sable": bad}));
            let fields: Vec<String> = b.validate().iter().map(FieldError::field).collect();
            assert_eq!(fields, ["sable"], "{bad}");
        }
        let many: Vec<Uuid> = (0..1000).map(Uuid::from_u128).collect();
        let b = body(
            json!({"model": "m", "messages": [{"role": "user"}], "sable": {"file_ids": many}}),
        );
        assert_eq!(b.validate()[0].field(), "sable.file_ids");
    }

    #[test]
    fn sources_go_in_front_of_the_providers_bytes() {
        let grounding = Grounding::default();
        let answer = br#" {"id":"x","choices":[{"message":{"content":"a [1]"}}]}"#;
        let out = with_sources(answer, &grounding);
        assert_eq!(
            &out[..],
            br#"{"sources":[],"cited":[],"id":"x","choices":[{"message":{"content":"a [1]"}}]}"#
        );
        assert_eq!(
            &splice_fields(b"{ }", "\"a\":1").unwrap()[..],
            b"{\"a\":1 }"
        );
        assert!(splice_fields(b"[1]", "\"a\":1").is_none());
    }

    #[test]
    fn stream_failures_become_openai_error_objects() {
        let e: Value = serde_json::from_str(&error_chunk("RATE_LIMITED: slow down")).unwrap();
        assert_eq!(e["error"]["code"], "rate_limited");
        assert_eq!(e["error"]["message"], "slow down");
        let e: Value = serde_json::from_str(&error_chunk("plain words: here")).unwrap();
        assert_eq!(e["error"]["code"], Value::Null);
    }
}
