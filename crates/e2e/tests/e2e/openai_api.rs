//! The OpenAI-compatible API driven by real OpenAI clients: `async-openai` here, the official
//! Python `openai` package through scripts/openai_client_check.py.

use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    CreateChatCompletionRequestArgs,
};
use async_openai::Client;
use e2e::Stack;
use futures::StreamExt;
use serde_json::{json, Value};

const SECRET: &str = "e2e-openai-signing-secret-0123456789abcdef";
const MODEL: &str = "llama-3.3-70b-versatile";
/// A listed mock model the capability tests declare text-only.
const TEXT_ONLY: &str = "mixtral-8x7b-32768";

/// A signed-in user's API key on a jwt-mode stack.
async fn stack_and_key() -> (Stack, String) {
    stack_and_key_with(model_service::config::Config::for_tests()).await
}

/// [`stack_and_key`] with the model service built from `model`.
pub async fn stack_and_key_with(model: model_service::config::Config) -> (Stack, String) {
    let stack =
        Stack::start_with_model(model, &["--auth-mode", "jwt", "--jwt-secret", SECRET]).await;
    let login = e2e::sign_up(
        &stack.client,
        &stack.url(""),
        &json!({"email": "sdk@example.com", "password": "correct horse battery"}),
    )
    .await;
    let key: Value = stack
        .client
        .post(stack.url("/api/v1/auth/keys"))
        .bearer_auth(login["access_token"].as_str().unwrap())
        .json(&json!({"name": "sdk"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (stack, key["key"].as_str().unwrap().to_owned())
}

fn client(stack: &Stack, key: &str) -> Client<OpenAIConfig> {
    // reqwest 0.13 is built without a bundled crypto provider (see model-service).
    common::http::install_crypto_provider();
    Client::with_config(
        OpenAIConfig::new()
            .with_api_base(stack.url("/v1"))
            .with_api_key(key),
    )
}

fn api_error(e: OpenAIError) -> (u16, Option<String>) {
    match e {
        OpenAIError::ApiError(e) => (e.status_code.as_u16(), e.api_error.code),
        other => panic!("not an API error: {other:?}"),
    }
}

#[tokio::test]
async fn async_openai_completes_streams_lists_and_gets_clear_errors() {
    let (stack, key) = stack_and_key().await;
    let openai = client(&stack, &key);

    let request = CreateChatCompletionRequestArgs::default()
        .model(MODEL)
        .max_tokens(64u32)
        .messages([
            ChatCompletionRequestSystemMessage::from("Be brief.").into(),
            ChatCompletionRequestUserMessage::from("Say hello").into(),
        ])
        .build()
        .unwrap();
    let answer = openai.chat().create(request.clone()).await.unwrap();

    let text = answer.choices[0]
        .message
        .content
        .clone()
        .unwrap_or_default();
    assert!(!text.is_empty());
    let usage = answer.usage.unwrap();
    assert_eq!(
        usage.total_tokens,
        usage.prompt_tokens + usage.completion_tokens
    );

    // (With the workspace's `byot` feature, async-openai leaves `stream` to the caller.)
    let mut streaming = request;
    streaming.stream = Some(true);
    let mut stream = openai.chat().create_stream(streaming).await.unwrap();
    let mut streamed = String::new();
    let mut finish = None;
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        chunks += 1;
        if let Some(choice) = chunk.choices.first() {
            streamed.push_str(choice.delta.content.as_deref().unwrap_or(""));
            if choice.finish_reason.is_some() {
                finish = choice.finish_reason;
            }
        }
    }
    assert!(chunks > 2, "token by token: {chunks} chunks, {streamed:?}");
    assert!(!streamed.is_empty());
    assert!(finish.is_some());

    let models = openai.models().list().await.unwrap();
    assert!(models.data.iter().any(|m| m.id == MODEL), "{models:?}");
    assert_eq!(openai.models().retrieve(MODEL).await.unwrap().id, MODEL);

    let bad = client(&stack, "sk-sable-not-a-real-key");
    let (status, code) = api_error(bad.models().list().await.unwrap_err());
    assert_eq!((status, code.as_deref()), (401, Some("invalid_api_key")));

    let unknown = CreateChatCompletionRequestArgs::default()
        .model("no-such-model")
        .messages([ChatCompletionRequestUserMessage::from("hi").into()])
        .build()
        .unwrap();
    let (status, code) = api_error(openai.chat().create(unknown).await.unwrap_err());
    assert_eq!((status, code.as_deref()), (404, Some("model_not_found")));
}

#[tokio::test]
async fn openai_errors_and_optional_session_storage() {
    let (stack, key) = stack_and_key().await;
    let post = |body: Value, session: Option<&str>| {
        let mut request = stack
            .client
            .post(stack.url("/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&body);
        if let Some(s) = session {
            request = request.header("x-sable-session-id", s);
        }
        request.send()
    };
    // What Sable itself needs is checked: 400 in OpenAI's shape, naming the parameter. (What
    // the provider judges, like `n` or a tool message, is forwarded: see openai_fidelity.rs.)
    for (body, param) in [
        (
            json!({"messages": [{"role": "user", "content": "x"}]}),
            "model",
        ),
        (
            json!({"model": MODEL, "messages": [{"content": "x"}]}),
            "messages.0.role",
        ),
        (
            json!({"model": MODEL, "stream": "yes", "messages": [{"role": "user", "content": "x"}]}),
            "stream",
        ),
        (json!({"model": MODEL}), "messages"),
    ] {
        let response = post(body, None).await.unwrap();
        assert_eq!(response.status().as_u16(), 400);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["type"], "invalid_request_error", "{error}");
        assert_eq!(error["error"]["param"], param, "{error}");
        assert!(error["error"]["message"].is_string());
    }

    // Without the header nothing is stored; with it the last user turn and the answer are.
    let session: Value = stack
        .client
        .post(stack.url("/api/v1/chat/sessions"))
        .bearer_auth(&key)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sid = session["id"].as_str().unwrap();
    let body = json!({"model": MODEL, "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "ok"},
                     {"role": "user", "content": "Plan a trip"}]});
    let streamed = post(body.clone(), Some(sid))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(streamed.ends_with("data: [DONE]\n\n"), "{streamed}");
    assert!(
        streamed.contains("\"usage\":{"),
        "include_usage: {streamed}"
    );
    post(body, None).await.unwrap().text().await.unwrap();
    let detail: Value = stack
        .client
        .get(stack.url(&format!("/api/v1/chat/sessions/{sid}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let messages = detail["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{detail}");
    assert_eq!(messages[0]["content"], "Plan a trip");
    assert_eq!(messages[1]["role"], "assistant");

    // Tool turns are stored too: the call (streamed and whole), then the tool's result and the
    // answer that uses it.
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]);
    for stream in [true, false] {
        let body = json!({"model": MODEL, "stream": stream, "tools": tools,
            "messages": [{"role": "user", "content": "Call get_weather for Oslo"}]});
        let answer = post(body, Some(sid)).await.unwrap().text().await.unwrap();
        assert!(answer.contains("get_weather"), "{answer}");
    }
    let body = json!({"model": MODEL, "tools": tools, "messages": [
        {"role": "user", "content": "Call get_weather for Oslo"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "-3 C and snow"}]});
    let answer: Value = post(body, Some(sid)).await.unwrap().json().await.unwrap();
    assert!(answer["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .contains("-3 C and snow"));
    let detail: Value = stack
        .client
        .get(stack.url(&format!("/api/v1/chat/sessions/{sid}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let texts: Vec<&str> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), 8, "{detail}");
    for i in [3, 5] {
        assert!(
            texts[i].starts_with("[tool call call_mock_0_0] get_weather({\"city\":"),
            "{texts:?}"
        );
    }
    assert_eq!(texts[6], "[tool result call_1] -3 C and snow");
    assert!(
        texts[7].contains("get_weather returned -3 C and snow"),
        "{texts:?}"
    );
}

#[tokio::test]
async fn the_official_python_client_works_against_sable() {
    // A text-only model without tools, to see the capability refusals.
    let mut model = model_service::config::Config::for_tests();
    model.model_capabilities = format!("{TEXT_ONLY}=chat,json");
    let (stack, key) = stack_and_key_with(model).await;
    let stdout = run_openai_python(
        "openai_client_check.py",
        &[&stack.url("/v1"), &key, MODEL, TEXT_ONLY],
    )
    .await;
    assert!(
        stdout.contains("openai client: 18 checks passed"),
        "{stdout}"
    );
}

#[tokio::test]
async fn embeddings_through_the_public_api_are_authenticated_and_counted() {
    let (stack, key) = stack_and_key().await;
    let post = |body: Value, key: &str| {
        stack
            .client
            .post(stack.url("/v1/embeddings"))
            .bearer_auth(key)
            .json(&body)
            .send()
    };
    let response = post(
        json!({"model": "embeddings", "input": ["The cat sat on the mat", "Markets fell"]}),
        &key,
    )
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "list");
    assert_eq!(body["model"], "mock/mock-embed");
    assert_eq!(body["data"][0]["object"], "embedding");
    assert_eq!(body["data"][1]["index"], 1);
    assert_eq!(body["data"][0]["embedding"].as_array().unwrap().len(), 256);
    let tokens = body["usage"]["prompt_tokens"].as_i64().unwrap();
    assert!(tokens > 0, "{body}");

    // base64 carries the same floats, little-endian.
    let b64: Value = post(
        json!({"input": "The cat sat on the mat", "encoding_format": "base64"}),
        &key,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let decoded: Vec<f64> = bytes
        .chunks(4)
        .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
        .collect();
    let floats: Vec<f64> = body["data"][0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(decoded.len(), floats.len());
    assert!(decoded
        .iter()
        .zip(&floats)
        .all(|(a, b)| (a - b).abs() < 1e-6));

    // Errors in OpenAI's shape: a bad key, bad input naming its param, a chat-only model.
    let response = post(json!({"input": "x"}), "sk-sable-wrong").await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    for (body, param) in [
        (json!({"input": []}), "input"),
        (json!({"input": ["a", ""]}), "input.1"),
        (
            json!({"input": "a", "encoding_format": "int8"}),
            "encoding_format",
        ),
    ] {
        let response = post(body, &key).await.unwrap();
        assert_eq!(response.status().as_u16(), 400);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["type"], "invalid_request_error", "{error}");
        assert_eq!(error["error"]["param"], param, "{error}");
    }
    let response = post(json!({"model": MODEL, "input": "x"}), &key)
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "invalid_request", "{error}");

    // The usage is the user's, next to their chat tokens (two answered requests).
    let login: Value = stack
        .client
        .get(stack.url("/api/v1/auth/me"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let usage = &login["usage_today"];
    assert_eq!(usage["requests"], 2, "{login}");
    assert_eq!(usage["completion_tokens"], 0, "{login}");
    assert!(
        usage["prompt_tokens"].as_i64().unwrap() >= tokens,
        "{login}"
    );
}

/// Runs `scripts/<script>` with the official openai package (`OPENAI_PYTHON`, which
/// scripts/test.sh installs) and returns what it printed; the test fails with both streams
/// when the script does.
pub(crate) async fn run_openai_python(script: &str, args: &[&str]) -> String {
    let python = std::env::var("OPENAI_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let script = format!("{}/../../scripts/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::process::Command::new(&python)
        .arg(script)
        .args(args)
        .output()
        .await
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the openai package check failed (scripts/test.sh installs it: OPENAI_PYTHON):\n{stdout}\n{stderr}"
    );
    stdout
}
