//! The queue's SQL directly: exclusive claims, fenced writes, the reaper.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::HashSet;
use std::time::Duration;

use common::schemas::{JobStatus, JobSubmission, DEFAULT_JOB_OWNER};
use common::test_support::fresh_database;
use sqlx::PgPool;
use uuid::Uuid;
use worker_service::job_repo::{self, Fenced, Finish, SlotWrite};

async fn insert(pool: &PgPool, n_prompts: usize) -> Uuid {
    let id = Uuid::now_v7();
    let submission = JobSubmission {
        prompts: (0..n_prompts).map(|i| format!("p{i}")).collect(),
        model: None,
        max_tokens: 16,
        name: None,
    };
    job_repo::insert(pool, DEFAULT_JOB_OWNER, id, &submission, 3)
        .await
        .unwrap();
    id
}

fn answer(idx: i32) -> SlotWrite {
    SlotWrite::answer(idx, format!("a{idx}"), common::schemas::Usage::new(3, 4))
}

/// One job's fenced write, as the worker's writer sends it.
async fn write_slots(
    pool: &PgPool,
    job: Uuid,
    worker: &str,
    attempt: i32,
    slots: &[SlotWrite],
    finish: Option<&Finish>,
) -> Result<Fenced, sqlx::Error> {
    let write = job_repo::JobWrite {
        job,
        attempt,
        slots: slots.to_vec(),
        finish: finish.cloned(),
    };
    Ok(job_repo::write_slots_batch(pool, worker, &[write]).await?[0])
}

#[tokio::test]
async fn concurrent_claims_never_hand_out_a_job_twice() {
    let db = fresh_database().await;
    for _ in 0..60 {
        insert(&db.pool, 1).await;
    }
    let mut tasks = Vec::new();
    for w in 0..6 {
        let pool = db.pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = job_repo::claim(&pool, &format!("w{w}"), Duration::from_secs(30), 7)
                    .await
                    .unwrap();
                if got.is_empty() {
                    break;
                }
                mine.extend(got.into_iter().map(|j| j.id));
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: HashSet<Uuid> = all.iter().copied().collect();
    assert_eq!(all.len(), 60);
    assert_eq!(unique.len(), 60);
}

#[tokio::test]
async fn writes_are_fenced_by_the_claim_and_slots_are_written_once() {
    let db = fresh_database().await;
    let id = insert(&db.pool, 3).await;
    let lease = Duration::from_secs(30);
    let first = job_repo::claim(&db.pool, "w1", lease, 1).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(
        write_slots(&db.pool, id, "w1", 1, &[answer(0)], None)
            .await
            .unwrap(),
        Fenced::Written {
            cancel_requested: false
        }
    );

    // w1's lease expires and w2 takes the job over.
    sqlx::query("UPDATE batch_jobs SET locked_until = now() - interval '1 second' WHERE id = $1")
        .bind(id)
        .execute(&db.pool)
        .await
        .unwrap();
    let second = job_repo::claim(&db.pool, "w2", lease, 1).await.unwrap();
    assert_eq!((second[0].attempts, second[0].filled), (2, 1));

    // The old owner can write nothing any more.
    assert_eq!(
        write_slots(&db.pool, id, "w1", 1, &[answer(1)], None)
            .await
            .unwrap(),
        Fenced::LeaseLost
    );
    // The new owner cannot write a slot twice; the failed statement changes nothing.
    assert!(
        write_slots(&db.pool, id, "w2", 2, &[answer(1), answer(0)], None)
            .await
            .is_err()
    );
    let finish = Finish {
        status: JobStatus::Completed,
        error: None,
    };
    assert_eq!(
        write_slots(
            &db.pool,
            id,
            "w2",
            2,
            &[answer(1), answer(2)],
            Some(&finish)
        )
        .await
        .unwrap(),
        Fenced::Written {
            cancel_requested: false
        }
    );
    let job = job_repo::find(&db.pool, DEFAULT_JOB_OWNER, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    assert_eq!(job.completed_prompts, 3);
    assert_eq!(job.results, vec!["a0", "a1", "a2"]);
    let (locked_by,): (Option<String>,) =
        sqlx::query_as("SELECT locked_by FROM batch_jobs WHERE id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(locked_by, None);
}

#[tokio::test]
async fn the_reaper_requeues_cancels_or_fails_jobs_with_expired_leases() {
    let db = fresh_database().await;
    let requeue = insert(&db.pool, 1).await;
    let cancel = insert(&db.pool, 1).await;
    let exhausted = insert(&db.pool, 1).await;
    let healthy = insert(&db.pool, 1).await;
    sqlx::query(
        "UPDATE batch_jobs SET status = 'running', locked_by = 'ghost', attempts = 1,
                locked_until = now() - interval '5 seconds'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE batch_jobs SET cancel_requested = true WHERE id = $1")
        .bind(cancel)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE batch_jobs SET attempts = max_attempts WHERE id = $1")
        .bind(exhausted)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE batch_jobs SET locked_until = now() + interval '1 minute' WHERE id = $1")
        .bind(healthy)
        .execute(&db.pool)
        .await
        .unwrap();

    let reaped = job_repo::reap_expired(&db.pool).await.unwrap();
    assert_eq!(
        (reaped.requeued, reaped.cancelled, reaped.failed),
        (1, 1, 1)
    );
    let get = |id| {
        let pool = db.pool.clone();
        async move {
            job_repo::find(&pool, DEFAULT_JOB_OWNER, id)
                .await
                .unwrap()
                .unwrap()
        }
    };
    assert_eq!(get(requeue).await.status, JobStatus::Pending);
    assert_eq!(get(cancel).await.status, JobStatus::Cancelled);
    let failed = get(exhausted).await;
    assert_eq!(failed.status, JobStatus::Failed);
    assert!(failed.error.unwrap().contains("interrupted 3 times"));
    assert_eq!(get(healthy).await.status, JobStatus::Running);
    // Nothing more to do on a second pass.
    assert_eq!(
        job_repo::reap_expired(&db.pool).await.unwrap(),
        job_repo::Reaped::default()
    );
}

#[tokio::test]
async fn a_batched_write_fences_each_job_by_its_own_claim() {
    use worker_service::job_repo::JobWrite;
    let db = fresh_database().await;
    let a = insert(&db.pool, 2).await;
    let b = insert(&db.pool, 1).await;
    let claimed = job_repo::claim(&db.pool, "w1", Duration::from_secs(30), 2)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    let finish = Finish {
        status: JobStatus::Completed,
        error: None,
    };
    let writes = vec![
        JobWrite {
            job: a,
            attempt: 1,
            slots: vec![answer(0)],
            finish: None,
        },
        // A stale attempt number: refused, while the other job's write goes through.
        JobWrite {
            job: b,
            attempt: 7,
            slots: vec![answer(0)],
            finish: Some(finish.clone()),
        },
    ];
    let results = job_repo::write_slots_batch(&db.pool, "w1", &writes)
        .await
        .unwrap();
    assert_eq!(
        results,
        vec![
            Fenced::Written {
                cancel_requested: false
            },
            Fenced::LeaseLost
        ]
    );
    let writes = vec![
        JobWrite {
            job: a,
            attempt: 1,
            slots: vec![answer(1)],
            finish: Some(finish.clone()),
        },
        JobWrite {
            job: b,
            attempt: 1,
            slots: vec![answer(0)],
            finish: Some(finish),
        },
    ];
    let results = job_repo::write_slots_batch(&db.pool, "w1", &writes)
        .await
        .unwrap();
    assert!(results.iter().all(|r| matches!(r, Fenced::Written { .. })));
    let a = job_repo::find(&db.pool, DEFAULT_JOB_OWNER, a)
        .await
        .unwrap()
        .unwrap();
    let b = job_repo::find(&db.pool, DEFAULT_JOB_OWNER, b)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (a.status, a.completed_prompts, a.results.len()),
        (JobStatus::Completed, 2, 2)
    );
    assert_eq!(
        (b.status, b.completed_prompts, b.results.len()),
        (JobStatus::Completed, 1, 1)
    );
}

/// The heartbeat is fenced like every other write: by the claim `(locked_by, attempts)`, not
/// by the worker id alone. A worker whose lease expired and that claimed the same job again
/// (attempt 2) must not have its old attempt's heartbeat renew the new claim's lease.
#[tokio::test]
async fn heartbeat_of_a_superseded_attempt_renews_nothing() {
    let db = fresh_database().await;
    let id = insert(&db.pool, 1).await;
    let lease = Duration::from_secs(30);
    assert_eq!(
        job_repo::claim(&db.pool, "w1", lease, 1)
            .await
            .unwrap()
            .len(),
        1
    );
    // The lease expires and the same worker id claims the job again: attempt 2.
    sqlx::query("UPDATE batch_jobs SET locked_until = now() - interval '1 second' WHERE id = $1")
        .bind(id)
        .execute(&db.pool)
        .await
        .unwrap();
    let again = job_repo::claim(&db.pool, "w1", Duration::from_secs(2), 1)
        .await
        .unwrap();
    assert_eq!(again[0].attempts, 2);
    let until = |pool: PgPool| async move {
        sqlx::query_scalar::<_, chrono::DateTime<chrono::Utc>>(
            "SELECT locked_until FROM batch_jobs WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let before = until(db.pool.clone()).await;

    // Attempt 1's heartbeat: renews nothing and reports the job lost.
    let stale = job_repo::heartbeat(&db.pool, "w1", Duration::from_secs(600), &[(id, 1)])
        .await
        .unwrap();
    assert!(stale.is_empty(), "attempt 1's heartbeat renewed: {stale:?}");
    assert_eq!(until(db.pool.clone()).await, before);

    // Attempt 2's heartbeat renews its own lease.
    let live = job_repo::heartbeat(&db.pool, "w1", Duration::from_secs(600), &[(id, 2)])
        .await
        .unwrap();
    assert_eq!(live.len(), 1);
    assert!(until(db.pool.clone()).await > before);
}
