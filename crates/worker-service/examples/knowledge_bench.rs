//! Knowledge benchmark: `cargo run --release -p worker-service --example knowledge_bench`.
//!
//! A fresh database on the server named by `DATABASE_URL` (dropped at the end), the model
//! service in process (mock provider: the deterministic `mock-embed` embedder) and one worker
//! service with its queue. Measures:
//! - ingestion: Markdown files and multi-page PDFs uploaded over HTTP, upload → every file
//!   `ready` (pages/s, chunks/s);
//! - retrieval: `POST /retrieve` latency (p50/p99) for one user with 10,000 and 100,000
//!   passages (synthetic passages with mock-embed-sized unit vectors, inserted directly), in two
//!   corpora: `worst` (60-word passages from 33 words: every question matches every passage by
//!   its words, so the full-text side ranks them all) and `zipf` (words drawn by Zipf's law
//!   from English's 127 stop words, the most frequent as in real text, then 5,000 content
//!   words: a question's content words match a part of the passages, as in real text).
//!
//! Prints markdown tables. Options (`-- --help`) pick the corpora, the sizes and the number of
//! queries, so a smaller run fits while iterating: `-- --skip-ingest --corpus zipf --passages
//! 10000 --queries 30`. Besides the latency of `POST /retrieve`, each row gives its parts, run
//! alone: the full-text statement, the query's embedding (a call to the model service) and the
//! vector side's scan over the cached vectors; the two sides run concurrently in a retrieval.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant};

use clap::Parser;
use rand::Rng;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const WORDS: &[&str] = &[
    "backup",
    "database",
    "gateway",
    "holiday",
    "invoice",
    "contract",
    "termination",
    "notice",
    "revenue",
    "quarter",
    "install",
    "server",
    "policy",
    "employee",
    "portal",
    "report",
    "schedule",
    "network",
    "storage",
    "quota",
    "upload",
    "stream",
    "model",
    "answer",
    "review",
    "budget",
    "meeting",
    "deadline",
    "release",
    "security",
    "password",
    "account",
    "travel",
];

/// Postgres's English stop words (`english.stop`, first 127): the most frequent words of real
/// text, which `plainto_tsquery` drops from a question.
const STOP_WORDS: &str = "i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers herself it its itself they them their theirs themselves what which who whom this that these those am is are was were be been being have has had having do does did doing a an the and but if or because as until while of at by for with about against between into through during before after above below to from up down in out on off over under again further then once here there when where why how all any both each few more most other some such no nor not only own same so than too very s t can will just don should now";

/// Words drawn by Zipf's law (frequency ∝ 1/rank): the stop words first, then 5,000 made-up
/// content words ("bakelo", …).
struct Zipf {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new() -> Self {
        const SYLLABLES: &[&str] = &["ba", "ke", "lo", "mi", "nu", "ra", "si", "to", "ve", "zo"];
        let mut words: Vec<String> = STOP_WORDS.split(' ').map(str::to_owned).collect();
        for i in 0..5_000usize {
            let (a, b, c, d) = (i % 10, i / 10 % 10, i / 100 % 10, i / 1000 % 10);
            words.push(format!(
                "{}{}{}{}",
                SYLLABLES[d], SYLLABLES[c], SYLLABLES[b], SYLLABLES[a]
            ));
        }
        let mut total = 0.0;
        let cumulative = (1..=words.len())
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        Self { words, cumulative }
    }

    fn sentence(&self, rng: &mut impl Rng, words: usize) -> String {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let s: Vec<&str> = (0..words)
            .map(|_| {
                let x = rng.gen_range(0.0..total);
                let i = self.cumulative.partition_point(|c| *c < x);
                self.words[i.min(self.words.len() - 1)].as_str()
            })
            .collect();
        format!("{}.", s.join(" "))
    }
}

#[derive(Parser)]
#[command(about = "Knowledge benchmark: ingestion and retrieval latency")]
struct Args {
    /// Corpora of the retrieval rows, in order.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "worst,zipf")]
    corpus: Vec<Corpus>,
    /// Passages in scope for the retrieval rows of each corpus, in order.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    passages: Vec<usize>,
    /// Timed retrieval queries per row (after 5 warm-up ones) with the vector cache.
    #[arg(long, default_value_t = 100)]
    queries: usize,
    /// Leave out the ingestion rows.
    #[arg(long)]
    skip_ingest: bool,
    /// Keep the benchmark's database at the end (its name is printed), to look at it in psql.
    #[arg(long)]
    keep_database: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Corpus {
    Worst,
    Zipf,
}

impl Corpus {
    fn sentence(self, zipf: &Zipf, rng: &mut impl Rng, words: usize) -> String {
        match self {
            Corpus::Worst => sentence(rng, words),
            Corpus::Zipf => zipf.sentence(rng, words),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Corpus::Worst => "worst",
            Corpus::Zipf => "zipf",
        }
    }
}

fn sentence(rng: &mut impl Rng, words: usize) -> String {
    let mut s: Vec<&str> = (0..words)
        .map(|_| WORDS[rng.gen_range(0..WORDS.len())])
        .collect();
    s[0] = "The";
    format!("{}.", s.join(" "))
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    println!("load average at start: {}", load_average());
    let db = common::test_support::fresh_database().await;
    let model = model_service::spawn(model_service::config::Config::for_tests())
        .await
        .expect("model service");
    let store = std::env::temp_dir().join(format!("sable-kbench-{}", Uuid::new_v4()));
    let config = worker_service::config::Config::try_parse_from([
        "worker-service",
        "--database-url",
        &db.url,
        "--model-service-url",
        &model.base_url(),
        "--file-store-url",
        store.to_str().unwrap(),
        "--poll-interval-ms",
        "100",
    ])
    .unwrap();
    let state = worker_service::build_state(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    tokio::spawn(worker_service::serve(
        state.clone(),
        listener,
        shutdown.clone(),
    ));
    // The same API without the vector cache (VECTOR_CACHE_MB=0): every query reads and decodes
    // the vectors from Postgres, as before the cache.
    let uncached = worker_service::config::Config::try_parse_from([
        "worker-service",
        "--database-url",
        &db.url,
        "--model-service-url",
        &model.base_url(),
        "--file-store-url",
        store.to_str().unwrap(),
        "--worker-disabled",
        "--vector-cache-mb",
        "0",
    ])
    .unwrap();
    let uncached = worker_service::build_state(uncached).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_uncached = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(worker_service::serve(uncached, listener, shutdown.clone()));
    let client = common::http::client_builder().build().unwrap();
    let mut rng = rand::thread_rng();

    if !args.skip_ingest {
        ingest(&client, &base, &db.pool, &mut rng).await;
    }
    let services = Services {
        client: &client,
        model: model.base_url(),
        cached: &base,
        uncached: &base_uncached,
    };
    retrieval(&args, &services, &db.pool, &state, &mut rng).await;
    println!("\nload average at end: {}", load_average());
    shutdown.cancel();
    model.shutdown.cancel();
    let _ = std::fs::remove_dir_all(&store);
    if args.keep_database {
        println!("database kept: {}", db.name);
    } else {
        drop_database(db).await;
    }
}

/// Ingestion: Markdown files and PDFs uploaded over HTTP, upload → every file `ready`.
async fn ingest(
    client: &reqwest::Client,
    base: &str,
    pool: &sqlx::PgPool,
    rng: &mut rand::rngs::ThreadRng,
) {
    println!("| input | files | pages | chunks | seconds | pages/s | chunks/s |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (kind, files, pages_each) in [("markdown", 40usize, 10usize), ("pdf", 20, 10)] {
        let started = Instant::now();
        for f in 0..files {
            let (name, ctype, bytes) = if kind == "pdf" {
                let pages: Vec<String> = (0..pages_each).map(|_| sentence(rng, 60)).collect();
                (format!("f{f}.pdf"), "application/pdf", pdf(&pages))
            } else {
                let mut text = String::new();
                for p in 0..pages_each {
                    text.push_str(&format!("# Part {p}\n\n"));
                    for _ in 0..8 {
                        text.push_str(&sentence(rng, 40));
                        text.push('\n');
                    }
                }
                (format!("f{f}.md"), "text/markdown", text.into_bytes())
            };
            let r = client
                .post(format!("{base}/files"))
                .header("x-sable-file-name", name)
                .header("content-type", ctype)
                .body(bytes)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.status());
        }
        loop {
            let (left, failed): (i64, i64) = sqlx::query_as(
                "SELECT count(*) FILTER (WHERE status IN ('pending','processing')),
                        count(*) FILTER (WHERE status = 'failed') FROM files WHERE kind = $1",
            )
            .bind(kind)
            .fetch_one(pool)
            .await
            .unwrap();
            assert_eq!(failed, 0);
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let secs = started.elapsed().as_secs_f64();
        let chunks: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM chunks c JOIN files f ON f.id = c.file_id WHERE f.kind = $1",
        )
        .bind(kind)
        .fetch_one(pool)
        .await
        .unwrap();
        let pages = files * pages_each;
        println!(
            "| {kind} | {files} | {pages} | {chunks} | {secs:.2} | {:.1} | {:.1} |",
            pages as f64 / secs,
            chunks as f64 / secs
        );
    }
}

/// Where the benchmark's services listen.
struct Services<'a> {
    client: &'a reqwest::Client,
    /// The model service (query embeddings).
    model: String,
    /// The worker API with the vector cache.
    cached: &'a str,
    /// The same API with `VECTOR_CACHE_MB=0`.
    uncached: &'a str,
}

/// Retrieval: synthetic passages of the default user with vectors of the mock's model, one
/// table row per corpus and size.
async fn retrieval(
    args: &Args,
    services: &Services<'_>,
    pool: &sqlx::PgPool,
    state: &worker_service::AppState,
    rng: &mut rand::rngs::ThreadRng,
) {
    let client = services.client;
    let probe: Value = client
        .post(format!("{}/embeddings", services.model))
        .json(&json!({"input": ["probe"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let embed_model = probe["model"].as_str().unwrap().to_owned();
    let dim = probe["data"][0]["embedding"].as_array().unwrap().len();
    let owner = common::schemas::DEFAULT_JOB_OWNER;
    let zipf = Zipf::new();
    println!("\n| corpus | passages in scope | vectors | first query | p50 | p99 | mean | full-text side alone p50 / p99 | query embedding alone p50 | vector scan alone p50 / p99 | passages matched by words (mean) |");
    println!("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut previous: Option<Corpus> = None;
    for &corpus in &args.corpus {
        if previous.is_some_and(|p| p != corpus) {
            // A new corpus: the previous one's passages go (the ingested files stay).
            sqlx::query("DELETE FROM files WHERE filename = 'synthetic.txt'")
                .execute(pool)
                .await
                .unwrap();
        }
        previous = Some(corpus);
        for &target in &args.passages {
            let total = add_passages(pool, corpus, &zipf, target, &embed_model, dim, rng).await;
            let files = all_files(pool).await;
            let question = |rng: &mut rand::rngs::ThreadRng| corpus.sentence(&zipf, rng, 8);
            let text = text_side(pool, owner, &files, rng, &question).await;
            let embedding = embed_side(services, rng, &question).await;
            let matched = matched_by_words(pool, owner, rng, &question).await;
            // Cached: `--queries` timed queries (100: a p99 worth the name); read per query
            // (the worst corpus only): 30 (seconds each at 100k).
            let mut runs = vec![("cached", services.cached, args.queries + 5)];
            if corpus == Corpus::Worst {
                runs.push(("read per query", services.uncached, 35));
            }
            for (label, url, runs) in runs {
                let mut times = Vec::new();
                let mut first = 0.0;
                for i in 0..runs {
                    let q = question(rng);
                    let started = Instant::now();
                    let r = client
                        .post(format!("{url}/retrieve"))
                        .json(&json!({"query": q, "top_k": 8}))
                        .send()
                        .await
                        .unwrap();
                    assert!(r.status().is_success());
                    let _: Value = r.json().await.unwrap();
                    let ms = started.elapsed().as_secs_f64() * 1000.0;
                    if i == 0 {
                        first = ms;
                    }
                    if i >= 5 {
                        times.push(ms);
                    }
                }
                times.sort_by(f64::total_cmp);
                let mean = times.iter().sum::<f64>() / times.len() as f64;
                // The scan alone, after the retrievals above filled the cache.
                let scan = vector_side(state, pool, owner, &embed_model, dim, rng).await;
                println!(
                    "| {} | {total} | {label} | {first:.1} ms | {:.1} ms | {:.1} ms | {mean:.1} ms | {:.1} / {:.1} ms | {:.1} ms | {:.1} / {:.1} ms | {matched:.0} |",
                    corpus.name(),
                    percentile(&times, 0.5),
                    percentile(&times, 0.99),
                    percentile(&text, 0.5),
                    percentile(&text, 0.99),
                    percentile(&embedding, 0.5),
                    percentile(&scan, 0.5),
                    percentile(&scan, 0.99),
                );
            }
        }
    }
}

/// Adds synthetic passages of `corpus` (in a new file `synthetic.txt`) until the default user
/// has `target`; returns how many the user has.
async fn add_passages(
    pool: &sqlx::PgPool,
    corpus: Corpus,
    zipf: &Zipf,
    target: usize,
    embed_model: &str,
    dim: usize,
    rng: &mut rand::rngs::ThreadRng,
) -> usize {
    let owner = common::schemas::DEFAULT_JOB_OWNER;
    let file = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO files (id, user_id, filename, content_type, kind, size_bytes, sha256, blob_key, status,
                            embedding_model)
         VALUES ($1, $2, 'synthetic.txt', 'text/plain', 'text', 1, $3, 'none', 'ready', $4)",
    )
    .bind(file)
    .bind(owner)
    .bind(file.to_string())
    .bind(embed_model)
    .execute(pool)
    .await
    .unwrap();
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM chunks WHERE user_id = $1")
        .bind(owner)
        .fetch_one(pool)
        .await
        .unwrap();
    let mut total = usize::try_from(existing).unwrap();
    let mut idx = 0i32;
    while total < target {
        let n = (target - total).min(2000);
        let mut ids = Vec::with_capacity(n);
        let mut texts = Vec::with_capacity(n);
        let mut idxs = Vec::with_capacity(n);
        let mut vecs: Vec<Vec<u8>> = Vec::with_capacity(n);
        for _ in 0..n {
            ids.push(Uuid::now_v7());
            texts.push(corpus.sentence(zipf, rng, 60));
            idxs.push(idx);
            idx += 1;
            let mut v: Vec<f32> = (0..dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
            vecs.push(v.iter().flat_map(|x| x.to_le_bytes()).collect());
        }
        sqlx::query(
            "WITH c AS (
                 INSERT INTO chunks (id, file_id, user_id, idx, text, char_start, char_end, token_count)
                 SELECT u.id, $2, $3, u.idx, u.text, 0, 1, 80
                   FROM unnest($1::uuid[], $4::int4[], $5::text[]) AS u(id, idx, text)
                 RETURNING id
             )
             INSERT INTO chunk_vectors (chunk_id, file_id, user_id, model, dim, embedding)
             SELECT u.id, $2, $3, $6, $7, u.emb FROM unnest($1::uuid[], $8::bytea[]) AS u(id, emb)",
        )
        .bind(&ids)
        .bind(file)
        .bind(owner)
        .bind(&idxs)
        .bind(&texts)
        .bind(embed_model)
        .bind(i32::try_from(dim).unwrap())
        .bind(&vecs)
        .execute(pool)
        .await
        .unwrap();
        total += n;
    }
    sqlx::query("ANALYZE chunks").execute(pool).await.unwrap();
    total
}

/// Milliseconds of 100 calls of the model service's `POST /embeddings` with one question (the
/// vector side's first step), sorted.
async fn embed_side(
    services: &Services<'_>,
    rng: &mut rand::rngs::ThreadRng,
    question: &impl Fn(&mut rand::rngs::ThreadRng) -> String,
) -> Vec<f64> {
    let mut times = Vec::new();
    for _ in 0..100 {
        let started = Instant::now();
        let r = services
            .client
            .post(format!("{}/embeddings", services.model))
            .json(&json!({"input": [question(rng)]}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let _: Value = r.json().await.unwrap();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    times
}

/// Milliseconds of 100 searches of the vector side (`ExactScan`, the worker's own cache) over
/// every ready file of `owner` with random unit queries, sorted.
async fn vector_side(
    state: &worker_service::AppState,
    pool: &sqlx::PgPool,
    owner: Uuid,
    model: &str,
    dim: usize,
    rng: &mut rand::rngs::ThreadRng,
) -> Vec<f64> {
    use worker_service::knowledge::vector::{ExactScan, Scope, VectorIndex};
    // The scope as `retrieve::scope_files` reads it (the versions are the cache's keys).
    let (files, versions): (Vec<Uuid>, Vec<i64>) = sqlx::query_as::<_, (Uuid, i64)>(
        "SELECT id, (extract(epoch FROM updated_at) * 1000000)::int8 FROM files
          WHERE user_id = $1 AND status = 'ready'",
    )
    .bind(owner)
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .unzip();
    let scope = Scope {
        owner,
        files: &files,
        versions: &versions,
    };
    let index = ExactScan {
        pool: state.db.clone(),
        cache: state.vectors.clone(),
    };
    let mut times = Vec::new();
    for _ in 0..100 {
        let q: Vec<f32> = (0..dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
        let started = Instant::now();
        let hits = index.search(&scope, model, &q, 32).await.unwrap();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(hits.len(), 32);
    }
    times.sort_by(f64::total_cmp);
    times
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

async fn drop_database(db: common::test_support::TestDb) {
    db.pool.close().await;
    let admin = sqlx::PgPool::connect(&common::test_support::database_url_for("postgres"))
        .await
        .unwrap();
    // The services' pools may still hold connections for a moment: FORCE ends them.
    sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db.name))
        .execute(&admin)
        .await
        .unwrap();
}

/// p-th quantile of sorted `t`.
fn percentile(t: &[f64], p: f64) -> f64 {
    t[((t.len() as f64 - 1.0) * p).round() as usize]
}

/// Milliseconds of 100 runs of the full-text side (`retrieve::text_ranked`, 32 candidates:
/// what `top_k` 8 asks of each side), sorted.
async fn text_side(
    pool: &sqlx::PgPool,
    owner: Uuid,
    files: &[Uuid],
    rng: &mut rand::rngs::ThreadRng,
    question: &impl Fn(&mut rand::rngs::ThreadRng) -> String,
) -> Vec<f64> {
    use worker_service::knowledge::{retrieve, vector::Scope};
    // The versions only key the vector cache; the full-text side does not read them.
    let versions = vec![0; files.len()];
    let scope = Scope {
        owner,
        files,
        versions: &versions,
    };
    let mut times = Vec::new();
    for _ in 0..100 {
        let q = question(rng);
        let started = Instant::now();
        retrieve::text_ranked(pool, &scope, &q, 32).await.unwrap();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    times
}

/// How many of the owner's passages 20 questions match by their words (the OR-ed `tsquery`
/// of `retrieve::text_ranked`), on average: the rows the full-text side ranks.
async fn matched_by_words(
    pool: &sqlx::PgPool,
    owner: Uuid,
    rng: &mut rand::rngs::ThreadRng,
    question: &impl Fn(&mut rand::rngs::ThreadRng) -> String,
) -> f64 {
    let mut sum = 0i64;
    for _ in 0..20 {
        let n: i64 = sqlx::query_scalar(
            "WITH q AS (
                 SELECT NULLIF(replace(plainto_tsquery('english', $2)::text, '&', '|'), '')::tsquery AS q
             )
             SELECT count(*) FROM chunks c, q WHERE q.q IS NOT NULL AND c.user_id = $1 AND c.tsv @@ q.q",
        )
        .bind(owner)
        .bind(question(rng))
        .fetch_one(pool)
        .await
        .unwrap();
        sum += n;
    }
    sum as f64 / 20.0
}

async fn all_files(pool: &sqlx::PgPool) -> Vec<Uuid> {
    sqlx::query_scalar("SELECT id FROM files WHERE status = 'ready'")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// A PDF with one page per text (Helvetica, correct cross-reference table).
fn pdf(pages: &[String]) -> Vec<u8> {
    let n = pages.len();
    let mut objects: Vec<String> = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {n} >>",
            (0..n)
                .map(|i| format!("{} 0 R", 4 + 2 * i))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_owned(),
    ];
    for (i, text) in pages.iter().enumerate() {
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            5 + 2 * i
        ));
        let stream = format!("BT /F1 10 Tf 40 740 Td ({text}) Tj ET");
        objects.push(format!(
            "<< /Length {} >>\nstream\n{stream}\nendstream",
            stream.len()
        ));
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}
