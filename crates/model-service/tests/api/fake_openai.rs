//! A fake OpenAI-compatible server on 127.0.0.1:0. What it does depends on the requested
//! model, so one server can play every scenario:
//!
//! | model | behaviour |
//! | --- | --- |
//! | `ok-*` | answers "Hello from <model>" (JSON, or SSE chunks "Hello", " from", " <model>") |
//! | `flaky-429` | first request: 429 with `Retry-After: 0`; then like `ok-*` |
//! | `broken-500` | always 500 with a plain-text body |
//! | `denied-401` | always 401 with an error that quotes part of the key |
//! | `context-400` | always 400 `context_length_exceeded` (OpenAI's wording) |
//! | `missing-404` | always 404 `model_not_found` |
//! | `limited-429` | always 429 with `Retry-After: 1` |
//! | `stall` | accepts the request, never answers |
//! | `stall-after-first` | streams "Hello", then stays silent |
//! | `midfail` | streams "Hello", then breaks the connection |
//! | `endless` | streams a token every 50 ms forever; counts streams dropped by the client |

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct Recorded {
    pub model: String,
    pub body: Value,
    pub authorization: Option<String>,
}

#[derive(Default)]
pub struct FakeState {
    requests: Mutex<Vec<Recorded>>,
    pub streams_dropped: AtomicUsize,
}

pub struct FakeOpenAi {
    pub addr: std::net::SocketAddr,
    pub state: Arc<FakeState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeOpenAi {
    pub async fn start() -> Self {
        let state = Arc::new(FakeState::default());
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, state, task }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// How many requests named `model`.
    pub fn count(&self, model: &str) -> usize {
        self.requests().iter().filter(|r| r.model == model).count()
    }
}

async fn chat(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    let stream = body["stream"].as_bool().unwrap_or(false);
    let earlier = {
        let mut requests = state.requests.lock().unwrap();
        let earlier = requests.iter().filter(|r| r.model == model).count();
        requests.push(Recorded {
            model: model.clone(),
            body: body.clone(),
            authorization: headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        });
        earlier
    };

    match model.as_str() {
        "flaky-429" if earlier == 0 => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "0")],
            Json(json!({"error": {"message": "Rate limit reached", "type": "rate_limit_error"}})),
        )
            .into_response(),
        "broken-500" => (StatusCode::INTERNAL_SERVER_ERROR, "upstream exploded\nat line 2").into_response(),
        "denied-401" => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"message": "Incorrect API key provided: test-s***-key", "type": "invalid_request_error"}})),
        )
            .into_response(),
        "context-400" => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {
                "message": "This model's maximum context length is 8192 tokens. However, your messages resulted in 9001 tokens.",
                "type": "invalid_request_error",
                "code": "context_length_exceeded"
            }})),
        )
            .into_response(),
        "missing-404" => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {
                "message": "The model `missing-404` does not exist or you do not have access to it.",
                "type": "invalid_request_error",
                "code": "model_not_found"
            }})),
        )
            .into_response(),
        "limited-429" => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            Json(json!({"error": {"message": "Rate limit reached", "type": "rate_limit_error"}})),
        )
            .into_response(),
        "stall" => std::future::pending().await,
        _ if stream => stream_response(state, &model),
        _ => Json(json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": format!("Hello from {model}")},
                "finish_reason": "stop"
            }],
            "usage": {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15}
        }))
        .into_response(),
    }
}

fn chunk(model: &str, delta: Value, finish: Option<&str>) -> Bytes {
    let event = json!({
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
    });
    Bytes::from(format!("data: {event}\n\n"))
}

struct DropCounter(Arc<FakeState>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.streams_dropped.fetch_add(1, Ordering::SeqCst);
    }
}

fn stream_response(state: Arc<FakeState>, model: &str) -> Response {
    let model = model.to_owned();
    let role = chunk(&model, json!({"role": "assistant", "content": ""}), None);
    let hello = chunk(&model, json!({"content": "Hello"}), None);
    let body: futures::stream::BoxStream<'static, Result<Bytes, std::io::Error>> =
        match model.as_str() {
            "stall-after-first" => futures::stream::iter([Ok(role), Ok(hello)])
                .chain(futures::stream::pending())
                .boxed(),
            "midfail" => futures::stream::iter([Ok(role), Ok(hello)])
                .chain(futures::stream::once(async {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Err(std::io::Error::other("connection reset by fake"))
                }))
                .boxed(),
            "endless" => {
                let guard = DropCounter(state);
                futures::stream::unfold((0u64, guard), move |(i, guard)| {
                    let model = model.clone();
                    async move {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Some((
                            Ok(chunk(&model, json!({"content": format!("t{i} ")}), None)),
                            (i + 1, guard),
                        ))
                    }
                })
                .boxed()
            }
            _ => futures::stream::iter([
                Ok(role),
                Ok(hello),
                Ok(chunk(&model, json!({"content": " from"}), None)),
                Ok(chunk(&model, json!({"content": format!(" {model}")}), None)),
                Ok(chunk(&model, json!({}), Some("stop"))),
                Ok(Bytes::from_static(b"data: [DONE]\n\n")),
            ])
            .boxed(),
        };
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(body))
        .unwrap()
}
