//! Sign-ins: one row per login (device), named by the `sid` claim of its access tokens and by
//! the family of its refresh tokens. Revoking one ends both: the refresh tokens at once, the
//! access tokens at the next check.
//!
//! Checking the row on every request would cost a query per request, so each gateway keeps
//! what it last read for a sign-in for at most `SIGN_IN_CHECK_SECS` ([`SignInCache`]). A
//! revocation made through this gateway is applied to its cache at once; another replica
//! notices within `SIGN_IN_CHECK_SECS`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::ttl_cache::TtlCache;

/// Longest User-Agent kept.
const USER_AGENT_MAX_CHARS: usize = 300;

/// What each gateway remembers about sign-ins it has checked: live or not.
pub type SignInCache = TtlCache<Uuid, bool>;

impl SignInCache {
    /// Marks sign-ins revoked here, so this gateway refuses their tokens from now on.
    pub fn forget_all(&self, sids: &[Uuid]) {
        for sid in sids {
            self.remember(*sid, false);
        }
    }
}

/// A sign-in as `GET /api/v1/auth/sessions` lists it.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct SignIn {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    /// The last time a token of this sign-in was checked or refreshed (to about a minute).
    pub last_seen_at: DateTime<Utc>,
    /// The browser or client that signed in, as it named itself.
    pub user_agent: Option<String>,
    /// True for the sign-in of the token that made this request.
    #[sqlx(default)]
    pub current: bool,
}

pub async fn create(
    db: &PgPool,
    user: Uuid,
    user_agent: Option<&str>,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    let user_agent = user_agent.map(|ua| ua.chars().take(USER_AGENT_MAX_CHARS).collect::<String>());
    sqlx::query("INSERT INTO sign_ins (id, user_id, user_agent) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(user)
        .bind(user_agent)
        .execute(db)
        .await?;
    Ok(id)
}

/// Whether `sid` is a live sign-in of `user` (not revoked, account not disabled), touching
/// `last_seen_at` at most once a minute.
pub async fn is_live(db: &PgPool, user: Uuid, sid: Uuid) -> Result<bool, sqlx::Error> {
    let live: Option<bool> = sqlx::query_scalar(
        "WITH s AS ( \
             SELECT s.id, s.last_seen_at FROM sign_ins s JOIN users u ON u.id = s.user_id \
             WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND u.disabled_at IS NULL \
         ), touched AS ( \
             UPDATE sign_ins t SET last_seen_at = now() FROM s \
             WHERE t.id = s.id AND s.last_seen_at < now() - interval '1 minute' \
         ) \
         SELECT true FROM s",
    )
    .bind(sid)
    .bind(user)
    .fetch_optional(db)
    .await?;
    Ok(live.unwrap_or(false))
}

/// The user's live sign-ins, most recently seen first.
pub async fn list(
    db: &PgPool,
    user: Uuid,
    current: Option<Uuid>,
) -> Result<Vec<SignIn>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.id, s.created_at, s.last_seen_at, s.user_agent, s.id = $2 AS current \
         FROM sign_ins s \
         WHERE s.user_id = $1 AND s.revoked_at IS NULL \
           AND EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = s.id \
                       AND t.revoked_at IS NULL AND t.expires_at > now()) \
         ORDER BY s.last_seen_at DESC, s.id DESC",
    )
    .bind(user)
    .bind(current)
    .fetch_all(db)
    .await
}

/// Which of the user's sign-ins to end.
#[derive(Debug, Clone, Copy)]
pub enum Revoke {
    One(Uuid),
    All,
    AllBut(Option<Uuid>),
}

/// Ends sign-ins of `user` and their refresh tokens; returns the ids ended.
pub async fn revoke(db: &PgPool, user: Uuid, which: Revoke) -> Result<Vec<Uuid>, sqlx::Error> {
    let (one, keep) = match which {
        Revoke::One(id) => (Some(id), None),
        Revoke::All => (None, None),
        Revoke::AllBut(keep) => (None, keep),
    };
    let mut tx = db.begin().await?;
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE sign_ins SET revoked_at = now() \
         WHERE user_id = $1 AND revoked_at IS NULL \
           AND ($2::uuid IS NULL OR id = $2) AND ($3::uuid IS NULL OR id <> $3) \
         RETURNING id",
    )
    .bind(user)
    .bind(one)
    .bind(keep)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now() \
         WHERE family_id = ANY($1) AND revoked_at IS NULL",
    )
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_cache_answers_only_while_fresh() {
        let cache = SignInCache::new(Duration::from_millis(50));
        let sid = Uuid::new_v4();
        assert_eq!(cache.fresh(&sid), None);
        cache.remember(sid, true);
        assert_eq!(cache.fresh(&sid), Some(true));
        cache.forget_all(&[sid]);
        assert_eq!(cache.fresh(&sid), Some(false));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.fresh(&sid), None, "stale answers are asked again");
    }
}
