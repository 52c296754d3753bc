//! Providers through the public API (issue 22): the cost of answers priced at the models'
//! prices (sync, streams, OpenAI calls), kept per user per day and per model, stored in
//! answers' `meta`, and limited by QUOTA_USD_PER_DAY; who may use which models (accounts and
//! API keys limited by an admin) and the model lists each caller sees; the admin providers
//! routes. The model service runs a providers file whose provider is the mock.

use std::time::Duration;

use e2e::{assert_envelope, sse_payloads, Stack};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A providers file in the temp directory, removed when dropped.
struct TomlFile(std::path::PathBuf);

impl TomlFile {
    fn new(text: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("sable-e2e-providers-{}.toml", uuid::Uuid::new_v4()));
        std::fs::write(&path, text).unwrap();
        Self(path)
    }
}

impl Drop for TomlFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The mock as provider `local` with a priced `big` model and a free `small` one, aliases
/// `default` (big) and `fast` (small). 0.1 USD per input token, 0.2 per output token.
const FILE: &str = r#"
[[providers]]
name = "local"
kind = "mock"
[[providers.models]]
id = "big"
capabilities = ["chat"]
context_window = 8192
price_input_per_mtok = 100000.0
price_output_per_mtok = 200000.0
[[providers.models]]
id = "small"
capabilities = ["chat"]
context_window = 4096
[aliases]
default = "local/big"
fast = "local/small"
"#;

async fn stack(file: &TomlFile, gateway_flags: &[&str]) -> Stack {
    let mut model = model_service::config::Config::for_tests();
    model.providers_file = Some(file.0.clone());
    Stack::start_with_model(model, gateway_flags).await
}

fn cost(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// `/auth/me` once the background usage of `requests` generations is counted.
async fn me_after(stack: &Stack, bearer: Option<&str>, requests: i64) -> Value {
    let mut me = Value::Null;
    for _ in 0..100 {
        let mut r = stack.client.get(stack.url("/api/v1/auth/me"));
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        me = r.send().await.unwrap().json().await.unwrap();
        if me["usage_today"]["requests"] == requests {
            return me;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("usage not counted: {me}");
}

#[tokio::test]
async fn answers_are_priced_kept_per_day_and_model_and_the_usd_quota_refuses() {
    let file = TomlFile::new(FILE);
    let stack = stack(&file, &["--quota-usd-per-day", "40"]).await;
    let before = stack.get_json("/api/v1/auth/me").await;
    assert_eq!(before["usage_today"]["cost_usd"], 0.0, "{before}");
    assert_eq!(before["usage_today"]["quota_usd"], 40.0, "{before}");

    // A sync answer carries its cost: 0.1 per prompt token, 0.2 per completion token.
    let sync: Value = stack
        .post(
            "/api/v1/generate",
            &json!({"prompt": "one two", "max_tokens": 3}),
        )
        .await
        .json()
        .await
        .unwrap();
    let u = &sync["usage"];
    let expected =
        u["prompt_tokens"].as_f64().unwrap() * 0.1 + u["completion_tokens"].as_f64().unwrap() * 0.2;
    assert!((cost(&sync["cost_usd"]) - expected).abs() < 1e-9, "{sync}");

    // A stream stored in a session keeps its cost in the answer's meta.
    let session: Value = stack
        .post("/api/v1/chat/sessions", &json!({"title": "Cost"}))
        .await
        .json()
        .await
        .unwrap();
    let sid = session["id"].as_str().unwrap();
    let body = stack
        .post(
            "/api/v1/generate/stream",
            &json!({"prompt": "three four", "max_tokens": 3, "session_id": sid}),
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        sse_payloads(&body).last().map(String::as_str),
        Some("[DONE]")
    );
    let detail = stack
        .get_json(&format!("/api/v1/chat/sessions/{sid}"))
        .await;
    let meta = &detail["messages"][1]["meta"];
    assert!(cost(&meta["cost_usd"]) > 0.0, "{detail}");
    assert_eq!(meta["model"], "local/big");

    // An OpenAI call is priced from the prices the model service names.
    let openai: Value = stack
        .post(
            "/v1/chat/completions",
            &json!({"model": "local/big", "max_tokens": 3,
                    "messages": [{"role": "user", "content": "five"}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let ou = &openai["usage"];
    let openai_cost = ou["prompt_tokens"].as_f64().unwrap() * 0.1
        + ou["completion_tokens"].as_f64().unwrap() * 0.2;
    // The free model costs nothing.
    let free = stack
        .post(
            "/api/v1/generate",
            &json!({"prompt": "x", "model": "fast", "max_tokens": 2}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(free["cost_usd"], 0.0, "{free}");

    let me = me_after(&stack, None, 4).await;
    let today = cost(&me["usage_today"]["cost_usd"]);
    let at_least = expected + cost(&meta["cost_usd"]) + openai_cost;
    assert!((today - at_least).abs() < 1e-6, "{me} vs {at_least}");

    // The dashboard's cost by model (admins; AUTH_MODE=off is the admin).
    let by_model = stack.get_json("/api/v1/admin/usage/models").await;
    let rows = by_model.as_array().unwrap();
    let big = rows.iter().find(|r| r["model"] == "local/big").unwrap();
    assert_eq!(big["requests"], 3, "{by_model}");
    assert!(
        (cost(&big["cost_usd"]) - at_least).abs() < 1e-6,
        "{by_model}"
    );
    assert!(rows
        .iter()
        .any(|r| r["model"] == "local/small" && r["cost_usd"] == 0.0));

    // Spend the rest; then every generation is refused with what was used and allowed.
    let mut n = 4;
    while cost(&stack.get_json("/api/v1/auth/me").await["usage_today"]["cost_usd"]) < 40.0 {
        let r = stack
            .post(
                "/api/v1/generate",
                &json!({"prompt": "spend", "max_tokens": 50}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        n += 1;
        me_after(&stack, None, n).await;
    }
    let refused = stack
        .post("/api/v1/generate", &json!({"prompt": "hi"}))
        .await;
    assert!(refused.headers().contains_key("retry-after"));
    let body = assert_envelope(refused, 429, "QUOTA_EXCEEDED").await;
    assert_eq!(body["error"]["allowed"], 40.0, "{body}");
    assert!(cost(&body["error"]["used"]) >= 40.0, "{body}");
    let openai = stack
        .post(
            "/v1/chat/completions",
            &json!({"model": "fast", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(openai.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn batch_answers_and_openai_aliases_are_priced_for_the_model_that_answered() {
    let file = TomlFile::new(FILE);
    let stack = stack(&file, &["--quota-usd-per-day", "0.5"]).await;

    // A batch job's answers are priced and counted like chat: per user and per model.
    let job: Value = stack
        .post(
            "/api/v1/jobs",
            &json!({"prompts": ["one two", "three"], "model": "default", "max_tokens": 3}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = job["job_id"].as_str().unwrap().to_owned();
    stack
        .wait_for_job(&id, "completed", std::time::Duration::from_secs(20))
        .await;
    let me = me_after(&stack, None, 2).await;
    let usage = &me["usage_today"];
    let expected = usage["prompt_tokens"].as_f64().unwrap() * 0.1
        + usage["completion_tokens"].as_f64().unwrap() * 0.2;
    let spent = cost(&usage["cost_usd"]);
    assert!(spent > 0.5 && (spent - expected).abs() < 1e-6, "{me}");
    let by_model = stack.get_json("/api/v1/admin/usage/models").await;
    assert_eq!(
        by_model,
        json!([{"model": "local/big", "requests": 2,
                "prompt_tokens": usage["prompt_tokens"],
                "completion_tokens": usage["completion_tokens"], "cost_usd": usage["cost_usd"]}])
    );

    // ... and count towards the USD quota: further generations and jobs are refused.
    let refused = stack
        .post("/api/v1/generate", &json!({"prompt": "hi"}))
        .await;
    assert_envelope(refused, 429, "QUOTA_EXCEEDED").await;
    let refused = stack.post("/api/v1/jobs", &json!({"prompts": ["x"]})).await;
    assert_envelope(refused, 429, "QUOTA_EXCEEDED").await;
}

#[tokio::test]
async fn openai_calls_by_alias_are_counted_for_the_model_that_answered() {
    let file = TomlFile::new(FILE);
    let stack = stack(&file, &[]).await;
    let ask = |stream: bool| {
        json!({"model": "default", "max_tokens": 3, "stream": stream,
               "messages": [{"role": "user", "content": "five"}]})
    };
    let whole = stack.post("/v1/chat/completions", &ask(false)).await;
    assert_eq!(whole.status(), StatusCode::OK);
    let streamed = stack
        .post("/v1/chat/completions", &ask(true))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        sse_payloads(&streamed).last().map(String::as_str),
        Some("[DONE]")
    );
    me_after(&stack, None, 2).await;
    let by_model = stack.get_json("/api/v1/admin/usage/models").await;
    let rows = by_model.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{by_model}");
    assert_eq!(rows[0]["model"], "local/big", "{by_model}");
    assert_eq!(rows[0]["requests"], 2, "{by_model}");
    assert!(cost(&rows[0]["cost_usd"]) > 0.0, "{by_model}");
}

const SECRET: &str = "e2e-test-signing-secret-0123456789abcdef";
const PASSWORD: &str = "correct horse battery";

async fn register(stack: &Stack, email: &str) -> Value {
    e2e::sign_up(
        &stack.client,
        &stack.url(""),
        &json!({"email": email, "password": PASSWORD}),
    )
    .await
}

async fn call(
    stack: &Stack,
    method: Method,
    path: &str,
    bearer: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut request = stack
        .client
        .request(method, stack.url(path))
        .bearer_auth(bearer);
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap()
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_admin_limits_keys_and_accounts_to_models_and_lists_show_only_those() {
    let file = TomlFile::new(FILE);
    let stack = stack(&file, &["--auth-mode", "jwt", "--jwt-secret", SECRET]).await;
    let admin = register(&stack, "admin@example.com").await;
    let admin = admin["access_token"].as_str().unwrap().to_owned();
    let key: Value = call(
        &stack,
        Method::POST,
        "/api/v1/auth/keys",
        &admin,
        Some(&json!({"name": "script"})),
    )
    .await
    .json()
    .await
    .unwrap();
    let (key_id, key) = (key["id"].as_str().unwrap(), key["key"].as_str().unwrap());

    // Unlimited, the key sees both models, with provider, capabilities and context window.
    let all: Value = call(&stack, Method::GET, "/v1/models", key, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&all, "data"), ["local/big", "local/small"]);
    assert_eq!(all["data"][0]["provider"], "local");
    assert_eq!(all["data"][0]["capabilities"], json!(["chat"]));
    assert_eq!(all["data"][0]["context_window"], 8192);

    let limited = call(
        &stack,
        Method::PUT,
        &format!("/api/v1/admin/keys/{key_id}/models"),
        &admin,
        Some(&json!({"models": ["fast"]})),
    )
    .await;
    assert_eq!(limited.status(), StatusCode::OK);

    // The key sees and may use only `fast` (its model, by any name).
    let native: Value = call(&stack, Method::GET, "/api/v1/models", key, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&native, "models"), ["local/small"]);
    assert_eq!(native["default"], "local/small");
    assert_eq!(native["models"][0]["context_window"], 4096);
    let openai: Value = call(&stack, Method::GET, "/v1/models", key, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&openai, "data"), ["local/small"]);

    let refused = call(
        &stack,
        Method::POST,
        "/api/v1/generate",
        key,
        Some(&json!({"prompt": "hi", "model": "local/big"})),
    )
    .await;
    let body = assert_envelope(refused, 403, "MODEL_NOT_ALLOWED").await;
    assert_eq!(body["error"]["allowed_models"], json!(["fast"]), "{body}");
    let stream = call(
        &stack,
        Method::POST,
        "/api/v1/generate/stream",
        key,
        Some(&json!({"prompt": "hi", "model": "big"})),
    )
    .await;
    assert_envelope(stream, 403, "MODEL_NOT_ALLOWED").await;
    let openai = call(
        &stack,
        Method::POST,
        "/v1/chat/completions",
        key,
        Some(&json!({"model": "local/big", "messages": [{"role": "user", "content": "x"}]})),
    )
    .await;
    assert_eq!(openai.status(), StatusCode::FORBIDDEN);
    let job = call(
        &stack,
        Method::POST,
        "/api/v1/jobs",
        key,
        Some(&json!({"prompts": ["a"], "model": "default"})),
    )
    .await;
    assert_envelope(job, 403, "MODEL_NOT_ALLOWED").await;

    // No model named: the key's first model answers; named by alias or id it answers too.
    for model in [None, Some("fast"), Some("local/small"), Some("small")] {
        let mut request = json!({"prompt": "hi", "max_tokens": 2});
        if let Some(m) = model {
            request["model"] = json!(m);
        }
        let answer = call(
            &stack,
            Method::POST,
            "/api/v1/generate",
            key,
            Some(&request),
        )
        .await;
        assert_eq!(answer.status(), StatusCode::OK, "{model:?}");
        let answer: Value = answer.json().await.unwrap();
        assert_eq!(answer["model"], "local/small", "{model:?}");
    }
    // The admin's own sign-in is not limited by the key's list.
    let own: Value = call(&stack, Method::GET, "/api/v1/models", &admin, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&own, "models"), ["local/big", "local/small"]);

    // An account limited by an admin: its sign-in sees and uses only that.
    let user = register(&stack, "user@example.com").await;
    let (user_id, token) = (
        user["user"]["id"].as_str().unwrap().to_owned(),
        user["access_token"].as_str().unwrap().to_owned(),
    );
    let forbidden = call(
        &stack,
        Method::PUT,
        &format!("/api/v1/admin/users/{user_id}/models"),
        &token,
        Some(&json!({"models": ["fast"]})),
    )
    .await;
    assert_envelope(forbidden, 403, "FORBIDDEN").await;
    let set = call(
        &stack,
        Method::PUT,
        &format!("/api/v1/admin/users/{user_id}/models"),
        &admin,
        Some(&json!({"models": ["local/big"]})),
    )
    .await;
    assert_eq!(set.status(), StatusCode::OK);
    let seen: Value = call(&stack, Method::GET, "/api/v1/models", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&seen, "models"), ["local/big"]);
    let refused = call(
        &stack,
        Method::POST,
        "/api/v1/generate",
        &token,
        Some(&json!({"prompt": "hi", "model": "fast"})),
    )
    .await;
    let body = assert_envelope(refused, 403, "MODEL_NOT_ALLOWED").await;
    assert_eq!(body["error"]["allowed_models"], json!(["local/big"]));
    // `default` names local/big: permitted.
    let ok = call(
        &stack,
        Method::POST,
        "/api/v1/generate",
        &token,
        Some(&json!({"prompt": "hi", "max_tokens": 2})),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);

    // Lifting the limit; bad lists and unknown ids.
    let lifted = call(
        &stack,
        Method::PUT,
        &format!("/api/v1/admin/users/{user_id}/models"),
        &admin,
        Some(&json!({"models": null})),
    )
    .await;
    assert_eq!(lifted.status(), StatusCode::OK);
    let seen: Value = call(&stack, Method::GET, "/api/v1/models", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&seen, "models").len(), 2);
    let bad = call(
        &stack,
        Method::PUT,
        &format!("/api/v1/admin/users/{user_id}/models"),
        &admin,
        Some(&json!({"models": [""]})),
    )
    .await;
    assert_envelope(bad, 422, "VALIDATION_ERROR").await;
    // Names the registry does not know are refused, named; the list in force stays.
    for path in [
        format!("/api/v1/admin/users/{user_id}/models"),
        format!("/api/v1/admin/keys/{key_id}/models"),
    ] {
        let unknown = call(
            &stack,
            Method::PUT,
            &path,
            &admin,
            Some(&json!({"models": ["fast", "local/nope", "nope"]})),
        )
        .await;
        let body = assert_envelope(unknown, 400, "UNKNOWN_MODEL").await;
        assert_eq!(
            body["error"]["unknown_models"],
            json!(["local/nope", "nope"]),
            "{body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("`local/nope`"), "{message}");
    }
    let seen: Value = call(&stack, Method::GET, "/api/v1/models", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&seen, "models").len(), 2, "still unlimited");
    let missing = call(
        &stack,
        Method::PUT,
        "/api/v1/admin/keys/not-a-key/models",
        &admin,
        Some(&json!({"models": ["fast"]})),
    )
    .await;
    assert_envelope(missing, 404, "NOT_FOUND").await;
}

/// A gateway remembers a caller's model lists for `SIGN_IN_CHECK_SECS` (a generate costs no
/// query); a list changed through another replica (here: written to the database directly)
/// is in force here once that interval has passed.
#[tokio::test]
async fn a_list_changed_on_another_replica_applies_within_the_check_interval() {
    let file = TomlFile::new(FILE);
    let stack = stack(
        &file,
        &[
            "--auth-mode",
            "jwt",
            "--jwt-secret",
            SECRET,
            "--sign-in-check-secs",
            "1",
        ],
    )
    .await;
    let user = register(&stack, "replica@example.com").await;
    let (user_id, token) = (
        user["user"]["id"].as_str().unwrap().to_owned(),
        user["access_token"].as_str().unwrap().to_owned(),
    );
    let big = json!({"prompt": "hi", "model": "local/big", "max_tokens": 2});
    let first = call(&stack, Method::POST, "/api/v1/generate", &token, Some(&big)).await;
    assert_eq!(first.status(), StatusCode::OK);

    sqlx::query("UPDATE users SET allowed_models = $2 WHERE id = $1::uuid")
        .bind(&user_id)
        .bind(vec!["fast".to_owned()])
        .execute(&stack.db.pool)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        let r = call(&stack, Method::POST, "/api/v1/generate", &token, Some(&big)).await;
        if r.status() == StatusCode::FORBIDDEN {
            assert_envelope(r, 403, "MODEL_NOT_ALLOWED").await;
            break;
        }
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "the new list was not in force after the 1 s check interval"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_admin_providers_page_data_and_reload_come_through_the_gateway() {
    let file = TomlFile::new(FILE);
    let stack = stack(&file, &[]).await;
    let answer = stack
        .post(
            "/api/v1/generate",
            &json!({"prompt": "hi", "max_tokens": 2}),
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let state = stack.get_json("/api/v1/admin/providers").await;
    let local = &state["providers"][0];
    assert_eq!(local["name"], "local", "{state}");
    assert_eq!(local["status"], "up");
    assert_eq!(local["requests"], 1);
    assert_eq!(local["error_rate"], 0.0);
    assert!(local["latency_p50_ms"].as_f64().is_some(), "{state}");
    assert_eq!(local["models"], json!(["local/big", "local/small"]));

    let reloaded = stack
        .post("/api/v1/admin/providers/reload", &json!({}))
        .await;
    assert_eq!(reloaded.status(), StatusCode::OK);
    let reloaded: Value = reloaded.json().await.unwrap();
    // The unchanged provider keeps its figures across the reload.
    assert_eq!(reloaded["providers"][0]["requests"], 1, "{reloaded}");

    std::fs::write(
        &file.0,
        "[[providers]]\nname = \"x\"\nbase_url = \"ftp://no\"\n",
    )
    .unwrap();
    let refused = stack
        .post("/api/v1/admin/providers/reload", &json!({}))
        .await;
    let body = assert_envelope(refused, 400, "PROVIDERS_FILE_INVALID").await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("line"),
        "{body}"
    );
}
