//! Process faults (issue 12.6), with the three real binaries as child processes where a real
//! process matters (signals, a crash, a restart on the same port, the exit code):
//!
//! - the model service killed (SIGKILL) while a job of slow prompts runs, then started again
//!   on the same port: the job completes after retries, every prompt answered once;
//! - SIGTERM to the gateway with streams open: those that can finish within the grace period
//!   end with `[DONE]`, the others end with `[ERROR]` (OpenAI's error object on `/v1/`;
//!   session generations are stored as stopped and end with `[DONE]`), new connections are
//!   refused, the process exits 0;
//! - the model service stopped (SIGSTOP) with its socket open: a session stream's `stop`
//!   answers within a second and every viewer gets `[DONE]`, an unstopped stream ends with
//!   `[ERROR]` after the stream idle timeout, a sync call fails within its request timeout;
//! - SIGTERM to a worker holding jobs: it finishes what fits in its grace period and
//!   releases the rest; another worker completes them; nothing is computed or stored twice.
//!
//! A cancel that arrives while the job is being claimed is covered where the race can be
//! forced deterministically (a trigger cancels the job in the claiming statement itself):
//! `crates/worker-service/tests/api/queue.rs`,
//! `a_cancel_that_arrives_while_the_job_is_being_claimed_is_not_lost`.
//!
//! Slow: `#[ignore]`d in the ordinary run; `make test-faults` runs them (one at a time, so
//! their timings do not compete on a small machine). Needs `cargo build --bins` first.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use common::test_support::fresh_database;
use e2e::processes::{
    binaries, client, gateway_env, model_env, scratch_dir, set, wait_until, worker_env, Service,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

/// A job's row: (status, attempts, locked_by, completed_prompts, failed_prompts).
async fn job_row(pool: &sqlx::PgPool, id: Uuid) -> (String, i32, Option<String>, i32, i32) {
    sqlx::query_as(
        "SELECT status, attempts, locked_by, completed_prompts, failed_prompts
         FROM batch_jobs WHERE id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A job's result rows: (idx, attempt, text, error, created_at as text), by index.
type Slot = (i32, i32, Option<String>, Option<String>, String);

async fn slots(pool: &sqlx::PgPool, id: Uuid) -> Vec<Slot> {
    sqlx::query_as(
        "SELECT idx, attempt, text, error, created_at::text FROM batch_job_results
         WHERE job_id = $1 ORDER BY idx",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Every prompt answered exactly once, each by the answer to that very prompt.
async fn assert_answered_once(pool: &sqlx::PgPool, id: Uuid, prompts: &[String]) -> Vec<Slot> {
    let rows = slots(pool, id).await;
    assert_eq!(
        rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        (0..prompts.len() as i32).collect::<Vec<_>>(),
        "one result row per prompt: {rows:?}"
    );
    for (idx, _, text, error, _) in &rows {
        let prompt = &prompts[*idx as usize];
        assert!(error.is_none(), "prompt {idx} failed: {error:?}");
        let text = text.as_deref().unwrap_or_default();
        assert!(
            text.contains(&format!("Simulated response to: {prompt}")),
            "prompt {idx} got another prompt's answer: {text}"
        );
    }
    rows
}

/// POST a job to `{base}{path}`; returns its id.
async fn submit(c: &reqwest::Client, url: &str, prompts: &[String]) -> Uuid {
    let response = c
        .post(url)
        .json(&json!({"prompts": prompts, "max_tokens": 64}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::ACCEPTED, "submit: {body}");
    body["job_id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
#[ignore = "slow process-fault test: make test-faults"]
async fn the_model_service_restarted_mid_job_the_job_completes_after_retries() {
    let bins = binaries();
    let db = fresh_database().await;
    let cwd = scratch_dir("fault-model-restart");

    let model_settings = model_env("127.0.0.1:0", 0, 0);
    let mut model = Service::start("model-service", &bins.model, &cwd, &model_settings).await;
    let model_addr = model.addr;
    let mut env = worker_env(&db.url, &model.url);
    set(&mut env, "WORKER_MAX_PROMPTS", "2");
    set(&mut env, "JOB_RETRY_BASE_DELAY_MS", "300");
    set(&mut env, "JOB_RETRY_MAX_DELAY_MS", "2000");
    set(&mut env, "JOB_MAX_ATTEMPTS", "10");
    let worker = Service::start("worker-service", &bins.worker, &cwd, &env).await;
    let gateway = Service::start(
        "gateway",
        &bins.gateway,
        &cwd,
        &gateway_env(&db.url, &model.url, &worker.url),
    )
    .await;
    let c = client();

    let prompts: Vec<String> = (0..8)
        .map(|i| format!("[mock:delay=700] restart {i}"))
        .collect();
    let job = submit(&c, &format!("{}/api/v1/jobs", gateway.url), &prompts).await;
    let progressed = wait_until(Duration::from_secs(20), || async {
        job_row(&db.pool, job).await.3 >= 2
    })
    .await;
    assert!(progressed, "the job made progress before the crash");

    // Crash: prompts in flight lose their connection; the port is closed for a while.
    model.kill_9().await;
    let killed = Instant::now();
    let before = slots(&db.pool, job).await;
    println!(
        "model service killed with {} of 8 prompts answered",
        before.len()
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, attempts, ..) = job_row(&db.pool, job).await;
    println!("while the model service was down: status {status}, attempts {attempts}");
    assert_ne!(status, "failed");

    let mut restarted_env = model_settings.clone();
    set(
        &mut restarted_env,
        "MODEL_SERVICE_ADDR",
        model_addr.to_string(),
    );
    let model = Service::start("model-service", &bins.model, &cwd, &restarted_env).await;
    assert_eq!(model.addr, model_addr, "restarted on the same port");
    println!("model service back after {:?}", killed.elapsed());

    let completed = wait_until(Duration::from_secs(40), || async {
        job_row(&db.pool, job).await.0 == "completed"
    })
    .await;
    let (status, attempts, locked_by, done, failed) = job_row(&db.pool, job).await;
    assert!(
        completed,
        "the job did not complete: {status}, attempt {attempts}; worker log:\n{}",
        worker.output()
    );
    println!(
        "job completed {:?} after the crash in {attempts} attempts",
        killed.elapsed()
    );
    assert!(attempts >= 2, "the crash cost the job an attempt");
    assert_eq!((done, failed, locked_by), (8, 0, None));
    let after = assert_answered_once(&db.pool, job, &prompts).await;
    // The answers stored before the crash were kept, not computed again.
    for slot in &before {
        assert!(after.contains(slot), "slot {} rewritten", slot.0);
    }
    // The public API says the same.
    let public: Value = c
        .get(format!("{}/api/v1/jobs/{job}", gateway.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(public["status"], "completed", "{public}");
    assert_eq!(public["results"].as_array().map(Vec::len), Some(8));
    assert!(
        worker.output().contains("transient failure"),
        "the worker saw the outage as transient"
    );

    gateway.stop().await;
    worker.stop().await;
    model.stop().await;
    let _ = std::fs::remove_dir_all(&cwd);
}

/// How a stream ended, as the client saw it.
#[derive(Debug)]
struct StreamEnd {
    /// The last `data:` payload, if the body was read to its end.
    last: Option<String>,
    /// A transport error (the connection was cut before the body ended).
    error: Option<String>,
    tokens: usize,
}

/// Starts a stream, waits for its first token, then reads the rest in a task.
async fn open_stream(
    c: &reqwest::Client,
    gateway: &str,
    body: Value,
) -> tokio::task::JoinHandle<StreamEnd> {
    open_stream_at(c, &format!("{gateway}/api/v1/generate/stream"), body).await
}

/// [`open_stream`] on any streaming route.
async fn open_stream_at(
    c: &reqwest::Client,
    url: &str,
    body: Value,
) -> tokio::task::JoinHandle<StreamEnd> {
    let mut response = c.post(url).json(&body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = response.chunk().await.unwrap().expect("a first event");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    tokio::spawn(async move {
        let mut error = None;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => text.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(None) => break,
                Err(e) => {
                    error = Some(format!("{e:?}"));
                    break;
                }
            }
        }
        let payloads = e2e::sse_payloads(&text);
        StreamEnd {
            last: if error.is_none() {
                payloads.last().cloned()
            } else {
                None
            },
            tokens: payloads.iter().filter(|p| p.starts_with('"')).count(),
            error,
        }
    })
}

#[tokio::test]
#[ignore = "slow process-fault test: make test-faults"]
async fn sigterm_to_the_gateway_with_streams_open() {
    let bins = binaries();
    let db = fresh_database().await;
    let cwd = scratch_dir("fault-gateway-sigterm");
    let model = bins.start_model(&cwd, 0, 50).await;
    let worker = bins.start_worker(&cwd, &db.url, &model.url).await;
    let grace = Duration::from_secs(4);
    let mut env = gateway_env(&db.url, &model.url, &worker.url);
    set(&mut env, "SHUTDOWN_GRACE_SECS", grace.as_secs().to_string());
    let mut gateway = Service::start("gateway", &bins.gateway, &cwd, &env).await;
    let base = gateway.url.clone();
    let c = client();

    let mut sessions = Vec::new();
    for title in ["short", "long"] {
        let session: Value = c
            .post(format!("{base}/api/v1/chat/sessions"))
            .json(&json!({"title": title}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        sessions.push(session["id"].as_str().unwrap().to_owned());
    }
    // 40 tokens at 50 ms: about 2 s, well inside the grace period. 200 slow tokens: 40 s.
    let short = "[mock:tokens=40] a short answer";
    let long = "[mock:slow] [mock:tokens=200] a long answer";
    let short_plain = open_stream(&c, &base, json!({"prompt": short, "max_tokens": 256})).await;
    let long_plain = open_stream(&c, &base, json!({"prompt": long, "max_tokens": 256})).await;
    let short_session = open_stream(
        &c,
        &base,
        json!({"prompt": short, "max_tokens": 256, "session_id": sessions[0]}),
    )
    .await;
    let long_session = open_stream(
        &c,
        &base,
        json!({"prompt": long, "max_tokens": 256, "session_id": sessions[1]}),
    )
    .await;
    // The OpenAI-compatible route ends the same way, in OpenAI's error format.
    let models: Value = c
        .get(format!("{base}/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let model_id = models["data"][0]["id"].as_str().unwrap().to_owned();
    let long_openai = open_stream_at(
        &c,
        &format!("{base}/v1/chat/completions"),
        json!({"model": model_id, "stream": true, "max_tokens": 256,
               "messages": [{"role": "user", "content": long}]}),
    )
    .await;

    gateway.signal("TERM").await;
    let signalled = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // New requests, on new connections, are refused (the listener is closed) or answered 503.
    for path in ["/health", "/api/v1/generate"] {
        let fresh = common::http::client_builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let result = fresh
            .post(format!("{base}{path}"))
            .json(&json!({"prompt": "after the signal"}))
            .send()
            .await;
        match result {
            Err(e) => {
                assert!(e.is_connect(), "{path} after SIGTERM: {e:?}");
                println!("{path} after SIGTERM: connection refused");
            }
            Ok(r) => {
                assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
                println!("{path} after SIGTERM: 503");
            }
        }
    }

    let status = gateway.wait_exit(grace + Duration::from_secs(15)).await;
    let took = signalled.elapsed();
    println!("gateway exited {status:?} {took:?} after SIGTERM");
    let status =
        status.unwrap_or_else(|| panic!("the gateway did not exit:\n{}", gateway.output()));
    assert!(status.success(), "exit status {status}");
    assert_eq!(status.code(), Some(0));
    assert!(took >= grace, "long streams kept it for the grace period");

    let short_plain = short_plain.await.unwrap();
    let short_session = short_session.await.unwrap();
    let long_plain = long_plain.await.unwrap();
    let long_session = long_session.await.unwrap();
    let long_openai = long_openai.await.unwrap();
    for (what, end) in [
        ("short stream", &short_plain),
        ("short session stream", &short_session),
        ("long stream", &long_plain),
        ("long session stream", &long_session),
        ("long OpenAI-compatible stream", &long_openai),
    ] {
        println!("{what}: {end:?}");
    }
    assert_eq!(short_plain.last.as_deref(), Some("[DONE]"));
    assert_eq!(short_session.last.as_deref(), Some("[DONE]"));
    for (what, end) in [
        ("long stream", &long_plain),
        ("long session stream", &long_session),
    ] {
        assert!(
            end.tokens < 200,
            "{what} cannot have finished in the grace period"
        );
        let last = end.last.as_deref().unwrap_or_else(|| {
            panic!(
                "{what} was cut without a final event ({} tokens): {}",
                end.tokens,
                end.error.as_deref().unwrap_or_default()
            )
        });
        assert!(
            last.starts_with("[ERROR]") || last == "[DONE]",
            "{what} ended with {last}"
        );
    }
    let openai_last: Value = long_openai
        .last
        .as_deref()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("the OpenAI stream was cut: {long_openai:?}"));
    assert_eq!(
        openai_last["error"]["code"], "service_unavailable",
        "{openai_last}"
    );
    assert!(
        long_plain
            .last
            .as_deref()
            .is_some_and(|l| l.starts_with("[ERROR]")),
        "a stream cut by the shutdown says so: {long_plain:?}"
    );

    // The short session answer is stored whole; the long one as stopped.
    let stored: Vec<(String, String, Value)> = sqlx::query_as(
        "SELECT session_id::text, role, coalesce(meta, '{}'::jsonb) FROM chat_messages
         WHERE role = 'assistant' ORDER BY created_at",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let meta_of = |session: &str| {
        stored
            .iter()
            .find(|(s, ..)| s == session)
            .map(|(_, _, m)| m.clone())
            .unwrap_or_else(|| panic!("no stored answer in {session}: {stored:?}"))
    };
    let short_meta = meta_of(&sessions[0]);
    let long_meta = meta_of(&sessions[1]);
    println!("stored: short {short_meta}, long {long_meta}");
    assert_ne!(short_meta["stopped"], true);
    assert_eq!(long_meta["stopped"], true, "{long_meta}");

    worker.stop().await;
    model.stop().await;
    let _ = std::fs::remove_dir_all(&cwd);
}

#[tokio::test]
#[ignore = "slow process-fault test: make test-faults"]
async fn sigterm_to_a_worker_holding_jobs_another_worker_completes_them_nothing_twice() {
    let bins = binaries();
    let db = fresh_database().await;
    let cwd = scratch_dir("fault-worker-sigterm");
    let model = bins.start_model(&cwd, 0, 0).await;
    // An API-only worker service takes the submissions; the workers come and go.
    let mut api_env = worker_env(&db.url, &model.url);
    set(&mut api_env, "WORKER_DISABLED", "true");
    let api = Service::start("worker-api", &bins.worker, &cwd, &api_env).await;
    let mut env = worker_env(&db.url, &model.url);
    set(&mut env, "WORKER_MAX_PROMPTS", "4");
    set(&mut env, "SHUTDOWN_GRACE_SECS", "1");
    // A long lease: a job the first worker kept would not come back during this test.
    set(&mut env, "LEASE_SECS", "60");
    set(&mut env, "HEARTBEAT_SECS", "5");
    let mut env_a = env.clone();
    set(&mut env_a, "WORKER_ID", "worker-a");
    let mut first = Service::start("worker-a", &bins.worker, &cwd, &env_a).await;
    let c = client();

    // Quick prompts finish within the grace period; 4 s ones cannot.
    let quick: Vec<String> = (0..6)
        .map(|i| format!("[mock:delay=400] quick {i}"))
        .collect();
    let mixed: Vec<String> = (0..4)
        .map(|i| {
            if i % 2 == 0 {
                format!("[mock:delay=400] mixed {i}")
            } else {
                format!("[mock:delay=4000] mixed {i}")
            }
        })
        .collect();
    let jobs_url = format!("{}/jobs", api.url);
    let job_mixed = submit(&c, &jobs_url, &mixed).await;
    let job_quick = submit(&c, &jobs_url, &quick).await;
    let jobs = [(job_mixed, &mixed), (job_quick, &quick)];
    let holding = wait_until(Duration::from_secs(20), || async {
        let (status_m, .., done_m, _) = job_row(&db.pool, job_mixed).await;
        let (status_q, .., done_q, _) = job_row(&db.pool, job_quick).await;
        status_m == "running" && status_q == "running" && done_m + done_q >= 1
    })
    .await;
    assert!(holding, "worker-a holds both jobs:\n{}", first.output());

    first.signal("TERM").await;
    let signalled = Instant::now();
    let status = first.wait_exit(Duration::from_secs(15)).await;
    println!(
        "worker-a exited {status:?} {:?} after SIGTERM",
        signalled.elapsed()
    );
    let status = status.unwrap_or_else(|| panic!("worker-a did not exit:\n{}", first.output()));
    assert_eq!(status.code(), Some(0), "{}", first.output());

    // Nothing is left held by the stopped worker: each job is finished or released.
    let mut before = Vec::new();
    for (job, prompts) in &jobs {
        let (status, attempts, locked_by, done, failed) = job_row(&db.pool, *job).await;
        println!(
            "after worker-a stopped: job of {} prompts {status}, attempts {attempts}, {done} answered, locked by {locked_by:?}",
            prompts.len()
        );
        assert_eq!(failed, 0);
        assert!(
            status == "completed" || (status == "pending" && locked_by.is_none()),
            "job {job} neither finished nor released: {status} {locked_by:?}"
        );
        before.push(slots(&db.pool, *job).await);
    }
    assert!(
        job_row(&db.pool, job_mixed).await.0 == "pending",
        "the 4 s prompts cannot have finished in a 1 s grace period"
    );

    let mut env_b = env.clone();
    set(&mut env_b, "WORKER_ID", "worker-b");
    let second = Service::start("worker-b", &bins.worker, &cwd, &env_b).await;
    for (job, _) in &jobs {
        let done = wait_until(Duration::from_secs(30), || async {
            job_row(&db.pool, *job).await.0 == "completed"
        })
        .await;
        assert!(
            done,
            "worker-b did not complete {job}:\n{}",
            second.output()
        );
    }
    for ((job, prompts), before) in jobs.iter().zip(&before) {
        let (_, attempts, locked_by, done, failed) = job_row(&db.pool, *job).await;
        assert_eq!((done, failed, locked_by), (prompts.len() as i32, 0, None));
        let after = assert_answered_once(&db.pool, *job, prompts).await;
        // What worker-a stored stays as it was (same attempt, same write time).
        for slot in before {
            assert!(
                after.contains(slot),
                "slot {} of {job} written twice",
                slot.0
            );
        }
        println!(
            "job of {} prompts completed: {} answered by worker-a, {} by worker-b, attempts {attempts}",
            prompts.len(),
            before.len(),
            after.len() - before.len()
        );
    }

    second.stop().await;
    api.stop().await;
    model.stop().await;
    let _ = std::fs::remove_dir_all(&cwd);
}

/// Reads an SSE response to its end (or until `within` passes); `None` when it did not end.
async fn read_to_end(mut response: reqwest::Response, within: Duration) -> Option<Vec<String>> {
    let mut text = String::new();
    let read = async {
        while let Ok(Some(chunk)) = response.chunk().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(within, read).await.ok()?;
    Some(e2e::sse_payloads(&text))
}

#[tokio::test]
#[ignore = "slow process-fault test: make test-faults"]
async fn a_wedged_model_service_bounds_streams_and_a_stop_ends_one_at_once() {
    let bins = binaries();
    let db = fresh_database().await;
    let cwd = scratch_dir("fault-model-sigstop");
    let model = bins.start_model(&cwd, 0, 0).await;
    let worker = bins.start_worker(&cwd, &db.url, &model.url).await;
    let idle = Duration::from_secs(3);
    let request_timeout = Duration::from_secs(2);
    let mut env = gateway_env(&db.url, &model.url, &worker.url);
    set(
        &mut env,
        "STREAM_IDLE_TIMEOUT_SECS",
        idle.as_secs().to_string(),
    );
    set(
        &mut env,
        "HTTP_REQUEST_TIMEOUT_SECS",
        request_timeout.as_secs().to_string(),
    );
    let gateway = Service::start("gateway", &bins.gateway, &cwd, &env).await;
    let base = gateway.url.clone();
    let c = client();
    let mut sessions = Vec::new();
    for title in ["stopped", "left alone"] {
        let session: Value = c
            .post(format!("{base}/api/v1/chat/sessions"))
            .json(&json!({"title": title}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        sessions.push(session["id"].as_str().unwrap().to_owned());
    }
    // Warm: the model service answers before it is stopped (a pooled connection exists).
    let warm = c
        .post(format!("{base}/api/v1/generate"))
        .json(&json!({"prompt": "warm up", "max_tokens": 8}))
        .send()
        .await
        .unwrap();
    assert_eq!(warm.status(), StatusCode::OK);

    // Wedged: the process keeps its socket open and answers nothing.
    model.signal("STOP").await;
    let stream_in = |session: &str| {
        c.post(format!("{base}/api/v1/generate/stream"))
            .json(&json!({"prompt": "are you there?", "max_tokens": 64, "session_id": session}))
            .send()
    };
    let first = stream_in(&sessions[0]).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let alone = stream_in(&sessions[1]).await.unwrap();
    assert_eq!(alone.status(), StatusCode::OK);
    let alone_opened = Instant::now();
    let second = c
        .get(format!(
            "{base}/api/v1/chat/sessions/{}/stream",
            sessions[0]
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::OK, "a second viewer attaches");
    let viewers = [first, second].map(|r| tokio::spawn(read_to_end(r, Duration::from_secs(2))));
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A stop answers within a second, and every viewer gets its final event.
    let asked = Instant::now();
    let stop = c
        .post(format!("{base}/api/v1/chat/sessions/{}/stop", sessions[0]))
        .timeout(Duration::from_secs(3))
        .send()
        .await;
    let took = asked.elapsed();
    println!("stop with the model service wedged answered in {took:?}");
    let stop: Value = stop.expect("the stop answers").json().await.unwrap();
    assert_eq!(stop["stopped"], true, "{stop}");
    assert!(took < Duration::from_secs(1), "the stop took {took:?}");
    for (n, viewer) in viewers.into_iter().enumerate() {
        let payloads = viewer
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("viewer {n} got no final event after the stop"));
        println!("viewer {n}: {payloads:?}");
        assert_eq!(payloads.last().map(String::as_str), Some("[DONE]"));
    }
    // The session is free at once: nothing runs in it any more.
    let attach = c
        .get(format!(
            "{base}/api/v1/chat/sessions/{}/stream",
            sessions[0]
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(attach.status(), StatusCode::NO_CONTENT);

    // Left alone, a stream ends with [ERROR] after the idle timeout, not never.
    let alone = read_to_end(alone, idle + Duration::from_secs(3))
        .await
        .expect("the unstopped stream ended");
    let waited = alone_opened.elapsed();
    println!("unstopped stream ended after {waited:?}: {alone:?}");
    assert!(
        alone.last().is_some_and(|l| l.starts_with("[ERROR]")),
        "{alone:?}"
    );
    assert!(waited >= idle - Duration::from_millis(500), "{waited:?}");
    // And is stored as failed, so the session is free too.
    let attach = c
        .get(format!(
            "{base}/api/v1/chat/sessions/{}/stream",
            sessions[1]
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(attach.status(), StatusCode::NO_CONTENT);

    // A sync call keeps failing within its request timeout.
    let asked = Instant::now();
    let sync = c
        .post(format!("{base}/api/v1/generate"))
        .json(&json!({"prompt": "still there?", "max_tokens": 8}))
        .send()
        .await
        .unwrap();
    let took = asked.elapsed();
    println!(
        "sync call with the model service wedged: {} in {took:?}",
        sync.status()
    );
    assert!(sync.status().is_server_error(), "{}", sync.status());
    assert!(took < request_timeout + Duration::from_secs(1), "{took:?}");

    model.signal("CONT").await;
    gateway.stop().await;
    worker.stop().await;
    model.stop().await;
    let _ = std::fs::remove_dir_all(&cwd);
}

/// Sends `path` a JSON body one byte a second; returns the status line the service answered.
async fn slow_body(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = br#"{"prompt": "slowly", "prompts": ["slowly"]}"#;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = socket.into_split();
    write.write_all(head.as_bytes()).await.unwrap();
    let writer = tokio::spawn(async move {
        for byte in body {
            if write.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(8), read.read_to_end(&mut answer))
        .await
        .unwrap_or_else(|_| panic!("{path}: a body at 1 byte/s was not cut off in 8 s"))
        .unwrap();
    writer.abort();
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
#[ignore = "slow process-fault test: make test-faults"]
async fn every_service_answers_a_body_at_one_byte_a_second_with_408() {
    let bins = binaries();
    let db = fresh_database().await;
    let cwd = scratch_dir("fault-slow-clients");
    let small = |mut env: Vec<(&'static str, String)>| {
        set(&mut env, "HEADER_READ_TIMEOUT_SECS", "1");
        set(&mut env, "REQUEST_BODY_TIMEOUT_SECS", "1");
        env
    };
    let model = Service::start(
        "model-service",
        &bins.model,
        &cwd,
        &small(model_env("127.0.0.1:0", 0, 0)),
    )
    .await;
    let worker = Service::start(
        "worker-service",
        &bins.worker,
        &cwd,
        &small(worker_env(&db.url, &model.url)),
    )
    .await;
    let gateway = Service::start(
        "gateway",
        &bins.gateway,
        &cwd,
        &small(gateway_env(&db.url, &model.url, &worker.url)),
    )
    .await;
    let started = Instant::now();
    let answers = futures::future::join3(
        slow_body(gateway.addr, "/api/v1/generate"),
        slow_body(model.addr, "/inference"),
        slow_body(worker.addr, "/jobs"),
    )
    .await;
    println!(
        "slow bodies answered {answers:?} in {:?}",
        started.elapsed()
    );
    for answer in [&answers.0, &answers.1, &answers.2] {
        assert!(answer.starts_with("HTTP/1.1 408"), "{answers:?}");
    }
    gateway.stop().await;
    worker.stop().await;
    model.stop().await;
    let _ = std::fs::remove_dir_all(&cwd);
}
