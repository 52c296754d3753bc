//! Titles (issue 15.5): a new chat is titled from its first message, cut between words; after
//! the first answer the model is asked for a short title in the background, unless the
//! provider is the mock (then the first message's title stays).

use std::time::Duration;

use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::generate::spawn_stack;
use crate::helpers::{closed_port_url, serve, spawn_app_with, TestApp};

async fn new_session(app: &TestApp) -> String {
    let response = app.post_json("/api/v1/chat/sessions", &json!({})).await;
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn title(app: &TestApp, id: &str) -> String {
    let session: Value = app
        .get(&format!("/api/v1/chat/sessions/{id}"))
        .await
        .json()
        .await
        .unwrap();
    session["title"].as_str().unwrap().to_owned()
}

/// An OpenAI-compatible provider whose every completion is a quoted title with a period.
async fn titling_provider() -> String {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(|Json(body): Json<Value>| async move {
            Json(json!({
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1,
                "model": body["model"],
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": "\"Rust Ownership Explained.\""},
                    "finish_reason": "stop"
                }],
                "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14}
            }))
        }),
    );
    format!("http://{}/v1", serve(app).await)
}

#[tokio::test]
async fn the_model_titles_a_new_chat_after_its_first_answer() {
    let mut config = model_service::config::Config::for_tests();
    config.provider = model_service::config::ProviderChoice::Openai;
    config.openai_base_url = Some(titling_provider().await);
    config.openai_api_key = "sk-test".into();
    config.default_model = Some("ok-model".to_owned());
    let model = model_service::spawn(config).await.expect("model service");
    let app = spawn_app_with(
        &format!("http://{}", model.addr),
        &closed_port_url().await,
        &[],
    )
    .await;
    let id = new_session(&app).await;
    let response = app
        .post_json(
            "/api/v1/generate",
            &json!({"prompt": "how   does ownership work in Rust?", "session_id": id}),
        )
        .await;
    assert_eq!(response.status(), 200);
    // At once: the first message; shortly after: the model's title, cleaned.
    let mut seen = Vec::new();
    for _ in 0..100 {
        let now = title(&app, &id).await;
        if seen.last() != Some(&now) {
            seen.push(now.clone());
        }
        if now == "Rust Ownership Explained" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen.last().unwrap(), "Rust Ownership Explained", "{seen:?}");
    assert!(
        seen.iter()
            .all(|t| t == "how does ownership work in Rust?" || t == "Rust Ownership Explained"),
        "{seen:?}"
    );

    // A chat the user renamed keeps its name.
    let named = new_session(&app).await;
    app.client
        .patch(app.url(&format!("/api/v1/chat/sessions/{named}")))
        .json(&json!({"title": "Mine"}))
        .send()
        .await
        .unwrap();
    app.post_json(
        "/api/v1/generate",
        &json!({"prompt": "anything", "session_id": named}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(title(&app, &named).await, "Mine");
}

#[tokio::test]
async fn with_the_mock_the_title_is_the_first_message_cut_between_words() {
    let (app, _model) = spawn_stack().await;
    let id = new_session(&app).await;
    let words = "antidisestablishmentarianism ".repeat(10);
    let prompt = format!("Tell me about {words}");
    let response = app
        .post_json(
            "/api/v1/generate",
            &json!({"prompt": prompt, "session_id": id}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let expected = format!(
        "Tell me about {}",
        ["antidisestablishmentarianism"; 6].join(" ")
    );
    assert!(expected.chars().count() <= 200);
    assert_eq!(title(&app, &id).await, expected);
    // Still so after the background step had its chance.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(title(&app, &id).await, expected);
}

#[tokio::test]
async fn a_first_message_in_markdown_titles_the_chat_with_its_plain_words() {
    let (app, _model) = spawn_stack().await;
    let id = new_session(&app).await;
    let prompt = "```rust\nfn main() {}\n```\n## **Explain** this `code`, see [the book](https://doc.rust-lang.org)";
    let response = app
        .post_json(
            "/api/v1/generate",
            &json!({"prompt": prompt, "session_id": id}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(title(&app, &id).await, "Explain this code, see the book");
}
