//! `POST /inference`: the contract's response shape, the mock's behaviour, validation.

use serde_json::{json, Value};

use crate::helpers::{assert_envelope, spawn_app, sse_payloads};

#[tokio::test]
async fn inference_returns_the_contract_shape_from_the_default_model() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/inference",
            &json!({"prompt": "Explain microservices in one sentence"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(
        text.contains("Explain microservices in one sentence"),
        "{text}"
    );
    assert!(
        body["model"]
            .as_str()
            .unwrap()
            .contains("llama-3.3-70b-versatile"),
        "{body}"
    );
    let usage = &body["usage"];
    let (p, c, t) = (
        usage["prompt_tokens"].as_u64().unwrap(),
        usage["completion_tokens"].as_u64().unwrap(),
        usage["total_tokens"].as_u64().unwrap(),
    );
    assert_eq!(t, p + c);
    assert!(c > 0);
    assert!(body["latency_ms"].is_number());
    assert_eq!(body["finish_reason"], "stop");
}

#[tokio::test]
async fn inference_answers_with_the_requested_model_and_empty_means_default() {
    let app = spawn_app().await;
    let body: Value = app
        .post_json(
            "/inference",
            &json!({"prompt": "hi", "model": "llama-3.1-8b-instant"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        body["model"]
            .as_str()
            .unwrap()
            .contains("llama-3.1-8b-instant"),
        "{body}"
    );
    let body: Value = app
        .post_json("/inference", &json!({"prompt": "hi", "model": ""}))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        body["model"]
            .as_str()
            .unwrap()
            .contains("llama-3.3-70b-versatile"),
        "{body}"
    );
}

#[tokio::test]
async fn inference_honours_max_tokens() {
    let app = spawn_app().await;
    let body: Value = app
        .post_json(
            "/inference",
            &json!({"prompt": "a b c d e f g h", "max_tokens": 3}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["usage"]["completion_tokens"], 3);
    assert_eq!(body["finish_reason"], "length");
    assert_eq!(body["text"], "[Mock response from");
}

#[tokio::test]
async fn the_mock_sees_system_prompt_and_earlier_turns() {
    let app = spawn_app().await;
    let body: Value = app
        .post_json(
            "/inference",
            &json!({
                "prompt": "and now?",
                "system_prompt": "You are terse.",
                "messages": [
                    {"role": "user", "content": "My name is Ada."},
                    {"role": "assistant", "content": "Hello Ada."}
                ]
            }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["text"],
        "[Mock response from llama-3.3-70b-versatile] I was given 2 earlier turns; the last (assistant) said: \"Hello Ada.\". System prompt: \"You are terse.\". Simulated response to: and now?"
    );
}

#[tokio::test]
async fn an_unclassified_provider_failure_is_a_permanent_502_inference_error() {
    let app = spawn_app().await;
    let body = assert_envelope(
        app.post_json("/inference", &json!({"prompt": "[mock:error] please"}))
            .await,
        502,
        "INFERENCE_ERROR",
    )
    .await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Inference failed with llama-3.3-70b-versatile:"),
        "no fallback for a failure of no known class: {message}"
    );
    assert_eq!(body["error"]["retryable"], false);
}

/// Each mock class marker, the status, code and `retryable` the service answers with, and
/// whether the fallback model was tried (the message names both models then).
const CLASS_CASES: &[(&str, u16, &str, bool, bool)] = &[
    ("[mock:reject]", 400, "INVALID_REQUEST", false, false),
    ("[mock:context]", 400, "CONTEXT_TOO_LONG", false, false),
    ("[mock:policy]", 400, "CONTENT_POLICY", false, false),
    ("[mock:unknown-model]", 404, "UNKNOWN_MODEL", false, true),
    ("[mock:auth]", 502, "PROVIDER_AUTH", false, false),
    ("[mock:ratelimit]", 429, "RATE_LIMITED", true, false),
    ("[mock:overloaded]", 503, "PROVIDER_OVERLOADED", true, true),
    ("[mock:timeout]", 504, "PROVIDER_TIMEOUT", true, true),
    ("[mock:network]", 502, "PROVIDER_UNREACHABLE", true, false),
];

#[tokio::test]
async fn every_failure_class_has_its_status_code_and_retryable_flag() {
    let app = spawn_app().await;
    for (marker, status, code, retryable, fallback) in CLASS_CASES {
        let response = app
            .post_json("/inference", &json!({"prompt": format!("{marker} please")}))
            .await;
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = assert_envelope(response, *status, code).await;
        assert_eq!(body["error"]["retryable"], *retryable, "{marker}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert_eq!(
            message.starts_with("Both llama-3.3-70b-versatile and llama-3.1-8b-instant failed"),
            *fallback,
            "{marker}: {message}"
        );
        assert_eq!(
            retry_after.as_deref(),
            (*code == "RATE_LIMITED").then_some("1"),
            "{marker}: Retry-After only when the provider gave one"
        );
    }
}

#[tokio::test]
async fn every_failure_class_reaches_a_stream_as_a_coded_error_event() {
    let app = spawn_app().await;
    for (marker, _, code, _, _) in CLASS_CASES {
        let body = app
            .post_json(
                "/inference/stream",
                &json!({"prompt": format!("{marker} please")}),
            )
            .await
            .text()
            .await
            .unwrap();
        let payloads = sse_payloads(&body);
        assert_eq!(payloads.len(), 1, "{marker}: {body:?}");
        assert!(
            payloads[0].starts_with(&format!("[ERROR] {code}: Streaming failed with ")),
            "{marker}: {payloads:?}"
        );
    }
}

#[tokio::test]
async fn a_flaky_prompt_is_retried_inside_the_service_and_answers() {
    let app = spawn_app().await;
    let response = app
        .post_json("/inference", &json!({"prompt": "[mock:flaky=2] hello"}))
        .await;
    assert_eq!(
        response.status(),
        200,
        "3 attempts per model cover 2 failures"
    );
}

/// Every validation failure is 422 with the envelope and a `detail` entry naming the field.
async fn assert_invalid(response: reqwest::Response, field: &str, kind: &str) {
    let body = assert_envelope(response, 422, "VALIDATION_ERROR").await;
    let detail = body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("no detail: {body}"));
    assert!(
        detail
            .iter()
            .any(|d| d["loc"].as_array().unwrap().last().unwrap() == field && d["type"] == kind),
        "expected {field}/{kind} in {body}"
    );
}

#[tokio::test]
async fn invalid_fields_are_422_naming_the_field() {
    let app = spawn_app().await;
    for path in ["/inference", "/inference/stream"] {
        let cases = [
            (json!({"prompt": ""}), "prompt", "string_too_short"),
            (
                json!({"prompt": "x".repeat(10_001)}),
                "prompt",
                "string_too_long",
            ),
            (
                json!({"prompt": "hi", "max_tokens": 0}),
                "max_tokens",
                "greater_than_equal",
            ),
            (
                json!({"prompt": "hi", "max_tokens": 8193}),
                "max_tokens",
                "less_than_equal",
            ),
            (
                json!({"prompt": "hi", "temperature": 2.5}),
                "temperature",
                "less_than_equal",
            ),
            (json!({"prompt": 5}), "prompt", "string_type"),
            (json!({}), "prompt", "missing"),
        ];
        for (body, field, kind) in cases {
            let response = app.post_json(path, &body).await;
            assert_invalid(response, field, kind).await;
        }
    }
    assert_eq!(
        app.stats().streams_started,
        0,
        "no stream starts for an invalid request"
    );
}

#[tokio::test]
async fn limits_are_inclusive() {
    let app = spawn_app().await;
    let ok = json!({"prompt": "x".repeat(10_000), "max_tokens": 8192, "temperature": 2.0});
    assert_eq!(app.post_json("/inference", &ok).await.status(), 200);
    let ok = json!({"prompt": "x", "max_tokens": 1, "temperature": 0.0});
    assert_eq!(app.post_json("/inference", &ok).await.status(), 200);
}

#[tokio::test]
async fn malformed_empty_and_mistyped_bodies_are_422() {
    let app = spawn_app().await;
    let json = Some("application/json");
    let body = assert_envelope(
        app.post_raw("/inference", json, "{\"prompt\": ").await,
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(body["detail"][0]["type"], "json_invalid");
    let body = assert_envelope(
        app.post_raw("/inference", json, "").await,
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(body["detail"][0]["loc"], json!(["body"]));
    assert_eq!(body["detail"][0]["type"], "missing");
    let body = assert_envelope(
        app.post_raw("/inference", Some("text/plain"), "{\"prompt\":\"hi\"}")
            .await,
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(body["detail"][0]["loc"], json!(["body"]));
    let body = assert_envelope(
        app.post_raw("/inference/stream", None, "{\"prompt\":\"hi\"}")
            .await,
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(body["detail"][0]["loc"], json!(["body"]));
}
