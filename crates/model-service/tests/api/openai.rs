//! The OpenAI-compatible provider against the fake server: success, streaming, retries,
//! fallback, permanent errors, stalls, mid-stream failures, history, cancellation.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::StreamExt;
use model_service::config::{Config, ProviderChoice};
use serde_json::{json, Value};

use crate::fake_openai::FakeOpenAi;
use crate::helpers::{assert_envelope, spawn_with, sse_payloads, TestApp};

const KEY: &str = "test-secret-key";

/// The service pointed at `fake`, with `default` and `fallback` ("" = none) models, fast
/// retries and 1 s deadlines.
async fn spawn_openai(fake: &FakeOpenAi, default: &str, fallback: &str) -> TestApp {
    let mut config = Config::for_tests();
    config.provider = ProviderChoice::Openai;
    config.openai_api_key = KEY.into();
    config.openai_base_url = Some(fake.base_url());
    config.default_model = Some(default.to_owned());
    config.fallback_model = Some(fallback.to_owned());
    config.first_token_timeout = Duration::from_secs(1);
    config.idle_timeout = Duration::from_secs(1);
    config.provider_timeout = Duration::from_secs(1);
    config.provider_retry_base_delay = Some(Duration::from_millis(10));
    spawn_with(config).await
}

async fn stream_body(app: &TestApp, body: Value) -> String {
    let response = app.post_json("/inference/stream", &body).await;
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// Error messages reach clients without the provider URL or key.
fn assert_no_leak(fake: &FakeOpenAi, message: &str) {
    assert!(!message.contains(&fake.addr.to_string()), "{message}");
    assert!(!message.contains("http://"), "{message}");
    assert!(!message.contains("test-s"), "{message}");
}

#[tokio::test]
async fn openai_sync_completion_returns_text_model_and_usage() {
    let fake = FakeOpenAi::start().await;
    let app = spawn_openai(&fake, "ok-primary", "").await;
    let response = app
        .post_json("/inference", &json!({"prompt": "hi", "max_tokens": 50}))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["text"], "Hello from ok-primary");
    assert_eq!(body["model"], "ok-primary");
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15})
    );
    assert_eq!(body["finish_reason"], "stop");

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].authorization.as_deref(),
        Some("Bearer test-secret-key")
    );
    assert_eq!(requests[0].body["max_tokens"], 50);
    assert_ne!(requests[0].body["stream"], true);
}

#[tokio::test]
async fn openai_stream_relays_each_chunk_as_one_event() {
    let fake = FakeOpenAi::start().await;
    let app = spawn_openai(&fake, "ok-primary", "").await;
    let body = stream_body(&app, json!({"prompt": "hi"})).await;
    assert_eq!(
        body,
        "data: \"Hello\"\n\ndata: \" from\"\n\ndata: \" ok-primary\"\n\ndata: [DONE]\n\n"
    );
    assert_eq!(fake.requests()[0].body["stream"], true);
}

#[tokio::test]
async fn rate_limited_request_is_retried_then_succeeds() {
    let fake = FakeOpenAi::start().await;
    let app = spawn_openai(&fake, "flaky-429", "ok-fallback").await;
    let body: Value = app
        .post_json("/inference", &json!({"prompt": "hi"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["model"], "flaky-429");
    assert_eq!(fake.count("flaky-429"), 2, "one 429, one success");
    assert_eq!(fake.count("ok-fallback"), 0);

    let fake = FakeOpenAi::start().await;
    let app = spawn_openai(&fake, "flaky-429", "ok-fallback").await;
    let body = stream_body(&app, json!({"prompt": "hi"})).await;
    assert!(
        body.ends_with("data: \" flaky-429\"\n\ndata: [DONE]\n\n"),
        "{body}"
    );
    assert_eq!(fake.count("flaky-429"), 2);
}

#[tokio::test]
async fn server_errors_are_retried_then_the_fallback_answers() {
    let fake = FakeOpenAi::start().await;
    let app = spawn_openai(&fake, "broken-500", "ok-fallback").await;
    let body: Value = app
        .post_json("/inference", &json!({"prompt": "hi"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["text"], "Hello from ok-fallback");
    assert_eq!(body["model"], "ok-fallback", "the model that answered");
    assert_eq!(
        fake.count("broken-500"),
        3,
        "RETRY_MAX_ATTEMPTS attempts on the primary"
    );
    assert_eq!(fake.count("ok-fallback"), 1);

    let body = stream_body(&app, json!({"prompt": "hi"})).await;
    assert_eq!(
        body,
        "data: \"Hello\"\n\ndata: \" from\"\n\ndata: \" ok-fallback\"\n\ndata: [DONE]\n\n"
    );
    assert_eq!(fake.count("broken-500"), 6);
}

#[tokio::test]
async fn both_models_failing_is_a_retryable_503_without_internals() {
    let fake = FakeOpenAi::start().await;
    let app = spawn_openai(&fake, "broken-500", "denied-401").await;
    let body = assert_envelope(
        app.post_json("/inference", &json!({"prompt": "hi"})).await,
        503,
        "PROVIDER_OVERLOADED",
    )
    .await;
    assert_eq!(body["error"]["retryable"], true, "the primary may recover");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Both broken-500 and denied-401 failed"),
        "{message}"
    );
    assert!(message.contains("HTTP 500"), "{message}");
    assert!(!message.contains('\n'), "{message}");
    assert_no_leak(&fake, message);
}

#[tokio::test]
async fn unauthorized_is_permanent_no_retry_no_fallback() {
    let fake = FakeOpenAi::start().await;
    let app = spawn_openai(&fake, "denied-401", "ok-fallback").await;
    let body = assert_envelope(
        app.post_json("/inference", &json!({"prompt": "hi"})).await,
        502,
        "PROVIDER_AUTH",
    )
    .await;
    assert_eq!(body["error"]["retryable"], false);
    let message = body["error"]["message"].as_str().unwrap();
    assert_eq!(
        message,
        "Inference failed with denied-401: provider returned HTTP 401 Unauthorized"
    );
    assert_no_leak(&fake, message);
    assert_eq!(fake.count("denied-401"), 1, "no retry");
    assert_eq!(
        fake.count("ok-fallback"),
        0,
        "the same key would be refused again"
    );

    let body = stream_body(&app, json!({"prompt": "hi"})).await;
    assert_eq!(
        body,
        "data: [ERROR] PROVIDER_AUTH: Streaming failed with denied-401: provider returned HTTP 401 Unauthorized\n\n"
    );
}

#[tokio::test]
async fn a_stalled_provider_times_out_within_the_configured_deadline() {
    let fake = FakeOpenAi::start().await;
    let app = spawn_openai(&fake, "stall", "").await;

    let started = Instant::now();
    let body = assert_envelope(
        app.post_json("/inference", &json!({"prompt": "hi"})).await,
        504,
        "PROVIDER_TIMEOUT",
    )
    .await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("timed out"), "{message}");
    // 3 attempts × 1 s plus backoff; generous bound.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.count("stall"), 3, "timeouts are retried");

    let started = Instant::now();
    let body = stream_body(&app, json!({"prompt": "hi"})).await;
    assert!(
        body.starts_with(
            "data: [ERROR] PROVIDER_TIMEOUT: Streaming failed with stall: provider timed out"
        ),
        "{body}"
    );
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[tokio::test]
async fn a_stream_that_stalls_after_a_token_ends_with_an_error() {
    let fake = FakeOpenAi::start().await;
    let app = spawn_openai(&fake, "stall-after-first", "ok-fallback").await;
    let started = Instant::now();
    let payloads = sse_payloads(&stream_body(&app, json!({"prompt": "hi"})).await);
    assert_eq!(payloads.len(), 2, "{payloads:?}");
    assert_eq!(payloads[0], "\"Hello\"");
    assert!(
        payloads[1].starts_with(
            "[ERROR] PROVIDER_TIMEOUT: Streaming failed with stall-after-first: provider timed out"
        ),
        "{payloads:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(fake.count("ok-fallback"), 0, "no fallback after a token");
}

#[tokio::test]
async fn mid_stream_failure_ends_with_error_and_no_duplicate_text() {
    let fake = FakeOpenAi::start().await;
    let app = spawn_openai(&fake, "midfail", "ok-fallback").await;
    let payloads = sse_payloads(&stream_body(&app, json!({"prompt": "hi"})).await);
    assert_eq!(payloads.len(), 2, "{payloads:?}");
    assert_eq!(payloads[0], "\"Hello\"");
    assert!(
        payloads[1].starts_with("[ERROR] PROVIDER_UNREACHABLE: Streaming failed with midfail: "),
        "{payloads:?}"
    );
    assert_no_leak(&fake, &payloads[1]);
    assert_eq!(fake.count("midfail"), 1, "no retry after a token");
    assert_eq!(fake.count("ok-fallback"), 0, "no fallback after a token");
    assert_eq!(app.stats().streams_failed, 1);
}

#[tokio::test]
async fn system_prompt_and_history_reach_the_provider_in_order() {
    let fake = FakeOpenAi::start().await;
    let app = spawn_openai(&fake, "ok-primary", "").await;
    let request = json!({
        "prompt": "What is my name?",
        "system_prompt": "You are terse.",
        "model": "ok-requested",
        "temperature": 0.2,
        "messages": [
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": "Hello Ada."}
        ]
    });
    for path in ["/inference", "/inference/stream"] {
        let response = app.post_json(path, &request).await;
        assert_eq!(response.status(), 200);
        response.text().await.unwrap();
    }
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    for r in requests {
        assert_eq!(r.model, "ok-requested");
        assert_eq!(
            r.body["messages"],
            json!([
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "My name is Ada."},
                {"role": "assistant", "content": "Hello Ada."},
                {"role": "user", "content": "What is my name?"}
            ])
        );
        assert!((r.body["temperature"].as_f64().unwrap() - 0.2).abs() < 1e-6);
    }
}

#[tokio::test]
async fn client_disconnect_aborts_the_provider_request() {
    let fake = FakeOpenAi::start().await;
    let app = spawn_openai(&fake, "endless", "").await;
    let response = app
        .post_json("/inference/stream", &json!({"prompt": "go"}))
        .await;
    let mut body = response.bytes_stream();
    let mut seen = String::new();
    while seen.matches("data: ").count() < 2 {
        let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(body);

    app.service
        .state
        .stats
        .wait_for(Duration::from_secs(5), |s| s.streams_cancelled == 1)
        .await
        .expect("cancellation observed");
    let deadline = Instant::now() + Duration::from_secs(5);
    while fake.state.streams_dropped.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "the provider request was not aborted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_context_overflow_is_a_permanent_400_sent_once_and_never_to_the_fallback() {
    let fake = FakeOpenAi::start().await;
    let app = spawn_openai(&fake, "context-400", "ok-fallback").await;
    let body = assert_envelope(
        app.post_json("/inference", &json!({"prompt": "hi"})).await,
        400,
        "CONTEXT_TOO_LONG",
    )
    .await;
    assert_eq!(body["error"]["retryable"], false);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("maximum context length"), "{message}");
    assert_no_leak(&fake, message);
    assert_eq!(fake.count("context-400"), 1, "no retry");
    assert_eq!(fake.count("ok-fallback"), 0, "too long everywhere");

    let body = stream_body(&app, json!({"prompt": "hi"})).await;
    assert!(
        body.starts_with("data: [ERROR] CONTEXT_TOO_LONG: Streaming failed with context-400: "),
        "{body}"
    );
}

#[tokio::test]
async fn an_unknown_model_falls_back_to_the_second_model() {
    let fake = FakeOpenAi::start().await;
    let app = spawn_openai(&fake, "missing-404", "ok-fallback").await;
    let response = app.post_json("/inference", &json!({"prompt": "hi"})).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["model"], "ok-fallback");
    assert_eq!(fake.count("missing-404"), 1, "no retry of an unknown model");
}

#[tokio::test]
async fn a_rate_limit_is_retried_then_passed_on_as_429_with_its_delay() {
    let fake = FakeOpenAi::start().await;
    let app = spawn_openai(&fake, "limited-429", "ok-fallback").await;
    let started = Instant::now();
    let response = app.post_json("/inference", &json!({"prompt": "hi"})).await;
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body = assert_envelope(response, 429, "RATE_LIMITED").await;
    assert_eq!(body["error"]["retryable"], true);
    assert_eq!(fake.count("limited-429"), 3, "RETRY_MAX_ATTEMPTS attempts");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the provider's Retry-After was honoured between attempts"
    );
    assert_eq!(
        fake.count("ok-fallback"),
        0,
        "another model shares the limit"
    );
}
