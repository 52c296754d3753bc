//! Knowledge II on the OpenAI-compatible API: the extra body field `sable: {file_ids,
//! collection_ids}` grounds `/v1/chat/completions` exactly like the native path, the answer
//! carries `sources` (a whole answer at the top level, a stream on its first chunk), a session
//! named by `X-Sable-Session-Id` answers from its own knowledge and stores the sources, and
//! another user's ids are 404 in OpenAI's error shape. The official Python client is driven
//! through scripts/openai_sources_check.py.

use e2e::Stack;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::files::{call, ready_files, sign_up};
use super::grounded::{last_answer, DOCS, QUESTION, SECRET};

/// A model of the offline mock's list.
const MODEL: &str = "llama-3.3-70b-versatile";

fn completion(question: &str, sable: Option<Value>) -> Value {
    let mut body = json!({"model": MODEL, "messages": [{"role": "user", "content": question}]});
    if let Some(sable) = sable {
        body["sable"] = sable;
    }
    body
}

/// The JSON chunks of an OpenAI stream (without `[DONE]`).
fn chunks(body: &str) -> Vec<Value> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

#[tokio::test]
async fn the_sable_field_grounds_openai_requests_and_returns_the_sources() {
    let stack = Stack::start().await;
    let ids = ready_files(&stack, None, &DOCS).await;
    let knowledge = json!({"file_ids": [ids[0], ids[1]]});

    let response = stack
        .post(
            "/v1/chat/completions",
            &completion(QUESTION, Some(knowledge.clone())),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    let sources = answer["sources"].as_array().unwrap().clone();
    assert_eq!(sources[0]["n"], 1);
    assert_eq!(sources[0]["filename"], "backups.md", "{answer}");
    assert!(sources[0]["snippet"].as_str().unwrap().contains("pg_dump"));
    for s in &sources {
        assert_ne!(s["filename"], "install.md", "not named: {answer}");
    }
    assert_eq!(answer["cited"], json!([1]));
    let text = answer["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        text.contains("From your files: \"") && text.contains("pg_dump") && text.contains("[1]"),
        "{text}"
    );
    // The rest is the provider's answer as before.
    assert_eq!(answer["object"], "chat.completion");
    assert!(answer["usage"]["total_tokens"].as_u64().unwrap() > 0);

    // A stream: the same sources on its first chunk, on no other.
    let mut streamed = completion(QUESTION, Some(knowledge));
    streamed["stream"] = json!(true);
    let body = stack
        .post("/v1/chat/completions", &streamed)
        .await
        .text()
        .await
        .unwrap();
    let parts = chunks(&body);
    assert_eq!(parts[0]["sources"], json!(sources), "{body}");
    assert_eq!(parts[0]["object"], "chat.completion.chunk");
    assert!(
        parts[1..].iter().all(|c| c.get("sources").is_none()),
        "{body}"
    );
    let text: String = parts
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(text.contains("[1]"), "{text}");
    assert!(body.ends_with("data: [DONE]\n\n"));

    // Without knowledge: the provider's answer, no sources, no grounding.
    let plain: Value = stack
        .post("/v1/chat/completions", &completion(QUESTION, None))
        .await
        .json()
        .await
        .unwrap();
    assert!(plain.get("sources").is_none(), "{plain}");
    assert!(!plain["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .contains("From your files"));

    // A malformed field is 400 naming it; an unknown file 404, both in OpenAI's shape.
    let bad = stack
        .post(
            "/v1/chat/completions",
            &completion(QUESTION, Some(json!({"file_ids": ["nope"]}))),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let bad: Value = bad.json().await.unwrap();
    assert_eq!(bad["error"]["param"], "sable", "{bad}");
    let unknown = uuid::Uuid::new_v4();
    let missing = stack
        .post(
            "/v1/chat/completions",
            &completion(QUESTION, Some(json!({"collection_ids": [unknown]}))),
        )
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let missing: Value = missing.json().await.unwrap();
    assert_eq!(
        missing["error"]["code"], "collection_not_found",
        "{missing}"
    );
    assert_eq!(missing["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn a_session_named_by_header_answers_from_its_knowledge_and_stores_the_sources() {
    let stack = Stack::start().await;
    let ids = ready_files(&stack, None, &DOCS).await;
    let session: Value = stack
        .post(
            "/api/v1/chat/sessions",
            &json!({"title": "Via SDK", "knowledge": {"file_ids": [ids[1]]}}),
        )
        .await
        .json()
        .await
        .unwrap();
    let sid = session["id"].as_str().unwrap();
    let answer: Value = stack
        .client
        .post(stack.url("/v1/chat/completions"))
        .header("x-sable-session-id", sid)
        .json(&completion(
            "how many days of holiday do employees get",
            None,
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["sources"][0]["filename"], "holidays.md", "{answer}");
    let stored = stack
        .get_json(&format!("/api/v1/chat/sessions/{sid}"))
        .await;
    let last = last_answer(&stored);
    assert_eq!(last["meta"]["sources"], answer["sources"], "{stored}");
    assert_eq!(last["meta"]["cited"], json!([1]));
    assert!(last["content"].as_str().unwrap().contains("25 days"));
}

#[tokio::test]
async fn another_users_files_are_404_on_the_openai_api_and_nothing_is_stored() {
    let stack = Stack::start_with(&["--auth-mode", "jwt", "--jwt-secret", SECRET]).await;
    let alice = sign_up(&stack, "alice@example.com").await;
    let bob = sign_up(&stack, "bob@example.com").await;
    let alices = ready_files(&stack, Some(alice.as_str()), &DOCS[..1]).await;
    let session: Value = call(
        &stack,
        Method::POST,
        "/api/v1/chat/sessions",
        Some(bob.as_str()),
        Some(json!({"title": "Bob's"})),
    )
    .await
    .json()
    .await
    .unwrap();
    let sid = session["id"].as_str().unwrap();
    for stream in [false, true] {
        let mut body = completion(QUESTION, Some(json!({"file_ids": [alices[0]]})));
        body["stream"] = json!(stream);
        let response = stack
            .client
            .post(stack.url("/v1/chat/completions"))
            .bearer_auth(&bob)
            .header("x-sable-session-id", sid)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "file_not_found", "{error}");
        assert!(!error.to_string().contains("pg_dump"));
    }
    let stored: Value = call(
        &stack,
        Method::GET,
        &format!("/api/v1/chat/sessions/{sid}"),
        Some(bob.as_str()),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(stored["messages"], json!([]), "{stored}");
}

#[tokio::test]
async fn the_official_python_client_gets_the_sources_through_extra_body() {
    let stack = Stack::start().await;
    let ids = ready_files(&stack, None, &DOCS).await;
    let collection: Value = stack
        .post(
            "/api/v1/collections",
            &json!({"name": "Ops", "file_ids": [ids[0], ids[1]]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let stdout = crate::openai_api::run_openai_python(
        "openai_sources_check.py",
        &[
            &stack.url("/v1"),
            "any-key-auth-is-off",
            MODEL,
            collection["id"].as_str().unwrap(),
            QUESTION,
            "backups.md",
        ],
    )
    .await;
    assert!(
        stdout.contains("openai sources: 4 checks passed"),
        "{stdout}"
    );
}
