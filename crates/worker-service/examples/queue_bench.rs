//! Queue benchmark: `cargo run --release -p worker-service --example queue_bench`.
//!
//! Creates a fresh database on the server named by `DATABASE_URL` (dropped at the end),
//! starts a zero-delay fake model service and one or two in-process workers, and measures:
//! - live: jobs submitted over HTTP (16 concurrent clients) while the workers run;
//! - backlog: jobs inserted first, then the workers are started and drain them;
//! - idle pickup: one job at a time into idle workers, insert → claim.
//!
//! With `QUEUE_BENCH_MODEL_URL` set, the workers call that model service instead (e.g. one
//! running the OpenAI-compatible provider against `fake-openai`: the HTTP provider path).
//!
//! Times come from the database clock (`created_at`, `started_at`, `completed_at`). Worker
//! settings follow the usual env vars (WORKER_MAX_JOBS, WORKER_MAX_PROMPTS, …).
//! Prints markdown tables.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant};

use axum::routing::post;
use axum::{Json, Router};
use clap::Parser;
use common::schemas::{GenerateRequest, GenerateResponse, Usage};
use futures::StreamExt;
use sqlx::{Connection, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use worker_service::config::Config;

const SUBMIT_CONCURRENCY: usize = 16;

#[tokio::main]
async fn main() {
    let server = common::test_support::server_url();
    let db = common::test_support::fresh_database().await;
    let (model_url, model) = match std::env::var("QUEUE_BENCH_MODEL_URL") {
        Ok(url) if !url.is_empty() => (url.clone(), format!("model service at {url}")),
        _ => (spawn_fake_model().await, "zero-delay fake model".to_owned()),
    };
    println!(
        "Queue benchmark: {model}, database {}",
        common::db::redact_url(&server)
    );
    let probe = worker_config(&db.url, &model_url);
    println!(
        "Worker settings: WORKER_MAX_JOBS={}, WORKER_MAX_PROMPTS={}, DATABASE_MAX_CONNECTIONS={}\n",
        probe.worker_max_jobs, probe.worker_max_prompts, probe.database.database_max_connections
    );

    let mut rows = Vec::new();
    for workers in [1usize, 2] {
        for (jobs, prompts) in [(1000usize, 1usize), (100, 10)] {
            for mode in [Mode::Live, Mode::Backlog] {
                rows.push(
                    run_scenario(&db.pool, &db.url, &model_url, workers, jobs, prompts, mode).await,
                );
            }
        }
    }
    println!(
        "| mode | workers | jobs × prompts | jobs/s | prompts/s | submit→completed p50 | p99 |"
    );
    println!("| --- | --- | --- | ---: | ---: | ---: | ---: |");
    for r in &rows {
        println!(
            "| {} | {} | {} × {} | {:.0} | {:.0} | {:.1} ms | {:.1} ms |",
            r.mode,
            r.workers,
            r.jobs,
            r.prompts,
            r.jobs_per_sec,
            r.prompts_per_sec,
            r.p50_ms,
            r.p99_ms
        );
    }

    println!("\n| idle pickup (insert → claim) | workers | samples | p50 | p99 | max |");
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    for workers in [1usize, 2] {
        let (p50, p99, max, n) = idle_pickup(&db.pool, &db.url, &model_url, workers, 200).await;
        println!("| LISTEN/NOTIFY | {workers} | {n} | {p50:.2} ms | {p99:.2} ms | {max:.2} ms |");
    }

    db.pool.close().await;
    drop_database(&server, &db.name).await;
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Live,
    Backlog,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Live => "live (submit over HTTP while draining)",
            Mode::Backlog => "backlog (drain a pre-filled queue)",
        })
    }
}

struct Row {
    mode: Mode,
    workers: usize,
    jobs: usize,
    prompts: usize,
    jobs_per_sec: f64,
    prompts_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn worker_config(db_url: &str, model_url: &str) -> Config {
    Config::try_parse_from([
        "worker-service",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        db_url,
        "--model-service-url",
        model_url,
    ])
    .expect("config")
}

struct Workers {
    shutdown: CancellationToken,
    workers: Vec<worker_service::queue::Worker>,
}

async fn start_workers(db_url: &str, model_url: &str, n: usize) -> Workers {
    let shutdown = CancellationToken::new();
    let mut workers = Vec::new();
    for _ in 0..n {
        let state = worker_service::build_state(worker_config(db_url, model_url))
            .await
            .expect("state");
        workers.push(worker_service::start_worker(&state, shutdown.clone()));
    }
    // Let the listeners connect.
    tokio::time::sleep(Duration::from_millis(200)).await;
    Workers { shutdown, workers }
}

impl Workers {
    async fn stop(self) {
        self.shutdown.cancel();
        for w in self.workers {
            w.join().await;
        }
    }
}

/// The HTTP API alone (no worker), for submissions.
async fn start_api(db_url: &str, model_url: &str) -> (String, CancellationToken) {
    let mut config = worker_config(db_url, model_url);
    config.worker_disabled = true;
    let state = worker_service::build_state(config).await.expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let shutdown = CancellationToken::new();
    tokio::spawn(worker_service::serve(state, listener, shutdown.clone()));
    (base, shutdown)
}

async fn run_scenario(
    pool: &PgPool,
    db_url: &str,
    model_url: &str,
    workers: usize,
    jobs: usize,
    prompts: usize,
    mode: Mode,
) -> Row {
    sqlx::query("TRUNCATE batch_jobs CASCADE")
        .execute(pool)
        .await
        .expect("truncate");
    let (api, api_stop) = start_api(db_url, model_url).await;
    let client = common::http::client_builder().build().unwrap();
    let bodies: Vec<serde_json::Value> = (0..jobs)
        .map(|j| serde_json::json!({"prompts": (0..prompts).map(|i| format!("job {j} prompt {i}")).collect::<Vec<_>>(), "max_tokens": 16}))
        .collect();

    let submit_all = || async {
        futures::stream::iter(bodies.iter())
            .map(|body| {
                let request = client.post(format!("{api}/jobs")).json(body).send();
                async move {
                    let response = request.await.expect("submit");
                    assert_eq!(response.status().as_u16(), 202);
                }
            })
            .buffer_unordered(SUBMIT_CONCURRENCY)
            .collect::<Vec<()>>()
            .await;
    };

    let started = Instant::now();
    let running = match mode {
        Mode::Live => {
            let w = start_workers(db_url, model_url, workers).await;
            submit_all().await;
            w
        }
        Mode::Backlog => {
            submit_all().await;
            // Measure from the moment the workers may start.
            sqlx::query("UPDATE batch_jobs SET created_at = clock_timestamp()")
                .execute(pool)
                .await
                .expect("reset");
            start_workers(db_url, model_url, workers).await
        }
    };
    loop {
        let (left,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM batch_jobs WHERE status <> 'completed'")
                .fetch_one(pool)
                .await
                .expect("count");
        if left == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "queue did not drain"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    running.stop().await;
    api_stop.cancel();

    let (span_secs,): (f64,) = sqlx::query_as(
        "SELECT EXTRACT(EPOCH FROM (max(completed_at) - min(created_at)))::float8 FROM batch_jobs",
    )
    .fetch_one(pool)
    .await
    .expect("span");
    let mut latencies: Vec<f64> = sqlx::query_scalar(
        "SELECT (EXTRACT(EPOCH FROM (completed_at - created_at)) * 1000)::float8 FROM batch_jobs",
    )
    .fetch_all(pool)
    .await
    .expect("latencies");
    latencies.sort_by(f64::total_cmp);
    Row {
        mode,
        workers,
        jobs,
        prompts,
        jobs_per_sec: jobs as f64 / span_secs,
        prompts_per_sec: (jobs * prompts) as f64 / span_secs,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
    }
}

/// Inserts one job at a time into idle workers; insert → claim latency from the DB clock.
async fn idle_pickup(
    pool: &PgPool,
    db_url: &str,
    model_url: &str,
    workers: usize,
    samples: usize,
) -> (f64, f64, f64, usize) {
    sqlx::query("TRUNCATE batch_jobs CASCADE")
        .execute(pool)
        .await
        .expect("truncate");
    let w = start_workers(db_url, model_url, workers).await;
    for i in 0..samples {
        sqlx::query(
            "INSERT INTO batch_jobs (id, status, max_tokens, prompts, total_prompts, created_at)
             VALUES ($1, 'pending', 16, $2, 1, clock_timestamp())",
        )
        .bind(uuid::Uuid::now_v7())
        .bind(serde_json::json!([format!("pickup {i}")]))
        .execute(pool)
        .await
        .expect("insert");
        // Idle again before the next one.
        loop {
            let (left,): (i64,) =
                sqlx::query_as("SELECT count(*) FROM batch_jobs WHERE status <> 'completed'")
                    .fetch_one(pool)
                    .await
                    .expect("count");
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    w.stop().await;
    let mut pickup: Vec<f64> = sqlx::query_scalar(
        "SELECT (EXTRACT(EPOCH FROM (started_at - created_at)) * 1000)::float8 FROM batch_jobs",
    )
    .fetch_all(pool)
    .await
    .expect("pickup");
    pickup.sort_by(f64::total_cmp);
    let max = pickup.last().copied().unwrap_or(0.0);
    (
        percentile(&pickup, 0.50),
        percentile(&pickup, 0.99),
        max,
        pickup.len(),
    )
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn spawn_fake_model() -> String {
    async fn inference(Json(request): Json<GenerateRequest>) -> Json<GenerateResponse> {
        Json(GenerateResponse {
            text: format!("answer: {}", request.prompt),
            model: "fake".to_owned(),
            usage: Usage {
                prompt_tokens: 1,
                completion_tokens: 1,
                total_tokens: 2,
            },
            latency_ms: 0.0,
            finish_reason: None,
            cost_usd: None,
            sources: None,
            cited: None,
        })
    }
    let router = Router::new().route("/inference", post(inference));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await.expect("fake model") });
    url
}

async fn drop_database(server: &str, name: &str) {
    let Ok(options) = server.parse::<sqlx::postgres::PgConnectOptions>() else {
        return;
    };
    if let Ok(mut admin) = PgConnection::connect_with(&options.database("postgres")).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await;
        let _ = admin.close().await;
    }
}
