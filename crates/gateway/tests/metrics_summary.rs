//! `GET /api/v1/metrics/summary`: live figures from the gateway's own window, queue figures
//! from the worker service's `GET /jobs/stats` (the gateway does not read the jobs table).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::routing::get;
use axum::Json;
use clap::Parser;
use common::schemas::{JobStats, JobStatusCounts};
use common::test_support::{closed_port_url, fresh_database, serve};
use serde_json::Value;

async fn gateway(worker_url: &str) -> (String, common::test_support::TestDb) {
    let db = fresh_database().await;
    let model = closed_port_url().await;
    let config = gateway::Config::try_parse_from([
        "gateway",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        &db.url,
        "--model-service-url",
        &model,
        "--worker-service-url",
        worker_url,
        "--auth-mode",
        "off",
    ])
    .unwrap();
    let state = gateway::build_state(config).await.unwrap();
    let addr = serve(gateway::app(state)).await;
    (format!("http://{addr}"), db)
}

async fn summary(base: &str) -> Value {
    let response = common::http::client_builder()
        .build()
        .unwrap()
        .get(format!("{base}/api/v1/metrics/summary"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn queue_figures_come_from_the_worker_service() {
    let stats = JobStats {
        by_status: JobStatusCounts {
            pending: 2,
            running: 3,
            ..Default::default()
        },
        active: 5,
        finished_last_60s: 30,
    };
    let worker = serve(axum::Router::new().route(
        "/jobs/stats",
        get(move || {
            let stats = stats.clone();
            async move { Json(stats) }
        }),
    ))
    .await;
    let (base, _db) = gateway(&format!("http://{worker}")).await;
    let body = summary(&base).await;
    assert_eq!(body["queue_depth"], 5, "{body}");
    assert_eq!(body["jobs_per_sec"], 0.5, "{body}");
    assert_eq!(body["window_secs"], 10, "{body}");
}

#[tokio::test]
async fn live_figures_are_served_while_the_worker_service_is_down() {
    let (base, _db) = gateway(&closed_port_url().await).await;
    let body = summary(&base).await;
    assert_eq!(body["queue_depth"], 0, "{body}");
    assert_eq!(body["jobs_per_sec"], 0.0, "{body}");
    assert!(body["requests_per_sec"].is_number(), "{body}");
}
