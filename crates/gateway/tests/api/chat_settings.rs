//! Per-chat settings, pin and archive, import (issue 15.6): a session's own model,
//! temperature, max_tokens and system prompt apply when a generation names it and the request
//! does not set them; `?pinned=` / `?archived=` filter the list; Sable's JSON export imports
//! back as a new session.

use serde_json::{json, Value};

use crate::generate::spawn_stack;
use crate::helpers::{assert_envelope, TestApp};

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    response.json().await.unwrap()
}

async fn patch(app: &TestApp, id: &str, body: Value) -> reqwest::Response {
    app.client
        .patch(app.url(&format!("/api/v1/chat/sessions/{id}")))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// A model the mock serves that is not the default.
async fn other_model(app: &TestApp) -> String {
    let models = json_of(app.get("/api/v1/models").await, 200).await;
    models["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] != "default")
        .expect("a second model")["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_chats_own_settings_apply_unless_the_request_sets_them() {
    let (app, _model) = spawn_stack().await;
    let model = other_model(&app).await;
    let session = json_of(
        app.post_json(
            "/api/v1/chat/sessions",
            &json!({"model": model, "temperature": 0.1, "max_tokens": 3, "system_prompt": "Be brief."}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(session["model"], model.as_str());
    assert_eq!(session["temperature"], 0.1);
    assert_eq!(session["max_tokens"], 3);
    assert_eq!(session["pinned"], false);
    assert_eq!(session["archived"], false);
    let id = session["id"].as_str().unwrap();

    let answer = json_of(
        app.post_json(
            "/api/v1/generate",
            &json!({"prompt": "hi", "session_id": id}),
        )
        .await,
        200,
    )
    .await;
    assert!(
        answer["model"].as_str().unwrap().contains(&model),
        "{answer}"
    );
    assert_eq!(answer["finish_reason"], "length", "max_tokens 3: {answer}");
    assert_eq!(answer["usage"]["completion_tokens"], 3);

    // The request's own values win.
    let answer = json_of(
        app.post_json(
            "/api/v1/generate",
            &json!({"prompt": "hi", "session_id": id, "max_tokens": 200, "system_prompt": "Other."}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(answer["finish_reason"], "stop", "{answer}");
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .contains("System prompt: \"Other.\""),
        "{answer}"
    );

    // PATCH changes and clears them; invalid values are 422.
    let updated = json_of(
        patch(&app, id, json!({"model": "", "max_tokens": 500})).await,
        200,
    )
    .await;
    assert_eq!(updated["model"], Value::Null);
    assert_eq!(updated["max_tokens"], 500);
    assert_eq!(updated["temperature"], 0.1, "unchanged");
    for body in [
        json!({"temperature": 3.0}),
        json!({"max_tokens": 0}),
        json!({"model": "m".repeat(300)}),
        json!({"pinned": "yes"}),
    ] {
        assert_envelope(patch(&app, id, body).await, 422, "VALIDATION_ERROR").await;
    }
    let response = app
        .post_json("/api/v1/chat/sessions", &json!({"temperature": -1}))
        .await;
    assert_envelope(response, 422, "VALIDATION_ERROR").await;
}

#[tokio::test]
async fn pin_and_archive_filter_the_list() {
    let (app, _model) = spawn_stack().await;
    let (mut ids, mut created) = (Vec::new(), Vec::new());
    for title in ["plain", "pinned", "archived"] {
        let s = json_of(
            app.post_json("/api/v1/chat/sessions", &json!({"title": title}))
                .await,
            201,
        )
        .await;
        ids.push(s["id"].as_str().unwrap().to_owned());
        created.push(s["updated_at"].clone());
    }
    let pinned = json_of(patch(&app, &ids[1], json!({"pinned": true})).await, 200).await;
    assert_eq!(pinned["pinned"], true);
    let archived = json_of(patch(&app, &ids[2], json!({"archived": true})).await, 200).await;
    // Filing a chat away is not activity: its place by date stays where it was.
    assert_eq!(pinned["updated_at"], created[1]);
    assert_eq!(archived["updated_at"], created[2]);

    let titles = |list: Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|s| s["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = json_of(app.get("/api/v1/chat/sessions").await, 200).await;
    assert_eq!(titles(all), ["archived", "pinned", "plain"]);
    let only_pinned = json_of(app.get("/api/v1/chat/sessions?pinned=true").await, 200).await;
    assert_eq!(titles(only_pinned), ["pinned"]);
    let active = json_of(app.get("/api/v1/chat/sessions?archived=false").await, 200).await;
    assert_eq!(titles(active), ["pinned", "plain"]);
    let archived = json_of(
        app.get("/api/v1/chat/sessions?archived=true&pinned=false&limit=5")
            .await,
        200,
    )
    .await;
    assert_eq!(titles(archived), ["archived"]);
    // A rename is activity.
    let renamed = json_of(patch(&app, &ids[0], json!({"title": "plain!"})).await, 200).await;
    assert_ne!(renamed["updated_at"], created[0]);
    let response = app.get("/api/v1/chat/sessions?pinned=maybe").await;
    assert_envelope(response, 422, "VALIDATION_ERROR").await;
}

#[tokio::test]
async fn a_json_export_imports_as_a_new_session() {
    let (app, _model) = spawn_stack().await;
    let source = json_of(
        app.post_json(
            "/api/v1/chat/sessions",
            &json!({"title": "Trip", "system_prompt": "Be brief.", "temperature": 0.3}),
        )
        .await,
        201,
    )
    .await;
    let id = source["id"].as_str().unwrap();
    for prompt in ["first", "second"] {
        json_of(
            app.post_json(
                "/api/v1/generate",
                &json!({"prompt": prompt, "session_id": id}),
            )
            .await,
            200,
        )
        .await;
    }
    let export = json_of(
        app.get(&format!("/api/v1/chat/sessions/{id}/export?format=json"))
            .await,
        200,
    )
    .await;

    let imported = json_of(app.post_json("/api/v1/chat/import", &export).await, 201).await;
    assert_ne!(imported["id"], export["id"]);
    assert_eq!(imported["title"], "Trip");
    assert_eq!(imported["system_prompt"], "Be brief.");
    assert_eq!(imported["temperature"], 0.3);
    assert_eq!(imported["message_count"], 4);
    let copy = json_of(
        app.get(&format!(
            "/api/v1/chat/sessions/{}",
            imported["id"].as_str().unwrap()
        ))
        .await,
        200,
    )
    .await;
    let strip = |s: &Value| -> Vec<Value> {
        s["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| json!([m["role"], m["content"], m["meta"]]))
            .collect()
    };
    assert_eq!(strip(&copy), strip(&export));
    let messages = copy["messages"].as_array().unwrap();
    assert_eq!(messages[0]["parent_id"], Value::Null);
    for pair in messages.windows(2) {
        assert_eq!(pair[1]["parent_id"], pair[0]["id"]);
    }
    // The imported chat goes on like any other: the model gets its turns.
    let answer = json_of(
        app.post_json(
            "/api/v1/generate",
            &json!({"prompt": "third", "session_id": imported["id"]}),
        )
        .await,
        200,
    )
    .await;
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .contains("I was given 4 earlier turns"),
        "{answer}"
    );

    // Not an export: 422, and nothing is created.
    for body in [
        json!({"title": "x"}),
        json!({"messages": [{"role": "robot", "content": "x"}]}),
        json!({"messages": [{"role": "user", "content": ""}]}),
        json!({"messages": [{"role": "user", "content": "x", "meta": [1]}]}),
    ] {
        let response = app.post_json("/api/v1/chat/import", &body).await;
        assert_envelope(response, 422, "VALIDATION_ERROR").await;
    }
    let list = json_of(app.get("/api/v1/chat/sessions").await, 200).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
}
