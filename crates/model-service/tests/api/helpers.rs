//! Spawning the service and small HTTP helpers.

use model_service::config::Config;
use model_service::RunningService;
use serde_json::Value;

pub struct TestApp {
    pub service: RunningService,
    pub client: reqwest::Client,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.service.base_url())
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> reqwest::Response {
        let mut request = self.client.post(self.url(path)).body(body.to_owned());
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        request.send().await.unwrap()
    }

    pub fn stats(&self) -> model_service::stats::StatsSnapshot {
        self.service.state.stats.snapshot()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.service.shutdown.cancel();
    }
}

/// The mock provider with zero delays.
pub async fn spawn_app() -> TestApp {
    spawn_with(Config::for_tests()).await
}

pub async fn spawn_with(config: Config) -> TestApp {
    common::telemetry::init_for_tests();
    let service = model_service::spawn(config)
        .await
        .expect("model service starts");
    TestApp {
        service,
        client: common::http::client_builder().build().unwrap(),
    }
}

/// The `data:` payloads of an SSE body, in order.
pub fn sse_payloads(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            e.strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not a data event: {e:?}"))
                .to_owned()
        })
        .collect()
}

/// The contract's envelope with `code`, and the request id in the body matching the header.
pub use common::test_support::assert_envelope;
