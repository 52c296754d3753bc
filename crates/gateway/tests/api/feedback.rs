//! Feedback on answers (issue 25, feature 12) and importing a chat file twice (defect 4).

use serde_json::{json, Value};

use crate::helpers::{
    accounts_app, assert_envelope, call, call_json, json_of, sign_up, spawn_app, TestApp, User,
};
use reqwest::Method;

/// A session with a question and an answer of `model` (`user` None: the single user of
/// `--auth-mode off`): (session id, question id, answer id).
async fn exchange(app: &TestApp, user: Option<&User>, model: &str) -> (String, String, String) {
    let session = call_json(
        app,
        user,
        Method::POST,
        "/api/v1/chat/sessions",
        Some(json!({"title": "Rated"})),
        201,
    )
    .await;
    let id = session["id"].as_str().unwrap().to_owned();
    let messages = format!("/api/v1/chat/sessions/{id}/messages");
    let question = call_json(
        app,
        user,
        Method::POST,
        &messages,
        Some(json!({"role": "user", "content": "Why?"})),
        201,
    )
    .await;
    let answer = call_json(
        app,
        user,
        Method::POST,
        &messages,
        Some(json!({"role": "assistant", "content": "Because.", "meta": {"model": model}})),
        201,
    )
    .await;
    (
        id,
        question["id"].as_str().unwrap().to_owned(),
        answer["id"].as_str().unwrap().to_owned(),
    )
}

fn feedback_path(session: &str, message: &str) -> String {
    format!("/api/v1/chat/sessions/{session}/messages/{message}/feedback")
}

async fn put_feedback(
    app: &TestApp,
    user: Option<&User>,
    session: &str,
    message: &str,
    body: Value,
) -> reqwest::Response {
    let path = feedback_path(session, message);
    call(app, user, Method::PUT, &path, Some(body)).await
}

/// The single user's (`--auth-mode off`) rating `body` of `answer`, which must succeed: the answer.
async fn rate(app: &TestApp, session: &str, answer: &str, body: Value) -> Value {
    json_of(put_feedback(app, None, session, answer, body).await, 200).await
}

async fn delete_feedback(
    app: &TestApp,
    user: Option<&User>,
    session: &str,
    message: &str,
) -> reqwest::Response {
    let path = feedback_path(session, message);
    call(app, user, Method::DELETE, &path, None).await
}

#[tokio::test]
async fn an_answer_takes_thumbs_and_a_comment_shown_on_the_message_and_in_exports() {
    let app = spawn_app().await;
    let (id, question, answer) = exchange(&app, None, "mock-a").await;
    let before = json_of(app.get(&format!("/api/v1/chat/sessions/{id}")).await, 200).await;

    let rated = rate(
        &app,
        &id,
        &answer,
        json!({"rating": -1, "comment": "  Too short.  "}),
    )
    .await;
    assert_eq!(rated["id"], answer.as_str());
    assert_eq!(rated["feedback"]["rating"], -1);
    assert_eq!(rated["feedback"]["comment"], "Too short.");
    assert!(rated["feedback"]["updated_at"].is_string(), "{rated}");

    // Shown on the message when the session is read (whole and paged); rating is not activity.
    let session = json_of(app.get(&format!("/api/v1/chat/sessions/{id}")).await, 200).await;
    assert_eq!(session["messages"][1]["feedback"], rated["feedback"]);
    assert!(session["messages"][0].get("feedback").is_none());
    assert_eq!(session["updated_at"], before["updated_at"]);
    let page = json_of(
        app.get(&format!("/api/v1/chat/sessions/{id}?limit=1"))
            .await,
        200,
    )
    .await;
    assert_eq!(page["messages"][0]["feedback"]["rating"], -1);

    // Giving it again replaces it; a blank comment is none.
    let rated = rate(&app, &id, &answer, json!({"rating": 1, "comment": " "})).await;
    assert_eq!(rated["feedback"]["rating"], 1);
    assert_eq!(rated["feedback"]["comment"], Value::Null);
    let rated = rate(
        &app,
        &id,
        &answer,
        json!({"rating": 1, "comment": "Clear and right."}),
    )
    .await;

    // In both exports.
    let exported: Value = serde_json::from_str(&app.export(&id, "json").await).unwrap();
    assert_eq!(exported["messages"][1]["feedback"], rated["feedback"]);
    let markdown = app.export(&id, "markdown").await;
    assert!(
        markdown.contains("Because.\n\n_Feedback: 👍 helpful: Clear and right._"),
        "{markdown}"
    );

    // Bad input: the envelope, never a 500.
    for body in [
        json!({"rating": 0}),
        json!({"rating": 2}),
        json!({"rating": "up"}),
        json!({}),
        json!({"rating": 1, "comment": "x".repeat(2001)}),
    ] {
        let response = put_feedback(&app, None, &id, &answer, body.clone()).await;
        assert_envelope(response, 422, "VALIDATION_ERROR").await;
    }
    // A question is not an answer.
    let response = put_feedback(&app, None, &id, &question, json!({"rating": 1})).await;
    assert_envelope(response, 422, "VALIDATION_ERROR").await;
    // Unknown message, unknown session, malformed ids.
    let unknown = uuid::Uuid::new_v4().to_string();
    for (session, message, status) in [
        (id.as_str(), unknown.as_str(), 404),
        (unknown.as_str(), answer.as_str(), 404),
        ("nope", answer.as_str(), 400),
        (id.as_str(), "nope", 400),
    ] {
        let response = put_feedback(&app, None, session, message, json!({"rating": 1})).await;
        assert_eq!(response.status().as_u16(), status, "{session} {message}");
    }
    // The comment limit is 2 000 code points, not bytes.
    let long = "é".repeat(2000);
    let rated = rate(&app, &id, &answer, json!({"rating": 1, "comment": long})).await;
    assert_eq!(
        rated["feedback"]["comment"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        2000
    );

    // DELETE clears it (and is idempotent).
    for _ in 0..2 {
        let response = delete_feedback(&app, None, &id, &answer).await;
        assert_eq!(response.status(), 204);
    }
    let session = json_of(app.get(&format!("/api/v1/chat/sessions/{id}")).await, 200).await;
    assert!(
        session["messages"][1].get("feedback").is_none(),
        "{session}"
    );
}

async fn feedback_counts(app: &TestApp, user: Option<&User>) -> reqwest::Response {
    call(app, user, Method::GET, "/api/v1/metrics/feedback", None).await
}

#[tokio::test]
async fn only_the_owner_rates_and_admins_see_counts_per_model() {
    let app = accounts_app().await;
    let admin = sign_up(&app, "ada@example.com").await;
    let user = sign_up(&app, "bob@example.com").await;

    let (ada_chat, _, ada_answer) = exchange(&app, Some(&admin), "mock-a").await;
    let (bob_chat, _, bob_answer) = exchange(&app, Some(&user), "mock-a").await;
    let (bob_chat2, _, bob_answer2) = exchange(&app, Some(&user), "mock-b").await;

    // Another user's answer is "not found", for rating and clearing alike.
    let response = put_feedback(
        &app,
        Some(&user),
        &ada_chat,
        &ada_answer,
        json!({"rating": 1}),
    )
    .await;
    assert_envelope(response, 404, "NOT_FOUND").await;
    let response = delete_feedback(&app, Some(&user), &ada_chat, &ada_answer).await;
    assert_envelope(response, 404, "NOT_FOUND").await;

    for (token, chat, answer, rating) in [
        (&admin, &ada_chat, &ada_answer, 1),
        (&user, &bob_chat, &bob_answer, -1),
        (&user, &bob_chat2, &bob_answer2, 1),
    ] {
        let response =
            put_feedback(&app, Some(token), chat, answer, json!({"rating": rating})).await;
        assert_eq!(response.status(), 200);
    }

    // Counts cover every user; only an admin reads them.
    let counts = json_of(feedback_counts(&app, Some(&admin)).await, 200).await;
    assert_eq!(
        counts,
        json!({"models": [
            {"model": "mock-a", "up": 1, "down": 1},
            {"model": "mock-b", "up": 1, "down": 0},
        ]})
    );
    assert_envelope(feedback_counts(&app, Some(&user)).await, 403, "FORBIDDEN").await;
    assert_eq!(feedback_counts(&app, None).await.status(), 401);
}

#[tokio::test]
async fn importing_the_same_chat_twice_returns_the_first_import() {
    let app = spawn_app().await;
    let export = json!({
        "title": "Trip",
        "messages": [
            {"role": "user", "content": "Where to?"},
            {"role": "assistant", "content": "Rome.", "meta": {"model": "mock"}},
        ],
    });
    let first = json_of(app.post_json("/api/v1/chat/import", &export).await, 201).await;
    assert_eq!(first["already_imported"], false);
    assert_eq!(first["message_count"], 2);

    // The same content again, even with other ids and timestamps around it: no copy.
    let mut again = export.clone();
    again["id"] = json!(uuid::Uuid::new_v4());
    again["updated_at"] = json!("2026-01-01T00:00:00Z");
    let second = json_of(app.post_json("/api/v1/chat/import", &again).await, 200).await;
    assert_eq!(second["already_imported"], true);
    assert_eq!(second["id"], first["id"]);
    let list = json_of(app.get("/api/v1/chat/sessions").await, 200).await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Other content is another chat.
    let mut other = export.clone();
    other["messages"][1]["content"] = json!("Paris.");
    let third = json_of(app.post_json("/api/v1/chat/import", &other).await, 201).await;
    assert_ne!(third["id"], first["id"]);

    // Once the imported chat is deleted, the file can be imported again.
    let deleted = app
        .client
        .delete(app.url(&format!(
            "/api/v1/chat/sessions/{}",
            first["id"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let fourth = json_of(app.post_json("/api/v1/chat/import", &export).await, 201).await;
    assert_eq!(fourth["already_imported"], false);
    assert_ne!(fourth["id"], first["id"]);
}

#[tokio::test]
async fn job_retry_and_delete_are_checked_before_the_worker_is_called() {
    // The worker is down: what reaches it is 503, what the gateway refuses never gets there.
    let app = spawn_app().await;
    let job = uuid::Uuid::new_v4();
    for index in ["x", "-1", "1.5"] {
        let response = app
            .post_json(
                &format!("/api/v1/jobs/{job}/prompts/{index}/retry"),
                &json!({}),
            )
            .await;
        assert_envelope(response, 422, "VALIDATION_ERROR").await;
    }
    let response = app
        .post_json("/api/v1/jobs/not-a-job/prompts/0/retry", &json!({}))
        .await;
    assert_envelope(response, 404, "JOB_NOT_FOUND").await;
    let response = app
        .post_json(&format!("/api/v1/jobs/{job}/prompts/0/retry"), &json!({}))
        .await;
    assert_eq!(response.status(), 503);
    let response = app
        .client
        .delete(app.url(&format!("/api/v1/jobs/{job}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
}
