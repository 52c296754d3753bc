//! The branches migration (`20261129050000_chat_message_tree.sql`) turns existing
//! conversations into a single chain: each message's parent is the one before it (by
//! `created_at, seq`), depths count from 1, and the last message is the active leaf.
//! Rows are put back into their pre-migration shape and the migration's backfill statements
//! are run again on them.

use serde_json::{json, Value};

use crate::helpers::spawn_app;

const MIGRATION: &str = include_str!("../../../../migrations/20261129050000_chat_message_tree.sql");

#[tokio::test]
async fn existing_messages_become_one_chain_with_the_last_one_active() {
    let app = spawn_app().await;
    let mut sessions = Vec::new();
    for n in [3, 0, 5] {
        let session: Value = app
            .post_json("/api/v1/chat/sessions", &json!({}))
            .await
            .json()
            .await
            .unwrap();
        let id = session["id"].as_str().unwrap().to_owned();
        for i in 0..n {
            let role = if i % 2 == 0 { "user" } else { "assistant" };
            let r = app
                .post_json(
                    &format!("/api/v1/chat/sessions/{id}/messages"),
                    &json!({"role": role, "content": format!("{id} {i}")}),
                )
                .await;
            assert_eq!(r.status(), 201);
        }
        let before: Value = app
            .get(&format!("/api/v1/chat/sessions/{id}"))
            .await
            .json()
            .await
            .unwrap();
        sessions.push((id, before));
    }

    // As before the migration: no tree, no active leaf.
    sqlx::query("UPDATE chat_messages SET parent_id = NULL, depth = 1")
        .execute(&app.db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE chat_sessions SET active_leaf_id = NULL")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let start = MIGRATION
        .find("WITH ordered AS")
        .expect("the backfill statements");
    let end = MIGRATION.find("-- Children of a message").expect("end");
    sqlx::raw_sql(&MIGRATION[start..end])
        .execute(&app.db.pool)
        .await
        .unwrap();

    for (id, before) in sessions {
        let after: Value = app
            .get(&format!("/api/v1/chat/sessions/{id}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(after, before, "the same conversation, as a chain");
        let messages = after["messages"].as_array().unwrap();
        assert_eq!(
            after["message_count"].as_u64().unwrap() as usize,
            messages.len()
        );
        if let Some(first) = messages.first() {
            assert!(first["parent_id"].is_null());
        }
        for pair in messages.windows(2) {
            assert_eq!(pair[1]["parent_id"], pair[0]["id"]);
            assert_eq!(pair[1]["sibling_count"], 1);
        }
    }
}
