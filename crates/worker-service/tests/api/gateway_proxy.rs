//! The gateway's job routes in front of a real worker service.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use clap::Parser;
use common::schemas::{JobList, JobResponse, JobStatus};
use common::test_support::fresh_database;
use serde_json::{json, Value};

use crate::helpers::*;

async fn spawn_gateway(db_url: &str, model_url: &str, worker_url: &str) -> String {
    let config = gateway::Config::try_parse_from([
        "gateway",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        db_url,
        "--model-service-url",
        model_url,
        "--worker-service-url",
        worker_url,
    ])
    .expect("gateway config");
    let state = gateway::build_state(config).await.expect("gateway state");
    let addr = serve(gateway::app(state)).await;
    format!("http://{addr}")
}

#[tokio::test]
async fn the_gateway_relays_the_job_lifecycle() {
    let db = fresh_database().await;
    let fake = spawn_fake_model().await;
    let worker = spawn_service(&db.url, &fake.url, &[]).await;
    let gw = spawn_gateway(&db.url, &fake.url, &worker.base).await;
    let c = client();

    let response = c
        .post(format!("{gw}/api/v1/jobs"))
        .json(&json!({"prompts": ["one", "two"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let job: JobResponse = response.json().await.unwrap();
    assert_eq!(job.status, JobStatus::Pending);
    assert_eq!(job.total_prompts, 2);

    wait_for_status(&db.pool, job.job_id, "completed", Duration::from_secs(10)).await;
    let upper = job.job_id.to_string().to_uppercase();
    let done: JobResponse = c
        .get(format!("{gw}/api/v1/jobs/{upper}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(done.results, vec!["answer: one", "answer: two"]);

    let list: JobList = c
        .get(format!("{gw}/api/v1/jobs?limit=5"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.jobs[0].job_id, job.job_id);
    assert_eq!(list.next_before, None);

    let conflict = c
        .post(format!("{gw}/api/v1/jobs/{}/cancel", job.job_id))
        .send()
        .await
        .unwrap();
    assert_envelope(conflict, 409, "CONFLICT").await;
    let unknown = c
        .get(format!("{gw}/api/v1/jobs/{}", uuid::Uuid::new_v4()))
        .send()
        .await
        .unwrap();
    assert_envelope(unknown, 404, "JOB_NOT_FOUND").await;
    worker.stop().await;
}

#[tokio::test]
async fn the_gateway_validates_before_forwarding_and_maps_a_missing_worker_to_503() {
    let db = fresh_database().await;
    let down = closed_port_url().await;
    let gw = spawn_gateway(&db.url, &down, &down).await;
    let c = client();

    // Rejected by the gateway itself: the worker is unreachable, yet these are not 503s.
    let invalid = c
        .post(format!("{gw}/api/v1/jobs"))
        .json(&json!({"prompts": []}))
        .send()
        .await
        .unwrap();
    let body = assert_envelope(invalid, 422, "VALIDATION_ERROR").await;
    assert_eq!(body["detail"][0]["loc"], json!(["body", "prompts"]));
    for id in [
        "nonexistent-id",
        "..%2Fhealth",
        "%2Fjobs",
        "x%3Fa=1",
        "a%20b",
    ] {
        let response = c
            .get(format!("{gw}/api/v1/jobs/{id}"))
            .send()
            .await
            .unwrap();
        assert_envelope(response, 404, "JOB_NOT_FOUND").await;
        let response = c
            .post(format!("{gw}/api/v1/jobs/{id}/cancel"))
            .send()
            .await
            .unwrap();
        assert_envelope(response, 404, "JOB_NOT_FOUND").await;
    }
    let bad_query = c
        .get(format!("{gw}/api/v1/jobs?limit=0"))
        .send()
        .await
        .unwrap();
    assert_envelope(bad_query, 422, "VALIDATION_ERROR").await;

    // Valid requests reach for the worker and get 503 without its address.
    let response = c
        .post(format!("{gw}/api/v1/jobs"))
        .json(&json!({"prompts": ["a"]}))
        .send()
        .await
        .unwrap();
    let body: Value = assert_envelope(response, 503, "SERVICE_UNAVAILABLE").await;
    assert!(!body.to_string().contains("127.0.0.1"), "{body}");
    let response = c
        .get(format!("{gw}/api/v1/jobs/{}", uuid::Uuid::new_v4()))
        .send()
        .await
        .unwrap();
    assert_envelope(response, 503, "SERVICE_UNAVAILABLE").await;
}
