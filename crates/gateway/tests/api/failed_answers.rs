//! A failed answer is stored (issue 25, defect 1): an assistant message whose `meta.error` is
//! `{code, message}`, with whatever text arrived before the failure (maybe none), so a reload
//! shows the failure and the chat can be retried from it; exports keep it.

use std::time::Duration;

use serde_json::{json, Value};

use crate::generate::{spawn_stack, sse_payloads};
use crate::helpers::{closed_port_url, spawn_app_with, TestApp};

async fn new_session(app: &TestApp) -> String {
    let response = app.post_json("/api/v1/chat/sessions", &json!({})).await;
    assert_eq!(response.status(), 201);
    let session: Value = response.json().await.unwrap();
    session["id"].as_str().unwrap().to_owned()
}

/// The session's messages once it holds `count` of them.
async fn messages(app: &TestApp, id: &str, count: usize) -> Vec<Value> {
    for _ in 0..100 {
        let session: Value = app
            .get(&format!("/api/v1/chat/sessions/{id}"))
            .await
            .json()
            .await
            .unwrap();
        let list = session["messages"].as_array().cloned().unwrap_or_default();
        if list.len() == count {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("session {id} never reached {count} messages");
}

async fn stream(app: &TestApp, id: &str, prompt: &str) -> Vec<String> {
    let body = app
        .post_json(
            "/api/v1/generate/stream",
            &json!({"prompt": prompt, "session_id": id}),
        )
        .await
        .text()
        .await
        .unwrap();
    sse_payloads(&body)
}

#[tokio::test]
async fn a_stream_that_fails_before_its_first_token_is_stored_with_its_class() {
    let (app, _model) = spawn_stack().await;
    let id = new_session(&app).await;
    let payloads = stream(&app, &id, "Please fail [mock:error]").await;
    assert!(
        payloads.last().unwrap().starts_with("[ERROR] "),
        "{payloads:?}"
    );

    let list = messages(&app, &id, 2).await;
    assert_eq!(list[0]["role"], "user");
    let answer = &list[1];
    assert_eq!(answer["role"], "assistant");
    assert_eq!(answer["content"], "");
    assert_eq!(answer["meta"]["error"]["code"], "INFERENCE_ERROR");
    let message = answer["meta"]["error"]["message"].as_str().unwrap();
    assert!(message.contains("mock provider failure"), "{message}");
    assert!(!message.starts_with("INFERENCE_ERROR"), "{message}");
    assert_eq!(answer["meta"]["finish_reason"], "error");
    assert_eq!(answer["meta"]["stopped"], false);

    // The empty failed turn is not part of the next turn's context, and the chat goes on.
    let payloads = stream(&app, &id, "Try again").await;
    assert_eq!(payloads.last().unwrap(), "[DONE]");
    let list = messages(&app, &id, 4).await;
    assert!(list[3]["meta"]["error"].is_null());
}

#[tokio::test]
async fn a_stream_that_fails_midway_keeps_its_partial_text() {
    let (app, _model) = spawn_stack().await;
    let id = new_session(&app).await;
    let payloads = stream(&app, &id, "[mock:error-after=2] go on").await;
    let streamed: String = payloads
        .iter()
        .filter(|p| p.starts_with('"'))
        .map(|p| serde_json::from_str::<String>(p).unwrap())
        .collect();
    assert!(!streamed.is_empty());
    let list = messages(&app, &id, 2).await;
    assert_eq!(list[1]["content"], streamed.as_str());
    assert!(list[1]["meta"]["error"]["code"].is_string());
    assert!(list[1]["meta"]["error"]["message"].is_string());
}

#[tokio::test]
async fn an_answer_is_stored_as_failed_when_the_model_service_is_down() {
    let down = closed_port_url().await;
    let app = spawn_app_with(&down, &down, &[]).await;
    let id = new_session(&app).await;
    let payloads = stream(&app, &id, "Anyone there?").await;
    assert!(
        payloads.last().unwrap().starts_with("[ERROR] "),
        "{payloads:?}"
    );
    let list = messages(&app, &id, 2).await;
    assert_eq!(list[1]["content"], "");
    assert_eq!(list[1]["meta"]["error"]["code"], "SERVICE_UNAVAILABLE");
    assert!(list[1]["meta"]["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));

    // The same for a whole (non-streamed) answer.
    let response = app
        .post_json(
            "/api/v1/generate",
            &json!({"prompt": "And now?", "session_id": id}),
        )
        .await;
    assert_eq!(response.status(), 503);
    let list = messages(&app, &id, 4).await;
    assert_eq!(list[3]["meta"]["error"]["code"], "SERVICE_UNAVAILABLE");
}

#[tokio::test]
async fn exports_keep_the_failure() {
    let (app, _model) = spawn_stack().await;
    let id = new_session(&app).await;
    stream(&app, &id, "Please fail [mock:error]").await;
    messages(&app, &id, 2).await;

    let json: Value = serde_json::from_str(&app.export(&id, "json").await).unwrap();
    assert_eq!(
        json["messages"][1]["meta"]["error"]["code"],
        "INFERENCE_ERROR"
    );

    let markdown = app.export(&id, "markdown").await;
    assert!(
        markdown.contains("## Assistant\n\n_This answer failed: INFERENCE_ERROR: "),
        "{markdown}"
    );
    assert!(markdown.contains("mock provider failure"), "{markdown}");
}
