//! Every SQL statement on `files`, `collections` and `collection_files` (chunks are in
//! [`super::chunk_repo`]). Every API-side statement is scoped by the owner, so another user's
//! file or collection is not found, exactly like a missing one.

use chrono::{DateTime, Utc};
use common::schemas::{CollectionOut, FileOut, FileStatus};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

const FILE_COLUMNS: &str = "id, filename, content_type, kind, size_bytes, sha256, status, stage,
    error, pages, chunk_count, job_id, created_at, updated_at, ready_at";

#[derive(Debug, sqlx::FromRow)]
struct FileRow {
    id: Uuid,
    filename: String,
    content_type: String,
    kind: String,
    size_bytes: i64,
    sha256: String,
    status: String,
    stage: Option<String>,
    error: Option<String>,
    pages: Option<i32>,
    chunk_count: i32,
    job_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    ready_at: Option<DateTime<Utc>>,
}

impl From<FileRow> for FileOut {
    fn from(r: FileRow) -> Self {
        let status = match r.status.as_str() {
            "pending" => FileStatus::Pending,
            "processing" => FileStatus::Processing,
            "ready" => FileStatus::Ready,
            _ => FileStatus::Failed,
        };
        Self {
            id: r.id,
            filename: r.filename,
            content_type: r.content_type,
            kind: r.kind,
            size_bytes: r.size_bytes,
            sha256: r.sha256,
            status,
            stage: r.stage,
            error: r.error,
            pages: r.pages,
            chunk_count: r.chunk_count,
            job_id: r.job_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
            ready_at: r.ready_at,
            duplicate: false,
        }
    }
}

/// A received upload to record.
#[derive(Debug)]
pub struct NewFile<'a> {
    pub owner: Uuid,
    pub filename: &'a str,
    pub kind: &'a str,
    pub content_type: &'a str,
    pub size: i64,
    pub sha256: &'a str,
    pub blob_key: &'a str,
    pub quota_bytes: i64,
    pub max_attempts: i32,
}

/// What recording an upload did.
#[derive(Debug)]
pub enum Recorded {
    /// A new file and its ingestion job.
    New(FileOut),
    /// The caller already stores these bytes: that file.
    Duplicate(FileOut),
    /// Storing it would pass the quota; nothing was recorded.
    OverQuota { used: i64 },
}

/// Bytes `owner` stores.
pub async fn used_bytes(pool: &PgPool, owner: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(sum(size_bytes), 0)::int8 FROM files WHERE user_id = $1")
        .bind(owner)
        .fetch_one(pool)
        .await
}

/// Records an upload and queues its ingestion, in one transaction under a per-user lock so two
/// concurrent uploads cannot both pass the quota or both store the same bytes.
pub async fn record(pool: &PgPool, new: &NewFile<'_>) -> Result<Recorded, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 23))")
        .bind(new.owner)
        .execute(&mut *tx)
        .await?;
    let existing: Option<FileRow> = sqlx::query_as(&format!(
        "SELECT {FILE_COLUMNS} FROM files WHERE user_id = $1 AND sha256 = $2"
    ))
    .bind(new.owner)
    .bind(new.sha256)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = existing {
        tx.commit().await?;
        let mut file = FileOut::from(row);
        file.duplicate = true;
        return Ok(Recorded::Duplicate(file));
    }
    let used: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(size_bytes), 0)::int8 FROM files WHERE user_id = $1",
    )
    .bind(new.owner)
    .fetch_one(&mut *tx)
    .await?;
    if used.saturating_add(new.size) > new.quota_bytes {
        tx.rollback().await?;
        return Ok(Recorded::OverQuota { used });
    }
    let (file_id, job_id) = (Uuid::now_v7(), Uuid::now_v7());
    let label = format!("Ingest {}", new.filename);
    // The job row first: the file points at it. The insert trigger wakes idle workers at
    // commit.
    sqlx::query(
        "INSERT INTO batch_jobs (id, status, prompts, total_prompts, max_attempts, user_id, name, kind, file_id)
         VALUES ($1, 'pending', $2, 1, $3, $4, left($5, 200), 'ingest', $6)",
    )
    .bind(job_id)
    .bind(Json(vec![label.clone()]))
    .bind(new.max_attempts)
    .bind(new.owner)
    .bind(&label)
    .bind(file_id)
    .execute(&mut *tx)
    .await?;
    let row: FileRow = sqlx::query_as(&format!(
        "INSERT INTO files (id, user_id, filename, content_type, kind, size_bytes, sha256, blob_key, job_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         RETURNING {FILE_COLUMNS}"
    ))
    .bind(file_id)
    .bind(new.owner)
    .bind(new.filename)
    .bind(new.content_type)
    .bind(new.kind)
    .bind(new.size)
    .bind(new.sha256)
    .bind(new.blob_key)
    .bind(job_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Recorded::New(row.into()))
}

pub async fn find(pool: &PgPool, owner: Uuid, id: Uuid) -> Result<Option<FileOut>, sqlx::Error> {
    let row: Option<FileRow> = sqlx::query_as(&format!(
        "SELECT {FILE_COLUMNS} FROM files WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(owner)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Into::into))
}

/// The blob key of the caller's file (for `GET …/content`).
pub async fn blob_of(
    pool: &PgPool,
    owner: Uuid,
    id: Uuid,
) -> Result<Option<(String, String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT blob_key, filename, content_type, size_bytes FROM files WHERE id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(owner)
    .fetch_optional(pool)
    .await
}

/// A page of the caller's files, newest first, and the cursor of the next page.
pub async fn list(
    pool: &PgPool,
    owner: Uuid,
    limit: i64,
    before: Option<Uuid>,
) -> Result<(Vec<FileOut>, Option<Uuid>), sqlx::Error> {
    let rows: Vec<FileRow> = sqlx::query_as(&format!(
        "SELECT {FILE_COLUMNS} FROM files
          WHERE user_id = $1
            AND ($2::uuid IS NULL OR (created_at, id) < (
                 SELECT created_at, id FROM files WHERE id = $2 AND user_id = $1))
          ORDER BY created_at DESC, id DESC
          LIMIT $3"
    ))
    .bind(owner)
    .bind(before)
    .bind(limit + 1)
    .fetch_all(pool)
    .await?;
    page(rows.into_iter().map(FileOut::from).collect(), limit, |f| {
        f.id
    })
}

fn page<T>(
    mut items: Vec<T>,
    limit: i64,
    id: impl Fn(&T) -> Uuid,
) -> Result<(Vec<T>, Option<Uuid>), sqlx::Error> {
    let limit = usize::try_from(limit).unwrap_or(0);
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(id)
    } else {
        None
    };
    Ok((items, next))
}

/// Deletes the caller's file (its chunks and collection memberships go with it, by cascade)
/// and returns its blob key and the file's jobs still pending or running (its ingestion, a
/// re-embed), for the caller to cancel; `None` when it is not theirs.
pub async fn delete(
    pool: &PgPool,
    owner: Uuid,
    id: Uuid,
) -> Result<Option<(String, Vec<Uuid>)>, sqlx::Error> {
    // `batch_jobs.file_id` has no foreign key (a finished job outlives its file), so the
    // active jobs are looked up by it, plus the file's own `job_id` for good measure.
    sqlx::query_as(
        "WITH gone AS (
             DELETE FROM files WHERE id = $1 AND user_id = $2 RETURNING blob_key, job_id)
         SELECT g.blob_key,
                ARRAY(SELECT j.id FROM batch_jobs j
                       WHERE j.user_id = $2 AND j.status IN ('pending', 'running')
                         AND (j.file_id = $1 OR j.id = g.job_id)
                       ORDER BY j.created_at) AS jobs
           FROM gone g",
    )
    .bind(id)
    .bind(owner)
    .fetch_optional(pool)
    .await
}

// ---------------------------------------------------------------------------------------------
// Collections
// ---------------------------------------------------------------------------------------------

#[derive(Debug, sqlx::FromRow)]
struct CollectionRow {
    id: Uuid,
    name: String,
    description: String,
    file_ids: Vec<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<CollectionRow> for CollectionOut {
    fn from(r: CollectionRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            description: r.description,
            file_ids: r.file_ids,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLLECTION_SELECT: &str = "
    SELECT c.id, c.name, c.description, c.created_at, c.updated_at,
           COALESCE((SELECT array_agg(cf.file_id ORDER BY cf.added_at, cf.file_id)
                       FROM collection_files cf WHERE cf.collection_id = c.id), '{}') AS file_ids
      FROM collections c";

/// How many of `ids` are the caller's files.
async fn owned_files(
    tx: &mut Transaction<'_, Postgres>,
    owner: Uuid,
    ids: &[Uuid],
) -> Result<usize, sqlx::Error> {
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM files WHERE user_id = $1 AND id = ANY($2)")
            .bind(owner)
            .bind(ids)
            .fetch_one(&mut **tx)
            .await?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Creates a collection with `file_ids`; `None` when one of them is not the caller's file.
pub async fn create_collection(
    pool: &PgPool,
    owner: Uuid,
    name: &str,
    description: &str,
    file_ids: &[Uuid],
) -> Result<Option<CollectionOut>, sqlx::Error> {
    let mut ids = file_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut tx = pool.begin().await?;
    if owned_files(&mut tx, owner, &ids).await? != ids.len() {
        return Ok(None);
    }
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO collections (id, user_id, name, description) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(owner)
        .bind(name)
        .bind(description)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO collection_files (collection_id, file_id) SELECT $1, unnest($2::uuid[])",
    )
    .bind(id)
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    let row: CollectionRow = sqlx::query_as(&format!("{COLLECTION_SELECT} WHERE c.id = $1"))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(row.into()))
}

pub async fn find_collection(
    pool: &PgPool,
    owner: Uuid,
    id: Uuid,
) -> Result<Option<CollectionOut>, sqlx::Error> {
    let row: Option<CollectionRow> = sqlx::query_as(&format!(
        "{COLLECTION_SELECT} WHERE c.id = $1 AND c.user_id = $2"
    ))
    .bind(id)
    .bind(owner)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Into::into))
}

pub async fn list_collections(
    pool: &PgPool,
    owner: Uuid,
    limit: i64,
    before: Option<Uuid>,
) -> Result<(Vec<CollectionOut>, Option<Uuid>), sqlx::Error> {
    let rows: Vec<CollectionRow> = sqlx::query_as(&format!(
        "{COLLECTION_SELECT}
          WHERE c.user_id = $1
            AND ($2::uuid IS NULL OR (c.created_at, c.id) < (
                 SELECT created_at, id FROM collections WHERE id = $2 AND user_id = $1))
          ORDER BY c.created_at DESC, c.id DESC
          LIMIT $3"
    ))
    .bind(owner)
    .bind(before)
    .bind(limit + 1)
    .fetch_all(pool)
    .await?;
    page(
        rows.into_iter().map(CollectionOut::from).collect(),
        limit,
        |c| c.id,
    )
}

pub async fn update_collection(
    pool: &PgPool,
    owner: Uuid,
    id: Uuid,
    name: Option<&str>,
    description: Option<&str>,
) -> Result<Option<CollectionOut>, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE collections SET name = COALESCE($3, name), description = COALESCE($4, description),
                updated_at = now()
          WHERE id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(owner)
    .bind(name)
    .bind(description)
    .execute(pool)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(None);
    }
    find_collection(pool, owner, id).await
}

pub async fn delete_collection(pool: &PgPool, owner: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM collections WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(owner)
        .execute(pool)
        .await?;
    Ok(deleted.rows_affected() > 0)
}

/// What adding or removing a member found.
#[derive(Debug, PartialEq, Eq)]
pub enum Membership {
    Done,
    NoCollection,
    NoFile,
}

/// Puts the caller's file in the caller's collection (idempotent) or takes it out.
pub async fn set_member(
    pool: &PgPool,
    owner: Uuid,
    collection: Uuid,
    file: Uuid,
    member: bool,
) -> Result<Membership, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let found: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM collections WHERE id = $1 AND user_id = $2 FOR UPDATE")
            .bind(collection)
            .bind(owner)
            .fetch_optional(&mut *tx)
            .await?;
    if found.is_none() {
        return Ok(Membership::NoCollection);
    }
    if owned_files(&mut tx, owner, &[file]).await? != 1 {
        return Ok(Membership::NoFile);
    }
    let sql = if member {
        "INSERT INTO collection_files (collection_id, file_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM collection_files WHERE collection_id = $1 AND file_id = $2"
    };
    sqlx::query(sql)
        .bind(collection)
        .bind(file)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE collections SET updated_at = now() WHERE id = $1")
        .bind(collection)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Membership::Done)
}
