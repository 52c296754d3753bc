//! `fake-openai`: the provider `make bench` measures Sable against — an OpenAI-compatible
//! `POST /v1/chat/completions` (JSON and SSE) and `GET /v1/models` that does no work: no
//! model, no logging, no auth check, bodies rendered once and cached.
//!
//! - A request's length is its `max_completion_tokens` / `max_tokens` (default 16), capped
//!   at 4,096 tokens; every token is one word and its trailing space.
//! - A stream is what OpenAI sends: a role chunk, one chunk per token, a chunk with
//!   `finish_reason: "stop"`, `data: [DONE]`.
//! - With `--token-delay-ms 0` (the default) a stream's whole body is one write. With a delay,
//!   each token is sent that long after the previous one (the first one delay after the
//!   request), like a provider generating at a steady pace.
//!
//!   fake-openai --addr 127.0.0.1:18103 [--token-delay-ms 20]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use clap::Parser;
use futures::StreamExt;
use serde::Deserialize;

#[derive(Parser)]
#[command(about = "Zero-delay fake OpenAI-compatible server for benchmarks")]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "FAKE_OPENAI_ADDR", default_value = "127.0.0.1:18103")]
    addr: SocketAddr,
    /// Time between two streamed tokens, in milliseconds (0: the whole stream at once).
    #[arg(long, env = "FAKE_OPENAI_TOKEN_DELAY_MS", default_value_t = 0)]
    token_delay_ms: u64,
    /// Runtime worker threads (default: one per core).
    #[arg(long, env = "FAKE_OPENAI_THREADS")]
    threads: Option<usize>,
}

const MAX_TOKENS: u32 = 4096;
const DEFAULT_TOKENS: u32 = 16;
const WORDS: [&str; 8] = [
    "Sable ", "streams ", "every ", "token ", "as ", "soon ", "as ", "ready ",
];

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

#[derive(Default)]
struct Fake {
    token_delay: Duration,
    /// Rendered bodies by (model, tokens, stream); bounded so odd clients cannot grow it.
    cache: Mutex<HashMap<(String, u32, bool), Bytes>>,
}

const CACHE_MAX: usize = 256;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = cli.threads {
        rt.worker_threads(n.max(1));
    }
    rt.enable_all().build()?.block_on(serve(cli))
}

async fn serve(cli: Cli) -> anyhow::Result<()> {
    let state = Arc::new(Fake {
        token_delay: Duration::from_millis(cli.token_delay_ms),
        ..Fake::default()
    });
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/models", get(models))
        .route("/health", get(|| async { "ok" }))
        .with_state(state);
    // A backlog of 4,096 (as the Sable services, `common::server::bind`): with the default 128
    // a burst of hundreds of connections overflows the accept queue and the dropped SYNs are
    // retried a second later.
    let socket = if cli.addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(cli.addr)?;
    let listener = socket.listen(4096)?;
    eprintln!(
        "fake-openai listening on {} (token delay {} ms)",
        listener.local_addr()?,
        cli.token_delay_ms
    );
    // Like a real provider's front end: no Nagle delay on small writes (a paced token, the
    // tail of a body written after its headers).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await?;
    Ok(())
}

async fn models() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"object":"list","data":[{"id":"bench","object":"model","created":1,"owned_by":"fake"}]}"#,
    )
        .into_response()
}

async fn chat(State(fake): State<Arc<Fake>>, body: Bytes) -> Response {
    let req: ChatRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            let message = serde_json::json!({"error": {"message": format!("invalid request: {e}"), "type": "invalid_request_error"}});
            return (StatusCode::BAD_REQUEST, axum::Json(message)).into_response();
        }
    };
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
    if req.stream && !fake.token_delay.is_zero() {
        return paced(&model, tokens, fake.token_delay);
    }
    let body = fake.body(model, tokens, req.stream);
    let content_type = if req.stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

impl Fake {
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
                serde_json::json!({
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

fn word(i: u32) -> &'static str {
    WORDS[i as usize % WORDS.len()]
}

fn token_event(model: &str, i: u32) -> String {
    event(model, &format!(r#"{{"content":"{}"}}"#, word(i)), None)
}

/// One `chat.completion.chunk` event as OpenAI frames it.
fn event(model: &str, delta: &str, finish: Option<&str>) -> String {
    let finish = finish.map_or_else(|| "null".to_owned(), |f| format!("\"{f}\""));
    let model = serde_json::Value::from(model);
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
