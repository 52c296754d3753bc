//! Many replicas on one machine (issue 27): the shape of the Kubernetes production overlay
//! with real processes. Three gateways behind nginx round-robin (Debian's nginx, as the
//! ingress), two model services and three workers each behind their own nginx upstream (as
//! Kubernetes Services), the gateways' rate limits in Redis, one Postgres:
//!
//! - an answer started on one gateway is resumed through another and through the balancer
//!   (each replica in turn), and stopped through a third; the stored answer is the stopped one;
//! - SIGTERM to the gateway running an answer while viewers watch it directly and through
//!   another replica: every viewer gets a final event, the answer is stored, the balancer's
//!   other replicas keep serving;
//! - SIGKILL to the worker holding a job: another worker completes it after the lease
//!   expires, every prompt answered once, nothing stored twice;
//! - the per-user generation limit holds across the three gateways (not three times over);
//! - a mixed load with no error, through one gateway and through three (throughput and p99
//!   printed; docs/benchmarks.md records them).
//!
//! Slow: `#[ignore]`d in the ordinary run; `make test-faults` runs them (it finds or starts
//! Redis, `TEST_REDIS_URL`, and needs nginx and `cargo build --bins`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::test_support::fresh_database;
use e2e::processes::{
    binaries, client, model_env, scratch_dir, set, wait_until, worker_env, Service,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::process::{Child, Command};
use uuid::Uuid;

const JWT_SECRET: &str = "scale-out-test-signing-secret-0123456789abcdef";
const INTERNAL_TOKEN: &str = "scale-out-test-internal-token-0123456789abcdef";
const PASSWORD: &str = "correct horse battery staple";

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| {
        panic!("TEST_REDIS_URL is not set: run through scripts/test_faults.sh (it finds or starts Redis)")
    })
}

fn nginx_bin() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("nginx is not installed (scripts/test_faults.sh installs Debian's)")
}

/// A free local port (bound and released: the process started next takes it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Settings of one cluster; the defaults are generous limits and a fast mock.
struct Shape {
    gateways: usize,
    models: usize,
    workers: usize,
    first_token_ms: u64,
    token_ms: u64,
    gateway_env: Vec<(&'static str, String)>,
    worker_env: Vec<(&'static str, String)>,
}

impl Default for Shape {
    fn default() -> Self {
        Self {
            gateways: 3,
            models: 2,
            workers: 3,
            first_token_ms: 0,
            token_ms: 5,
            gateway_env: Vec::new(),
            worker_env: Vec::new(),
        }
    }
}

/// nginx in front of everything: `front` balances over every gateway, `front_one` sends all to
/// the first (the one-gateway figure), `model`/`worker` balance over those services.
struct Balancer {
    child: Child,
    front: String,
    front_one: String,
    dir: PathBuf,
}

impl Balancer {
    async fn start(
        dir: &Path,
        gateways: &[u16],
        models: &[String],
        workers: &[String],
    ) -> (Self, String, String) {
        let [front, front_one, model, worker] = [0; 4].map(|_| free_port());
        let servers = |addrs: &[String]| -> String {
            addrs
                .iter()
                .map(|a| format!("server {a};"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let gateway_addrs: Vec<String> =
            gateways.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        // Streams unbuffered with long timeouts, as the Ingress annotations and
        // infra/nginx/nginx.conf do; keep-alive connections to the upstreams.
        let proxy = "proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_set_header Host $host; \
                     proxy_set_header X-Forwarded-For $remote_addr; proxy_buffering off; \
                     proxy_read_timeout 600s; proxy_send_timeout 600s; proxy_connect_timeout 2s;";
        let d = dir.display();
        let conf = format!(
            "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log warn;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n  \
             fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n  \
             upstream gateways {{ {} keepalive 32; }}\n  upstream gateway_one {{ {} keepalive 32; }}\n  \
             upstream models {{ {} keepalive 32; }}\n  upstream workers {{ {} keepalive 32; }}\n  \
             server {{ listen 127.0.0.1:{front}; location / {{ proxy_pass http://gateways; {proxy} }} }}\n  \
             server {{ listen 127.0.0.1:{front_one}; location / {{ proxy_pass http://gateway_one; {proxy} }} }}\n  \
             server {{ listen 127.0.0.1:{model}; location / {{ proxy_pass http://models; {proxy} }} }}\n  \
             server {{ listen 127.0.0.1:{worker}; location / {{ proxy_pass http://workers; {proxy} }} }}\n}}\n",
            servers(&gateway_addrs),
            servers(&gateway_addrs[..1]),
            servers(models),
            servers(workers),
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let child = Command::new(nginx_bin())
            .arg("-e")
            .arg(dir.join("nginx-startup.log"))
            .arg("-c")
            .arg(&path)
            .args(["-g", "daemon off;"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start nginx");
        for port in [front, front_one, model, worker] {
            let up = wait_until(Duration::from_secs(10), || async move {
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
            })
            .await;
            assert!(
                up,
                "nginx did not listen on {port}: {}",
                std::fs::read_to_string(dir.join("nginx-error.log")).unwrap_or_default()
            );
        }
        (
            Self {
                child,
                front: format!("http://127.0.0.1:{front}"),
                front_one: format!("http://127.0.0.1:{front_one}"),
                dir: dir.to_path_buf(),
            },
            format!("http://127.0.0.1:{model}"),
            format!("http://127.0.0.1:{worker}"),
        )
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
        let errors = std::fs::read_to_string(self.dir.join("nginx-error.log")).unwrap_or_default();
        if !errors.is_empty() {
            println!("nginx error log:\n{errors}");
        }
    }
}

struct Cluster {
    db: common::test_support::TestDb,
    cwd: PathBuf,
    models: Vec<Service>,
    workers: Vec<Service>,
    /// `None` once a test stopped it.
    gateways: Vec<Option<Service>>,
    gateway_urls: Vec<String>,
    balancer: Balancer,
}

impl Cluster {
    async fn start(label: &str, shape: Shape) -> Self {
        let bins = binaries();
        let db = fresh_database().await;
        let cwd = scratch_dir(label);
        let mut models = Vec::new();
        for _ in 0..shape.models {
            let mut env = model_env("127.0.0.1:0", shape.first_token_ms, shape.token_ms);
            set(&mut env, "INTERNAL_TOKEN", INTERNAL_TOKEN);
            models.push(Service::start("model-service", &bins.model, &cwd, &env).await);
        }
        // Workers and gateways reach the model services and the workers through nginx, as
        // through a Kubernetes Service; their ports are chosen before nginx starts.
        let gateway_ports: Vec<u16> = (0..shape.gateways).map(|_| free_port()).collect();
        let model_addrs: Vec<String> = models.iter().map(|m| m.addr.to_string()).collect();
        let worker_ports: Vec<u16> = (0..shape.workers).map(|_| free_port()).collect();
        let worker_addrs: Vec<String> = worker_ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let (balancer, model_url, worker_url) =
            Balancer::start(&cwd, &gateway_ports, &model_addrs, &worker_addrs).await;

        let mut worker_settings = worker_env(&db.url, &model_url);
        set(&mut worker_settings, "INTERNAL_TOKEN", INTERNAL_TOKEN);
        for (k, v) in &shape.worker_env {
            set(&mut worker_settings, k, v.clone());
        }
        let mut workers = Vec::new();
        for (i, port) in worker_ports.iter().enumerate() {
            let mut env = worker_settings.clone();
            set(&mut env, "WORKER_SERVICE_ADDR", format!("127.0.0.1:{port}"));
            set(&mut env, "WORKER_ID", format!("worker-{i}"));
            workers.push(Service::start("worker-service", &bins.worker, &cwd, &env).await);
        }

        let prefix = format!("sable:test:{}:", Uuid::new_v4());
        let mut gateways = Vec::new();
        let mut gateway_urls = Vec::new();
        for port in &gateway_ports {
            let url = format!("http://127.0.0.1:{port}");
            let mut env = vec![
                ("GATEWAY_ADDR", format!("127.0.0.1:{port}")),
                ("GATEWAY_PEER_URL", url.clone()),
                ("DATABASE_URL", db.url.clone()),
                ("MODEL_SERVICE_URL", model_url.clone()),
                ("WORKER_SERVICE_URL", worker_url.clone()),
                ("AUTH_MODE", "jwt".to_owned()),
                ("JWT_SECRET", JWT_SECRET.to_owned()),
                ("INTERNAL_TOKEN", INTERNAL_TOKEN.to_owned()),
                ("RATE_LIMIT", "on".to_owned()),
                ("RATE_LIMIT_STORE", "redis".to_owned()),
                ("REDIS_URL", redis_url()),
                ("RATE_LIMIT_REDIS_PREFIX", prefix.clone()),
                ("RATE_LIMIT_GENERATE_PER_MINUTE", "100000".to_owned()),
                ("RATE_LIMIT_GENERATE_BURST", "10000".to_owned()),
                ("RATE_LIMIT_READ_PER_MINUTE", "100000".to_owned()),
                ("RATE_LIMIT_READ_BURST", "10000".to_owned()),
                ("RATE_LIMIT_AUTH_PER_MINUTE", "1000".to_owned()),
                ("MAX_STREAMS_PER_USER", "64".to_owned()),
                ("MAX_BACKGROUND_GENERATIONS_PER_USER", "64".to_owned()),
                ("TRUSTED_PROXIES", "127.0.0.1".to_owned()),
            ];
            for (k, v) in &shape.gateway_env {
                set(&mut env, k, v.clone());
            }
            gateways.push(Some(
                Service::start("gateway", &bins.gateway, &cwd, &env).await,
            ));
            gateway_urls.push(url);
        }
        Self {
            db,
            cwd,
            models,
            workers,
            gateways,
            gateway_urls,
            balancer,
        }
    }

    fn front(&self) -> &str {
        &self.balancer.front
    }

    async fn stop(self) {
        for g in self.gateways.into_iter().flatten() {
            g.stop().await;
        }
        for w in self.workers {
            w.stop().await;
        }
        for m in self.models {
            m.stop().await;
        }
        self.balancer.stop().await;
        let _ = std::fs::remove_dir_all(&self.cwd);
    }
}

/// Registers an account through `base`; returns its access token.
async fn register(c: &reqwest::Client, base: &str, email: &str) -> String {
    let body = e2e::sign_up(c, base, &json!({"email": email, "password": PASSWORD})).await;
    body["access_token"].as_str().unwrap().to_owned()
}

async fn new_session(c: &reqwest::Client, base: &str, token: &str) -> String {
    let session: Value = c
        .post(format!("{base}/api/v1/chat/sessions"))
        .bearer_auth(token)
        .json(&json!({"title": "scale-out"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    session["id"].as_str().unwrap().to_owned()
}

/// The `data:` payloads of an SSE body (token events carry `id:` lines too).
fn payloads(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter_map(|event| {
            event
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .map(str::to_owned)
        })
        .collect()
}

/// How a viewer's stream ended.
#[derive(Debug)]
struct Viewed {
    last: Option<String>,
    tokens: usize,
    error: Option<String>,
}

/// Reads an SSE response to its end in a task, after its first event arrived.
async fn watch(mut response: reqwest::Response) -> tokio::task::JoinHandle<Viewed> {
    assert_eq!(response.status(), StatusCode::OK);
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .expect("a first event within 10 s")
            .unwrap()
            .expect("a first event");
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
        let p = payloads(&text);
        Viewed {
            last: if error.is_none() {
                p.last().cloned()
            } else {
                None
            },
            tokens: p.iter().filter(|x| x.starts_with('"')).count(),
            error,
        }
    })
}

async fn start_answer(
    c: &reqwest::Client,
    gateway: &str,
    token: &str,
    session: &str,
    prompt: &str,
) -> reqwest::Response {
    c.post(format!("{gateway}/api/v1/generate/stream"))
        .bearer_auth(token)
        .json(&json!({"prompt": prompt, "max_tokens": 256, "session_id": session}))
        .send()
        .await
        .unwrap()
}

async fn resume(
    c: &reqwest::Client,
    gateway: &str,
    token: &str,
    session: &str,
) -> reqwest::Response {
    c.get(format!("{gateway}/api/v1/chat/sessions/{session}/stream"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn owner_of(pool: &sqlx::PgPool, session: &str) -> Option<String> {
    sqlx::query_scalar("SELECT owner_url FROM chat_generation_owners WHERE session_id = $1::uuid")
        .bind(session)
        .fetch_optional(pool)
        .await
        .unwrap()
}

/// The session's stored assistant answers: (content, meta).
async fn stored_answers(pool: &sqlx::PgPool, session: &str) -> Vec<(String, Value)> {
    sqlx::query_as(
        "SELECT content, coalesce(meta, '{}'::jsonb) FROM chat_messages
         WHERE session_id = $1::uuid AND role = 'assistant' ORDER BY created_at",
    )
    .bind(session)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow many-replica test: make test-faults"]
async fn answers_are_resumed_and_stopped_through_any_gateway_and_survive_a_sigterm() {
    let mut cluster = Cluster::start(
        "scale-forwarding",
        Shape {
            gateway_env: vec![("SHUTDOWN_GRACE_SECS", "3".to_owned())],
            ..Shape::default()
        },
    )
    .await;
    let c = client();
    let g = cluster.gateway_urls.clone();
    let token = register(&c, cluster.front(), "owner@example.com").await;

    // 1. Started on gateway 0; resumed on 1, through the balancer (each replica in turn);
    //    stopped on 2.
    let session = new_session(&c, cluster.front(), &token).await;
    let slow = "[mock:slow] [mock:tokens=120] a long answer";
    let viewer_owner = watch(start_answer(&c, &g[0], &token, &session, slow).await).await;
    assert_eq!(
        owner_of(&cluster.db.pool, &session).await.as_deref(),
        Some(g[0].as_str())
    );
    let viewer_peer = watch(resume(&c, &g[1], &token, &session).await).await;
    for turn in 0..3 {
        let mut r = resume(&c, cluster.front(), &token, &session).await;
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "resume {turn} through the balancer"
        );
        let mut seen = String::new();
        while !seen.contains("data: ") {
            let chunk = tokio::time::timeout(Duration::from_secs(5), r.chunk())
                .await
                .expect("tokens within 5 s")
                .unwrap()
                .expect("an event before the end");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
    // A second generation in the same session is refused on any replica.
    let again = start_answer(&c, &g[2], &token, &session, "another").await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let stopped: Value = c
        .post(format!("{}/api/v1/chat/sessions/{session}/stop", g[2]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stopped, json!({"stopped": true}));
    let (owner_end, peer_end) = (viewer_owner.await.unwrap(), viewer_peer.await.unwrap());
    println!(
        "stopped through gateway 2: owner's viewer {owner_end:?}, gateway 1's viewer {peer_end:?}"
    );
    assert_eq!(owner_end.last.as_deref(), Some("[DONE]"), "{owner_end:?}");
    assert_eq!(peer_end.last.as_deref(), Some("[DONE]"), "{peer_end:?}");
    assert!(owner_end.tokens < 120);
    let answers = stored_answers(&cluster.db.pool, &session).await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].1["stopped"], true, "{answers:?}");
    let after = resume(&c, cluster.front(), &token, &session).await;
    assert_eq!(
        after.status(),
        StatusCode::NO_CONTENT,
        "nothing runs after the stop"
    );

    // 2. SIGTERM to the gateway running an answer, watched directly and through another.
    let session = new_session(&c, cluster.front(), &token).await;
    let viewer_owner = watch(start_answer(&c, &g[1], &token, &session, slow).await).await;
    let viewer_peer = watch(resume(&c, &g[2], &token, &session).await).await;
    let mut victim = cluster.gateways[1].take().unwrap();
    victim.signal("TERM").await;
    let signalled = Instant::now();
    let status = victim.wait_exit(Duration::from_secs(20)).await;
    println!(
        "gateway 1 exited {status:?} {:?} after SIGTERM",
        signalled.elapsed()
    );
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "{}",
        victim.output()
    );
    let (owner_end, peer_end) = (viewer_owner.await.unwrap(), viewer_peer.await.unwrap());
    println!("SIGTERM: owner's viewer {owner_end:?}, gateway 2's viewer {peer_end:?}");
    assert_eq!(
        owner_end.last.as_deref(),
        Some("[DONE]"),
        "stored as stopped, then [DONE]: {owner_end:?}"
    );
    let peer_last = peer_end.last.clone().unwrap_or_else(|| {
        panic!(
            "the forwarded viewer was cut after {} tokens: {}",
            peer_end.tokens,
            peer_end.error.as_deref().unwrap_or_default()
        )
    });
    assert!(
        peer_last == "[DONE]" || peer_last.starts_with("[ERROR]"),
        "{peer_end:?}"
    );
    let answers = stored_answers(&cluster.db.pool, &session).await;
    assert_eq!(answers.len(), 1, "the answer is stored once: {answers:?}");
    assert_eq!(answers[0].1["stopped"], true, "{answers:?}");
    assert!(!answers[0].0.is_empty());
    // The balancer's other replicas keep serving, the resume says nothing runs.
    for _ in 0..6 {
        let r = c
            .get(format!(
                "{}/api/v1/chat/sessions/{session}",
                cluster.front()
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let after = resume(&c, cluster.front(), &token, &session).await;
    assert_eq!(after.status(), StatusCode::NO_CONTENT);
    cluster.stop().await;
}

/// A job's row: (status, attempts, locked_by, completed_prompts, failed_prompts).
async fn job_row(pool: &sqlx::PgPool, id: Uuid) -> (String, i32, Option<String>, i32, i32) {
    sqlx::query_as(
        "SELECT status, attempts, locked_by, completed_prompts, failed_prompts FROM batch_jobs WHERE id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// (idx, attempt, text, error, created_at) of each stored result, by index.
type Slot = (i32, i32, Option<String>, Option<String>, String);

async fn slots(pool: &sqlx::PgPool, id: Uuid) -> Vec<Slot> {
    sqlx::query_as(
        "SELECT idx, attempt, text, error, created_at::text FROM batch_job_results WHERE job_id = $1 ORDER BY idx",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow many-replica test: make test-faults"]
async fn a_worker_killed_mid_job_another_completes_it_nothing_twice() {
    let mut cluster = Cluster::start(
        "scale-worker-kill",
        Shape {
            // A killed worker's claim expires after 3 s.
            worker_env: vec![
                ("LEASE_SECS", "3".to_owned()),
                ("HEARTBEAT_SECS", "1".to_owned()),
                ("WORKER_MAX_PROMPTS", "2".to_owned()),
            ],
            ..Shape::default()
        },
    )
    .await;
    let c = client();
    let token = register(&c, cluster.front(), "jobs@example.com").await;
    let prompts: Vec<String> = (0..12)
        .map(|i| format!("[mock:delay=400] scale {i}"))
        .collect();
    let response = c
        .post(format!("{}/api/v1/jobs", cluster.front()))
        .bearer_auth(&token)
        .json(&json!({"prompts": prompts, "max_tokens": 32}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let job: Uuid = response.json::<Value>().await.unwrap()["job_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    let holding = wait_until(Duration::from_secs(20), || async {
        let (status, _, locked_by, done, _) = job_row(&cluster.db.pool, job).await;
        status == "running" && locked_by.is_some() && done >= 2
    })
    .await;
    assert!(holding, "a worker holds the job with answers stored");
    let (_, _, holder, ..) = job_row(&cluster.db.pool, job).await;
    let holder = holder.unwrap();
    let index: usize = holder
        .strip_prefix("worker-")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("which worker is {holder}?"));
    cluster.workers[index].kill_9().await;
    let killed = Instant::now();
    let before = slots(&cluster.db.pool, job).await;
    println!(
        "killed {holder} (SIGKILL) with {} of 12 prompts stored",
        before.len()
    );

    let completed = wait_until(Duration::from_secs(45), || async {
        job_row(&cluster.db.pool, job).await.0 == "completed"
    })
    .await;
    let (status, attempts, locked_by, done, failed) = job_row(&cluster.db.pool, job).await;
    assert!(
        completed,
        "the job did not complete: {status}, attempt {attempts}"
    );
    println!(
        "job completed {:?} after the kill, in {attempts} attempts",
        killed.elapsed()
    );
    assert!(attempts >= 2, "the kill cost the job an attempt");
    assert_eq!((done, failed, locked_by), (12, 0, None));
    let after = slots(&cluster.db.pool, job).await;
    assert_eq!(
        after.iter().map(|s| s.0).collect::<Vec<_>>(),
        (0..12).collect::<Vec<_>>(),
        "one result per prompt"
    );
    for (idx, _, text, error, _) in &after {
        assert!(error.is_none(), "prompt {idx}: {error:?}");
        let text = text.as_deref().unwrap_or_default();
        assert!(
            text.contains(&format!(
                "Simulated response to: {}",
                prompts[*idx as usize]
            )),
            "prompt {idx}: {text}"
        );
    }
    for slot in &before {
        assert!(after.contains(slot), "slot {} written twice", slot.0);
    }
    // The public API, through any gateway, says the same.
    let public: Value = c
        .get(format!("{}/api/v1/jobs/{job}", cluster.front()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(public["status"], "completed", "{public}");
    assert_eq!(public["results"].as_array().map(Vec::len), Some(12));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow many-replica test: make test-faults"]
async fn the_generation_limit_holds_across_gateways() {
    let cluster = Cluster::start(
        "scale-limits",
        Shape {
            models: 1,
            workers: 1,
            // A burst of 5, then one every 10 s.
            gateway_env: vec![
                ("RATE_LIMIT_GENERATE_PER_MINUTE", "6".to_owned()),
                ("RATE_LIMIT_GENERATE_BURST", "5".to_owned()),
            ],
            ..Shape::default()
        },
    )
    .await;
    let c = client();
    let token = register(&c, cluster.front(), "limited@example.com").await;
    let mut statuses = BTreeMap::<u16, usize>::new();
    // Round-robin over the three gateways, then each one directly.
    let targets: Vec<String> = (0..9)
        .map(|_| cluster.front().to_owned())
        .chain(cluster.gateway_urls.iter().cloned())
        .collect();
    let started = Instant::now();
    for target in &targets {
        let r = c
            .post(format!("{target}/api/v1/generate"))
            .bearer_auth(&token)
            .json(&json!({"prompt": "limit", "max_tokens": 8}))
            .send()
            .await
            .unwrap();
        let status = r.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"]["code"], "RATE_LIMITED", "{body}");
        } else {
            assert_eq!(status, StatusCode::OK);
        }
        *statuses.entry(status.as_u16()).or_default() += 1;
    }
    let took = started.elapsed();
    println!("12 generations over 3 gateways in {took:?}: {statuses:?}");
    // One shared bucket: the burst of 5 (plus one refill if 10 s passed), not 5 per gateway.
    let allowed = statuses.get(&200).copied().unwrap_or(0);
    let refills = (took.as_secs() / 10) as usize;
    assert!(
        (5..=5 + refills).contains(&allowed),
        "{allowed} allowed: {statuses:?}"
    );
    assert_eq!(allowed + statuses.get(&429).copied().unwrap_or(0), 12);
    cluster.stop().await;
}

// ---- mixed load ---------------------------------------------------------------------------

#[derive(Default)]
struct Tally {
    latencies: BTreeMap<&'static str, Vec<f64>>,
    errors: Vec<String>,
    jobs: Vec<Uuid>,
}

#[derive(Clone)]
struct Load {
    http: reqwest::Client,
    base: String,
    token: String,
    tally: Arc<Mutex<Tally>>,
    until: Instant,
}

impl Load {
    fn record(&self, kind: &'static str, started: Instant, outcome: Result<(), String>) {
        let mut t = self.tally.lock().unwrap();
        t.latencies
            .entry(kind)
            .or_default()
            .push(started.elapsed().as_secs_f64() * 1000.0);
        if let Err(e) = outcome {
            t.errors.push(format!("{kind}: {e}"));
        }
    }

    async fn call(
        &self,
        kind: &'static str,
        path: &str,
        body: Value,
        want: StatusCode,
    ) -> Option<Value> {
        let started = Instant::now();
        let outcome = async {
            let r = self
                .http
                .post(format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .json(&body)
                .send()
                .await
                .map_err(|e| format!("{e:?}"))?;
            let status = r.status();
            let text = r.text().await.map_err(|e| format!("{e:?}"))?;
            if status != want {
                return Err(format!("{path}: {status}: {text}"));
            }
            serde_json::from_str::<Value>(&text).map_err(|e| format!("{e}: {text}"))
        }
        .await;
        let value = outcome.as_ref().ok().cloned();
        self.record(kind, started, outcome.map(|_| ()));
        value
    }

    async fn run(self, task: usize) {
        let mut n = 0u64;
        let mut session = None;
        while Instant::now() < self.until {
            if n.is_multiple_of(10) {
                session = self
                    .call(
                        "session create",
                        "/api/v1/chat/sessions",
                        json!({"title": "load"}),
                        StatusCode::CREATED,
                    )
                    .await
                    .and_then(|s| s["id"].as_str().map(str::to_owned));
            }
            let Some(id) = session.clone() else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                n += 1;
                continue;
            };
            match n % 4 {
                0 => {
                    self.call(
                        "chat append",
                        &format!("/api/v1/chat/sessions/{id}/messages"),
                        json!({"role": "user", "content": format!("turn {task}-{n}")}),
                        StatusCode::CREATED,
                    )
                    .await;
                }
                1 => {
                    self.call(
                        "generate",
                        "/api/v1/generate",
                        json!({"prompt": format!("sync {task}-{n}"), "max_tokens": 16}),
                        StatusCode::OK,
                    )
                    .await;
                }
                2 => {
                    let started = Instant::now();
                    let outcome = async {
                        let r = self
                            .http
                            .post(format!("{}/api/v1/generate/stream", self.base))
                            .bearer_auth(&self.token)
                            .json(&json!({"prompt": format!("stream {task}-{n}"), "max_tokens": 16, "session_id": id}))
                            .send()
                            .await
                            .map_err(|e| format!("{e:?}"))?;
                        let status = r.status();
                        let text = r.text().await.map_err(|e| format!("{e:?}"))?;
                        let p = payloads(&text);
                        match (status, p.last()) {
                            (StatusCode::OK, Some(last)) if last == "[DONE]" && p.len() > 1 => Ok(()),
                            _ => Err(format!("{status}: {text}")),
                        }
                    }
                    .await;
                    self.record("stream (session)", started, outcome);
                }
                _ => {
                    let prompts: Vec<String> =
                        (0..2).map(|i| format!("job {task}-{n}-{i}")).collect();
                    if let Some(job) = self
                        .call(
                            "job submit",
                            "/api/v1/jobs",
                            json!({"prompts": prompts, "max_tokens": 16}),
                            StatusCode::ACCEPTED,
                        )
                        .await
                    {
                        if let Some(id) = job["job_id"].as_str().and_then(|s| s.parse().ok()) {
                            self.tally.lock().unwrap().jobs.push(id);
                        }
                    }
                }
            }
            n += 1;
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

/// Runs the mixed load against `base` for `secs`; returns (requests/s, p99 ms of all requests).
async fn mixed_load(
    cluster: &Cluster,
    base: &str,
    label: &str,
    secs: u64,
    tasks: usize,
) -> (f64, f64) {
    let http = client();
    let token = register(&http, base, &format!("load-{}@example.com", Uuid::new_v4())).await;
    let started = Instant::now();
    let load = Load {
        http,
        base: base.to_owned(),
        token,
        tally: Arc::default(),
        until: started + Duration::from_secs(secs),
    };
    let handles: Vec<_> = (0..tasks)
        .map(|t| tokio::spawn(load.clone().run(t)))
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    let ran = started.elapsed().as_secs_f64();
    let tally = std::mem::take(&mut *load.tally.lock().unwrap());
    // Every job completes, each prompt answered once.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (finished, answered, rows) = loop {
        let (finished, answered): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status = 'completed'), coalesce(sum(completed_prompts), 0)::bigint
             FROM batch_jobs WHERE id = ANY($1)",
        )
        .bind(&tally.jobs)
        .fetch_one(&cluster.db.pool)
        .await
        .unwrap();
        if finished == tally.jobs.len() as i64 || Instant::now() > deadline {
            let (rows,): (i64,) =
                sqlx::query_as("SELECT count(*) FROM batch_job_results WHERE job_id = ANY($1)")
                    .bind(&tally.jobs)
                    .fetch_one(&cluster.db.pool)
                    .await
                    .unwrap();
            break (finished, answered, rows);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let mut all: Vec<f64> = tally.latencies.values().flatten().copied().collect();
    all.sort_by(f64::total_cmp);
    let (rate, p99) = (all.len() as f64 / ran, percentile(&all, 99.0));
    println!("\n{label}: {} requests in {ran:.1} s = {rate:.1} req/s, p50 {:.1} ms, p99 {p99:.1} ms, {} errors",
        all.len(), percentile(&all, 50.0), tally.errors.len());
    for (kind, latencies) in &tally.latencies {
        let mut sorted = latencies.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "  {kind:<17} {:>6} requests  p50 {:>7.1} ms  p99 {:>7.1} ms",
            sorted.len(),
            percentile(&sorted, 50.0),
            percentile(&sorted, 99.0)
        );
    }
    println!("  jobs: {} submitted, {finished} completed, {answered} prompts answered, {rows} result rows", tally.jobs.len());
    assert!(
        tally.errors.is_empty(),
        "{label}: {} errors, the first: {:?}",
        tally.errors.len(),
        &tally.errors[..tally.errors.len().min(5)]
    );
    assert!(!tally.jobs.is_empty());
    assert_eq!(
        finished,
        tally.jobs.len() as i64,
        "{label}: every job completed"
    );
    assert_eq!(
        (answered, rows),
        (2 * tally.jobs.len() as i64, 2 * tally.jobs.len() as i64),
        "{label}: each prompt answered once"
    );
    (rate, p99)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow many-replica load: make test-faults"]
async fn a_mixed_load_through_one_and_three_gateways_has_no_error() {
    let secs: u64 = std::env::var("SCALE_LOAD_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let tasks = 8;
    let cluster = Cluster::start("scale-load", Shape::default()).await;
    println!("mixed load: {secs} s each, {tasks} client tasks (chat append, generate, session stream, job)");
    let one = mixed_load(
        &cluster,
        &cluster.balancer.front_one,
        "1 gateway",
        secs,
        tasks,
    )
    .await;
    let three = mixed_load(&cluster, cluster.front(), "3 gateways", secs, tasks).await;
    println!(
        "\nthroughput 1 gateway {:.1} req/s (p99 {:.1} ms), 3 gateways {:.1} req/s (p99 {:.1} ms)",
        one.0, one.1, three.0, three.1
    );
    // Every gateway served part of the balanced run (its own request counter).
    let c = client();
    for (i, url) in cluster.gateway_urls.iter().enumerate() {
        let metrics = c
            .get(format!("{url}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let generated: f64 = metrics
            .lines()
            .filter(|l| l.starts_with("http_requests_total") && l.contains("/api/v1/generate"))
            .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
            .sum();
        println!("gateway {i}: {generated} generate requests");
        assert!(
            generated > 0.0,
            "gateway {i} served no generation:\n{metrics}"
        );
    }
    cluster.stop().await;
}
