//! The vector side of retrieval, behind a small trait so the store can change without touching
//! retrieval. pgvector is not packaged for this machine's Postgres, so the first
//! implementation needs no extension: vectors live in `chunks.embedding` and [`ExactScan`]
//! compares the query with every vector in scope, in Rust.
//!
//! Exact scan is exact (no recall loss) and needs no index upkeep; it reads every vector in
//! scope per query, so its cost grows linearly with the caller's chunks (docs/benchmarks.md,
//! "Retrieval", has the figures and where it stops being enough). The documented second
//! implementation is pgvector (`embedding vector(n)` + an HNSW index, `ORDER BY embedding <=>
//! $q LIMIT k` filtered by user and files) or Qdrant (a collection per embedding model, payload
//! filters on user and file): same trait, approximate search in the store.

use std::future::Future;

use futures::TryStreamExt;
use sqlx::PgPool;
use uuid::Uuid;

use super::embed;

/// Which chunks a search may return.
#[derive(Debug, Clone)]
pub struct Scope<'a> {
    pub owner: Uuid,
    pub files: &'a [Uuid],
}

pub trait VectorIndex {
    /// Up to `k` chunks of `scope` embedded by `model`, most similar to `query` first, with
    /// their cosine similarity.
    fn search(
        &self,
        scope: &Scope<'_>,
        model: &str,
        query: &[f32],
        k: usize,
    ) -> impl Future<Output = Result<Vec<(Uuid, f32)>, sqlx::Error>> + Send;
}

/// Every vector in scope, streamed from Postgres and compared in Rust.
#[derive(Debug, Clone)]
pub struct ExactScan {
    pub pool: PgPool,
}

impl VectorIndex for ExactScan {
    async fn search(
        &self,
        scope: &Scope<'_>,
        model: &str,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<(Uuid, f32)>, sqlx::Error> {
        let q_norm = norm(query);
        if q_norm == 0.0 || k == 0 {
            return Ok(Vec::new());
        }
        let dim = i32::try_from(query.len()).unwrap_or(i32::MAX);
        let mut rows = sqlx::query_as::<_, (Uuid, Vec<u8>)>(
            "SELECT id, embedding FROM chunks
              WHERE user_id = $1 AND file_id = ANY($2) AND embedding_model = $3
                AND embedding_dim = $4 AND embedding IS NOT NULL",
        )
        .bind(scope.owner)
        .bind(scope.files)
        .bind(model)
        .bind(dim)
        .fetch(&self.pool);
        let mut scored: Vec<(Uuid, f32)> = Vec::new();
        while let Some((id, bytes)) = rows.try_next().await? {
            let Some(v) = embed::from_bytes(&bytes) else {
                continue;
            };
            let n = norm(&v);
            if n > 0.0 {
                scored.push((id, dot(query, &v) / (q_norm * n)));
            }
        }
        top_k(&mut scored, k);
        Ok(scored)
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

/// Keeps the `k` best, best first.
fn top_k(scored: &mut Vec<(Uuid, f32)>, k: usize) {
    let by_score = |a: &(Uuid, f32), b: &(Uuid, f32)| b.1.total_cmp(&a.1);
    if scored.len() > k {
        scored.select_nth_unstable_by(k - 1, by_score);
        scored.truncate(k);
    }
    scored.sort_by(by_score);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_k_come_first() {
        let ids: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
        let mut scored: Vec<(Uuid, f32)> = ids
            .iter()
            .zip([0.1, 0.9, 0.5, 0.7, 0.3])
            .map(|(i, s)| (*i, s))
            .collect();
        top_k(&mut scored, 3);
        assert_eq!(scored, vec![(ids[1], 0.9), (ids[3], 0.7), (ids[2], 0.5)]);
    }
}
