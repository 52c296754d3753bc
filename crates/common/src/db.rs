//! The Postgres pool and the migrations every service shares.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use crate::config::{DatabaseArgs, ExposeSecret};

/// The migrations in `migrations/` at the workspace root, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Opens the pool, waiting up to the acquire timeout for the first connection so a service
/// started together with its database does not fail on a race.
pub async fn connect(args: &DatabaseArgs) -> Result<PgPool, sqlx::Error> {
    let options: PgConnectOptions = args.database_url.expose_secret().parse()?;
    PgPoolOptions::new()
        .max_connections(args.database_max_connections)
        .min_connections(1)
        .acquire_timeout(args.acquire_timeout())
        .idle_timeout(Some(Duration::from_secs(300)))
        .connect_with(
            options
                .application_name("sable")
                // A runaway statement cannot hold a connection (and the pool) forever.
                .options([(
                    "statement_timeout",
                    args.database_statement_timeout.as_millis().to_string(),
                )]),
        )
        .await
}

/// Why a service could not open its database at start-up; the message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot connect to the database at {url}: {source}. Start one with `make db-up` (Docker) or `make db-up-native`, or set DATABASE_URL")]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot apply the database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the database schema is at version {found} but this build needs {needed}; the gateway applies migrations at start-up (or run `make db-migrate`)")]
    SchemaBehind { found: i64, needed: i64 },
    #[error("cannot read the database schema version: {0}")]
    SchemaVersion(sqlx::Error),
}

/// Connects and, unless `skip_migrations`, applies the migrations: what every service that
/// owns data does at start-up.
pub async fn open(args: &DatabaseArgs, skip_migrations: bool) -> Result<PgPool, StartupError> {
    let pool = connect(args)
        .await
        .map_err(|source| StartupError::Connect {
            url: redact_url(args.database_url.expose_secret()),
            source,
        })?;
    if !skip_migrations {
        migrate(&pool).await?;
    }
    Ok(pool)
}

/// Connects and waits (up to `wait`) until the schema has every migration this build embeds:
/// for services that use the database but do not own its schema. The gateway is the one
/// component that applies migrations (ARCHITECTURE.md); the worker starts with this.
pub async fn open_when_migrated(
    args: &DatabaseArgs,
    wait: Duration,
) -> Result<PgPool, StartupError> {
    let pool = open(args, true).await?;
    let needed = latest_migration();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let found = schema_version(&pool)
            .await
            .map_err(StartupError::SchemaVersion)?;
        if found >= needed {
            return Ok(pool);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(StartupError::SchemaBehind { found, needed });
        }
        tracing::info!(
            found,
            needed,
            "waiting for the gateway to apply the database migrations"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The newest migration version embedded in this build.
pub fn latest_migration() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The newest successfully applied migration (0 on an empty database).
pub async fn schema_version(pool: &PgPool) -> Result<i64, sqlx::Error> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if !exists {
        return Ok(0);
    }
    sqlx::query_scalar("SELECT COALESCE(max(version), 0) FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await
}

/// Applies pending migrations. Safe to call from several services at once: sqlx takes an
/// advisory lock while migrating.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    // Through a one-connection pool without the statement timeout: a migration may rewrite a
    // large table. (A pool rather than a borrowed connection keeps the future `Send`.)
    let options = pool
        .connect_options()
        .as_ref()
        .clone()
        .options([("statement_timeout", "0")]);
    let migrations = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    let result = MIGRATOR.run(&migrations).await;
    migrations.close().await;
    result
}

/// Cheap liveness probe for readiness checks.
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}

/// Removes the password from a connection string so it can be logged.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "<unparseable database url>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        let s = redact_url("postgres://sable:secret@db:5432/sable");
        assert!(!s.contains("secret"));
        assert!(s.contains("db:5432"));
    }
}
