//! Everything an account owns, read for its export and found for its deletion.
//!
//! The export is built by Postgres as one JSON document (one statement, one round trip) and
//! held in memory before it is sent, so a slow download never holds a pooled connection.
//! Secrets never leave: API keys are listed by metadata (no hash), files by metadata (the
//! bytes are downloadable one by one from `/api/v1/files/{id}/content`).

use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

/// Chats (every message of every branch, in order), chat folders, prompt jobs with their items, API keys'
/// metadata, files' metadata, collections and sign-ins of `user`, as one JSON object.
pub async fn export(db: &PgPool, user: Uuid) -> Result<Value, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT json_build_object( \
           'chats', (SELECT COALESCE(json_agg(json_build_object( \
               'id', s.id, 'title', s.title, 'system_prompt', s.system_prompt, 'model', s.model, \
               'temperature', s.temperature, 'max_tokens', s.max_tokens, 'pinned', s.pinned, \
               'archived', s.archived, 'knowledge', s.knowledge, 'active_leaf_id', s.active_leaf_id, \
               'folder_id', s.folder_id, \
               'created_at', s.created_at, 'updated_at', s.updated_at, \
               'messages', (SELECT COALESCE(json_agg(json_build_object( \
                   'id', m.id, 'parent_id', m.parent_id, 'role', m.role, 'content', m.content, \
                   'meta', m.meta, 'created_at', m.created_at) ORDER BY m.seq), '[]'::json) \
                 FROM chat_messages m WHERE m.session_id = s.id) \
             ) ORDER BY s.created_at, s.id), '[]'::json) \
             FROM chat_sessions s WHERE s.user_id = $1), \
           'folders', (SELECT COALESCE(json_agg(json_build_object( \
               'id', f.id, 'name', f.name, 'system_prompt', f.system_prompt, 'model', f.model, \
               'created_at', f.created_at, 'updated_at', f.updated_at) \
               ORDER BY f.created_at, f.id), '[]'::json) \
             FROM chat_folders f WHERE f.user_id = $1), \
           'jobs', (SELECT COALESCE(json_agg(json_build_object( \
               'id', j.id, 'name', j.name, 'status', j.status, 'model', j.model, \
               'max_tokens', j.max_tokens, 'prompts', j.prompts, 'total_prompts', j.total_prompts, \
               'completed_prompts', j.completed_prompts, 'failed_prompts', j.failed_prompts, \
               'error', j.error, 'created_at', j.created_at, 'completed_at', j.completed_at, \
               'items', (SELECT COALESCE(json_agg(json_build_object( \
                   'index', r.idx, 'text', r.text, 'error', r.error, 'error_code', r.error_code) \
                   ORDER BY r.idx), '[]'::json) \
                 FROM batch_job_results r WHERE r.job_id = j.id) \
             ) ORDER BY j.created_at, j.id), '[]'::json) \
             FROM batch_jobs j WHERE j.user_id = $1 AND j.kind = 'prompts'), \
           'api_keys', (SELECT COALESCE(json_agg(json_build_object( \
               'id', k.id, 'name', k.name, 'prefix', k.prefix, 'created_at', k.created_at, \
               'last_used_at', k.last_used_at, 'revoked_at', k.revoked_at, \
               'allowed_models', k.allowed_models) ORDER BY k.created_at, k.id), '[]'::json) \
             FROM api_keys k WHERE k.user_id = $1), \
           'files', (SELECT COALESCE(json_agg(json_build_object( \
               'id', f.id, 'filename', f.filename, 'content_type', f.content_type, 'kind', f.kind, \
               'size_bytes', f.size_bytes, 'sha256', f.sha256, 'status', f.status, 'pages', f.pages, \
               'chunk_count', f.chunk_count, 'created_at', f.created_at) \
               ORDER BY f.created_at, f.id), '[]'::json) \
             FROM files f WHERE f.user_id = $1), \
           'collections', (SELECT COALESCE(json_agg(json_build_object( \
               'id', c.id, 'name', c.name, 'description', c.description, \
               'created_at', c.created_at, 'updated_at', c.updated_at, \
               'file_ids', (SELECT COALESCE(json_agg(cf.file_id ORDER BY cf.added_at), '[]'::json) \
                            FROM collection_files cf WHERE cf.collection_id = c.id)) \
               ORDER BY c.created_at, c.id), '[]'::json) \
             FROM collections c WHERE c.user_id = $1), \
           'sign_ins', (SELECT COALESCE(json_agg(json_build_object( \
               'id', si.id, 'created_at', si.created_at, 'last_seen_at', si.last_seen_at, \
               'user_agent', si.user_agent, 'revoked_at', si.revoked_at) \
               ORDER BY si.created_at, si.id), '[]'::json) \
             FROM sign_ins si WHERE si.user_id = $1) \
         )::jsonb",
    )
    .bind(user)
    .fetch_one(db)
    .await
}

/// The ids of the user's files (deleted one by one through the worker service, which owns
/// their blobs).
pub async fn file_ids(db: &PgPool, user: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM files WHERE user_id = $1")
        .bind(user)
        .fetch_all(db)
        .await
}

/// The ids of the user's chats (to stop generations running in them).
pub async fn session_ids(db: &PgPool, user: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM chat_sessions WHERE user_id = $1")
        .bind(user)
        .fetch_all(db)
        .await
}
