//! The mock's answers to OpenAI chat requests (`/v1/chat/completions`), so that OpenAI clients,
//! agents and tests work offline. Deterministic: the same request gets the same answer.
//!
//! | the request has | the mock answers |
//! | --- | --- |
//! | `tools`, and the last user message names a tool or says "tool" (or `tool_choice` is `required` or names a function) | a call of each named tool (the first tool when none is named; only one with `parallel_tool_calls: false`), `finish_reason: tool_calls`, arguments generated from the tool's JSON schema (required and optional properties, `enum`, `const`, `default`, `format`, `$ref`, `anyOf`, bounds) |
//! | trailing `tool` messages | an answer that quotes each tool's name and result |
//! | `response_format` `json_object` | `{"answer": <the text>, "model": <model>}` |
//! | `response_format` `json_schema` | a value generated from its `schema` (so it validates) |
//! | `stop` | the text cut before the first stop sequence |
//! | `n` | n choices (the second and later end with `(choice i of n)`) |
//! | `seed` | `Seed <n>.` at the end of the text (the same seed, the same answer) |
//! | `logprobs` / `top_logprobs` | a `logprobs.content` entry per token, with that many alternatives |
//! | an `image_url` part | one sentence per image: its type, pixel size (PNG, GIF, JPEG data URLs) and bytes; URLs are not fetched |
//! | `[mock:refusal]` in the last user message | `message.refusal` instead of content |
//! | `max_completion_tokens` / `max_tokens` | the text cut there, `finish_reason: length` |
//!
//! The text is the native mock's ([`super::answer_text`]), and every `[mock:…]` marker works
//! here as there. Usage counts the characters read divided by four (prompt) and the tokens
//! written (completion), with OpenAI's detail objects.

use base64::Engine;
use bytes::Bytes;
use common::schemas::{ChatTurn, Role, Usage};
use futures::StreamExt;
use serde_json::{json, Map, Value};

use super::{
    answer_text, excerpt, fit_to_tokens_marker, injected, sleep, tokenize, Hooks, MockProvider,
};
use crate::providers::{ChunkStream, ErrorKind, ProviderError, ProviderRequest};

/// Most choices (`n`) the mock writes.
const MAX_CHOICES: u64 = 16;
/// Most alternatives per token (`top_logprobs`), as OpenAI allows.
const MAX_TOP_LOGPROBS: u64 = 20;
/// Characters of tool-call arguments per streamed fragment.
const ARGUMENT_FRAGMENT_CHARS: usize = 12;
/// Marker for a refusal (`message.refusal`).
pub const REFUSAL_MARKER: &str = "[mock:refusal]";
const REFUSAL_TEXT: &str = "I can't help with that request (mock refusal).";

/// One tool call: id, function name, arguments (JSON text).
#[derive(Debug, Clone, PartialEq)]
struct Call {
    id: String,
    name: String,
    arguments: String,
}

/// One planned choice.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Text(Vec<String>),
    Refusal(String),
    Calls(Vec<Call>),
}

#[derive(Debug, Clone, PartialEq)]
struct PlannedChoice {
    answer: Answer,
    finish_reason: &'static str,
}

/// The mock's whole answer to one request.
#[derive(Debug, Clone)]
struct ChatPlan {
    model: String,
    choices: Vec<PlannedChoice>,
    usage: Usage,
    /// `Some(k)` when `logprobs` was asked, with k alternatives per token.
    logprobs: Option<usize>,
    include_usage: bool,
}

fn invalid(message: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(
        ErrorKind::InvalidRequest,
        format!("provider returned HTTP 400 Bad Request: {message} (mock)"),
    )
}

/// The text of a message's content: a string, or its `text` parts joined.
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// What the mock reads of a request, checked as OpenAI checks it.
struct Read<'a> {
    body: &'a Value,
    model: String,
    messages: &'a [Value],
    /// `(name, parameters schema)` of each function tool.
    tools: Vec<(String, Value)>,
    /// The native request the same text is built from (system prompt, turns, last prompt).
    native: ProviderRequest,
    /// Index of the last message.
    last: usize,
}

impl<'a> Read<'a> {
    fn new(body: &'a Value) -> Result<Self, ProviderError> {
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let messages = body
            .get("messages")
            .and_then(Value::as_array)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| invalid("'messages' must be a non-empty array"))?;
        let mut system = Vec::new();
        let mut turns = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            let role = m
                .get("role")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(format!("'messages.{i}.role' is required")))?;
            let text = content_text(m.get("content"));
            match role {
                "system" | "developer" => system.push(text),
                "user" => turns.push(ChatTurn {
                    role: Role::User,
                    content: text,
                }),
                "assistant" => turns.push(ChatTurn {
                    role: Role::Assistant,
                    content: text,
                }),
                "tool" | "function" => {}
                other => {
                    return Err(invalid(format!(
                        "'messages.{i}.role' must be one of system, developer, user, assistant, tool, function (got {other:?})"
                    )))
                }
            }
        }
        let last = messages.len() - 1;
        let last_is_user = messages[last].get("role").and_then(Value::as_str) == Some("user");
        let prompt = if last_is_user {
            turns.pop().map(|t| t.content).unwrap_or_default()
        } else {
            String::new()
        };
        let mut tools = Vec::new();
        if let Some(list) = body.get("tools").filter(|t| !t.is_null()) {
            let list = list
                .as_array()
                .ok_or_else(|| invalid("'tools' must be an array"))?;
            for (i, tool) in list.iter().enumerate() {
                let function = tool.get("function");
                let name = function
                    .and_then(|f| f.get("name"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(format!("'tools.{i}.function.name' is required")))?;
                let parameters = function
                    .and_then(|f| f.get("parameters"))
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
                tools.push((name.to_owned(), parameters));
            }
        }
        let max_tokens = ["max_completion_tokens", "max_tokens"]
            .iter()
            .find_map(|k| body.get(*k).and_then(Value::as_u64))
            .map_or(u32::MAX, |n| u32::try_from(n).unwrap_or(u32::MAX));
        let native = ProviderRequest {
            model: model.clone(),
            system_prompt: (!system.is_empty()).then(|| system.join("\n\n")),
            messages: turns,
            prompt,
            max_tokens,
            temperature: 1.0,
        };
        Ok(Self {
            body,
            model,
            messages,
            tools,
            native,
            last,
        })
    }

    fn int(&self, key: &str) -> Option<i64> {
        self.body.get(key).and_then(Value::as_i64)
    }

    /// The results of the trailing `tool` messages: `(tool name, content)`.
    fn tool_results(&self) -> Vec<(String, String)> {
        let start = self
            .messages
            .iter()
            .rposition(|m| m.get("role").and_then(Value::as_str) != Some("tool"))
            .map_or(0, |i| i + 1);
        let calls = start
            .checked_sub(1)
            .and_then(|i| self.messages[i].get("tool_calls"))
            .and_then(Value::as_array);
        self.messages[start..]
            .iter()
            .map(|m| {
                let id = m.get("tool_call_id").and_then(Value::as_str);
                let name = calls
                    .and_then(|calls| {
                        calls
                            .iter()
                            .find(|c| c.get("id").and_then(Value::as_str) == id)
                    })
                    .and_then(|c| c["function"]["name"].as_str())
                    .unwrap_or("tool");
                (name.to_owned(), content_text(m.get("content")))
            })
            .collect()
    }

    /// The tools to call, if the request asks for calls (see the module docs).
    fn wanted_calls(&self) -> Result<Vec<usize>, ProviderError> {
        if self.tools.is_empty() {
            return Ok(Vec::new());
        }
        let prompt = &self.native.prompt;
        let named: Vec<usize> = (0..self.tools.len())
            .filter(|&i| prompt.contains(&self.tools[i].0))
            .collect();
        let asked = self.messages[self.last].get("role").and_then(Value::as_str) == Some("user")
            && (!named.is_empty() || prompt.to_lowercase().contains("tool"));
        let mut chosen = match self.body.get("tool_choice") {
            Some(Value::String(s)) if s == "none" => return Ok(Vec::new()),
            Some(Value::String(s)) if s == "required" => named,
            Some(Value::Object(choice)) => {
                let name = choice
                    .get("function")
                    .and_then(|f| f.get("name"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid("'tool_choice.function.name' is required"))?;
                let i = self
                    .tools
                    .iter()
                    .position(|(n, _)| n == name)
                    .ok_or_else(|| {
                        invalid(format!(
                            "'tool_choice' names {name:?}, which is not in 'tools'"
                        ))
                    })?;
                vec![i]
            }
            _ if asked => named,
            _ => return Ok(Vec::new()),
        };
        if chosen.is_empty() {
            chosen.push(0);
        }
        if self.body.get("parallel_tool_calls") == Some(&Value::Bool(false)) {
            chosen.truncate(1);
        }
        Ok(chosen)
    }

    /// One sentence per image part of the last message.
    fn image_descriptions(&self) -> Result<Vec<String>, ProviderError> {
        let Some(parts) = self.messages[self.last]
            .get("content")
            .and_then(Value::as_array)
        else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (j, part) in parts.iter().enumerate() {
            if part.get("type").and_then(Value::as_str) != Some("image_url") {
                continue;
            }
            let url = part
                .get("image_url")
                .and_then(|u| u.get("url").or(Some(u)))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    invalid(format!(
                        "'messages.{}.content.{j}.image_url.url' is required",
                        self.last
                    ))
                })?;
            let n = out.len() + 1;
            out.push(describe_image(url).map_or_else(
                || {
                    Err(invalid(format!(
                        "'messages.{}.content.{j}': the image could not be decoded",
                        self.last
                    )))
                },
                |d| Ok(format!("Image {n}: {d}.")),
            )?);
        }
        Ok(out)
    }
}

/// "a PNG image of 64×32 pixels (1234 bytes)" for a data URL; a remote URL is not fetched.
fn describe_image(url: &str) -> Option<String> {
    let Some(rest) = url.strip_prefix("data:") else {
        return Some(format!(
            "an image at {} (not fetched by the mock)",
            excerpt(url, 80)
        ));
    };
    let (header, data) = rest.split_once(',')?;
    let bytes = if header.ends_with(";base64") {
        base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .ok()?
    } else {
        data.as_bytes().to_vec()
    };
    let size = bytes.len();
    Some(match image_dimensions(&bytes) {
        Some((kind, w, h)) => format!("a {kind} image of {w}×{h} pixels ({size} bytes)"),
        None => format!("an image of {size} bytes"),
    })
}

/// The format and pixel size of a PNG, GIF or JPEG image.
fn image_dimensions(b: &[u8]) -> Option<(&'static str, u32, u32)> {
    let be16 = |i: usize| Some(u32::from(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?])));
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        let be32 = |i: usize| Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?));
        return Some(("PNG", be32(16)?, be32(20)?));
    }
    if b.starts_with(b"GIF8") {
        let le16 = |i: usize| Some(u32::from(u16::from_le_bytes([*b.get(i)?, *b.get(i + 1)?])));
        return Some(("GIF", le16(6)?, le16(8)?));
    }
    if b.starts_with(&[0xFF, 0xD8]) {
        let mut i = 2;
        while *b.get(i)? == 0xFF {
            let marker = *b.get(i + 1)?;
            let is_frame = (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker);
            if is_frame {
                return Some(("JPEG", be16(i + 7)?, be16(i + 5)?));
            }
            i += 2 + usize::try_from(be16(i + 2)?).ok()?;
        }
    }
    None
}

/// A value that validates against `schema` (a JSON Schema as OpenAI's tools and structured
/// outputs use it); `root` resolves `$ref`s, `name` seeds strings.
fn sample(schema: &Value, root: &Value, name: &str, depth: usize) -> Value {
    let Some(s) = schema.as_object() else {
        return json!({});
    };
    if depth > 16 {
        return Value::Null;
    }
    if let Some(target) = s
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|pointer| root.pointer(pointer))
    {
        return sample(target, root, name, depth + 1);
    }
    if let Some(value) = s.get("const") {
        return value.clone();
    }
    if let Some(first) = s
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    if let Some(value) = s.get("default") {
        return value.clone();
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(options) = s.get(key).and_then(Value::as_array) {
            // A nullable field is `anyOf: [X, {type: null}]`: prefer the real value.
            let option = options
                .iter()
                .find(|o| o.get("type").and_then(Value::as_str) != Some("null"))
                .or(options.first());
            if let Some(option) = option {
                return sample(option, root, name, depth + 1);
            }
        }
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        let mut merged = Map::new();
        for part in all {
            match sample(part, root, name, depth + 1) {
                Value::Object(o) => merged.extend(o),
                other => return other,
            }
        }
        return Value::Object(merged);
    }
    let kind = match s.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if s.contains_key("properties") => "object",
        _ if s.contains_key("items") => "array",
        _ => "string",
    };
    match kind {
        "object" => {
            let mut out = Map::new();
            if let Some(properties) = s.get("properties").and_then(Value::as_object) {
                for (key, property) in properties {
                    out.insert(key.clone(), sample(property, root, key, depth + 1));
                }
            }
            for key in s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                out.entry(key.to_owned())
                    .or_insert_with(|| Value::from(format!("mock {key}")));
            }
            Value::Object(out)
        }
        "array" => {
            let min = s.get("minItems").and_then(Value::as_u64).unwrap_or(1);
            let max = s
                .get("maxItems")
                .and_then(Value::as_u64)
                .unwrap_or(u64::MAX);
            let count = usize::try_from(min.max(1).min(max).min(8)).unwrap_or(1);
            let items = s.get("items").unwrap_or(&Value::Null);
            Value::Array(
                (0..count)
                    .map(|_| sample(items, root, name, depth + 1))
                    .collect(),
            )
        }
        "integer" => Value::from(integer_in(s)),
        "number" => {
            let n = integer_in(s);
            #[allow(clippy::cast_precision_loss)]
            Value::from(n as f64)
        }
        "boolean" => Value::Bool(true),
        "null" => Value::Null,
        _ => Value::from(string_in(s, name)),
    }
}

/// An integer within the schema's bounds (1 when unbounded).
fn integer_in(s: &Map<String, Value>) -> i64 {
    #[allow(clippy::cast_possible_truncation)]
    let bound = |key: &str| s.get(key).and_then(Value::as_f64).map(|f| f as i64);
    let low = bound("minimum").or_else(|| bound("exclusiveMinimum").map(|n| n + 1));
    let high = bound("maximum").or_else(|| bound("exclusiveMaximum").map(|n| n - 1));
    match (low, high) {
        (Some(low), _) => low,
        (None, Some(high)) if high < 1 => high,
        _ => 1,
    }
}

/// A string for property `name` that fits the schema's `format` and length bounds.
fn string_in(s: &Map<String, Value>, name: &str) -> String {
    let mut text = match s.get("format").and_then(Value::as_str) {
        Some("date") => "2026-01-01".to_owned(),
        Some("date-time") => "2026-01-01T00:00:00Z".to_owned(),
        Some("time") => "12:00:00".to_owned(),
        Some("email") => "mock@example.com".to_owned(),
        Some("uri" | "url") => "https://example.com/mock".to_owned(),
        Some("uuid") => "00000000-0000-4000-8000-000000000000".to_owned(),
        _ => format!("mock {name}"),
    };
    let len = |key: &str| {
        s.get(key)
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
    };
    if let Some(min) = len("minLength") {
        while text.chars().count() < min {
            text.push('x');
        }
    }
    if let Some(max) = len("maxLength") {
        text = text.chars().take(max).collect();
    }
    text
}

impl ChatPlan {
    fn new(read: &Read<'_>) -> Result<Self, ProviderError> {
        let body = read.body;
        let n = match body.get("n") {
            None | Some(Value::Null) => 1,
            Some(v) => v
                .as_u64()
                .filter(|n| (1..=MAX_CHOICES).contains(n))
                .ok_or_else(|| {
                    invalid(format!("'n' must be an integer from 1 to {MAX_CHOICES}"))
                })?,
        };
        let stops: Vec<String> = match body.get("stop") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(list)) if list.len() <= 4 => list
                .iter()
                .map(|s| s.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or_else(|| invalid("'stop' must be a string or up to 4 strings"))?,
            Some(_) => return Err(invalid("'stop' must be a string or up to 4 strings")),
        };
        let logprobs = match body.get("logprobs") {
            Some(Value::Bool(true)) => {
                let k = body
                    .get("top_logprobs")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                if k > MAX_TOP_LOGPROBS {
                    return Err(invalid(format!(
                        "'top_logprobs' must be at most {MAX_TOP_LOGPROBS}"
                    )));
                }
                Some(usize::try_from(k).unwrap_or(0))
            }
            _ => None,
        };
        let format = body.get("response_format");
        let format_type = format
            .and_then(|f| f.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("text");
        let schema = match format_type {
            "json_schema" => Some(
                format
                    .and_then(|f| f.get("json_schema"))
                    .and_then(|s| s.get("schema"))
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "object"})),
            ),
            _ => None,
        };
        let calls = read.wanted_calls()?;
        let results = read.tool_results();
        let images = read.image_descriptions()?;
        let refuse = read.native.prompt.contains(REFUSAL_MARKER);

        let mut choices = Vec::new();
        for i in 0..n {
            if refuse {
                choices.push(PlannedChoice {
                    answer: Answer::Refusal(REFUSAL_TEXT.to_owned()),
                    finish_reason: "stop",
                });
                continue;
            }
            if results.is_empty() && !calls.is_empty() {
                let calls = calls
                    .iter()
                    .enumerate()
                    .map(|(k, &t)| {
                        let (name, parameters) = &read.tools[t];
                        Call {
                            id: format!("call_mock_{i}_{k}"),
                            name: name.clone(),
                            arguments: sample(parameters, parameters, name, 0).to_string(),
                        }
                    })
                    .collect();
                choices.push(PlannedChoice {
                    answer: Answer::Calls(calls),
                    finish_reason: "tool_calls",
                });
                continue;
            }
            let mut text = if results.is_empty() {
                answer_text(&read.native)
            } else {
                let quoted: Vec<String> = results
                    .iter()
                    .map(|(name, result)| format!("{name} returned {}", excerpt(result, 200)))
                    .collect();
                format!(
                    "[Mock response from {}] Using the tool results: {}.",
                    read.model,
                    quoted.join("; ")
                )
            };
            for image in &images {
                text.push(' ');
                text.push_str(image);
            }
            if let Some(seed) = read.int("seed") {
                text.push_str(&format!(" Seed {seed}."));
            }
            if i > 0 {
                text.push_str(&format!(" (choice {} of {n})", i + 1));
            }
            let content = match (format_type, &schema) {
                ("json_object", _) => json!({"answer": text, "model": read.model}).to_string(),
                (_, Some(schema)) => sample(schema, schema, "answer", 0).to_string(),
                _ => text,
            };
            let content = match stops
                .iter()
                .filter(|s| !s.is_empty())
                .filter_map(|s| content.find(s.as_str()))
                .min()
            {
                Some(cut) => content[..cut].to_owned(),
                None => content,
            };
            let mut tokens = tokenize(&content);
            if format_type != "json_object" && schema.is_none() {
                // Plain text only: filler words would break a JSON answer.
                fit_to_tokens_marker(&mut tokens, &read.native.prompt);
            }
            if let Some(last) = tokens.last_mut() {
                // The whole answer is the text as written, without the tokenizer's last space.
                let trimmed = last.trim_end().len();
                if content.ends_with(|c: char| !c.is_whitespace()) {
                    last.truncate(trimmed);
                }
            }
            let limit = usize::try_from(read.native.max_tokens)
                .unwrap_or(usize::MAX)
                .max(1);
            let finish_reason = if tokens.len() > limit {
                tokens.truncate(limit);
                "length"
            } else {
                "stop"
            };
            choices.push(PlannedChoice {
                answer: Answer::Text(tokens),
                finish_reason,
            });
        }
        let tools_chars = body.get("tools").map_or(0, |t| t.to_string().len());
        let prompt_tokens =
            u32::try_from((read.native.input_chars() + tools_chars) / 4).unwrap_or(u32::MAX);
        let completion_tokens = choices
            .iter()
            .map(|c| match &c.answer {
                Answer::Text(tokens) => tokens.len(),
                Answer::Refusal(text) => tokenize(text).len(),
                Answer::Calls(calls) => calls.iter().map(|c| c.arguments.len() / 4 + 1).sum(),
            })
            .sum::<usize>();
        let include_usage = body
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            == Some(&Value::Bool(true));
        Ok(Self {
            model: format!("{}-mock", read.model),
            choices,
            usage: Usage::new(
                prompt_tokens,
                u32::try_from(completion_tokens).unwrap_or(u32::MAX),
            ),
            logprobs,
            include_usage,
        })
    }

    fn usage_json(&self) -> Value {
        json!({
            "prompt_tokens": self.usage.prompt_tokens,
            "completion_tokens": self.usage.completion_tokens,
            "total_tokens": self.usage.total_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
        })
    }

    /// The `logprobs.content` entry of token `i`.
    fn logprob(&self, i: usize, token: &str) -> Value {
        #[allow(clippy::cast_precision_loss)]
        let lp = -((i % 7) as f64) / 10.0;
        let top: Vec<Value> = (0..self.logprobs.unwrap_or(0))
            .map(|k| {
                let alt = if k == 0 {
                    token.to_owned()
                } else {
                    format!("alt{k}")
                };
                #[allow(clippy::cast_precision_loss)]
                let alt_lp = lp - k as f64;
                json!({"token": alt, "logprob": alt_lp, "bytes": alt.as_bytes()})
            })
            .collect();
        json!({"token": token, "logprob": lp, "bytes": token.as_bytes(), "top_logprobs": top})
    }

    fn logprobs_of(&self, tokens: &[String]) -> Value {
        if self.logprobs.is_none() {
            return Value::Null;
        }
        let content: Vec<Value> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| self.logprob(i, t))
            .collect();
        json!({"content": content, "refusal": null})
    }

    /// The whole `chat.completion`.
    fn completion(&self) -> Value {
        let choices: Vec<Value> = self
            .choices
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (message, logprobs) = match &c.answer {
                    Answer::Text(tokens) => (
                        json!({"role": "assistant", "content": tokens.concat(), "refusal": null, "annotations": []}),
                        self.logprobs_of(tokens),
                    ),
                    Answer::Refusal(text) => (
                        json!({"role": "assistant", "content": null, "refusal": text, "annotations": []}),
                        Value::Null,
                    ),
                    Answer::Calls(calls) => (
                        json!({"role": "assistant", "content": null, "refusal": null, "annotations": [],
                            "tool_calls": calls.iter().map(|c| json!({"id": c.id, "type": "function",
                                "function": {"name": c.name, "arguments": c.arguments}})).collect::<Vec<_>>()}),
                        Value::Null,
                    ),
                };
                json!({"index": i, "message": message, "logprobs": logprobs, "finish_reason": c.finish_reason})
            })
            .collect();
        json!({
            "id": completion_id(),
            "object": "chat.completion",
            "created": unix_now(),
            "model": self.model,
            "system_fingerprint": "fp_sable_mock",
            "service_tier": "default",
            "choices": choices,
            "usage": self.usage_json(),
        })
    }

    /// The stream's chunks in order, as `(carries a token, chunk)`.
    fn chunks(&self) -> Vec<(bool, Value)> {
        let id = completion_id();
        let created = unix_now();
        let envelope = |choices: Value| {
            let mut chunk = json!({"id": id, "object": "chat.completion.chunk", "created": created,
                "model": self.model, "system_fingerprint": "fp_sable_mock", "service_tier": "default",
                "choices": choices});
            if self.include_usage {
                chunk["usage"] = Value::Null;
            }
            chunk
        };
        let delta = |i: usize, delta: Value, logprobs: Value, finish: Option<&str>| {
            envelope(
                json!([{"index": i, "delta": delta, "logprobs": logprobs, "finish_reason": finish}]),
            )
        };
        let mut out = Vec::new();
        for (i, choice) in self.choices.iter().enumerate() {
            out.push((
                false,
                delta(
                    i,
                    json!({"role": "assistant", "content": "", "refusal": null}),
                    Value::Null,
                    None,
                ),
            ));
            match &choice.answer {
                Answer::Text(tokens) => {
                    for (k, token) in tokens.iter().enumerate() {
                        let logprobs = if self.logprobs.is_some() {
                            json!({"content": [self.logprob(k, token)], "refusal": null})
                        } else {
                            Value::Null
                        };
                        out.push((true, delta(i, json!({"content": token}), logprobs, None)));
                    }
                }
                Answer::Refusal(text) => {
                    for token in tokenize(text) {
                        out.push((true, delta(i, json!({"refusal": token}), Value::Null, None)));
                    }
                }
                Answer::Calls(calls) => {
                    for (k, call) in calls.iter().enumerate() {
                        out.push((
                            true,
                            delta(
                                i,
                                json!({"tool_calls": [{"index": k, "id": call.id, "type": "function",
                                    "function": {"name": call.name, "arguments": ""}}]}),
                                Value::Null,
                                None,
                            ),
                        ));
                        let chars: Vec<char> = call.arguments.chars().collect();
                        for piece in chars.chunks(ARGUMENT_FRAGMENT_CHARS) {
                            let piece: String = piece.iter().collect();
                            out.push((
                                true,
                                delta(
                                    i,
                                    json!({"tool_calls": [{"index": k, "function": {"arguments": piece}}]}),
                                    Value::Null,
                                    None,
                                ),
                            ));
                        }
                    }
                }
            }
            out.push((
                false,
                delta(i, json!({}), Value::Null, Some(choice.finish_reason)),
            ));
        }
        if self.include_usage {
            let mut last = envelope(json!([]));
            last["usage"] = self.usage_json();
            out.push((false, last));
        }
        out
    }
}

fn completion_id() -> String {
    format!("chatcmpl-mock{}", uuid::Uuid::new_v4().simple())
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl MockProvider {
    /// The plan for `body` (after the markers' failures, which come first as on the native
    /// path).
    fn chat_plan(&self, body: &Value) -> Result<(Hooks, ChatPlan), ProviderError> {
        let read = Read::new(body)?;
        let hooks = Hooks::parse(&read.native.prompt);
        if let Some(e) = self.failure_before_first(hooks, &read.native) {
            return Err(e);
        }
        Ok((hooks, ChatPlan::new(&read)?))
    }

    pub(super) async fn chat_completion(&self, body: &Value) -> Result<Bytes, ProviderError> {
        let (hooks, plan) = self.chat_plan(body)?;
        let (first, each) = self.delays(hooks);
        let tokens = plan.chunks().iter().filter(|(t, _)| *t).count();
        let extra = u32::try_from(tokens.saturating_sub(1)).unwrap_or(u32::MAX);
        sleep(first + each.saturating_mul(extra)).await;
        if let Some(n) = hooks.fail_after {
            return Err(injected(format!("mock provider failure after {n} tokens")));
        }
        Ok(Bytes::from(plan.completion().to_string()))
    }

    pub(super) async fn chat_chunks(&self, body: &Value) -> Result<ChunkStream, ProviderError> {
        let (hooks, plan) = self.chat_plan(body)?;
        let (first, each) = self.delays(hooks);
        let chunks = plan.chunks();
        let stream = async_stream::stream! {
            let start = tokio::time::Instant::now();
            let mut sent = 0u32;
            for (token, chunk) in chunks {
                if token {
                    if hooks.fail_after == usize::try_from(sent).ok() {
                        yield Err(injected(format!("mock provider failure after {sent} tokens")));
                        return;
                    }
                    let due = first + each.saturating_mul(sent);
                    if !due.is_zero() {
                        tokio::time::sleep_until(start + due).await;
                    }
                    sent += 1;
                }
                yield Ok(Bytes::from(chunk.to_string()));
            }
        };
        Ok(stream.boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::mock::MockSettings;
    use crate::providers::Provider;

    fn mock() -> MockProvider {
        MockProvider::new(MockSettings::default())
    }

    /// The mock's whole answer to `body`, parsed.
    async fn whole(body: &Value) -> Value {
        serde_json::from_slice(&mock().chat(body).await.unwrap()).unwrap()
    }

    fn weather_tools() -> Value {
        json!([
            {"type": "function", "function": {"name": "get_weather", "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "minLength": 12},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    "days": {"type": "integer", "minimum": 3, "maximum": 7},
                    "when": {"$ref": "#/$defs/when"},
                    "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                    "note": {"anyOf": [{"type": "null"}, {"type": "number", "exclusiveMinimum": 4}]}
                },
                "required": ["city", "unit"],
                "$defs": {"when": {"type": "string", "format": "date"}}
            }}},
            {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}}}}
        ])
    }

    #[tokio::test]
    async fn tools_are_called_with_arguments_that_fit_their_schema() {
        let body = json!({"model": "m", "tools": weather_tools(),
            "messages": [{"role": "user", "content": "Use a tool to tell me the weather"}]});
        let answer = whole(&body).await;
        let choice = &answer["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        let calls = choice["message"]["tool_calls"].as_array().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0]["function"]["name"], "get_weather");
        let args: Value =
            serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap();
        assert!(args["city"].as_str().unwrap().chars().count() >= 12);
        assert_eq!(args["unit"], "celsius");
        assert_eq!(args["days"], 3);
        assert_eq!(args["when"], "2026-01-01");
        assert_eq!(args["tags"].as_array().unwrap().len(), 2);
        assert_eq!(args["note"], 5.0);

        // Both named: parallel calls, unless parallel_tool_calls is false.
        let mut both = json!({"model": "m", "tools": weather_tools(),
            "messages": [{"role": "user", "content": "get_weather and get_time please"}]});
        let answer = whole(&both).await;
        let names: Vec<_> = answer["choices"][0]["message"]["tool_calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["function"]["name"].clone())
            .collect();
        assert_eq!(names, ["get_weather", "get_time"]);
        both["parallel_tool_calls"] = json!(false);
        let answer = whole(&both).await;
        assert_eq!(
            answer["choices"][0]["message"]["tool_calls"]
                .as_array()
                .unwrap()
                .len(),
            1
        );

        // Not asked: a plain answer; tool_choice forces one.
        let mut plain = json!({"model": "m", "tools": weather_tools(),
            "messages": [{"role": "user", "content": "Hello"}]});
        let answer = whole(&plain).await;
        assert_eq!(answer["choices"][0]["finish_reason"], "stop");
        plain["tool_choice"] = json!({"type": "function", "function": {"name": "get_time"}});
        let answer = whole(&plain).await;
        assert_eq!(
            answer["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
            "get_time"
        );
    }

    #[tokio::test]
    async fn tool_results_are_used_in_the_answer() {
        let body = json!({"model": "m", "tools": weather_tools(), "messages": [
            {"role": "user", "content": "Use get_weather"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "{\"temp\": 21}"}
        ]});
        let answer = whole(&body).await;
        let text = answer["choices"][0]["message"]["content"].as_str().unwrap();
        assert!(
            text.contains("get_weather returned {\"temp\": 21}"),
            "{text}"
        );
        assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    }

    #[tokio::test]
    async fn json_modes_stop_n_seed_and_images() {
        let schema = json!({"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
            "required": ["name", "age"], "additionalProperties": false});
        let body = json!({"model": "m", "n": 2, "seed": 7,
            "response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": schema, "strict": true}},
            "messages": [{"role": "user", "content": "Describe a person"}]});
        let answer = whole(&body).await;
        assert_eq!(answer["choices"].as_array().unwrap().len(), 2);
        let value: Value =
            serde_json::from_str(answer["choices"][1]["message"]["content"].as_str().unwrap())
                .unwrap();
        assert_eq!(value, json!({"name": "mock name", "age": 1}));

        let body = json!({"model": "m", "response_format": {"type": "json_object"},
            "messages": [{"role": "user", "content": "JSON please"}]});
        let answer = whole(&body).await;
        let value: Value =
            serde_json::from_str(answer["choices"][0]["message"]["content"].as_str().unwrap())
                .unwrap();
        assert!(value["answer"].as_str().unwrap().contains("JSON please"));

        let body = json!({"model": "m", "stop": ["three"], "seed": 3,
            "messages": [{"role": "user", "content": "one two three four"}]});
        let text = whole(&body).await["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(text.ends_with("one two "), "{text:?}");

        // A 2×3 PNG (only the header matters).
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&2u32.to_be_bytes());
        png.extend_from_slice(&3u32.to_be_bytes());
        png.extend_from_slice(&[8, 6, 0, 0, 0]);
        let url = format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&png)
        );
        let body = json!({"model": "m", "seed": 5, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": url}}]}]});
        let text = whole(&body).await["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            text.contains("Image 1: a PNG image of 2×3 pixels (29 bytes). Seed 5."),
            "{text}"
        );
        let bad = json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,!!"}}]}]});
        assert_eq!(
            mock().chat(&bad).await.unwrap_err().kind,
            ErrorKind::InvalidRequest
        );
    }

    #[tokio::test]
    async fn streams_carry_tool_call_fragments_in_order_and_usage_last() {
        let body = json!({"model": "m", "tools": weather_tools(), "stream": true,
            "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "get_weather and get_time"}]});
        let chunks: Vec<Value> = mock()
            .chat_stream(&body)
            .await
            .unwrap()
            .map(|c| serde_json::from_slice(&c.unwrap()).unwrap())
            .collect()
            .await;
        let mut arguments = [String::new(), String::new()];
        for chunk in &chunks {
            for call in chunk["choices"][0]["delta"]["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let k = usize::try_from(call["index"].as_u64().unwrap()).unwrap();
                arguments[k].push_str(call["function"]["arguments"].as_str().unwrap());
            }
        }
        let whole = whole(&body).await;
        for (k, streamed) in arguments.iter().enumerate() {
            assert_eq!(
                streamed,
                whole["choices"][0]["message"]["tool_calls"][k]["function"]["arguments"]
                    .as_str()
                    .unwrap()
            );
        }
        let finish = &chunks[chunks.len() - 2];
        assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
        let last = chunks.last().unwrap();
        assert_eq!(last["choices"], json!([]));
        assert_eq!(last["usage"], whole["usage"]);
    }

    #[tokio::test]
    async fn logprobs_refusals_limits_and_markers() {
        let body = json!({"model": "m", "logprobs": true, "top_logprobs": 2, "max_tokens": 3,
            "messages": [{"role": "user", "content": "a b c d e f"}]});
        let answer = whole(&body).await;
        let choice = &answer["choices"][0];
        assert_eq!(choice["finish_reason"], "length");
        let content = choice["logprobs"]["content"].as_array().unwrap();
        assert_eq!(content.len(), 3);
        assert_eq!(content[0]["top_logprobs"].as_array().unwrap().len(), 2);
        let refusal =
            json!({"model": "m", "messages": [{"role": "user", "content": "[mock:refusal] x"}]});
        let answer = whole(&refusal).await;
        assert!(answer["choices"][0]["message"]["refusal"].is_string());
        let failing =
            json!({"model": "m", "messages": [{"role": "user", "content": "[mock:context] x"}]});
        assert_eq!(
            mock().chat(&failing).await.unwrap_err().kind,
            ErrorKind::ContextTooLong
        );
        for bad in [
            json!({"model": "m", "messages": []}),
            json!({"model": "m", "n": 0, "messages": [{"role": "user", "content": "x"}]}),
            json!({"model": "m", "stop": 5, "messages": [{"role": "user", "content": "x"}]}),
            json!({"model": "m", "tools": [{"type": "function"}], "messages": [{"role": "user", "content": "x"}]}),
            json!({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}),
        ] {
            assert_eq!(
                mock().chat(&bad).await.unwrap_err().kind,
                ErrorKind::InvalidRequest,
                "{bad}"
            );
        }
    }
}
