//! Issue 15 end to end, with accounts on (AUTH_MODE=jwt): a session answer keeps going after
//! its client leaves and is resumed by its owner only; another user can neither watch, stop,
//! continue nor switch branches in it.

use std::time::Duration;

use e2e::{assert_envelope, sse_payloads, Stack};
use futures::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};

const SECRET: &str = "e2e-test-signing-secret-0123456789abcdef";

async fn sign_up(stack: &Stack, email: &str) -> String {
    let answer = e2e::sign_up(
        &stack.client,
        &stack.url(""),
        &json!({"email": email, "password": "correct horse battery", "display_name": "T"}),
    )
    .await;
    answer["access_token"].as_str().unwrap().to_owned()
}

async fn call(
    stack: &Stack,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = stack
        .client
        .request(method, stack.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn an_answer_outlives_its_client_and_only_its_owner_can_resume_or_stop_it() {
    let stack = Stack::start_with(&["--auth-mode", "jwt", "--jwt-secret", SECRET]).await;
    let alice = sign_up(&stack, "alice@example.com").await;
    let bob = sign_up(&stack, "bob@example.com").await;
    let session: Value = call(
        &stack,
        Method::POST,
        "/api/v1/chat/sessions",
        &alice,
        Some(json!({})),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = session["id"].as_str().unwrap().to_owned();

    // Alice starts a slow answer and leaves after the first token.
    let response = call(
        &stack,
        Method::POST,
        "/api/v1/generate/stream",
        &alice,
        Some(json!({"prompt": "[mock:slow] [mock:tokens=6] go", "session_id": id})),
    )
    .await;
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    tokio::time::timeout(Duration::from_secs(5), body.next())
        .await
        .unwrap();
    drop(body);

    // Bob sees nothing of it: every route answers 404 for a session that is not his.
    let stream_path = format!("/api/v1/chat/sessions/{id}/stream");
    let stop_path = format!("/api/v1/chat/sessions/{id}/stop");
    for (method, path) in [(Method::GET, &stream_path), (Method::POST, &stop_path)] {
        let response = call(&stack, method, path, &bob, Some(json!({}))).await;
        assert_envelope(response, 404, "NOT_FOUND").await;
    }
    let response = call(
        &stack,
        Method::POST,
        "/api/v1/generate/stream",
        &bob,
        Some(json!({"prompt": "mine now", "session_id": id})),
    )
    .await;
    // Not even a hint that something runs there: 404, like every route.
    assert_envelope(response, 404, "NOT_FOUND").await;

    // Alice comes back: the whole answer, ids from 0, then [DONE].
    let response = call(&stack, Method::GET, &stream_path, &alice, None).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let ids: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .collect();
    assert_eq!(ids.first(), Some(&"0"), "{text}");
    assert_eq!(ids.len(), 6, "{text}");
    let payloads = sse_payloads(
        &text
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                e.lines()
                    .filter(|l| !l.starts_with("id: "))
                    .collect::<Vec<_>>()
                    .join("\n")
                    + "\n\n"
            })
            .collect::<String>(),
    );
    assert_eq!(payloads.last().unwrap(), "[DONE]");

    let detail: Value = call(
        &stack,
        Method::GET,
        &format!("/api/v1/chat/sessions/{id}"),
        &alice,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let answer = &detail["messages"][1];
    assert_eq!(answer["meta"]["stopped"], false, "{detail}");
    assert_eq!(answer["meta"]["usage"]["completion_tokens"], 6, "{detail}");
    assert_eq!(answer["sibling_count"], 1);

    // Nor can Bob switch branches or continue in it.
    let answer_id = answer["id"].as_str().unwrap();
    for action in ["activate", "continue"] {
        let response = call(
            &stack,
            Method::POST,
            &format!("/api/v1/chat/sessions/{id}/messages/{answer_id}/{action}"),
            &bob,
            Some(json!({})),
        )
        .await;
        assert_envelope(response, 404, "NOT_FOUND").await;
    }
    // Nothing running any more: 204 for Alice.
    let response = call(&stack, Method::GET, &stream_path, &alice, None).await;
    assert_eq!(response.status(), 204);
}
