//! Session streams are server-side generations (issue 15.1, 15.2): they outlive the client's
//! connection, stop only when asked (or at shutdown), and can be attached to again with
//! `GET /api/v1/chat/sessions/{id}/stream`, resuming after `Last-Event-ID`.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};

use crate::generate::sse_payloads;
use crate::helpers::{assert_envelope, closed_port_url, spawn_app_with, TestApp};

/// Eight tokens, one per 200 ms: long enough to leave and come back mid-answer.
const SLOW: &str = "[mock:slow] [mock:tokens=8] tell me a story";

async fn stack(extra: &[&str]) -> (TestApp, model_service::RunningService) {
    let model = model_service::spawn(model_service::config::Config::for_tests())
        .await
        .expect("model service");
    let worker_down = closed_port_url().await;
    let app = spawn_app_with(&format!("http://{}", model.addr), &worker_down, extra).await;
    (app, model)
}

async fn new_session(app: &TestApp) -> String {
    let response = app.post_json("/api/v1/chat/sessions", &json!({})).await;
    assert_eq!(response.status(), 201);
    let session: Value = response.json().await.unwrap();
    session["id"].as_str().unwrap().to_owned()
}

/// Opens a session stream and reads until `events` events arrived; returns the open stream
/// and the text read so far.
async fn start_and_read(
    app: &TestApp,
    session: &str,
    prompt: &str,
    events: usize,
) -> (
    impl futures::Stream<Item = reqwest::Result<bytes::Bytes>>,
    String,
) {
    let response = app
        .post_json(
            "/api/v1/generate/stream",
            &json!({"prompt": prompt, "session_id": session}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let mut seen = String::new();
    while seen.matches("\n\n").count() < events {
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("a token in time")
            .expect("stream open")
            .expect("chunk");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    (stream, seen)
}

async fn messages(app: &TestApp, session: &str) -> Vec<Value> {
    let body: Value = app
        .get(&format!("/api/v1/chat/sessions/{session}"))
        .await
        .json()
        .await
        .unwrap();
    body["messages"].as_array().unwrap().clone()
}

/// The session's messages once it holds `count` of them.
async fn wait_for_messages(app: &TestApp, session: &str, count: usize) -> Vec<Value> {
    for _ in 0..200 {
        let messages = messages(app, session).await;
        if messages.len() >= count {
            return messages;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("session {session} never reached {count} messages");
}

fn tokens(payloads: &[String]) -> String {
    payloads
        .iter()
        .filter(|p| p.starts_with('"'))
        .map(|t| serde_json::from_str::<String>(t).unwrap())
        .collect()
}

/// `(id, payload)` of each event of a resumed stream (`id:` lines are optional per event).
fn events_with_ids(body: &str) -> Vec<(Option<usize>, String)> {
    body.split_terminator("\n\n")
        .map(|event| {
            let mut id = None;
            let mut data = None;
            for line in event.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = Some(v.parse().unwrap());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = Some(v.to_owned());
                } else {
                    panic!("unexpected line {line:?}");
                }
            }
            (id, data.expect("data line"))
        })
        .collect()
}

#[tokio::test]
async fn a_session_stream_goes_on_when_the_client_disconnects() {
    let (app, model) = stack(&[]).await;
    let session = new_session(&app).await;
    let (stream, _) = start_and_read(&app, &session, SLOW, 2).await;
    drop(stream);

    let messages = wait_for_messages(&app, &session, 2).await;
    let answer = &messages[1];
    assert_eq!(answer["role"], "assistant");
    assert_eq!(answer["meta"]["stopped"], false, "{answer}");
    assert_eq!(answer["meta"]["finish_reason"], "stop", "{answer}");
    assert_eq!(
        answer["meta"]["usage"]["completion_tokens"], 8,
        "the whole answer was generated: {answer}"
    );
    let stats = model.state.stats.snapshot();
    assert_eq!(stats.streams_cancelled, 0, "{stats:?}");
    assert_eq!(stats.streams_completed, 1, "{stats:?}");
    assert!(app.state.generations.is_empty());
}

#[tokio::test]
async fn a_stream_without_session_is_still_cancelled_by_a_disconnect() {
    let (app, model) = stack(&[]).await;
    let response = app
        .post_json("/api/v1/generate/stream", &json!({"prompt": SLOW}))
        .await;
    let mut stream = response.bytes_stream();
    stream.next().await.unwrap().unwrap();
    drop(stream);
    model
        .state
        .stats
        .wait_for(Duration::from_secs(5), |s| s.streams_cancelled >= 1)
        .await
        .expect("upstream cancelled");
}

#[tokio::test]
async fn stop_cancels_the_model_and_stores_the_partial_answer_as_stopped() {
    let (app, model) = stack(&[]).await;
    let session = new_session(&app).await;
    let (mut stream, mut seen) = start_and_read(&app, &session, SLOW, 2).await;

    let response = app
        .post_json(&format!("/api/v1/chat/sessions/{session}/stop"), &json!({}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"stopped": true})
    );
    // Stored before the stop was answered.
    let messages = messages(&app, &session).await;
    assert_eq!(messages.len(), 2, "{messages:?}");
    let answer = &messages[1];
    assert_eq!(answer["meta"]["stopped"], true, "{answer}");
    assert_eq!(answer["meta"]["finish_reason"], "stopped", "{answer}");
    let partial = answer["content"].as_str().unwrap();
    model
        .state
        .stats
        .wait_for(Duration::from_secs(5), |s| s.streams_cancelled >= 1)
        .await
        .expect("the model-service request was cancelled");

    // The watching client's stream ends with [DONE], having seen exactly the stored text.
    while let Some(chunk) = stream.next().await {
        seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    let payloads = sse_payloads(&seen);
    assert_eq!(payloads.last().unwrap(), "[DONE]");
    assert_eq!(tokens(&payloads), partial);
    assert!(
        model.state.stats.snapshot().streams_completed == 0,
        "stopped early"
    );

    // Nothing runs any more: a second stop says so; an unknown session is 404.
    let response = app
        .post_json(&format!("/api/v1/chat/sessions/{session}/stop"), &json!({}))
        .await;
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"stopped": false})
    );
    let response = app
        .post_json(
            &format!("/api/v1/chat/sessions/{}/stop", uuid::Uuid::new_v4()),
            &json!({}),
        )
        .await;
    assert_envelope(response, 404, "NOT_FOUND").await;
    let response = app
        .post_json("/api/v1/chat/sessions/nope/stop", &json!({}))
        .await;
    assert_envelope(response, 400, "VALIDATION_ERROR").await;
}

#[tokio::test]
async fn resuming_sends_what_was_generated_then_the_live_tokens_without_duplicates() {
    let (app, _model) = stack(&[]).await;
    let session = new_session(&app).await;
    // Nothing running: 204.
    let response = app
        .get(&format!("/api/v1/chat/sessions/{session}/stream"))
        .await;
    assert_eq!(response.status(), 204);

    let (stream, _) = start_and_read(&app, &session, SLOW, 3).await;
    let user_message = messages(&app, &session).await[0]["id"].clone();
    drop(stream);

    // A new subscriber: everything from the first token, ids 0, 1, 2, … then [DONE].
    let response = app
        .get(&format!("/api/v1/chat/sessions/{session}/stream"))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    assert_eq!(
        response.headers()["x-user-message-id"],
        user_message.as_str().unwrap()
    );
    // A second one resumes after token 4 while the first is reading.
    let resumed = app
        .client
        .get(app.url(&format!("/api/v1/chat/sessions/{session}/stream")))
        .header("last-event-id", "4")
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    let full = events_with_ids(&response.text().await.unwrap());
    let resumed = events_with_ids(&resumed.text().await.unwrap());

    let ids: Vec<usize> = full.iter().filter_map(|(id, _)| *id).collect();
    assert_eq!(ids, (0..8).collect::<Vec<_>>(), "{full:?}");
    assert_eq!(full.last().unwrap(), &(None, "[DONE]".to_owned()));
    let ids: Vec<usize> = resumed.iter().filter_map(|(id, _)| *id).collect();
    assert_eq!(ids, (5..8).collect::<Vec<_>>(), "{resumed:?}");
    assert_eq!(full[5..], resumed[..], "the same events after token 4");

    let text: String = tokens(&full.into_iter().map(|(_, p)| p).collect::<Vec<_>>());
    let messages = wait_for_messages(&app, &session, 2).await;
    assert_eq!(messages[1]["content"], text.as_str());

    // Finished: 204 again; a bad Last-Event-ID is 422, an unknown session 404.
    let response = app
        .get(&format!("/api/v1/chat/sessions/{session}/stream"))
        .await;
    assert_eq!(response.status(), 204);
    let response = app
        .client
        .get(app.url(&format!("/api/v1/chat/sessions/{session}/stream")))
        .header("last-event-id", "x")
        .send()
        .await
        .unwrap();
    assert_envelope(response, 422, "VALIDATION_ERROR").await;
    let response = app
        .get(&format!(
            "/api/v1/chat/sessions/{}/stream",
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_envelope(response, 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn one_generation_per_session_and_bounded_per_user() {
    let (app, _model) = stack(&["--max-background-generations-per-user", "1"]).await;
    let first = new_session(&app).await;
    let second = new_session(&app).await;
    let (stream, _) = start_and_read(&app, &first, SLOW, 1).await;
    drop(stream);

    let response = app
        .post_json(
            "/api/v1/generate/stream",
            &json!({"prompt": "again", "session_id": first}),
        )
        .await;
    assert_envelope(response, 409, "CONFLICT").await;
    let response = app
        .post_json(
            "/api/v1/generate/stream",
            &json!({"prompt": "elsewhere", "session_id": second}),
        )
        .await;
    assert_envelope(response, 429, "RATE_LIMITED").await;
    // Refused requests stored nothing.
    assert!(messages(&app, &second).await.is_empty());
    assert_eq!(messages(&app, &first).await.len(), 1);

    // Once the first is stopped, the user may start another.
    app.post_json(&format!("/api/v1/chat/sessions/{first}/stop"), &json!({}))
        .await;
    let body = app
        .post_json(
            "/api/v1/generate/stream",
            &json!({"prompt": "elsewhere", "session_id": second}),
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(sse_payloads(&body).last().unwrap(), "[DONE]");
}

#[tokio::test]
async fn shutdown_stops_what_is_left_after_the_grace_and_stores_it_as_stopped() {
    let (app, model) = stack(&[]).await;
    let session = new_session(&app).await;
    let (stream, _) = start_and_read(&app, &session, SLOW, 2).await;
    drop(stream);

    app.state
        .generations
        .shutdown(Duration::from_millis(100))
        .await;
    assert!(app.state.generations.is_empty());
    let messages = messages(&app, &session).await;
    assert_eq!(messages.len(), 2, "stored before shutdown returned");
    assert_eq!(messages[1]["meta"]["stopped"], true, "{}", messages[1]);
    assert!(!messages[1]["content"].as_str().unwrap().is_empty());
    model
        .state
        .stats
        .wait_for(Duration::from_secs(5), |s| s.streams_cancelled >= 1)
        .await
        .expect("the model-service request was cancelled");
    // A shutting-down gateway starts no new generation.
    let response = app
        .post_json(
            "/api/v1/generate/stream",
            &json!({"prompt": "late", "session_id": session}),
        )
        .await;
    assert_envelope(response, 503, "SERVICE_UNAVAILABLE").await;
}
