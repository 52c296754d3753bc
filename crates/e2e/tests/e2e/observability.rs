//! Observability: the metrics an operator looks at exist on every service's `/metrics` after a
//! stream and a job, no label carries an id, and every metric the Grafana dashboard and the
//! Prometheus alert rules query is one the services really export.

use std::collections::BTreeSet;
use std::time::Duration;

use e2e::{sse_payloads, Stack};
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

/// One sample line of the Prometheus text format: name and label values.
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
}

/// Parses the samples of a Prometheus text exposition (comments skipped).
fn parse(exposition: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in exposition.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let name = line[..name_end].to_owned();
        let mut labels = Vec::new();
        if line[name_end..].starts_with('{') {
            let mut rest = &line[name_end + 1..];
            loop {
                rest = rest.trim_start_matches([',', ' ']);
                if rest.starts_with('}') || rest.is_empty() {
                    break;
                }
                let eq = rest.find("=\"").expect("label =\"");
                let key = rest[..eq].to_owned();
                rest = &rest[eq + 2..];
                let mut value = String::new();
                let mut chars = rest.char_indices();
                let end = loop {
                    let (i, c) = chars.next().expect("closing quote");
                    match c {
                        '\\' => {
                            let (_, escaped) = chars.next().expect("escape");
                            value.push(if escaped == 'n' { '\n' } else { escaped });
                        }
                        '"' => break i,
                        c => value.push(c),
                    }
                };
                labels.push((key, value));
                rest = &rest[end + 1..];
            }
        }
        samples.push(Sample { name, labels });
    }
    samples
}

/// A metric family's name: a sample name without the histogram/summary suffixes.
fn family(name: &str) -> &str {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name)
}

/// Whether `text` holds a UUID anywhere (any case, with or without hyphens).
fn holds_uuid(text: &str) -> bool {
    let hex: Vec<char> = text.chars().collect();
    (0..hex.len()).any(|i| {
        [36usize, 32].iter().any(|&len| {
            i + len <= hex.len()
                && Uuid::parse_str(&hex[i..i + len].iter().collect::<String>()).is_ok()
        })
    })
}

async fn scrape(client: &reqwest::Client, base: &str) -> String {
    let response = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status(), StatusCode::OK, "{base}/metrics");
    response.text().await.expect("metrics body")
}

/// Drives what an operator's figures come from: id routes (known and unknown), a stream, a
/// failing stream, a whole completion, a job with a slow prompt (so its lease is renewed) and
/// a prompt the provider refuses; then a rate-limited request and a failed sign-in on stacks of
/// their own. Returns the main stack.
async fn drive_everything() -> Stack {
    let stack = Stack::start().await;

    // Id routes: each id must stay out of every label.
    let session: serde_json::Value = stack
        .post("/api/v1/chat/sessions", &json!({"title": "Metrics"}))
        .await
        .json()
        .await
        .unwrap();
    let sid = session["id"].as_str().unwrap().to_owned();
    let unknown = Uuid::new_v4();
    for path in [
        format!("/api/v1/chat/sessions/{sid}"),
        format!("/api/v1/chat/sessions/{unknown}"),
        format!("/api/v1/chat/sessions/{unknown}/export"),
        format!("/api/v1/jobs/{unknown}"),
        format!("/api/v1/no-such-route/{unknown}"),
        format!("/{unknown}"),
    ] {
        stack.get(&path).await;
    }
    stack
        .post(&format!("/api/v1/jobs/{unknown}/cancel"), &json!({}))
        .await;

    // A stream stored in the session, a stream that fails, a whole completion.
    let response = stack
        .post(
            "/api/v1/generate/stream",
            &json!({"prompt": "Tell me about metrics", "session_id": sid}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.unwrap();
    assert_eq!(
        sse_payloads(&body).last().map(String::as_str),
        Some("[DONE]"),
        "{body}"
    );
    let failing = stack
        .post(
            "/api/v1/generate/stream",
            &json!({"prompt": "[mock:error] x"}),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(failing.contains("[ERROR]"), "{failing}");
    let whole = stack
        .post("/api/v1/generate", &json!({"prompt": "hello"}))
        .await;
    assert_eq!(whole.status(), StatusCode::OK);
    // A provider failure the model service retries, once.
    let retried = stack
        .post(
            "/api/v1/generate/stream",
            &json!({"prompt": "[mock:flaky=1] again"}),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(retried.ends_with("data: [DONE]\n\n"), "{retried}");
    // A job whose prompt keeps failing with a retryable class: the worker releases it for a
    // retry (it keeps retrying in the background; nobody waits for it).
    let flaky_job = stack
        .post(
            "/api/v1/jobs",
            &json!({"prompts": ["[mock:network] unreachable"]}),
        )
        .await;
    assert_eq!(flaky_job.status(), StatusCode::ACCEPTED);

    // A job: one slow prompt (longer than the 1 s heartbeat) and one the provider refuses.
    let job: serde_json::Value = stack
        .post(
            "/api/v1/jobs",
            &json!({"prompts": ["[mock:delay=1600] slow", "[mock:reject] no"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = job["job_id"].as_str().unwrap().to_owned();
    stack
        .wait_for_job(&id, "completed", Duration::from_secs(30))
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !scrape(&stack.client, &stack.worker_url)
        .await
        .contains("worker_jobs_retried_total{")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no job retry was counted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Rate limits and sign-in failures have their own stacks (the recorder is per process).
    let limited = Stack::start_with(&[
        "--rate-limit",
        "on",
        "--rate-limit-generate-per-minute",
        "60",
        "--rate-limit-generate-burst",
        "1",
    ])
    .await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            limited
                .post("/api/v1/generate", &json!({"prompt": "hi"}))
                .await
                .status(),
        );
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let accounts = Stack::start_with(&[
        "--auth-mode",
        "jwt",
        "--jwt-secret",
        "e2e-observability-secret-0123456789abcdef",
    ])
    .await;
    let refused = accounts
        .client
        .get(accounts.url("/api/v1/chat/sessions"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    stack
}

/// The metric names every service exports once [`drive_everything`] ran, and all samples.
async fn exported(stack: &Stack) -> (BTreeSet<String>, Vec<(String, Sample)>) {
    let mut names = BTreeSet::new();
    let mut samples = Vec::new();
    for (service, base) in [
        ("gateway", stack.gateway.as_str()),
        ("model-service", stack.model_url.as_str()),
        ("worker-service", stack.worker_url.as_str()),
    ] {
        for sample in parse(&scrape(&stack.client, base).await) {
            names.insert(family(&sample.name).to_owned());
            samples.push((service.to_owned(), sample));
        }
    }
    (names, samples)
}

/// What an LLM operator looks at first, by service (issue 13).
const EXPECTED: &[&str] = &[
    // gateway
    "http_requests_total",
    "http_request_duration_seconds",
    "gateway_open_streams",
    "gateway_time_to_first_token_seconds",
    "gateway_stream_duration_seconds",
    "gateway_tokens_relayed_total",
    "gateway_overhead_seconds",
    "rate_limit_rejections_total",
    "auth_failures_total",
    "db_pool_connections",
    "db_pool_max_connections",
    // model service
    "model_provider_request_duration_seconds",
    "model_provider_time_to_first_token_seconds",
    "model_provider_errors_total",
    "model_prompt_tokens_total",
    "model_completion_tokens_total",
    "model_tokens_generated_total",
    // worker
    "worker_claim_latency_seconds",
    "worker_job_duration_seconds",
    "worker_prompt_duration_seconds",
    "worker_prompts_total",
    "worker_queue_jobs",
    "worker_queue_depth",
    "worker_lease_renewals_total",
    "worker_jobs_finished_total",
    "worker_jobs_retried_total",
    "worker_jobs_reaped_total",
    "model_provider_retries_total",
];

#[tokio::test]
async fn operator_metrics_exist_after_a_stream_and_a_job_and_no_label_holds_an_id() {
    let stack = drive_everything().await;
    let (names, samples) = exported(&stack).await;
    let missing: Vec<_> = EXPECTED.iter().filter(|n| !names.contains(**n)).collect();
    assert!(
        missing.is_empty(),
        "not exported: {missing:?}\nexported: {names:?}"
    );

    for (service, sample) in &samples {
        for (key, value) in &sample.labels {
            assert!(
                !holds_uuid(value),
                "{service}: {}{{{key}=\"{value}\"}} holds an id",
                sample.name
            );
        }
    }
    // Routes are templates.
    let has = |name: &str, key: &str, value: &str| {
        samples
            .iter()
            .any(|(_, s)| s.name == name && s.labels.iter().any(|(k, v)| k == key && v == value))
    };
    assert!(has(
        "http_requests_total",
        "route",
        "/api/v1/chat/sessions/{id}"
    ));
    assert!(has("http_requests_total", "route", "unmatched"));
    // Classes and labels the dashboards group by.
    assert!(
        has("model_provider_errors_total", "kind", "invalid_request")
            || has("model_provider_errors_total", "kind", "unknown")
    );
    assert!(has("worker_queue_jobs", "status", "pending"));
    assert!(has("db_pool_connections", "pool", "gateway"));
    assert!(has("db_pool_connections", "pool", "worker"));
    assert!(has(
        "gateway_stream_duration_seconds_count",
        "outcome",
        "done"
    ));
    assert!(has(
        "gateway_stream_duration_seconds_count",
        "outcome",
        "error"
    ));
}

/// The metric names a PromQL expression selects (functions, keywords, label matchers,
/// grouping clauses, ranges, strings and Grafana variables removed).
fn promql_metric_names(expr: &str) -> BTreeSet<String> {
    // Drop strings, label matchers, ranges and `$variables`.
    let mut plain = String::new();
    let mut depth_brace = 0;
    let mut depth_bracket = 0;
    let mut in_string = false;
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            if c == '\\' {
                chars.next();
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' => depth_brace += 1,
            '}' => depth_brace -= 1,
            '[' => depth_bracket += 1,
            ']' => depth_bracket -= 1,
            '$' => {
                while chars
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
                {
                    chars.next();
                }
            }
            c if depth_brace == 0 && depth_bracket == 0 => plain.push(c),
            _ => {}
        }
    }
    // Identifiers with what follows them.
    let mut names = BTreeSet::new();
    let bytes: Vec<char> = plain.chars().collect();
    let mut i = 0;
    let mut skip_group = false;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == '_' || bytes[i] == ':')
            {
                i += 1;
            }
            let word: String = bytes[start..i].iter().collect();
            let next = bytes[i..].iter().find(|c| !c.is_whitespace()).copied();
            const GROUPING: &[&str] = &[
                "by",
                "without",
                "on",
                "ignoring",
                "group_left",
                "group_right",
            ];
            // Operators, and aggregations (followed by `by (...)` rather than `(`).
            const KEYWORDS: &[&str] = &[
                "and",
                "or",
                "unless",
                "bool",
                "offset",
                "inf",
                "nan",
                "sum",
                "min",
                "max",
                "avg",
                "count",
                "group",
                "stddev",
                "stdvar",
                "topk",
                "bottomk",
                "quantile",
                "count_values",
                "limitk",
                "limit_ratio",
            ];
            if GROUPING.contains(&word.as_str()) {
                skip_group = next == Some('(');
            } else if next == Some('(') || KEYWORDS.contains(&word.to_lowercase().as_str()) {
                // A function call or an operator keyword.
            } else if skip_group {
                // A label inside `by (...)`.
            } else if !word.starts_with(|c: char| c.is_ascii_digit()) {
                names.insert(word);
            }
            continue;
        }
        if c == ')' {
            skip_group = false;
        }
        if c.is_ascii_digit() || c == '.' {
            // Numbers (and durations such as 5m) are not names.
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == '.') {
                i += 1;
            }
            continue;
        }
        i += 1;
    }
    names
}

/// Every `"expr"` string of a Grafana dashboard (panels, rows, nested panels).
fn dashboard_exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("expr", serde_json::Value::String(expr)) => out.push(expr.clone()),
                    _ => dashboard_exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| dashboard_exprs(v, out)),
        _ => {}
    }
}

/// The `expr:` of every rule in a Prometheus rule file (one line each, or a `|`/`>` block).
fn alert_exprs(yaml: &str) -> Vec<String> {
    let mut exprs = Vec::new();
    let lines: Vec<&str> = yaml.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(rest) = line.trim_start().strip_prefix("expr:") {
            let indent = line.len() - line.trim_start().len();
            let rest = rest.trim();
            if rest.starts_with('|') || rest.starts_with('>') {
                let mut block = String::new();
                i += 1;
                while i < lines.len()
                    && (lines[i].trim().is_empty()
                        || lines[i].len() - lines[i].trim_start().len() > indent)
                {
                    block.push_str(lines[i].trim());
                    block.push(' ');
                    i += 1;
                }
                exprs.push(block);
                continue;
            }
            exprs.push(rest.trim_matches(['\'', '"']).to_owned());
        }
        i += 1;
    }
    exprs
}

fn repo_file(path: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn promql_names_are_found_and_functions_labels_and_ranges_are_not() {
    let names = promql_metric_names(
        r#"histogram_quantile(0.99, sum by (le, model) (rate(gateway_time_to_first_token_seconds_bucket{model=~"$model"}[$__rate_interval]))) > 2 and on() sum(rate(http_requests_total{status=~"5.."}[5m])) / sum without (status) (up) > 0.05"#,
    );
    let names: Vec<_> = names.iter().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "gateway_time_to_first_token_seconds_bucket",
            "http_requests_total",
            "up"
        ]
    );
    let yaml = "groups:\n  - rules:\n      - alert: A\n        expr: sum(x_total) > 1\n      - alert: B\n        expr: |\n          rate(y_total[5m])\n            > 0\n        for: 5m\n";
    assert_eq!(
        alert_exprs(yaml),
        ["sum(x_total) > 1", "rate(y_total[5m]) > 0 "]
    );
}

#[tokio::test]
async fn the_dashboard_and_the_alert_rules_query_only_metrics_the_services_export() {
    let stack = drive_everything().await;
    let (exported, _) = exported(&stack).await;

    let dashboard: serde_json::Value =
        serde_json::from_str(&repo_file("infra/grafana/dashboards/sable.json"))
            .expect("dashboard JSON");
    let mut exprs = Vec::new();
    dashboard_exprs(&dashboard, &mut exprs);
    assert!(
        exprs.len() >= 10,
        "the dashboard has {} queries",
        exprs.len()
    );
    let alerts = alert_exprs(&repo_file("infra/prometheus/alerts.yml"));
    assert!(alerts.len() >= 6, "{} alert rules", alerts.len());

    // `up` is Prometheus's own series for each scrape target.
    let mut unknown = Vec::new();
    for (source, expr) in exprs
        .iter()
        .map(|e| ("dashboard", e))
        .chain(alerts.iter().map(|e| ("alerts.yml", e)))
    {
        let names = promql_metric_names(expr);
        assert!(!names.is_empty(), "{source}: no metric in {expr}");
        for name in names {
            if name != "up" && !exported.contains(family(&name)) {
                unknown.push(format!("{source}: {name} in {expr}"));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "not exported by any service:\n{}",
        unknown.join("\n")
    );
}
