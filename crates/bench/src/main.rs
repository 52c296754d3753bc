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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
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
        } => sync(&client, &cli.label, &url, clients, seconds).await,
        Scenario::Sse {
            url,
            streams,
            rounds,
            tokens,
        } => sse(&client, &cli.label, &url, streams, rounds, tokens).await,
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
    op: F,
) -> anyhow::Result<(Vec<Duration>, Duration)>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
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

async fn sync(
    client: &reqwest::Client,
    label: &str,
    url: &str,
    clients: usize,
    seconds: f64,
) -> anyhow::Result<()> {
    let body = json!({"prompt": "Explain microservices in one sentence", "max_tokens": 32});
    // Warm the connection pool.
    client
        .post(url)
        .json(&body)
        .send()
        .await?
        .error_for_status()?;
    let (client, url2) = (client.clone(), url.to_owned());
    let (latencies, elapsed) = closed_loop(clients, seconds, move || {
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
    println!(
        "| {label} | sync | {clients} clients | {:.0} req/s | p50 {:.3} ms | p99 {:.3} ms | {n} requests |",
        n as f64 / elapsed.as_secs_f64(),
        percentile_ms(&latencies, 50.0),
        percentile_ms(&latencies, 99.0),
    );
    Ok(())
}

async fn sse(
    client: &reqwest::Client,
    label: &str,
    url: &str,
    streams: usize,
    rounds: usize,
    tokens: u32,
) -> anyhow::Result<()> {
    let body =
        json!({"prompt": format!("[mock:tokens={tokens}] benchmark stream"), "max_tokens": tokens});
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
    println!(
        "| {label} | sse | {streams} streams × {tokens} tokens | {:.0} events/s | ttft p50 {:.2} ms p99 {:.2} ms | stream total p50 {:.1} ms p99 {:.1} ms | round {:.3} s |",
        events as f64 / busy.as_secs_f64(),
        percentile_ms(&ttfts, 50.0),
        percentile_ms(&ttfts, 99.0),
        percentile_ms(&totals, 50.0),
        percentile_ms(&totals, 99.0),
        busy.as_secs_f64() / rounds as f64,
    );
    Ok(())
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
    let (latencies, elapsed) = closed_loop(clients, seconds, move || {
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
