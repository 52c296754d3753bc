//! Continue (issue 15.4): an answer cut at `max_tokens` or stopped can be continued; the
//! model gets the partial answer as the last assistant turn and the continuation is appended
//! to the same message.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};

use crate::generate::{spawn_stack, sse_payloads};
use crate::helpers::{assert_envelope, TestApp};

async fn new_session(app: &TestApp) -> String {
    let response = app.post_json("/api/v1/chat/sessions", &json!({})).await;
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn messages(app: &TestApp, id: &str) -> Vec<Value> {
    let session: Value = app
        .get(&format!("/api/v1/chat/sessions/{id}"))
        .await
        .json()
        .await
        .unwrap();
    session["messages"].as_array().unwrap().clone()
}

fn streamed_text(body: &str) -> String {
    let payloads = sse_payloads(body);
    assert_eq!(payloads.last().unwrap(), "[DONE]", "{body}");
    payloads[..payloads.len() - 1]
        .iter()
        .map(|t| serde_json::from_str::<String>(t).unwrap())
        .collect()
}

#[tokio::test]
async fn a_length_cut_answer_is_continued_in_the_same_message() {
    let (app, _model) = spawn_stack().await;
    let id = new_session(&app).await;
    let response = app
        .post_json(
            "/api/v1/generate",
            &json!({"prompt": "Explain Rust", "session_id": id, "max_tokens": 3}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let before = messages(&app, &id).await;
    let answer = &before[1];
    assert_eq!(answer["meta"]["finish_reason"], "length", "{answer}");
    let partial = answer["content"].as_str().unwrap().to_owned();
    let answer_id = answer["id"].as_str().unwrap().to_owned();

    let response = app
        .post_json(
            &format!("/api/v1/chat/sessions/{id}/messages/{answer_id}/continue"),
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    let continuation = streamed_text(&response.text().await.unwrap());
    // The model saw the question and the partial answer, last.
    let start: String = partial.chars().take(20).collect();
    assert!(
        continuation.contains("I was given 2 earlier turns; the last (assistant) said: \"")
            && continuation.contains(&start),
        "{continuation}"
    );

    let after = messages(&app, &id).await;
    assert_eq!(after.len(), 2, "no new message");
    assert_eq!(after[1]["id"], answer_id.as_str());
    assert_eq!(
        after[1]["content"].as_str().unwrap(),
        format!("{partial}{continuation}")
    );
    assert_eq!(after[1]["meta"]["finish_reason"], "stop");
    assert_eq!(after[1]["meta"]["stopped"], false);

    // A complete answer is not continued again; a user message never.
    let response = app
        .post_json(
            &format!("/api/v1/chat/sessions/{id}/messages/{answer_id}/continue"),
            &json!({}),
        )
        .await;
    assert_envelope(response, 409, "CONFLICT").await;
    let question = after[0]["id"].as_str().unwrap();
    let response = app
        .post_json(
            &format!("/api/v1/chat/sessions/{id}/messages/{question}/continue"),
            &json!({}),
        )
        .await;
    assert_envelope(response, 409, "CONFLICT").await;
    // Unknown message or session: 404; malformed: 400.
    let unknown = uuid::Uuid::new_v4();
    for (path, status, code) in [
        (
            format!("{id}/messages/{unknown}/continue"),
            404,
            "NOT_FOUND",
        ),
        (
            format!("{unknown}/messages/{answer_id}/continue"),
            404,
            "NOT_FOUND",
        ),
        (format!("{id}/messages/x/continue"), 400, "VALIDATION_ERROR"),
    ] {
        let response = app
            .post_json(&format!("/api/v1/chat/sessions/{path}"), &json!({}))
            .await;
        assert_envelope(response, status, code).await;
    }
}

#[tokio::test]
async fn a_stopped_answer_is_continued_and_no_longer_marked_stopped() {
    let (app, _model) = spawn_stack().await;
    let id = new_session(&app).await;
    let response = app
        .post_json(
            "/api/v1/generate/stream",
            &json!({"prompt": "[mock:slow] [mock:tokens=8] story", "session_id": id}),
        )
        .await;
    let mut stream = response.bytes_stream();
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap();
    let stop: Value = app
        .post_json(&format!("/api/v1/chat/sessions/{id}/stop"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stop["stopped"], true);
    let stopped = messages(&app, &id).await[1].clone();
    assert_eq!(stopped["meta"]["stopped"], true, "{stopped}");
    let partial = stopped["content"].as_str().unwrap().to_owned();

    let body = app
        .post_json(
            &format!(
                "/api/v1/chat/sessions/{id}/messages/{}/continue",
                stopped["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await
        .text()
        .await
        .unwrap();
    let continuation = streamed_text(&body);
    assert!(!continuation.is_empty());
    let after = messages(&app, &id).await;
    assert_eq!(after.len(), 2);
    assert_eq!(
        after[1]["content"].as_str().unwrap(),
        format!("{partial}{continuation}")
    );
    assert_eq!(after[1]["meta"]["stopped"], false, "{}", after[1]);
}
