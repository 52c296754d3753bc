//! All account SQL: users, login failures, refresh-token families and API keys.
//! Functions return domain results; the routes map them to the envelope.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use super::Role;

/// A user as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow, ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub display_name: Option<String>,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// What a login needs to decide.
#[derive(Debug, FromRow)]
pub struct Credentials {
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub password_hash: Option<String>,
    pub locked: bool,
}

/// How the role of a new account is chosen.
#[derive(Debug, Clone, Copy)]
pub enum NewRole {
    /// `admin` for the first account with a password, `user` after that.
    FirstIsAdmin,
    Exactly(Role),
}

/// Creates an account; `None` when the email is taken (compared case-insensitively).
pub async fn create_user(
    db: &PgPool,
    email: &str,
    password_hash: &str,
    display_name: Option<&str>,
    role: NewRole,
) -> Result<Option<User>, sqlx::Error> {
    let mut tx = db.begin().await?;
    // Serialises registrations so that exactly one "first" account becomes admin.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('sable.users.first_admin'))")
        .execute(&mut *tx)
        .await?;
    let role = match role {
        NewRole::Exactly(role) => role,
        NewRole::FirstIsAdmin => {
            let any: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM users WHERE password_hash IS NOT NULL)",
            )
            .fetch_one(&mut *tx)
            .await?;
            if any {
                Role::User
            } else {
                Role::Admin
            }
        }
    };
    let user: Option<User> = sqlx::query_as(
        "INSERT INTO users (id, email, display_name, password_hash, role) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT DO NOTHING \
         RETURNING id, email, display_name, role, created_at",
    )
    .bind(Uuid::now_v7())
    .bind(email)
    .bind(display_name)
    .bind(password_hash)
    .bind(role.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(user)
}

pub async fn credentials(db: &PgPool, email: &str) -> Result<Option<Credentials>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, role, password_hash, COALESCE(locked_until > now(), false) AS locked \
         FROM users WHERE lower(email) = lower($1)",
    )
    .bind(email)
    .fetch_optional(db)
    .await
}

/// Counts a failed login; the `max_failures`-th failure within 15 minutes locks the account
/// for `lockout_secs`.
pub async fn record_failure(
    db: &PgPool,
    user: Uuid,
    max_failures: u32,
    lockout_secs: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH counted AS ( \
             SELECT id, CASE WHEN failures_since IS NULL OR failures_since < now() - interval '15 minutes' \
                        THEN 1 ELSE failed_logins + 1 END AS n \
             FROM users WHERE id = $1 FOR UPDATE \
         ) \
         UPDATE users u SET failed_logins = c.n, \
             failures_since = CASE WHEN c.n = 1 THEN now() ELSE u.failures_since END, \
             locked_until = CASE WHEN c.n >= $2 THEN now() + make_interval(secs => $3) ELSE u.locked_until END \
         FROM counted c WHERE u.id = c.id",
    )
    .bind(user)
    .bind(i32::try_from(max_failures).unwrap_or(i32::MAX))
    .bind(lockout_secs as f64)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn record_success(db: &PgPool, user: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET failed_logins = 0, failures_since = NULL, locked_until = NULL \
         WHERE id = $1 AND (failed_logins <> 0 OR locked_until IS NOT NULL)",
    )
    .bind(user)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn user(db: &PgPool, id: Uuid) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as("SELECT id, email, display_name, role, created_at FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Accounts that can sign in, oldest first.
pub async fn list_users(db: &PgPool) -> Result<Vec<User>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, email, display_name, role, created_at FROM users \
         WHERE password_hash IS NOT NULL ORDER BY created_at, id",
    )
    .fetch_all(db)
    .await
}

// --- refresh tokens ---------------------------------------------------------------------------

pub async fn insert_refresh_token(
    db: &PgPool,
    user: Uuid,
    family: Uuid,
    hash: &[u8],
    ttl_secs: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at) \
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(family)
    .bind(hash)
    .bind(ttl_secs as f64)
    .execute(db)
    .await?;
    Ok(())
}

/// What presenting a refresh token did.
#[derive(Debug, PartialEq, Eq)]
pub enum RefreshUse {
    /// The token was valid and is now used: issue its successor in `family`.
    Rotated {
        user: Uuid,
        role: Role,
        family: Uuid,
    },
    /// The token had already been used: its whole family is now revoked (theft detection).
    Reused,
    /// Unknown, expired or revoked.
    Invalid,
}

/// Marks a refresh token used (once: the update is the check), or revokes its family when it
/// was used before. A token presented again within `reuse_grace_secs` of its first use is a
/// client racing itself (a reload that cancelled a refresh in flight, two tabs), not a thief:
/// it gets another successor in the same family instead of revoking it.
pub async fn use_refresh_token(
    db: &PgPool,
    hash: &[u8],
    reuse_grace_secs: u64,
) -> Result<RefreshUse, sqlx::Error> {
    let rotated: Option<(Uuid, String, Uuid)> = sqlx::query_as(
        "UPDATE refresh_tokens t SET used_at = now() FROM users u \
         WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.revoked_at IS NULL \
           AND t.expires_at > now() AND u.id = t.user_id \
         RETURNING t.user_id, u.role, t.family_id",
    )
    .bind(hash)
    .fetch_optional(db)
    .await?;
    if let Some((user, role, family)) = rotated {
        let role = Role::try_from(role).map_err(|e| sqlx::Error::Decode(e.into()))?;
        return Ok(RefreshUse::Rotated { user, role, family });
    }
    let reused: Option<(Uuid, Uuid, String, bool)> = sqlx::query_as(
        "SELECT t.family_id, t.user_id, u.role, \
                t.used_at > now() - make_interval(secs => $2) \
                    AND t.revoked_at IS NULL AND t.expires_at > now() AS within_grace \
         FROM refresh_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND t.used_at IS NOT NULL",
    )
    .bind(hash)
    .bind(reuse_grace_secs as f64)
    .fetch_optional(db)
    .await?;
    match reused {
        Some((family, user, role, true)) => {
            let role = Role::try_from(role).map_err(|e| sqlx::Error::Decode(e.into()))?;
            Ok(RefreshUse::Rotated { user, role, family })
        }
        Some((family, ..)) => {
            revoke_family(db, family).await?;
            Ok(RefreshUse::Reused)
        }
        None => Ok(RefreshUse::Invalid),
    }
}

async fn revoke_family(db: &PgPool, family: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family)
    .execute(db)
    .await?;
    Ok(())
}

/// Sign-out: revokes the family of the presented token (every device of that login).
pub async fn revoke_refresh_token(db: &PgPool, hash: &[u8]) -> Result<(), sqlx::Error> {
    let family: Option<Uuid> =
        sqlx::query_scalar("SELECT family_id FROM refresh_tokens WHERE token_hash = $1")
            .bind(hash)
            .fetch_optional(db)
            .await?;
    if let Some(family) = family {
        revoke_family(db, family).await?;
    }
    Ok(())
}

// --- API keys ---------------------------------------------------------------------------------

/// An API key as listed (never the key itself).
#[derive(Debug, Clone, PartialEq, Serialize, FromRow, ToSchema)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    /// The key's first characters, e.g. `sk-sable-AbC12x`.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

pub async fn create_api_key(
    db: &PgPool,
    user: Uuid,
    name: &str,
    prefix: &str,
    hash: &[u8],
) -> Result<ApiKey, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO api_keys (id, user_id, name, prefix, key_hash) VALUES ($1, $2, $3, $4, $5) \
         RETURNING id, name, prefix, created_at, last_used_at",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(name)
    .bind(prefix)
    .bind(hash)
    .fetch_one(db)
    .await
}

pub async fn list_api_keys(db: &PgPool, user: Uuid) -> Result<Vec<ApiKey>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, prefix, created_at, last_used_at FROM api_keys \
         WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC",
    )
    .bind(user)
    .fetch_all(db)
    .await
}

/// Revokes one of the caller's keys; `false` when it is not theirs (or already revoked).
pub async fn revoke_api_key(db: &PgPool, user: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(user)
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The owner of a live key. `last_used_at` is refreshed at most once a minute, so a busy
/// script does not turn every request into a write.
pub async fn api_key_owner(
    db: &PgPool,
    hash: &[u8],
) -> Result<Option<(Uuid, Role, Uuid)>, sqlx::Error> {
    let row: Option<(Uuid, String, Uuid)> = sqlx::query_as(
        "WITH k AS ( \
             SELECT k.id, k.user_id, k.last_used_at, u.role FROM api_keys k JOIN users u ON u.id = k.user_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL \
         ), touched AS ( \
             UPDATE api_keys a SET last_used_at = now() FROM k \
             WHERE a.id = k.id AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute') \
         ) \
         SELECT user_id, role, id FROM k",
    )
    .bind(hash)
    .fetch_optional(db)
    .await?;
    row.map(|(id, role, key)| {
        Role::try_from(role)
            .map(|role| (id, role, key))
            .map_err(|e| sqlx::Error::Decode(e.into()))
    })
    .transpose()
}
