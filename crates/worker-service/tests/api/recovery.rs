//! Crashes and restarts: a killed worker process, a restart of the whole service, graceful
//! shutdown.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use common::test_support::fresh_database;
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test]
async fn a_killed_worker_process_job_is_taken_over_after_its_lease_expires() {
    let db = fresh_database().await;
    let model = spawn_model().await;
    let mut process = spawn_worker_process(
        &db.url,
        &model.url,
        "doomed-worker",
        &[("WORKER_MAX_PROMPTS", "1")],
    )
    .await;
    // The API of a second service only: it must not claim before the kill.
    let api = spawn_service(&db.url, &model.url, &["--worker-disabled"]).await;
    let c = client();
    let ps = prompts("[mock:delay=150] crash test", 8);
    let job = submit(&c, &api.base, &ps).await;

    let progressed = wait_until(Duration::from_secs(10), || async {
        get_job(&c, &api.base, job.job_id).await.completed_prompts >= 2
    })
    .await;
    assert!(progressed, "the process worker made progress");
    process.kill_9().await;
    let before: Vec<i32> = slots(&db.pool, job.job_id)
        .await
        .iter()
        .map(|s| s.0)
        .collect();
    let (holder,): (Option<String>,) =
        sqlx::query_as("SELECT locked_by FROM batch_jobs WHERE id = $1")
            .bind(job.job_id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(holder.as_deref(), Some("doomed-worker"));

    let rescuer = spawn_service(&db.url, &model.url, &[]).await;
    wait_for_status(&db.pool, job.job_id, "completed", Duration::from_secs(20)).await;
    let done = get_job(&c, &api.base, job.job_id).await;
    assert_eq!(done.attempts, 2);
    assert_eq!(
        done.results,
        ps.iter().map(|p| answer(p)).collect::<Vec<_>>()
    );

    // Each slot exactly once; those written before the crash kept and not recomputed.
    let after = slots(&db.pool, job.job_id).await;
    assert_eq!(
        after.iter().map(|s| s.0).collect::<Vec<_>>(),
        (0..8).collect::<Vec<_>>()
    );
    for (idx, attempt, _) in &after {
        let prompt = &ps[*idx as usize];
        if before.contains(idx) {
            assert_eq!(*attempt, 1);
            assert_eq!(model.calls(prompt), 1, "slot {idx} recomputed");
        } else {
            assert_eq!(*attempt, 2);
            // At most once per attempt (the prompt in flight at the kill was sent twice).
            assert!(model.calls(prompt) <= 2, "slot {idx}");
        }
    }
    rescuer.stop().await;
    api.stop().await;
}

#[tokio::test]
async fn after_a_restart_of_the_whole_service_every_pending_job_completes() {
    let db = fresh_database().await;
    let model = spawn_model().await;
    let flags = ["--worker-max-jobs", "2", "--worker-max-prompts", "2"];
    let first = spawn_service(&db.url, &model.url, &flags).await;
    let c = client();
    let mut ids: Vec<Uuid> = Vec::new();
    for j in 0..12 {
        ids.push(
            submit(
                &c,
                &first.base,
                &prompts(&format!("[mock:delay=60] restart {j}"), 3),
            )
            .await
            .job_id,
        );
    }
    let started = wait_until(Duration::from_secs(10), || async {
        let (n,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM batch_jobs WHERE status = 'completed'")
                .fetch_one(&db.pool)
                .await
                .unwrap();
        n >= 1
    })
    .await;
    assert!(started);
    first.stop().await;

    // Graceful stop: nothing left running; unfinished jobs are pending again, attempt refunded.
    let states: Vec<(String, i32, Option<String>)> =
        sqlx::query_as("SELECT status, attempts, locked_by FROM batch_jobs")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert!(
        states
            .iter()
            .all(|(s, _, lock)| s != "running" && lock.is_none()),
        "{states:?}"
    );
    assert!(
        states.iter().any(|(s, _, _)| s == "pending"),
        "some jobs still waiting: {states:?}"
    );
    assert!(
        states
            .iter()
            .filter(|(s, _, _)| s == "pending")
            .all(|(_, a, _)| *a == 0),
        "{states:?}"
    );

    let second = spawn_service(&db.url, &model.url, &flags).await;
    for id in &ids {
        wait_for_status(&db.pool, *id, "completed", Duration::from_secs(20)).await;
        assert_eq!(slots(&db.pool, *id).await.len(), 3);
    }
    // In-flight prompts finished within the grace period and were kept: nothing was asked twice.
    assert!(
        model.all_calls().values().all(|n| *n == 1),
        "{:?}",
        model.all_calls()
    );
    second.stop().await;
}

#[tokio::test]
async fn shutdown_releases_jobs_whose_prompts_outlast_the_grace_period() {
    let db = fresh_database().await;
    let model = spawn_model().await;
    let svc = spawn_service(&db.url, &model.url, &["--shutdown-grace-secs", "1"]).await;
    let c = client();
    let job = submit(&c, &svc.base, &["[mock:delay=30000] endless".to_owned()]).await;
    wait_for_status(&db.pool, job.job_id, "running", Duration::from_secs(10)).await;
    let begun = std::time::Instant::now();
    svc.stop().await;
    assert!(
        begun.elapsed() < Duration::from_secs(10),
        "stopped within the grace period"
    );
    let (status, attempts, locked_by): (String, i32, Option<String>) =
        sqlx::query_as("SELECT status, attempts, locked_by FROM batch_jobs WHERE id = $1")
            .bind(job.job_id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), attempts, locked_by), ("pending", 0, None));
}
