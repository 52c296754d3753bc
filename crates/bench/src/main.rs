//! `sable-bench`: a small closed-loop load client. Each scenario runs `--clients` concurrent
//! loops for `--seconds` (or a fixed amount of work) and prints one markdown table row.
//!
//!   sable-bench sync   --url http://127.0.0.1:8000/api/v1/generate   --clients 32
//!   sable-bench sse    --url http://127.0.0.1:8000/api/v1/generate/stream --streams 32
//!   sable-bench chat   --base http://127.0.0.1:8000 --clients 8

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use futures::StreamExt;
use serde_json::json;

#[derive(Parser)]
#[command(about = "Sable load client")]
struct Cli {
    /// Label printed in the first column of the result row.
    #[arg(long, default_value = "")]
    label: String,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// POST a generate request in a loop; reports requests/s and latency percentiles.
    Sync {
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 32)]
        clients: usize,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Stop after this many requests in all (instead of after `--seconds`): a fixed amount
        /// of work, for instruction counts (scripts/bench_profile.sh).
        #[arg(long)]
        requests: Option<usize>,
        #[command(flatten)]
        compare: Compare,
    },
    /// Opens `streams` SSE streams at once, `rounds` times; reports events/s, time to first
    /// event and total time.
    Sse {
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 32)]
        streams: usize,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// max_tokens sent with each request (tokens per stream).
        #[arg(long, default_value_t = 256)]
        tokens: u32,
        #[command(flatten)]
        compare: Compare,
    },
    /// Chat: create a session, append two messages, list sessions — per iteration.
    Chat {
        #[arg(long)]
        base: String,
        #[arg(long, default_value_t = 8)]
        clients: usize,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
}

/// With either URL set, the same load is run against each of them first and one comparison
/// row is printed (provider direct | model service | Sable, and Sable ÷ the first reference).
/// A URL ending in `/chat/completions` is sent an OpenAI request, anything else a Sable one.
#[derive(clap::Args, Clone, Default)]
struct Compare {
    /// The provider itself (e.g. the fake OpenAI server's `/v1/chat/completions`).
    #[arg(long)]
    direct: Option<String>,
    /// The model service called directly (one hop less than the gateway).
    #[arg(long)]
    model_service: Option<String>,
    /// First column of a comparison row (the provider's name).
    #[arg(long, default_value = "")]
    provider: String,
}

impl Compare {
    fn active(&self) -> bool {
        self.direct.is_some() || self.model_service.is_some() || !self.provider.is_empty()
    }
}

/// The request body for `url`: OpenAI's shape for a chat-completions URL, else Sable's.
fn body_for(url: &str, prompt: &str, tokens: u32, stream: bool) -> serde_json::Value {
    if url.trim_end_matches('/').ends_with("/chat/completions") {
        json!({
            "model": "bench",
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": tokens,
            "stream": stream,
        })
    } else {
        json!({"prompt": prompt, "max_tokens": tokens})
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // reqwest is built with `rustls-no-provider` across the workspace (no aws-lc C build):
    // a crypto provider must be installed before the first client (common::http does the same).
    let _ = rustls::crypto::ring::default_provider().install_default();
    #[allow(clippy::disallowed_methods)]
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(120))
        .build()?;
    match cli.scenario {
        Scenario::Sync {
            url,
            clients,
            seconds,
            requests,
            compare,
        } => {
            let seconds = if requests.is_some() { 1e9 } else { seconds };
            if !compare.active() {
                let r = sync(&client, &url, clients, seconds, requests).await?;
                println!(
                    "| {} | sync | {clients} clients | {:.0} req/s | p50 {:.3} ms | p99 {:.3} ms | {} requests |",
                    cli.label, r.rate, r.p50, r.p99, r.n
                );
                return Ok(());
            }
            let mut runs = Vec::new();
            for target in [&compare.direct, &compare.model_service] {
                runs.push(match target {
                    Some(u) => Some(sync(&client, u, clients, seconds, requests).await?),
                    None => None,
                });
            }
            let sable = sync(&client, &url, clients, seconds, requests).await?;
            let reference = runs.iter().flatten().next().cloned();
            let cell = |r: &Option<SyncResult>| {
                r.as_ref().map_or("—".to_owned(), |r| {
                    format!("{} req/s, p50 {:.3} ms", thousands(r.rate), r.p50)
                })
            };
            let (ratio, added) =
                reference
                    .as_ref()
                    .map_or(("—".to_owned(), String::new()), |d| {
                        (
                            format!("{:.2}×", sable.rate / d.rate),
                            format!(" (+{:.3} ms over the reference)", sable.p50 - d.p50),
                        )
                    });
            println!(
                "| {} | sync | {clients} clients | {} | {} | **{} req/s** | {ratio} | p50 {:.3} ms{added}, p99 {:.3} ms |",
                compare.provider,
                cell(&runs[0]),
                cell(&runs[1]),
                thousands(sable.rate),
                sable.p50,
                sable.p99,
            );
            Ok(())
        }
        Scenario::Sse {
            url,
            streams,
            rounds,
            tokens,
            compare,
        } => {
            if !compare.active() {
                let r = sse(&client, &url, streams, rounds, tokens).await?;
                println!(
                    "| {} | sse | {streams} streams × {tokens} tokens | {:.0} events/s | ttft p50 {:.2} ms p99 {:.2} ms | stream total p50 {:.1} ms p99 {:.1} ms | round {:.3} s |",
                    cli.label, r.rate, r.ttft_p50, r.ttft_p99, r.total_p50, r.total_p99, r.round
                );
                return Ok(());
            }
            let mut runs = Vec::new();
            for target in [&compare.direct, &compare.model_service] {
                runs.push(match target {
                    Some(u) => Some(sse(&client, u, streams, rounds, tokens).await?),
                    None => None,
                });
            }
            let sable = sse(&client, &url, streams, rounds, tokens).await?;
            let reference = runs.iter().flatten().next().cloned();
            let cell = |r: &Option<SseResult>| {
                r.as_ref().map_or("—".to_owned(), |r| {
                    format!(
                        "{} ev/s, ttft p99 {:.1} ms, total p99 {:.0} ms",
                        thousands(r.rate),
                        r.ttft_p99,
                        r.total_p99
                    )
                })
            };
            let ratio = reference
                .as_ref()
                .map_or("—".to_owned(), |d| format!("{:.2}×", sable.rate / d.rate));
            println!(
                "| {} | sse | {streams} streams × {tokens} tokens | {} | {} | **{} ev/s** | {ratio} | ttft p50 {:.2} ms p99 {:.2} ms; total p50 {:.1} ms p99 {:.1} ms |",
                compare.provider,
                cell(&runs[0]),
                cell(&runs[1]),
                thousands(sable.rate),
                sable.ttft_p50,
                sable.ttft_p99,
                sable.total_p50,
                sable.total_p99,
            );
            Ok(())
        }
        Scenario::Chat {
            base,
            clients,
            seconds,
        } => chat(&client, &cli.label, &base, clients, seconds).await,
    }
}

/// Runs `clients` loops of `op` for `seconds`; returns every successful op's latency.
async fn closed_loop<F, Fut>(
    clients: usize,
    seconds: f64,
    limit: Option<usize>,
    op: F,
) -> anyhow::Result<(Vec<Duration>, Duration)>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let left = std::sync::Arc::new(std::sync::atomic::AtomicIsize::new(
        limit.map_or(isize::MAX, |n| isize::try_from(n).unwrap_or(isize::MAX)),
    ));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (op, left) = (op.clone(), left.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline
                && left.fetch_sub(1, std::sync::atomic::Ordering::Relaxed) > 0
            {
                let t = Instant::now();
                op().await?;
                latencies.push(t.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    Ok((all, started.elapsed()))
}

#[derive(Clone)]
struct SyncResult {
    rate: f64,
    p50: f64,
    p99: f64,
    n: usize,
}

#[derive(Clone)]
struct SseResult {
    rate: f64,
    ttft_p50: f64,
    ttft_p99: f64,
    total_p50: f64,
    total_p99: f64,
    round: f64,
}

/// `12345.6` → `12,346`.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

async fn sync(
    client: &reqwest::Client,
    url: &str,
    clients: usize,
    seconds: f64,
    requests: Option<usize>,
) -> anyhow::Result<SyncResult> {
    let body = body_for(url, "Explain microservices in one sentence", 32, false);
    // Warm the connection pool.
    client
        .post(url)
        .json(&body)
        .send()
        .await?
        .error_for_status()?;
    let (client, url2) = (client.clone(), url.to_owned());
    let (latencies, elapsed) = closed_loop(clients, seconds, requests, move || {
        let (client, url, body) = (client.clone(), url2.clone(), body.clone());
        async move {
            let response = client.post(&url).json(&body).send().await?;
            if !response.status().is_success() {
                bail!("status {}", response.status());
            }
            response.bytes().await?;
            Ok(())
        }
    })
    .await?;
    let n = latencies.len();
    Ok(SyncResult {
        rate: n as f64 / elapsed.as_secs_f64(),
        p50: percentile_ms(&latencies, 50.0),
        p99: percentile_ms(&latencies, 99.0),
        n,
    })
}

async fn sse(
    client: &reqwest::Client,
    url: &str,
    streams: usize,
    rounds: usize,
    tokens: u32,
) -> anyhow::Result<SseResult> {
    let body = body_for(
        url,
        &format!("[mock:tokens={tokens}] benchmark stream"),
        tokens,
        true,
    );
    let mut ttfts = Vec::new();
    let mut totals = Vec::new();
    let mut events = 0usize;
    let mut busy = Duration::ZERO;
    for _ in 0..rounds {
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..streams {
            let (client, url, body) = (client.clone(), url.to_owned(), body.clone());
            tasks.push(tokio::spawn(async move {
                let t = Instant::now();
                let response = client
                    .post(&url)
                    .json(&body)
                    .send()
                    .await?
                    .error_for_status()?;
                let mut stream = response.bytes_stream();
                let mut ttft = None;
                let mut count = 0usize;
                let mut tail = Vec::new();
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk?;
                    let n = count_events(&chunk);
                    if n > 0 && ttft.is_none() {
                        ttft = Some(t.elapsed());
                    }
                    count += n;
                    tail = chunk.to_vec();
                }
                let text = String::from_utf8_lossy(&tail);
                if !text.contains("[DONE]") {
                    bail!("stream did not end with [DONE]: {text}");
                }
                anyhow::Ok((ttft.context("no events")?, t.elapsed(), count))
            }));
        }
        for task in tasks {
            let (ttft, total, count) = task.await??;
            ttfts.push(ttft);
            totals.push(total);
            events += count;
        }
        busy += started.elapsed();
    }
    Ok(SseResult {
        rate: events as f64 / busy.as_secs_f64(),
        ttft_p50: percentile_ms(&ttfts, 50.0),
        ttft_p99: percentile_ms(&ttfts, 99.0),
        total_p50: percentile_ms(&totals, 50.0),
        total_p99: percentile_ms(&totals, 99.0),
        round: busy.as_secs_f64() / rounds.max(1) as f64,
    })
}

fn count_events(chunk: &[u8]) -> usize {
    chunk.windows(6).filter(|w| w == b"data: ").count()
}

async fn chat(
    client: &reqwest::Client,
    label: &str,
    base: &str,
    clients: usize,
    seconds: f64,
) -> anyhow::Result<()> {
    let (client, base) = (client.clone(), base.trim_end_matches('/').to_owned());
    let (latencies, elapsed) = closed_loop(clients, seconds, None, move || {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let session: serde_json::Value = client
                .post(format!("{base}/api/v1/chat/sessions"))
                .json(&json!({"title": "bench"}))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let id = session["id"].as_str().context("session id")?;
            for (role, content) in [
                ("user", "hello there"),
                ("assistant", "hi, how can I help?"),
            ] {
                client
                    .post(format!("{base}/api/v1/chat/sessions/{id}/messages"))
                    .json(&json!({"role": role, "content": content}))
                    .send()
                    .await?
                    .error_for_status()?;
            }
            client
                .get(format!("{base}/api/v1/chat/sessions?limit=20"))
                .send()
                .await?
                .error_for_status()?
                .bytes()
                .await?;
            Ok(())
        }
    })
    .await?;
    let n = latencies.len();
    println!(
        "| {label} | chat (create + 2 appends + list = 4 requests) | {clients} clients | {:.0} iterations/s ({:.0} req/s) | p50 {:.2} ms | p99 {:.2} ms | {n} iterations |",
        n as f64 / elapsed.as_secs_f64(),
        4.0 * n as f64 / elapsed.as_secs_f64(),
        percentile_ms(&latencies, 50.0),
        percentile_ms(&latencies, 99.0),
    );
    Ok(())
}

fn percentile_ms(samples: &[Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut sorted: Vec<Duration> = samples.to_vec();
    sorted.sort_unstable();
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}
