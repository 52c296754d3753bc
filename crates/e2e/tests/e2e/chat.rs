//! Generation, streams stored in a session, and search, through the gateway.

use e2e::{sse_payloads, Stack};
use serde_json::json;

#[tokio::test]
async fn sync_generate_answers_through_both_hops() {
    let stack = Stack::start().await;
    let response = stack
        .post("/api/v1/generate", &json!({"prompt": "Say hello"}))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(!body["text"].as_str().unwrap().is_empty(), "{body}");
    let usage = &body["usage"];
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn a_stream_with_a_session_stores_both_turns_and_is_searchable() {
    let stack = Stack::start().await;
    let session = stack
        .post("/api/v1/chat/sessions", &json!({"title": "Travel"}))
        .await;
    assert_eq!(session.status().as_u16(), 201);
    let session: serde_json::Value = session.json().await.unwrap();
    let sid = session["id"].as_str().unwrap();

    let response = stack
        .post(
            "/api/v1/generate/stream",
            &json!({"prompt": "Plan a weekend in Lisbon", "session_id": sid}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let user_message_id = response
        .headers()
        .get("x-user-message-id")
        .expect("x-user-message-id")
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.text().await.unwrap();
    let payloads = sse_payloads(&body);
    assert_eq!(
        payloads.last().map(String::as_str),
        Some("[DONE]"),
        "{body}"
    );
    let streamed: String = payloads[..payloads.len() - 1]
        .iter()
        .map(|p| serde_json::from_str::<String>(p).unwrap())
        .collect();
    assert!(!streamed.is_empty());

    // `[DONE]` means stored: the answer is there at once.
    let detail = stack
        .get_json(&format!("/api/v1/chat/sessions/{sid}"))
        .await;
    let messages = detail["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{detail}");
    assert_eq!(messages[0]["id"], user_message_id.as_str());
    assert_eq!(messages[0]["content"], "Plan a weekend in Lisbon");
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(messages[1]["content"], streamed.as_str());
    assert_eq!(messages[1]["meta"]["finish_reason"], "stop");

    let hits = stack.get_json("/api/v1/chat/search?q=lisbon").await;
    let results = hits["results"].as_array().unwrap();
    assert!(!results.is_empty(), "{hits}");
    assert_eq!(results[0]["session_id"], sid);
    assert!(results[0]["snippet"].as_str().unwrap().contains("<mark>"));
}
