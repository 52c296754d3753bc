//! Generation with `session_id`: the gateway gives the model the session's context and
//! stores both turns itself, including a partial answer when the client goes away.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};

use crate::generate::{spawn_stack, sse_payloads};
use crate::helpers::{assert_envelope, TestApp};

async fn new_session(app: &TestApp, body: Value) -> String {
    let response = app.post_json("/api/v1/chat/sessions", &body).await;
    assert_eq!(response.status(), 201);
    let session: Value = response.json().await.unwrap();
    session["id"].as_str().unwrap().to_owned()
}

/// The session once it holds `count` messages (the assistant turn of a stream is stored
/// when the stream ends, just after the last byte is sent).
async fn session_with_messages(app: &TestApp, id: &str, count: usize) -> Value {
    for _ in 0..100 {
        let session: Value = app
            .get(&format!("/api/v1/chat/sessions/{id}"))
            .await
            .json()
            .await
            .unwrap();
        if session["messages"].as_array().map(Vec::len) == Some(count) {
            return session;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("session {id} never reached {count} messages");
}

#[tokio::test]
async fn stream_with_session_stores_both_turns_with_meta() {
    let (app, _model) = spawn_stack().await;
    let id = new_session(&app, json!({})).await;
    let body = app
        .post_json(
            "/api/v1/generate/stream",
            &json!({"prompt": "What is Rust?", "session_id": id}),
        )
        .await
        .text()
        .await
        .unwrap();
    let payloads = sse_payloads(&body);
    assert_eq!(payloads.last().unwrap(), "[DONE]");
    let streamed: String = payloads[..payloads.len() - 1]
        .iter()
        .map(|t| serde_json::from_str::<String>(t).unwrap())
        .collect();

    // Stored before [DONE] was sent: no waiting needed.
    let session: Value = app
        .get(&format!("/api/v1/chat/sessions/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        session["messages"].as_array().unwrap().len(),
        2,
        "{session}"
    );
    assert_eq!(
        session["title"], "What is Rust?",
        "auto-titled from the first user message"
    );
    let messages = session["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[0]["content"], "What is Rust?");
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(messages[1]["content"], streamed.as_str());
    let meta = &messages[1]["meta"];
    assert!(
        meta["model"]
            .as_str()
            .unwrap()
            .contains("llama-3.3-70b-versatile"),
        "{meta}"
    );
    assert_eq!(meta["stopped"], false);
    assert_eq!(meta["finish_reason"], "stop");
    assert!(
        meta["latency_ms"].is_number() && meta["ttft_ms"].is_number(),
        "{meta}"
    );
    assert!(
        meta["usage"]["completion_tokens"].as_u64().unwrap() > 0,
        "{meta}"
    );
}

/// A session stream is a server-side generation (issue 15): the client going away does not
/// stop it; the whole answer is stored (see `background.rs` for stop and resume).
#[tokio::test]
async fn dropped_stream_still_stores_the_whole_answer() {
    let (app, model) = spawn_stack().await;
    let id = new_session(&app, json!({})).await;
    let response = app
        .post_json(
            "/api/v1/generate/stream",
            &json!({"prompt": "[mock:slow] [mock:tokens=6] a long answer please", "session_id": id}),
        )
        .await;
    let mut stream = response.bytes_stream();
    let mut seen = String::new();
    while seen.matches("data: ").count() < 2 {
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(stream);

    let session = session_with_messages(&app, &id, 2).await;
    let answer = &session["messages"][1];
    assert_eq!(answer["role"], "assistant");
    assert_eq!(answer["meta"]["stopped"], false, "{answer}");
    assert_eq!(answer["meta"]["usage"]["completion_tokens"], 6, "{answer}");
    let received: String = sse_payloads(&seen)
        .iter()
        .map(|t| serde_json::from_str::<String>(t).unwrap())
        .collect();
    assert!(
        answer["content"].as_str().unwrap().starts_with(&received),
        "{answer} vs {received:?}"
    );
    assert_eq!(model.state.stats.snapshot().streams_cancelled, 0);
}

#[tokio::test]
async fn the_model_receives_the_system_prompt_and_earlier_turns() {
    let (app, _model) = spawn_stack().await;
    let id = new_session(&app, json!({"system_prompt": "You are terse."})).await;
    let first: Value = app
        .post_json(
            "/api/v1/generate",
            &json!({"prompt": "first question", "session_id": id}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        first["text"]
            .as_str()
            .unwrap()
            .contains("System prompt: \"You are terse.\""),
        "{first}"
    );
    assert!(
        !first["text"].as_str().unwrap().contains("earlier turn"),
        "{first}"
    );

    let second: Value = app
        .post_json(
            "/api/v1/generate",
            &json!({"prompt": "second question", "session_id": id}),
        )
        .await
        .json()
        .await
        .unwrap();
    let text = second["text"].as_str().unwrap();
    assert!(text.contains("I was given 2 earlier turn"), "{text}");
    assert!(text.contains("the last (assistant) said"), "{text}");

    let session = session_with_messages(&app, &id, 4).await;
    assert_eq!(session["messages"][3]["meta"]["stopped"], false);
}

#[tokio::test]
async fn context_budget_drops_the_oldest_turns_first() {
    let model = model_service::spawn(model_service::config::Config::for_tests())
        .await
        .unwrap();
    let down = crate::helpers::closed_port_url().await;
    let app = crate::helpers::spawn_app_with(
        &format!("http://{}", model.addr),
        &down,
        &["--context-budget-chars", "60"],
    )
    .await;
    let id = new_session(&app, json!({})).await;
    for content in ["a".repeat(50), "b".repeat(20), "c".repeat(20)] {
        let r = app
            .post_json(
                &format!("/api/v1/chat/sessions/{id}/messages"),
                &json!({"role": "user", "content": content}),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    let body: Value = app
        .post_json(
            "/api/v1/generate",
            &json!({"prompt": "now", "session_id": id}),
        )
        .await
        .json()
        .await
        .unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(
        text.contains("I was given 2 earlier turn"),
        "only the two newest fit in 60 chars: {text}"
    );
}

#[tokio::test]
async fn unknown_or_malformed_sessions_are_rejected_before_generating() {
    let (app, model) = spawn_stack().await;
    let missing = uuid::Uuid::new_v4();
    for path in ["/api/v1/generate", "/api/v1/generate/stream"] {
        let response = app
            .post_json(path, &json!({"prompt": "hi", "session_id": missing}))
            .await;
        assert_envelope(response, 404, "NOT_FOUND").await;
        let response = app
            .post_json(path, &json!({"prompt": "hi", "session_id": "nope"}))
            .await;
        let body = assert_envelope(response, 422, "VALIDATION_ERROR").await;
        assert_eq!(body["detail"][0]["loc"], json!(["body", "session_id"]));
    }
    assert_eq!(model.state.stats.snapshot().streams_started, 0);
}

#[tokio::test]
async fn without_session_nothing_is_stored() {
    let (app, _model) = spawn_stack().await;
    let response = app
        .post_json("/api/v1/generate", &json!({"prompt": "hi"}))
        .await;
    assert_eq!(response.status(), 200);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM chat_messages")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn replace_from_message_id_replaces_the_tail_instead_of_appending() {
    let (app, _model) = spawn_stack().await;
    let id = new_session(&app, json!({})).await;
    for prompt in ["first", "second"] {
        let r = app
            .post_json(
                "/api/v1/generate",
                &json!({"prompt": prompt, "session_id": id}),
            )
            .await;
        assert_eq!(r.status(), 200);
    }
    let session = session_with_messages(&app, &id, 4).await;
    let second_question = session["messages"][2]["id"].as_str().unwrap().to_owned();
    // The stream response names the stored user turn, so a client can replace from it.
    let response = app
        .post_json(
            "/api/v1/generate/stream",
            &json!({"prompt": "third", "session_id": id}),
        )
        .await;
    let third_question = response.headers()["x-user-message-id"]
        .to_str()
        .unwrap()
        .to_owned();
    response.text().await.unwrap();
    let session = session_with_messages(&app, &id, 6).await;
    assert_eq!(session["messages"][4]["id"], third_question.as_str());

    // Edit and resend the second question: it and its answer are replaced.
    let body: Value = app
        .post_json(
            "/api/v1/generate",
            &json!({"prompt": "second, edited", "session_id": id, "replace_from_message_id": second_question}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains("I was given 2 earlier turn"),
        "{body}"
    );
    let session = session_with_messages(&app, &id, 4).await;
    assert_eq!(session["message_count"], 4);
    let contents: Vec<&str> = session["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents[0], "first");
    assert_eq!(contents[2], "second, edited");

    // A message that is not in the session: 404, nothing removed.
    let response = app
        .post_json(
            "/api/v1/generate/stream",
            &json!({"prompt": "x", "session_id": id, "replace_from_message_id": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_envelope(response, 404, "NOT_FOUND").await;
    let response = app
        .post_json(
            "/api/v1/generate",
            &json!({"prompt": "x", "replace_from_message_id": second_question}),
        )
        .await;
    assert_envelope(response, 422, "VALIDATION_ERROR").await;
    let session = session_with_messages(&app, &id, 4).await;
    assert_eq!(session["message_count"], 4);
}
