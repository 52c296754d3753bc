//! Configuration pieces shared by the services. Each service has its own clap `Parser` that
//! flattens the pieces it needs; every option is also an environment variable, and a `.env`
//! file is read first when present (see [`load_dotenv`]).
//!
//! Conventions every service follows:
//! - durations parse one way ([`duration_secs`], [`duration_ms`]): `200ms`, `30s`, `5m`, `1h`,
//!   or a bare number in the unit the setting's name states;
//! - secrets ([`SecretString`], [`Secret`]) carry `hide_env_values = true`, so neither `--help`
//!   nor `Debug` shows them;
//! - each piece has a `validate()` that the service's own `validate()` calls at start-up, so a
//!   bad value stops the process with one sentence.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
pub use secrecy::{ExposeSecret, SecretString};
use tracing_subscriber::EnvFilter;

use crate::telemetry::LogFormat;

/// Reads `.env` from the working directory or the nearest parent that has one, so running a
/// binary from `crates/x` or from the repository root behaves the same (contract §17.2).
/// Variables already set in the environment win.
pub fn load_dotenv() -> Option<PathBuf> {
    dotenvy::dotenv().ok()
}

#[derive(Debug, Clone, Args)]
pub struct ServiceArgs {
    /// Deployment environment reported by /health (development, staging, production, test).
    #[arg(long, env = "ENVIRONMENT", default_value = "development")]
    pub environment: String,

    /// Log output: `pretty` for people, `json` for log shippers.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,

    /// Log filter in RUST_LOG syntax, e.g. `info` or `debug,sqlx=warn`.
    #[arg(
        long,
        env = "RUST_LOG",
        default_value = "info,sqlx=warn,tower_http=info"
    )]
    pub log_filter: String,

    /// Time to wait for in-flight requests after SIGINT/SIGTERM before exiting (`10s`; a bare
    /// number is seconds).
    #[arg(
        long = "shutdown-grace-secs",
        env = "SHUTDOWN_GRACE_SECS",
        value_parser = duration_secs,
        default_value = "10s"
    )]
    pub shutdown_grace: Duration,

    /// Time a client has to send a request's whole header block (`10s`; a bare number is
    /// seconds). A client that trickles headers is disconnected: before the headers there is no
    /// request to answer.
    #[arg(
        long = "header-read-timeout-secs",
        env = "HEADER_READ_TIMEOUT_SECS",
        value_parser = duration_secs,
        default_value = "10s"
    )]
    pub header_read_timeout: Duration,

    /// Grace a client has to send a request body, from the end of its headers (`30s`; a bare
    /// number is seconds), plus a second per 32 KiB received, so a file upload arriving at
    /// 32 KiB/s or faster is never cut off. A slower body is answered 408 `REQUEST_TIMEOUT` and
    /// the connection closed.
    #[arg(
        long = "request-body-timeout-secs",
        env = "REQUEST_BODY_TIMEOUT_SECS",
        value_parser = duration_secs,
        default_value = "30s"
    )]
    pub request_body_timeout: Duration,
}

impl ServiceArgs {
    /// Checks the settings; the error is one sentence for the operator.
    pub fn validate(&self) -> Result<(), String> {
        positive("HEADER_READ_TIMEOUT_SECS", self.header_read_timeout)?;
        positive("REQUEST_BODY_TIMEOUT_SECS", self.request_body_timeout)?;
        EnvFilter::try_new(&self.log_filter)
            .map(|_| ())
            .map_err(|e| format!("RUST_LOG is not a valid log filter ({e})"))
    }

    /// The limits on slow clients that [`crate::server::serve_connections`] enforces.
    pub fn client_timeouts(&self) -> crate::server::ClientTimeouts {
        crate::server::ClientTimeouts {
            header_read: self.header_read_timeout,
            request_body: self.request_body_timeout,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Postgres connection string, e.g. postgres://postgres@127.0.0.1:5432/sable. A secret: its
    /// value is never shown by --help or in logs.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/sable",
        hide_env_values = true
    )]
    pub database_url: SecretString,

    /// Largest number of pooled database connections.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 10)]
    pub database_max_connections: u32,

    /// Time to wait for a free pooled connection (and for the first connect) before failing
    /// (`5s`; a bare number is seconds).
    #[arg(
        long = "database-acquire-timeout-secs",
        env = "DATABASE_ACQUIRE_TIMEOUT_SECS",
        value_parser = duration_secs,
        default_value = "5s"
    )]
    pub database_acquire_timeout: Duration,

    /// Longest a single SQL statement may run before Postgres cancels it (`30s`; a bare number
    /// is seconds; `0` turns the limit off). Migrations run without it.
    #[arg(
        long = "database-statement-timeout-secs",
        env = "DATABASE_STATEMENT_TIMEOUT_SECS",
        value_parser = duration_secs,
        default_value = "30s"
    )]
    pub database_statement_timeout: Duration,
}

impl DatabaseArgs {
    pub fn acquire_timeout(&self) -> Duration {
        self.database_acquire_timeout
    }

    /// Checks the settings; the error is one sentence for the operator (it never contains the
    /// URL's password).
    pub fn validate(&self) -> Result<(), String> {
        let url = self.database_url.expose_secret();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err("DATABASE_URL must start with postgres:// or postgresql://".to_owned());
        }
        if self.database_max_connections == 0 {
            return Err("DATABASE_MAX_CONNECTIONS must be at least 1".to_owned());
        }
        positive(
            "DATABASE_ACQUIRE_TIMEOUT_SECS",
            self.database_acquire_timeout,
        )
    }
}

#[derive(Debug, Clone, Args)]
pub struct HttpClientArgs {
    /// Time allowed to open a connection to another service (`2s`; a bare number is
    /// milliseconds).
    #[arg(
        long = "http-connect-timeout-ms",
        env = "HTTP_CONNECT_TIMEOUT_MS",
        value_parser = duration_ms,
        default_value = "2s"
    )]
    pub http_connect_timeout: Duration,

    /// Time allowed for a whole non-streaming call to another service (long generations take
    /// minutes, so this is generous; streams use idle timeouts instead). `5m`; a bare number is
    /// seconds.
    #[arg(
        long = "http-request-timeout-secs",
        env = "HTTP_REQUEST_TIMEOUT_SECS",
        value_parser = duration_secs,
        default_value = "5m"
    )]
    pub http_request_timeout: Duration,

    /// Time a stream may stay silent before it is considered stalled (`2m`; a bare number is
    /// seconds).
    #[arg(
        long = "stream-idle-timeout-secs",
        env = "STREAM_IDLE_TIMEOUT_SECS",
        value_parser = duration_secs,
        default_value = "2m"
    )]
    pub stream_idle_timeout: Duration,
}

impl HttpClientArgs {
    pub fn connect_timeout(&self) -> Duration {
        self.http_connect_timeout
    }
    pub fn request_timeout(&self) -> Duration {
        self.http_request_timeout
    }
    pub fn stream_idle_timeout(&self) -> Duration {
        self.stream_idle_timeout
    }

    /// Checks the settings; the error is one sentence for the operator.
    pub fn validate(&self) -> Result<(), String> {
        positive("HTTP_CONNECT_TIMEOUT_MS", self.http_connect_timeout)?;
        positive("HTTP_REQUEST_TIMEOUT_SECS", self.http_request_timeout)?;
        positive("STREAM_IDLE_TIMEOUT_SECS", self.stream_idle_timeout)
    }
}

/// `Err` with one sentence naming `name` when `value` is zero.
pub fn positive(name: &str, value: Duration) -> Result<(), String> {
    if value.is_zero() {
        Err(format!("{name} must be longer than zero"))
    } else {
        Ok(())
    }
}

/// Parses a duration setting: a number with a unit (`200ms`, `30s`, `5m`, `1h`, `1d`; parts
/// may be combined, as in `1m30s`), or a bare whole number in `bare_unit` (the unit the
/// setting's name states, for values written before units were accepted). Anything else is an
/// error naming the accepted forms; nothing is silently rounded to some other value.
pub fn parse_duration(input: &str, bare_unit: Duration) -> Result<Duration, String> {
    let text = input.trim();
    let bare_name = if bare_unit == Duration::from_millis(1) {
        "milliseconds"
    } else {
        "seconds"
    };
    let invalid = || {
        format!(
            "`{input}` is not a duration: use a number with a unit (200ms, 30s, 5m, 1h) or a whole number of {bare_name}"
        )
    };
    if text.is_empty() {
        return Err(invalid());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let n: u32 = text.parse().map_err(|_| invalid())?;
        return bare_unit.checked_mul(n).ok_or_else(invalid);
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let letters = rest[digits..]
            .bytes()
            .take_while(u8::is_ascii_alphabetic)
            .count();
        if digits == 0 || letters == 0 {
            return Err(invalid());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        let part = match &rest[digits..digits + letters] {
            "ms" => Some(Duration::from_millis(n)),
            "s" => Some(Duration::from_secs(n)),
            "m" => n.checked_mul(60).map(Duration::from_secs),
            "h" => n.checked_mul(3600).map(Duration::from_secs),
            "d" => n.checked_mul(86_400).map(Duration::from_secs),
            _ => None,
        };
        total = part
            .and_then(|p| total.checked_add(p))
            .ok_or_else(invalid)?;
        rest = &rest[digits + letters..];
    }
    Ok(total)
}

/// clap value parser for a duration whose setting is named in seconds (`*_SECS`).
pub fn duration_secs(input: &str) -> Result<Duration, String> {
    parse_duration(input, Duration::from_secs(1))
}

/// clap value parser for a duration whose setting is named in milliseconds (`*_MS`).
pub fn duration_ms(input: &str) -> Result<Duration, String> {
    parse_duration(input, Duration::from_millis(1))
}

/// A provider key or other secret string: a thin wrapper over [`SecretString`] (`secrecy`)
/// that keeps the small API the model service uses. Debug never shows the value; it is
/// zeroed when dropped. New code may use [`SecretString`] directly.
#[derive(Clone, Default)]
pub struct Secret(SecretString);

impl Secret {
    /// The value, for the one place that must send it (e.g. an `Authorization` header).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
    pub fn is_empty(&self) -> bool {
        self.0.expose_secret().trim().is_empty()
    }
}

impl ExposeSecret<str> for Secret {
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_empty() {
            f.write_str("Secret(<empty>)")
        } else {
            f.write_str("Secret(<redacted>)")
        }
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(s.into())
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(SecretString::from(s))
    }
}

impl From<SecretString> for Secret {
    fn from(s: SecretString) -> Self {
        Self(s)
    }
}

/// Parses a comma-separated list, trimming entries and dropping empty ones.
pub fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s: Secret = "sk-live-123".into();
        assert!(!format!("{s:?}").contains("sk-live"));
        assert_eq!(s.expose(), "sk-live-123");
    }

    #[test]
    fn durations_take_units_or_the_unit_of_the_name() {
        assert_eq!(duration_secs("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration_secs("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(duration_secs("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(duration_secs("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(duration_secs("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration_secs(" 10 "), Ok(Duration::from_secs(10)));
        assert_eq!(duration_ms("2000"), Ok(Duration::from_secs(2)));
        assert_eq!(duration_ms("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(duration_secs("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_durations_are_one_sentence_never_a_default() {
        for bad in [
            "",
            "abc",
            "1.5s",
            "-1",
            "10 s",
            "5x",
            "s",
            "99999999999999999999h",
            "1e3",
        ] {
            let err = duration_secs(bad).unwrap_err();
            assert!(err.contains("is not a duration"), "{bad}: {err}");
            assert!(err.contains("whole number of seconds"), "{err}");
        }
        assert!(duration_ms("x").unwrap_err().contains("milliseconds"));
    }

    #[derive(clap::Parser, Debug)]
    struct All {
        #[command(flatten)]
        service: ServiceArgs,
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        http: HttpClientArgs,
    }

    fn parse(args: &[&str]) -> Result<All, clap::Error> {
        use clap::Parser;
        All::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_are_valid_and_old_bare_numbers_still_work() {
        let all = parse(&[]).unwrap();
        assert_eq!(all.service.shutdown_grace, Duration::from_secs(10));
        assert_eq!(all.http.connect_timeout(), Duration::from_secs(2));
        assert_eq!(all.http.request_timeout(), Duration::from_secs(300));
        assert_eq!(all.http.stream_idle_timeout(), Duration::from_secs(120));
        assert_eq!(all.database.acquire_timeout(), Duration::from_secs(5));
        assert_eq!(all.service.validate(), Ok(()));
        assert_eq!(all.database.validate(), Ok(()));
        assert_eq!(all.http.validate(), Ok(()));

        let all = parse(&[
            "--http-connect-timeout-ms",
            "250",
            "--stream-idle-timeout-secs",
            "500ms",
            "--shutdown-grace-secs",
            "3",
        ])
        .unwrap();
        assert_eq!(all.http.connect_timeout(), Duration::from_millis(250));
        assert_eq!(all.http.stream_idle_timeout(), Duration::from_millis(500));
        assert_eq!(all.service.shutdown_grace, Duration::from_secs(3));
    }

    #[test]
    fn a_bad_duration_stops_parsing_with_the_flag_named() {
        let err = parse(&["--http-request-timeout-secs", "soon"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("http-request-timeout-secs"), "{err}");
        assert!(err.contains("is not a duration"), "{err}");
    }

    #[test]
    fn zero_timeouts_and_odd_urls_fail_validation() {
        let all = parse(&["--http-connect-timeout-ms", "0"]).unwrap();
        assert!(all
            .http
            .validate()
            .unwrap_err()
            .contains("HTTP_CONNECT_TIMEOUT_MS"));
        let all = parse(&["--database-url", "mysql://u:hunter2@h/db"]).unwrap();
        let err = all.database.validate().unwrap_err();
        assert!(
            err.contains("DATABASE_URL") && !err.contains("hunter2"),
            "{err}"
        );
        let all = parse(&["--log-filter", "info,=[("]).unwrap();
        assert!(all.service.validate().unwrap_err().contains("RUST_LOG"));
    }

    #[test]
    fn the_database_url_is_a_secret_in_debug_and_help() {
        let all = parse(&["--database-url", "postgres://u:hunter2@h/db"]).unwrap();
        assert!(!format!("{all:?}").contains("hunter2"));
        use clap::CommandFactory;
        let command = All::command();
        for arg in command.get_arguments() {
            let env = arg.get_env().and_then(|e| e.to_str()).unwrap_or_default();
            if env == "DATABASE_URL" {
                assert!(arg.is_hide_env_values_set(), "{env} must hide its value");
            }
        }
    }

    #[test]
    fn lists_are_trimmed() {
        assert_eq!(split_list(" a, b ,,c"), vec!["a", "b", "c"]);
    }
}
