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
    /// Set while an admin has the account disabled (no sign-in, no key works).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<DateTime<Utc>>,
}

/// The columns of [`User`].
const USER_COLUMNS: &str = "id, email, display_name, role, created_at, disabled_at";

/// What a login needs to decide.
#[derive(Debug, FromRow)]
pub struct Credentials {
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub password_hash: Option<String>,
    pub locked: bool,
    pub disabled: bool,
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
         RETURNING id, email, display_name, role, created_at, disabled_at",
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
        "SELECT id, role, password_hash, COALESCE(locked_until > now(), false) AS locked, \
                disabled_at IS NOT NULL AS disabled \
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
    sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Accounts that can sign in, oldest first.
pub async fn list_users(db: &PgPool) -> Result<Vec<User>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users \
         WHERE password_hash IS NOT NULL ORDER BY created_at, id"
    ))
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
        "WITH used AS ( \
             UPDATE refresh_tokens t SET used_at = now() FROM users u \
             WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.revoked_at IS NULL \
               AND t.expires_at > now() AND u.id = t.user_id AND u.disabled_at IS NULL \
             RETURNING t.user_id, u.role, t.family_id \
         ), seen AS ( \
             UPDATE sign_ins s SET last_seen_at = now() FROM used WHERE s.id = used.family_id \
         ) \
         SELECT user_id, role, family_id FROM used",
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
         WHERE t.token_hash = $1 AND t.used_at IS NOT NULL AND u.disabled_at IS NULL",
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

/// Theft detected: ends the sign-in and every refresh token of it (its access tokens are
/// refused within SIGN_IN_CHECK_SECS).
async fn revoke_family(db: &PgPool, family: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH s AS (UPDATE sign_ins SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL) \
         UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family)
    .execute(db)
    .await?;
    Ok(())
}

/// The owner and sign-in of a refresh token (used or not), for sign-out.
pub async fn refresh_token_sign_in(
    db: &PgPool,
    hash: &[u8],
) -> Result<Option<(Uuid, Uuid)>, sqlx::Error> {
    sqlx::query_as("SELECT user_id, family_id FROM refresh_tokens WHERE token_hash = $1")
        .bind(hash)
        .fetch_optional(db)
        .await
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
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND u.disabled_at IS NULL \
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

// --- self-service and administration ---------------------------------------------------------

/// Sets (or with `None` clears) the display name; the updated user.
pub async fn set_display_name(
    db: &PgPool,
    user: Uuid,
    name: Option<&str>,
) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE users SET display_name = $2 WHERE id = $1 RETURNING {USER_COLUMNS}"
    ))
    .bind(user)
    .bind(name)
    .fetch_optional(db)
    .await
}

/// The stored password hash of an account (`None`: no such account or no password).
pub async fn password_hash(db: &PgPool, user: Uuid) -> Result<Option<String>, sqlx::Error> {
    let hash: Option<Option<String>> =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(user)
            .fetch_optional(db)
            .await?;
    Ok(hash.flatten())
}

/// Replaces the password and clears any lockout.
pub async fn set_password(db: &PgPool, user: Uuid, hash: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE users SET password_hash = $2, failed_logins = 0, failures_since = NULL, \
         locked_until = NULL WHERE id = $1",
    )
    .bind(user)
    .bind(hash)
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Disables (revoking every API key at once) or enables an account; `false` when there is no
/// such account with a password. Sign-ins are ended by the caller (`sign_ins::revoke`).
pub async fn set_disabled(db: &PgPool, user: Uuid, disabled: bool) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE users SET disabled_at = CASE WHEN $2 THEN COALESCE(disabled_at, now()) END \
         WHERE id = $1 AND password_hash IS NOT NULL",
    )
    .bind(user)
    .bind(disabled)
    .execute(&mut *tx)
    .await?;
    if disabled {
        sqlx::query(
            "UPDATE api_keys SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(user)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(done.rows_affected() > 0)
}

/// Stores a reset link's hash, replacing the account's earlier unused ones; its expiry.
pub async fn create_password_reset(
    db: &PgPool,
    user: Uuid,
    hash: &[u8],
    ttl_secs: u64,
) -> Result<DateTime<Utc>, sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM password_resets WHERE user_id = $1 AND used_at IS NULL")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    let expires: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO password_resets (id, user_id, token_hash, expires_at) \
         VALUES ($1, $2, $3, now() + make_interval(secs => $4)) RETURNING expires_at",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(hash)
    .bind(ttl_secs as f64)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(expires)
}

/// Uses a reset link (once: the update is the check); the account it resets.
pub async fn use_password_reset(db: &PgPool, hash: &[u8]) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE password_resets SET used_at = now() \
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id",
    )
    .bind(hash)
    .fetch_optional(db)
    .await
}

/// Deletes the account row; everything it owns goes with it (ON DELETE CASCADE: chats,
/// jobs, keys, sign-ins, files' rows, collections, usage).
pub async fn delete_user(db: &PgPool, user: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(user)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}
