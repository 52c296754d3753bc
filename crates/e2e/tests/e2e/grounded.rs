//! Knowledge II through the gateway: answers grounded in the caller's files, with numbered
//! sources (the mock provider quotes passage [1] and cites it), stored with the answer, sent
//! first on a stream that asks for them, refused for another user's files, shared fairly
//! between files, and still readable after the file is deleted.

use e2e::{assert_envelope, Stack};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::files::{call, ready_files, sign_up};

pub(crate) const SECRET: &str = "e2e-test-signing-secret-0123456789abcdef";

pub(crate) const DOCS: [(&str, &str); 3] = [
    ("backups.md", "# Operations\n\n## Backups\n\nThe database is backed up every night at 02:00 with pg_dump; copies are kept for 30 days.\n"),
    ("holidays.md", "# People\n\n## Holidays\n\nEvery employee gets 25 days of paid holiday a year, booked in the HR portal.\n"),
    ("install.md", "# Setup\n\n## Installation\n\nDownload the installer, run it, then start the gateway with make run.\n"),
];

pub(crate) const QUESTION: &str = "How often is the database backed up?";

/// The events of an SSE body: `(event name, data)`, `""` for unnamed events.
pub(crate) fn events(body: &str) -> Vec<(String, String)> {
    body.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut name = String::new();
            let mut data = String::new();
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = d.to_owned();
                }
            }
            (name, data)
        })
        .collect()
}

/// The text of the token events.
fn text_of(events: &[(String, String)]) -> String {
    events
        .iter()
        .filter(|(name, data)| name.is_empty() && data.starts_with('"'))
        .map(|(_, data)| serde_json::from_str::<String>(data).unwrap())
        .collect()
}

pub(crate) fn last_answer(session: &Value) -> Value {
    session["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_chat_with_a_collection_answers_with_numbered_sources_it_cites_and_stores() {
    let stack = Stack::start().await;
    let ids = ready_files(&stack, None, &DOCS).await;
    let collection: Value = stack
        .post(
            "/api/v1/collections",
            &json!({"name": "Ops and people", "file_ids": [ids[0], ids[1]]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let response = stack
        .post(
            "/api/v1/chat/sessions",
            &json!({"title": "Grounded", "knowledge": {"collection_ids": [collection["id"]]}}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let session: Value = response.json().await.unwrap();
    let sid = session["id"].as_str().unwrap().to_owned();
    assert_eq!(
        session["knowledge"],
        json!({"collection_ids": [collection["id"]], "file_ids": []})
    );

    // The stream that asks for it gets the sources first, then the tokens.
    let body = stack
        .post(
            "/api/v1/generate/stream?meta=1",
            &json!({"prompt": QUESTION, "session_id": sid}),
        )
        .await
        .text()
        .await
        .unwrap();
    let streamed = events(&body);
    assert_eq!(streamed[0].0, "meta", "{body}");
    let meta: Value = serde_json::from_str(&streamed[0].1).unwrap();
    let sources = meta["sources"].as_array().unwrap().clone();
    assert!(!sources.is_empty(), "{meta}");
    assert_eq!(sources[0]["n"], 1);
    assert_eq!(sources[0]["filename"], "backups.md", "{meta}");
    assert_eq!(sources[0]["heading"], "Operations > Backups");
    assert!(sources[0]["snippet"].as_str().unwrap().contains("pg_dump"));
    for (i, s) in sources.iter().enumerate() {
        assert_eq!(s["n"], i + 1);
        // Only the collection's files: install.md is not in it.
        assert_ne!(s["filename"], "install.md", "{meta}");
        for key in ["file_id", "chunk_id", "score", "page", "heading", "snippet"] {
            assert!(s.get(key).is_some(), "{key} missing in {s}");
        }
    }
    assert_eq!(streamed.last().unwrap().1, "[DONE]");
    let text = text_of(&streamed);
    assert!(
        text.contains("From your files: \"") && text.contains("pg_dump"),
        "{text}"
    );
    assert!(text.contains("[1]"), "{text}");

    // Stored with the answer: the same sources, and the numbers it cites, all of which exist.
    let stored = stack
        .get_json(&format!("/api/v1/chat/sessions/{sid}"))
        .await;
    let answer = last_answer(&stored);
    assert_eq!(answer["role"], "assistant");
    assert_eq!(answer["meta"]["sources"], json!(sources));
    assert_eq!(answer["meta"]["cited"], json!([1]));
    // And in the JSON export.
    let export = stack
        .get_json(&format!("/api/v1/chat/sessions/{sid}/export?format=json"))
        .await;
    assert_eq!(
        export["messages"].as_array().unwrap().last().unwrap()["meta"]["sources"],
        json!(sources)
    );

    // Without `?meta=1` the stream keeps the contract's bytes: the first event is a token.
    let body = stack
        .post(
            "/api/v1/generate/stream",
            &json!({"prompt": QUESTION, "session_id": sid}),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(body.starts_with("data: \"["), "{body}");
    assert!(!body.contains("event:"), "{body}");

    // A regenerated answer is a new version with its own sources; the first keeps its own.
    let regenerated = stack
        .post(
            "/api/v1/generate",
            &json!({"prompt": "When are copies deleted?", "session_id": sid,
                    "replace_from_message_id": answer["parent_id"]}),
        )
        .await;
    assert_eq!(regenerated.status(), StatusCode::OK);
    let regenerated: Value = regenerated.json().await.unwrap();
    assert!(regenerated["sources"].as_array().is_some(), "{regenerated}");
    let now = stack
        .get_json(&format!("/api/v1/chat/sessions/{sid}"))
        .await;
    assert_eq!(now["messages"].as_array().unwrap().len(), 2);
    let new_answer = last_answer(&now);
    assert_ne!(new_answer["id"], answer["id"]);
    assert_eq!(new_answer["meta"]["sources"], regenerated["sources"]);
    let back = stack
        .client
        .post(stack.url(&format!(
            "/api/v1/chat/sessions/{sid}/messages/{}/activate",
            answer["parent_id"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap();
    assert!(back.status().is_success(), "{}", back.status());
    let back = stack
        .get_json(&format!("/api/v1/chat/sessions/{sid}"))
        .await;
    assert_eq!(back["messages"][1]["id"], answer["id"]);
    assert_eq!(back["messages"][1]["meta"]["sources"], json!(sources));

    // The same question in a chat without knowledge: no sources anywhere.
    let plain: Value = stack
        .post("/api/v1/chat/sessions", &json!({"title": "Plain"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        plain["knowledge"],
        json!({"collection_ids": [], "file_ids": []})
    );
    let pid = plain["id"].as_str().unwrap();
    let body = stack
        .post(
            "/api/v1/generate/stream?meta=1",
            &json!({"prompt": QUESTION, "session_id": pid}),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(!body.contains("event: meta"), "{body}");
    assert!(!text_of(&events(&body)).contains("[1]"));
    let answer = last_answer(
        &stack
            .get_json(&format!("/api/v1/chat/sessions/{pid}"))
            .await,
    );
    assert!(answer["meta"].get("sources").is_none(), "{answer}");
    assert!(answer["meta"].get("cited").is_none(), "{answer}");

    // One request may name files itself, without a session: sources in the response.
    let answer: Value = stack
        .post(
            "/api/v1/generate",
            &json!({"prompt": "how many days of holiday do employees get", "file_ids": [ids[1]]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["sources"][0]["filename"], "holidays.md", "{answer}");
    assert_eq!(answer["cited"], json!([1]));
    assert!(
        answer["text"].as_str().unwrap().contains("25 days"),
        "{answer}"
    );
    let answer: Value = stack
        .post("/api/v1/generate", &json!({"prompt": QUESTION}))
        .await
        .json()
        .await
        .unwrap();
    assert!(answer.get("sources").is_none(), "{answer}");
}

#[tokio::test]
async fn another_users_files_are_refused_and_never_retrieved() {
    let stack = Stack::start_with(&["--auth-mode", "jwt", "--jwt-secret", SECRET]).await;
    let alice = sign_up(&stack, "alice@example.com").await;
    let bob = sign_up(&stack, "bob@example.com").await;
    let (a, b) = (Some(alice.as_str()), Some(bob.as_str()));
    let alices = ready_files(&stack, a, &DOCS[..1]).await;
    let collection: Value = call(
        &stack,
        Method::POST,
        "/api/v1/collections",
        a,
        Some(json!({"name": "Alice's", "file_ids": [alices[0]]})),
    )
    .await
    .json()
    .await
    .unwrap();
    let unknown = uuid::Uuid::new_v4().to_string();

    // Creating or patching a chat with them: 404 in the envelope, nothing stored.
    for (knowledge, code) in [
        (json!({"file_ids": [alices[0]]}), "FILE_NOT_FOUND"),
        (json!({"file_ids": [unknown]}), "FILE_NOT_FOUND"),
        (
            json!({"collection_ids": [collection["id"]]}),
            "COLLECTION_NOT_FOUND",
        ),
    ] {
        let response = call(
            &stack,
            Method::POST,
            "/api/v1/chat/sessions",
            b,
            Some(json!({"title": "x", "knowledge": knowledge})),
        )
        .await;
        assert_envelope(response, 404, code).await;
    }
    let sessions: Value = call(&stack, Method::GET, "/api/v1/chat/sessions", b, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sessions.as_array().unwrap().len(), 0, "{sessions}");
    let session: Value = call(
        &stack,
        Method::POST,
        "/api/v1/chat/sessions",
        b,
        Some(json!({"title": "Bob's"})),
    )
    .await
    .json()
    .await
    .unwrap();
    let sid = session["id"].as_str().unwrap();
    let response = call(
        &stack,
        Method::PATCH,
        &format!("/api/v1/chat/sessions/{sid}"),
        b,
        Some(json!({"knowledge": {"file_ids": [alices[0]]}})),
    )
    .await;
    assert_envelope(response, 404, "FILE_NOT_FOUND").await;
    // Alice cannot put files on Bob's chat either (his chat is not hers: plain 404).
    let response = call(
        &stack,
        Method::PATCH,
        &format!("/api/v1/chat/sessions/{sid}"),
        a,
        Some(json!({"knowledge": {"file_ids": [alices[0]]}})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // Generating with them: 404 before anything is stored or retrieved.
    for path in ["/api/v1/generate", "/api/v1/generate/stream?meta=1"] {
        let response = call(
            &stack,
            Method::POST,
            path,
            b,
            Some(json!({"prompt": QUESTION, "session_id": sid, "file_ids": [alices[0]]})),
        )
        .await;
        assert_envelope(response, 404, "FILE_NOT_FOUND").await;
    }
    let stored: Value = call(
        &stack,
        Method::GET,
        &format!("/api/v1/chat/sessions/{sid}"),
        b,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(stored["messages"].as_array().unwrap().len(), 0, "{stored}");
    assert_eq!(stored["knowledge"]["file_ids"], json!([]));

    // Bob's own knowledge never reaches Alice's passages, even with her words.
    let bobs = ready_files(&stack, b, &DOCS[1..2]).await;
    let answer: Value = call(
        &stack,
        Method::POST,
        "/api/v1/generate",
        b,
        Some(json!({"prompt": "pg_dump backups every night", "file_ids": [bobs[0]]})),
    )
    .await
    .json()
    .await
    .unwrap();
    for source in answer["sources"].as_array().unwrap() {
        assert_eq!(source["file_id"], bobs[0].as_str(), "{answer}");
    }
    assert!(
        !answer.to_string().contains("pg_dump every night at 02:00"),
        "{answer}"
    );
}

#[tokio::test]
async fn the_budget_is_shared_across_files() {
    // 700 tokens of passages at most: one file whose every section is about backups (passages
    // of ~250 tokens) would fill it alone if passages were taken by score only.
    let stack = Stack::start_with(&["--grounding-budget-tokens", "700"]).await;
    let mut big = String::from("# Backups handbook\n\n");
    for i in 0..8 {
        big.push_str(&format!("## Backup rule {i}\n\n"));
        for _ in 0..14 {
            big.push_str(&format!(
                "Database backups rule {i}: the nightly database backup is checked and kept. "
            ));
        }
        big.push_str("\n\n");
    }
    let small =
        "# Notes\n\n## Misc\n\nThe database is also copied to tape for backups once a month.\n";
    let ids = ready_files(&stack, None, &[("handbook.md", &big), ("notes.md", small)]).await;
    let answer: Value = stack
        .post(
            "/api/v1/generate",
            &json!({"prompt": "database backups", "file_ids": [ids[0], ids[1]]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let sources = answer["sources"].as_array().unwrap();
    let from = |name: &str| sources.iter().filter(|s| s["filename"] == name).count();
    assert!(from("handbook.md") >= 1, "{answer}");
    assert_eq!(from("notes.md"), 1, "{answer}");
    let tokens: usize = sources
        .iter()
        .map(|s| s["snippet"].as_str().unwrap().chars().count().div_ceil(4))
        .sum();
    assert!(tokens <= 700, "{tokens} tokens: {answer}");
}

#[tokio::test]
async fn a_deleted_source_stays_readable_and_is_marked_deleted() {
    let stack = Stack::start().await;
    let ids = ready_files(&stack, None, &DOCS[..1]).await;
    let session: Value = stack
        .post(
            "/api/v1/chat/sessions",
            &json!({"knowledge": {"file_ids": [ids[0]]}}),
        )
        .await
        .json()
        .await
        .unwrap();
    let sid = session["id"].as_str().unwrap();
    let answer = stack
        .post(
            "/api/v1/generate",
            &json!({"prompt": QUESTION, "session_id": sid}),
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK);

    let response = call(
        &stack,
        Method::DELETE,
        &format!("/api/v1/files/{}", ids[0]),
        None,
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let stored = stack
        .get_json(&format!("/api/v1/chat/sessions/{sid}"))
        .await;
    let source = &last_answer(&stored)["meta"]["sources"][0];
    assert_eq!(source["deleted"], true, "{stored}");
    assert!(source["snippet"].as_str().unwrap().contains("pg_dump"));
    let file = call(
        &stack,
        Method::GET,
        &format!("/api/v1/files/{}", ids[0]),
        None,
        None,
    )
    .await;
    assert_envelope(file, 404, "FILE_NOT_FOUND").await;

    // The chat still names the file: the next turn is answered, with nothing found.
    let next = stack
        .post(
            "/api/v1/generate",
            &json!({"prompt": QUESTION, "session_id": sid}),
        )
        .await;
    assert_eq!(next.status(), StatusCode::OK);
    let next: Value = next.json().await.unwrap();
    assert_eq!(next["sources"], json!([]), "{next}");
    assert!(next["text"]
        .as_str()
        .unwrap()
        .contains("I could not find this in your files."));
}

#[tokio::test]
async fn a_continued_answer_keeps_its_sources_and_the_export_lists_them() {
    let stack = Stack::start().await;
    let ids = ready_files(&stack, None, &DOCS[..2]).await;
    let session: Value = stack
        .post(
            "/api/v1/chat/sessions",
            &json!({"title": "Cut", "knowledge": {"file_ids": ids}}),
        )
        .await
        .json()
        .await
        .unwrap();
    let sid = session["id"].as_str().unwrap();
    // Cut at 3 tokens: "[Mock response from", before any citation.
    let cut: Value = stack
        .post(
            "/api/v1/generate",
            &json!({"prompt": QUESTION, "session_id": sid, "max_tokens": 3}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cut["finish_reason"], "length", "{cut}");
    let answer = last_answer(
        &stack
            .get_json(&format!("/api/v1/chat/sessions/{sid}"))
            .await,
    );
    let sources = answer["meta"]["sources"].clone();
    assert_eq!(sources[0]["filename"], "backups.md", "{answer}");
    assert_eq!(answer["meta"]["cited"], json!([]), "{answer}");

    let body = stack
        .client
        .post(stack.url(&format!(
            "/api/v1/chat/sessions/{sid}/messages/{}/continue",
            answer["id"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The model had the same passages again: the continuation quotes [1] and cites it.
    let continuation = text_of(&events(&body));
    assert!(
        continuation.contains("From your files: \"") && continuation.contains("pg_dump"),
        "{continuation}"
    );
    assert!(continuation.contains("[1]"), "{continuation}");
    let after = last_answer(
        &stack
            .get_json(&format!("/api/v1/chat/sessions/{sid}"))
            .await,
    );
    assert_eq!(after["id"], answer["id"], "appended to the same message");
    assert_eq!(
        after["meta"]["sources"], sources,
        "the same sources, same numbers"
    );
    assert_eq!(after["meta"]["cited"], json!([1]), "{after}");

    // The Markdown export lists them under the answer, numbered as cited.
    let markdown = stack
        .get(&format!(
            "/api/v1/chat/sessions/{sid}/export?format=markdown"
        ))
        .await
        .text()
        .await
        .unwrap();
    let list = markdown
        .split("**Sources:**\n\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no sources list: {markdown}"));
    assert!(
        list.starts_with(
            "1. backups.md, section \"Operations > Backups\": \"# Operations ## Backups The database is backed up"
        ),
        "{markdown}"
    );
    let n = sources.as_array().unwrap().len();
    for i in 2..=n {
        assert!(list.contains(&format!("\n{i}. ")), "{markdown}");
    }
    if n > 1 {
        assert!(list.contains("(not cited)"), "{markdown}");
    }
}
