//! Two gateway replicas on one database (`GATEWAY_PEER_URL` set on each): an answer generated
//! by one replica is resumed and stopped through the other, a session has one generation
//! across both, and a dead owner costs a resume nothing but the fall-back to "nothing runs".

use std::time::Duration;

use clap::Parser;
use e2e::{closed_port_url, sse_payloads, Stack};
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const SECRET: &str = "e2e-replica-signing-secret-0123456789abcdef";

/// A gateway replica of `stack` (same database, model and worker services) that knows its own
/// URL as its peers reach it.
async fn replica(stack: &Stack) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let config = gateway::Config::try_parse_from([
        "gateway",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        &stack.db.url,
        "--model-service-url",
        &stack.model_url,
        "--worker-service-url",
        &stack.worker_url,
        "--auth-mode",
        "jwt",
        "--jwt-secret",
        SECRET,
        "--rate-limit",
        "off",
        "--peer-url",
        &url,
    ])
    .unwrap();
    let state = gateway::build_state(config).await.unwrap();
    let service = gateway::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    url
}

async fn call(
    client: &reqwest::Client,
    method: Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = client.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// Starts a slow answer on `gateway` and leaves after its first token.
async fn start_slow_answer(client: &reqwest::Client, gateway: &str, token: &str, session: &str) {
    let response = call(
        client,
        Method::POST,
        format!("{gateway}/api/v1/generate/stream"),
        token,
        Some(json!({"prompt": "[mock:slow] [mock:tokens=8] replicas", "session_id": session})),
    )
    .await;
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    tokio::time::timeout(Duration::from_secs(5), body.next())
        .await
        .unwrap();
}

/// The SSE payloads of a body whose token events carry `id:` lines.
fn payloads(text: &str) -> Vec<String> {
    let without_ids: String = text
        .lines()
        .filter(|l| !l.starts_with("id: "))
        .map(|l| format!("{l}\n"))
        .collect();
    sse_payloads(&without_ids)
}

#[tokio::test]
async fn a_replica_resumes_and_stops_an_answer_another_replica_generates() {
    let stack = Stack::start().await;
    let (a, b) = (replica(&stack).await, replica(&stack).await);
    let client = &stack.client;
    let registered = e2e::sign_up(
        client,
        &a,
        &json!({"email": "ria@example.com", "password": "correct horse battery"}),
    )
    .await;
    let token = registered["access_token"].as_str().unwrap().to_owned();
    let session: Value = call(
        client,
        Method::POST,
        format!("{a}/api/v1/chat/sessions"),
        &token,
        Some(json!({})),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = session["id"].as_str().unwrap().to_owned();
    let stream_path = format!("/api/v1/chat/sessions/{id}/stream");

    // Replica A generates; the client comes back through replica B and gets the whole answer.
    start_slow_answer(client, &a, &token, &id).await;
    // Meanwhile B refuses a second generation in the same session, as A would.
    let response = call(
        client,
        Method::POST,
        format!("{b}/api/v1/generate/stream"),
        &token,
        Some(json!({"prompt": "second", "session_id": id})),
    )
    .await;
    e2e::assert_envelope(response, 409, "CONFLICT").await;
    let response = call(
        client,
        Method::GET,
        format!("{b}{stream_path}"),
        &token,
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-user-message-id"));
    let text = response.text().await.unwrap();
    let ids: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .collect();
    assert_eq!(ids.len(), 8, "{text}");
    assert_eq!(
        payloads(&text).last().map(String::as_str),
        Some("[DONE]"),
        "{text}"
    );

    // Resuming through B with Last-Event-ID sends only the tokens after it.
    start_slow_answer(client, &a, &token, &id).await;
    let response = client
        .get(format!("{b}{stream_path}"))
        .bearer_auth(&token)
        .header("last-event-id", "5")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let ids: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .collect();
    assert_eq!(ids, ["6", "7"], "{text}");

    // A stop sent to B stops A's generation, and the partial answer is stored as stopped.
    start_slow_answer(client, &a, &token, &id).await;
    let stopped: Value = call(
        client,
        Method::POST,
        format!("{b}/api/v1/chat/sessions/{id}/stop"),
        &token,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(stopped, json!({"stopped": true}));
    let detail: Value = call(
        client,
        Method::GET,
        format!("{b}/api/v1/chat/sessions/{id}"),
        &token,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let last = detail["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["meta"]["stopped"], true, "{detail}");
    // Nothing runs anywhere now: both replicas say so.
    for gateway in [&a, &b] {
        let response = call(
            client,
            Method::GET,
            format!("{gateway}{stream_path}"),
            &token,
            None,
        )
        .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }

    // An owner that died without cleaning up (its row still looks alive): B cannot reach it
    // and answers from its own registry, at once, instead of failing the request.
    let owner = uuid::Uuid::parse_str(registered["user"]["id"].as_str().unwrap()).unwrap();
    sqlx::query(
        "INSERT INTO chat_generation_owners (session_id, user_id, owner_url, generation_id)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(uuid::Uuid::parse_str(&id).unwrap())
    .bind(owner)
    .bind(closed_port_url().await)
    .bind(uuid::Uuid::new_v4())
    .execute(&stack.gateway_state.db)
    .await
    .unwrap();
    let response = call(
        client,
        Method::GET,
        format!("{b}{stream_path}"),
        &token,
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}
