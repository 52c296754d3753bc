//! The conversation storage the generate relay uses with `session_id` (`chat_repo::load_context`,
//! `store_user_turn`, `store_assistant_turn`), tested directly against the database.

// Test helpers fail loudly, like the tests that call them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use common::schemas::{ChatTurn, Role, Usage};
use gateway::auth::DEFAULT_USER_ID;
use gateway::chat::repo::{self as chat_repo, AssistantMeta};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{spawn_app, TestApp};

async fn new_session(app: &TestApp, body: Value) -> Uuid {
    let response = app.post_json("/api/v1/chat/sessions", &body).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    Uuid::parse_str(body["id"].as_str().unwrap()).unwrap()
}

async fn detail(app: &TestApp, session: Uuid) -> Value {
    app.get(&format!("/api/v1/chat/sessions/{session}"))
        .await
        .json()
        .await
        .unwrap()
}

fn turn(role: Role, content: &str) -> ChatTurn {
    ChatTurn {
        role,
        content: content.to_owned(),
    }
}

#[tokio::test]
async fn stored_turns_come_back_as_context_in_order_with_the_system_prompt() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let sid = new_session(&app, json!({ "system_prompt": "You are terse." })).await;

    let empty = chat_repo::load_context(db, DEFAULT_USER_ID, sid, 10_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(empty.system_prompt.as_deref(), Some("You are terse."));
    assert!(empty.turns.is_empty());

    chat_repo::store_user_turn(db, DEFAULT_USER_ID, sid, "What is Rust?")
        .await
        .unwrap();
    let meta = AssistantMeta {
        model: Some("llama-3.3-70b-versatile".into()),
        latency_ms: 120.5,
        ttft_ms: Some(12.25),
        usage: Some(Usage::new(5, 7)),
        finish_reason: Some("stop".into()),
        stopped: false,
        error: None,
    };
    let answer = chat_repo::store_assistant_turn(db, DEFAULT_USER_ID, sid, "A language.", &meta)
        .await
        .unwrap()
        .unwrap();

    let context = chat_repo::load_context(db, DEFAULT_USER_ID, sid, 10_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        context.turns,
        [
            turn(Role::User, "What is Rust?"),
            turn(Role::Assistant, "A language.")
        ]
    );

    let session = detail(&app, sid).await;
    assert_eq!(session["message_count"], 2);
    let stored = &session["messages"][1];
    assert_eq!(stored["id"], answer.to_string());
    assert_eq!(
        stored["meta"],
        json!({
            "model": "llama-3.3-70b-versatile",
            "latency_ms": 120.5,
            "ttft_ms": 12.25,
            "usage": { "prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12 },
            "finish_reason": "stop",
            "stopped": false,
            "error": null
        })
    );
    assert_eq!(session["updated_at"], stored["created_at"]);
}

#[tokio::test]
async fn context_keeps_the_newest_turns_within_the_budget() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let sid = new_session(&app, json!({})).await;
    for (i, content) in ["aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc", "dddddddddd"]
        .iter()
        .enumerate()
    {
        if i % 2 == 0 {
            chat_repo::store_user_turn(db, DEFAULT_USER_ID, sid, content)
                .await
                .unwrap();
        } else {
            chat_repo::store_assistant_turn(
                db,
                DEFAULT_USER_ID,
                sid,
                content,
                AssistantMeta::default(),
            )
            .await
            .unwrap();
        }
    }
    // An answer stopped before its first token is kept but never sent as context.
    let stopped = AssistantMeta {
        stopped: true,
        ..AssistantMeta::default()
    };
    chat_repo::store_assistant_turn(db, DEFAULT_USER_ID, sid, "", &stopped)
        .await
        .unwrap();

    let contents = |budget| async move {
        chat_repo::load_context(db, DEFAULT_USER_ID, sid, budget)
            .await
            .unwrap()
            .unwrap()
            .turns
            .into_iter()
            .map(|t| t.content)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        contents(40).await,
        ["aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc", "dddddddddd"]
    );
    assert_eq!(
        contents(39).await,
        ["bbbbbbbbbb", "cccccccccc", "dddddddddd"]
    );
    assert_eq!(contents(20).await, ["cccccccccc", "dddddddddd"]);
    assert_eq!(contents(9).await, Vec::<String>::new());
    // Code points, not bytes.
    let sid2 = new_session(&app, json!({})).await;
    chat_repo::store_user_turn(db, DEFAULT_USER_ID, sid2, &"é".repeat(10))
        .await
        .unwrap();
    let turns = chat_repo::load_context(db, DEFAULT_USER_ID, sid2, 10)
        .await
        .unwrap()
        .unwrap()
        .turns;
    assert_eq!(turns.len(), 1);
}

#[tokio::test]
async fn the_first_user_turn_titles_a_default_session_once() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let sid = new_session(&app, json!({})).await;
    chat_repo::store_user_turn(db, DEFAULT_USER_ID, sid, "  Plan a\n trip   to Rome \n")
        .await
        .unwrap();
    assert_eq!(detail(&app, sid).await["title"], "Plan a trip to Rome");
    chat_repo::store_user_turn(db, DEFAULT_USER_ID, sid, "Something else")
        .await
        .unwrap();
    assert_eq!(detail(&app, sid).await["title"], "Plan a trip to Rome");

    // A session the user named keeps its name.
    let named = new_session(&app, json!({ "title": "Mine" })).await;
    chat_repo::store_user_turn(db, DEFAULT_USER_ID, named, "Hello")
        .await
        .unwrap();
    assert_eq!(detail(&app, named).await["title"], "Mine");

    // Long prompts are cut to 200 code points.
    let long = new_session(&app, json!({})).await;
    chat_repo::store_user_turn(db, DEFAULT_USER_ID, long, &"é".repeat(300))
        .await
        .unwrap();
    assert_eq!(
        detail(&app, long).await["title"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        200
    );
}

#[tokio::test]
async fn unknown_or_foreign_sessions_are_not_found_for_the_relay_too() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let unknown = Uuid::new_v4();
    assert!(chat_repo::load_context(db, DEFAULT_USER_ID, unknown, 100)
        .await
        .unwrap()
        .is_none());
    assert!(
        chat_repo::store_user_turn(db, DEFAULT_USER_ID, unknown, "x")
            .await
            .unwrap()
            .is_none()
    );
    assert!(chat_repo::store_assistant_turn(
        db,
        DEFAULT_USER_ID,
        unknown,
        "x",
        AssistantMeta::default()
    )
    .await
    .unwrap()
    .is_none());
    let sid = new_session(&app, json!({})).await;
    let stranger = Uuid::new_v4();
    assert!(chat_repo::load_context(db, stranger, sid, 100)
        .await
        .unwrap()
        .is_none());
    assert!(chat_repo::store_user_turn(db, stranger, sid, "x")
        .await
        .unwrap()
        .is_none());
}
