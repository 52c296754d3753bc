//! The `fake-openai` binary (see the library docs for what it serves):
//!
//!   fake-openai --addr 127.0.0.1:18103 [--token-delay-ms 20] [--fail-first 3 --fail-status 429]

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use fake_openai::Behaviour;

#[derive(Parser)]
#[command(about = "Fake OpenAI-compatible server for benchmarks and tests")]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "FAKE_OPENAI_ADDR", default_value = "127.0.0.1:18103")]
    addr: SocketAddr,
    /// Time between two streamed tokens, in milliseconds (0: the whole stream at once).
    #[arg(long, env = "FAKE_OPENAI_TOKEN_DELAY_MS", default_value_t = 0)]
    token_delay_ms: u64,
    /// Time before any answer starts, in milliseconds (a slow provider).
    #[arg(long, env = "FAKE_OPENAI_RESPONSE_DELAY_MS", default_value_t = 0)]
    response_delay_ms: u64,
    /// The first N requests fail with --fail-status (`always` for every request).
    #[arg(long, env = "FAKE_OPENAI_FAIL_FIRST", default_value = "0", value_parser = fail_first)]
    fail_first: u64,
    /// Status of those failures (429 carries Retry-After).
    #[arg(long, env = "FAKE_OPENAI_FAIL_STATUS", default_value_t = 503)]
    fail_status: u16,
    /// Require `Authorization: Bearer <key>` (401 otherwise).
    #[arg(long, env = "FAKE_OPENAI_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Model ids listed by GET /v1/models (comma-separated).
    #[arg(
        long,
        env = "FAKE_OPENAI_MODELS",
        default_value = "bench",
        value_delimiter = ','
    )]
    models: Vec<String>,
    /// Runtime worker threads (default: one per core).
    #[arg(long, env = "FAKE_OPENAI_THREADS")]
    threads: Option<usize>,
}

fn fail_first(s: &str) -> Result<u64, String> {
    if s == "always" {
        return Ok(u64::MAX);
    }
    s.parse()
        .map_err(|_| format!("`{s}` is not a number of requests or `always`"))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = cli.threads {
        rt.worker_threads(n.max(1));
    }
    rt.enable_all().build()?.block_on(serve(cli))
}

async fn serve(cli: Cli) -> anyhow::Result<()> {
    let behaviour = Behaviour {
        token_delay: Duration::from_millis(cli.token_delay_ms),
        response_delay: Duration::from_millis(cli.response_delay_ms),
        fail_first: cli.fail_first,
        fail_status: cli.fail_status,
        api_key: cli.api_key,
        models: cli.models,
        ..Behaviour::default()
    };
    let (app, counters) = fake_openai::app(behaviour);
    // A backlog of 4,096 (as the Sable services, `common::server::bind`): with the default 128
    // a burst of hundreds of connections overflows the accept queue and the dropped SYNs are
    // retried a second later.
    let socket = if cli.addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(cli.addr)?;
    let listener = socket.listen(4096)?;
    eprintln!(
        "fake-openai listening on {} (HTTP/1.1 and h2c; token delay {} ms)",
        listener.local_addr()?,
        cli.token_delay_ms
    );
    fake_openai::serve(listener, app, counters).await;
    Ok(())
}
