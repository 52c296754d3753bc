//! Batch jobs through the gateway in front of the real worker and model services.

use std::time::Duration;

use e2e::{assert_envelope, closed_port_url, Stack};
use serde_json::json;

#[tokio::test]
async fn a_job_runs_to_completion_and_is_listed() {
    let stack = Stack::start().await;
    let response = stack
        .post("/api/v1/jobs", &json!({"prompts": ["one", "two"]}))
        .await;
    assert_eq!(response.status().as_u16(), 202);
    let job: serde_json::Value = response.json().await.unwrap();
    assert_eq!(job["status"], "pending");
    assert_eq!(job["total_prompts"], 2);
    let id = job["job_id"].as_str().unwrap().to_owned();

    // Any UUID spelling reaches the same job.
    let done = stack
        .wait_for_job(&id.to_uppercase(), "completed", Duration::from_secs(20))
        .await;
    let results = done["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{done}");
    assert!(results
        .iter()
        .all(|r| r.as_str().is_some_and(|r| !r.is_empty())));

    let list = stack.get_json("/api/v1/jobs?limit=5").await;
    assert_eq!(list["jobs"][0]["job_id"], id.as_str());

    let conflict = stack
        .post(&format!("/api/v1/jobs/{id}/cancel"), &json!({}))
        .await;
    assert_envelope(conflict, 409, "CONFLICT").await;
    let unknown = stack
        .get(&format!("/api/v1/jobs/{}", uuid::Uuid::new_v4()))
        .await;
    assert_envelope(unknown, 404, "JOB_NOT_FOUND").await;
}

#[tokio::test]
async fn cancelling_a_job_stops_its_in_flight_prompts() {
    let stack = Stack::start().await;
    let prompts: Vec<String> = (0..4)
        .map(|i| format!("[mock:delay=20000] slow {i}"))
        .collect();
    let response = stack
        .post("/api/v1/jobs", &json!({"prompts": prompts}))
        .await;
    assert_eq!(response.status().as_u16(), 202);
    let job: serde_json::Value = response.json().await.unwrap();
    let id = job["job_id"].as_str().unwrap().to_owned();
    stack
        .wait_for_job(&id, "running", Duration::from_secs(10))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = tokio::time::Instant::now();
    let cancel = stack
        .post(&format!("/api/v1/jobs/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(cancel.status().as_u16(), 200);
    let cancelled = stack
        .wait_for_job(&id, "cancelled", Duration::from_secs(10))
        .await;
    // Well before the slow prompts would have answered.
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        cancelled["results"]
            .as_array()
            .is_none_or(|r| r.iter().all(serde_json::Value::is_null)),
        "{cancelled}"
    );
}

#[tokio::test]
async fn the_gateway_validates_before_forwarding_and_maps_a_missing_worker_to_503() {
    let down = closed_port_url().await;
    let stack = Stack::start_with(&["--worker-service-url", &down]).await;

    // Rejected by the gateway itself: the worker is unreachable, yet these are not 503s.
    let invalid = stack.post("/api/v1/jobs", &json!({"prompts": []})).await;
    let body = assert_envelope(invalid, 422, "VALIDATION_ERROR").await;
    assert_eq!(body["detail"][0]["loc"], json!(["body", "prompts"]));
    for id in [
        "nonexistent-id",
        "..%2Fhealth",
        "%2Fjobs",
        "x%3Fa=1",
        "a%20b",
    ] {
        let response = stack.get(&format!("/api/v1/jobs/{id}")).await;
        assert_envelope(response, 404, "JOB_NOT_FOUND").await;
        let response = stack
            .post(&format!("/api/v1/jobs/{id}/cancel"), &json!({}))
            .await;
        assert_envelope(response, 404, "JOB_NOT_FOUND").await;
    }
    let bad_query = stack.get("/api/v1/jobs?limit=0").await;
    assert_envelope(bad_query, 422, "VALIDATION_ERROR").await;

    // Valid requests reach for the worker and get 503 without its address.
    let response = stack.post("/api/v1/jobs", &json!({"prompts": ["a"]})).await;
    let body = assert_envelope(response, 503, "SERVICE_UNAVAILABLE").await;
    assert!(!body.to_string().contains("127.0.0.1"), "{body}");
}
