//! The vector side of retrieval, behind a small trait so the store can change without touching
//! retrieval. pgvector is not packaged for this machine's Postgres, so the first
//! implementation needs no extension: vectors live in `chunk_vectors` and [`ExactScan`]
//! compares the query with every vector in scope, in Rust.
//!
//! Exact scan is exact (no recall loss) and needs no index upkeep; its cost grows linearly with
//! the caller's chunks (docs/benchmarks.md, "Retrieval", has the figures and where it stops
//! being enough). Reading the vectors out of Postgres on every query cost far more than
//! comparing them, so each file's vectors are kept decoded and normalised in memory
//! ([`VectorCache`], bounded by `VECTOR_CACHE_MB`), keyed by the file's `updated_at`, which
//! every change of its chunks moves: a stale entry is never used, only reloaded.
//!
//! The documented second implementation is pgvector (`embedding vector(n)` + an HNSW index,
//! `ORDER BY embedding <=> $q LIMIT k` filtered by user and files) or Qdrant (a collection per
//! embedding model, payload filters on user and file): same trait, approximate search in the
//! store, no per-process copy of the vectors.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::TryStreamExt;
use sqlx::PgPool;
use uuid::Uuid;

use super::embed;

/// Which chunks a search may return: the owner's files, each with its version (`updated_at`
/// in microseconds), which changes whenever its chunks do.
#[derive(Debug, Clone)]
pub struct Scope<'a> {
    pub owner: Uuid,
    pub files: &'a [Uuid],
    pub versions: &'a [i64],
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

/// Every vector in scope compared in Rust; vectors come from [`VectorCache`] or, for files
/// not cached at their current version, from Postgres.
#[derive(Debug, Clone)]
pub struct ExactScan {
    pub pool: PgPool,
    pub cache: VectorCache,
}

/// One file's vectors of one model: unit length, row after row in one allocation (a scan reads
/// memory in order).
#[derive(Debug)]
struct FileVectors {
    version: i64,
    model: String,
    dim: usize,
    ids: Vec<Uuid>,
    data: Vec<f32>,
}

impl FileVectors {
    fn bytes(&self) -> usize {
        self.data.len() * 4 + self.ids.len() * 16 + 64
    }
}

/// Decoded vectors per file, least recently used evicted beyond the budget. Shared by every
/// retrieval of this process; cheap to clone.
#[derive(Debug, Clone)]
pub struct VectorCache {
    inner: Arc<Mutex<CacheInner>>,
    budget: usize,
}

#[derive(Debug, Default)]
struct CacheInner {
    files: HashMap<Uuid, (Arc<FileVectors>, u64)>,
    bytes: usize,
    clock: u64,
}

impl VectorCache {
    /// A cache holding at most `budget_bytes` of vectors (0: nothing is kept).
    pub fn new(budget_bytes: usize) -> Self {
        Self {
            inner: Arc::default(),
            budget: budget_bytes,
        }
    }

    /// The cached vectors of `file` at `version` for `model` and `dim`.
    fn get(&self, file: Uuid, version: i64, model: &str, dim: usize) -> Option<Arc<FileVectors>> {
        let mut inner = self.inner.lock().ok()?;
        inner.clock += 1;
        let now = inner.clock;
        let (entry, used) = inner.files.get_mut(&file)?;
        if entry.version != version || entry.model != model || entry.dim != dim {
            return None;
        }
        *used = now;
        Some(entry.clone())
    }

    fn put(&self, file: Uuid, vectors: Arc<FileVectors>) {
        let size = vectors.bytes();
        if size > self.budget {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.clock += 1;
        let now = inner.clock;
        if let Some((old, _)) = inner.files.insert(file, (vectors, now)) {
            inner.bytes -= old.bytes();
        }
        inner.bytes += size;
        while inner.bytes > self.budget {
            let Some(oldest) = inner
                .files
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(id, _)| *id)
            else {
                break;
            };
            if let Some((gone, _)) = inner.files.remove(&oldest) {
                inner.bytes -= gone.bytes();
            }
        }
    }

    /// Bytes of vectors held now.
    pub fn held_bytes(&self) -> usize {
        self.inner.lock().map(|i| i.bytes).unwrap_or(0)
    }
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
        let dim = query.len();
        let mut found: Vec<Arc<FileVectors>> = Vec::with_capacity(scope.files.len());
        let mut missing: Vec<(Uuid, i64)> = Vec::new();
        for (file, version) in scope.files.iter().zip(scope.versions) {
            match self.cache.get(*file, *version, model, dim) {
                Some(v) => found.push(v),
                None => missing.push((*file, *version)),
            }
        }
        if !missing.is_empty() {
            for (file, vectors) in self.load(scope.owner, &missing, model, dim).await? {
                let vectors = Arc::new(vectors);
                self.cache.put(file, vectors.clone());
                found.push(vectors);
            }
        }
        let unit: Vec<f32> = query.iter().map(|x| x / q_norm).collect();
        // Comparing is CPU work proportional to the scope (100k passages: tens of ms).
        tokio::task::spawn_blocking(move || scan(&found, &unit, k))
            .await
            .map_err(|e| sqlx::Error::Protocol(format!("vector scan: {e}")))
    }
}

impl ExactScan {
    /// The vectors of `files` (at the versions given) from Postgres, one entry per file, an
    /// empty one for a file with no vectors of this model (so it is not asked again).
    async fn load(
        &self,
        owner: Uuid,
        files: &[(Uuid, i64)],
        model: &str,
        dim: usize,
    ) -> Result<Vec<(Uuid, FileVectors)>, sqlx::Error> {
        let mut out: HashMap<Uuid, FileVectors> = files
            .iter()
            .map(|(id, version)| {
                (
                    *id,
                    FileVectors {
                        version: *version,
                        model: model.to_owned(),
                        dim,
                        ids: Vec::new(),
                        data: Vec::new(),
                    },
                )
            })
            .collect();
        let ids: Vec<Uuid> = files.iter().map(|f| f.0).collect();
        let mut rows = sqlx::query_as::<_, (Uuid, Uuid, Vec<u8>)>(
            "SELECT file_id, chunk_id, embedding FROM chunk_vectors
              WHERE user_id = $1 AND file_id = ANY($2) AND model = $3 AND dim = $4",
        )
        .bind(owner)
        .bind(&ids)
        .bind(model)
        .bind(i32::try_from(dim).unwrap_or(i32::MAX))
        .fetch(&self.pool);
        while let Some((file, id, bytes)) = rows.try_next().await? {
            let Some(entry) = out.get_mut(&file) else {
                continue;
            };
            let Some(v) = embed::from_bytes(&bytes) else {
                continue;
            };
            let n = norm(&v);
            if v.len() != dim || n == 0.0 {
                continue;
            }
            entry.ids.push(id);
            entry.data.extend(v.iter().map(|x| x / n));
        }
        Ok(out.into_iter().collect())
    }
}

/// The `k` rows of `files` closest to the unit vector `query`, best first.
fn scan(files: &[Arc<FileVectors>], query: &[f32], k: usize) -> Vec<(Uuid, f32)> {
    let dim = query.len();
    let rows = files.iter().map(|f| f.ids.len()).sum();
    let mut scored: Vec<(u32, u32, f32)> = Vec::with_capacity(rows);
    for (f, file) in files.iter().enumerate() {
        let f = u32::try_from(f).unwrap_or(u32::MAX);
        for (r, row) in file.data.chunks_exact(dim).enumerate() {
            scored.push((f, u32::try_from(r).unwrap_or(u32::MAX), dot(query, row)));
        }
    }
    let by_score = |a: &(u32, u32, f32), b: &(u32, u32, f32)| b.2.total_cmp(&a.2);
    if scored.len() > k {
        scored.select_nth_unstable_by(k - 1, by_score);
        scored.truncate(k);
    }
    scored.sort_by(by_score);
    scored
        .into_iter()
        .filter_map(|(f, r, s)| {
            let file = files.get(f as usize)?;
            Some((*file.ids.get(r as usize)?, s))
        })
        .collect()
}

/// Lanes of the dot product: eight independent sums the compiler keeps in one SIMD register
/// (a single running sum is a dependency chain it may not reorder).
const LANES: usize = 8;

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let whole = n - n % LANES;
    let (a_main, a_rest) = a.split_at(n).0.split_at(whole);
    let (b_main, b_rest) = b.split_at(n).0.split_at(whole);
    let mut acc = [0.0f32; LANES];
    for (x, y) in a_main.chunks_exact(LANES).zip(b_main.chunks_exact(LANES)) {
        for ((s, x), y) in acc.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(version: i64, rows: &[&[f32]]) -> (Vec<Uuid>, Arc<FileVectors>) {
        let ids: Vec<Uuid> = rows.iter().map(|_| Uuid::new_v4()).collect();
        let data = rows.iter().flat_map(|r| r.iter().copied()).collect();
        (
            ids.clone(),
            Arc::new(FileVectors {
                version,
                model: "m".into(),
                dim: rows[0].len(),
                ids,
                data,
            }),
        )
    }

    #[test]
    fn the_best_k_come_first_across_files() {
        let (a, fa) = file(1, &[&[1.0, 0.0], &[0.6, 0.8]]);
        let (b, fb) = file(1, &[&[0.0, 1.0], &[0.8, 0.6]]);
        let got = scan(&[fa, fb], &[1.0, 0.0], 3);
        let ids: Vec<Uuid> = got.iter().map(|g| g.0).collect();
        assert_eq!(ids, vec![a[0], b[1], a[1]]);
        assert!((got[1].1 - 0.8).abs() < 1e-6);
    }

    #[test]
    fn dot_matches_the_plain_sum_at_every_length() {
        for n in [1usize, 7, 8, 9, 256, 384, 385] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-3, "length {n}");
        }
    }

    #[test]
    fn the_cache_serves_only_the_same_version_and_model_and_keeps_to_its_budget() {
        let (_, v1) = file(1, &[&[1.0, 0.0]]);
        let size = v1.bytes();
        let cache = VectorCache::new(size * 2);
        let (f1, f2, f3) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        cache.put(f1, v1);
        assert!(cache.get(f1, 1, "m", 2).is_some());
        assert!(cache.get(f1, 2, "m", 2).is_none(), "another version");
        assert!(cache.get(f1, 1, "other", 2).is_none(), "another model");
        cache.put(f2, file(1, &[&[0.0, 1.0]]).1);
        // Using f1 again makes f2 the least recently used.
        assert!(cache.get(f1, 1, "m", 2).is_some());
        cache.put(f3, file(1, &[&[0.5, 0.5]]).1);
        assert!(cache.held_bytes() <= size * 2);
        assert!(
            cache.get(f2, 1, "m", 2).is_none(),
            "least recently used evicted"
        );
        assert!(cache.get(f1, 1, "m", 2).is_some());
        assert!(cache.get(f3, 1, "m", 2).is_some());
    }
}
