//! Ingestion under faults and model changes (issue 23): an embedding-provider outage leaves the
//! file `processing` until the provider is back, deleting a file mid-ingestion leaves nothing,
//! a worker killed mid-file is resumed by another, a change of embeddings model re-embeds
//! the passages without ever comparing vectors of two models, and vectors stored before they
//! moved to their own table (`chunk_vectors`) still answer after the upgrade.
//!
//! The model service is the real one in this process; the embedding provider is switched by
//! rewriting its PROVIDERS_FILE and calling `POST /providers/reload`, as an operator would.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::*;

/// A providers file in a temporary directory; rewritten by [`ProvidersFile::write`].
struct ProvidersFile(PathBuf);

impl ProvidersFile {
    fn new(toml: &str) -> Self {
        let path = std::env::temp_dir().join(format!("sable-providers-{}.toml", Uuid::new_v4()));
        let file = Self(path);
        file.write(toml);
        file
    }

    fn write(&self, toml: &str) {
        std::fs::write(&self.0, toml).unwrap();
    }
}

impl Drop for ProvidersFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The offline mock with a chat model and two embedding models, plus `vec`, an
/// OpenAI-compatible embedding provider at `vec_url`; `embeddings` names the alias's target.
fn providers(vec_url: &str, embeddings: &str) -> String {
    format!(
        "[[providers]]\nname = \"local\"\nkind = \"mock\"\n\
         [[providers.models]]\nid = \"chatty\"\n\
         [[providers.models]]\nid = \"mock-embed\"\ncapabilities = [\"embeddings\"]\n\
         [[providers.models]]\nid = \"mock-embed-v2\"\ncapabilities = [\"embeddings\"]\n\n\
         [[providers]]\nname = \"vec\"\nbase_url = \"{vec_url}\"\n\
         [[providers.models]]\nid = \"e5\"\ncapabilities = [\"embeddings\"]\n\n\
         [aliases]\ndefault = \"local/chatty\"\nembeddings = \"{embeddings}\"\n"
    )
}

async fn model_with(file: &ProvidersFile) -> ModelServer {
    let mut config = model_config();
    config.providers_file = Some(file.0.clone());
    spawn_model_with(config).await
}

async fn reload(model: &ModelServer) {
    let r = client()
        .post(format!("{}/providers/reload", model.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.text().await);
}

/// Uploads `text` as a Markdown file straight to the worker's `POST /files` (as the gateway
/// forwards it, for the default user); returns the file's id.
async fn upload(base: &str, name: &str, text: &str) -> Uuid {
    let r = client()
        .post(format!("{base}/files"))
        .header("x-sable-file-name", name)
        .header("content-type", "text/markdown")
        .body(text.to_owned())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "upload: {}", r.status());
    let body: Value = r.json().await.unwrap();
    body["id"].as_str().unwrap().parse().unwrap()
}

#[derive(Debug, sqlx::FromRow)]
struct FileState {
    status: String,
    stage: Option<String>,
    job_id: Option<Uuid>,
    embedding_model: Option<String>,
}

async fn file_state(pool: &PgPool, id: Uuid) -> Option<FileState> {
    sqlx::query_as("SELECT status, stage, job_id, embedding_model FROM files WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
        .unwrap()
}

async fn wait_file(pool: &PgPool, id: Uuid, timeout: Duration, check: impl Fn(&FileState) -> bool) {
    let ok = wait_until(timeout, || async {
        file_state(pool, id).await.is_some_and(|f| check(&f))
    })
    .await;
    assert!(ok, "file {id}: {:?}", file_state(pool, id).await);
}

/// `(chunks, distinct non-null embedding models, chunks without a vector)` of a file.
async fn chunk_models(pool: &PgPool, file: Uuid) -> (i64, Vec<String>, i64) {
    let (n, none): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE v.chunk_id IS NULL)
           FROM chunks c LEFT JOIN chunk_vectors v ON v.chunk_id = c.id
          WHERE c.file_id = $1",
    )
    .bind(file)
    .fetch_one(pool)
    .await
    .unwrap();
    let models: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT model FROM chunk_vectors WHERE file_id = $1 ORDER BY 1",
    )
    .bind(file)
    .fetch_all(pool)
    .await
    .unwrap();
    (n, models, none)
}

const DOC: &str = "# Backups\n\nThe nightly backup of the billing database runs at two in the \
morning and is kept for thirty days.\n\n# Holidays\n\nEmployees request holidays through the \
staff portal at least two weeks ahead.\n";

#[tokio::test]
async fn an_embedding_outage_leaves_the_file_processing_until_the_provider_is_back() {
    let db = common::test_support::fresh_database().await;
    // The embeddings alias points at a provider nobody answers for.
    let down = closed_port_url().await;
    let file = ProvidersFile::new(&providers(&down, "vec/e5"));
    let model = model_with(&file).await;
    let service = spawn_service(&db.url, &model.url, &[]).await;

    let id = upload(&service.base, "notes.md", DOC).await;
    // Attempts fail (transient: the provider is unreachable) and back off; the file waits.
    let job = file_state(&db.pool, id).await.unwrap().job_id.unwrap();
    let retried = wait_until(Duration::from_secs(20), || async {
        let attempts: i32 = sqlx::query_scalar("SELECT attempts FROM batch_jobs WHERE id = $1")
            .bind(job)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        attempts >= 3
    })
    .await;
    assert!(retried, "the ingestion was not retried");
    let waiting = file_state(&db.pool, id).await.unwrap();
    assert_eq!(waiting.status, "processing", "{waiting:?}");
    assert_eq!(chunk_models(&db.pool, id).await.0, 0, "nothing indexed yet");

    // The provider comes back (here: the alias is pointed at a working one).
    file.write(&providers(&down, "local/mock-embed"));
    reload(&model).await;
    wait_file(&db.pool, id, Duration::from_secs(20), |f| {
        f.status == "ready"
    })
    .await;
    let (chunks, models, without) = chunk_models(&db.pool, id).await;
    assert!(chunks >= 1, "{chunks} chunks");
    assert_eq!(models.len(), 1, "{models:?}");
    assert_eq!(without, 0);
    assert_eq!(
        file_state(&db.pool, id)
            .await
            .unwrap()
            .embedding_model
            .as_ref(),
        models.first()
    );
    wait_for_status(&db.pool, job, "completed", Duration::from_secs(5)).await;
    service.stop().await;
}

#[tokio::test]
async fn deleting_a_file_mid_ingestion_leaves_no_chunks_and_no_blob() {
    let db = common::test_support::fresh_database().await;
    let model = spawn_model().await;
    let store = std::env::temp_dir().join(format!("sable-k-{}", Uuid::new_v4()));
    let service = spawn_service(
        &db.url,
        &model.url,
        &["--file-store-url", store.to_str().unwrap()],
    )
    .await;

    // The mock takes 2 s to embed this file's passages.
    let id = upload(
        &service.base,
        "slow.md",
        &format!("{DOC}\n[mock:delay=2000]\n"),
    )
    .await;
    let job = file_state(&db.pool, id).await.unwrap().job_id.unwrap();
    wait_file(&db.pool, id, Duration::from_secs(20), |f| {
        f.stage.as_deref() == Some("embedding")
    })
    .await;
    let r = client()
        .delete(service.url(&format!("/files/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    wait_for_status(&db.pool, job, "cancelled", Duration::from_secs(10)).await;
    // Past the moment the embeddings would have arrived: still nothing was written.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(chunk_models(&db.pool, id).await.0, 0);
    let orphans: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.id = c.file_id)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(orphans, 0);
    assert_eq!(status_of(&db.pool, job).await, "cancelled");
    let blobs: Vec<PathBuf> = walk(&store);
    assert!(blobs.is_empty(), "blobs left: {blobs:?}");
    service.stop().await;
    let _ = std::fs::remove_dir_all(&store);
}

#[tokio::test]
async fn deleting_a_file_cancels_its_waiting_re_embed_too() {
    let db = common::test_support::fresh_database().await;
    let model = spawn_model().await;
    let service = spawn_service(&db.url, &model.url, &[]).await;
    let id = upload(&service.base, "notes.md", DOC).await;
    wait_file(&db.pool, id, Duration::from_secs(20), |f| {
        f.status == "ready"
    })
    .await;
    let ingest = file_state(&db.pool, id).await.unwrap().job_id.unwrap();
    wait_for_status(&db.pool, ingest, "completed", Duration::from_secs(5)).await;
    // A re-embed waiting out a retry's backoff (the provider was down): pending, not due yet.
    let reembed: Uuid = sqlx::query_scalar(
        "INSERT INTO batch_jobs (id, status, prompts, total_prompts, user_id, name, kind, file_id,
                                 model, next_attempt_at, attempts, last_error)
         SELECT gen_random_uuid(), 'pending', '[\"Re-embed notes.md\"]', 1, f.user_id,
                'Re-embed notes.md', 'reembed', f.id, 'local/mock-embed-v2',
                now() + interval '1 hour', 1, 'embedding provider unavailable'
           FROM files f WHERE f.id = $1
         RETURNING id",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .unwrap();

    let r = client()
        .delete(service.url(&format!("/files/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    // At once, not when the backoff ends: nothing is left waiting for a file that is gone.
    assert_eq!(status_of(&db.pool, reembed).await, "cancelled");
    assert_eq!(
        status_of(&db.pool, ingest).await,
        "completed",
        "a finished job stays as it was"
    );
    service.stop().await;
}

/// Every regular file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn a_worker_killed_mid_file_is_resumed_by_another() {
    let db = common::test_support::fresh_database().await;
    let model = spawn_model().await;
    let store = std::env::temp_dir().join(format!("sable-k-{}", Uuid::new_v4()));
    let store_url = store.to_str().unwrap().to_owned();
    // The API only (no processing): uploads land in the shared store and on the queue.
    let api = spawn_service(
        &db.url,
        &model.url,
        &["--file-store-url", &store_url, "--worker-disabled"],
    )
    .await;
    let mut doomed = spawn_worker_process(
        &db.url,
        &model.url,
        "doomed",
        &[("FILE_STORE_URL", &store_url)],
    )
    .await;

    let id = upload(&api.base, "slow.md", &format!("{DOC}\n[mock:delay=1500]\n")).await;
    let job = file_state(&db.pool, id).await.unwrap().job_id.unwrap();
    wait_file(&db.pool, id, Duration::from_secs(20), |f| {
        f.stage.as_deref() == Some("embedding")
    })
    .await;
    let holder: Option<String> =
        sqlx::query_scalar("SELECT locked_by FROM batch_jobs WHERE id = $1")
            .bind(job)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(holder.as_deref(), Some("doomed"));
    doomed.kill_9().await;

    // Another worker takes the job over when the dead one's lease expires, and starts over.
    let rescuer = spawn_service(&db.url, &model.url, &["--file-store-url", &store_url]).await;
    wait_file(&db.pool, id, Duration::from_secs(30), |f| {
        f.status == "ready"
    })
    .await;
    wait_for_status(&db.pool, job, "completed", Duration::from_secs(5)).await;
    let (attempts, by): (i32, Option<String>) =
        sqlx::query_as("SELECT attempts, locked_by FROM batch_jobs WHERE id = $1")
            .bind(job)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(attempts, 2, "claimed once by each worker");
    assert_eq!(by, None);
    let (chunks, models, without) = chunk_models(&db.pool, id).await;
    let idx: Vec<i32> =
        sqlx::query_scalar("SELECT idx FROM chunks WHERE file_id = $1 ORDER BY idx")
            .bind(id)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        idx,
        (0..i32::try_from(chunks).unwrap()).collect::<Vec<_>>(),
        "each passage once"
    );
    assert_eq!((models.len(), without), (1, 0));
    rescuer.stop().await;
    api.stop().await;
    let _ = std::fs::remove_dir_all(&store);
}

async fn retrieve(base: &str, query: &str) -> Value {
    let r = client()
        .post(format!("{base}/retrieve"))
        .json(&json!({ "query": query, "top_k": 5 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn a_new_embeddings_model_re_embeds_the_passages_and_never_mixes_models() {
    let db = common::test_support::fresh_database().await;
    let unused = closed_port_url().await;
    let file = ProvidersFile::new(&providers(&unused, "local/mock-embed"));
    let model = model_with(&file).await;
    let service = spawn_service(&db.url, &model.url, &[]).await;
    let id = upload(&service.base, "notes.md", DOC).await;
    wait_file(&db.pool, id, Duration::from_secs(20), |f| {
        f.status == "ready"
    })
    .await;
    let (chunks, first, _) = chunk_models(&db.pool, id).await;
    assert_eq!(first.len(), 1);
    let old = first[0].clone();
    assert!(old.contains("mock-embed"), "{old}");
    let before = retrieve(&service.base, "when does the nightly backup run").await;
    assert_eq!(before["embedding_model"], old.as_str());
    assert_eq!(before["passages"][0]["vector_rank"], 1);

    // The operator moves the alias to another model.
    file.write(&providers(&unused, "local/mock-embed-v2"));
    reload(&model).await;
    let during = retrieve(&service.base, "when does the nightly backup run").await;
    let new = during["embedding_model"].as_str().unwrap().to_owned();
    assert!(new.contains("mock-embed-v2"), "{new}");
    // Until the passages have the new model's vectors, only full-text ranking answers: the
    // query's vector is never compared with the old model's. (The re-embed job may already
    // have finished on a fast machine: then every vector is the new model's.)
    let (_, models_now, _) = chunk_models(&db.pool, id).await;
    if models_now == vec![old.clone()] {
        for p in during["passages"].as_array().unwrap() {
            assert_eq!(p["vector_rank"], Value::Null, "{p}");
        }
    }
    assert!(
        !during["passages"].as_array().unwrap().is_empty(),
        "text still finds it"
    );

    // The retrieval queued a re-embed; the file stays ready while it runs.
    let reembed = wait_until(Duration::from_secs(20), || async {
        let states = sqlx::query_scalar::<_, String>(
            "SELECT status FROM batch_jobs WHERE file_id = $1 AND kind = 'reembed'",
        )
        .bind(id)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        assert_eq!(file_state(&db.pool, id).await.unwrap().status, "ready");
        states == ["completed"]
    })
    .await;
    assert!(reembed, "the re-embed job did not complete");
    let (after_chunks, models, without) = chunk_models(&db.pool, id).await;
    assert_eq!(after_chunks, chunks, "the same passages");
    assert_eq!(models, vec![new.clone()], "every vector is the new model's");
    assert_eq!(without, 0);
    assert_eq!(
        file_state(&db.pool, id).await.unwrap().embedding_model,
        Some(new.clone())
    );
    let result: String = sqlx::query_scalar(
        "SELECT r.text FROM batch_job_results r JOIN batch_jobs j ON j.id = r.job_id
          WHERE j.file_id = $1 AND j.kind = 'reembed'",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(result, format!("{chunks} passages re-embedded with {new}"));

    let after = retrieve(&service.base, "when does the nightly backup run").await;
    assert_eq!(after["embedding_model"], new.as_str());
    assert_eq!(after["passages"][0]["vector_rank"], 1, "{after}");
    // Nothing is stale any more: no second re-embed is queued.
    let jobs: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM batch_jobs WHERE file_id = $1 AND kind = 'reembed'",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(jobs, 1);
    service.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Upgrading: vectors stored in `chunks` before migration 20261207040000 move to `chunk_vectors`
// ---------------------------------------------------------------------------------------------

/// The migration that moved passage vectors into their own table.
const CHUNK_VECTORS_MIGRATION: i64 = 20261207040000;

/// A new database with every migration before `version` applied (a deployment not yet
/// upgraded); `common::db::migrate` applies the rest.
async fn database_before(version: i64) -> (PgPool, String, String) {
    use sqlx::migrate::Migrator;
    use sqlx::Connection;
    let name = format!("sable_test_{}", Uuid::new_v4().simple());
    let server: sqlx::postgres::PgConnectOptions =
        common::test_support::server_url().parse().unwrap();
    let mut admin = sqlx::PgConnection::connect_with(&server.clone().database("postgres"))
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let pool = PgPool::connect_with(server.database(&name)).await.unwrap();
    let before = Migrator {
        migrations: std::borrow::Cow::Owned(
            common::db::MIGRATOR
                .iter()
                .filter(|m| m.version < version)
                .cloned()
                .collect(),
        ),
        ..Migrator::DEFAULT
    };
    before.run(&pool).await.unwrap();
    let url = common::test_support::database_url_for(&name);
    (pool, url, name)
}

#[tokio::test]
async fn vectors_stored_before_the_upgrade_still_answer_after_it() {
    let (pool, url, _name) = database_before(CHUNK_VECTORS_MIGRATION).await;
    let model = spawn_model().await;
    let texts = [
        "The nightly backup of the billing database runs at two in the morning.",
        "Employees request holidays through the staff portal.",
    ];
    let embedded: Value = client()
        .post(format!("{}/embeddings", model.url))
        .json(&json!({ "input": texts }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let embedding_model = embedded["model"].as_str().unwrap().to_owned();
    let vectors: Vec<Vec<u8>> = embedded["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            d["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|x| (x.as_f64().unwrap() as f32).to_le_bytes())
                .collect()
        })
        .collect();
    let dim = i32::try_from(vectors[0].len() / 4).unwrap();

    // As the worker wrote them before the upgrade: the default user's file with two passages
    // and their vectors in `chunks`, one passage without a vector, and another user's passage.
    let owner = common::schemas::DEFAULT_JOB_OWNER;
    let other = Uuid::new_v4();
    sqlx::query("INSERT INTO users (id, email) VALUES ($1, 'other@example.com')")
        .bind(other)
        .execute(&pool)
        .await
        .unwrap();
    let (file, other_file) = (Uuid::now_v7(), Uuid::now_v7());
    for (id, user) in [(file, owner), (other_file, other)] {
        sqlx::query(
            "INSERT INTO files (id, user_id, filename, content_type, kind, size_bytes, sha256,
                                blob_key, status, embedding_model)
             VALUES ($1, $2, 'notes.txt', 'text/plain', 'text', 1, $1::text, 'none', 'ready', $3)",
        )
        .bind(id)
        .bind(user)
        .bind(&embedding_model)
        .execute(&pool)
        .await
        .unwrap();
    }
    let chunks = [
        (Uuid::now_v7(), file, owner, 0, texts[0], Some(&vectors[0])),
        (Uuid::now_v7(), file, owner, 1, texts[1], Some(&vectors[1])),
        (
            Uuid::now_v7(),
            file,
            owner,
            2,
            "A passage without a vector.",
            None,
        ),
        (
            Uuid::now_v7(),
            other_file,
            other,
            0,
            texts[0],
            Some(&vectors[0]),
        ),
    ];
    for (id, file, user, idx, text, vector) in &chunks {
        sqlx::query(
            "INSERT INTO chunks (id, file_id, user_id, idx, text, char_start, char_end,
                                 token_count, embedding, embedding_model, embedding_dim)
             VALUES ($1, $2, $3, $4, $5, 0, 1, 10, $6, $7, $8)",
        )
        .bind(id)
        .bind(file)
        .bind(user)
        .bind(idx)
        .bind(text)
        .bind(vector.map(|v| v.as_slice()))
        .bind(vector.map(|_| embedding_model.as_str()))
        .bind(vector.map(|_| dim))
        .execute(&pool)
        .await
        .unwrap();
    }

    common::db::migrate(&pool).await.unwrap();

    // Every vector moved, byte for byte, with its model, dimension, file and owner.
    for (id, file, user, _, _, vector) in &chunks {
        let moved: Option<(Uuid, Uuid, String, i32, Vec<u8>)> = sqlx::query_as(
            "SELECT file_id, user_id, model, dim, embedding FROM chunk_vectors WHERE chunk_id = $1",
        )
        .bind(id)
        .fetch_optional(&pool)
        .await
        .unwrap();
        let expected = vector.map(|v| (*file, *user, embedding_model.clone(), dim, v.clone()));
        assert_eq!(moved, expected, "chunk {id}");
    }
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM chunks
          WHERE embedding IS NOT NULL OR embedding_model IS NOT NULL OR embedding_dim IS NOT NULL",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(left, 0, "the old columns are emptied");

    // Retrieval finds the passages by meaning as before, and only the caller's.
    let service = spawn_service(&url, &model.url, &[]).await;
    let answer = retrieve(&service.base, texts[0]).await;
    let passages = answer["passages"].as_array().unwrap();
    assert_eq!(passages[0]["chunk_id"], chunks[0].0.to_string(), "{answer}");
    assert_eq!(passages[0]["vector_rank"], 1, "{answer}");
    assert_eq!(passages[1]["chunk_id"], chunks[1].0.to_string(), "{answer}");
    assert_eq!(passages[1]["vector_rank"], 2, "{answer}");
    assert!(
        passages.iter().all(|p| p["file_id"] == file.to_string()),
        "another user's passage: {answer}"
    );
    service.stop().await;
}
