//! Chat sessions and messages (contract §5.6): shapes, statuses, envelopes, ordering under
//! concurrency, per-user scoping, paging and export.

// Test helpers fail loudly, like the tests that call them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{assert_envelope, spawn_app, TestApp};

const SEEDED_USER: &str = "00000000-0000-0000-0000-000000000001";
const SESSIONS: &str = "/api/v1/chat/sessions";

async fn send(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn create(app: &TestApp, body: Value) -> Value {
    let response = app.post_json(SESSIONS, &body).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn append(app: &TestApp, session: &str, role: &str, content: &str) -> Value {
    let response = app
        .post_json(
            &format!("{SESSIONS}/{session}/messages"),
            &json!({ "role": role, "content": content }),
        )
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// ISO 8601 UTC with a `Z`, and six fraction digits when there is a fraction (contract §5.6).
fn assert_contract_timestamp(v: &Value) {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("not a string timestamp: {v}"));
    assert!(s.ends_with('Z'), "{s}");
    chrono::DateTime::parse_from_rfc3339(s).unwrap();
    if let Some((_, fraction)) = s.trim_end_matches('Z').split_once('.') {
        assert_eq!(fraction.len(), 6, "{s}");
    }
}

/// 400/404 answers carry the envelope and the reference's string `detail`.
async fn assert_detail(response: reqwest::Response, status: u16, code: &str, detail: &str) {
    let body = assert_envelope(response, status, code).await;
    assert_eq!(body["detail"], detail, "body: {body}");
}

// ---------------------------------------------------------------------------------------------
// Create

#[tokio::test]
async fn create_session_returns_201_with_the_default_title_and_every_key() {
    let app = spawn_app().await;
    let session = create(&app, json!({})).await;
    assert_eq!(session["title"], "New Chat");
    assert_eq!(session["user_id"], SEEDED_USER);
    assert!(session.get("system_prompt").is_some_and(Value::is_null));
    assert_eq!(session["message_count"], 0);
    assert_eq!(session["created_at"], session["updated_at"]);
    assert_contract_timestamp(&session["created_at"]);
    Uuid::parse_str(session["id"].as_str().unwrap()).unwrap();
    assert!(session.get("messages").is_none());
}

#[tokio::test]
async fn create_session_defaults_null_and_empty_titles_and_keeps_given_values() {
    let app = spawn_app().await;
    assert_eq!(
        create(&app, json!({ "title": "" })).await["title"],
        "New Chat"
    );
    assert_eq!(
        create(&app, json!({ "title": null })).await["title"],
        "New Chat"
    );
    let session = create(
        &app,
        json!({ "title": "Rome", "system_prompt": "Be brief.", "extra": 1 }),
    )
    .await;
    assert_eq!(session["title"], "Rome");
    assert_eq!(session["system_prompt"], "Be brief.");
    // Limits are inclusive and counted in code points.
    let long = "é".repeat(200);
    assert_eq!(
        create(&app, json!({ "title": long })).await["title"],
        long.as_str()
    );
}

#[tokio::test]
async fn create_session_rejects_invalid_bodies_with_422() {
    let app = spawn_app().await;
    let body = assert_envelope(
        app.post_json(SESSIONS, &json!({ "title": "x".repeat(201) }))
            .await,
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(body["detail"][0]["loc"], json!(["body", "title"]));
    assert_eq!(body["detail"][0]["type"], "string_too_long");

    let body = assert_envelope(
        app.post_json(SESSIONS, &json!({ "system_prompt": "x".repeat(20_001) }))
            .await,
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(body["detail"][0]["loc"], json!(["body", "system_prompt"]));

    for response in [
        app.client.post(app.url(SESSIONS)).send().await.unwrap(),
        app.client
            .post(app.url(SESSIONS))
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap(),
        app.post_json(SESSIONS, &json!([])).await,
        app.post_json(SESSIONS, &json!({ "title": 5 })).await,
    ] {
        assert_envelope(response, 422, "VALIDATION_ERROR").await;
    }
}

// ---------------------------------------------------------------------------------------------
// List

#[tokio::test]
async fn list_is_newest_updated_first_with_message_counts() {
    let app = spawn_app().await;
    assert_eq!(get_json(&app, SESSIONS).await, json!([]));
    let a = id(&create(&app, json!({ "title": "a" })).await);
    let b = id(&create(&app, json!({ "title": "b" })).await);
    let ids = |list: &Value| -> Vec<String> { list.as_array().unwrap().iter().map(id).collect() };
    assert_eq!(ids(&get_json(&app, SESSIONS).await), [b.clone(), a.clone()]);

    // Appending moves a session to the top and counts.
    append(&app, &a, "user", "hello").await;
    append(&app, &a, "assistant", "hi").await;
    let list = get_json(&app, SESSIONS).await;
    assert_eq!(ids(&list), [a.clone(), b.clone()]);
    assert_eq!(list[0]["message_count"], 2);
    assert_eq!(list[1]["message_count"], 0);
    assert!(list[0].get("messages").is_none());

    // So does renaming.
    let response = send(
        &app,
        Method::PATCH,
        &format!("{SESSIONS}/{b}"),
        Some(json!({ "title": "b2" })),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(ids(&get_json(&app, SESSIONS).await), [b, a]);
}

#[tokio::test]
async fn list_defaults_to_100_and_pages_with_limit_and_before_without_gaps_or_duplicates() {
    let app = spawn_app().await;
    // 105 sessions, several sharing one updated_at, so the cursor's id tie-break matters.
    sqlx::query(
        "INSERT INTO chat_sessions (id, user_id, title, created_at, updated_at) \
         SELECT gen_random_uuid(), $1, 's' || i, now(), now() - ((i / 3) * interval '1 second') \
         FROM generate_series(1, 105) i",
    )
    .bind(Uuid::parse_str(SEEDED_USER).unwrap())
    .execute(&app.state.db)
    .await
    .unwrap();

    let first = app.get(SESSIONS).await;
    assert!(first.headers().contains_key("x-next-cursor"));
    let first: Value = first.json().await.unwrap();
    assert_eq!(first.as_array().unwrap().len(), 100);
    let all: Value = get_json(&app, &format!("{SESSIONS}?limit=200")).await;
    let all: Vec<String> = all.as_array().unwrap().iter().map(id).collect();
    assert_eq!(all.len(), 105);

    // Walk in pages of 7 following X-Next-Cursor.
    let mut seen = Vec::new();
    let mut path = format!("{SESSIONS}?limit=7");
    loop {
        let response = app.get(&path).await;
        assert_eq!(response.status(), 200);
        let next = response
            .headers()
            .get("x-next-cursor")
            .map(|v| v.to_str().unwrap().to_owned());
        let page: Value = response.json().await.unwrap();
        let page = page.as_array().unwrap();
        assert!(page.len() <= 7);
        seen.extend(page.iter().map(id));
        match next {
            Some(cursor) => path = format!("{SESSIONS}?limit=7&before={}", urlencode(&cursor)),
            None => break,
        }
        assert!(seen.len() <= 105, "paging does not terminate");
    }
    assert_eq!(seen, all, "pages concatenate to the full list, in order");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 105);

    // The timestamp-only cursor means "strictly older".
    let list = get_json(&app, &format!("{SESSIONS}?limit=200")).await;
    let t = list[0]["updated_at"].as_str().unwrap().to_owned();
    let older = get_json(
        &app,
        &format!("{SESSIONS}?limit=200&before={}", urlencode(&t)),
    )
    .await;
    assert!(older
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["updated_at"].as_str().unwrap() < t.as_str()));
    assert!(older.as_array().unwrap().len() < 105);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn list_rejects_bad_paging_parameters_with_422() {
    let app = spawn_app().await;
    for query in [
        "limit=0",
        "limit=201",
        "limit=abc",
        "before=yesterday",
        "before=2026-01-01T00:00:00Z,nope",
    ] {
        let body = assert_envelope(
            app.get(&format!("{SESSIONS}?{query}")).await,
            422,
            "VALIDATION_ERROR",
        )
        .await;
        assert_eq!(body["detail"][0]["loc"][0], "query", "{query}: {body}");
    }
}

// ---------------------------------------------------------------------------------------------
// Get, ids, scoping

#[tokio::test]
async fn get_returns_the_session_with_messages_in_order() {
    let app = spawn_app().await;
    let session = create(&app, json!({ "title": "t", "system_prompt": "sp" })).await;
    let sid = id(&session);
    let first = append(&app, &sid, "system", "be nice").await;
    let second = append(&app, &sid, "user", "hello").await;
    let third = append(&app, &sid, "assistant", "hi").await;

    let detail = get_json(&app, &format!("{SESSIONS}/{sid}")).await;
    assert_eq!(detail["id"], sid.as_str());
    assert_eq!(detail["title"], "t");
    assert_eq!(detail["system_prompt"], "sp");
    assert_eq!(detail["user_id"], SEEDED_USER);
    assert_eq!(detail["message_count"], 3);
    let messages = detail["messages"].as_array().unwrap();
    assert_eq!(messages, &vec![first, second, third]);
    assert_eq!(messages[1]["role"], "user");
    assert!(messages[1].get("meta").is_some_and(Value::is_null));
    // The last append bumped updated_at to its own created_at.
    assert_eq!(detail["updated_at"], messages[2]["created_at"]);
}

#[tokio::test]
async fn session_ids_are_parsed_leniently() {
    let app = spawn_app().await;
    let sid = id(&create(&app, json!({})).await);
    let uuid = Uuid::parse_str(&sid).unwrap();
    for spelling in [
        uuid.simple().to_string(),
        sid.to_uppercase(),
        format!("%7B{sid}%7D"),
        format!("urn:uuid:{sid}"),
    ] {
        let detail = get_json(&app, &format!("{SESSIONS}/{spelling}")).await;
        assert_eq!(detail["id"], sid.as_str(), "{spelling}");
    }
}

#[tokio::test]
async fn malformed_ids_are_400_and_unknown_ids_404_on_every_route() {
    let app = spawn_app().await;
    let unknown = Uuid::new_v4();
    let routes = |sid: &str| {
        vec![
            (Method::GET, format!("{SESSIONS}/{sid}"), None),
            (
                Method::PATCH,
                format!("{SESSIONS}/{sid}"),
                Some(json!({ "title": "x" })),
            ),
            (Method::DELETE, format!("{SESSIONS}/{sid}"), None),
            (
                Method::POST,
                format!("{SESSIONS}/{sid}/messages"),
                Some(json!({ "role": "user", "content": "x" })),
            ),
            (Method::GET, format!("{SESSIONS}/{sid}/export"), None),
        ]
    };
    for (method, path, body) in routes("not-a-uuid") {
        let response = send(&app, method.clone(), &path, body).await;
        assert_detail(response, 400, "VALIDATION_ERROR", "Invalid session id").await;
    }
    for (method, path, body) in routes(&unknown.to_string()) {
        let response = send(&app, method.clone(), &path, body).await;
        assert_detail(response, 404, "NOT_FOUND", "Session not found").await;
    }
}

#[tokio::test]
async fn body_validation_is_checked_before_the_id() {
    let app = spawn_app().await;
    let response = send(
        &app,
        Method::PATCH,
        &format!("{SESSIONS}/not-a-uuid"),
        Some(json!({ "title": "x".repeat(201) })),
    )
    .await;
    assert_envelope(response, 422, "VALIDATION_ERROR").await;
    let response = app
        .post_json(
            &format!("{SESSIONS}/not-a-uuid/messages"),
            &json!({ "role": "user", "content": "" }),
        )
        .await;
    assert_envelope(response, 422, "VALIDATION_ERROR").await;
    let response = app
        .get(&format!("{SESSIONS}/not-a-uuid/export?format=pdf"))
        .await;
    assert_envelope(response, 422, "VALIDATION_ERROR").await;
}

#[tokio::test]
async fn another_users_sessions_are_invisible() {
    let app = spawn_app().await;
    let other_user = Uuid::new_v4();
    let other_session = Uuid::new_v4();
    sqlx::query("INSERT INTO users (id, email) VALUES ($1, 'other@example.com')")
        .bind(other_user)
        .execute(&app.state.db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO chat_sessions (id, user_id, title) VALUES ($1, $2, 'theirs')")
        .bind(other_session)
        .bind(other_user)
        .execute(&app.state.db)
        .await
        .unwrap();
    let mine = id(&create(&app, json!({ "title": "mine" })).await);

    let list = get_json(&app, SESSIONS).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], mine.as_str());
    for (method, path, body) in [
        (Method::GET, format!("{SESSIONS}/{other_session}"), None),
        (
            Method::PATCH,
            format!("{SESSIONS}/{other_session}"),
            Some(json!({ "title": "mine now" })),
        ),
        (
            Method::POST,
            format!("{SESSIONS}/{other_session}/messages"),
            Some(json!({ "role": "user", "content": "hi" })),
        ),
        (
            Method::GET,
            format!("{SESSIONS}/{other_session}/export"),
            None,
        ),
        (Method::DELETE, format!("{SESSIONS}/{other_session}"), None),
    ] {
        assert_detail(
            send(&app, method, &path, body).await,
            404,
            "NOT_FOUND",
            "Session not found",
        )
        .await;
    }
    let (title, count): (String, i32) =
        sqlx::query_as("SELECT title, message_count FROM chat_sessions WHERE id = $1")
            .bind(other_session)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!((title.as_str(), count), ("theirs", 0), "untouched");
}

// ---------------------------------------------------------------------------------------------
// Patch

#[tokio::test]
async fn patch_applies_only_given_values_and_moves_updated_at_only_on_change() {
    let app = spawn_app().await;
    let session = create(&app, json!({ "title": "t", "system_prompt": "sp" })).await;
    let sid = id(&session);
    append(&app, &sid, "user", "hello").await;
    let path = format!("{SESSIONS}/{sid}");
    let before = get_json(&app, &path).await;

    let patch = |body: Value| send(&app, Method::PATCH, &path, Some(body));
    // No-op bodies: {} and nulls, and the same values again.
    for body in [
        json!({}),
        json!({ "title": null, "system_prompt": null }),
        json!({ "title": "t", "system_prompt": "sp" }),
    ] {
        let response = patch(body.clone()).await;
        assert_eq!(response.status(), 200, "{body}");
        let out: Value = response.json().await.unwrap();
        assert_eq!(out["title"], "t");
        assert_eq!(out["system_prompt"], "sp");
        assert_eq!(out["updated_at"], before["updated_at"], "{body}");
        assert_eq!(out["message_count"], 1, "the real count, not 0");
        assert!(out.get("messages").is_none());
    }

    let out: Value = patch(json!({ "title": "renamed" }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(out["title"], "renamed");
    assert_eq!(out["system_prompt"], "sp");
    assert!(out["updated_at"].as_str().unwrap() > before["updated_at"].as_str().unwrap());
    assert_eq!(out["created_at"], before["created_at"]);

    // An empty title is applied on PATCH (unlike create).
    let out: Value = patch(json!({ "title": "", "system_prompt": "new" }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(out["title"], "");
    assert_eq!(out["system_prompt"], "new");
}

#[tokio::test]
async fn patch_rejects_missing_null_and_invalid_bodies() {
    let app = spawn_app().await;
    let sid = id(&create(&app, json!({})).await);
    let path = format!("{SESSIONS}/{sid}");
    let no_body = app.client.patch(app.url(&path)).send().await.unwrap();
    assert_envelope(no_body, 422, "VALIDATION_ERROR").await;
    assert_envelope(
        send(&app, Method::PATCH, &path, Some(Value::Null)).await,
        422,
        "VALIDATION_ERROR",
    )
    .await;
    let body = assert_envelope(
        send(
            &app,
            Method::PATCH,
            &path,
            Some(json!({ "system_prompt": "x".repeat(20_001) })),
        )
        .await,
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(body["detail"][0]["loc"], json!(["body", "system_prompt"]));
}

// ---------------------------------------------------------------------------------------------
// Delete

#[tokio::test]
async fn delete_is_204_with_an_empty_body_removes_messages_and_repeats_404() {
    let app = spawn_app().await;
    let sid = id(&create(&app, json!({})).await);
    append(&app, &sid, "user", "hello").await;
    let path = format!("{SESSIONS}/{sid}");

    let response = send(&app, Method::DELETE, &path, None).await;
    assert_eq!(response.status(), 204);
    assert!(response.headers().get("content-type").is_none());
    assert!(response.bytes().await.unwrap().is_empty());

    let (left,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM chat_messages WHERE session_id = $1")
            .bind(Uuid::parse_str(&sid).unwrap())
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(left, 0);
    assert_detail(app.get(&path).await, 404, "NOT_FOUND", "Session not found").await;
    assert_detail(
        send(&app, Method::DELETE, &path, None).await,
        404,
        "NOT_FOUND",
        "Session not found",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Append

#[tokio::test]
async fn append_returns_201_stores_meta_verbatim_and_bumps_the_session() {
    let app = spawn_app().await;
    let session = create(&app, json!({})).await;
    let sid = id(&session);
    let meta =
        json!({ "model": "llama-3.3-70b-versatile", "latency_ms": 412, "nested": { "a": [1, 2] } });
    let response = app
        .post_json(
            &format!("{SESSIONS}/{sid}/messages"),
            &json!({ "role": "assistant", "content": "Hi there", "meta": meta }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let message: Value = response.json().await.unwrap();
    assert_eq!(message["session_id"], sid.as_str());
    assert_eq!(message["role"], "assistant");
    assert_eq!(message["content"], "Hi there");
    assert_eq!(message["meta"], meta);
    assert_contract_timestamp(&message["created_at"]);
    Uuid::parse_str(message["id"].as_str().unwrap()).unwrap();

    let detail = get_json(&app, &format!("{SESSIONS}/{sid}")).await;
    assert_eq!(detail["updated_at"], message["created_at"]);
    assert!(detail["updated_at"].as_str().unwrap() > session["updated_at"].as_str().unwrap());
    // The reference never auto-titles on a plain append.
    assert_eq!(detail["title"], "New Chat");

    // Content limits are inclusive and in code points.
    let long = "é".repeat(100_000);
    assert_eq!(
        append(&app, &sid, "user", &long).await["content"],
        long.as_str()
    );
}

#[tokio::test]
async fn append_rejects_bad_roles_content_and_meta_with_422() {
    let app = spawn_app().await;
    let sid = id(&create(&app, json!({})).await);
    let path = format!("{SESSIONS}/{sid}/messages");
    let cases = [
        (json!({ "role": "robot", "content": "x" }), "role", "enum"),
        (json!({ "content": "x" }), "role", "missing"),
        (json!({ "role": "user" }), "content", "missing"),
        (
            json!({ "role": "user", "content": "" }),
            "content",
            "string_too_short",
        ),
        (
            json!({ "role": "user", "content": "x".repeat(100_001) }),
            "content",
            "string_too_long",
        ),
        (
            json!({ "role": "user", "content": "x", "meta": [1] }),
            "meta",
            "dict_type",
        ),
        (
            json!({ "role": "user", "content": "x", "meta": "s" }),
            "meta",
            "dict_type",
        ),
        (
            json!({ "role": "user", "content": "x", "meta": { "big": "x".repeat(16 * 1024) } }),
            "meta",
            "too_long",
        ),
    ];
    for (body, field, kind) in cases {
        let out = assert_envelope(app.post_json(&path, &body).await, 422, "VALIDATION_ERROR").await;
        assert_eq!(out["detail"][0]["loc"], json!(["body", field]), "{out}");
        assert_eq!(out["detail"][0]["type"], kind, "{out}");
    }
    let no_body = app.client.post(app.url(&path)).send().await.unwrap();
    assert_envelope(no_body, 422, "VALIDATION_ERROR").await;
    assert_eq!(
        get_json(&app, &format!("{SESSIONS}/{sid}")).await["message_count"],
        0
    );
}

#[tokio::test]
async fn fifty_concurrent_appends_are_all_stored_in_one_stable_order() {
    let app = spawn_app().await;
    let sid = id(&create(&app, json!({})).await);
    let sends = (0..50).map(|i| {
        let client = app.client.clone();
        let url = app.url(&format!("{SESSIONS}/{sid}/messages"));
        async move {
            let response = client
                .post(url)
                .json(&json!({ "role": "user", "content": format!("message {i}") }))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201);
            response.json::<Value>().await.unwrap()
        }
    });
    let created = futures::future::join_all(sends).await;
    assert_eq!(created.len(), 50);

    let path = format!("{SESSIONS}/{sid}");
    let first = get_json(&app, &path).await;
    let second = get_json(&app, &path).await;
    assert_eq!(first["message_count"], 50);
    assert_eq!(
        first["messages"], second["messages"],
        "listing twice yields the same order"
    );
    let contents: HashSet<&str> = first["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents.len(), 50, "none lost");
    let listed = get_json(&app, SESSIONS).await;
    assert_eq!(listed[0]["message_count"], 50);

    // Both ordering keys increase strictly along the listing: insertion order.
    let rows: Vec<(chrono::DateTime<chrono::Utc>, i64)> = sqlx::query_as(
        "SELECT created_at, seq FROM chat_messages WHERE session_id = $1 ORDER BY created_at, seq",
    )
    .bind(Uuid::parse_str(&sid).unwrap())
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    assert_eq!(rows.len(), 50);
    for pair in rows.windows(2) {
        assert!(
            pair[0].0 < pair[1].0,
            "created_at strictly increasing: {pair:?}"
        );
        assert!(pair[0].1 < pair[1].1, "seq strictly increasing: {pair:?}");
    }
    let last = first["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(first["updated_at"], last["created_at"]);
}

// ---------------------------------------------------------------------------------------------
// Export

#[tokio::test]
async fn export_markdown_is_an_attachment_with_a_section_per_message() {
    let app = spawn_app().await;
    let sid = id(&create(&app, json!({ "title": "Trip to Rome: day 1!" })).await);
    append(&app, &sid, "user", "Where should we eat?").await;
    append(&app, &sid, "assistant", "Try **Trastevere**.").await;
    append(&app, &sid, "system", "note").await;

    for path in [
        format!("{SESSIONS}/{sid}/export"),
        format!("{SESSIONS}/{sid}/export?format=markdown"),
    ] {
        let response = app.get(&path).await;
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/markdown"));
        assert_eq!(
            response.headers()["content-disposition"],
            "attachment; filename=\"trip-to-rome-day-1.md\""
        );
        let text = response.text().await.unwrap();
        assert!(
            text.starts_with("# Trip to Rome: day 1!\n\n_Exported "),
            "{text}"
        );
        let you = text.find("## You\n\nWhere should we eat?").unwrap();
        let assistant = text.find("## Assistant\n\nTry **Trastevere**.").unwrap();
        let system = text.find("## System\n\nnote").unwrap();
        assert!(you < assistant && assistant < system, "{text}");
    }
}

#[tokio::test]
async fn export_json_is_the_session_detail() {
    let app = spawn_app().await;
    let sid = id(&create(&app, json!({})).await);
    append(&app, &sid, "user", "hello").await;
    let response = app
        .get(&format!("{SESSIONS}/{sid}/export?format=json"))
        .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"new-chat.json\""
    );
    let exported: Value = response.json().await.unwrap();
    assert_eq!(exported, get_json(&app, &format!("{SESSIONS}/{sid}")).await);
}

#[tokio::test]
async fn export_rejects_unknown_formats_with_422() {
    let app = spawn_app().await;
    let sid = id(&create(&app, json!({})).await);
    for format in ["pdf", "", "MARKDOWN"] {
        let body = assert_envelope(
            app.get(&format!("{SESSIONS}/{sid}/export?format={format}"))
                .await,
            422,
            "VALIDATION_ERROR",
        )
        .await;
        assert_eq!(
            body["detail"][0]["loc"],
            json!(["query", "format"]),
            "{body}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// OpenAPI

#[tokio::test]
async fn every_chat_endpoint_is_in_the_openapi_document() {
    let app = spawn_app().await;
    let doc = get_json(&app, "/openapi.json").await;
    let paths = &doc["paths"];
    for (path, methods) in [
        ("/api/v1/chat/sessions", &["get", "post"][..]),
        (
            "/api/v1/chat/sessions/{id}",
            &["get", "patch", "delete"][..],
        ),
        ("/api/v1/chat/sessions/{id}/messages", &["post"][..]),
        ("/api/v1/chat/sessions/{id}/export", &["get"][..]),
        ("/api/v1/chat/search", &["get"][..]),
    ] {
        for method in methods {
            assert!(
                paths[path][method].is_object(),
                "{method} {path} documented"
            );
        }
    }
    for schema in [
        "ChatSessionOut",
        "ChatSessionDetail",
        "ChatMessageOut",
        "ChatSearchResponse",
        "ChatSearchHit",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}
