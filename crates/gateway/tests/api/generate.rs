//! Cross-service: the real model service (mock provider) and the gateway in one process,
//! driven through the gateway's public API.

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;

use crate::helpers::{closed_port_url, serve, spawn_app_with, TestApp};

pub async fn spawn_stack() -> (TestApp, model_service::RunningService) {
    let model = model_service::spawn(model_service::config::Config::for_tests())
        .await
        .expect("model service");
    let worker_down = closed_port_url().await;
    let app = spawn_app_with(&format!("http://{}", model.addr), &worker_down, &[]).await;
    (app, model)
}

/// Splits an SSE body into the payloads of its `data:` lines, checking the framing.
pub fn sse_payloads(body: &str) -> Vec<String> {
    assert!(
        body.ends_with("\n\n"),
        "events end with a blank line: {body:?}"
    );
    body.split_terminator("\n\n")
        .map(|event| {
            assert!(
                !event.contains('\n'),
                "exactly one line per event: {event:?}"
            );
            event
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("event without `data: `: {event:?}"))
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn sync_generate_returns_the_contract_json_from_the_mock() {
    let (app, _model) = spawn_stack().await;
    let response = app
        .post_json(
            "/api/v1/generate",
            &json!({"prompt": "Explain microservices in one sentence"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["text"]
        .as_str()
        .unwrap()
        .contains("Explain microservices"));
    assert!(body["model"]
        .as_str()
        .unwrap()
        .contains("llama-3.3-70b-versatile"));
    let usage = &body["usage"];
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );
    assert!(body["latency_ms"].is_number());

    let response = app
        .post_json(
            "/api/v1/generate",
            &json!({"prompt": "hi", "model": "llama-3.1-8b-instant"}),
        )
        .await;
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["model"]
        .as_str()
        .unwrap()
        .contains("llama-3.1-8b-instant"));
}

#[tokio::test]
async fn sse_through_the_gateway_is_framed_per_contract() {
    let (app, _model) = spawn_stack().await;
    let prompt = "Say \"hi\"\nthen stop — ünïcode \\ ok";
    let response = app
        .post_json("/api/v1/generate/stream", &json!({"prompt": prompt}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    assert_eq!(response.headers()["cache-control"], "no-cache");
    assert_eq!(response.headers()["x-accel-buffering"], "no");
    assert!(response.headers().contains_key("x-request-id"));
    let body = response.text().await.unwrap();
    let payloads = sse_payloads(&body);
    let (last, tokens) = payloads.split_last().unwrap();
    assert_eq!(last, "[DONE]");
    assert!(!tokens.is_empty());
    let mut text = String::new();
    for token in tokens {
        assert!(
            token.starts_with('"'),
            "token payloads are JSON strings: {token}"
        );
        text.push_str(&serde_json::from_str::<String>(token).unwrap());
    }
    assert!(
        text.contains(prompt),
        "the prompt survives JSON encoding: {text:?}"
    );
    assert_eq!(body.matches("[DONE]").count(), 1);
    assert!(!body.contains("[ERROR]"));
}

#[tokio::test]
async fn provider_error_mid_stream_ends_with_one_error_event() {
    let (app, _model) = spawn_stack().await;
    let response = app
        .post_json(
            "/api/v1/generate/stream",
            &json!({"prompt": "[mock:error-after=2] go on"}),
        )
        .await;
    let body = response.text().await.unwrap();
    let payloads = sse_payloads(&body);
    assert_eq!(payloads.len(), 3, "{payloads:?}");
    assert!(payloads[0].starts_with('"') && payloads[1].starts_with('"'));
    assert!(payloads[2].starts_with("[ERROR] "), "{payloads:?}");
    assert!(!body.contains("[DONE]"));
}

#[tokio::test]
async fn provider_error_before_first_token_is_a_single_line_error_event() {
    let (app, _model) = spawn_stack().await;
    let body = app
        .post_json(
            "/api/v1/generate/stream",
            &json!({"prompt": "[mock:error] now"}),
        )
        .await
        .text()
        .await
        .unwrap();
    let payloads = sse_payloads(&body);
    assert_eq!(payloads.len(), 1, "{payloads:?}");
    assert!(payloads[0].starts_with("[ERROR] "));

    let response = app
        .post_json("/api/v1/generate", &json!({"prompt": "[mock:error] now"}))
        .await;
    crate::helpers::assert_envelope(response, 502, "INFERENCE_ERROR").await;
}

#[tokio::test]
async fn stream_stops_provider_when_client_disconnects() {
    let (app, model) = spawn_stack().await;
    let response = app
        .post_json(
            "/api/v1/generate/stream",
            &json!({"prompt": "[mock:slow] tell me a long story"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let mut seen = String::new();
    while seen.matches("data: ").count() < 2 {
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("tokens arrive")
            .expect("stream open")
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(stream);

    let after = model
        .state
        .stats
        .wait_for(Duration::from_secs(5), |s| s.streams_cancelled >= 1)
        .await
        .expect("the model service observed the cancellation");
    assert_eq!(after.streams_completed, 0);
    // Generation stopped: no more tokens are produced (the mock emits one per 200 ms).
    tokio::time::sleep(Duration::from_millis(600)).await;
    let later = model.state.stats.snapshot();
    assert_eq!(
        later.tokens_generated, after.tokens_generated,
        "no orphan generation"
    );
}

#[tokio::test]
async fn request_id_is_forwarded_to_the_model_service() {
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = seen.clone();
    let fake_model = axum::Router::new().route(
        "/inference",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let record = record.clone();
            async move {
                let id = headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                record.lock().unwrap().push(id);
                axum::Json(json!({"text": "ok", "model": "m", "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}, "latency_ms": 1.0}))
            }
        }),
    );
    let model_addr = serve(fake_model).await;
    let down = closed_port_url().await;
    let app = spawn_app_with(&format!("http://{model_addr}"), &down, &[]).await;
    let response = app
        .client
        .post(app.url("/api/v1/generate"))
        .header("x-request-id", "trace-me-42")
        .json(&json!({"prompt": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
    assert_eq!(seen.lock().unwrap().as_slice(), ["trace-me-42"]);
}

#[tokio::test]
async fn models_are_listed_through_the_gateway() {
    let (app, _model) = spawn_stack().await;
    let body: serde_json::Value = app.get("/api/v1/models").await.json().await.unwrap();
    assert_eq!(body["default"], "llama-3.3-70b-versatile");
    assert!(body["models"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == "llama-3.3-70b-versatile"));
}
