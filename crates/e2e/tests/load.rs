//! Load held (issue 12.8): a mixed load against the three real binaries (child processes,
//! `AUTH_MODE=off`, `RATE_LIMIT=off`, the mock provider with small delays) for `LOAD_SECS`
//! seconds (default 60): chat appends (and session reads), synchronous generations, streams
//! (plain and stored in a session), and batch jobs, each kind from `LOAD_CONCURRENCY` client
//! tasks (default 4). Passes when there was no error at all, every job completed with every
//! prompt answered, and each service's resident memory (`VmRSS` from `/proc/<pid>/status`)
//! grew less than 10 % between the first third of the run (the 20th second of 60) and its
//! end. Prints requests by kind, errors, p50/p99 latencies and the RSS samples.
//!
//! Slow: `#[ignore]`d in the ordinary run; `make test-faults` runs it. Needs
//! `cargo build --bins` first (debug binaries: the figures are for correctness and memory,
//! not speed; `make bench` measures speed).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::test_support::fresh_database;
use e2e::processes::{binaries, gateway_env, scratch_dir, set, worker_env, Service};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {v:?}")),
        Err(_) => default,
    }
}

/// What the client tasks saw.
#[derive(Default)]
struct Tally {
    /// Latencies in milliseconds by kind of request.
    latencies: BTreeMap<&'static str, Vec<f64>>,
    errors: BTreeMap<&'static str, usize>,
    /// The first few errors, for the failure message.
    examples: Vec<String>,
    jobs: Vec<Uuid>,
}

#[derive(Clone)]
struct Load {
    http: reqwest::Client,
    base: String,
    tally: Arc<Mutex<Tally>>,
    until: Instant,
}

impl Load {
    fn running(&self) -> bool {
        Instant::now() < self.until
    }

    fn record(&self, kind: &'static str, started: Instant, outcome: Result<(), String>) {
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let mut tally = self.tally.lock().unwrap();
        tally.latencies.entry(kind).or_default().push(ms);
        if let Err(e) = outcome {
            *tally.errors.entry(kind).or_default() += 1;
            if tally.examples.len() < 10 {
                tally.examples.push(format!("{kind}: {e}"));
            }
        }
    }

    /// Sends a JSON request, expecting `status`; returns the body.
    async fn call(
        &self,
        kind: &'static str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        status: StatusCode,
    ) -> Option<Value> {
        let started = Instant::now();
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let outcome = async {
            let response = request.send().await.map_err(|e| format!("{e:?}"))?;
            let got = response.status();
            let text = response.text().await.map_err(|e| format!("{e:?}"))?;
            if got != status {
                return Err(format!("{path}: {got}: {text}"));
            }
            serde_json::from_str::<Value>(&text).map_err(|e| format!("{path}: {e}: {text}"))
        }
        .await;
        let value = outcome.as_ref().ok().cloned();
        self.record(kind, started, outcome.map(|_| ()));
        value
    }

    async fn new_session(&self) -> Option<String> {
        let session = self
            .call(
                "session create",
                reqwest::Method::POST,
                "/api/v1/chat/sessions",
                Some(json!({"title": "load"})),
                StatusCode::CREATED,
            )
            .await?;
        session["id"].as_str().map(str::to_owned)
    }

    /// Appends turns to a session (a new one every 20 turns), reading it back now and then.
    async fn chat(self, task: usize) {
        let mut session = None;
        let mut turn = 0u64;
        while self.running() {
            if turn.is_multiple_of(20) {
                session = self.new_session().await;
            }
            let Some(id) = session.clone() else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let role = if turn.is_multiple_of(2) {
                "user"
            } else {
                "assistant"
            };
            self.call(
                "chat append",
                reqwest::Method::POST,
                &format!("/api/v1/chat/sessions/{id}/messages"),
                Some(json!({"role": role, "content": format!("load turn {turn} of task {task}")})),
                StatusCode::CREATED,
            )
            .await;
            if turn % 10 == 9 {
                self.call(
                    "session read",
                    reqwest::Method::GET,
                    &format!("/api/v1/chat/sessions/{id}"),
                    None,
                    StatusCode::OK,
                )
                .await;
            }
            turn += 1;
        }
    }

    async fn generate(self, task: usize) {
        let mut n = 0u64;
        while self.running() {
            let answer = self
                .call(
                    "generate",
                    reqwest::Method::POST,
                    "/api/v1/generate",
                    Some(json!({"prompt": format!("sync {task}-{n}"), "max_tokens": 32})),
                    StatusCode::OK,
                )
                .await;
            if let Some(answer) = answer {
                if answer["text"].as_str().is_none_or(str::is_empty) {
                    self.record(
                        "generate",
                        Instant::now(),
                        Err(format!("no text: {answer}")),
                    );
                }
            }
            n += 1;
        }
    }

    /// Streams read to the end: every other one stored in a session (a new one every 10).
    async fn stream(self, task: usize) {
        let mut n = 0u64;
        let mut session = None;
        while self.running() {
            let stored = n % 2 == 1;
            if stored && n % 20 == 1 {
                session = self.new_session().await;
            }
            let mut body = json!({"prompt": format!("stream {task}-{n}"), "max_tokens": 32});
            let kind = if stored {
                let Some(id) = session.clone() else {
                    n += 1;
                    continue;
                };
                body["session_id"] = json!(id);
                "stream (session)"
            } else {
                "stream"
            };
            let started = Instant::now();
            let outcome = async {
                let response = self
                    .http
                    .post(format!("{}/api/v1/generate/stream", self.base))
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| format!("{e:?}"))?;
                let status = response.status();
                let text = response.text().await.map_err(|e| format!("{e:?}"))?;
                if status != StatusCode::OK {
                    return Err(format!("{status}: {text}"));
                }
                let payloads = e2e::sse_payloads(&text);
                let tokens = payloads.iter().filter(|p| p.starts_with('"')).count();
                match payloads.last() {
                    Some(last) if last == "[DONE]" && tokens > 0 => Ok(()),
                    _ => Err(format!("ended without [DONE]: {text}")),
                }
            }
            .await;
            self.record(kind, started, outcome);
            n += 1;
        }
    }

    /// Submits jobs of three prompts, about two a second per task.
    async fn jobs(self, task: usize) {
        let mut n = 0u64;
        while self.running() {
            let prompts: Vec<String> = (0..3)
                .map(|i| format!("job {task}-{n} prompt {i}"))
                .collect();
            let job = self
                .call(
                    "job submit",
                    reqwest::Method::POST,
                    "/api/v1/jobs",
                    Some(json!({"prompts": prompts, "max_tokens": 32})),
                    StatusCode::ACCEPTED,
                )
                .await;
            if let Some(id) = job.and_then(|j| j["job_id"].as_str().and_then(|s| s.parse().ok())) {
                self.tally.lock().unwrap().jobs.push(id);
            }
            if n % 5 == 4 {
                self.call(
                    "job list",
                    reqwest::Method::GET,
                    "/api/v1/jobs",
                    None,
                    StatusCode::OK,
                )
                .await;
            }
            n += 1;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow load test: make test-faults"]
async fn a_mixed_load_is_held_without_errors_or_memory_growth() {
    let secs = env_number("LOAD_SECS", 60).max(3);
    let concurrency = env_number("LOAD_CONCURRENCY", 4).max(1) as usize;
    let bins = binaries();
    let db = fresh_database().await;
    let cwd = scratch_dir("load");
    let model = bins.start_model(&cwd, 10, 2).await;
    let mut env = worker_env(&db.url, &model.url);
    set(&mut env, "POLL_INTERVAL_MS", "250");
    let worker = Service::start("worker-service", &bins.worker, &cwd, &env).await;
    let gateway = Service::start(
        "gateway",
        &bins.gateway,
        &cwd,
        &gateway_env(&db.url, &model.url, &worker.url),
    )
    .await;
    let services = [&gateway, &model, &worker];
    let pids: Vec<u32> = services.iter().map(|s| s.pid()).collect();

    let started = Instant::now();
    let load = Load {
        http: common::http::client_builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(64)
            .build()
            .unwrap(),
        base: gateway.url.clone(),
        tally: Arc::default(),
        until: started + Duration::from_secs(secs),
    };
    println!(
        "load: {secs} s, {concurrency} client task(s) per kind (chat, generate, stream, jobs)"
    );

    // RSS of each service once a second: samples[k] is at second k + 1.
    let sampler = tokio::spawn({
        let pids = pids.clone();
        async move {
            let mut samples: Vec<Vec<u64>> = Vec::new();
            let mut tick = tokio::time::interval_at(
                tokio::time::Instant::from_std(started) + Duration::from_secs(1),
                Duration::from_secs(1),
            );
            for _ in 0..secs {
                tick.tick().await;
                samples.push(
                    pids.iter()
                        .map(|pid| e2e::processes::rss_kib(*pid).unwrap_or(0))
                        .collect(),
                );
            }
            samples
        }
    });

    let mut tasks = Vec::new();
    for task in 0..concurrency {
        tasks.push(tokio::spawn(load.clone().chat(task)));
        tasks.push(tokio::spawn(load.clone().generate(task)));
        tasks.push(tokio::spawn(load.clone().stream(task)));
        tasks.push(tokio::spawn(load.clone().jobs(task)));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let samples = sampler.await.unwrap();
    let ran = started.elapsed();

    // Every job completes (the last ones were submitted just now).
    let jobs = load.tally.lock().unwrap().jobs.clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    let counts: Vec<(String, i64, i64, i64)> = loop {
        let counts: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            "SELECT status, count(*), sum(completed_prompts)::bigint, sum(failed_prompts)::bigint
             FROM batch_jobs WHERE id = ANY($1) GROUP BY status ORDER BY status",
        )
        .bind(&jobs)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        let finished = counts
            .iter()
            .filter(|(s, ..)| s != "pending" && s != "running")
            .map(|c| c.1)
            .sum::<i64>();
        if finished == jobs.len() as i64 || Instant::now() > deadline {
            break counts;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let (result_rows,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM batch_job_results WHERE job_id = ANY($1)")
            .bind(&jobs)
            .fetch_one(&db.pool)
            .await
            .unwrap();

    // The figures.
    let tally = std::mem::take(&mut *load.tally.lock().unwrap());
    let total: usize = tally.latencies.values().map(Vec::len).sum();
    let errors: usize = tally.errors.values().sum();
    println!(
        "\n{total} requests in {:.1} s ({:.1}/s), {errors} errors",
        ran.as_secs_f64(),
        total as f64 / ran.as_secs_f64()
    );
    println!(
        "{:<18} {:>8} {:>7} {:>10} {:>10} {:>10}",
        "kind", "requests", "errors", "p50 ms", "p99 ms", "max ms"
    );
    for (kind, latencies) in &tally.latencies {
        let mut sorted = latencies.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "{kind:<18} {:>8} {:>7} {:>10.1} {:>10.1} {:>10.1}",
            sorted.len(),
            tally.errors.get(kind).copied().unwrap_or(0),
            percentile(&sorted, 50.0),
            percentile(&sorted, 99.0),
            sorted.last().copied().unwrap_or(0.0)
        );
    }
    println!(
        "jobs: {} submitted, by status {counts:?} (status, jobs, answered, failed prompts), {result_rows} result rows",
        jobs.len()
    );
    println!("\nRSS (MiB) each second: second, gateway, model-service, worker-service");
    for (k, sample) in samples.iter().enumerate() {
        let mib: Vec<String> = sample
            .iter()
            .map(|kib| format!("{:.1}", *kib as f64 / 1024.0))
            .collect();
        println!("{:>4}  {}", k + 1, mib.join("  "));
    }
    // The 20th second of 60 (a third of the run) against the last second.
    let early = (secs / 3).max(1) as usize - 1;
    let late = samples.len() - 1;
    let mut growth = Vec::new();
    for (i, service) in services.iter().enumerate() {
        let (a, b) = (samples[early][i], samples[late][i]);
        let pct = (b as f64 - a as f64) * 100.0 / a.max(1) as f64;
        println!(
            "{:<15} RSS at {:>3} s {:>8.1} MiB, at {:>3} s {:>8.1} MiB: {pct:+.1} %",
            service.name,
            early + 1,
            a as f64 / 1024.0,
            late + 1,
            b as f64 / 1024.0
        );
        growth.push((service.name, a, b, pct));
    }

    assert!(
        errors == 0,
        "{errors} errors under load; the first ones:\n{}",
        tally.examples.join("\n")
    );
    for kind in [
        "chat append",
        "generate",
        "stream",
        "stream (session)",
        "job submit",
    ] {
        assert!(
            tally.latencies.get(kind).is_some_and(|l| !l.is_empty()),
            "no {kind} requests were made"
        );
    }
    assert!(!jobs.is_empty());
    let submitted_prompts = jobs.len() as i64 * 3;
    assert_eq!(
        counts,
        vec![(
            "completed".to_owned(),
            jobs.len() as i64,
            submitted_prompts,
            0
        )],
        "every job completed with every prompt answered"
    );
    assert_eq!(result_rows, submitted_prompts);
    for (name, a, b, pct) in growth {
        assert!(
            a > 0 && b > 0,
            "{name}: no RSS sample (process gone?)\n{}",
            services.iter().find(|s| s.name == name).unwrap().output()
        );
        assert!(
            pct < 10.0,
            "{name} RSS grew {pct:.1} % between second {} and second {}",
            early + 1,
            late + 1
        );
    }

    gateway.stop().await;
    worker.stop().await;
    model.stop().await;
    let _ = std::fs::remove_dir_all(&cwd);
}
