//! `fake-openai`: an OpenAI-compatible server that does no work — `POST /v1/chat/completions`
//! (JSON and SSE), `POST /v1/embeddings` and `GET /v1/models`. It is the provider `make bench`
//! measures Sable against (no model, no logging, bodies rendered once and cached), and the
//! tests start several of them with different [`Behaviour`]s (slow, failing, rate-limiting,
//! requiring a key) to exercise routing, retries, fallbacks and cool-downs.
//!
//! - A chat request's length is its `max_completion_tokens` / `max_tokens` (default 16),
//!   capped at 4,096 tokens; every token is one word and its trailing space.
//! - A stream is what OpenAI sends: a role chunk, one chunk per token, a chunk with
//!   `finish_reason: "stop"`, `data: [DONE]`. With no token delay (the default) a stream's
//!   whole body is one write; with one, each token is sent that long after the previous one
//!   (the first one delay after the request), like a provider generating at a steady pace.
//! - Embeddings are deterministic: the same text gives the same unit vector of
//!   [`Behaviour::embedding_dims`] floats (hashed from the text); `usage.prompt_tokens` counts
//!   the words. Only string inputs are accepted (a string or a list of strings).
//! - It speaks HTTP/1.1 and, with prior knowledge, HTTP/2 (h2c) on the same port (hyper-util's
//!   auto server), so a client's HTTP/2 can be measured against it; [`Counters::connections`]
//!   counts the TCP connections accepted.
//! - Failures look like OpenAI's: `{"error":{"message","type","code"}}` with the status, and
//!   `Retry-After` on a 429.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};

/// How one fake server behaves. The default is the bench's: instant, never failing.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Time between two streamed tokens (zero: the whole stream at once).
    pub token_delay: Duration,
    /// Time before any answer starts (a slow provider).
    pub response_delay: Duration,
    /// The first this many chat and embeddings requests fail with `fail_status` (`u64::MAX`:
    /// every request).
    pub fail_first: u64,
    /// The status of those failures: 429 (with `Retry-After`), 500, 503, 400…
    pub fail_status: u16,
    /// `Retry-After` seconds sent with a 429.
    pub retry_after_secs: u64,
    /// When set, requests without `Authorization: Bearer <key>` get 401.
    pub api_key: Option<String>,
    /// Ids listed by `GET /v1/models`.
    pub models: Vec<String>,
    /// Length of every embedding.
    pub embedding_dims: usize,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            token_delay: Duration::ZERO,
            response_delay: Duration::ZERO,
            fail_first: 0,
            fail_status: 503,
            retry_after_secs: 1,
            api_key: None,
            models: vec!["bench".to_owned()],
            embedding_dims: 16,
        }
    }
}

/// What a server has seen, for tests.
#[derive(Debug, Default)]
pub struct Counters {
    pub chat: AtomicU64,
    pub embeddings: AtomicU64,
    /// Requests answered with `fail_status` (or 401).
    pub failed: AtomicU64,
    /// Embedding inputs received, over all requests.
    pub embedded_texts: AtomicU64,
    /// `GET /v1/models` requests answered.
    pub model_lists: AtomicU64,
    /// TCP connections accepted ([`serve`]).
    pub connections: AtomicU64,
    /// Replaces `Behaviour::models` once set ([`Running::set_models`]): a provider whose
    /// models change while it runs.
    listed: Mutex<Option<Vec<String>>>,
}

impl Counters {
    pub fn chat(&self) -> u64 {
        self.chat.load(Ordering::SeqCst)
    }
    pub fn embeddings(&self) -> u64 {
        self.embeddings.load(Ordering::SeqCst)
    }
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::SeqCst)
    }
    pub fn embedded_texts(&self) -> u64 {
        self.embedded_texts.load(Ordering::SeqCst)
    }
    pub fn model_lists(&self) -> u64 {
        self.model_lists.load(Ordering::SeqCst)
    }
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }
}

const MAX_TOKENS: u32 = 4096;
const DEFAULT_TOKENS: u32 = 16;
const WORDS: [&str; 8] = [
    "Sable ", "streams ", "every ", "token ", "as ", "soon ", "as ", "ready ",
];
const CACHE_MAX: usize = 256;

#[derive(Deserialize)]
struct ChatRequest {
    #[serde(default)]
    model: String,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    max_completion_tokens: Option<u32>,
}

#[derive(Deserialize)]
struct EmbeddingsRequest {
    #[serde(default)]
    model: String,
    input: Value,
}

struct Fake {
    behaviour: Behaviour,
    counters: Arc<Counters>,
    /// Requests seen (chat and embeddings), for `fail_first`.
    seen: AtomicU64,
    /// Rendered bodies by (model, tokens, stream); bounded so odd clients cannot grow it.
    cache: Mutex<HashMap<(String, u32, bool), Bytes>>,
}

/// The server's router and the counters it updates.
pub fn app(behaviour: Behaviour) -> (Router, Arc<Counters>) {
    let counters = Arc::new(Counters::default());
    let state = Arc::new(Fake {
        behaviour,
        counters: counters.clone(),
        seen: AtomicU64::new(0),
        cache: Mutex::new(HashMap::new()),
    });
    let router = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(models))
        .route("/health", get(|| async { "ok" }))
        .with_state(state);
    (router, counters)
}

/// A fake server running in this process (tests).
pub struct Running {
    pub addr: SocketAddr,
    pub counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// `http://<addr>/v1`, what a provider's `base_url` is set to.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// From now on `GET /v1/models` lists `ids`.
    pub fn set_models(&self, ids: &[&str]) {
        *self
            .counters
            .listed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(ids.iter().map(|s| (*s).to_owned()).collect());
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` on every connection `listener` accepts, in HTTP/1.1 or HTTP/2 (h2c, chosen
/// by the client's first bytes), until the task is dropped. Like a real provider's front end:
/// no Nagle delay on small writes (a paced token, the tail of a body written after its headers).
pub async fn serve(listener: tokio::net::TcpListener, router: Router, counters: Arc<Counters>) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            // Out of descriptors and the like: try again shortly, as axum::serve does.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        counters.connections.fetch_add(1, Ordering::SeqCst);
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

/// Starts a server on `127.0.0.1:0` in a background task.
pub async fn spawn(behaviour: Behaviour) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (router, counters) = app(behaviour);
    let task = tokio::spawn(serve(listener, router, counters.clone()));
    Ok(Running {
        addr,
        counters,
        task,
    })
}

async fn models(State(fake): State<Arc<Fake>>) -> Response {
    fake.counters.model_lists.fetch_add(1, Ordering::SeqCst);
    let listed = fake
        .counters
        .listed
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
        .unwrap_or_else(|| fake.behaviour.models.clone());
    let data: Vec<Value> = listed
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1, "owned_by": "fake"}))
        .collect();
    axum::Json(json!({"object": "list", "data": data})).into_response()
}

fn error(status: StatusCode, message: &str, kind: &str) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": null}});
    (status, axum::Json(body)).into_response()
}

impl Fake {
    /// The answer this request gets instead of a normal one, if any: a missing key, or one
    /// of the first `fail_first` requests. Waits `response_delay` first.
    async fn refusal(&self, headers: &HeaderMap) -> Option<Response> {
        let b = &self.behaviour;
        if !b.response_delay.is_zero() {
            tokio::time::sleep(b.response_delay).await;
        }
        if let Some(key) = &b.api_key {
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            if given != Some(key.as_str()) {
                self.counters.failed.fetch_add(1, Ordering::SeqCst);
                return Some(error(
                    StatusCode::UNAUTHORIZED,
                    "Incorrect API key provided",
                    "invalid_request_error",
                ));
            }
        }
        let n = self.seen.fetch_add(1, Ordering::SeqCst);
        if n >= b.fail_first {
            return None;
        }
        self.counters.failed.fetch_add(1, Ordering::SeqCst);
        let status = StatusCode::from_u16(b.fail_status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let (message, kind) = match status.as_u16() {
            429 => ("Rate limit reached (fake)", "rate_limit_error"),
            400..=499 => ("The request was refused (fake)", "invalid_request_error"),
            _ => ("The server is overloaded (fake)", "server_error"),
        };
        let mut response = error(status, message, kind);
        if status == StatusCode::TOO_MANY_REQUESTS {
            if let Ok(v) = b.retry_after_secs.to_string().parse() {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        Some(response)
    }

    fn body(&self, model: String, tokens: u32, stream: bool) -> Bytes {
        let key = (model, tokens, stream);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = cache.get(&key) {
            return b.clone();
        }
        let body = if stream {
            let mut out = String::with_capacity(180 * (tokens as usize + 3));
            out.push_str(&event(&key.0, r#"{"role":"assistant","content":""}"#, None));
            for i in 0..tokens {
                out.push_str(&token_event(&key.0, i));
            }
            out.push_str(&event(&key.0, "{}", Some("stop")));
            out.push_str("data: [DONE]\n\n");
            Bytes::from(out)
        } else {
            let text: String = (0..tokens).map(word).collect();
            Bytes::from(
                json!({
                    "id": "chatcmpl-bench",
                    "object": "chat.completion",
                    "created": 1,
                    "model": key.0,
                    "choices": [{
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop"
                    }],
                    "usage": {"prompt_tokens": 8, "completion_tokens": tokens, "total_tokens": 8 + tokens}
                })
                .to_string(),
            )
        };
        if cache.len() < CACHE_MAX {
            cache.insert(key, body.clone());
        }
        body
    }
}

async fn chat(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: Bytes) -> Response {
    fake.counters.chat.fetch_add(1, Ordering::SeqCst);
    let req: ChatRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("invalid request: {e}"),
                "invalid_request_error",
            )
        }
    };
    if let Some(refusal) = fake.refusal(&headers).await {
        return refusal;
    }
    let tokens = req
        .max_completion_tokens
        .or(req.max_tokens)
        .unwrap_or(DEFAULT_TOKENS)
        .clamp(1, MAX_TOKENS);
    let model = if req.model.is_empty() {
        "bench".to_owned()
    } else {
        req.model
    };
    if req.stream && !fake.behaviour.token_delay.is_zero() {
        return paced(&model, tokens, fake.behaviour.token_delay);
    }
    let body = fake.body(model, tokens, req.stream);
    let content_type = if req.stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn embeddings(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: Bytes) -> Response {
    fake.counters.embeddings.fetch_add(1, Ordering::SeqCst);
    let req: EmbeddingsRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("invalid request: {e}"),
                "invalid_request_error",
            )
        }
    };
    let texts: Vec<String> = match &req.input {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) if !items.is_empty() => {
            match items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
            {
                Some(texts) => texts,
                None => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "'input' must be a string or a list of strings (fake)",
                        "invalid_request_error",
                    )
                }
            }
        }
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "'input' must be a non-empty string or list of strings (fake)",
                "invalid_request_error",
            )
        }
    };
    if let Some(refusal) = fake.refusal(&headers).await {
        return refusal;
    }
    fake.counters
        .embedded_texts
        .fetch_add(texts.len() as u64, Ordering::SeqCst);
    let dims = fake.behaviour.embedding_dims.max(1);
    let words: usize = texts.iter().map(|t| t.split_whitespace().count()).sum();
    let data: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": vector(t, dims)}))
        .collect();
    axum::Json(json!({
        "object": "list",
        "model": if req.model.is_empty() { "bench-embed" } else { req.model.as_str() },
        "data": data,
        "usage": {"prompt_tokens": words, "total_tokens": words}
    }))
    .into_response()
}

/// A unit vector derived from `text` alone (FNV-1a of the text and the position).
pub fn vector(text: &str, dims: usize) -> Vec<f32> {
    let mut out: Vec<f32> = (0..dims)
        .map(|i| {
            let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
            for b in text.bytes().chain((i as u64).to_le_bytes()) {
                hash ^= u64::from(b);
                hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
            }
            (hash % 2001) as f32 / 1000.0 - 1.0
        })
        .collect();
    let norm = out.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut out {
            *x /= norm;
        }
    }
    out
}

fn word(i: u32) -> &'static str {
    WORDS[i as usize % WORDS.len()]
}

fn token_event(model: &str, i: u32) -> String {
    event(model, &format!(r#"{{"content":"{}"}}"#, word(i)), None)
}

/// One `chat.completion.chunk` event as OpenAI frames it.
fn event(model: &str, delta: &str, finish: Option<&str>) -> String {
    let finish = finish.map_or_else(|| "null".to_owned(), |f| format!("\"{f}\""));
    let model = Value::from(model);
    format!(
        "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":{model},\"choices\":[{{\"index\":0,\"delta\":{delta},\"finish_reason\":{finish}}}]}}\n\n"
    )
}

/// A stream that sends one token every `delay` (the first `delay` after the request).
fn paced(model: &str, tokens: u32, delay: Duration) -> Response {
    let model: Arc<str> = Arc::from(model);
    let head = Bytes::from(event(&model, r#"{"role":"assistant","content":""}"#, None));
    let tail = Bytes::from(format!(
        "{}data: [DONE]\n\n",
        event(&model, "{}", Some("stop"))
    ));
    let start = tokio::time::Instant::now();
    let body = futures::stream::iter([Ok::<_, std::convert::Infallible>(head)])
        .chain(futures::stream::unfold(0u32, move |i| {
            let model = model.clone();
            async move {
                if i >= tokens {
                    return None;
                }
                tokio::time::sleep_until(start + delay * (i + 1)).await;
                Some((Ok(Bytes::from(token_event(&model, i))), i + 1))
            }
        }))
        .chain(futures::stream::iter([Ok(tail)]));
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(body),
    )
        .into_response()
}
