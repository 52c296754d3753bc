//! An account deleted while a worker runs one of its jobs (the gateway's `DELETE
//! /api/v1/auth/me` deletes the `users` row; its jobs and answers go with it by ON DELETE
//! CASCADE). The worker's fenced writes then find no job: the answer is dropped, nothing of the
//! job comes back, and the worker goes on with other people's jobs.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use common::test_support::fresh_database;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_job_whose_owner_is_deleted_mid_run_leaves_nothing_and_the_worker_goes_on() {
    let db = fresh_database().await;
    let model = spawn_model().await;
    let svc = spawn_service(&db.url, &model.url, &[]).await;
    let c = client();
    let owner = create_user(&db.pool).await;
    // A prompt that answers after 1.5 s, so the account goes while the worker holds the job.
    let slow = "[mock:delay=1500] slow".to_owned();
    let response = as_user(
        &owner.to_string(),
        c.post(svc.url("/jobs"))
            .json(&json!({ "prompts": [slow.clone(), "quick"] })),
    )
    .await;
    assert_eq!(response.status().as_u16(), 202);
    let job: common::schemas::JobResponse = response.json().await.unwrap();
    wait_for_status(&db.pool, job.job_id, "running", Duration::from_secs(10)).await;

    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(owner)
        .execute(&db.pool)
        .await
        .unwrap();

    // The worker is still working: the next person's job completes.
    let next = submit(&c, &svc.base, &["after the deletion".to_owned()]).await;
    wait_for_status(&db.pool, next.job_id, "completed", Duration::from_secs(10)).await;
    let done = get_job(&c, &svc.base, next.job_id).await;
    assert_eq!(done.results, [answer("after the deletion")]);

    // Stopping waits for every job task to end (the slow prompt's answer and its refused
    // write, or the lost lease, whichever came first), so after it nothing more is written:
    // the job and its answers stay gone.
    svc.stop().await;
    assert_eq!(model.calls(&slow), 1);
    let (jobs, results): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM batch_jobs WHERE id = $1),
                (SELECT count(*) FROM batch_job_results WHERE job_id = $1)",
    )
    .bind(job.job_id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((jobs, results), (0, 0));
}
