//! Field fidelity of `/v1/chat/completions` against a real HTTP upstream: a recording
//! OpenAI-compatible server started by the test receives what Sable forwards, and answers with
//! canned tool calls, logprobs, a refusal and usage details, which must reach the client
//! unchanged, whole and streamed. Capability refusals never reach it.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use e2e::{sse_payloads, Stack};
use serde_json::{json, Value};

use crate::openai_api::stack_and_key_with;

const MODEL: &str = "recorded-model";
const TEXT_ONLY: &str = "recorded-text-only";

/// The requests the upstream received (their JSON bodies and authorization headers).
#[derive(Clone, Default)]
struct Recorded(Arc<Mutex<Vec<(Value, String)>>>);

fn canned_answer() -> Value {
    json!({
        "id": "chatcmpl-recorded", "object": "chat.completion", "created": 1_700_000_000,
        "model": "recorded-model-2026-01-01", "system_fingerprint": "fp_recorded",
        "service_tier": "default", "provider_extra": {"kept": true},
        "choices": [
            {"index": 0, "finish_reason": "tool_calls",
             "message": {"role": "assistant", "content": null, "refusal": null, "annotations": [],
                 "tool_calls": [
                     {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                     {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": "{\"zone\":\"CET\"}"}}]},
             "logprobs": {"content": [{"token": "x", "logprob": -0.25, "bytes": [120],
                 "top_logprobs": [{"token": "x", "logprob": -0.25, "bytes": [120]}, {"token": "y", "logprob": -1.5, "bytes": [121]}]}],
                 "refusal": null}},
            {"index": 1, "finish_reason": "stop",
             "message": {"role": "assistant", "content": null, "refusal": "I can't help with that."},
             "logprobs": null}
        ],
        "usage": {"prompt_tokens": 57, "completion_tokens": 17, "total_tokens": 74,
            "prompt_tokens_details": {"cached_tokens": 32, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 5, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}
    })
}

/// The canned answer as the upstream writes it: indented over several lines, so an answer that
/// Sable re-serialised (compactly) would not match.
fn canned_answer_text() -> String {
    serde_json::to_string_pretty(&canned_answer()).unwrap()
}

/// The canned stream's chunks, as the upstream writes them (one `data:` line each).
fn canned_chunks() -> Vec<String> {
    let chunk = |choices: Value, usage: Value| {
        json!({"id": "chatcmpl-recorded", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": "recorded-model-2026-01-01", "system_fingerprint": "fp_recorded",
            "choices": choices, "usage": usage, "obfuscation": "abc"})
        .to_string()
    };
    let delta = |delta: Value, logprobs: Value, finish: Value| {
        chunk(
            json!([{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}]),
            Value::Null,
        )
    };
    vec![
        delta(
            json!({"role": "assistant", "content": null}),
            Value::Null,
            Value::Null,
        ),
        delta(
            json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
            Value::Null,
            Value::Null,
        ),
        delta(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}),
            Value::Null,
            Value::Null,
        ),
        delta(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}),
            Value::Null,
            Value::Null,
        ),
        delta(
            json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": "{\"zone\":\"CET\"}"}}]}),
            Value::Null,
            Value::Null,
        ),
        delta(
            json!({"content": "ok"}),
            json!({"content": [{"token": "ok", "logprob": -0.5, "bytes": [111, 107], "top_logprobs": []}], "refusal": null}),
            Value::Null,
        ),
        delta(json!({}), Value::Null, json!("tool_calls")),
        chunk(
            json!([]),
            json!({"prompt_tokens": 57, "completion_tokens": 17, "total_tokens": 74,
            "prompt_tokens_details": {"cached_tokens": 32}, "completion_tokens_details": {"reasoning_tokens": 5}}),
        ),
    ]
}

async fn record(
    State(recorded): State<Recorded>,
    headers: axum::http::HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let stream = body["stream"] == true;
    let user = body["user"].as_str().unwrap_or_default().to_owned();
    recorded.0.lock().unwrap().push((body, auth));
    // Failures on request: `user` says which.
    if user == "reject" {
        let error = json!({"error": {"message": "Invalid schema for function 'get_weather'",
            "type": "invalid_request_error", "param": "tools[0].function.parameters",
            "code": "invalid_function_parameters"}});
        return (axum::http::StatusCode::BAD_REQUEST, Json(error)).into_response();
    }
    if user == "break" && stream {
        let mut sse: String = canned_chunks()[..3]
            .iter()
            .map(|c| format!("data: {c}\n\n"))
            .collect();
        sse.push_str("data: {\"error\": {\"message\": \"upstream overloaded\", \"type\": \"server_error\"}}\n\n");
        return ([(header::CONTENT_TYPE, "text/event-stream")], sse).into_response();
    }
    if !stream {
        return (
            [(header::CONTENT_TYPE, "application/json")],
            canned_answer_text(),
        )
            .into_response();
    }
    let mut sse: String = canned_chunks()
        .iter()
        .map(|c| format!("data: {c}\n\n"))
        .collect();
    sse.push_str("data: [DONE]\n\n");
    ([(header::CONTENT_TYPE, "text/event-stream")], sse).into_response()
}

/// A stack whose model service forwards to the recording upstream.
async fn stack_with_recorder() -> (Stack, String, Recorded) {
    let recorded = Recorded::default();
    let app = Router::new()
        .route("/v1/chat/completions", post(record))
        .with_state(recorded.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut model = model_service::config::Config::for_tests();
    model.provider = model_service::config::ProviderChoice::Openai;
    model.openai_base_url = Some(format!("http://{addr}/v1"));
    model.openai_api_key = "sk-upstream-test".into();
    model.default_model = Some(MODEL.to_owned());
    model.fallback_model = Some(String::new());
    model.models = Some(TEXT_ONLY.to_owned());
    model.model_capabilities = format!("{TEXT_ONLY}=chat");
    let (stack, key) = stack_and_key_with(model).await;
    (stack, key, recorded)
}

/// A request using every field the OpenAI API defines, and one it does not.
fn full_request(stream: Option<bool>) -> Value {
    let mut body = json!({
        "model": MODEL,
        "messages": [
            {"role": "developer", "content": "Be exact."},
            {"role": "system", "content": [{"type": "text", "text": "You are a weather bot."}], "name": "sys"},
            {"role": "user", "name": "ann", "content": [
                {"type": "text", "text": "Weather and time in Paris? And this:"},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_0", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Lyon\"}"}}]},
            {"role": "tool", "tool_call_id": "call_0", "content": "12 C"},
            {"role": "user", "content": "Now Paris."}
        ],
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "description": "Weather", "strict": true,
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false}}},
            {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}}}}
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": true,
        "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "strict": true,
            "schema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"], "additionalProperties": false}}},
        "stop": ["END", "STOP"],
        "temperature": 0.3,
        "top_p": 0.9,
        "seed": 42,
        "n": 2,
        "logprobs": true,
        "top_logprobs": 2,
        "presence_penalty": 0.5,
        "frequency_penalty": -0.5,
        "logit_bias": {"50256": -100},
        "user": "user-1234",
        "max_completion_tokens": 300,
        "max_tokens": 200,
        "metadata": {"run": "fidelity"},
        "store": false,
        "reasoning_effort": "low",
        "x_provider_specific": {"nested": [1, 2, 3]}
    });
    if let Some(stream) = stream {
        body["stream"] = json!(stream);
    }
    body
}

#[tokio::test]
async fn every_field_reaches_the_provider_and_its_answer_returns_whole() {
    let (stack, key, recorded) = stack_with_recorder().await;
    let post = |body: Value| {
        stack
            .client
            .post(stack.url("/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };

    // Whole: the request arrives unchanged, the answer returns byte for byte.
    let sent = full_request(None);
    let response = post(sent.clone()).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.text().await.unwrap(), canned_answer_text());
    let (received, auth) = recorded.0.lock().unwrap().pop().unwrap();
    assert_eq!(received, sent);
    assert_eq!(
        auth, "Bearer sk-upstream-test",
        "the provider's key, not the client's"
    );

    // Streamed, with and without the usage chunk asked for: each chunk arrives byte for byte.
    for include_usage in [true, false] {
        let mut sent = full_request(Some(true));
        if include_usage {
            sent["stream_options"] = json!({"include_usage": true});
        }
        let body = post(sent.clone()).await.unwrap().text().await.unwrap();
        let (received, _) = recorded.0.lock().unwrap().pop().unwrap();
        // The one field Sable sets: it asks for usage (for quotas), whatever the client asked.
        let mut expected = sent;
        expected["stream_options"] = json!({"include_usage": true});
        assert_eq!(received, expected);

        let mut chunks = canned_chunks();
        if !include_usage {
            chunks.pop();
        }
        chunks.push("[DONE]".to_owned());
        assert_eq!(
            sse_payloads(&body),
            chunks,
            "include_usage: {include_usage}"
        );
    }
    // The usage was counted for the caller (streamed twice, whole once).
    let me: Value = stack
        .client
        .get(stack.url("/api/v1/auth/me"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["usage_today"]["total_tokens"], 3 * 74, "{me}");
}

#[tokio::test]
async fn capability_refusals_are_openai_errors_and_never_reach_the_provider() {
    let (stack, key, recorded) = stack_with_recorder().await;
    let image = json!({"model": TEXT_ONLY, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]});
    let tools = json!({"model": TEXT_ONLY, "messages": [{"role": "user", "content": "Weather?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather"}}]});
    let json_mode = json!({"model": TEXT_ONLY, "messages": [{"role": "user", "content": "JSON"}],
        "response_format": {"type": "json_object"}});
    for (body, capability, param) in [
        (image, "vision", "messages.0.content.1"),
        (tools, "tools", "tools"),
        (json_mode, "json", "response_format"),
    ] {
        for stream in [false, true] {
            let mut body = body.clone();
            body["stream"] = json!(stream);
            let response = stack
                .client
                .post(stack.url("/v1/chat/completions"))
                .bearer_auth(&key)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 400, "{capability}");
            let error: Value = response.json().await.unwrap();
            assert_eq!(error["error"]["type"], "invalid_request_error", "{error}");
            assert_eq!(error["error"]["code"], "model_lacks_capability", "{error}");
            assert_eq!(error["error"]["param"], param, "{error}");
            let message = error["error"]["message"].as_str().unwrap();
            assert!(
                message.contains(TEXT_ONLY) && message.contains(capability),
                "{message}"
            );
        }
    }
    assert!(
        recorded.0.lock().unwrap().is_empty(),
        "a refused request reached the provider"
    );
}

#[tokio::test]
async fn provider_failures_reach_the_client_in_openai_shape() {
    let (stack, key, recorded) = stack_with_recorder().await;
    let post = |body: Value| {
        stack
            .client
            .post(stack.url("/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };
    // The provider refuses the request: 400 with its message, sent once (no retry, no
    // fallback), before any stream starts.
    for stream in [false, true] {
        let mut body = full_request(Some(stream));
        body["user"] = json!("reject");
        let response = post(body).await.unwrap();
        assert_eq!(response.status().as_u16(), 400, "stream: {stream}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["type"], "invalid_request_error", "{error}");
        assert_eq!(error["error"]["code"], "invalid_request", "{error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("Invalid schema for function 'get_weather'"),
            "{message}"
        );
        assert_eq!(recorded.0.lock().unwrap().drain(..).count(), 1);
    }
    // It fails after the stream started: the chunks so far, then OpenAI's error object, no
    // [DONE].
    let mut body = full_request(Some(true));
    body["user"] = json!("break");
    let response = post(body).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let events = sse_payloads(&response.text().await.unwrap());
    assert_eq!(events[..3], canned_chunks()[..3], "{events:?}");
    assert_eq!(events.len(), 4, "{events:?}");
    let error: Value = serde_json::from_str(&events[3]).unwrap();
    assert_eq!(error["error"]["code"], "provider_overloaded", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("upstream overloaded"),
        "{error}"
    );
}
