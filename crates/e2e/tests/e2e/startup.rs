//! Who applies migrations: the gateway; the worker waits for the schema it needs.

use std::time::Duration;

use clap::Parser;
use common::config::DatabaseArgs;
use common::db::{latest_migration, open_when_migrated, StartupError};
use common::test_support::fresh_database;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    database: DatabaseArgs,
}

#[tokio::test]
async fn a_service_that_does_not_own_the_schema_waits_for_it_then_starts() {
    let db = fresh_database().await;
    let args = Args::try_parse_from(["t", "--database-url", &db.url])
        .unwrap()
        .database;
    let latest = latest_migration();
    // Pretend the newest migration has not been applied yet.
    let row: (String, Vec<u8>, i64) = sqlx::query_as(
        "DELETE FROM _sqlx_migrations WHERE version = $1 RETURNING description, checksum, execution_time",
    )
    .bind(latest)
    .fetch_one(&db.pool)
    .await
    .unwrap();

    let err = open_when_migrated(&args, Duration::ZERO).await.unwrap_err();
    assert!(matches!(err, StartupError::SchemaBehind { needed, .. } if needed == latest));
    assert!(
        err.to_string().contains("gateway applies migrations"),
        "{err}"
    );

    let waiting =
        tokio::spawn(async move { open_when_migrated(&args, Duration::from_secs(10)).await });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !waiting.is_finished(),
        "started before the schema was current"
    );
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, $2, true, $3, $4)",
    )
    .bind(latest)
    .bind(row.0)
    .bind(row.1)
    .bind(row.2)
    .execute(&db.pool)
    .await
    .unwrap();
    let pool = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("started once the schema was current")
        .unwrap()
        .unwrap();
    pool.close().await;
}

/// Kubernetes runs the migrations in a Job while the gateways start with SKIP_MIGRATIONS:
/// a gateway must not serve on an old schema, so it waits like the worker.
#[tokio::test]
async fn a_gateway_with_skip_migrations_waits_for_the_schema_then_starts() {
    let db = fresh_database().await;
    let latest = latest_migration();
    let row: (String, Vec<u8>, i64) = sqlx::query_as(
        "DELETE FROM _sqlx_migrations WHERE version = $1 RETURNING description, checksum, execution_time",
    )
    .bind(latest)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let config = gateway::Config::try_parse_from([
        "gateway",
        "--database-url",
        &db.url,
        "--skip-migrations",
        "--auth-mode",
        "off",
    ])
    .unwrap();
    let starting = tokio::spawn(gateway::build_state(config));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !starting.is_finished(),
        "the gateway started before the schema was current"
    );
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, $2, true, $3, $4)",
    )
    .bind(latest)
    .bind(row.0)
    .bind(row.1)
    .bind(row.2)
    .execute(&db.pool)
    .await
    .unwrap();
    let state = tokio::time::timeout(Duration::from_secs(5), starting)
        .await
        .expect("started once the schema was current")
        .unwrap();
    assert!(state.is_ok(), "{:?}", state.err());
}
