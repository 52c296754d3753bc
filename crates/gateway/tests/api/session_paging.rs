//! `GET /api/v1/chat/sessions/{id}?limit=&before=` (issue 12.5): pages of the active path,
//! newest page first, each in order; without parameters the reference's whole list.

use serde_json::{json, Value};

use crate::helpers::{assert_envelope, spawn_app, TestApp};

async fn get(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

fn contents(session: &Value) -> Vec<String> {
    session["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn messages_page_backwards_from_the_newest_without_gaps() {
    let app = spawn_app().await;
    let session: Value = app
        .post_json("/api/v1/chat/sessions", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let id = session["id"].as_str().unwrap();
    for i in 0..10 {
        let role = if i % 2 == 0 { "user" } else { "assistant" };
        let response = app
            .post_json(
                &format!("/api/v1/chat/sessions/{id}/messages"),
                &json!({"role": role, "content": format!("m{i}")}),
            )
            .await;
        assert_eq!(response.status(), 201);
    }
    let whole = get(&app, &format!("/api/v1/chat/sessions/{id}")).await;
    assert_eq!(whole["message_count"], 10);
    let all = contents(&whole);
    assert_eq!(all.len(), 10);

    // Newest 4, then the 4 before, then the last 2; message_count is the whole path.
    let mut pages = Vec::new();
    let mut path = format!("/api/v1/chat/sessions/{id}?limit=4");
    loop {
        let page = get(&app, &path).await;
        assert_eq!(page["message_count"], 10);
        assert_eq!(page["id"], id);
        let first = page["messages"][0].clone();
        pages.push(contents(&page));
        if first["parent_id"].is_null() {
            break;
        }
        path = format!(
            "/api/v1/chat/sessions/{id}?limit=4&before={}",
            first["id"].as_str().unwrap()
        );
    }
    assert_eq!(pages.len(), 3);
    assert_eq!(pages[0], all[6..]);
    assert_eq!(pages[1], all[2..6]);
    assert_eq!(pages[2], all[..2]);
    // `before` alone: everything before that message.
    let third = whole["messages"][3]["id"].as_str().unwrap();
    let before = get(&app, &format!("/api/v1/chat/sessions/{id}?before={third}")).await;
    assert_eq!(contents(&before), all[..3]);

    for query in [
        "limit=0".to_owned(),
        "limit=1001".to_owned(),
        "before=nope".to_owned(),
        format!("before={}", uuid::Uuid::new_v4()),
    ] {
        let response = app
            .get(&format!("/api/v1/chat/sessions/{id}?{query}"))
            .await;
        assert_envelope(response, 422, "VALIDATION_ERROR").await;
    }
}
