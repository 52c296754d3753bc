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

/// A new chat with one answered question; its id.
async fn asked_in_a_new_chat(app: &TestApp, prompt: &str) -> String {
    let id = new_session(app).await;
    let response = app
        .post_json(
            "/api/v1/generate",
            &json!({"prompt": prompt, "session_id": id}),
        )
        .await;
    assert_eq!(response.status(), 200);
    id
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

/// The gateway in front of a model service started with `config`.
async fn stack_with(
    config: model_service::config::Config,
) -> (TestApp, model_service::RunningService) {
    let model = model_service::spawn(config).await.expect("model service");
    let app = spawn_app_with(
        &format!("http://{}", model.addr),
        &closed_port_url().await,
        &[],
    )
    .await;
    (app, model)
}

/// Asks once in a new chat and waits for the title the model gives it.
async fn waits_for_the_models_title(app: &TestApp) -> Vec<String> {
    let id = asked_in_a_new_chat(app, "how   does ownership work in Rust?").await;
    let mut seen = Vec::new();
    for _ in 0..100 {
        let now = title(app, &id).await;
        if seen.last() != Some(&now) {
            seen.push(now.clone());
        }
        if now == "Rust Ownership Explained" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen
}

/// A providers file in the temporary directory, removed when dropped.
struct ProvidersFile(std::path::PathBuf);

impl ProvidersFile {
    fn new(text: &str) -> Self {
        let path = std::env::temp_dir().join(format!("sable-titles-{}.toml", uuid::Uuid::new_v4()));
        std::fs::write(&path, text).unwrap();
        Self(path)
    }
}

impl Drop for ProvidersFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test]
async fn the_model_titles_a_new_chat_after_its_first_answer() {
    let mut config = model_service::config::Config::for_tests();
    config.provider = model_service::config::ProviderChoice::Openai;
    config.openai_base_url = Some(titling_provider().await);
    config.openai_api_key = "sk-test".into();
    config.default_model = Some("ok-model".to_owned());
    let (app, _model) = stack_with(config).await;
    // At once: the first message; shortly after: the model's title, cleaned.
    let seen = waits_for_the_models_title(&app).await;
    assert_eq!(seen.last().unwrap(), "Rust Ownership Explained", "{seen:?}");
    assert!(
        seen.iter()
            .all(|t| t == "how does ownership work in Rust?" || t == "Rust Ownership Explained"),
        "{seen:?}"
    );
    // The title's tokens count as the user's, like the answer's (14 tokens each here).
    let me: Value = app.get("/api/v1/auth/me").await.json().await.unwrap();
    assert_eq!(me["usage_today"]["requests"], 2, "{me}");
    assert_eq!(me["usage_today"]["total_tokens"], 28, "{me}");

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

/// The mock is known by its kind, not its name: a real provider a deployment named "mock"
/// still titles chats, and the mock under another name does not.
#[tokio::test]
async fn whether_the_model_titles_depends_on_the_providers_kind_not_its_name() {
    let base_url = titling_provider().await;
    let real_named_mock = ProvidersFile::new(&format!(
        "[[providers]]\nname = \"mock\"\nbase_url = \"{base_url}\"\n\
         [[providers.models]]\nid = \"ok-model\"\n[aliases]\ndefault = \"mock/ok-model\"\n"
    ));
    let mut config = model_service::config::Config::for_tests();
    config.providers_file = Some(real_named_mock.0.clone());
    let (app, _model) = stack_with(config).await;
    let seen = waits_for_the_models_title(&app).await;
    assert_eq!(seen.last().unwrap(), "Rust Ownership Explained", "{seen:?}");

    let mock_named_offline = ProvidersFile::new(
        "[[providers]]\nname = \"offline\"\nkind = \"mock\"\n\
         [[providers.models]]\nid = \"mock-model\"\n[aliases]\ndefault = \"offline/mock-model\"\n",
    );
    let mut config = model_service::config::Config::for_tests();
    config.providers_file = Some(mock_named_offline.0.clone());
    let (app, _model) = stack_with(config).await;
    let id = asked_in_a_new_chat(&app, "keep this title").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(title(&app, &id).await, "keep this title");
}

#[tokio::test]
async fn with_the_mock_the_title_is_the_first_message_cut_between_words() {
    let (app, _model) = spawn_stack().await;
    let words = "antidisestablishmentarianism ".repeat(10);
    let prompt = format!("Tell me about {words}");
    let id = asked_in_a_new_chat(&app, &prompt).await;
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
    let prompt = "```rust\nfn main() {}\n```\n## **Explain** this `code`, see [the book](https://doc.rust-lang.org)";
    let id = asked_in_a_new_chat(&app, prompt).await;
    assert_eq!(title(&app, &id).await, "Explain this code, see the book");
}
