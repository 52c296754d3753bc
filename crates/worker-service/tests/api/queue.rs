//! The queue at work: parallel draining, pickup by NOTIFY, retries, permanent failures,
//! cancel during a run.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::HashSet;
use std::time::Duration;

use common::schemas::{JobResponse, JobStatus};
use common::test_support::fresh_database;
use futures::StreamExt;
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test]
async fn a_job_completes_with_results_in_prompt_order() {
    let db = fresh_database().await;
    let model = spawn_model().await;
    let svc = spawn_service(&db.url, &model.url, &[]).await;
    let c = client();
    let ps = prompts("ordered", 5);
    let job = submit(&c, &svc.base, &ps).await;
    wait_for_status(&db.pool, job.job_id, "completed", Duration::from_secs(10)).await;
    let done = get_job(&c, &svc.base, job.job_id).await;
    assert_eq!(done.completed_prompts, 5);
    assert_eq!(
        done.results,
        ps.iter().map(|p| answer(p)).collect::<Vec<_>>()
    );
    assert_eq!(done.result_indexes, vec![0, 1, 2, 3, 4]);
    assert_eq!(done.error, None);
    assert_eq!(done.attempts, 1);
    assert!(done.completed_at.is_some() && done.started_at.is_some());
    svc.stop().await;
}

#[tokio::test]
async fn an_idle_worker_is_woken_by_notify_not_the_poll() {
    let db = fresh_database().await;
    let model = spawn_model().await;
    // The safety-net poll is a minute away: only LISTEN/NOTIFY can start this job in time.
    let svc = spawn_service(&db.url, &model.url, &["--poll-interval-ms", "60000"]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let c = client();
    for i in 0..3 {
        let job = submit(&c, &svc.base, &[format!("wake {i}")]).await;
        wait_for_status(&db.pool, job.job_id, "completed", Duration::from_secs(10)).await;
    }
    svc.stop().await;
}

#[tokio::test]
async fn five_hundred_jobs_are_drained_by_three_workers_and_a_worker_process() {
    let db = fresh_database().await;
    let mut config = model_config();
    config.mock_first_token_delay = Duration::from_millis(3);
    let model = spawn_model_with(config).await;
    let mut process = spawn_worker_process(&db.url, &model.url, "process-worker", &[]).await;
    let api = spawn_service(&db.url, &model.url, &[]).await;
    let w2 = spawn_service(&db.url, &model.url, &[]).await;
    let w3 = spawn_service(&db.url, &model.url, &[]).await;
    let c = client();

    // Watch which workers hold jobs while the queue drains.
    let watcher_pool = db.pool.clone();
    let watcher = tokio::spawn(async move {
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            let holders: Vec<(String,)> = sqlx::query_as(
                "SELECT DISTINCT locked_by FROM batch_jobs WHERE locked_by IS NOT NULL",
            )
            .fetch_all(&watcher_pool)
            .await
            .unwrap_or_default();
            seen.extend(holders.into_iter().map(|(w,)| w));
            let (left,): (i64,) =
                sqlx::query_as("SELECT count(*) FROM batch_jobs WHERE status <> 'completed'")
                    .fetch_one(&watcher_pool)
                    .await
                    .unwrap();
            if left == 0 && seen.len() >= 4 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        seen
    });

    let submissions: Vec<Vec<String>> = (0..500)
        .map(|j| prompts(&format!("job {j} prompt"), 1 + j % 4))
        .collect();
    let expected_prompts: usize = submissions.iter().map(Vec::len).sum();
    let jobs: Vec<JobResponse> = futures::stream::iter(submissions)
        .map(|ps| {
            let c = c.clone();
            let base = api.base.clone();
            async move { submit(&c, &base, &ps).await }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    assert_eq!(jobs.len(), 500);

    let drained = wait_until(Duration::from_secs(45), || async {
        let (left,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM batch_jobs WHERE status <> 'completed'")
                .fetch_one(&db.pool)
                .await
                .unwrap();
        left == 0
    })
    .await;
    assert!(drained, "queue not drained");

    // Every job completed once, on its first claim, with every slot written once.
    let rows: Vec<(Uuid, i32, i32, i32, i32, i64)> = sqlx::query_as(
        "SELECT j.id, j.attempts, j.total_prompts, j.completed_prompts, j.failed_prompts,
                (SELECT count(*) FROM batch_job_results r WHERE r.job_id = j.id AND r.text IS NOT NULL)
           FROM batch_jobs j",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 500);
    for (id, attempts, total, completed, failed, slots) in rows {
        assert_eq!(attempts, 1, "job {id} claimed more than once");
        assert_eq!(
            (completed, failed, slots),
            (total, 0, i64::from(total)),
            "job {id}"
        );
    }
    // The model was called exactly once per prompt (each prompt text is unique).
    let calls = model.all_calls();
    assert_eq!(calls.len(), expected_prompts);
    assert!(calls.values().all(|n| *n == 1), "a prompt was sent twice");

    let seen = watcher.await.unwrap();
    assert!(
        seen.contains("process-worker"),
        "the worker process took part: {seen:?}"
    );
    assert!(seen.len() >= 3, "several workers took part: {seen:?}");

    process.kill_9().await;
    for svc in [api, w2, w3] {
        svc.stop().await;
    }
}

#[tokio::test]
async fn transient_failures_are_retried_with_backoff_until_success() {
    let db = fresh_database().await;
    let model = spawn_model().await;
    let svc = spawn_service(&db.url, &model.url, &[]).await;
    let c = client();
    // Overloaded twice (503, retryable), then rate limited once (429 + Retry-After).
    let a = "[mock:flaky=2] flaky".to_owned();
    let b = "[mock:flaky=1:ratelimit] rate limited".to_owned();
    let ok = "steady".to_owned();
    let job = submit(&c, &svc.base, &[a.clone(), b.clone(), ok.clone()]).await;
    wait_for_status(&db.pool, job.job_id, "completed", Duration::from_secs(15)).await;
    let done = get_job(&c, &svc.base, job.job_id).await;
    assert_eq!(done.attempts, 3);
    assert_eq!(done.results, vec![answer(&a), answer(&b), answer(&ok)]);
    assert_eq!((done.error, done.failed_prompts), (None, 0));
    let last_error = done.last_error.expect("the last transient error is kept");
    assert!(
        last_error.starts_with("PROVIDER_OVERLOADED: "),
        "{last_error}"
    );
    // At most one call per prompt per attempt; answered prompts are never asked again.
    assert_eq!(model.calls(&a), 3);
    assert_eq!(model.calls(&b), 2);
    assert_eq!(model.calls(&ok), 1);
    svc.stop().await;
}

#[tokio::test]
async fn exhausted_retries_fail_the_job_with_a_readable_error() {
    let db = fresh_database().await;
    let model = spawn_model().await;
    let svc = spawn_service(&db.url, &model.url, &["--job-max-attempts", "3"]).await;
    let c = client();
    let down = "[mock:overloaded] never".to_owned();
    let job = submit(&c, &svc.base, &[down.clone(), "fine".to_owned()]).await;
    wait_for_status(&db.pool, job.job_id, "failed", Duration::from_secs(15)).await;
    let failed = get_job(&c, &svc.base, job.job_id).await;
    let error = failed.error.expect("an error message");
    assert!(
        error.starts_with("PROVIDER_OVERLOADED: ")
            && error.contains("HTTP 503")
            && error.ends_with("Gave up after 3 attempts."),
        "{error}"
    );
    assert!(
        !error.contains("http://") && !error.contains('\n'),
        "no URLs, one line: {error}"
    );
    assert_eq!(failed.attempts, 3);
    assert_eq!(model.calls(&down), 3);
    assert_eq!(
        failed.results,
        vec![answer("fine")],
        "partial results are kept"
    );
    svc.stop().await;

    // Model service unreachable: the same, with a message that names no address.
    let unreachable = spawn_service(
        &db.url,
        &closed_port_url().await,
        &["--job-max-attempts", "2"],
    )
    .await;
    let job = submit(&c, &unreachable.base, &["x".to_owned()]).await;
    wait_for_status(&db.pool, job.job_id, "failed", Duration::from_secs(15)).await;
    let failed = get_job(&c, &unreachable.base, job.job_id).await;
    assert_eq!(
        failed.error.as_deref(),
        Some("SERVICE_UNAVAILABLE: The model service is unavailable. Gave up after 2 attempts.")
    );
    unreachable.stop().await;
}

#[tokio::test]
async fn a_rejected_prompt_is_that_prompts_error_at_once_and_the_job_completes() {
    let db = fresh_database().await;
    let model = spawn_model().await;
    let svc = spawn_service(&db.url, &model.url, &[]).await;
    let c = client();
    let bad = "[mock:reject] bad".to_owned();
    let job = submit(
        &c,
        &svc.base,
        &["first".to_owned(), bad.clone(), "third".to_owned()],
    )
    .await;
    wait_for_status(&db.pool, job.job_id, "completed", Duration::from_secs(10)).await;
    let done = get_job(&c, &svc.base, job.job_id).await;
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.results, vec![answer("first"), answer("third")]);
    assert_eq!(done.result_indexes, vec![0, 2]);
    assert_eq!((done.completed_prompts, done.failed_prompts), (2, 1));
    assert_eq!(done.error, None, "the job did not fail; one prompt did");
    assert_eq!(done.prompt_errors.len(), 1);
    let e = &done.prompt_errors[0];
    assert_eq!(e.index, 1);
    assert_eq!(e.code.as_deref(), Some("INVALID_REQUEST"));
    assert!(e.message.contains("HTTP 400"), "{}", e.message);
    assert_eq!(done.attempts, 1, "a permanent failure is not retried");
    assert_eq!(model.calls(&bad), 1, "nor sent to the fallback model");
    assert_eq!(done.last_error, None);
    svc.stop().await;
}

#[tokio::test]
async fn a_job_whose_every_prompt_is_refused_fails() {
    let db = fresh_database().await;
    let model = spawn_model().await;
    let svc = spawn_service(&db.url, &model.url, &[]).await;
    let c = client();
    let ps = vec!["[mock:context] a".to_owned(), "[mock:policy] b".to_owned()];
    let job = submit(&c, &svc.base, &ps).await;
    wait_for_status(&db.pool, job.job_id, "failed", Duration::from_secs(10)).await;
    let done = get_job(&c, &svc.base, job.job_id).await;
    assert_eq!((done.failed_prompts, done.attempts), (2, 1));
    let codes: Vec<_> = done.prompt_errors.iter().map(|e| e.code.clone()).collect();
    assert_eq!(
        codes,
        [
            Some("CONTEXT_TOO_LONG".to_owned()),
            Some("CONTENT_POLICY".to_owned())
        ]
    );
    assert!(
        done.error
            .as_deref()
            .is_some_and(|e| e.starts_with("All 2 prompts failed; first, prompt #1:")),
        "{:?}",
        done.error
    );
    svc.stop().await;
}

/// The retry decision for every class the real model service reports, through the worker's
/// own client: permanent classes become the prompt's error, the others a retry.
#[tokio::test]
async fn every_error_class_of_the_real_model_service_gets_the_right_retry_decision() {
    use worker_service::model_client::{self, PromptOutcome};
    let model = spawn_model().await;
    let http = common::http::client_builder().build().unwrap();
    let client = common::http::ServiceClient::new(
        http,
        &model.url,
        "model service",
        Duration::from_secs(10),
    );
    let cases = [
        ("[mock:reject]", Some("INVALID_REQUEST")),
        ("[mock:context]", Some("CONTEXT_TOO_LONG")),
        ("[mock:policy]", Some("CONTENT_POLICY")),
        ("[mock:unknown-model]", Some("UNKNOWN_MODEL")),
        ("[mock:auth]", Some("PROVIDER_AUTH")),
        ("[mock:error]", Some("INFERENCE_ERROR")),
        ("[mock:ratelimit]", None),
        ("[mock:overloaded]", None),
        ("[mock:timeout]", None),
        ("[mock:network]", None),
    ];
    for (marker, permanent) in cases {
        let outcome = model_client::generate(&client, &format!("{marker} x"), None, 16).await;
        match (outcome, permanent) {
            (PromptOutcome::Permanent { code, .. }, Some(expected)) => {
                assert_eq!(code, expected, "{marker}")
            }
            (PromptOutcome::Transient { retry_after, .. }, None) => assert_eq!(
                retry_after.is_some(),
                marker == "[mock:ratelimit]",
                "{marker}: Retry-After reaches the worker"
            ),
            (other, _) => panic!("{marker}: {other:?}"),
        }
    }
    assert!(matches!(
        model_client::generate(&client, "fine", None, 16).await,
        PromptOutcome::Answer { .. }
    ));
}

#[tokio::test]
async fn cancelling_a_running_job_stops_it_after_in_flight_prompts_and_keeps_results() {
    let db = fresh_database().await;
    let model = spawn_model().await;
    let svc = spawn_service(&db.url, &model.url, &["--worker-max-prompts", "2"]).await;
    let c = client();
    let ps = prompts("[mock:delay=150] long job", 12);
    let job = submit(&c, &svc.base, &ps).await;
    let progressed = wait_until(Duration::from_secs(10), || async {
        get_job(&c, &svc.base, job.job_id).await.completed_prompts >= 2
    })
    .await;
    assert!(progressed);

    let response = c
        .post(svc.url(&format!("/jobs/{}/cancel", job.job_id)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let requested: JobResponse = response.json().await.unwrap();
    assert!(requested.cancel_requested);
    assert!(matches!(
        requested.status,
        JobStatus::Running | JobStatus::Cancelled
    ));

    wait_for_status(&db.pool, job.job_id, "cancelled", Duration::from_secs(10)).await;
    let calls_at_end = model.total_calls();
    let done = get_job(&c, &svc.base, job.job_id).await;
    assert!(
        done.completed_prompts >= 2 && done.completed_prompts < 12,
        "{done:?}"
    );
    assert_eq!(done.results.len() as i32, done.completed_prompts);
    assert!(done.completed_at.is_some());
    // Nothing is sent after the cancel; each call either answered or was aborted.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(model.total_calls(), calls_at_end);
    let stats = model.stats();
    assert_eq!(
        u64::try_from(done.completed_prompts).unwrap() + stats.completions_cancelled,
        calls_at_end,
        "{stats:?}"
    );
    svc.stop().await;
}

#[tokio::test]
async fn cancel_aborts_in_flight_model_requests_even_when_every_prompt_is_in_flight() {
    let db = fresh_database().await;
    let model = spawn_model().await;
    let svc = spawn_service(&db.url, &model.url, &[]).await;
    let c = client();
    // Two quick prompts whose answers must be kept, four that would take 20 s.
    let mut ps = vec!["quick one".to_owned(), "quick two".to_owned()];
    ps.extend(prompts("[mock:delay=20000] slow", 4));
    let job = submit(&c, &svc.base, &ps).await;
    let all_sent = wait_until(Duration::from_secs(10), || async {
        get_job(&c, &svc.base, job.job_id).await.completed_prompts == 2
            && model.stats().completions_started == 6
    })
    .await;
    assert!(all_sent, "{:?}", model.stats());

    let started = std::time::Instant::now();
    let response = c
        .post(svc.url(&format!("/jobs/{}/cancel", job.job_id)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    wait_for_status(&db.pool, job.job_id, "cancelled", Duration::from_secs(5)).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "cancelled without waiting for the slow prompts: {:?}",
        started.elapsed()
    );
    let done = get_job(&c, &svc.base, job.job_id).await;
    assert_eq!(done.status, JobStatus::Cancelled);
    assert_eq!(done.results, vec![answer("quick one"), answer("quick two")]);
    assert_eq!((done.completed_prompts, done.failed_prompts), (2, 0));
    // The model service saw its four provider calls dropped.
    let seen = model
        .state
        .stats
        .wait_for(Duration::from_secs(5), |s| s.completions_cancelled == 4)
        .await;
    assert!(seen.is_ok(), "{seen:?}");
    svc.stop().await;
}

/// Issue 12.6: a cancel that lands between the claim and the moment the worker holds the job
/// finds no held job, and its NOTIFY is dropped. Here a trigger marks the job cancelled in
/// the very statement that claims it (so no NOTIFY is ever sent, the worst case of that
/// race). The heartbeat is 10 s away and every prompt would take 20 s: only the check the
/// worker makes right after holding its claims can end the job in time.
#[tokio::test]
async fn a_cancel_that_arrives_while_the_job_is_being_claimed_is_not_lost() {
    let db = fresh_database().await;
    sqlx::raw_sql(
        "CREATE FUNCTION cancel_while_claiming() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF OLD.status = 'pending' AND NEW.status = 'running'
                AND NEW.name = 'cancel-while-claiming' THEN
                 NEW.cancel_requested := true;
             END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER cancel_while_claiming BEFORE UPDATE ON batch_jobs
             FOR EACH ROW EXECUTE FUNCTION cancel_while_claiming();",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let model = spawn_model().await;
    let svc = spawn_service(
        &db.url,
        &model.url,
        &["--lease-secs", "30", "--heartbeat-secs", "10"],
    )
    .await;
    let c = client();
    let started = std::time::Instant::now();
    let job: JobResponse = c
        .post(svc.url("/jobs"))
        .json(&serde_json::json!({
            "prompts": prompts("[mock:delay=20000] slow", 3),
            "name": "cancel-while-claiming"
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    wait_for_status(&db.pool, job.job_id, "cancelled", Duration::from_secs(5)).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let done = get_job(&c, &svc.base, job.job_id).await;
    assert_eq!((done.attempts, done.completed_prompts), (1, 0), "{done:?}");
    assert!(done.cancel_requested);
    svc.stop().await;
}
