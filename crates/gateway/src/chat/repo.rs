//! All chat SQL: sessions, messages, search, and the conversation storage the generate relay
//! uses (`load_context`, `store_user_turn`, `store_assistant_turn`).
//!
//! Every query is scoped by the caller's user id: a session of another user is "not found"
//! (`None` / `false`). Functions return domain results ([`RepoResult`]); the route layer maps
//! them to the HTTP envelope.
//! Ordering of messages is `(created_at, seq)`; see
//! `migrations/20261123002000_chat_order_counts_search.sql` for why that order is stable.

use chrono::{DateTime, Utc};
use common::schemas::chat_limits::DEFAULT_SESSION_TITLE;
use common::schemas::limits::MESSAGES_MAX;
use common::schemas::{
    ChatMessageOut, ChatSearchHit, ChatSessionDetail, ChatSessionOut, ChatTurn, Role,
    SessionCursor, Usage,
};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use crate::chat::{snippet, title_from_message};

/// What can go wrong below the routes: the database, or a row the schema should not allow.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("unexpected data in the database: {0}")]
    Corrupt(String),
}

pub type RepoResult<T> = Result<T, RepoError>;

/// Database errors keep their own mapping (503 when the pool is exhausted or the server
/// unreachable); corrupt rows are a generic 500 with the cause in the log.
impl From<RepoError> for common::AppError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::Database(e) => e.into(),
            RepoError::Corrupt(message) => Self::internal(message),
        }
    }
}

/// The columns of a `ChatSessionOut`, in [`SessionRow`] order.
macro_rules! session_columns {
    () => {
        "id, user_id, title, system_prompt, created_at, updated_at, message_count::bigint AS message_count"
    };
}

/// The columns of a `ChatMessageOut`, in [`MessageRow`] order.
macro_rules! message_columns {
    () => {
        "id, session_id, role::text AS role, content, meta, created_at"
    };
}

#[derive(Debug, FromRow)]
struct SessionRow {
    id: Uuid,
    user_id: Uuid,
    title: String,
    system_prompt: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    message_count: i64,
}

impl From<SessionRow> for ChatSessionOut {
    fn from(r: SessionRow) -> Self {
        Self {
            id: r.id,
            user_id: r.user_id,
            title: r.title,
            system_prompt: r.system_prompt,
            created_at: r.created_at,
            updated_at: r.updated_at,
            message_count: r.message_count,
        }
    }
}

#[derive(Debug, FromRow)]
struct MessageRow {
    id: Uuid,
    session_id: Uuid,
    role: String,
    content: String,
    meta: Option<Value>,
    created_at: DateTime<Utc>,
}

impl TryFrom<MessageRow> for ChatMessageOut {
    type Error = RepoError;
    fn try_from(r: MessageRow) -> RepoResult<Self> {
        Ok(Self {
            id: r.id,
            session_id: r.session_id,
            role: parse_role(&r.role)?,
            content: r.content,
            meta: r.meta,
            created_at: r.created_at,
        })
    }
}

/// Roles are constrained by a CHECK in the schema; anything else is a broken database.
fn parse_role(role: &str) -> RepoResult<Role> {
    match role {
        "user" => Ok(Role::User),
        "assistant" => Ok(Role::Assistant),
        "system" => Ok(Role::System),
        other => Err(RepoError::Corrupt(format!("unknown chat role {other:?}"))),
    }
}

/// Creates a session; `created_at == updated_at` (both the transaction's `now()`).
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn create_session(
    db: &PgPool,
    user_id: Uuid,
    title: &str,
    system_prompt: Option<&str>,
) -> RepoResult<ChatSessionOut> {
    let row: SessionRow = sqlx::query_as(concat!(
        "INSERT INTO chat_sessions (id, user_id, title, system_prompt) VALUES ($1, $2, $3, $4) RETURNING ",
        session_columns!()
    ))
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(title)
    .bind(system_prompt)
    .fetch_one(db)
    .await?;
    Ok(row.into())
}

/// The caller's sessions, most recently updated first, at most `limit`, starting after
/// `cursor`. One range of `ix_chat_sessions_user_updated`; counts come from the maintained
/// `message_count` column, not from scanning messages.
#[tracing::instrument(skip_all, fields(user_id = %user_id, limit))]
pub async fn list_sessions(
    db: &PgPool,
    user_id: Uuid,
    limit: i64,
    cursor: Option<SessionCursor>,
) -> RepoResult<Vec<ChatSessionOut>> {
    let rows: Vec<SessionRow> = match cursor {
        None => {
            sqlx::query_as(concat!(
                "SELECT ",
                session_columns!(),
                " FROM chat_sessions WHERE user_id = $1 ORDER BY updated_at DESC, id DESC LIMIT $2"
            ))
            .bind(user_id)
            .bind(limit)
            .fetch_all(db)
            .await?
        }
        Some(cursor) => {
            // Without an id the cursor means "strictly older than updated_at": the nil uuid
            // sorts before every id, so the row comparison excludes the whole timestamp.
            sqlx::query_as(concat!(
                "SELECT ",
                session_columns!(),
                " FROM chat_sessions WHERE user_id = $1 AND (updated_at, id) < ($2, $3) \
                 ORDER BY updated_at DESC, id DESC LIMIT $4"
            ))
            .bind(user_id)
            .bind(cursor.updated_at)
            .bind(cursor.id.unwrap_or(Uuid::nil()))
            .bind(limit)
            .fetch_all(db)
            .await?
        }
    };
    Ok(rows.into_iter().map(Into::into).collect())
}

/// One session with all its messages in order; `None` when it is not the caller's.
#[tracing::instrument(skip_all, fields(session_id = %session_id))]
pub async fn get_session(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
) -> RepoResult<Option<ChatSessionDetail>> {
    let Some(row): Option<SessionRow> = sqlx::query_as(concat!(
        "SELECT ",
        session_columns!(),
        " FROM chat_sessions WHERE id = $1 AND user_id = $2"
    ))
    .bind(session_id)
    .bind(user_id)
    .fetch_optional(db)
    .await?
    else {
        return Ok(None);
    };
    let messages: Vec<MessageRow> = sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        " FROM chat_messages WHERE session_id = $1 ORDER BY created_at, seq"
    ))
    .bind(session_id)
    .fetch_all(db)
    .await?;
    let messages = messages
        .into_iter()
        .map(ChatMessageOut::try_from)
        .collect::<RepoResult<Vec<_>>>()?;
    let mut session = ChatSessionOut::from(row);
    // The count of exactly what is returned (a concurrent append may land between the reads).
    session.message_count = i64::try_from(messages.len()).unwrap_or(i64::MAX);
    Ok(Some(ChatSessionDetail { session, messages }))
}

/// Whether the session exists and is the caller's.
#[tracing::instrument(skip_all, fields(session_id = %session_id))]
pub async fn session_exists(db: &PgPool, user_id: Uuid, session_id: Uuid) -> RepoResult<bool> {
    let found: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM chat_sessions WHERE id = $1 AND user_id = $2")
            .bind(session_id)
            .bind(user_id)
            .fetch_optional(db)
            .await?;
    Ok(found.is_some())
}

/// Applies the non-null fields. `updated_at` advances only when a value actually changes.
/// Returns the session with its real message count (the reference always said 0).
#[tracing::instrument(skip_all, fields(session_id = %session_id))]
pub async fn update_session(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    title: Option<&str>,
    system_prompt: Option<&str>,
) -> RepoResult<Option<ChatSessionOut>> {
    let row: Option<SessionRow> = sqlx::query_as(concat!(
        "UPDATE chat_sessions SET \
             title = COALESCE($3, title), \
             system_prompt = COALESCE($4, system_prompt), \
             updated_at = CASE \
                 WHEN (COALESCE($3, title), COALESCE($4, system_prompt)) IS DISTINCT FROM (title, system_prompt) \
                 THEN clock_timestamp() ELSE updated_at END \
         WHERE id = $1 AND user_id = $2 RETURNING ",
        session_columns!()
    ))
    .bind(session_id)
    .bind(user_id)
    .bind(title)
    .bind(system_prompt)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Into::into))
}

/// Deletes a session and (by cascade) its messages; `false` when it is not the caller's.
#[tracing::instrument(skip_all, fields(session_id = %session_id))]
pub async fn delete_session(db: &PgPool, user_id: Uuid, session_id: Uuid) -> RepoResult<bool> {
    let result = sqlx::query("DELETE FROM chat_sessions WHERE id = $1 AND user_id = $2")
        .bind(session_id)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(result.rows_affected() > 0)
}

/// Appends a message; `None` when the session is not the caller's.
///
/// One statement, hence one transaction: it updates the session row first (bumping
/// `updated_at` and `message_count`, and taking the row lock that serialises appends to the
/// session), then inserts the message with `created_at` equal to the new `updated_at`
/// (`clock_timestamp()`, read after the lock) and the next `seq`. With `auto_title`, a session
/// still titled "New Chat" that has no user message yet is renamed in the same update; once
/// renamed the condition is false, so this happens at most once.
#[tracing::instrument(skip_all, fields(session_id = %session_id, role = role.as_str()))]
pub async fn append_message(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    role: Role,
    content: &str,
    meta: Option<&Value>,
    auto_title: Option<&str>,
) -> RepoResult<Option<ChatMessageOut>> {
    let row: Option<MessageRow> = sqlx::query_as(concat!(
        "WITH session AS ( \
             UPDATE chat_sessions SET \
                 updated_at = clock_timestamp(), \
                 message_count = message_count + 1, \
                 title = CASE \
                     WHEN $7::text IS NOT NULL AND title = $8 AND NOT EXISTS ( \
                         SELECT 1 FROM chat_messages m WHERE m.session_id = $1 AND m.role = 'user') \
                     THEN $7 ELSE title END \
             WHERE id = $1 AND user_id = $2 \
             RETURNING id, updated_at \
         ) \
         INSERT INTO chat_messages (id, session_id, role, content, meta, created_at) \
         SELECT $3, session.id, $4, $5, $6, session.updated_at FROM session \
         RETURNING ",
        message_columns!()
    ))
    .bind(session_id)
    .bind(user_id)
    .bind(Uuid::now_v7())
    .bind(role.as_str())
    .bind(content)
    .bind(meta)
    .bind(auto_title)
    .bind(DEFAULT_SESSION_TITLE)
    .fetch_optional(db)
    .await?;
    row.map(ChatMessageOut::try_from).transpose()
}

/// Removes message `message_id` and every later message of the session, for "regenerate"
/// and "edit and resend": the new turn then replaces them instead of piling up after them.
/// `Ok(false)` when the session is not the caller's or the message is not in it.
///
/// Locks the session row first (as appends do), so the removal and the message count stay
/// consistent with concurrent appends.
#[tracing::instrument(skip_all, fields(session_id = %session_id, message_id = %message_id))]
pub async fn truncate_from(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    message_id: Uuid,
) -> RepoResult<bool> {
    let mut tx = db.begin().await?;
    let owned: Option<(Uuid,)> =
        sqlx::query_as("SELECT id FROM chat_sessions WHERE id = $1 AND user_id = $2 FOR UPDATE")
            .bind(session_id)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
    if owned.is_none() {
        return Ok(false);
    }
    let removed: Option<i64> = sqlx::query_scalar(
        "WITH target AS ( \
             SELECT created_at, seq FROM chat_messages WHERE id = $2 AND session_id = $1 \
         ), gone AS ( \
             DELETE FROM chat_messages m USING target \
             WHERE m.session_id = $1 AND (m.created_at, m.seq) >= (target.created_at, target.seq) \
             RETURNING 1 \
         ) \
         SELECT CASE WHEN EXISTS (SELECT 1 FROM target) THEN (SELECT count(*) FROM gone) END",
    )
    .bind(session_id)
    .bind(message_id)
    .fetch_one(&mut *tx)
    .await?;
    let Some(removed) = removed else {
        return Ok(false);
    };
    sqlx::query(
        "UPDATE chat_sessions SET message_count = message_count - $2, updated_at = clock_timestamp() \
         WHERE id = $1",
    )
    .bind(session_id)
    .bind(i32::try_from(removed).unwrap_or(i32::MAX))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Full-text search over the caller's messages, best `ts_rank_cd` first.
///
/// The 1..=`limit` best matches are found first (GIN index, `websearch_to_tsquery`), and only
/// for them is the (comparatively expensive) `ts_headline` snippet computed; see
/// [`snippet`] for how the snippet is made HTML-safe.
#[tracing::instrument(skip_all, fields(user_id = %user_id, limit))]
pub async fn search_messages(
    db: &PgPool,
    user_id: Uuid,
    q: &str,
    limit: i64,
) -> RepoResult<Vec<ChatSearchHit>> {
    #[derive(FromRow)]
    struct HitRow {
        session_id: Uuid,
        session_title: String,
        message_id: Uuid,
        role: String,
        snippet: String,
        created_at: DateTime<Utc>,
        rank: f32,
    }
    let rows: Vec<HitRow> = sqlx::query_as(
        "WITH query AS (SELECT websearch_to_tsquery('english', $2) AS q), \
         hits AS ( \
             SELECT m.id, m.session_id, s.title, m.role, m.content, m.created_at, \
                    ts_rank_cd(m.search, query.q) AS rank, query.q \
             FROM query, chat_messages m JOIN chat_sessions s ON s.id = m.session_id \
             WHERE s.user_id = $1 AND m.search @@ query.q \
             ORDER BY rank DESC, m.created_at DESC, m.id \
             LIMIT $3 \
         ) \
         SELECT session_id, title AS session_title, id AS message_id, role::text AS role, \
                ts_headline('english', translate(content, $4, ''), q, $5) AS snippet, \
                created_at, rank \
         FROM hits ORDER BY rank DESC, created_at DESC, id",
    )
    .bind(user_id)
    .bind(q)
    .bind(limit)
    .bind(snippet::markers())
    .bind(snippet::headline_options())
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(ChatSearchHit {
                session_id: r.session_id,
                session_title: r.session_title,
                message_id: r.message_id,
                role: parse_role(&r.role)?,
                snippet: snippet::render(&r.snippet),
                created_at: r.created_at,
                rank: r.rank,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Conversation storage for generate/stream with `session_id`.

/// What the model is given from a session: its system prompt and the newest earlier turns that
/// fit the budget, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionContext {
    pub system_prompt: Option<String>,
    pub turns: Vec<ChatTurn>,
}

/// `meta` of an assistant turn stored by the relay.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AssistantMeta {
    /// The model that answered (the fallback, if used); `None` if unknown (no answer started).
    pub model: Option<String>,
    /// From the request reaching the gateway to the end of the answer.
    pub latency_ms: f64,
    /// Time to first token (streams); `None` for sync requests or when no token came.
    pub ttft_ms: Option<f64>,
    pub usage: Option<Usage>,
    pub finish_reason: Option<String>,
    /// True when the client went away mid-stream and this is the partial answer.
    pub stopped: bool,
    /// Set when generation failed; the content is whatever arrived before.
    pub error: Option<String>,
}

/// Loads the context for a generation in `session_id`: its system prompt and earlier turns,
/// newest kept and oldest dropped first once their total length exceeds `budget_chars` code
/// points (and at most `MESSAGES_MAX` turns, the model service's limit). Empty turns (an answer
/// stopped before its first token) are skipped. Call it *before* [`store_user_turn`], so the
/// new prompt is not part of its own context. `None` when the session is not the caller's.
#[tracing::instrument(skip_all, fields(session_id = %session_id, budget_chars))]
pub async fn load_context(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    budget_chars: usize,
) -> RepoResult<Option<SessionContext>> {
    let budget = i64::try_from(budget_chars).unwrap_or(i64::MAX);
    let max_turns = i64::try_from(MESSAGES_MAX).unwrap_or(i64::MAX);
    // The window sums lengths newest first; the running sum only grows, so the rows within
    // budget are exactly a newest-first prefix. LIMIT stops the index scan early.
    let rows: Vec<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT s.system_prompt, t.role::text, t.content \
         FROM chat_sessions s \
         LEFT JOIN LATERAL ( \
             SELECT role, content, created_at, seq FROM ( \
                 SELECT role, content, created_at, seq, \
                        sum(char_length(content)) OVER (ORDER BY created_at DESC, seq DESC) AS used \
                 FROM chat_messages \
                 WHERE session_id = s.id AND content <> '' \
                 ORDER BY created_at DESC, seq DESC \
                 LIMIT $4 \
             ) newest WHERE used <= $3 \
         ) t ON true \
         WHERE s.id = $1 AND s.user_id = $2 \
         ORDER BY t.created_at, t.seq",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(budget)
    .bind(max_turns)
    .fetch_all(db)
    .await?;
    let Some((system_prompt, _, _)) = rows.first() else {
        return Ok(None);
    };
    let system_prompt = system_prompt.clone().filter(|p| !p.is_empty());
    let mut turns = Vec::with_capacity(rows.len());
    for (_, role, content) in rows {
        if let (Some(role), Some(content)) = (role, content) {
            turns.push(ChatTurn {
                role: parse_role(&role)?,
                content,
            });
        }
    }
    Ok(Some(SessionContext {
        system_prompt,
        turns,
    }))
}

/// Stores the user's prompt in the session (before the model is called) and returns the
/// message id. A session still titled "New Chat" without an earlier user message is titled
/// from this prompt (trimmed, whitespace collapsed, at most 200 code points), once.
/// `None` when the session is not the caller's (e.g. deleted meanwhile).
pub async fn store_user_turn(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    content: &str,
) -> RepoResult<Option<Uuid>> {
    let title = title_from_message(content);
    append_message(
        db,
        user_id,
        session_id,
        Role::User,
        content,
        None,
        title.as_deref(),
    )
    .await
    .map(|m| m.map(|m| m.id))
}

/// Stores the assistant's answer (complete, partial with `meta.stopped`, or failed with
/// `meta.error`) and returns the message id. `meta` is normally an [`AssistantMeta`] (any
/// serializable object, e.g. a `serde_json::Value`, is accepted). `content` may be empty
/// (stopped before the first token); such turns are kept for the record but left out of later
/// contexts. `None` when the session is gone (deleted mid-stream).
pub async fn store_assistant_turn<M: Serialize>(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    content: &str,
    meta: M,
) -> RepoResult<Option<Uuid>> {
    let meta = serde_json::to_value(&meta)
        .map_err(|e| RepoError::Corrupt(format!("assistant meta: {e}")))?;
    append_message(
        db,
        user_id,
        session_id,
        Role::Assistant,
        content,
        Some(&meta),
        None,
    )
    .await
    .map(|m| m.map(|m| m.id))
}
