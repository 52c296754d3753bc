//! OpenAI-compatible provider (Groq, OpenAI, Ollama, vLLM, llama.cpp server…): requests
//! built with async-openai's types, sent with `common::http_client` (hyper-util's pooled
//! client: no per-call URL parsing or redirect layer, HTTP/2 by ALPN or, when the provider's
//! settings opt in, h2c).
//!
//! - The HTTP client has a connect timeout and an idle timeout (for the response head and
//!   between two reads of the body); the generation layer adds first-token, between-chunk and
//!   total deadlines. Redirects are not followed (a 3xx is an error with its status).
//! - Nothing is retried here: retry and fallback are decided in one place
//!   ([`crate::generation`]). Every non-2xx answer becomes an [`HttpStatusError`] carrying
//!   the status and `Retry-After` (`OpenAiProvider::post_chat`).
//! - Responses are parsed leniently (our own small structs), so servers that omit fields
//!   OpenAI always sends still work; stream chunks are read by a fast scanner first
//!   (`chunk.rs`), with the serde shapes as the fallback that decides anything unusual.
//! - Error messages name the HTTP status, never the URL or the key; for 401/403 the provider's
//!   own text is left out because some providers echo part of the key.
//! - Whole completions and streams are sent with the same client, URL (parsed once) and
//!   headers (async-openai's configuration makes them); streams are read inline by
//!   [`delta_stream`] (see there why).
//! - Dropping a stream drops the response body, which aborts the HTTP request.
//! - Embeddings are plain JSON (`POST {base_url}/embeddings`, `encoding_format: float`) through
//!   the same client and headers, parsed leniently like completions.

mod chunk;
mod passthrough;

use std::borrow::Cow;
use std::time::Duration;

use async_openai::config::{Config, OpenAIConfig};
use async_openai::error::{OpenAIError, StreamError};
use async_trait::async_trait;
use common::config::Secret;
use common::http_client::{self, Body, ClientSettings, HttpClient};
use common::schemas::{Role, Usage};
use common::sse::SseReader;
use futures::StreamExt;
use hyper::{Method, Response, Uri};
use serde::Deserialize;
use serde_json::Value;

use super::{
    Completion, Delta, DeltaStream, Embeddings, ErrorKind, Provider, ProviderError, ProviderRequest,
};
use crate::retry::{parse_retry_after_ms, parse_retry_after_secs};

/// Longest provider error text passed on to clients.
const DETAIL_MAX_CHARS: usize = 200;

#[derive(Debug, Clone)]
pub struct OpenAiSettings {
    pub name: String,
    pub base_url: String,
    pub api_key: Secret,
    pub connect_timeout: Duration,
    /// Longest silence on an open connection (a safety net under the generation deadlines).
    pub read_timeout: Duration,
    pub max_completion_tokens: bool,
    /// HTTP/2 from the first byte (h2c on `http://`), for providers known to speak it.
    pub http2_prior_knowledge: bool,
}

pub struct OpenAiProvider {
    name: String,
    max_completion_tokens: bool,
    /// What every call is sent with: the URLs and headers async-openai's configuration makes,
    /// parsed once (`None` when a URL does not parse: each call then fails).
    http: HttpClient,
    chat_uri: Option<Uri>,
    embeddings_uri: Option<Uri>,
    headers: reqwest::header::HeaderMap,
}

impl OpenAiProvider {
    pub fn new(settings: OpenAiSettings) -> anyhow::Result<Self> {
        let http = HttpClient::new(ClientSettings {
            idle_timeout: Some(settings.read_timeout),
            http2_prior_knowledge: settings.http2_prior_knowledge,
            ..ClientSettings::new(settings.connect_timeout)
        })
        .map_err(|e| anyhow::anyhow!("cannot build the provider HTTP client: {e}"))?;
        let config = OpenAIConfig::new()
            .with_api_base(settings.base_url)
            .with_api_key(settings.api_key.expose());
        let chat_url = config.url("/chat/completions");
        let embeddings_url = config.url("/embeddings");
        let mut headers = config.headers();
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/json"),
        );
        // What reqwest added to every request: the headers stay as they were.
        headers.insert(
            reqwest::header::ACCEPT,
            reqwest::header::HeaderValue::from_static("*/*"),
        );
        let chat_uri = http_client::parse_uri(&chat_url).ok();
        // The `Host` header the client would add to each HTTP/1.1 call, added once (last, where
        // the client puts it: the request's bytes are the same). Chat and embeddings share
        // the base URL, hence the host.
        if let Some(host) = chat_uri
            .as_ref()
            .filter(|uri| uri.scheme_str() == Some("http") && !settings.http2_prior_knowledge)
            .and_then(http_client::http1_host_header)
        {
            headers.insert(reqwest::header::HOST, host);
        }
        Ok(Self {
            name: settings.name,
            max_completion_tokens: settings.max_completion_tokens,
            http,
            chat_uri,
            embeddings_uri: http_client::parse_uri(&embeddings_url).ok(),
            headers,
        })
    }

    /// `POST {base_url}/chat/completions` with `body`; a non-2xx answer is its error.
    async fn post_chat(&self, body: Vec<u8>) -> Result<Response<Body>, ProviderError> {
        self.post(self.chat_uri.as_ref(), body).await
    }

    /// `POST uri` with `body` and the provider's headers; a non-2xx answer is its error.
    async fn post(
        &self,
        uri: Option<&Uri>,
        body: Vec<u8>,
    ) -> Result<Response<Body>, ProviderError> {
        let Some(uri) = uri else {
            tracing::warn!("the provider's base URL does not parse");
            return Err(ProviderError::new(
                ErrorKind::Network,
                "connection to the provider failed",
            ));
        };
        let request = http_client::request(Method::POST, uri.clone(), self.headers.clone(), body);
        let response = self
            .http
            .send(request, None)
            .await
            .map_err(|e| transport_error(&e))?;
        if !response.status().is_success() {
            return Err(HttpStatusError::read(response).await.into_provider_error());
        }
        Ok(response)
    }

    /// The `chat/completions` request's JSON for `req`.
    fn request_body(&self, req: &ProviderRequest, stream: bool) -> Result<Vec<u8>, ProviderError> {
        let system = req
            .system_prompt
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|content| ChatMessage {
                role: "system",
                content,
            });
        let turns = req.messages.iter().map(|turn| ChatMessage {
            role: match turn.role {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
            },
            content: &turn.content,
        });
        let prompt = ChatMessage {
            role: "user",
            content: &req.prompt,
        };
        let body = ChatRequest {
            messages: system
                .into_iter()
                .chain(turns)
                .chain(Some(prompt))
                .collect(),
            model: &req.model,
            max_completion_tokens: self.max_completion_tokens.then_some(req.max_tokens),
            stream,
            max_tokens: (!self.max_completion_tokens).then_some(req.max_tokens),
            temperature: req.temperature,
        };
        serde_json::to_vec(&body).map_err(|e| {
            ProviderError::new(
                ErrorKind::InvalidRequest,
                format!("invalid provider request: {e}"),
            )
        })
    }
}

/// A chat completions request as async-openai's `CreateChatCompletionRequest` serializes the
/// fields we set (same names, order and omissions, byte for byte: tested), written straight
/// from the [`ProviderRequest`]. Its builder copied every message twice (the builder's `build`
/// clones its fields) and its serializer checked some forty unset options per call.
#[derive(serde::Serialize)]
struct ChatRequest<'a> {
    messages: Vec<ChatMessage<'a>>,
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    temperature: f32,
}

/// One message: its role (async-openai's enum tag, written first) and its text.
#[derive(serde::Serialize)]
struct ChatMessage<'a> {
    role: &'static str,
    content: &'a str,
}

#[async_trait]
impl Provider for OpenAiProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn complete(&self, req: &ProviderRequest) -> Result<Completion, ProviderError> {
        let body = self.request_body(req, false)?;
        // What async-openai's `create_byot` did, without its request factory and boxed
        // services: the answer's bytes, then the lenient shape.
        let bytes = self
            .post_chat(body)
            .await?
            .into_body()
            .bytes()
            .await
            .map_err(|e| transport_error(&e))?;
        let response: ChatResponse = serde_json::from_slice(&bytes).map_err(|e| {
            map_error(OpenAIError::JSONDeserialize(
                e,
                String::from_utf8_lossy(&bytes).into_owned(),
            ))
        })?;
        if let Some(error) = response.error {
            return Err(body_error(&error));
        }
        let choice = response.choices.into_iter().next();
        let finish_reason = choice.as_ref().and_then(|c| c.finish_reason.clone());
        let text = choice
            .and_then(|c| c.message)
            .and_then(|m| m.content)
            .unwrap_or_default();
        let usage = match response.usage {
            Some(u) => Usage::new(u.prompt_tokens, u.completion_tokens),
            None => Usage::new(
                u32::try_from(req.input_chars() / 4).unwrap_or(u32::MAX),
                u32::try_from(text.chars().count() / 4).unwrap_or(u32::MAX),
            ),
        };
        Ok(Completion {
            text,
            model: response
                .model
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| req.model.clone()),
            usage,
            finish_reason,
        })
    }

    async fn stream(&self, req: &ProviderRequest) -> Result<DeltaStream, ProviderError> {
        let body = self.request_body(req, true)?;
        Ok(delta_stream(self.post_chat(body).await?))
    }

    async fn chat(&self, body: &Value) -> Result<bytes::Bytes, ProviderError> {
        self.forward_chat(body).await
    }

    async fn chat_stream(&self, body: &Value) -> Result<super::ChunkStream, ProviderError> {
        self.forward_chat_stream(body).await
    }

    async fn embed(&self, model: &str, inputs: &[String]) -> Result<Embeddings, ProviderError> {
        let body = serde_json::to_vec(&serde_json::json!({
            "model": model,
            "input": inputs,
            "encoding_format": "float",
        }))
        .map_err(|e| {
            ProviderError::new(
                ErrorKind::InvalidRequest,
                format!("invalid provider request: {e}"),
            )
        })?;
        let bytes = self
            .post(self.embeddings_uri.as_ref(), body)
            .await?
            .into_body()
            .bytes()
            .await
            .map_err(|e| transport_error(&e))?;
        let parsed: EmbeddingsBody = serde_json::from_slice(&bytes).map_err(|e| {
            tracing::warn!(error = %e, "provider embeddings did not parse");
            ProviderError::new(
                ErrorKind::Network,
                "provider sent embeddings that could not be parsed",
            )
        })?;
        if let Some(error) = parsed.error {
            return Err(body_error(&error));
        }
        let mut data = parsed.data;
        // OpenAI answers in input order with `index`; sort in case a server does not.
        data.sort_by_key(|d| d.index);
        let prompt_tokens = parsed.usage.map_or_else(
            || {
                let chars: usize = inputs.iter().map(|t| t.chars().count()).sum();
                u32::try_from(chars / 4).unwrap_or(u32::MAX)
            },
            |u| u.prompt_tokens,
        );
        Ok(Embeddings {
            vectors: data.into_iter().map(|d| d.embedding).collect(),
            model: parsed
                .model
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| model.to_owned()),
            prompt_tokens,
        })
    }
}

#[derive(Debug, Deserialize)]
struct EmbeddingsBody {
    #[serde(default)]
    data: Vec<EmbeddingItem>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<EmbeddingsUsageBody>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct EmbeddingItem {
    #[serde(default)]
    index: u32,
    embedding: Vec<f32>,
}

#[derive(Debug, Deserialize)]
struct EmbeddingsUsageBody {
    #[serde(default)]
    prompt_tokens: u32,
}

// ---- lenient response shapes -------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct ChatResponse {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<ChatChoice>,
    #[serde(default)]
    usage: Option<UsageBody>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct ChatChoice {
    #[serde(default)]
    message: Option<MessageBody>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct MessageBody {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Debug, Deserialize)]
struct UsageBody {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}

/// One `chat.completion.chunk`, read for what a [`Delta`] needs: the first choice's content
/// and finish reason. Strings borrow from the event's bytes (they are copied once, into the
/// delta, and only when escaped JSON must be unescaped first); the other choices are parsed
/// (so that a malformed one still fails as before) but not kept; every other field is skipped.
#[derive(Debug, Deserialize)]
struct ChatChunk<'a> {
    #[serde(default, borrow, deserialize_with = "first_choice")]
    choices: Option<ChunkChoice<'a>>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct ChunkChoice<'a> {
    #[serde(default, borrow)]
    delta: Option<ChunkDelta<'a>>,
    #[serde(default, borrow)]
    finish_reason: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
struct ChunkDelta<'a> {
    #[serde(default, borrow)]
    content: Option<Text<'a>>,
}

/// A JSON string borrowed from the input unless it has escapes. (serde borrows a `Cow` only
/// when it is the field's whole type, not inside an `Option`: hence the newtype.)
#[derive(Debug, Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

impl Text<'_> {
    fn into_owned(self) -> String {
        self.0.into_owned()
    }
}

/// `choices`: the first element, without collecting the list (a `Vec` per token).
fn first_choice<'de, D>(deserializer: D) -> Result<Option<ChunkChoice<'de>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct First;
    impl<'de> serde::de::Visitor<'de> for First {
        type Value = Option<ChunkChoice<'de>>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list of choices")
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let first = seq.next_element::<ChunkChoice<'de>>()?;
            while seq.next_element::<ChunkChoice<'de>>()?.is_some() {}
            Ok(first)
        }
    }
    deserializer.deserialize_seq(First)
}

// ---- streaming: one SSE reader in the caller's task ------------------------------------
//
// async-openai's `create_stream_byot` spawns a task per stream that parses events with
// eventsource-stream (a `String` per event, field and id) and hands every chunk to the
// caller through an unbounded channel: a task, a channel and a cross-task wake-up per
// token. Streams are instead sent with the same HTTP client and read here, inline, by
// `common::sse::SseReader` (one reused buffer; the gateway relay reads with it too), and
// each `data:` payload is parsed once, straight into [`ChatChunk`].

/// The deltas of an OpenAI-compatible SSE body, ending at `data: [DONE]` or the body's end.
fn delta_stream(response: Response<Body>) -> DeltaStream {
    async_stream::stream! {
        let mut body = response.into_body();
        let mut events = SseReader::default();
        let mut eof = false;
        while !eof {
            match body.chunk().await {
                Ok(Some(chunk)) => {
                    if let Err(e) = events.push_bytes(chunk) {
                        tracing::warn!(error = %e, "provider stream refused");
                        yield Err(ProviderError::new(ErrorKind::Network, "provider sent an event that is too large"));
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "provider stream failed");
                    yield Err(ProviderError::new(ErrorKind::Network, "provider stream was interrupted"));
                    return;
                }
                Ok(None) => eof = true,
            }
            while let Some(event) = events.next_event(eof) {
                // Some servers send `event: keepalive` while a long answer is prepared.
                if event.event == b"keepalive" {
                    continue;
                }
                let data = event.data;
                if data == b"[DONE]" {
                    return;
                }
                // The common shape is read by the fast scanner; anything else by serde.
                if let Some(delta) = chunk::delta(data) {
                    yield Ok(delta);
                    continue;
                }
                match serde_json::from_slice::<ChatChunk>(data) {
                    Ok(chunk) => yield chunk_delta(chunk),
                    Err(e) => {
                        tracing::warn!(error = %e, "provider response did not parse");
                        yield Err(ProviderError::new(
                            ErrorKind::Network,
                            "provider sent a response that could not be parsed",
                        ));
                        return;
                    }
                }
            }
        }
    }
    .boxed()
}

fn chunk_delta(chunk: ChatChunk<'_>) -> Result<Delta, ProviderError> {
    if let Some(error) = chunk.error {
        return Err(body_error(&error));
    }
    let Some(choice) = chunk.choices else {
        return Ok(Delta::default());
    };
    Ok(Delta {
        finish_reason: choice.finish_reason.map(Text::into_owned),
        text: choice
            .delta
            .and_then(|d| d.content)
            .map(Text::into_owned)
            .unwrap_or_default(),
    })
}

// ---- transport and errors ----------------------------------------------------------------

/// A failed call to the provider. The detail (which may name the URL) is logged; clients are
/// told the class only. A body that breaks while a whole answer is read is "unreadable".
fn transport_error(e: &http_client::Error) -> ProviderError {
    tracing::warn!(error = %e, "provider request failed");
    if e.is_timeout() {
        ProviderError::new(ErrorKind::Timeout, "provider timed out")
    } else if e.is_connect() {
        ProviderError::new(ErrorKind::Network, "could not connect to the provider")
    } else if e.is_body() {
        ProviderError::new(ErrorKind::Network, "provider sent an unreadable response")
    } else {
        ProviderError::new(ErrorKind::Network, "connection to the provider failed")
    }
}

/// A non-2xx answer from the provider, with what retry decisions need.
#[derive(Debug, Clone, thiserror::Error)]
#[error("provider answered HTTP {status}")]
pub struct HttpStatusError {
    pub status: u16,
    pub retry_after: Option<Duration>,
    /// The provider's error message (from `{"error":{"message":…}}`), if any.
    pub detail: Option<String>,
    /// The provider's error `code` (or `type`), e.g. `context_length_exceeded`.
    pub provider_code: Option<String>,
}

impl HttpStatusError {
    /// The error a non-2xx answer stands for. At most `MAX_ERROR_BODY_BYTES` of its body are
    /// read (what it says fits in far less); a body that goes on, or breaks, yields what
    /// arrived: the status alone still classifies the error.
    async fn read(response: Response<Body>) -> Self {
        let (parts, mut body) = response.into_parts();
        let status = parts.status.as_u16();
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let retry_after = header("retry-after-ms")
            .and_then(parse_retry_after_ms)
            .or_else(|| header("retry-after").and_then(parse_retry_after_secs));
        let body = body.read_capped(common::http::MAX_ERROR_BODY_BYTES).await;
        let parsed = serde_json::from_slice::<Value>(&body).ok();
        let detail = parsed.as_ref().and_then(error_message);
        let provider_code = parsed.as_ref().and_then(error_code);
        Self {
            status,
            retry_after,
            detail,
            provider_code,
        }
    }

    fn into_provider_error(self) -> ProviderError {
        let detail = match self.status {
            // Some providers quote part of the key in auth errors.
            401 | 403 => None,
            _ => self.detail.as_deref().map(clip),
        };
        let kind = ErrorKind::from_http(
            self.status,
            self.provider_code.as_deref(),
            self.detail.as_deref(),
        );
        let mut error = ProviderError::from_status(self.status, None, detail.as_deref());
        error.kind = kind;
        error.retry_after = self.retry_after;
        error
    }
}

/// `{"error":{"message":"…"}}` or `{"error":"…"}` → the message.
fn error_message(v: &Value) -> Option<String> {
    let error = v.get("error")?;
    error
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| error.as_str())
        .map(str::to_owned)
}

/// `{"error":{"code":"…"}}` (or its `type`) → the provider's error code.
fn error_code(v: &Value) -> Option<String> {
    let error = v.get("error")?;
    error
        .get("code")
        .and_then(Value::as_str)
        .or_else(|| error.get("type").and_then(Value::as_str))
        .map(str::to_owned)
}

/// An error object sent inside a 200 answer or a stream chunk: a context or policy refusal
/// keeps its class, anything else counts as the provider failing (overloaded).
fn body_error(error: &Value) -> ProviderError {
    let wrapped = serde_json::json!({ "error": error });
    let detail = error_message(&wrapped).unwrap_or_else(|| "unknown error".to_owned());
    let kind = match ErrorKind::from_http(400, error_code(&wrapped).as_deref(), Some(&detail)) {
        kind @ (ErrorKind::ContextTooLong | ErrorKind::ContentPolicy) => kind,
        _ => ErrorKind::Overloaded,
    };
    ProviderError::new(
        kind,
        format!("provider reported an error: {}", clip(&detail)),
    )
}

/// The provider's detail on one line, at most [`DETAIL_MAX_CHARS`] code points.
fn clip(s: &str) -> String {
    common::text::one_line_clipped(s, DETAIL_MAX_CHARS)
}

/// Maps async-openai's error to ours. Transport errors are logged with their detail (which
/// may name the URL) and reported to clients generically.
fn map_error(error: OpenAIError) -> ProviderError {
    match error {
        OpenAIError::Boxed(boxed) => match boxed.downcast::<HttpStatusError>() {
            Ok(status) => status.into_provider_error(),
            Err(other) => {
                tracing::warn!(error = %other, "provider transport failed");
                ProviderError::new(ErrorKind::Network, "connection to the provider failed")
            }
        },
        OpenAIError::ApiError(api) => HttpStatusError {
            status: api.status_code.as_u16(),
            retry_after: None,
            provider_code: api
                .api_error
                .code
                .clone()
                .or_else(|| api.api_error.r#type.clone()),
            detail: Some(api.api_error.message),
        }
        .into_provider_error(),
        OpenAIError::StreamError(e) => {
            tracing::warn!(error = %e, "provider stream failed");
            match *e {
                StreamError::EventStream(_) => {
                    ProviderError::new(ErrorKind::Network, "provider stream was interrupted")
                }
                StreamError::UnknownEvent(_) => ProviderError::new(
                    ErrorKind::Network,
                    "provider sent an unexpected stream event",
                ),
            }
        }
        OpenAIError::JSONDeserialize(e, _) => {
            tracing::warn!(error = %e, "provider response did not parse");
            ProviderError::new(
                ErrorKind::Network,
                "provider sent a response that could not be parsed",
            )
        }
        OpenAIError::InvalidArgument(message) => ProviderError::new(
            ErrorKind::InvalidRequest,
            format!("invalid provider request: {}", clip(&message)),
        ),
        other => {
            tracing::warn!(error = %other, "provider call failed");
            ProviderError::new(ErrorKind::Network, "provider call failed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A provider at `base_url` with one-second timeouts.
    fn test_provider(base_url: &str, max_completion_tokens: bool) -> OpenAiProvider {
        OpenAiProvider::new(OpenAiSettings {
            name: "openai".into(),
            base_url: base_url.into(),
            api_key: "k".into(),
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
            max_completion_tokens,
            http2_prior_knowledge: false,
        })
        .unwrap()
    }

    #[test]
    fn auth_errors_drop_the_provider_text() {
        let e = HttpStatusError {
            status: 401,
            retry_after: None,
            detail: Some("Incorrect API key provided: sk-abc***xyz".into()),
            provider_code: None,
        }
        .into_provider_error();
        assert!(!e.message.contains("sk-"));
        assert_eq!(e.kind, ErrorKind::Auth);
    }

    #[test]
    fn status_errors_keep_retry_after_and_a_clipped_single_line_detail() {
        let e = HttpStatusError {
            status: 429,
            retry_after: Some(Duration::from_secs(1)),
            detail: Some(format!("line one\nline two {}", "x".repeat(500))),
            provider_code: None,
        }
        .into_provider_error();
        assert_eq!(e.retry_after, Some(Duration::from_secs(1)));
        assert!(!e.message.contains('\n'));
        assert!(e.message.chars().count() < 300);
        assert!(e.is_retryable());
    }

    #[test]
    fn provider_codes_classify_ambiguous_400s() {
        let e = HttpStatusError {
            status: 400,
            retry_after: None,
            detail: Some("Please reduce the length of the messages.".into()),
            provider_code: Some("context_length_exceeded".into()),
        }
        .into_provider_error();
        assert_eq!(e.kind, ErrorKind::ContextTooLong);
        let e = body_error(&serde_json::json!({"message": "flagged", "code": "content_filter"}));
        assert_eq!(e.kind, ErrorKind::ContentPolicy);
        let e = body_error(&serde_json::json!({"message": "internal"}));
        assert_eq!(e.kind, ErrorKind::Overloaded);
    }

    fn events(chunks: &[&[u8]]) -> Vec<String> {
        let mut parser = SseReader::default();
        let mut out = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            parser.push(chunk).unwrap();
            let eof = i + 1 == chunks.len();
            while let Some(event) = parser.next_event(eof) {
                if event.event != b"keepalive" {
                    out.push(String::from_utf8_lossy(event.data).into_owned());
                }
            }
        }
        out
    }

    #[test]
    fn sse_events_follow_the_line_rules_and_keepalives_are_skipped() {
        let body: &[u8] = b": comment\n\ndata: {\"a\":1}\n\ndata:x\r\ndata: y\r\n\r\nevent: keepalive\ndata: {}\n\nid: 7\rdata: z\r\rdata: [DONE]\n\n";
        let expected = ["{\"a\":1}", "x\ny", "z", "[DONE]"];
        assert_eq!(events(&[body]), expected);
        for cut in 1..body.len() {
            assert_eq!(
                events(&[&body[..cut], &body[cut..]]),
                expected,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn error_messages_are_found_in_both_shapes() {
        assert_eq!(
            error_message(&serde_json::json!({"error": {"message": "m"}})).as_deref(),
            Some("m")
        );
        assert_eq!(
            error_message(&serde_json::json!({"error": "m"})).as_deref(),
            Some("m")
        );
        assert_eq!(error_message(&serde_json::json!({"x": 1})), None);
    }

    /// A provider that answers 500 and then never stops sending its error body: the error is
    /// classified from what fits under the cap, at once, instead of reading forever.
    #[tokio::test]
    async fn an_endless_provider_error_body_is_read_up_to_the_cap() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = sent.clone();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = [0u8; 4096];
            let _ = socket.read(&mut head).await;
            let _ = socket
                .write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
                .await;
            let chunk = [b"10000\r\n".as_slice(), &[b'x'; 0x10000], b"\r\n"].concat();
            // Bounded (1 GiB) so a broken reader fails the test instead of running forever.
            for _ in 0..16_384 {
                if socket.write_all(&chunk).await.is_err() {
                    return;
                }
                counter.fetch_add(0x10000, std::sync::atomic::Ordering::Relaxed);
            }
        });
        let provider = test_provider(&format!("http://{addr}/v1"), false);
        let request = http_client::request(
            Method::POST,
            provider.chat_uri.clone().unwrap(),
            provider.headers.clone(),
            "{}",
        );
        let response = provider.http.send(request, None).await.unwrap();
        let error = tokio::time::timeout(Duration::from_secs(5), HttpStatusError::read(response))
            .await
            .expect("the error body was read without a cap");
        assert_eq!(error.status, 500);
        assert_eq!(error.detail, None);
        let sent = sent.load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            sent < 64 * 1024 * 1024,
            "read {sent} bytes of an error body"
        );
        assert_eq!(error.into_provider_error().kind, ErrorKind::Overloaded);
    }

    #[test]
    fn requests_carry_system_prompt_history_and_prompt_in_order() {
        let provider = test_provider("http://127.0.0.1:9/v1", false);
        let req = ProviderRequest {
            model: "m".into(),
            system_prompt: Some("sys".into()),
            messages: vec![
                common::schemas::ChatTurn {
                    role: Role::User,
                    content: "u1".into(),
                },
                common::schemas::ChatTurn {
                    role: Role::Assistant,
                    content: "a1".into(),
                },
            ],
            prompt: "now".into(),
            max_tokens: 7,
            temperature: 0.5,
        };
        let body: Value =
            serde_json::from_slice(&provider.request_body(&req, true).unwrap()).unwrap();
        let roles: Vec<_> = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["role"].clone())
            .collect();
        assert_eq!(roles, ["system", "user", "assistant", "user"]);
        assert_eq!(body["messages"][3]["content"], "now");
        assert_eq!(body["max_tokens"], 7);
        assert_eq!(body["stream"], true);
        assert_eq!(body["model"], "m");
    }

    /// What async-openai's builder and types made of `req` (how requests were built before).
    fn async_openai_body(
        req: &ProviderRequest,
        stream: bool,
        max_completion_tokens: bool,
    ) -> Vec<u8> {
        use async_openai::types::chat::{
            ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
            ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
            CreateChatCompletionRequestArgs,
        };
        let system = |s: &str| {
            ChatCompletionRequestMessage::System(ChatCompletionRequestSystemMessage::from(s))
        };
        let user =
            |s: &str| ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage::from(s));
        let mut messages = Vec::new();
        if let Some(s) = req
            .system_prompt
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            messages.push(system(s));
        }
        for turn in &req.messages {
            messages.push(match turn.role {
                Role::System => system(&turn.content),
                Role::User => user(&turn.content),
                Role::Assistant => ChatCompletionRequestMessage::Assistant(
                    ChatCompletionRequestAssistantMessage::from(turn.content.as_str()),
                ),
            });
        }
        messages.push(user(&req.prompt));
        let mut args = CreateChatCompletionRequestArgs::default();
        args.model(req.model.clone())
            .messages(messages)
            .temperature(req.temperature)
            .stream(stream);
        if max_completion_tokens {
            args.max_completion_tokens(req.max_tokens);
        } else {
            #[allow(deprecated)]
            args.max_tokens(req.max_tokens);
        }
        serde_json::to_vec(&args.build().unwrap()).unwrap()
    }

    #[test]
    fn request_bodies_are_byte_for_byte_what_async_openai_wrote() {
        use common::schemas::ChatTurn;
        let turn = |role, content: &str| ChatTurn {
            role,
            content: content.into(),
        };
        let odd = "quote \" back\\slash\n\u{1} é 😀 </script>";
        let requests = [
            ProviderRequest {
                model: "m".into(),
                system_prompt: None,
                messages: vec![],
                prompt: "hi".into(),
                max_tokens: 32,
                temperature: 0.7,
            },
            ProviderRequest {
                model: "gpt-4o-mini".into(),
                system_prompt: Some("   ".into()),
                messages: vec![turn(Role::System, "s"), turn(Role::Assistant, odd)],
                prompt: odd.into(),
                max_tokens: 0,
                temperature: 0.0,
            },
            ProviderRequest {
                model: odd.into(),
                system_prompt: Some(odd.into()),
                messages: vec![turn(Role::User, ""), turn(Role::Assistant, "a")],
                prompt: String::new(),
                max_tokens: u32::MAX,
                temperature: 1.234_567_9,
            },
        ];
        for max_completion_tokens in [false, true] {
            let provider = test_provider("http://127.0.0.1:9/v1", max_completion_tokens);
            for req in &requests {
                for stream in [false, true] {
                    let ours = provider.request_body(req, stream).unwrap();
                    let theirs = async_openai_body(req, stream, max_completion_tokens);
                    assert_eq!(
                        String::from_utf8_lossy(&ours),
                        String::from_utf8_lossy(&theirs)
                    );
                }
            }
        }
    }
}
