//! The three real binaries as child processes, for the tests where a real process matters:
//! signals (SIGTERM, SIGKILL), restarts on the same port, exit codes, resident memory.
//!
//! The binaries are the workspace's `target/<profile>/{gateway,model-service,worker-service}`
//! (the test runs as `target/<profile>/deps/<test>-<hash>`). `cargo test --workspace` builds
//! them; for `cargo test -p e2e` alone run `cargo build --bins` first. [`binaries`] refuses
//! binaries older than the sources they were built from rather than testing stale code.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a service may take to log its `listening` line.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `target/<profile>`: a test runs as `target/<profile>/deps/<test>-<hash>`.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// The workspace files `bin` was built from, as cargo recorded them in `<bin>.d`.
fn built_from(bin: &Path) -> Vec<PathBuf> {
    let dep_info = bin.with_extension("d");
    let Ok(text) = std::fs::read_to_string(&dep_info) else {
        return Vec::new();
    };
    let Some((_, deps)) = text.lines().next().and_then(|l| l.split_once(": ")) else {
        return Vec::new();
    };
    // Paths are separated by spaces; a space inside a path is written `\ `.
    let root = workspace_root()
        .canonicalize()
        .unwrap_or_else(|_| workspace_root());
    deps.replace("\\ ", "\0")
        .split(' ')
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(p.replace('\0', " ")))
        .filter(|p| p.canonicalize().is_ok_and(|c| c.starts_with(&root)))
        .collect()
}

/// The paths of the three service binaries.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub gateway: PathBuf,
    pub model: PathBuf,
    pub worker: PathBuf,
}

/// The three binaries, checked to exist and to be newer than every workspace file they were
/// built from (so a stale build is refused, not tested).
pub fn binaries() -> Binaries {
    let dir = bin_dir();
    let [gateway, model, worker] = ["gateway", "model-service", "worker-service"].map(|name| {
        let bin = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        let built = std::fs::metadata(&bin)
            .and_then(|m| m.modified())
            .unwrap_or_else(|_| {
                panic!(
                    "{} is missing: run `cargo build --bins` (cargo test --workspace builds it)",
                    bin.display()
                )
            });
        // `cargo build` writes `<bin>.d`; binaries that `cargo test --workspace` builds for the
        // integration tests of their own crates have none. Those were built by the same
        // command that runs this test, so there is nothing stale to refuse.
        let sources = built_from(&bin);
        for source in sources {
            let changed = std::fs::metadata(&source).and_then(|m| m.modified());
            assert!(
                changed.is_ok_and(|changed| changed <= built),
                "{} is older than {} (or it is gone): run `cargo build --bins` so this test checks the current code",
                bin.display(),
                source.display()
            );
        }
        bin
    });
    Binaries {
        gateway,
        model,
        worker,
    }
}

impl Binaries {
    /// A model service with the mock provider on any port ([`model_env`]).
    pub async fn start_model(&self, cwd: &Path, first_token_ms: u64, token_ms: u64) -> Service {
        let env = model_env("127.0.0.1:0", first_token_ms, token_ms);
        Service::start("model-service", &self.model, cwd, &env).await
    }

    /// A worker service on any port ([`worker_env`]).
    pub async fn start_worker(&self, cwd: &Path, database_url: &str, model_url: &str) -> Service {
        let env = worker_env(database_url, model_url);
        Service::start("worker-service", &self.worker, cwd, &env).await
    }
}

/// A client for tests that drive the real binaries: a 60 s total timeout, so a hung service
/// fails the test instead of hanging it.
pub fn client() -> reqwest::Client {
    common::http::client_builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(64)
        .build()
        .expect("HTTP client")
}

/// Polls `cond` every 100 ms for up to `timeout`; true once it held.
pub async fn wait_until<F, Fut>(timeout: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if cond().await {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A fresh empty directory to run services in (so no `.env` of the checkout is read).
pub fn scratch_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sable-{label}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Every line a service wrote, stdout and stderr together.
pub type Lines = Arc<Mutex<Vec<String>>>;

/// A running service process. Dropping it kills the process.
pub struct Service {
    pub name: &'static str,
    pub addr: SocketAddr,
    /// `http://<addr>`.
    pub url: String,
    child: Child,
    lines: Lines,
}

impl Service {
    /// Starts `bin` in `cwd` with exactly `env` (plus PATH and HOME; `RUST_LOG=info` and
    /// `LOG_FORMAT=json` unless `env` sets them) and waits for its `listening` line.
    pub async fn start(name: &'static str, bin: &Path, cwd: &Path, env: &[(&str, String)]) -> Self {
        let mut command = Command::new(bin);
        command
            .current_dir(cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", cwd)
            .env("RUST_LOG", "info")
            .env("LOG_FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let lines: Lines = Arc::default();
        let (addr_tx, mut addr_rx) = tokio::sync::mpsc::unbounded_channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        for reader in [
            Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
            Box::new(stderr),
        ] {
            let lines = lines.clone();
            let addr_tx = addr_tx.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(reader).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    if line.contains("listening") {
                        if let Some(addr) = field(&line, "addr") {
                            let _ = addr_tx.send(addr);
                        }
                    }
                    lines.lock().unwrap().push(line);
                }
            });
        }
        drop(addr_tx);
        let addr = tokio::time::timeout(START_TIMEOUT, addr_rx.recv())
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| {
                panic!(
                    "{name} did not report its address; its output:\n{}",
                    lines.lock().unwrap().join("\n")
                )
            });
        let addr: SocketAddr = addr
            .parse()
            .unwrap_or_else(|e| panic!("{name} logged the address {addr:?}: {e}"));
        Self {
            name,
            addr,
            url: format!("http://{addr}"),
            child,
            lines,
        }
    }

    /// The process id (while it runs).
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the process is running")
    }

    /// Sends `signal` (`TERM`, `KILL`, …) with kill(1).
    pub async fn signal(&self, signal: &str) {
        let pid = self.pid().to_string();
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .await
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {pid}: {status}");
    }

    /// SIGKILL, then reaps the process.
    pub async fn kill_9(&mut self) {
        self.child.kill().await.expect("SIGKILL");
    }

    /// Waits up to `timeout` for the process to exit.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .ok()
            .map(|r| r.expect("wait for the process"))
    }

    /// `VmRSS` of the process in KiB (Linux `/proc/<pid>/status`).
    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.child.id()?)
    }

    /// Everything the process wrote so far, one line each.
    pub fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// SIGTERM, then waits (up to 15 s, then SIGKILL) for the exit; returns the output.
    pub async fn stop(mut self) -> String {
        if self.child.id().is_some() {
            self.signal("TERM").await;
        }
        if self.wait_exit(Duration::from_secs(15)).await.is_none() {
            let _ = self.child.kill().await;
        }
        // Let the readers drain what is left in the pipes.
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.output()
    }
}

/// `VmRSS` of process `pid` in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// A string field of a JSON log line, wherever the formatter put it.
pub fn field(line: &str, name: &str) -> Option<String> {
    fn find(value: &Value, name: &str) -> Option<String> {
        match value {
            Value::Object(map) => map
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| map.values().find_map(|v| find(v, name))),
            _ => None,
        }
    }
    find(&serde_json::from_str(line).ok()?, name)
}

/// Environment of a model service with the mock provider on `addr` (`127.0.0.1:0` for any
/// port), with the given first-token and per-token delays in milliseconds.
pub fn model_env(addr: &str, first_token_ms: u64, token_ms: u64) -> Vec<(&'static str, String)> {
    vec![
        ("MODEL_SERVICE_ADDR", addr.to_owned()),
        ("PROVIDER", "mock".to_owned()),
        ("MOCK_FIRST_TOKEN_DELAY_MS", first_token_ms.to_string()),
        ("MOCK_TOKEN_DELAY_MS", token_ms.to_string()),
    ]
}

/// Environment of a worker service on any port.
pub fn worker_env(database_url: &str, model_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("WORKER_SERVICE_ADDR", "127.0.0.1:0".to_owned()),
        ("DATABASE_URL", database_url.to_owned()),
        ("MODEL_SERVICE_URL", model_url.to_owned()),
        ("POLL_INTERVAL_MS", "200".to_owned()),
    ]
}

/// Environment of a gateway on any port, single-user (`AUTH_MODE=off`), no rate limits.
pub fn gateway_env(
    database_url: &str,
    model_url: &str,
    worker_url: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("GATEWAY_ADDR", "127.0.0.1:0".to_owned()),
        ("DATABASE_URL", database_url.to_owned()),
        ("MODEL_SERVICE_URL", model_url.to_owned()),
        ("WORKER_SERVICE_URL", worker_url.to_owned()),
        ("AUTH_MODE", "off".to_owned()),
        ("RATE_LIMIT", "off".to_owned()),
    ]
}

/// Sets `key` in `env` (replacing an earlier value).
pub fn set(env: &mut Vec<(&'static str, String)>, key: &'static str, value: impl Into<String>) {
    env.retain(|(k, _)| *k != key);
    env.push((key, value.into()));
}
