//! `GET /api/v1/chat/search`: ranking, HTML-safe snippets, per-user scoping, validation.

// Test helpers fail loudly, like the tests that call them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{assert_envelope, spawn_app, TestApp};

const SEARCH: &str = "/api/v1/chat/search";

async fn session_with(
    app: &TestApp,
    title: &str,
    messages: &[(&str, &str)],
) -> (String, Vec<String>) {
    let response = app
        .post_json("/api/v1/chat/sessions", &json!({ "title": title }))
        .await;
    assert_eq!(response.status(), 201);
    let sid = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ids = Vec::new();
    for (role, content) in messages {
        let response = app
            .post_json(
                &format!("/api/v1/chat/sessions/{sid}/messages"),
                &json!({ "role": role, "content": content }),
            )
            .await;
        assert_eq!(response.status(), 201);
        ids.push(
            response.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    (sid, ids)
}

async fn search(app: &TestApp, query: &str) -> Vec<Value> {
    let response = app.get(&format!("{SEARCH}?{query}")).await;
    assert_eq!(response.status(), 200, "{query}");
    let body: Value = response.json().await.unwrap();
    body["results"].as_array().unwrap().clone()
}

#[tokio::test]
async fn search_ranks_a_message_with_all_words_above_one_with_one() {
    let app = spawn_app().await;
    let (_, one) = session_with(
        &app,
        "ops",
        &[("user", "We will deploy on Friday afternoon.")],
    )
    .await;
    let (all_sid, all) = session_with(
        &app,
        "release plan",
        &[
            ("user", "Nothing relevant in this one."),
            (
                "assistant",
                "Deploy the gateway on Friday and keep a rollback plan ready.",
            ),
        ],
    )
    .await;

    let results = search(&app, "q=deploy%20or%20gateway%20or%20rollback").await;
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(results[0]["message_id"], all[1].as_str());
    assert_eq!(results[1]["message_id"], one[0].as_str());
    assert!(results[0]["rank"].as_f64().unwrap() > results[1]["rank"].as_f64().unwrap());

    let hit = &results[0];
    assert_eq!(hit["session_id"], all_sid.as_str());
    assert_eq!(hit["session_title"], "release plan");
    assert_eq!(hit["role"], "assistant");
    let snippet = hit["snippet"].as_str().unwrap();
    assert!(
        snippet.contains("<mark>Deploy</mark>") && snippet.contains("<mark>gateway</mark>"),
        "{snippet}"
    );
    assert!(hit["created_at"].as_str().unwrap().ends_with('Z'));
    let keys: Vec<&str> = hit
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "session_id",
        "session_title",
        "message_id",
        "role",
        "snippet",
        "created_at",
        "rank",
    ] {
        assert!(keys.contains(&key), "{key} in {keys:?}");
    }

    // Plain words mean all of them (web-search syntax); stemming matches "deployed".
    let results = search(&app, "q=deployed%20gateway").await;
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["message_id"], all[1].as_str());
    // Stop words only, or no match at all: an empty list, not an error.
    assert!(search(&app, "q=the").await.is_empty());
    assert!(search(&app, "q=kubernetes").await.is_empty());
}

#[tokio::test]
async fn snippets_escape_html_and_only_mark_matches() {
    let app = spawn_app().await;
    session_with(
        &app,
        "xss",
        &[(
            "user",
            "<script>alert('owned')</script> please deploy & \"verify\" it \u{E000}forged\u{E001}",
        )],
    )
    .await;
    let results = search(&app, "q=deploy").await;
    assert_eq!(results.len(), 1);
    let snippet = results[0]["snippet"].as_str().unwrap();
    assert!(snippet.contains("<mark>deploy</mark>"), "{snippet}");
    assert!(!snippet.contains("<script>"), "{snippet}");
    assert!(
        snippet.contains("&lt;script&gt;") || !snippet.contains("script"),
        "{snippet}"
    );
    let without_marks = snippet.replace("<mark>", "").replace("</mark>", "");
    assert!(
        !without_marks.contains('<') && !without_marks.contains('>'),
        "{snippet}"
    );
    assert_eq!(
        snippet.matches("<mark>").count(),
        1,
        "markers in a message cannot forge a highlight: {snippet}"
    );
}

#[tokio::test]
async fn search_never_returns_another_users_messages() {
    let app = spawn_app().await;
    let (mine, _) = session_with(&app, "mine", &[("user", "quarterly budget review")]).await;
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
    sqlx::query(
        "INSERT INTO chat_messages (id, session_id, role, content) \
         VALUES ($1, $2, 'user', 'secret quarterly budget numbers')",
    )
    .bind(Uuid::new_v4())
    .bind(other_session)
    .execute(&app.state.db)
    .await
    .unwrap();

    let results = search(&app, "q=quarterly%20budget").await;
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["session_id"], mine.as_str());

    // The scoping query itself, run as the other user, sees only theirs.
    let theirs =
        gateway::chat::repo::search_messages(&app.state.db, other_user, "quarterly budget", 20)
            .await
            .unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].session_id, other_session);
    assert_eq!(theirs[0].session_title, "theirs");
}

#[tokio::test]
async fn search_limit_defaults_to_20_and_is_honoured() {
    let app = spawn_app().await;
    let messages: Vec<(&str, String)> = (0..25)
        .map(|i| ("user", format!("release note number {i}")))
        .collect();
    let refs: Vec<(&str, &str)> = messages.iter().map(|(r, c)| (*r, c.as_str())).collect();
    session_with(&app, "notes", &refs).await;
    assert_eq!(search(&app, "q=release").await.len(), 20);
    assert_eq!(search(&app, "q=release&limit=5").await.len(), 5);
    assert_eq!(search(&app, "q=release&limit=100").await.len(), 25);
}

#[tokio::test]
async fn search_rejects_missing_blank_and_long_queries_and_bad_limits_with_422() {
    let app = spawn_app().await;
    let long = "x".repeat(201);
    for (query, field) in [
        (String::new(), "q"),
        ("q=".to_owned(), "q"),
        ("q=%20%20%09".to_owned(), "q"),
        (format!("q={long}"), "q"),
        ("q=ok&limit=0".to_owned(), "limit"),
        ("q=ok&limit=101".to_owned(), "limit"),
        ("q=ok&limit=ten".to_owned(), "limit"),
    ] {
        let body = assert_envelope(
            app.get(&format!("{SEARCH}?{query}")).await,
            422,
            "VALIDATION_ERROR",
        )
        .await;
        assert_eq!(
            body["detail"][0]["loc"],
            json!(["query", field]),
            "{query}: {body}"
        );
    }
    // 200 code points is still fine.
    assert!(search(&app, &format!("q={}", "é".repeat(200)))
        .await
        .is_empty());
}

/// Any text a search box can send answers 200 or 422, never 500: operator soup (runs of `-`,
/// quotes, `or`, `<->`, brackets) generated by proptest against the real Postgres parser. Fifty
/// `-` answered 500 ("tsquery stack too small") before `chat::search_query`.
#[tokio::test]
async fn any_search_text_answers_200_or_422_never_500() {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::{Config, TestRunner};

    let app = spawn_app().await;
    session_with(
        &app,
        "words",
        &[("user", "negation is not-a-problem, or is it? x y")],
    )
    .await;
    let fixed = [
        "-".repeat(50),
        "- ".repeat(50) + "x",
        "-!".repeat(60) + "x",
        "(-".repeat(60) + "x",
        "-|".repeat(60) + "x",
        "\"-".repeat(60) + "x",
    ];
    let pieces = proptest::sample::select(vec![
        "-", "- ", "\"", " ", "!", "(", ")", "&", "|", ":*", "<->", "x", "é", "or ", "1", "'",
        "\\", "not", "%", "+",
    ]);
    let soup = proptest::collection::vec(pieces, 1..120).prop_map(|parts| {
        let text: String = parts.concat();
        text.chars().take(200).collect::<String>()
    });
    let mut runner = TestRunner::new(Config::default());
    let generated = (0..64).map(|_| soup.new_tree(&mut runner).unwrap().current());
    for q in fixed.into_iter().chain(generated) {
        let response = app
            .client
            .get(app.url(SEARCH))
            .query(&[("q", q.as_str())])
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!(status == 200 || status == 422, "{q:?} answered {status}");
    }
}
