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
//! Prints markdown tables.

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

#[derive(Clone, Copy)]
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

    println!("| input | files | pages | chunks | seconds | pages/s | chunks/s |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (kind, files, pages_each) in [("markdown", 40usize, 10usize), ("pdf", 20, 10)] {
        let started = Instant::now();
        for f in 0..files {
            let (name, ctype, bytes) = if kind == "pdf" {
                let pages: Vec<String> = (0..pages_each).map(|_| sentence(&mut rng, 60)).collect();
                (format!("f{f}.pdf"), "application/pdf", pdf(&pages))
            } else {
                let mut text = String::new();
                for p in 0..pages_each {
                    text.push_str(&format!("# Part {p}\n\n"));
                    for _ in 0..8 {
                        text.push_str(&sentence(&mut rng, 40));
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
            .fetch_one(&db.pool)
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
        .fetch_one(&db.pool)
        .await
        .unwrap();
        let pages = files * pages_each;
        println!(
            "| {kind} | {files} | {pages} | {chunks} | {secs:.2} | {:.1} | {:.1} |",
            pages as f64 / secs,
            chunks as f64 / secs
        );
    }

    // Retrieval: synthetic passages of the default user with vectors of the mock's model.
    let probe: Value = client
        .post(format!("{}/embeddings", model.base_url()))
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
    println!("\n| corpus | passages in scope | vectors | first query | p50 | p99 | mean | full-text side alone p50 | same with ts_rank_cd p50 | passages matched by words (mean) |");
    println!("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for (corpus, target) in [
        (Corpus::Worst, 10_000usize),
        (Corpus::Worst, 100_000),
        (Corpus::Zipf, 10_000),
        (Corpus::Zipf, 100_000),
    ] {
        if matches!(corpus, Corpus::Zipf) && target == 10_000 {
            // A new corpus: the worst case's passages go (the ingested files stay).
            sqlx::query("DELETE FROM files WHERE filename = 'synthetic.txt'")
                .execute(&db.pool)
                .await
                .unwrap();
        }
        let file = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO files (id, user_id, filename, content_type, kind, size_bytes, sha256, blob_key, status,
                                embedding_model)
             VALUES ($1, $2, 'synthetic.txt', 'text/plain', 'text', 1, $3, 'none', 'ready', $4)",
        )
        .bind(file)
        .bind(owner)
        .bind(file.to_string())
        .bind(&embed_model)
        .execute(&db.pool)
        .await
        .unwrap();
        let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM chunks WHERE user_id = $1")
            .bind(owner)
            .fetch_one(&db.pool)
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
                texts.push(corpus.sentence(&zipf, &mut rng, 60));
                idxs.push(idx);
                idx += 1;
                let mut v: Vec<f32> = (0..dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter_mut().for_each(|x| *x /= norm);
                vecs.push(v.iter().flat_map(|x| x.to_le_bytes()).collect());
            }
            sqlx::query(
                "INSERT INTO chunks (id, file_id, user_id, idx, text, char_start, char_end, token_count,
                                     embedding, embedding_model, embedding_dim)
                 SELECT u.id, $2, $3, u.idx, u.text, 0, 1, 80, u.emb, $6, $7
                   FROM unnest($1::uuid[], $4::int4[], $5::text[], $8::bytea[]) AS u(id, idx, text, emb)",
            )
            .bind(&ids)
            .bind(file)
            .bind(owner)
            .bind(&idxs)
            .bind(&texts)
            .bind(&embed_model)
            .bind(i32::try_from(dim).unwrap())
            .bind(&vecs)
            .execute(&db.pool)
            .await
            .unwrap();
            total += n;
        }
        sqlx::query("ANALYZE chunks")
            .execute(&db.pool)
            .await
            .unwrap();
        // The full-text side on its own (the statement `retrieve::text_ranked` runs), and
        // the same with `ts_rank_cd`, its ranking before issue 23's latency work.
        let files = all_files(&db.pool).await;
        let question = |rng: &mut rand::rngs::ThreadRng| corpus.sentence(&zipf, rng, 8);
        let text = text_side(&db.pool, owner, &files, "ts_rank", &mut rng, &question).await;
        let text_cd = text_side(&db.pool, owner, &files, "ts_rank_cd", &mut rng, &question).await;
        let matched = matched_by_words(&db.pool, owner, &mut rng, &question).await;
        // Cached: 100 timed queries (a p99 worth the name); read per query (the worst corpus
        // only): 30 (seconds each at 100k).
        let runs: &[(&str, &String, usize)] = match corpus {
            Corpus::Worst => &[
                ("cached", &base, 105),
                ("read per query", &base_uncached, 35),
            ],
            Corpus::Zipf => &[("cached", &base, 105)],
        };
        for &(label, url, runs) in runs {
            let mut times = Vec::new();
            let mut first = 0.0;
            for i in 0..runs {
                let q = question(&mut rng);
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
            println!(
                "| {} | {total} | {label} | {first:.1} ms | {:.1} ms | {:.1} ms | {mean:.1} ms | {:.1} ms | {:.1} ms | {matched:.0} |",
                corpus.name(),
                percentile(&times, 0.5),
                percentile(&times, 0.99),
                percentile(&text, 0.5),
                percentile(&text_cd, 0.5)
            );
        }
    }
    shutdown.cancel();
    model.shutdown.cancel();
    let _ = std::fs::remove_dir_all(&store);
}

/// p-th quantile of sorted `t`.
fn percentile(t: &[f64], p: f64) -> f64 {
    t[((t.len() as f64 - 1.0) * p).round() as usize]
}

/// Milliseconds of 10 runs of the full-text statement of `retrieve::text_ranked` with the rank
/// function `rank` (`ts_rank` or `ts_rank_cd`), sorted.
async fn text_side(
    pool: &sqlx::PgPool,
    owner: Uuid,
    files: &[Uuid],
    rank: &str,
    rng: &mut rand::rngs::ThreadRng,
    question: &impl Fn(&mut rand::rngs::ThreadRng) -> String,
) -> Vec<f64> {
    let sql = format!(
        "WITH q AS (
             SELECT NULLIF(replace(plainto_tsquery('english', $2)::text, '&', '|'), '')::tsquery AS q
         )
         SELECT c.id FROM chunks c, q
          WHERE q.q IS NOT NULL AND c.user_id = $1 AND c.file_id = ANY($3) AND c.tsv @@ q.q
          ORDER BY {rank}(c.tsv, q.q) DESC, c.id
          LIMIT 32"
    );
    let mut times = Vec::new();
    for _ in 0..10 {
        let q = question(rng);
        let started = Instant::now();
        let _: Vec<Uuid> = sqlx::query_scalar(&sql)
            .bind(owner)
            .bind(&q)
            .bind(files)
            .fetch_all(pool)
            .await
            .unwrap();
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
