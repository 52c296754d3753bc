//! PROVIDERS_FILE: several real OpenAI-compatible servers (`fake-openai` on their own ports,
//! each with its own behaviour: answering, failing, rate-limiting, refusing, slow) and the
//! mock, routed by alias, `provider/model` and bare id, with fallback chains, cool-downs,
//! balancing and reload.

use std::path::PathBuf;
use std::time::Duration;

use fake_openai::{Behaviour, Running};
use model_service::config::Config;
use serde_json::{json, Value};

use crate::helpers::{assert_envelope, spawn_with, TestApp};

/// A providers file in the temp directory, removed when dropped.
pub struct TomlFile(pub PathBuf);

impl TomlFile {
    pub fn new(text: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("sable-providers-{}.toml", uuid::Uuid::new_v4()));
        std::fs::write(&path, text).unwrap();
        Self(path)
    }
    pub fn rewrite(&self, text: &str) {
        std::fs::write(&self.0, text).unwrap();
    }
}

impl Drop for TomlFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub fn config_for(file: &TomlFile) -> Config {
    let mut config = Config::for_tests();
    config.providers_file = Some(file.0.clone());
    config.provider_retry_base_delay = Some(Duration::from_millis(5));
    config.provider_timeout = Duration::from_secs(2);
    config.first_token_timeout = Duration::from_secs(2);
    config
}

pub async fn fake(behaviour: Behaviour) -> Running {
    fake_openai::spawn(behaviour).await.unwrap()
}

/// `[[providers]]` for a fake, with models (and their fallbacks) and extra settings.
pub fn provider(name: &str, fake: &Running, models: &[(&str, &[&str])], extra: &str) -> String {
    let mut out = format!(
        "[[providers]]\nname = \"{name}\"\nbase_url = \"{}\"\n{extra}\n",
        fake.base_url()
    );
    for (id, fallbacks) in models {
        let fallbacks: Vec<String> = fallbacks.iter().map(|f| format!("\"{f}\"")).collect();
        out.push_str(&format!(
            "[[providers.models]]\nid = \"{id}\"\nfallbacks = [{}]\n",
            fallbacks.join(", ")
        ));
    }
    out
}

async fn answer(app: &TestApp, model: &str) -> Value {
    let response = app
        .post_json(
            "/inference",
            &json!({"prompt": "hi", "model": model, "max_tokens": 3}),
        )
        .await;
    assert_eq!(response.status(), 200, "{model}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn requests_are_routed_by_alias_provider_and_unique_bare_id() {
    let (a, b) = (
        fake(Behaviour::default()).await,
        fake(Behaviour::default()).await,
    );
    let file = TomlFile::new(&format!(
        "{}{}[aliases]\ndefault = \"a/gpt-a\"\n",
        provider("a", &a, &[("gpt-a", &[]), ("shared", &[])], ""),
        provider("b", &b, &[("gpt-b", &[]), ("shared", &[])], ""),
    ));
    let app = spawn_with(config_for(&file)).await;
    let body = app
        .post_json("/inference", &json!({"prompt": "hi"}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(body["model"], "a/gpt-a", "{body}");
    // The model is not priced: it cost nothing.
    assert_eq!(body["cost_usd"], 0.0, "{body}");
    assert_eq!(answer(&app, "gpt-b").await["model"], "b/gpt-b");
    assert_eq!(answer(&app, "b/shared").await["model"], "b/shared");
    assert_eq!((a.counters.chat(), b.counters.chat()), (1, 2));

    let response = app
        .post_json("/inference", &json!({"prompt": "hi", "model": "shared"}))
        .await;
    let body = assert_envelope(response, 400, "AMBIGUOUS_MODEL").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("a/shared, b/shared"),
        "{body}"
    );
    let response = app
        .post_json("/inference", &json!({"prompt": "hi", "model": "nowhere"}))
        .await;
    assert_envelope(response, 404, "UNKNOWN_MODEL").await;
    // Streams route the same way.
    let text = app
        .post_json(
            "/inference/stream",
            &json!({"prompt": "hi", "model": "gpt-b"}),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    assert_eq!(b.counters.chat(), 3);

    let list: Value = app.get("/api/v1/models").await.json().await.unwrap();
    assert_eq!(list["default"], "a/gpt-a");
    let ids: Vec<&str> = list["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a/gpt-a", "a/shared", "b/gpt-b", "b/shared"]);
    assert_eq!(list["models"][2]["provider"], "b");
    assert_eq!(list["models"][2]["provider_kind"], "openai");
    assert_eq!(list["models"][2]["capabilities"], json!(["chat"]));
}

#[tokio::test]
async fn fallbacks_cross_providers_for_upstream_failures_but_never_for_the_callers_own() {
    let down = fake(Behaviour {
        fail_first: u64::MAX,
        fail_status: 503,
        ..Behaviour::default()
    })
    .await;
    let limited = fake(Behaviour {
        fail_first: u64::MAX,
        fail_status: 429,
        retry_after_secs: 0,
        ..Behaviour::default()
    })
    .await;
    let refusing = fake(Behaviour {
        fail_first: u64::MAX,
        fail_status: 400,
        ..Behaviour::default()
    })
    .await;
    let ok = fake(Behaviour::default()).await;
    let file = TomlFile::new(&format!(
        "{}{}{}{}",
        provider(
            "down",
            &down,
            &[("m", &["ok/m"])],
            "failure_threshold = 100"
        ),
        provider(
            "limited",
            &limited,
            &[("m", &["ok/m"])],
            "failure_threshold = 100"
        ),
        provider("refusing", &refusing, &[("m", &["ok/m"])], ""),
        provider("ok", &ok, &[("m", &[])], ""),
    ));
    let app = spawn_with(config_for(&file)).await;

    assert_eq!(answer(&app, "down/m").await["model"], "ok/m");
    assert_eq!(
        down.counters.chat(),
        3,
        "retried RETRY_MAX_ATTEMPTS times first"
    );
    // A rate limit on one provider says nothing about another: the fallback answers.
    assert_eq!(answer(&app, "limited/m").await["model"], "ok/m");
    assert_eq!(limited.counters.chat(), 3);
    assert_eq!(ok.counters.chat(), 2);

    let response = app
        .post_json(
            "/inference",
            &json!({"prompt": "hi", "model": "refusing/m"}),
        )
        .await;
    let body = assert_envelope(response, 400, "INVALID_REQUEST").await;
    assert_eq!(body["error"]["retryable"], false);
    assert_eq!(
        refusing.counters.chat(),
        1,
        "a caller's fault is not retried"
    );
    assert_eq!(ok.counters.chat(), 2, "nor sent to the fallback");

    // A stream falls back before its first token just the same.
    let text = app
        .post_json(
            "/inference/stream",
            &json!({"prompt": "hi", "model": "down/m", "max_tokens": 3}),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains("data: \"Sable \""), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    assert_eq!(ok.counters.chat(), 3);
}

#[tokio::test]
async fn a_failing_provider_cools_down_is_routed_around_and_recovers() {
    let flaky = fake(Behaviour {
        fail_first: 2,
        fail_status: 503,
        ..Behaviour::default()
    })
    .await;
    let ok = fake(Behaviour::default()).await;
    let file = TomlFile::new(&format!(
        "{}{}",
        provider(
            "flaky",
            &flaky,
            &[("m", &["ok/m"]), ("solo", &[])],
            "failure_threshold = 2\ncooldown_secs = 0.4"
        ),
        provider("ok", &ok, &[("m", &[])], ""),
    ));
    let mut config = config_for(&file);
    config.retry_max_attempts = 1;
    let app = spawn_with(config).await;

    assert_eq!(answer(&app, "flaky/m").await["model"], "ok/m");
    assert_eq!(answer(&app, "flaky/m").await["model"], "ok/m");
    assert_eq!(flaky.counters.chat(), 2);
    // Two failures in a row: cooling down, visible in readiness and metrics.
    let response = app.get("/health/ready").await;
    assert_eq!(response.status(), 200, "the other provider is up");
    let ready: Value = response.json().await.unwrap();
    assert_eq!(ready["status"], "degraded");
    assert_eq!(
        ready["checks"]["provider:flaky"]["status"], "cooling_down",
        "{ready}"
    );
    assert_eq!(ready["checks"]["provider:ok"]["status"], "up");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("model_provider_circuit_open{provider=\"flaky\"} 1"),
        "{metrics}"
    );
    let state: Value = app.get("/providers").await.json().await.unwrap();
    assert_eq!(state["providers"][0]["status"], "cooling_down", "{state}");

    // While cooling down it is not called: the fallback answers, and a model with nothing to
    // fall back to is refused at once with Retry-After.
    assert_eq!(answer(&app, "flaky/m").await["model"], "ok/m");
    let response = app
        .post_json(
            "/inference",
            &json!({"prompt": "hi", "model": "flaky/solo"}),
        )
        .await;
    assert!(response.headers().contains_key("retry-after"));
    let body = assert_envelope(response, 503, "PROVIDER_OVERLOADED").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cooling down"),
        "{body}"
    );
    assert_eq!(flaky.counters.chat(), 2);

    // After the cool-down it is tried again, and its success closes the breaker.
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(answer(&app, "flaky/m").await["model"], "flaky/m");
    let ready: Value = app.get("/health/ready").await.json().await.unwrap();
    assert_eq!(ready["status"], "ready", "{ready}");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("model_provider_circuit_open{provider=\"flaky\"} 0"),
        "{metrics}"
    );
}

#[tokio::test]
async fn alias_targets_share_the_load_by_requests_in_flight() {
    let slow = || Behaviour {
        response_delay: Duration::from_millis(300),
        ..Behaviour::default()
    };
    let (one, two) = (fake(slow()).await, fake(slow()).await);
    let file = TomlFile::new(&format!(
        "{}{}[aliases]\nfast = [\"one/m\", \"two/m\"]\n",
        provider("one", &one, &[("m", &[])], ""),
        provider("two", &two, &[("m", &[])], ""),
    ));
    let app = spawn_with(config_for(&file)).await;
    let answers = futures::future::join_all((0..6).map(|_| answer(&app, "fast"))).await;
    assert_eq!((one.counters.chat(), two.counters.chat()), (3, 3));
    assert!(answers
        .iter()
        .all(|a| a["model"] == "one/m" || a["model"] == "two/m"));
}

#[tokio::test]
async fn embeddings_use_the_alias_on_its_provider_and_refuse_chat_models() {
    let emb = fake(Behaviour {
        embedding_dims: 8,
        ..Behaviour::default()
    })
    .await;
    let file = TomlFile::new(&format!(
        "[[providers]]\nname = \"local\"\nkind = \"mock\"\n[[providers.models]]\nid = \"chatty\"\n\n\
         [[providers]]\nname = \"vec\"\nbase_url = \"{}\"\n[[providers.models]]\nid = \"e5\"\ncapabilities = [\"embeddings\"]\nprice_input_per_mtok = 0.02\n\n\
         [aliases]\ndefault = \"local/chatty\"\nembeddings = \"vec/e5\"\n",
        emb.base_url()
    ));
    let app = spawn_with(config_for(&file)).await;
    let body: Value = app
        .post_json("/embeddings", &json!({"input": ["a", "b"]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["model"], "vec/e5");
    let cost = body["cost_usd"].as_f64().unwrap();
    // Priced at $0.02 per million input tokens; fake-openai counts words (2 here).
    assert!((cost - 2.0 * 0.02 / 1e6).abs() < 1e-15, "{body}");
    assert_eq!(body["data"][1]["embedding"].as_array().unwrap().len(), 8);
    assert_eq!(emb.counters.embeddings(), 1);
    let response = app
        .post_json("/embeddings", &json!({"model": "chatty", "input": "a"}))
        .await;
    let body = assert_envelope(response, 400, "INVALID_REQUEST").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not support embeddings"),
        "{body}"
    );
    // The mock answers chat under its provider's name.
    assert_eq!(answer(&app, "chatty").await["model"], "local/chatty");
}

#[tokio::test]
async fn reload_switches_providers_and_keeps_the_old_ones_when_the_file_is_wrong() {
    let (a, b) = (
        fake(Behaviour::default()).await,
        fake(Behaviour::default()).await,
    );
    let first = format!(
        "{}[aliases]\ndefault = \"a/m\"\n",
        provider("a", &a, &[("m", &[])], "")
    );
    let file = TomlFile::new(&first);
    let app = spawn_with(config_for(&file)).await;
    assert_eq!(answer(&app, "").await["model"], "a/m");

    file.rewrite(&format!(
        "{}{}[aliases]\ndefault = \"b/m\"\n",
        provider("a", &a, &[("m", &[])], ""),
        provider("b", &b, &[("m", &[])], "")
    ));
    let response = app.post_json("/providers/reload", &json!({})).await;
    assert_eq!(response.status(), 200);
    let state: Value = response.json().await.unwrap();
    assert_eq!(state["providers"].as_array().unwrap().len(), 2, "{state}");
    assert_eq!(answer(&app, "").await["model"], "b/m");

    file.rewrite("[[providers]]\nname = \"a\"\nbase_url = \"ftp://nope\"\n");
    let response = app.post_json("/providers/reload", &json!({})).await;
    let body = assert_envelope(response, 400, "PROVIDERS_FILE_INVALID").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 3"),
        "{body}"
    );
    assert_eq!(
        answer(&app, "").await["model"],
        "b/m",
        "the old providers stay"
    );
}

#[tokio::test]
async fn start_up_refuses_a_file_with_a_missing_key_variable_in_one_sentence() {
    let file = TomlFile::new(
        "[[providers]]\nname = \"cloud\"\nbase_url = \"https://api.example.com/v1\"\napi_key_env = \"SABLE_TEST_SURELY_UNSET_KEY\"\n",
    );
    let e = model_service::spawn(config_for(&file)).await.err().unwrap();
    let text = format!("{e:#}");
    assert!(
        text.ends_with("line 4: provider `cloud` reads its key from SABLE_TEST_SURELY_UNSET_KEY, which is not set"),
        "{text}"
    );
}

#[tokio::test]
async fn discovered_models_are_refreshed_on_the_interval() {
    let source = fake(Behaviour {
        models: vec!["first".to_owned()],
        ..Behaviour::default()
    })
    .await;
    let file = TomlFile::new(&format!(
        "[[providers]]\nname = \"d\"\nbase_url = \"{}\"\ndiscover = true\n[aliases]\ndefault = \"d/first\"\n",
        source.base_url()
    ));
    let mut config = config_for(&file);
    config.discovery_refresh_secs = 1;
    let app = spawn_with(config).await;
    let ids = |list: &Value| -> Vec<String> {
        list["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let list: Value = app.get("/api/v1/models").await.json().await.unwrap();
    assert_eq!(ids(&list), ["d/first"]);
    let response = app
        .post_json("/inference", &json!({"prompt": "hi", "model": "second"}))
        .await;
    assert_envelope(response, 404, "UNKNOWN_MODEL").await;

    source.set_models(&["first", "second"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let list: Value = app.get("/api/v1/models").await.json().await.unwrap();
        if ids(&list) == ["d/first", "d/second"] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new model was not discovered: {list}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The bare id now resolves (only listed ids do), on the same provider.
    assert_eq!(answer(&app, "second").await["model"], "d/second");
    assert!(source.counters.model_lists() >= 2);
}
