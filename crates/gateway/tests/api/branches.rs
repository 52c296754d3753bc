//! Branches (issue 15.3): messages form a tree; editing or regenerating adds a version instead
//! of deleting, `GET /sessions/{id}` returns the active path with `parent_id`,
//! `sibling_count` and `sibling_index`, and `…/messages/{id}/activate` switches branches.

use serde_json::{json, Value};

use crate::generate::spawn_stack;
use crate::helpers::{assert_envelope, TestApp};

async fn new_session(app: &TestApp) -> String {
    let response = app.post_json("/api/v1/chat/sessions", &json!({})).await;
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Sends a prompt in the session (sync generate) and returns the answer text.
async fn ask(app: &TestApp, session: &str, prompt: &str, replace: Option<&str>) -> String {
    let mut body = json!({"prompt": prompt, "session_id": session});
    if let Some(id) = replace {
        body["replace_from_message_id"] = json!(id);
    }
    let response = app.post_json("/api/v1/generate", &body).await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["text"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn session(app: &TestApp, id: &str) -> Value {
    let response = app.get(&format!("/api/v1/chat/sessions/{id}")).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn contents(session: &Value) -> Vec<String> {
    session["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap().chars().take(40).collect())
        .collect()
}

fn versions(message: &Value) -> (i64, i64) {
    (
        message["sibling_index"].as_i64().unwrap(),
        message["sibling_count"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn editing_a_message_adds_a_version_and_activate_switches_between_them() {
    let (app, _model) = spawn_stack().await;
    let id = new_session(&app).await;
    ask(&app, &id, "first", None).await;
    ask(&app, &id, "second", None).await;
    let before = session(&app, &id).await;
    let messages = before["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4);
    // A single chain: each message follows the one before it.
    assert_eq!(messages[0]["parent_id"], Value::Null);
    for pair in messages.windows(2) {
        assert_eq!(pair[1]["parent_id"], pair[0]["id"], "{before}");
        assert_eq!(versions(&pair[1]), (1, 1));
    }
    let second = messages[2]["id"].as_str().unwrap().to_owned();
    let old_answer = messages[3]["content"].as_str().unwrap().to_owned();

    // Edit and resend the second question: a sibling, the old branch is kept.
    let answer = ask(&app, &id, "second, edited", Some(&second)).await;
    assert!(answer.contains("I was given 2 earlier turns"), "{answer}");
    let edited = session(&app, &id).await;
    assert_eq!(edited["message_count"], 4);
    let messages = edited["messages"].as_array().unwrap();
    assert_eq!(messages[2]["content"], "second, edited");
    assert_eq!(messages[2]["parent_id"], before["messages"][1]["id"]);
    assert_eq!(versions(&messages[2]), (2, 2));
    assert_eq!(versions(&messages[3]), (1, 1));
    assert_eq!(messages[3]["content"], answer.as_str());
    // The session list counts the active path too.
    let list: Value = app.get("/api/v1/chat/sessions").await.json().await.unwrap();
    assert_eq!(list[0]["message_count"], 4);

    // Back to the first version: its whole branch, answer included, is the active path.
    let response = app
        .post_json(
            &format!("/api/v1/chat/sessions/{id}/messages/{second}/activate"),
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let switched: Value = response.json().await.unwrap();
    assert_eq!(
        switched["messages"],
        before["messages"]
            .as_array()
            .map(|m| {
                let mut m = m.clone();
                m[2]["sibling_count"] = json!(2);
                Value::Array(m)
            })
            .unwrap()
    );
    assert_eq!(switched, session(&app, &id).await);
    assert_eq!(switched["messages"][3]["content"], old_answer.as_str());

    // Generation context follows the active path: four earlier turns, the old answer last.
    let answer = ask(&app, &id, "third", None).await;
    assert!(answer.contains("I was given 4 earlier turns"), "{answer}");
    let now = session(&app, &id).await;
    assert_eq!(contents(&now).len(), 6);
    assert_eq!(now["messages"][4]["parent_id"], now["messages"][3]["id"]);

    // Export writes the active path only.
    let markdown = app
        .get(&format!("/api/v1/chat/sessions/{id}/export"))
        .await
        .text()
        .await
        .unwrap();
    assert!(markdown.contains("\n\nthird\n"), "{markdown}");
    assert!(!markdown.contains("second, edited"), "{markdown}");

    // Activating the edited version shows its branch again (its newest leaf).
    let edited_id = edited["messages"][2]["id"].as_str().unwrap();
    let response = app
        .post_json(
            &format!("/api/v1/chat/sessions/{id}/messages/{edited_id}/activate"),
            &json!({}),
        )
        .await;
    let back: Value = response.json().await.unwrap();
    assert_eq!(back["messages"], edited["messages"]);
}

#[tokio::test]
async fn regenerating_from_the_first_message_keeps_the_old_conversation() {
    let (app, _model) = spawn_stack().await;
    let id = new_session(&app).await;
    ask(&app, &id, "hello", None).await;
    ask(&app, &id, "more", None).await;
    let first = session(&app, &id).await["messages"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // What reference clients do for "regenerate": resend the same prompt replacing it.
    let answer = ask(&app, &id, "hello", Some(&first)).await;
    assert!(!answer.contains("earlier turn"), "no context: {answer}");
    let now = session(&app, &id).await;
    assert_eq!(now["message_count"], 2);
    assert_eq!(versions(&now["messages"][0]), (2, 2));
    assert_eq!(now["messages"][0]["parent_id"], Value::Null);
    // The old conversation is still there.
    let response = app
        .post_json(
            &format!("/api/v1/chat/sessions/{id}/messages/{first}/activate"),
            &json!({}),
        )
        .await;
    let old: Value = response.json().await.unwrap();
    assert_eq!(old["message_count"], 4);
    assert_eq!(contents(&old)[2], "more");
}

#[tokio::test]
async fn activate_rejects_unknown_and_malformed_ids() {
    let (app, _model) = spawn_stack().await;
    let id = new_session(&app).await;
    let other = new_session(&app).await;
    ask(&app, &other, "elsewhere", None).await;
    let foreign = session(&app, &other).await["messages"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unknown = uuid::Uuid::new_v4();
    for (path, status, code) in [
        (
            format!("{id}/messages/{foreign}/activate"),
            404,
            "NOT_FOUND",
        ),
        (
            format!("{unknown}/messages/{foreign}/activate"),
            404,
            "NOT_FOUND",
        ),
        (
            format!("{id}/messages/nope/activate"),
            400,
            "VALIDATION_ERROR",
        ),
        (
            format!("nope/messages/{foreign}/activate"),
            400,
            "VALIDATION_ERROR",
        ),
    ] {
        let response = app
            .post_json(&format!("/api/v1/chat/sessions/{path}"), &json!({}))
            .await;
        assert_envelope(response, status, code).await;
    }
    // Nothing changed in either session.
    assert_eq!(session(&app, &id).await["message_count"], 0);
    assert_eq!(session(&app, &other).await["message_count"], 2);
}

#[tokio::test]
async fn versions_lists_every_version_of_a_message_oldest_first() {
    let (app, _model) = spawn_stack().await;
    let id = new_session(&app).await;
    ask(&app, &id, "first", None).await;
    let first = session(&app, &id).await["messages"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ask(&app, &id, "first, edited", Some(&first)).await;
    let now = session(&app, &id).await;
    let edited = now["messages"][0]["id"].as_str().unwrap().to_owned();
    let answer = now["messages"][1]["id"].as_str().unwrap().to_owned();

    // Asked from either version, the same list: ids[sibling_index - 1] is that version.
    for asked in [&first, &edited] {
        let response = app
            .get(&format!(
                "/api/v1/chat/sessions/{id}/messages/{asked}/versions"
            ))
            .await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"ids": [first, edited]}));
    }
    // An answer with no other version lists itself.
    let body: Value = app
        .get(&format!(
            "/api/v1/chat/sessions/{id}/messages/{answer}/versions"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({"ids": [answer]}));

    // Unknown message, unknown session, malformed id.
    let stranger = uuid::Uuid::now_v7();
    let response = app
        .get(&format!(
            "/api/v1/chat/sessions/{id}/messages/{stranger}/versions"
        ))
        .await;
    assert_envelope(response, 404, "NOT_FOUND").await;
    let response = app
        .get(&format!(
            "/api/v1/chat/sessions/{stranger}/messages/{first}/versions"
        ))
        .await;
    assert_envelope(response, 404, "NOT_FOUND").await;
    let response = app
        .get(&format!(
            "/api/v1/chat/sessions/{id}/messages/nope/versions"
        ))
        .await;
    assert_envelope(response, 400, "VALIDATION_ERROR").await;
}
