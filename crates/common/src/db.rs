//! The Postgres pool and the migrations every service shares.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use crate::config::DatabaseArgs;

/// The migrations in `migrations/` at the workspace root, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Opens the pool, waiting up to the acquire timeout for the first connection so a service
/// started together with its database does not fail on a race.
pub async fn connect(args: &DatabaseArgs) -> Result<PgPool, sqlx::Error> {
    let options: PgConnectOptions = args.database_url.parse()?;
    PgPoolOptions::new()
        .max_connections(args.database_max_connections)
        .min_connections(1)
        .acquire_timeout(args.acquire_timeout())
        .idle_timeout(Some(Duration::from_secs(300)))
        .connect_with(options.application_name("sable"))
        .await
}

/// Why a service could not open its database at start-up; the message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot connect to the database at {url}: {source}. Start one with `make db-up` (Docker) or `make db-up-native`, or set DATABASE_URL")]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot apply the database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Connects and, unless `skip_migrations`, applies the migrations: what every service that
/// owns data does at start-up.
pub async fn open(args: &DatabaseArgs, skip_migrations: bool) -> Result<PgPool, StartupError> {
    let pool = connect(args)
        .await
        .map_err(|source| StartupError::Connect {
            url: redact_url(&args.database_url),
            source,
        })?;
    if !skip_migrations {
        migrate(&pool).await?;
    }
    Ok(pool)
}

/// Applies pending migrations. Safe to call from several services at once: sqlx takes an
/// advisory lock while migrating.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
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
