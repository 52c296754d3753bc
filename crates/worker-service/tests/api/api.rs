//! The HTTP API: shapes, validation, ids, paging, cancel, health.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use common::schemas::{JobList, JobResponse, JobStatus};
use common::test_support::fresh_database;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn submit_answers_202_with_a_pending_job_in_the_contract_shape() {
    let db = fresh_database().await;
    let model = spawn_model().await;
    let svc = spawn_service(&db.url, &model.url, &["--worker-disabled"]).await;
    let response = client()
        .post(svc.url("/jobs"))
        .json(&json!({"prompts": ["a", "b"], "max_tokens": 64}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let body: Value = response.json().await.unwrap();
    for key in [
        "job_id",
        "status",
        "created_at",
        "completed_at",
        "total_prompts",
        "completed_prompts",
        "results",
        "error",
    ] {
        assert!(body.get(key).is_some(), "missing {key}: {body}");
    }
    assert_eq!(body["status"], "pending");
    assert_eq!(body["total_prompts"], 2);
    assert_eq!(body["completed_prompts"], 0);
    assert_eq!(body["results"], json!([]));
    assert_eq!(body["error"], Value::Null);
    assert_eq!(body["completed_at"], Value::Null);
    assert_eq!(body["prompts"], json!(["a", "b"]));
    assert_eq!(body["max_tokens"], 64);
    svc.stop().await;
}

#[tokio::test]
async fn invalid_submissions_are_422_envelopes_naming_the_field() {
    let db = fresh_database().await;
    let svc = spawn_service(&db.url, &closed_port_url().await, &["--worker-disabled"]).await;
    let c = client();
    let too_long = "x".repeat(10_001);
    let cases: Vec<(Value, Value)> = vec![
        (json!({"prompts": []}), json!(["body", "prompts"])),
        (
            json!({"prompts": vec!["p"; 101]}),
            json!(["body", "prompts"]),
        ),
        (
            json!({"prompts": ["ok", ""]}),
            json!(["body", "prompts", 1]),
        ),
        (
            json!({"prompts": [too_long]}),
            json!(["body", "prompts", 0]),
        ),
        (
            json!({"prompts": ["a"], "max_tokens": 0}),
            json!(["body", "max_tokens"]),
        ),
        (
            json!({"prompts": ["a"], "max_tokens": 8193}),
            json!(["body", "max_tokens"]),
        ),
        (json!({}), json!(["body", "prompts"])),
    ];
    for (body, loc) in cases {
        let response = c.post(svc.url("/jobs")).json(&body).send().await.unwrap();
        let err = assert_envelope(response, 422, "VALIDATION_ERROR").await;
        assert_eq!(err["detail"][0]["loc"], loc, "for {body}");
    }
    let malformed = c
        .post(svc.url("/jobs"))
        .header("content-type", "application/json")
        .body("{\"prompts\": [")
        .send()
        .await
        .unwrap();
    assert_envelope(malformed, 422, "VALIDATION_ERROR").await;
    svc.stop().await;
}

#[tokio::test]
async fn prompt_limits_are_inclusive_and_counted_in_code_points() {
    let db = fresh_database().await;
    let svc = spawn_service(&db.url, &closed_port_url().await, &["--worker-disabled"]).await;
    // 100 prompts of 10 000 code points each (ASCII, to stay under the 1 MiB body limit),
    // and one of 10 000 four-byte code points.
    let mut ps = vec!["x".repeat(10_000); 99];
    ps.push("🦀".repeat(10_000));
    let body = json!({"prompts": ps, "max_tokens": 8192});
    let response = client()
        .post(svc.url("/jobs"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let one = json!({"prompts": ["x"], "max_tokens": 1});
    let response = client()
        .post(svc.url("/jobs"))
        .json(&one)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    svc.stop().await;
}

#[tokio::test]
async fn unknown_and_non_uuid_ids_are_404_job_not_found() {
    let db = fresh_database().await;
    let svc = spawn_service(&db.url, &closed_port_url().await, &["--worker-disabled"]).await;
    let c = client();
    for id in [
        uuid::Uuid::new_v4().to_string(),
        "nonexistent-id".to_owned(),
        "1".to_owned(),
    ] {
        let response = c.get(svc.url(&format!("/jobs/{id}"))).send().await.unwrap();
        let body = assert_envelope(response, 404, "JOB_NOT_FOUND").await;
        assert!(body["error"]["message"].as_str().unwrap().contains(&id));
        let response = c
            .post(svc.url(&format!("/jobs/{id}/cancel")))
            .send()
            .await
            .unwrap();
        assert_envelope(response, 404, "JOB_NOT_FOUND").await;
    }
    svc.stop().await;
}

#[tokio::test]
async fn job_ids_match_case_insensitively() {
    let db = fresh_database().await;
    let svc = spawn_service(&db.url, &closed_port_url().await, &["--worker-disabled"]).await;
    let c = client();
    let job = submit(&c, &svc.base, &["hello".to_owned()]).await;
    let upper = job.job_id.to_string().to_uppercase();
    let response = c
        .get(svc.url(&format!("/jobs/{upper}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let fetched: JobResponse = response.json().await.unwrap();
    assert_eq!(fetched.job_id, job.job_id);
    svc.stop().await;
}

#[tokio::test]
async fn list_is_newest_first_and_paged_by_cursor() {
    let db = fresh_database().await;
    let svc = spawn_service(&db.url, &closed_port_url().await, &["--worker-disabled"]).await;
    let c = client();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(submit(&c, &svc.base, &[format!("job {i}")]).await.job_id);
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<uuid::Uuid> = None;
    for _ in 0..5 {
        let url = match cursor {
            Some(b) => svc.url(&format!("/jobs?limit=2&before={b}")),
            None => svc.url("/jobs?limit=2"),
        };
        let page: JobList = c.get(url).send().await.unwrap().json().await.unwrap();
        assert!(page.jobs.len() <= 2);
        seen.extend(page.jobs.iter().map(|j| j.job_id));
        cursor = page.next_before;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, ids, "all jobs, newest first, each once");

    for bad in ["limit=0", "limit=101", "limit=x", "before=not-a-uuid"] {
        let response = c
            .get(svc.url(&format!("/jobs?{bad}")))
            .send()
            .await
            .unwrap();
        assert_envelope(response, 422, "VALIDATION_ERROR").await;
    }
    svc.stop().await;
}

#[tokio::test]
async fn a_cancelled_pending_job_never_starts() {
    let db = fresh_database().await;
    let model = spawn_model().await;
    let api = spawn_service(&db.url, &model.url, &["--worker-disabled"]).await;
    let c = client();
    let job = submit(&c, &api.base, &["never run".to_owned()]).await;
    let response = c
        .post(api.url(&format!("/jobs/{}/cancel", job.job_id)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let cancelled: JobResponse = response.json().await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert!(cancelled.completed_at.is_some());

    // A worker that starts afterwards does not touch it, and a second cancel is a conflict.
    let worker = spawn_service(&db.url, &model.url, &[]).await;
    let other = submit(&c, &worker.base, &["runs".to_owned()]).await;
    wait_for_status(&db.pool, other.job_id, "completed", Duration::from_secs(10)).await;
    assert_eq!(model.calls("never run"), 0);
    assert_eq!(status_of(&db.pool, job.job_id).await, "cancelled");
    let again = c
        .post(api.url(&format!("/jobs/{}/cancel", job.job_id)))
        .send()
        .await
        .unwrap();
    assert_envelope(again, 409, "CONFLICT").await;
    worker.stop().await;
    api.stop().await;
}

#[tokio::test]
async fn cancelling_a_finished_job_is_409_conflict() {
    let db = fresh_database().await;
    let model = spawn_model().await;
    let svc = spawn_service(&db.url, &model.url, &[]).await;
    let c = client();
    let job = submit(&c, &svc.base, &["quick".to_owned()]).await;
    wait_for_status(&db.pool, job.job_id, "completed", Duration::from_secs(10)).await;
    let response = c
        .post(svc.url(&format!("/jobs/{}/cancel", job.job_id)))
        .send()
        .await
        .unwrap();
    let body = assert_envelope(response, 409, "CONFLICT").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("completed"));
    svc.stop().await;
}

#[tokio::test]
async fn health_ready_and_metrics() {
    let db = fresh_database().await;
    let model = spawn_model().await;
    let svc = spawn_service(&db.url, &model.url, &[]).await;
    let c = client();
    let health: Value = c
        .get(svc.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["service"], "worker-service");
    let ready = c.get(svc.url("/health/ready")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let metrics = c.get(svc.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status().as_u16(), 200);
    svc.stop().await;

    let down = spawn_service(&db.url, &closed_port_url().await, &["--worker-disabled"]).await;
    let ready = c.get(down.url("/health/ready")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["database"]["status"], "up");
    assert_eq!(body["checks"]["model_service"]["status"], "down");
    down.stop().await;
}

#[tokio::test]
async fn jobs_have_an_optional_name_of_at_most_200_code_points() {
    let db = fresh_database().await;
    let svc = spawn_service(&db.url, &closed_port_url().await, &["--worker-disabled"]).await;
    let c = client();
    let name = "é".repeat(200);
    let response = c
        .post(svc.url("/jobs"))
        .json(&json!({"prompts": ["a"], "name": format!("  {name} ")}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let job: JobResponse = response.json().await.unwrap();
    assert_eq!(job.name.as_deref(), Some(name.as_str()), "trimmed, kept");
    assert_eq!(
        get_job(&c, &svc.base, job.job_id).await.name.as_deref(),
        Some(name.as_str())
    );

    let unnamed = submit(&c, &svc.base, &["b".to_owned()]).await;
    assert_eq!(unnamed.name, None);
    let blank = c
        .post(svc.url("/jobs"))
        .json(&json!({"prompts": ["c"], "name": "   "}))
        .send()
        .await
        .unwrap();
    assert_eq!(blank.json::<JobResponse>().await.unwrap().name, None);

    let too_long = c
        .post(svc.url("/jobs"))
        .json(&json!({"prompts": ["d"], "name": "x".repeat(201)}))
        .send()
        .await
        .unwrap();
    let body = assert_envelope(too_long, 422, "VALIDATION_ERROR").await;
    assert_eq!(body["detail"][0]["loc"], json!(["body", "name"]));
    svc.stop().await;
}

#[tokio::test]
async fn the_list_holds_summaries_without_prompts_or_results() {
    let db = fresh_database().await;
    let svc = spawn_service(&db.url, &closed_port_url().await, &["--worker-disabled"]).await;
    let c = client();
    let long = "word ".repeat(40);
    let job = c
        .post(svc.url("/jobs"))
        .json(&json!({"prompts": [long, "second"], "name": "Nightly"}))
        .send()
        .await
        .unwrap()
        .json::<JobResponse>()
        .await
        .unwrap();
    let list: Value = c
        .get(svc.url("/jobs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let summary = &list["jobs"][0];
    assert_eq!(summary["job_id"], job.job_id.to_string());
    assert_eq!(summary["name"], "Nightly");
    assert_eq!(summary["status"], "pending");
    assert_eq!(summary["total_prompts"], 2);
    assert_eq!(summary["failed_prompts"], 0);
    let preview = summary["preview"].as_str().unwrap();
    assert_eq!(
        preview.chars().count(),
        101,
        "100 code points and an ellipsis"
    );
    assert!(preview.ends_with('…'));
    for absent in ["prompts", "results", "result_indexes", "prompt_errors"] {
        assert!(summary.get(absent).is_none(), "{absent} in {summary}");
    }
    svc.stop().await;
}

#[tokio::test]
async fn another_users_job_is_not_found_exactly_like_a_missing_one() {
    let db = fresh_database().await;
    let svc = spawn_service(&db.url, &closed_port_url().await, &["--worker-disabled"]).await;
    let c = client();
    let alice = create_user(&db.pool).await.to_string();
    let bob = create_user(&db.pool).await.to_string();
    let response = as_user(
        &alice,
        c.post(svc.url("/jobs")).json(&json!({"prompts": ["mine"]})),
    )
    .await;
    assert_eq!(response.status().as_u16(), 202);
    let job: JobResponse = response.json().await.unwrap();
    let (owner,): (Option<uuid::Uuid>,) =
        sqlx::query_as("SELECT user_id FROM batch_jobs WHERE id = $1")
            .bind(job.job_id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(owner.map(|o| o.to_string()), Some(alice.clone()));

    let id = job.job_id;
    let missing = uuid::Uuid::new_v4();
    for (path, method) in [
        (format!("/jobs/{id}"), "GET"),
        (format!("/jobs/{id}/cancel"), "POST"),
    ] {
        let theirs = as_user(&bob, c.request(method.parse().unwrap(), svc.url(&path))).await;
        let body = assert_envelope(theirs, 404, "JOB_NOT_FOUND").await;
        let nothing = as_user(
            &bob,
            c.request(
                method.parse().unwrap(),
                svc.url(&path.replace(&id.to_string(), &missing.to_string())),
            ),
        )
        .await;
        let other = assert_envelope(nothing, 404, "JOB_NOT_FOUND").await;
        assert_eq!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .replace(&id.to_string(), "ID"),
            other["error"]["message"]
                .as_str()
                .unwrap()
                .replace(&missing.to_string(), "ID"),
            "the same answer as for a missing job"
        );
    }
    // Nor is it listed for Bob, nor for the default user (no header); Alice sees it.
    let list_of = |user: Option<String>| {
        let mut request = c.get(svc.url("/jobs"));
        if let Some(user) = user {
            request = request.header("x-sable-user-id", user);
        }
        async move {
            request
                .send()
                .await
                .unwrap()
                .json::<JobList>()
                .await
                .unwrap()
        }
    };
    assert!(list_of(Some(bob.clone())).await.jobs.is_empty());
    assert!(list_of(None).await.jobs.is_empty());
    assert_eq!(list_of(Some(alice.clone())).await.jobs[0].job_id, id);
    // The job is still pending: Bob's cancel did nothing.
    let alices = as_user(&alice, c.get(svc.url(&format!("/jobs/{id}")))).await;
    let alices: JobResponse = alices.json().await.unwrap();
    assert_eq!(
        (alices.status, alices.cancel_requested),
        (JobStatus::Pending, false)
    );
    svc.stop().await;
}

#[tokio::test]
async fn without_the_header_jobs_belong_to_the_default_user_and_a_bad_header_is_400() {
    let db = fresh_database().await;
    let svc = spawn_service(&db.url, &closed_port_url().await, &["--worker-disabled"]).await;
    let c = client();
    let job = submit(&c, &svc.base, &["default".to_owned()]).await;
    let default_user = "00000000-0000-0000-0000-000000000001";
    let seen = as_user(
        default_user,
        c.get(svc.url(&format!("/jobs/{}", job.job_id))),
    )
    .await;
    assert_eq!(seen.status().as_u16(), 200);

    let bad = as_user("not-a-uuid", c.get(svc.url("/jobs"))).await;
    assert_envelope(bad, 400, "BAD_REQUEST").await;
    let unknown = as_user(
        &uuid::Uuid::new_v4().to_string(),
        c.post(svc.url("/jobs")).json(&json!({"prompts": ["x"]})),
    )
    .await;
    assert_envelope(unknown, 400, "UNKNOWN_USER").await;
    svc.stop().await;
}

#[tokio::test]
async fn stats_count_jobs_by_status_per_user_or_system_wide() {
    let db = fresh_database().await;
    let svc = spawn_service(&db.url, &closed_port_url().await, &["--worker-disabled"]).await;
    let c = client();
    let alice = create_user(&db.pool).await.to_string();
    for p in ["a", "b"] {
        submit(&c, &svc.base, &[p.to_owned()]).await;
    }
    let theirs = as_user(
        &alice,
        c.post(svc.url("/jobs")).json(&json!({"prompts": ["c"]})),
    )
    .await
    .json::<JobResponse>()
    .await
    .unwrap();
    let cancelled = as_user(
        &alice,
        c.post(svc.url(&format!("/jobs/{}/cancel", theirs.job_id))),
    )
    .await;
    assert_eq!(cancelled.status().as_u16(), 200);

    let all: Value = c
        .get(svc.url("/jobs/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        all,
        json!({
            "by_status": {"pending": 2, "running": 0, "completed": 0, "failed": 0, "cancelled": 1},
            "active": 2,
            "finished_last_60s": 1
        })
    );
    let hers: Value = as_user(&alice, c.get(svc.url("/jobs/stats")))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hers["by_status"]["pending"], 0);
    assert_eq!(hers["by_status"]["cancelled"], 1);
    assert_eq!(
        (hers["active"].clone(), hers["finished_last_60s"].clone()),
        (json!(0), json!(1))
    );
    svc.stop().await;
}
