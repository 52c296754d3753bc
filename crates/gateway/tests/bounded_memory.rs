//! Issue 12.5 / 15.7: reading a very long conversation keeps the gateway's memory bounded.
//! `GET /sessions/{id}` and both exports stream from a database cursor, so a 5,000-message
//! session of 10 KB per message (≈ 50 MB of text) is served while the resident memory of this
//! process (gateway and client together) grows by far less than the body.
//!
//! Its own test binary, so no other test's allocations disturb the measure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use clap::Parser;
use common::test_support::{closed_port_url, fresh_database, serve};
use futures::StreamExt;

const MESSAGES: i64 = 5_000;
const MESSAGE_BYTES: usize = 10_240;
/// Most the process may grow while streaming one ≈ 50 MB body (an in-memory vector of the
/// messages alone would be 50 MB, its JSON as much again).
const MAX_GROWTH_BYTES: u64 = 16 * 1024 * 1024;

/// Resident set size of this process, from /proc (Linux).
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kb * 1024
}

/// Reads the whole body chunk by chunk (never holding it), returning its size, its first and
/// last bytes, and the peak RSS seen while reading.
async fn read_streaming(response: reqwest::Response) -> (u64, Vec<u8>, Vec<u8>, u64) {
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let (mut size, mut head, mut tail, mut peak) = (0u64, Vec::new(), Vec::new(), rss_bytes());
    let mut chunks = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("body chunk");
        size += chunk.len() as u64;
        if head.len() < 64 {
            head.extend_from_slice(&chunk[..chunk.len().min(64)]);
        }
        tail.extend_from_slice(&chunk);
        if tail.len() > 64 {
            tail.drain(..tail.len() - 64);
        }
        chunks += 1;
        if chunks.is_multiple_of(16) {
            peak = peak.max(rss_bytes());
        }
    }
    (size, head, tail, peak.max(rss_bytes()))
}

#[tokio::test]
async fn a_5000_message_session_is_read_and_exported_in_bounded_memory() {
    tokio::time::timeout(Duration::from_secs(180), scenario())
        .await
        .expect("finished within 3 minutes");
}

async fn scenario() {
    common::telemetry::init_for_tests();
    let db = fresh_database().await;
    let down = closed_port_url().await;
    let config = gateway::Config::try_parse_from([
        "gateway",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        &db.url,
        "--model-service-url",
        &down,
        "--worker-service-url",
        &down,
        "--auth-mode",
        "off",
        "--rate-limit",
        "off",
    ])
    .unwrap();
    let state = gateway::build_state(config).await.unwrap();
    let base = format!("http://{}", serve(gateway::app(state)).await);
    let client = common::http::client_builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();

    let session: serde_json::Value = client
        .post(format!("{base}/api/v1/chat/sessions"))
        .json(&serde_json::json!({"title": "Long"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = session["id"].as_str().unwrap().to_owned();
    // 5,000 messages of 10 KB as one chain, written by Postgres itself (the gateway's memory
    // is what is measured, not how fast 5,000 appends go).
    let session_id = uuid::Uuid::parse_str(&id).unwrap();
    sqlx::query(
        "WITH ids AS (SELECT g, gen_random_uuid() AS id FROM generate_series(1, $2::int) g), \
         chain AS (SELECT g, id, lag(id) OVER (ORDER BY g) AS parent FROM ids) \
         INSERT INTO chat_messages (id, session_id, role, content, created_at, parent_id, depth) \
         SELECT id, $1, CASE WHEN g % 2 = 1 THEN 'user' ELSE 'assistant' END, \
                repeat(md5(g::text), $3), clock_timestamp(), parent, g \
         FROM chain ORDER BY g",
    )
    .bind(session_id)
    .bind(i32::try_from(MESSAGES).unwrap())
    .bind(i32::try_from(MESSAGE_BYTES / 32).unwrap())
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE chat_sessions SET message_count = $2, active_leaf_id = \
         (SELECT id FROM chat_messages WHERE session_id = $1 AND depth = $2) WHERE id = $1",
    )
    .bind(session_id)
    .bind(i32::try_from(MESSAGES).unwrap())
    .execute(&db.pool)
    .await
    .unwrap();

    // Warm up (pools, buffers) with a small page, then measure each full read.
    let page: serde_json::Value = client
        .get(format!("{base}/api/v1/chat/sessions/{id}?limit=2"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["messages"].as_array().unwrap().len(), 2);
    assert_eq!(page["message_count"], MESSAGES);

    let min_body = MESSAGES as u64 * MESSAGE_BYTES as u64;
    for (path, starts, ends) in [
        (
            format!("/api/v1/chat/sessions/{id}"),
            "{",
            "\"message_count\":5000}",
        ),
        (
            format!("/api/v1/chat/sessions/{id}/export?format=json"),
            "{",
            "\"message_count\":5000}",
        ),
        (format!("/api/v1/chat/sessions/{id}/export"), "# Long", "\n"),
    ] {
        let baseline = rss_bytes();
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        let (size, head, tail, peak) = read_streaming(response).await;
        let growth = peak.saturating_sub(baseline);
        eprintln!("{path}: {size} bytes streamed, RSS {baseline} -> peak {peak} (+{growth} bytes)");
        assert!(
            size > min_body,
            "{path}: the whole session was sent ({size} bytes)"
        );
        assert!(
            String::from_utf8_lossy(&head).starts_with(starts),
            "{path}: {:?}",
            String::from_utf8_lossy(&head)
        );
        assert!(
            String::from_utf8_lossy(&tail).ends_with(ends),
            "{path}: {:?}",
            String::from_utf8_lossy(&tail)
        );
        assert!(
            growth < MAX_GROWTH_BYTES,
            "{path}: memory grew by {growth} bytes while streaming {size} bytes"
        );
    }

    // The instrument works: holding the same body in memory (as the client does here) shows
    // up as growth of the same order as its size.
    let baseline = rss_bytes();
    let whole = client
        .get(format!("{base}/api/v1/chat/sessions/{id}"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let growth = rss_bytes().saturating_sub(baseline);
    eprintln!("held in memory: {} bytes, RSS +{growth} bytes", whole.len());
    assert!(
        growth >= min_body / 2,
        "a {} byte body held in memory grew RSS by only {growth}",
        whole.len()
    );
}
