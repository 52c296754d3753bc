//! All chat SQL: sessions, messages, search, and the conversation storage the generate relay
//! uses (`load_context`, `store_user_turn`, `store_assistant_turn`).
//!
//! Every query is scoped by the caller's user id: a session of another user is "not found"
//! (`None` / `false`). Functions return domain results ([`RepoResult`]); the route layer maps
//! them to the HTTP envelope.
//! Messages form a tree (`parent_id`, `depth`); a session shows its active path, from the
//! first message to `chat_sessions.active_leaf_id` (see
//! `migrations/20261129050000_chat_message_tree.sql`). Siblings are ordered by
//! `(created_at, seq)`; see `migrations/20261123002000_chat_order_counts_search.sql` for why
//! that order is stable.

use chrono::{DateTime, Utc};
use common::schemas::chat_limits::DEFAULT_SESSION_TITLE;
use common::schemas::limits::MESSAGES_MAX;
use common::schemas::{
    ChatMessageOut, ChatSearchHit, ChatSessionDetail, ChatSessionImport, ChatSessionOut, ChatTurn,
    KnowledgeSettings, MessageFeedback, Role, SessionCursor, SessionSettingsUpdate, Source, Usage,
};

/// A chat's knowledge as stored: NULL for none (empty lists clear it).
fn stored_knowledge(
    k: Option<&KnowledgeSettings>,
) -> Option<sqlx::types::Json<&KnowledgeSettings>> {
    k.filter(|k| !k.is_empty()).map(sqlx::types::Json)
}

/// Filters of the session list (`None`: either).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionFilter {
    pub pinned: Option<bool>,
    pub archived: Option<bool>,
    /// Only the sessions in this folder.
    pub folder_id: Option<Uuid>,
}
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
        "id, user_id, title, system_prompt, created_at, updated_at, message_count::bigint AS message_count, \
         model, temperature, max_tokens::bigint AS max_tokens, pinned, archived, knowledge, folder_id"
    };
}

/// The columns of a `ChatMessageOut` read from `chat_messages m`, in [`MessageRow`] order,
/// with the message's version count and position among its siblings (same parent).
macro_rules! message_columns {
    () => {
        "m.id, m.session_id, m.role::text AS role, m.content, m.meta, m.created_at, m.parent_id, \
         m.feedback_rating, m.feedback_comment, m.feedback_at, \
         CASE WHEN m.parent_id IS NULL \
             THEN (SELECT count(*) FROM chat_messages s WHERE s.session_id = m.session_id AND s.parent_id IS NULL) \
             ELSE (SELECT count(*) FROM chat_messages s WHERE s.parent_id = m.parent_id) END AS sibling_count, \
         CASE WHEN m.parent_id IS NULL \
             THEN (SELECT count(*) FROM chat_messages s WHERE s.session_id = m.session_id AND s.parent_id IS NULL \
                   AND (s.created_at, s.seq) <= (m.created_at, m.seq)) \
             ELSE (SELECT count(*) FROM chat_messages s WHERE s.parent_id = m.parent_id \
                   AND (s.created_at, s.seq) <= (m.created_at, m.seq)) END AS sibling_index"
    };
}

/// A recursive CTE `path(id, depth)`: the active path of session `$1` when it belongs to user
/// `$2` (empty otherwise), leaf to root.
macro_rules! active_path {
    () => {
        "WITH RECURSIVE path AS ( \
             SELECT m.id, m.parent_id, m.depth FROM chat_sessions s \
             JOIN chat_messages m ON m.id = s.active_leaf_id AND m.session_id = s.id \
             WHERE s.id = $1 AND s.user_id = $2 \
             UNION ALL \
             SELECT p.id, p.parent_id, p.depth FROM chat_messages p JOIN path ON p.id = path.parent_id \
         ) "
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
    model: Option<String>,
    temperature: Option<f64>,
    max_tokens: Option<i64>,
    pinned: bool,
    archived: bool,
    knowledge: Option<sqlx::types::Json<KnowledgeSettings>>,
    folder_id: Option<Uuid>,
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
            model: r.model,
            temperature: r.temperature,
            max_tokens: r.max_tokens,
            pinned: r.pinned,
            archived: r.archived,
            knowledge: r.knowledge.map(|k| k.0).unwrap_or_default(),
            folder_id: r.folder_id,
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
    parent_id: Option<Uuid>,
    sibling_count: i64,
    sibling_index: i64,
    feedback_rating: Option<i16>,
    feedback_comment: Option<String>,
    feedback_at: Option<DateTime<Utc>>,
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
            parent_id: r.parent_id,
            sibling_count: r.sibling_count,
            sibling_index: r.sibling_index,
            feedback: match (r.feedback_rating, r.feedback_at) {
                (Some(rating), Some(updated_at)) => Some(MessageFeedback {
                    rating,
                    comment: r.feedback_comment,
                    updated_at,
                }),
                _ => None,
            },
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
    settings: &SessionSettingsUpdate,
) -> RepoResult<ChatSessionOut> {
    create_session_in(db, user_id, title, system_prompt, settings).await
}

async fn create_session_in<'e, E: sqlx::PgExecutor<'e>>(
    db: E,
    user_id: Uuid,
    title: &str,
    system_prompt: Option<&str>,
    settings: &SessionSettingsUpdate,
) -> RepoResult<ChatSessionOut> {
    let row: SessionRow = sqlx::query_as(concat!(
        // A folder that is not the caller's is never attached (the route answers 404 first).
        "INSERT INTO chat_sessions (id, user_id, title, system_prompt, model, temperature, max_tokens, pinned, archived, knowledge, folder_id) \
         VALUES ($1, $2, $3, $4, NULLIF($5, ''), $6, $7, COALESCE($8, false), COALESCE($9, false), $10, \
                 (SELECT f.id FROM chat_folders f WHERE f.id = $11 AND f.user_id = $2)) RETURNING ",
        session_columns!()
    ))
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(title)
    .bind(system_prompt)
    .bind(settings.model.as_deref())
    .bind(settings.temperature)
    .bind(settings.max_tokens.and_then(|n| i32::try_from(n).ok()))
    .bind(settings.pinned)
    .bind(settings.archived)
    .bind(stored_knowledge(settings.knowledge.as_ref()))
    .bind(settings.folder.flatten())
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
    filter: SessionFilter,
) -> RepoResult<Vec<ChatSessionOut>> {
    let rows: Vec<SessionRow> = match cursor {
        None => {
            sqlx::query_as(concat!(
                "SELECT ",
                session_columns!(),
                " FROM chat_sessions WHERE user_id = $1 \
                 AND ($3::bool IS NULL OR pinned = $3) AND ($4::bool IS NULL OR archived = $4) \
                 AND ($5::uuid IS NULL OR folder_id = $5) \
                 ORDER BY updated_at DESC, id DESC LIMIT $2"
            ))
            .bind(user_id)
            .bind(limit)
            .bind(filter.pinned)
            .bind(filter.archived)
            .bind(filter.folder_id)
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
                 AND ($5::bool IS NULL OR pinned = $5) AND ($6::bool IS NULL OR archived = $6) \
                 AND ($7::uuid IS NULL OR folder_id = $7) \
                 ORDER BY updated_at DESC, id DESC LIMIT $4"
            ))
            .bind(user_id)
            .bind(cursor.updated_at)
            .bind(cursor.id.unwrap_or(Uuid::nil()))
            .bind(limit)
            .bind(filter.pinned)
            .bind(filter.archived)
            .bind(filter.folder_id)
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
        active_path!(),
        "SELECT ",
        message_columns!(),
        " FROM path JOIN chat_messages m ON m.id = path.id ORDER BY path.depth"
    ))
    .bind(session_id)
    .bind(user_id)
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

/// The caller's session (its `message_count` is the length of the active path); `None` when
/// it is not the caller's.
#[tracing::instrument(skip_all, fields(session_id = %session_id))]
pub async fn session(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
) -> RepoResult<Option<ChatSessionOut>> {
    let row: Option<SessionRow> = sqlx::query_as(concat!(
        "SELECT ",
        session_columns!(),
        " FROM chat_sessions WHERE id = $1 AND user_id = $2"
    ))
    .bind(session_id)
    .bind(user_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Into::into))
}

/// The depth (1-based position) of `message_id` on the active path of the caller's session;
/// `None` when it is not on it (or the session is not the caller's).
#[tracing::instrument(skip_all, fields(session_id = %session_id))]
pub async fn position_on_active_path(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    message_id: Uuid,
) -> RepoResult<Option<i32>> {
    let depth: Option<i32> = sqlx::query_scalar(concat!(
        active_path!(),
        "SELECT depth FROM path WHERE id = $3"
    ))
    .bind(session_id)
    .bind(user_id)
    .bind(message_id)
    .fetch_optional(db)
    .await?;
    Ok(depth)
}

/// A page of the active path: the `limit` messages just before position `before` (or the
/// last `limit` messages), in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathPage {
    pub limit: i64,
    pub before: Option<i32>,
}

/// Messages read per query by [`stream_active_path`].
const READ_PAGE: usize = 64;

/// The active path of the caller's session (or a page of it), in order, yielded one message at
/// a time. The path's ids are read first (16 bytes a message), then the messages
/// [`READ_PAGE`] at a time, each page with its own short query: between pages no pooled
/// connection is held, so a client that reads the body slowly cannot keep one (a handful of
/// slow readers would otherwise empty the pool for everyone), and memory holds one page.
/// Empty when the session is not the caller's.
pub fn stream_active_path(
    db: PgPool,
    user_id: Uuid,
    session_id: Uuid,
    page: Option<PathPage>,
) -> futures::stream::BoxStream<'static, RepoResult<ChatMessageOut>> {
    Box::pin(async_stream::try_stream! {
        let ids: Vec<Uuid> = match page {
            None => sqlx::query_scalar(concat!(
                active_path!(),
                "SELECT id FROM path ORDER BY depth"
            ))
            .bind(session_id)
            .bind(user_id)
            .fetch_all(&db)
            .await?,
            Some(page) => sqlx::query_scalar(concat!(
                active_path!(),
                "SELECT id FROM ( SELECT id, depth FROM path \
                 WHERE ($3::int IS NULL OR depth < $3) \
                 ORDER BY depth DESC LIMIT $4 ) page ORDER BY depth"
            ))
            .bind(session_id)
            .bind(user_id)
            .bind(page.before)
            .bind(page.limit)
            .fetch_all(&db)
            .await?,
        };
        for chunk in ids.chunks(READ_PAGE) {
            let rows: Vec<MessageRow> = sqlx::query_as(concat!(
                "SELECT ",
                message_columns!(),
                " FROM unnest($1::uuid[]) WITH ORDINALITY AS page(id, ord) \
                 JOIN chat_messages m ON m.id = page.id \
                 JOIN chat_sessions owner ON owner.id = m.session_id AND owner.id = $2 AND owner.user_id = $3 \
                 ORDER BY page.ord"
            ))
            .bind(chunk)
            .bind(session_id)
            .bind(user_id)
            .fetch_all(&db)
            .await?;
            for row in rows {
                yield ChatMessageOut::try_from(row)?;
            }
        }
    })
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

/// Applies the non-null fields (a `model` of `""` clears the model; a `folder` of `Some(None)`
/// takes the chat out of its folder). `updated_at` advances only when a value actually
/// changes, and never for `pinned` / `archived` / the folder alone: filing a chat
/// away is not activity (the sidebar's date groups would move an old chat to "Today"). Returns the session with its real message count (the
/// reference always said 0).
#[tracing::instrument(skip_all, fields(session_id = %session_id))]
pub async fn update_session(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    title: Option<&str>,
    system_prompt: Option<&str>,
    settings: &SessionSettingsUpdate,
) -> RepoResult<Option<ChatSessionOut>> {
    let row: Option<SessionRow> = sqlx::query_as(concat!(
        "UPDATE chat_sessions SET \
             title = COALESCE($3, title), \
             system_prompt = COALESCE($4, system_prompt), \
             model = CASE WHEN $5::text IS NULL THEN model ELSE NULLIF($5, '') END, \
             temperature = COALESCE($6, temperature), \
             max_tokens = COALESCE($7, max_tokens), \
             pinned = COALESCE($8, pinned), \
             archived = COALESCE($9, archived), \
             knowledge = CASE WHEN $10 THEN $11::jsonb ELSE knowledge END, \
             folder_id = CASE WHEN $12 \
                 THEN (SELECT f.id FROM chat_folders f WHERE f.id = $13 AND f.user_id = $2) \
                 ELSE folder_id END, \
             updated_at = CASE \
                 WHEN (COALESCE($3, title), COALESCE($4, system_prompt), \
                       CASE WHEN $5::text IS NULL THEN model ELSE NULLIF($5, '') END, \
                       COALESCE($6, temperature), COALESCE($7, max_tokens), \
                       CASE WHEN $10 THEN $11::jsonb ELSE knowledge END) \
                      IS DISTINCT FROM (title, system_prompt, model, temperature, max_tokens, knowledge) \
                 THEN clock_timestamp() ELSE updated_at END \
         WHERE id = $1 AND user_id = $2 RETURNING ",
        session_columns!()
    ))
    .bind(session_id)
    .bind(user_id)
    .bind(title)
    .bind(system_prompt)
    .bind(settings.model.as_deref())
    .bind(settings.temperature)
    .bind(settings.max_tokens.and_then(|n| i32::try_from(n).ok()))
    .bind(settings.pinned)
    .bind(settings.archived)
    .bind(settings.knowledge.is_some())
    .bind(stored_knowledge(settings.knowledge.as_ref()))
    .bind(settings.folder.is_some())
    .bind(settings.folder.flatten())
    .fetch_optional(db)
    .await?;
    Ok(row.map(Into::into))
}

/// What an import did: made a new session, or found the one the same content made before.
#[derive(Debug, Clone, PartialEq)]
pub enum Imported {
    New(ChatSessionOut),
    Already(ChatSessionOut),
}

impl Imported {
    /// The session, new or found.
    pub fn into_session(self) -> ChatSessionOut {
        match self {
            Self::New(session) | Self::Already(session) => session,
        }
    }
}

/// The caller's session imported from content with this SHA-256, if they still have it.
async fn imported_before(
    db: &PgPool,
    user_id: Uuid,
    sha256: &[u8],
) -> RepoResult<Option<ChatSessionOut>> {
    let row: Option<SessionRow> = sqlx::query_as(concat!(
        "SELECT ",
        session_columns!(),
        " FROM chat_sessions WHERE user_id = $1 AND import_sha256 = $2"
    ))
    .bind(user_id)
    .bind(sha256)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Into::into))
}

/// Imports a session (Sable's JSON export) as a new session of the caller: its messages become
/// one chain in the given order, the last one active. One transaction. Content the caller
/// imported before (same `sha256`, session not deleted since) is not copied again: the earlier
/// session is returned as [`Imported::Already`] (also when two imports race: the unique index
/// on `(user_id, import_sha256)` lets one commit, the other finds it).
#[tracing::instrument(skip_all, fields(user_id = %user_id, messages = import.messages.len()))]
pub async fn import_session(
    db: &PgPool,
    user_id: Uuid,
    import: &ChatSessionImport,
    sha256: Option<&[u8]>,
) -> RepoResult<Imported> {
    // Without a digest (a copy of a shared chat, say) every call makes a new session.
    let Some(sha256) = sha256 else {
        return import_new_session(db, user_id, import, None)
            .await
            .map(Imported::New);
    };
    if let Some(existing) = imported_before(db, user_id, sha256).await? {
        return Ok(Imported::Already(existing));
    }
    match import_new_session(db, user_id, import, Some(sha256)).await {
        Err(RepoError::Database(sqlx::Error::Database(e))) if e.is_unique_violation() => {
            match imported_before(db, user_id, sha256).await? {
                Some(existing) => Ok(Imported::Already(existing)),
                None => Err(RepoError::Corrupt(
                    "an import collided with one that is gone".into(),
                )),
            }
        }
        other => other.map(Imported::New),
    }
}

async fn import_new_session(
    db: &PgPool,
    user_id: Uuid,
    import: &ChatSessionImport,
    sha256: Option<&[u8]>,
) -> RepoResult<ChatSessionOut> {
    let mut tx = db.begin().await?;
    let title = match import.title.as_deref() {
        None | Some("") => DEFAULT_SESSION_TITLE,
        Some(title) => title,
    };
    let mut session = create_session_in(
        &mut *tx,
        user_id,
        title,
        import.system_prompt.as_deref(),
        &import.settings(),
    )
    .await?;
    let n = import.messages.len();
    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    let parents: Vec<Option<Uuid>> = std::iter::once(None)
        .chain(ids.iter().copied().map(Some))
        .take(n)
        .collect();
    let roles: Vec<&str> = import.messages.iter().map(|m| m.role.as_str()).collect();
    let contents: Vec<&str> = import.messages.iter().map(|m| m.content.as_str()).collect();
    let metas: Vec<Option<Value>> = import.messages.iter().map(|m| m.meta.clone()).collect();
    // One statement; rows go in in their order (seq follows ORDER BY ord).
    sqlx::query(
        "INSERT INTO chat_messages (id, session_id, role, content, meta, created_at, parent_id, depth) \
         SELECT id, $1, role, content, meta, clock_timestamp(), parent_id, ord::int \
         FROM unnest($2::uuid[], $3::text[], $4::text[], $5::jsonb[], $6::uuid[]) \
              WITH ORDINALITY AS t(id, role, content, meta, parent_id, ord) \
         ORDER BY ord",
    )
    .bind(session.id)
    .bind(&ids)
    .bind(&roles)
    .bind(&contents)
    .bind(&metas)
    .bind(&parents)
    .execute(&mut *tx)
    .await?;
    let count = i32::try_from(n).unwrap_or(i32::MAX);
    let updated: Option<DateTime<Utc>> = sqlx::query_scalar(
        "UPDATE chat_sessions SET active_leaf_id = $2, message_count = $3, import_sha256 = $4, \
             updated_at = clock_timestamp() WHERE id = $1 RETURNING updated_at",
    )
    .bind(session.id)
    .bind(ids.last())
    .bind(count)
    .bind(sha256)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    session.message_count = i64::from(count);
    if let Some(updated) = updated {
        session.updated_at = updated;
    }
    Ok(session)
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

/// Where a new message goes in the session's tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parent {
    /// After the active leaf (a plain append: the conversation goes on).
    ActiveLeaf,
    /// Below this message of the session (an answer to a given user turn).
    Message(Uuid),
}

/// Appends a message after the session's active leaf and makes it the active leaf; `None` when
/// the session is not the caller's. See [`append_message_at`].
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
    append_message_at(
        db,
        user_id,
        session_id,
        Parent::ActiveLeaf,
        role,
        content,
        meta,
        auto_title,
    )
    .await
}

/// Appends a message below `parent` and makes it the session's active leaf (so the active path
/// ends with it and `message_count` is its depth); `None` when the session is not the
/// caller's. A parent that is not (or no longer) in the session makes a first message.
///
/// One transaction: the session row is locked first (`FOR UPDATE`, which serialises appends to
/// the session), then one statement bumps `updated_at` and inserts the message with
/// `created_at` equal to the new `updated_at` (`clock_timestamp()`, read after the lock) and the
/// next `seq`. With `auto_title`, a session still titled "New Chat" that has no user message
/// yet is renamed in the same update; once renamed the condition is false, so this happens at
/// most once.
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip_all, fields(session_id = %session_id, role = role.as_str()))]
pub async fn append_message_at(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    parent: Parent,
    role: Role,
    content: &str,
    meta: Option<&Value>,
    auto_title: Option<&str>,
) -> RepoResult<Option<ChatMessageOut>> {
    let mut tx = db.begin().await?;
    let Some(active): Option<Option<Uuid>> = sqlx::query_scalar(
        "SELECT active_leaf_id FROM chat_sessions WHERE id = $1 AND user_id = $2 FOR UPDATE",
    )
    .bind(session_id)
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    let wanted = match parent {
        Parent::ActiveLeaf => active,
        Parent::Message(id) => Some(id),
    };
    let parent: Option<(Uuid, i32)> = match wanted {
        Some(id) => {
            sqlx::query_as("SELECT id, depth FROM chat_messages WHERE id = $1 AND session_id = $2")
                .bind(id)
                .bind(session_id)
                .fetch_optional(&mut *tx)
                .await?
        }
        None => None,
    };
    let depth = parent.map_or(1, |(_, depth)| depth.saturating_add(1));
    let row: Option<MessageRow> = sqlx::query_as(
        "WITH session AS ( \
             UPDATE chat_sessions SET \
                 updated_at = clock_timestamp(), \
                 message_count = $10, \
                 active_leaf_id = $3, \
                 title = CASE \
                     WHEN $7::text IS NOT NULL AND title = $8 AND NOT EXISTS ( \
                         SELECT 1 FROM chat_messages m WHERE m.session_id = $1 AND m.role = 'user') \
                     THEN $7 ELSE title END \
             WHERE id = $1 AND user_id = $2 \
             RETURNING id, updated_at \
         ) \
         INSERT INTO chat_messages (id, session_id, role, content, meta, created_at, parent_id, depth) \
         SELECT $3, session.id, $4, $5, $6, session.updated_at, $9, $10 FROM session \
         RETURNING id, session_id, role::text AS role, content, meta, created_at, parent_id, \
                   feedback_rating, feedback_comment, feedback_at, \
                   0::bigint AS sibling_count, 0::bigint AS sibling_index",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(Uuid::now_v7())
    .bind(role.as_str())
    .bind(content)
    .bind(meta)
    .bind(auto_title)
    .bind(DEFAULT_SESSION_TITLE)
    .bind(parent.map(|(id, _)| id))
    .bind(depth)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(mut row) = row else {
        return Ok(None);
    };
    // The new message is the newest of its siblings.
    let siblings: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM chat_messages \
         WHERE session_id = $1 AND parent_id IS NOT DISTINCT FROM $2",
    )
    .bind(session_id)
    .bind(row.parent_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    row.sibling_count = siblings;
    row.sibling_index = siblings;
    ChatMessageOut::try_from(row).map(Some)
}

/// Moves the session's active leaf to the parent of `message_id`, so that the next message
/// becomes a new version (sibling) of it: "edit and resend" and "regenerate" with
/// `replace_from_message_id`. Nothing is deleted; the old versions stay reachable with
/// [`activate`]. `Ok(false)` when the session is not the caller's or the message is not in it.
#[tracing::instrument(skip_all, fields(session_id = %session_id, message_id = %message_id))]
pub async fn rewind_to_parent_of(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    message_id: Uuid,
) -> RepoResult<bool> {
    let result = sqlx::query(
        "UPDATE chat_sessions s SET \
             active_leaf_id = m.parent_id, \
             message_count = m.depth - 1, \
             updated_at = clock_timestamp() \
         FROM chat_messages m \
         WHERE s.id = $1 AND s.user_id = $2 AND m.id = $3 AND m.session_id = s.id",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(message_id)
    .execute(db)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// Makes `message_id`'s branch the active path: the active leaf becomes the newest leaf below
/// that message (the message itself when it has no replies). `Ok(false)` when the session is
/// not the caller's or the message is not in it.
#[tracing::instrument(skip_all, fields(session_id = %session_id, message_id = %message_id))]
pub async fn activate(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    message_id: Uuid,
) -> RepoResult<bool> {
    let result = sqlx::query(
        "WITH RECURSIVE below AS ( \
             SELECT m.id, m.depth, m.created_at, m.seq FROM chat_messages m \
             JOIN chat_sessions s ON s.id = m.session_id \
             WHERE m.id = $3 AND m.session_id = $1 AND s.user_id = $2 \
             UNION ALL \
             SELECT c.id, c.depth, c.created_at, c.seq FROM chat_messages c JOIN below ON c.parent_id = below.id \
         ), leaf AS ( \
             SELECT id, depth FROM below \
             WHERE NOT EXISTS (SELECT 1 FROM chat_messages c WHERE c.parent_id = below.id) \
             ORDER BY created_at DESC, seq DESC LIMIT 1 \
         ) \
         UPDATE chat_sessions s SET active_leaf_id = leaf.id, message_count = leaf.depth \
         FROM leaf WHERE s.id = $1 AND s.user_id = $2",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(message_id)
    .execute(db)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// The ids of every version of `message_id` — itself and its siblings (the messages with the
/// same parent, or the session's first messages) — oldest first, the order of `sibling_index`.
/// This is what the "‹ 2 / 3 ›" switcher needs to activate another version. `None` when the
/// session is not the caller's or the message is not in it.
#[tracing::instrument(skip_all, fields(session_id = %session_id, message_id = %message_id))]
pub async fn versions_of(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    message_id: Uuid,
) -> RepoResult<Option<Vec<Uuid>>> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT v.id FROM chat_messages m \
         JOIN chat_sessions s ON s.id = m.session_id AND s.user_id = $2 \
         JOIN chat_messages v ON v.session_id = m.session_id \
              AND v.parent_id IS NOT DISTINCT FROM m.parent_id \
         WHERE m.id = $3 AND m.session_id = $1 \
         ORDER BY v.created_at, v.seq",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(message_id)
    .fetch_all(db)
    .await?;
    Ok(Some(ids).filter(|ids| !ids.is_empty()))
}

/// A message's role, `meta` and parent.
pub type MessageSummary = (Role, Option<Value>, Option<Uuid>);

/// A message of the caller's session: its role, `meta` and parent. `None` when the session is
/// not the caller's or the message is not in it.
#[tracing::instrument(skip_all, fields(session_id = %session_id, message_id = %message_id))]
pub async fn message_in_session(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    message_id: Uuid,
) -> RepoResult<Option<MessageSummary>> {
    let row: Option<(String, Option<Value>, Option<Uuid>)> = sqlx::query_as(
        "SELECT m.role::text, m.meta, m.parent_id FROM chat_messages m \
         JOIN chat_sessions s ON s.id = m.session_id \
         WHERE m.id = $3 AND m.session_id = $1 AND s.user_id = $2",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(message_id)
    .fetch_optional(db)
    .await?;
    row.map(|(role, meta, parent)| Ok((parse_role(&role)?, meta, parent)))
        .transpose()
}

/// One message of the caller's session, as the session shows it; `None` when the session is
/// not the caller's or the message is not in it.
#[tracing::instrument(skip_all, fields(session_id = %session_id, message_id = %message_id))]
pub async fn message(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    message_id: Uuid,
) -> RepoResult<Option<ChatMessageOut>> {
    let row: Option<MessageRow> = sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        " FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id \
         WHERE m.id = $3 AND m.session_id = $1 AND s.user_id = $2"
    ))
    .bind(session_id)
    .bind(user_id)
    .bind(message_id)
    .fetch_optional(db)
    .await?;
    row.map(ChatMessageOut::try_from).transpose()
}

/// Sets (`Some((rating, comment))`) or clears (`None`) the feedback on an assistant message of
/// the caller's session. Returns whether such a message was found: `false` for another user's
/// session, a message not in it, or a message that is not an answer (the caller tells them
/// apart). Rating is not activity: the session's `updated_at` does not move.
#[tracing::instrument(skip_all, fields(session_id = %session_id, message_id = %message_id))]
pub async fn set_feedback(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    message_id: Uuid,
    feedback: Option<(i16, Option<&str>)>,
) -> RepoResult<bool> {
    let (rating, comment) = feedback.unzip();
    let updated = sqlx::query(
        "UPDATE chat_messages m SET feedback_rating = $4, feedback_comment = $5, \
             feedback_at = CASE WHEN $4::smallint IS NULL THEN NULL ELSE clock_timestamp() END \
         FROM chat_sessions s \
         WHERE m.id = $3 AND m.session_id = $1 AND s.id = m.session_id AND s.user_id = $2 \
           AND m.role = 'assistant'",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(message_id)
    .bind(rating)
    .bind(comment.flatten())
    .execute(db)
    .await?;
    Ok(updated.rows_affected() > 0)
}

/// Thumbs up and down of one model (`meta.model` of the rated answers; answers without one
/// count under `"unknown"`).
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize, utoipa::ToSchema)]
pub struct ModelFeedback {
    pub model: String,
    pub up: i64,
    pub down: i64,
}

/// Feedback counts per model over every user's answers (for administrators), most rated first.
#[tracing::instrument(skip_all)]
pub async fn feedback_per_model(db: &PgPool) -> RepoResult<Vec<ModelFeedback>> {
    let rows: Vec<ModelFeedback> = sqlx::query_as(
        "SELECT COALESCE(NULLIF(meta->>'model', ''), 'unknown') AS model, \
                count(*) FILTER (WHERE feedback_rating = 1) AS up, \
                count(*) FILTER (WHERE feedback_rating = -1) AS down \
         FROM chat_messages WHERE feedback_rating IS NOT NULL \
         GROUP BY 1 ORDER BY count(*) DESC, 1",
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

/// Appends `content` to message `message_id` (a continued answer) and merges `meta` into its
/// meta (keys of `meta` win); bumps the session's `updated_at`. `None` when the session or the
/// message is gone.
#[tracing::instrument(skip_all, fields(session_id = %session_id, message_id = %message_id))]
pub async fn extend_message<M: Serialize>(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    message_id: Uuid,
    content: &str,
    meta: M,
) -> RepoResult<Option<Uuid>> {
    let meta = serde_json::to_value(&meta)
        .map_err(|e| RepoError::Corrupt(format!("assistant meta: {e}")))?;
    let id: Option<Uuid> = sqlx::query_scalar(
        "WITH session AS ( \
             UPDATE chat_sessions SET updated_at = clock_timestamp() \
             WHERE id = $1 AND user_id = $2 RETURNING id \
         ) \
         UPDATE chat_messages m SET content = m.content || $4, \
             meta = COALESCE(m.meta, '{}'::jsonb) || $5::jsonb \
         FROM session WHERE m.id = $3 AND m.session_id = session.id RETURNING m.id",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(message_id)
    .bind(content)
    .bind(meta)
    .fetch_optional(db)
    .await?;
    Ok(id)
}

/// The first exchange of a session whose active path is exactly one question and its answer.
#[derive(Debug, Clone)]
pub struct FirstExchange {
    pub title: String,
    pub question: String,
    pub answer: String,
    /// The model that answered (the answer's `meta.model`), when recorded.
    pub model: Option<String>,
}

/// The session's title, first question and first answer while the active path is just those
/// two messages (the first answer was just stored); `None` otherwise.
#[tracing::instrument(skip_all, fields(session_id = %session_id))]
pub async fn first_exchange(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
) -> RepoResult<Option<FirstExchange>> {
    let row: Option<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT s.title, q.content, a.content, a.meta->>'model' FROM chat_sessions s \
         JOIN chat_messages a ON a.id = s.active_leaf_id AND a.session_id = s.id \
              AND a.role = 'assistant' AND a.depth = 2 \
         JOIN chat_messages q ON q.id = a.parent_id AND q.role = 'user' \
         WHERE s.id = $1 AND s.user_id = $2",
    )
    .bind(session_id)
    .bind(user_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(title, question, answer, model)| FirstExchange {
        title,
        question,
        answer,
        model,
    }))
}

/// Replaces the session's title with `title` only while it is still `expected` (the automatic
/// one: a rename by the user wins). `updated_at` is left alone. `true` when replaced.
#[tracing::instrument(skip_all, fields(session_id = %session_id))]
pub async fn replace_auto_title(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    expected: &str,
    title: &str,
) -> RepoResult<bool> {
    let result = sqlx::query(
        "UPDATE chat_sessions SET title = $4 WHERE id = $1 AND user_id = $2 AND title = $3",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(expected)
    .bind(title)
    .execute(db)
    .await?;
    Ok(result.rows_affected() > 0)
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
    // MATERIALIZED: the statement is prepared once per connection, and from its sixth run
    // Postgres may use a generic plan in which an inlined `query` re-parses $2 for every
    // matched message (61 ms against 43 ms for 12,000 matches of 60,000 in EXPLAIN ANALYZE).
    let rows: Vec<HitRow> = sqlx::query_as(
        "WITH query AS MATERIALIZED (SELECT websearch_to_tsquery('english', $2) AS q), \
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
    .bind(super::search_query::websearch_input(q))
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

/// Marks the sources of the caller's answers that come from `file_id` as `deleted: true`
/// (the file was just deleted; the snippets stay). Returns how many answers changed.
#[tracing::instrument(skip_all, fields(file_id = %file_id))]
pub async fn mark_sources_deleted(db: &PgPool, user_id: Uuid, file_id: Uuid) -> RepoResult<u64> {
    let done = sqlx::query(
        "UPDATE chat_messages m SET meta = jsonb_set(m.meta, '{sources}', ( \
             SELECT jsonb_agg(CASE WHEN s->>'file_id' = $2::text \
                                   THEN s || '{\"deleted\": true}'::jsonb ELSE s END ORDER BY i) \
             FROM jsonb_array_elements(m.meta->'sources') WITH ORDINALITY AS t(s, i))) \
         FROM chat_sessions cs \
         WHERE m.session_id = cs.id AND cs.user_id = $1 AND m.role = 'assistant' \
           AND jsonb_typeof(m.meta->'sources') = 'array' \
           AND m.meta->'sources' @> jsonb_build_array(jsonb_build_object('file_id', $2::text))",
    )
    .bind(user_id)
    .bind(file_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

// ---------------------------------------------------------------------------------------------
// Conversation storage for generate/stream with `session_id`.

/// What the model is given from a session: its system prompt and the newest earlier turns that
/// fit the budget, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionContext {
    pub system_prompt: Option<String>,
    pub turns: Vec<ChatTurn>,
    /// The chat's own model, temperature and max_tokens, if set.
    pub model: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<i64>,
    /// The files the chat answers from (empty: none).
    pub knowledge: KnowledgeSettings,
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
    /// What the answer cost in USD at the model's prices (with a providers file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    pub finish_reason: Option<String>,
    /// True when the client went away mid-stream and this is the partial answer.
    pub stopped: bool,
    /// Set when generation failed; the content is whatever arrived before (maybe nothing).
    pub error: Option<AnswerError>,
    /// A grounded answer: the numbered passages it was given (empty when nothing was found).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<Source>>,
    /// A grounded answer: the source numbers it cites.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cited: Option<Vec<u32>>,
}

/// `meta.error` of a failed answer: the failure's class (`PROVIDER_TIMEOUT`, `RATE_LIMITED`…,
/// the codes of the error envelope) and its message, as the client saw them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnswerError {
    pub code: String,
    pub message: String,
}

impl AnswerError {
    /// Code of a failure the gateway itself noticed mid-stream (the model service's connection
    /// broke, stalled or closed early): there is no provider class to report.
    pub const STREAM_INTERRUPTED: &'static str = "STREAM_INTERRUPTED";

    /// Reads the text of an `[ERROR]` event: the model service writes `CODE: message`
    /// (`common::sse`); any other text is the message of a failure of class `fallback`.
    pub fn from_event(text: &str, fallback: &str) -> Self {
        if let Some((code, message)) = text.split_once(": ") {
            let is_code = code.len() >= 3
                && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
                && code.bytes().any(|b| b.is_ascii_uppercase());
            if is_code {
                return Self {
                    code: code.to_owned(),
                    message: message.trim().to_owned(),
                };
            }
        }
        Self {
            code: fallback.to_owned(),
            message: text.trim().to_owned(),
        }
    }
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
    load_context_through(db, user_id, session_id, None, budget_chars).await
}

/// [`load_context`] along the path that ends with `leaf` (a message of the session) instead of
/// the active path; with `None`, the active path.
#[tracing::instrument(skip_all, fields(session_id = %session_id, budget_chars))]
pub async fn load_context_through(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    leaf: Option<Uuid>,
    budget_chars: usize,
) -> RepoResult<Option<SessionContext>> {
    let budget = i64::try_from(budget_chars).unwrap_or(i64::MAX);
    let max_turns = i64::try_from(MESSAGES_MAX).unwrap_or(i64::MAX);
    type Settings = (
        Option<String>,
        Option<String>,
        Option<f64>,
        Option<i32>,
        Option<sqlx::types::Json<KnowledgeSettings>>,
    );
    let Some((system_prompt, model, temperature, max_tokens, knowledge)): Option<Settings> =
        sqlx::query_as(
            "SELECT system_prompt, model, temperature, max_tokens, knowledge FROM chat_sessions \
         WHERE id = $1 AND user_id = $2",
        )
        .bind(session_id)
        .bind(user_id)
        .fetch_optional(db)
        .await?
    else {
        return Ok(None);
    };
    // The active path, leaf first; the window sums lengths newest first, the running sum only
    // grows, so the rows within budget are exactly a newest-first prefix.
    let rows: Vec<(String, String)> = sqlx::query_as(
        "WITH RECURSIVE path AS ( \
             SELECT m.id, m.parent_id, m.depth FROM chat_sessions s \
             JOIN chat_messages m ON m.id = COALESCE($4, s.active_leaf_id) AND m.session_id = s.id \
             WHERE s.id = $1 AND s.user_id = $5 \
             UNION ALL \
             SELECT p.id, p.parent_id, p.depth FROM chat_messages p JOIN path ON p.id = path.parent_id \
         ) \
         SELECT role, content FROM ( \
             SELECT m.role::text AS role, m.content, path.depth, \
                    sum(char_length(m.content)) OVER (ORDER BY path.depth DESC) AS used \
             FROM path JOIN chat_messages m ON m.id = path.id \
             WHERE m.content <> '' \
             ORDER BY path.depth DESC \
             LIMIT $3 \
         ) newest WHERE used <= $2 ORDER BY depth",
    )
    .bind(session_id)
    .bind(budget)
    .bind(max_turns)
    .bind(leaf)
    .bind(user_id)
    .fetch_all(db)
    .await?;
    let system_prompt = system_prompt.filter(|p| !p.is_empty());
    let mut turns = Vec::with_capacity(rows.len());
    for (role, content) in rows {
        turns.push(ChatTurn {
            role: parse_role(&role)?,
            content,
        });
    }
    Ok(Some(SessionContext {
        system_prompt,
        turns,
        model,
        temperature,
        max_tokens: max_tokens.map(i64::from),
        knowledge: knowledge.map(|k| k.0).unwrap_or_default(),
    }))
}

/// The session's knowledge (empty for none); `None` when the session is not the user's.
pub async fn session_knowledge(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
) -> RepoResult<Option<KnowledgeSettings>> {
    let row: Option<(Option<sqlx::types::Json<KnowledgeSettings>>,)> =
        sqlx::query_as("SELECT knowledge FROM chat_sessions WHERE id = $1 AND user_id = $2")
            .bind(session_id)
            .bind(user_id)
            .fetch_optional(db)
            .await?;
    Ok(row.map(|(k,)| k.map(|k| k.0).unwrap_or_default()))
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

/// Stores the assistant's answer below the user turn `parent` (it becomes the active leaf).
/// `None` when the session is gone.
pub async fn store_assistant_reply<M: Serialize>(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    parent: Uuid,
    content: &str,
    meta: M,
) -> RepoResult<Option<Uuid>> {
    store_assistant(
        db,
        user_id,
        session_id,
        Parent::Message(parent),
        content,
        meta,
    )
    .await
}

/// Stores the assistant's answer (complete, partial with `meta.stopped`, or failed with
/// `meta.error`) after the active leaf and returns the message id. `meta` is normally an
/// [`AssistantMeta`] (any serializable object, e.g. a `serde_json::Value`, is accepted).
/// `content` may be empty (stopped before the first token); such turns are kept for the record
/// but left out of later contexts. `None` when the session is gone (deleted mid-stream).
pub async fn store_assistant_turn<M: Serialize>(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    content: &str,
    meta: M,
) -> RepoResult<Option<Uuid>> {
    store_assistant(db, user_id, session_id, Parent::ActiveLeaf, content, meta).await
}

async fn store_assistant<M: Serialize>(
    db: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    parent: Parent,
    content: &str,
    meta: M,
) -> RepoResult<Option<Uuid>> {
    let meta = serde_json::to_value(&meta)
        .map_err(|e| RepoError::Corrupt(format!("assistant meta: {e}")))?;
    append_message_at(
        db,
        user_id,
        session_id,
        parent,
        Role::Assistant,
        content,
        Some(&meta),
        None,
    )
    .await
    .map(|m| m.map(|m| m.id))
}
