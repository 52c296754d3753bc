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
        cost_usd: None,
        finish_reason: Some("stop".into()),
        stopped: false,
        error: None,
        sources: None,
        cited: None,
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

/// Every query that reads a session's messages is scoped by the caller, not only the check
/// before it: another user's session reads as empty (or not found) at the repository itself.
#[tokio::test]
async fn message_reads_are_scoped_by_the_caller_in_the_repository() {
    use futures::StreamExt;
    let app = spawn_app().await;
    let db = &app.state.db;
    let session = new_session(&app, json!({"title": "mine"})).await;
    let first = chat_repo::store_user_turn(db, DEFAULT_USER_ID, session, "hello")
        .await
        .unwrap()
        .unwrap();
    chat_repo::store_assistant_turn(db, DEFAULT_USER_ID, session, "hi", json!({}))
        .await
        .unwrap()
        .unwrap();
    let other = Uuid::new_v4();
    sqlx::query("INSERT INTO users (id, email) VALUES ($1, 'other@example.com')")
        .bind(other)
        .execute(db)
        .await
        .unwrap();

    let read = |user: Uuid| {
        chat_repo::stream_active_path(db.clone(), user, session, None)
            .map(|m| m.unwrap().content)
            .collect::<Vec<_>>()
    };
    assert_eq!(read(DEFAULT_USER_ID).await, ["hello", "hi"]);
    assert!(
        read(other).await.is_empty(),
        "another user read the messages"
    );
    let page = chat_repo::PathPage {
        limit: 10,
        before: None,
    };
    let paged = chat_repo::stream_active_path(db.clone(), other, session, Some(page))
        .collect::<Vec<_>>()
        .await;
    assert!(paged.is_empty());

    assert_eq!(
        chat_repo::position_on_active_path(db, DEFAULT_USER_ID, session, first)
            .await
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        chat_repo::position_on_active_path(db, other, session, first)
            .await
            .unwrap(),
        None
    );
    assert!(chat_repo::get_session(db, other, session)
        .await
        .unwrap()
        .is_none());
    assert!(chat_repo::load_context(db, other, session, 10_000)
        .await
        .unwrap()
        .is_none());
}

/// `GET /sessions/{id}` and the export stream large sessions to clients that may read slowly:
/// with a pool of two connections and three readers that stopped reading, other requests are
/// still answered (a cursor held for each slow reader emptied the pool), and a slow reader
/// still gets the whole session once it reads.
#[tokio::test]
async fn slow_readers_of_large_sessions_do_not_empty_the_pool() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let down = crate::helpers::closed_port_url().await;
    let app = crate::helpers::spawn_app_with(
        &down,
        &down,
        &[
            "--database-max-connections",
            "2",
            "--database-acquire-timeout-secs",
            "2",
        ],
    )
    .await;
    // 300 messages of 64 KiB: ~19 MB of JSON, far more than socket buffers hold.
    let content = "x".repeat(64 * 1024);
    let messages: Vec<Value> = (0..300)
        .map(|i| json!({"role": if i % 2 == 0 { "user" } else { "assistant" }, "content": content}))
        .collect();
    let import: common::schemas::ChatSessionImport =
        serde_json::from_value(json!({"title": "long", "messages": messages})).unwrap();
    let session = chat_repo::import_session(&app.state.db, DEFAULT_USER_ID, &import, None)
        .await
        .unwrap()
        .into_session()
        .id;

    let addr: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    let mut readers = Vec::new();
    for path in [
        format!("/api/v1/chat/sessions/{session}"),
        format!("/api/v1/chat/sessions/{session}"),
        format!("/api/v1/chat/sessions/{session}/export?format=json"),
    ] {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(addr).await.unwrap();
        stream
            .write_all(format!("GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n").as_bytes())
            .await
            .unwrap();
        // The head and the first bytes, then nothing: a client that reads slowly.
        let mut first = vec![0u8; 1024];
        let n = stream.read(&mut first).await.unwrap();
        assert!(
            String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&first[..n])
        );
        readers.push(stream);
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    // Other requests still get a connection.
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let response = app.get("/api/v1/chat/sessions").await;
        assert_eq!(
            response.status(),
            200,
            "with three slow readers: {}",
            response.text().await.unwrap_or_default()
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    // A slow reader that reads on gets the whole session.
    let mut reader = readers.remove(0);
    let mut rest = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = reader.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&buf[..n]);
            if rest.ends_with(b"0\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the slow reader's body did not finish");
    let text = String::from_utf8_lossy(&rest);
    assert_eq!(text.matches("\"role\":\"assistant\"").count(), 150);
}
