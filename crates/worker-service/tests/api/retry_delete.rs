//! A failed prompt of a finished job can be retried alone, and a finished job deleted
//! (issue 25, defect 7).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use common::schemas::{JobResponse, JobStatus};
use common::test_support::fresh_database;

use crate::helpers::*;

async fn job(c: &reqwest::Client, svc: &Service, id: uuid::Uuid) -> JobResponse {
    let response = c.get(svc.url(&format!("/jobs/{id}"))).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.unwrap()
}

/// Job `id` once it has completed (within 10 s).
async fn completed(
    c: &reqwest::Client,
    svc: &Service,
    pool: &sqlx::PgPool,
    id: uuid::Uuid,
) -> JobResponse {
    wait_for_status(pool, id, "completed", Duration::from_secs(10)).await;
    job(c, svc, id).await
}

async fn retry(
    c: &reqwest::Client,
    svc: &Service,
    id: uuid::Uuid,
    index: &str,
) -> reqwest::Response {
    c.post(svc.url(&format!("/jobs/{id}/prompts/{index}/retry")))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_failed_prompt_is_retried_alone_and_the_counts_follow() {
    let db = fresh_database().await;
    let model = spawn_model().await;
    let svc = spawn_service(&db.url, &model.url, &[]).await;
    let c = client();
    // The second prompt is refused once (a permanent failure: no retry inside the job), then
    // answers.
    let flaky = "[mock:flaky=1:reject] second".to_owned();
    let prompts = ["first".to_owned(), flaky.clone()];
    let submitted = submit(&c, &svc.base, &prompts).await;
    let done = completed(&c, &svc, &db.pool, submitted.job_id).await;
    assert_eq!((done.completed_prompts, done.failed_prompts), (1, 1));
    assert_eq!(done.prompt_errors.len(), 1);
    assert_eq!(done.prompt_errors[0].index, 1);

    // Not retried: an answered prompt (409), a prompt the job does not have (404), an index
    // that is not a number (422), another user's or a missing job (404).
    assert_envelope(
        retry(&c, &svc, submitted.job_id, "0").await,
        409,
        "CONFLICT",
    )
    .await;
    assert_envelope(
        retry(&c, &svc, submitted.job_id, "2").await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_envelope(
        retry(&c, &svc, submitted.job_id, "x").await,
        422,
        "VALIDATION_ERROR",
    )
    .await;
    let missing = uuid::Uuid::new_v4();
    assert_envelope(retry(&c, &svc, missing, "1").await, 404, "JOB_NOT_FOUND").await;

    let response = retry(&c, &svc, submitted.job_id, "1").await;
    assert_eq!(response.status().as_u16(), 202);
    let queued: JobResponse = response.json().await.unwrap();
    assert_eq!(queued.status, JobStatus::Pending);
    assert_eq!((queued.completed_prompts, queued.failed_prompts), (1, 0));
    assert!(queued.prompt_errors.is_empty());

    let again = completed(&c, &svc, &db.pool, submitted.job_id).await;
    assert_eq!((again.completed_prompts, again.failed_prompts), (2, 0));
    assert_eq!(again.result_indexes, [0, 1]);
    assert_eq!(again.results[1], answer(&flaky));
    assert!(again.completed_at.is_some());
    // Only the failed prompt ran again.
    assert_eq!(model.calls("first"), 1);
    assert_eq!(model.calls(&flaky), 2);
    svc.stop().await;
}

#[tokio::test]
async fn only_a_finished_job_is_deleted() {
    let db = fresh_database().await;
    let model = spawn_model().await;
    let api = spawn_service(&db.url, &model.url, &["--worker-disabled"]).await;
    let c = client();
    let pending = submit(&c, &api.base, &["waits".to_owned()]).await;
    let delete = |id: uuid::Uuid| c.delete(api.url(&format!("/jobs/{id}"))).send();

    // Pending (or running): 409, and it stays; a pending job's prompt is not retried either.
    assert_envelope(delete(pending.job_id).await.unwrap(), 409, "CONFLICT").await;
    assert_envelope(retry(&c, &api, pending.job_id, "0").await, 409, "CONFLICT").await;
    assert_eq!(status_of(&db.pool, pending.job_id).await, "pending");

    // Cancelled, it is finished: deleted with its row, then not found.
    let cancelled = c
        .post(api.url(&format!("/jobs/{}/cancel", pending.job_id)))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status().as_u16(), 200);
    assert_envelope(retry(&c, &api, pending.job_id, "0").await, 409, "CONFLICT").await;
    assert_eq!(delete(pending.job_id).await.unwrap().status().as_u16(), 204);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM batch_jobs WHERE id = $1")
        .bind(pending.job_id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert_envelope(delete(pending.job_id).await.unwrap(), 404, "JOB_NOT_FOUND").await;
    let response = c
        .get(api.url(&format!("/jobs/{}", pending.job_id)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    api.stop().await;
}
