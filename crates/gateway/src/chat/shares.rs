//! Read-only share links of chats (issue 25.11): the snapshot a link shows and its SQL.
//!
//! A link's token is 256 random bits (`auth::tokens::random_secret`); only its SHA-256 is
//! stored and looked up, so the table holds no working link and no comparison of secrets
//! happens in the application. The snapshot is taken when sharing: the active path's
//! messages as they were then, with only the parts of `meta` a reader needs (no ids of the
//! owner's files or messages), so later messages, branches and continued answers never show.

use chrono::{DateTime, Utc};
use common::schemas::{ChatMessageOut, Role};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use super::repo::{self, RepoError, RepoResult};

/// One message of a shared chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SharedMessage {
    pub role: Role,
    pub content: String,
    /// The reader's part of the message's `meta`: `model`, `finish_reason`, `stopped`,
    /// `error`, `cited` and `sources` (file name, page, heading and passage only).
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
    #[serde(serialize_with = "common::schemas::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
}

/// A shared chat as stored in `chat_shares.snapshot`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub title: String,
    pub messages: Vec<SharedMessage>,
}

/// `meta` keys a reader of a shared chat gets; everything else (usage, timings, ids) stays.
const PUBLIC_META: [&str; 5] = ["model", "finish_reason", "stopped", "error", "cited"];
/// Keys of a source (`meta.sources[]`) a reader gets: not the owner's file or chunk ids.
const PUBLIC_SOURCE: [&str; 5] = ["n", "filename", "page", "heading", "snippet"];

fn pick(object: &Map<String, Value>, keys: &[&str]) -> Map<String, Value> {
    keys.iter()
        .filter_map(|&k| object.get(k).map(|v| (k.to_owned(), v.clone())))
        .collect()
}

/// The reader's part of a message's `meta` (`None` when nothing is left).
pub fn public_meta(meta: Option<&Value>) -> Option<Value> {
    let meta = meta?.as_object()?;
    let mut out = pick(meta, &PUBLIC_META);
    if let Some(sources) = meta.get("sources").and_then(Value::as_array) {
        let sources = sources
            .iter()
            .filter_map(Value::as_object)
            .map(|s| Value::Object(pick(s, &PUBLIC_SOURCE)))
            .collect();
        out.insert("sources".to_owned(), Value::Array(sources));
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

impl From<ChatMessageOut> for SharedMessage {
    fn from(m: ChatMessageOut) -> Self {
        Self {
            role: m.role,
            meta: public_meta(m.meta.as_ref()),
            content: m.content,
            created_at: m.created_at,
        }
    }
}

/// A new link of the caller's session.
#[derive(Debug, Clone)]
pub struct NewShare {
    pub created_at: DateTime<Utc>,
    pub message_count: usize,
}

/// The live link of a session, if any.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LiveShare {
    pub created_at: DateTime<Utc>,
    pub message_count: i32,
}

/// Shares the caller's session under `digest` (of a fresh token): the active path as it is
/// now. A previous live link of the session stops working. `None` when the session is not the
/// caller's.
#[tracing::instrument(skip_all, fields(session_id = %session_id))]
pub async fn create(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    digest: &[u8],
) -> RepoResult<Option<NewShare>> {
    let Some(session) = repo::session(db, user_id, session_id).await? else {
        return Ok(None);
    };
    let messages: Vec<SharedMessage> =
        repo::stream_active_path(db.clone(), user_id, session_id, None)
            .map_ok(SharedMessage::from)
            .try_collect()
            .await?;
    let message_count = messages.len();
    let snapshot = Snapshot {
        title: session.title,
        messages,
    };
    let mut tx = db.begin().await?;
    revoke_in(&mut *tx, user_id, session_id).await?;
    let created_at: Option<DateTime<Utc>> = sqlx::query_scalar(
        "INSERT INTO chat_shares (id, session_id, token_digest, snapshot) \
         SELECT $1, s.id, $4, $5 FROM chat_sessions s WHERE s.id = $2 AND s.user_id = $3 \
         RETURNING created_at",
    )
    .bind(Uuid::now_v7())
    .bind(session_id)
    .bind(user_id)
    .bind(digest)
    .bind(sqlx::types::Json(&snapshot))
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(created_at.map(|created_at| NewShare {
        created_at,
        message_count,
    }))
}

async fn revoke_in<'e, E: sqlx::PgExecutor<'e>>(
    db: E,
    user_id: Uuid,
    session_id: Uuid,
) -> RepoResult<bool> {
    let done = sqlx::query(
        "UPDATE chat_shares sh SET revoked_at = now() FROM chat_sessions s \
         WHERE sh.session_id = s.id AND s.id = $1 AND s.user_id = $2 AND sh.revoked_at IS NULL",
    )
    .bind(session_id)
    .bind(user_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Ends the live link of the caller's session; `false` when there was none.
#[tracing::instrument(skip_all, fields(session_id = %session_id))]
pub async fn revoke(db: &PgPool, user_id: Uuid, session_id: Uuid) -> RepoResult<bool> {
    revoke_in(db, user_id, session_id).await
}

/// The live link of the caller's session (when it was made, how many messages it shows).
#[tracing::instrument(skip_all, fields(session_id = %session_id))]
pub async fn live(db: &PgPool, user_id: Uuid, session_id: Uuid) -> RepoResult<Option<LiveShare>> {
    Ok(sqlx::query_as(
        "SELECT sh.created_at, jsonb_array_length(sh.snapshot->'messages') AS message_count \
         FROM chat_shares sh JOIN chat_sessions s ON s.id = sh.session_id \
         WHERE s.id = $1 AND s.user_id = $2 AND sh.revoked_at IS NULL",
    )
    .bind(session_id)
    .bind(user_id)
    .fetch_optional(db)
    .await?)
}

/// The snapshot behind a live link, by its token's digest, with when it was shared; `None`
/// for an unknown or revoked token. Needs no caller: the token is the credential.
#[tracing::instrument(skip_all)]
pub async fn by_digest(
    db: &PgPool,
    digest: &[u8],
) -> RepoResult<Option<(Snapshot, DateTime<Utc>)>> {
    let row: Option<(sqlx::types::Json<Value>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT snapshot, created_at FROM chat_shares \
         WHERE token_digest = $1 AND revoked_at IS NULL",
    )
    .bind(digest)
    .fetch_optional(db)
    .await?;
    row.map(|(snapshot, at)| {
        serde_json::from_value(snapshot.0)
            .map(|s| (s, at))
            .map_err(|e| RepoError::Corrupt(format!("share snapshot: {e}")))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_reader_gets_no_ids_usage_or_timings() {
        let meta = json!({
            "model": "mock", "usage": {"total_tokens": 9}, "ttft": 12, "stopped": true,
            "error": {"code": "X", "message": "m"}, "cited": [1],
            "sources": [{"n": 1, "file_id": "f", "chunk_id": "c", "filename": "a.pdf",
                         "page": 2, "heading": null, "snippet": "s", "score": 0.5}],
        });
        assert_eq!(
            public_meta(Some(&meta)),
            Some(json!({
                "model": "mock", "stopped": true, "error": {"code": "X", "message": "m"},
                "cited": [1],
                "sources": [{"n": 1, "filename": "a.pdf", "page": 2, "heading": null, "snippet": "s"}],
            }))
        );
        assert_eq!(public_meta(Some(&json!({"usage": {}}))), None);
        assert_eq!(public_meta(Some(&json!("text"))), None);
        assert_eq!(public_meta(None), None);
    }
}
