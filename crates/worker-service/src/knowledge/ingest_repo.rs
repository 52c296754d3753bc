//! The ingestion side's SQL: stage updates on `files`, and the fenced final writes that put a
//! file's chunks in place and end its job in one transaction (no network call inside).

use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::chunk::Chunk;

/// The file an ingestion job works on.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IngestFile {
    pub id: Uuid,
    pub user_id: Uuid,
    pub filename: String,
    pub kind: String,
    pub blob_key: String,
}

pub async fn load(pool: &PgPool, file: Uuid) -> Result<Option<IngestFile>, sqlx::Error> {
    sqlx::query_as("SELECT id, user_id, filename, kind, blob_key FROM files WHERE id = $1")
        .bind(file)
        .fetch_optional(pool)
        .await
}

/// Marks the file `processing` at `stage` (extracting, chunking, embedding, indexing).
pub async fn set_stage(pool: &PgPool, file: Uuid, stage: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE files SET status = 'processing', stage = $2, updated_at = now()
          WHERE id = $1 AND status IN ('pending', 'processing')",
    )
    .bind(file)
    .bind(stage)
    .execute(pool)
    .await
    .map(|_| ())
}

/// The claim that holds the job, for fencing.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub job: Uuid,
    pub worker: &'a str,
    pub attempt: i32,
}

/// How a final write went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Done,
    /// The claim no longer holds the job: nothing was written.
    LeaseLost,
    /// The file was deleted meanwhile: nothing was written (the job is ended `cancelled`
    /// by [`end_cancelled`]).
    FileGone,
}

/// Locks the job row if this claim still holds it, and the file row if it still exists.
async fn fence(
    tx: &mut Transaction<'_, Postgres>,
    claim: Claim<'_>,
    file: Uuid,
) -> Result<Option<Written>, sqlx::Error> {
    let held: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM batch_jobs WHERE id = $1 AND locked_by = $2 AND attempts = $3
            AND status = 'running' FOR UPDATE",
    )
    .bind(claim.job)
    .bind(claim.worker)
    .bind(claim.attempt)
    .fetch_optional(&mut **tx)
    .await?;
    if held.is_none() {
        return Ok(Some(Written::LeaseLost));
    }
    let exists: Option<Uuid> = sqlx::query_scalar("SELECT id FROM files WHERE id = $1 FOR UPDATE")
        .bind(file)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(exists.is_none().then_some(Written::FileGone))
}

/// Ends the job with its one result slot.
async fn end_job(
    tx: &mut Transaction<'_, Postgres>,
    claim: Claim<'_>,
    outcome: Result<&str, &str>,
) -> Result<(), sqlx::Error> {
    let (status, ok, failed, text, error) = match outcome {
        Ok(text) => ("completed", 1, 0, Some(text), None),
        Err(error) => ("failed", 0, 1, None, Some(error)),
    };
    sqlx::query(
        "UPDATE batch_jobs SET status = $2, completed_prompts = $3, failed_prompts = $4,
                error = $5, completed_at = now(), updated_at = now(),
                locked_by = NULL, locked_until = NULL
          WHERE id = $1",
    )
    .bind(claim.job)
    .bind(status)
    .bind(ok)
    .bind(failed)
    .bind(error)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO batch_job_results (job_id, idx, text, error, error_code, attempt)
         VALUES ($1, 0, $2, $3, $4, $5)
         ON CONFLICT (job_id, idx) DO NOTHING",
    )
    .bind(claim.job)
    .bind(text)
    .bind(error)
    .bind(error.map(|_| "INGEST_FAILED"))
    .bind(claim.attempt)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The vectors of a file's chunks (one per chunk, in order, little-endian f32s) and the model
/// that made them.
#[derive(Debug, Clone, Copy)]
pub struct Embeddings<'a> {
    pub model: &'a str,
    pub dim: i32,
    pub vectors: &'a [Vec<u8>],
}

/// Replaces the file's chunks, marks it `ready` and completes the job, all or nothing.
pub async fn finish_ready(
    pool: &PgPool,
    claim: Claim<'_>,
    file: Uuid,
    owner: Uuid,
    pages: Option<i32>,
    chunks: &[Chunk],
    embeddings: Option<Embeddings<'_>>,
) -> Result<Written, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if let Some(stopped) = fence(&mut tx, claim, file).await? {
        return Ok(stopped);
    }
    sqlx::query("DELETE FROM chunks WHERE file_id = $1")
        .bind(file)
        .execute(&mut *tx)
        .await?;
    let ids: Vec<Uuid> = chunks.iter().map(|_| Uuid::now_v7()).collect();
    let idx: Vec<i32> = (0..chunks.len())
        .map(|i| i32::try_from(i).unwrap_or(i32::MAX))
        .collect();
    let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
    let pages_of: Vec<Option<i32>> = chunks.iter().map(|c| c.page).collect();
    let headings: Vec<Option<&str>> = chunks.iter().map(|c| c.heading.as_deref()).collect();
    let starts: Vec<i32> = chunks.iter().map(|c| c.char_start).collect();
    let ends: Vec<i32> = chunks.iter().map(|c| c.char_end).collect();
    let tokens: Vec<i32> = chunks.iter().map(|c| c.tokens).collect();
    sqlx::query(
        "INSERT INTO chunks (id, file_id, user_id, idx, text, page, heading, char_start, char_end,
                             token_count)
         SELECT u.id, $2, $3, u.idx, u.text, u.page, u.heading, u.cs, u.ce, u.tk
           FROM unnest($1::uuid[], $4::int4[], $5::text[], $6::int4[], $7::text[], $8::int4[],
                       $9::int4[], $10::int4[])
                AS u(id, idx, text, page, heading, cs, ce, tk)",
    )
    .bind(&ids)
    .bind(file)
    .bind(owner)
    .bind(&idx)
    .bind(&texts)
    .bind(&pages_of)
    .bind(&headings)
    .bind(&starts)
    .bind(&ends)
    .bind(&tokens)
    .execute(&mut *tx)
    .await?;
    if let Some(embeddings) = embeddings {
        put_vectors(&mut tx, file, &ids, embeddings).await?;
    }
    let model = embeddings.map(|e| e.model);
    let count = i32::try_from(chunks.len()).unwrap_or(i32::MAX);
    sqlx::query(
        "UPDATE files SET status = 'ready', stage = NULL, error = NULL, pages = $2,
                chunk_count = $3, embedding_model = $4, ready_at = now(), updated_at = now()
          WHERE id = $1",
    )
    .bind(file)
    .bind(pages)
    .bind(count)
    .bind(model)
    .execute(&mut *tx)
    .await?;
    let summary = match pages {
        Some(p) => format!("{count} passages from {p} pages"),
        None => format!("{count} passages"),
    };
    end_job(&mut tx, claim, Ok(&summary)).await?;
    tx.commit().await?;
    Ok(Written::Done)
}

/// Marks the file `failed` with `error` (in words) and fails the job with it.
pub async fn finish_failed(
    pool: &PgPool,
    claim: Claim<'_>,
    file: Uuid,
    error: &str,
) -> Result<Written, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if let Some(stopped) = fence(&mut tx, claim, file).await? {
        return Ok(stopped);
    }
    sqlx::query("DELETE FROM chunks WHERE file_id = $1")
        .bind(file)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE files SET status = 'failed', stage = NULL, error = $2, chunk_count = 0,
                updated_at = now()
          WHERE id = $1",
    )
    .bind(file)
    .bind(error)
    .execute(&mut *tx)
    .await?;
    end_job(&mut tx, claim, Err(error)).await?;
    tx.commit().await?;
    Ok(Written::Done)
}

/// Ends the job `cancelled` (its file was deleted, or a cancel was requested).
pub async fn end_cancelled(pool: &PgPool, claim: Claim<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE batch_jobs SET status = 'cancelled', completed_at = now(), updated_at = now(),
                locked_by = NULL, locked_until = NULL
          WHERE id = $1 AND locked_by = $2 AND attempts = $3 AND status = 'running'",
    )
    .bind(claim.job)
    .bind(claim.worker)
    .bind(claim.attempt)
    .execute(pool)
    .await
    .map(|_| ())
}

// ---------------------------------------------------------------------------------------------
// Re-embedding after a change of embeddings model (`batch_jobs.kind = 'reembed'`)
// ---------------------------------------------------------------------------------------------

/// How long a failed re-embed of a file to a model keeps retrieval from queueing another: a
/// provider that refuses the file's passages is not asked again on every query.
const REEMBED_FAILED_PAUSE: &str = "1 hour";

/// Queues a re-embed for each of `owner`'s ready `files` whose vectors are not `model`'s
/// (another model, or none: indexed when no model was configured). Returns how many were
/// queued. Reads first, so the common case (nothing stale) writes nothing and wakes no worker.
pub async fn queue_reembeds(
    pool: &PgPool,
    owner: Uuid,
    files: &[Uuid],
    model: &str,
    max_attempts: i32,
) -> Result<u64, sqlx::Error> {
    let stale: Vec<Uuid> = sqlx::query_scalar(&format!(
        "SELECT f.id FROM files f
          WHERE f.user_id = $1 AND f.id = ANY($2) AND f.status = 'ready'
            AND f.embedding_model IS DISTINCT FROM $3
            AND NOT EXISTS (
                SELECT 1 FROM batch_jobs j
                 WHERE j.file_id = f.id AND j.kind = 'reembed'
                   AND (j.status IN ('pending', 'running')
                        OR (j.status = 'failed' AND j.model = $3
                            AND j.updated_at > now() - interval '{REEMBED_FAILED_PAUSE}')))"
    ))
    .bind(owner)
    .bind(files)
    .bind(model)
    .fetch_all(pool)
    .await?;
    if stale.is_empty() {
        return Ok(0);
    }
    let queued = sqlx::query(
        "INSERT INTO batch_jobs (id, status, prompts, total_prompts, max_attempts, user_id, name,
                                 kind, file_id, model)
         SELECT gen_random_uuid(), 'pending', jsonb_build_array('Re-embed ' || f.filename), 1, $3,
                f.user_id, left('Re-embed ' || f.filename, 200), 'reembed', f.id, $4
           FROM files f
          WHERE f.user_id = $1 AND f.id = ANY($2)
         ON CONFLICT DO NOTHING",
    )
    .bind(owner)
    .bind(&stale)
    .bind(max_attempts)
    .bind(model)
    .execute(pool)
    .await?;
    Ok(queued.rows_affected())
}

/// A ready file's passages, in order: `(chunk id, text)`; empty when the file is gone or not
/// ready (an ingestion in progress embeds with the current model anyway).
pub async fn passages_to_reembed(
    pool: &PgPool,
    file: Uuid,
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.id, c.text FROM chunks c JOIN files f ON f.id = c.file_id
          WHERE c.file_id = $1 AND f.status = 'ready'
          ORDER BY c.idx",
    )
    .bind(file)
    .fetch_all(pool)
    .await
}

/// Replaces the vectors of the file's passages `ids` (in the same order as `embeddings`) and
/// completes the job, all or nothing. If the file's passages changed meanwhile (it was
/// ingested again, which embedded with the current model), nothing is replaced and the job
/// completes saying so.
pub async fn finish_reembedded(
    pool: &PgPool,
    claim: Claim<'_>,
    file: Uuid,
    ids: &[Uuid],
    embeddings: Embeddings<'_>,
) -> Result<Written, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if let Some(stopped) = fence(&mut tx, claim, file).await? {
        return Ok(stopped);
    }
    let current: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM chunks WHERE file_id = $1 ORDER BY idx")
            .bind(file)
            .fetch_all(&mut *tx)
            .await?;
    if current != ids {
        end_job(
            &mut tx,
            claim,
            Ok("The file was read again meanwhile; nothing to re-embed"),
        )
        .await?;
        tx.commit().await?;
        return Ok(Written::Done);
    }
    put_vectors(&mut tx, file, ids, embeddings).await?;
    // updated_at moves: retrieval's vector cache reloads this file.
    sqlx::query("UPDATE files SET embedding_model = $2, updated_at = now() WHERE id = $1")
        .bind(file)
        .bind(embeddings.model)
        .execute(&mut *tx)
        .await?;
    let summary = format!(
        "{} passages re-embedded with {}",
        ids.len(),
        embeddings.model
    );
    end_job(&mut tx, claim, Ok(&summary)).await?;
    tx.commit().await?;
    Ok(Written::Done)
}

/// Stores the vectors of the file's passages `ids` (in the same order as `embeddings`),
/// replacing the ones they had. Vectors live in `chunk_vectors`, not in the `chunks` rows the
/// full-text side reads (migration `20261207040000_chunk_vectors.sql` says why).
async fn put_vectors(
    tx: &mut Transaction<'_, Postgres>,
    file: Uuid,
    ids: &[Uuid],
    embeddings: Embeddings<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO chunk_vectors (chunk_id, file_id, user_id, model, dim, embedding)
         SELECT c.id, c.file_id, c.user_id, $3, $4, u.emb
           FROM unnest($1::uuid[], $2::bytea[]) AS u(id, emb)
           JOIN chunks c ON c.id = u.id AND c.file_id = $5
         ON CONFLICT (chunk_id) DO UPDATE
            SET model = EXCLUDED.model, dim = EXCLUDED.dim, embedding = EXCLUDED.embedding",
    )
    .bind(ids)
    .bind(embeddings.vectors)
    .bind(embeddings.model)
    .bind(embeddings.dim)
    .bind(file)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Ends the job with `outcome` and touches nothing else (a re-embed with nothing to do, or
/// one that failed: the file keeps its passages and stays ready).
pub async fn end_job_only(
    pool: &PgPool,
    claim: Claim<'_>,
    file: Uuid,
    outcome: Result<&str, &str>,
) -> Result<Written, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if let Some(stopped) = fence(&mut tx, claim, file).await? {
        return Ok(stopped);
    }
    end_job(&mut tx, claim, outcome).await?;
    tx.commit().await?;
    Ok(Written::Done)
}
