//! `POST /embeddings`: the mock's deterministic vectors, and the OpenAI-compatible provider
//! against `fake-openai` (batching, retries, error classes).

use std::time::Duration;

use fake_openai::Behaviour;
use model_service::config::{Config, ProviderChoice};
use serde_json::{json, Value};

use crate::helpers::{assert_envelope, spawn_app, spawn_with, TestApp};

fn vectors(body: &Value) -> Vec<Vec<f32>> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            d["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

async fn embed(app: &TestApp, body: Value) -> Value {
    let response = app.post_json("/embeddings", &body).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn mock_embeddings_are_deterministic_unit_vectors_in_openai_shape() {
    let app = spawn_app().await;
    let body = embed(
        &app,
        json!({"input": ["The cat sat on the mat", "Stock markets fell"]}),
    )
    .await;
    assert_eq!(body["object"], "list");
    assert_eq!(body["model"], "mock/mock-embed");
    assert_eq!(body["data"][1]["object"], "embedding");
    assert_eq!(body["data"][1]["index"], 1);
    let v = vectors(&body);
    assert_eq!((v.len(), v[0].len()), (2, 256));
    for x in &v {
        assert!((cosine(x, x) - 1.0).abs() < 1e-4);
    }
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        body["usage"]["prompt_tokens"],
        body["usage"]["total_tokens"]
    );

    // A single string, named by alias or provider/model, gives the same vector every time.
    for model in [
        json!(null),
        json!("embeddings"),
        json!("mock/mock-embed"),
        json!("mock-embed"),
    ] {
        let again = embed(
            &app,
            json!({"model": model, "input": "The cat sat on the mat"}),
        )
        .await;
        assert_eq!(vectors(&again)[0], v[0], "{model}");
    }
}

#[tokio::test]
async fn mock_embeddings_rank_texts_sharing_words_first() {
    let app = spawn_app().await;
    let docs = [
        "Resetting your password: open Settings, then Security, then Reset password",
        "Our office is closed on public holidays",
        "Quarterly revenue grew by twelve percent",
        "Passwords must be at least twelve characters long",
    ];
    let query = "how do I reset my password";
    let mut input = vec![query];
    input.extend(docs);
    let v = vectors(&embed(&app, json!({"input": input})).await);
    let mut ranked: Vec<(f32, &str)> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| (cosine(&v[0], &v[i + 1]), *d))
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    assert_eq!(ranked[0].1, docs[0], "{ranked:?}");
    assert_eq!(ranked[1].1, docs[3], "{ranked:?}");
}

#[tokio::test]
async fn embeddings_refuse_bad_input_and_chat_models_with_the_envelope() {
    let app = spawn_app().await;
    for body in [
        json!({"input": []}),
        json!({"input": ["ok", ""]}),
        json!({"input": [1, 2]}),
        json!({}),
    ] {
        let response = app.post_json("/embeddings", &body).await;
        assert_envelope(response, 422, "VALIDATION_ERROR").await;
    }
    let response = app
        .post_json(
            "/embeddings",
            &json!({"model": "llama-3.3-70b-versatile", "input": "hi"}),
        )
        .await;
    let body = assert_envelope(response, 400, "INVALID_REQUEST").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not support embeddings"),
        "{body}"
    );
    // The mock's failure markers work in inputs: a retryable class is retried, then reported.
    let response = app
        .post_json(
            "/embeddings",
            &json!({"input": ["fine", "[mock:overloaded]"]}),
        )
        .await;
    let body = assert_envelope(response, 503, "PROVIDER_OVERLOADED").await;
    assert_eq!(body["error"]["retryable"], true, "{body}");
    let flaky = embed(&app, json!({"input": ["[mock:flaky=2] x"]})).await;
    assert_eq!(vectors(&flaky).len(), 1, "two failures retried away");
}

#[tokio::test]
async fn a_provider_without_an_embeddings_model_says_so() {
    let fake = fake_openai::spawn(Behaviour::default()).await.unwrap();
    let mut config = Config::for_tests();
    config.provider = ProviderChoice::Openai;
    config.openai_base_url = Some(fake.base_url());
    config.embeddings_model = Some(String::new());
    let app = spawn_with(config).await;
    let response = app.post_json("/embeddings", &json!({"input": "hi"})).await;
    assert_envelope(response, 400, "NO_EMBEDDINGS_MODEL").await;
    assert_eq!(fake.counters.embeddings(), 0);
}

async fn openai_app(fake: &fake_openai::Running) -> TestApp {
    let mut config = Config::for_tests();
    config.provider = ProviderChoice::Openai;
    config.openai_api_key = "fake-key".into();
    config.openai_base_url = Some(fake.base_url());
    config.embeddings_model = Some("text-embedding-fake".to_owned());
    config.provider_timeout = Duration::from_secs(1);
    config.provider_retry_base_delay = Some(Duration::from_millis(5));
    spawn_with(config).await
}

#[tokio::test]
async fn openai_embeddings_are_batched_and_keep_input_order() {
    let fake = fake_openai::spawn(Behaviour {
        api_key: Some("fake-key".into()),
        embedding_dims: 12,
        ..Behaviour::default()
    })
    .await
    .unwrap();
    let app = openai_app(&fake).await;
    let n = model_service::generation::EMBEDDINGS_BATCH_SIZE + 3;
    let texts: Vec<String> = (0..n).map(|i| format!("text number {i}")).collect();
    let body = embed(&app, json!({"input": texts})).await;
    assert_eq!(body["model"], "openai/text-embedding-fake");
    let v = vectors(&body);
    assert_eq!(v.len(), n);
    for (i, vector) in v.iter().enumerate() {
        assert_eq!(body["data"][i]["index"], i);
        assert_eq!(vector, &fake_openai::vector(&texts[i], 12), "input {i}");
    }
    assert_eq!(fake.counters.embeddings(), 2, "two batches");
    assert_eq!(fake.counters.embedded_texts(), n as u64);
    // The fake counts words: three per text.
    assert_eq!(body["usage"]["prompt_tokens"], 3 * n);
}

#[tokio::test]
async fn openai_embeddings_retry_overload_and_report_permanent_errors_once() {
    let flaky = fake_openai::spawn(Behaviour {
        fail_first: 2,
        fail_status: 503,
        ..Behaviour::default()
    })
    .await
    .unwrap();
    let app = openai_app(&flaky).await;
    let body = embed(&app, json!({"input": "hello"})).await;
    assert_eq!(vectors(&body).len(), 1);
    assert_eq!(
        (flaky.counters.embeddings(), flaky.counters.failed()),
        (3, 2)
    );

    let refusing = fake_openai::spawn(Behaviour {
        fail_first: u64::MAX,
        fail_status: 400,
        ..Behaviour::default()
    })
    .await
    .unwrap();
    let app = openai_app(&refusing).await;
    let response = app
        .post_json("/embeddings", &json!({"input": "hello"}))
        .await;
    let body = assert_envelope(response, 400, "INVALID_REQUEST").await;
    assert_eq!(body["error"]["retryable"], false);
    assert_eq!(refusing.counters.embeddings(), 1, "never retried");

    let limited = fake_openai::spawn(Behaviour {
        fail_first: u64::MAX,
        fail_status: 429,
        retry_after_secs: 0,
        ..Behaviour::default()
    })
    .await
    .unwrap();
    let app = openai_app(&limited).await;
    let response = app
        .post_json("/embeddings", &json!({"input": "hello"}))
        .await;
    assert_envelope(response, 429, "RATE_LIMITED").await;
    assert_eq!(limited.counters.embeddings(), 3, "RETRY_MAX_ATTEMPTS");
}

#[tokio::test]
async fn a_slow_embeddings_provider_times_out_as_504() {
    let slow = fake_openai::spawn(Behaviour {
        response_delay: Duration::from_secs(5),
        ..Behaviour::default()
    })
    .await
    .unwrap();
    let mut config = Config::for_tests();
    config.provider = ProviderChoice::Openai;
    config.openai_base_url = Some(slow.base_url());
    config.provider_timeout = Duration::from_millis(300);
    config.retry_max_attempts = 1;
    let app = spawn_with(config).await;
    let started = std::time::Instant::now();
    let response = app
        .post_json("/embeddings", &json!({"input": "hello"}))
        .await;
    assert_envelope(response, 504, "PROVIDER_TIMEOUT").await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
