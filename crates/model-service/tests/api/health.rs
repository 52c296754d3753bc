use serde_json::Value;

use crate::helpers::{assert_envelope, spawn_app};

#[tokio::test]
async fn health_reports_the_model_service() {
    let app = spawn_app().await;
    let response = app.get("/health").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"status": "healthy", "service": "model-service", "version": "0.1.0", "environment": "test"})
    );
}

#[tokio::test]
async fn ready_reports_the_configured_provider() {
    let app = spawn_app().await;
    let response = app.get("/health/ready").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["provider:mock"]["status"], "up", "{body}");
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let app = spawn_app().await;
    app.post_json(
        "/inference/stream",
        &serde_json::json!({"prompt": "count me"}),
    )
    .await
    .text()
    .await
    .unwrap();
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    assert!(text.contains("model_tokens_generated_total"), "{text}");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_with_the_envelope() {
    let app = spawn_app().await;
    assert_envelope(app.get("/nope").await, 404, "NOT_FOUND").await;
    assert_envelope(app.get("/inference").await, 405, "METHOD_NOT_ALLOWED").await;
}

#[tokio::test]
async fn models_lists_the_mock_presets_default_fallback_and_extras() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/models").await;
    assert_eq!(response.status(), 200);
    let body: common::schemas::ModelsResponse = response.json().await.unwrap();
    assert_eq!(body.provider, "mock");
    assert_eq!(body.default, "llama-3.3-70b-versatile");
    assert_eq!(body.fallback.as_deref(), Some("llama-3.1-8b-instant"));
    assert!(
        body.models
            .iter()
            .all(|m| m.provider_kind.as_deref() == Some("mock")),
        "{:?}",
        body.models
    );
    let ids: Vec<(&str, &str, String)> = body
        .models
        .iter()
        .map(|m| (m.id.as_str(), m.role.as_str(), m.capabilities.join(",")))
        .collect();
    let chat = || "chat".to_owned();
    assert_eq!(
        ids,
        [
            ("llama-3.3-70b-versatile", "default", chat()),
            ("llama-3.1-8b-instant", "fallback", chat()),
            ("mixtral-8x7b-32768", "available", chat()),
            ("openai/gpt-oss-120b", "available", chat()),
            ("mock-embed", "available", "embeddings".to_owned()),
        ]
    );
    assert_eq!(body.aliases["embeddings"], ["mock-embed"]);
}
