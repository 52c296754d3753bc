//! OpenTelemetry traces across the services: a tiny OTLP/HTTP receiver collects what the
//! exporter sends, and a stream through the gateway is one trace holding the gateway's and
//! the model service's spans (the W3C `traceparent` header went over HTTP); a job is one trace
//! from the worker's job to the model service's calls. JSON log lines carry the trace id.
//!
//! Its own test binary: the tracing subscriber and the exporter are global to the process.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::routing::post;
use e2e::{sse_payloads, Stack};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// One received span.
#[derive(Debug, Clone)]
struct Span {
    service: String,
    trace_id: String,
    span_id: String,
    parent: String,
    name: String,
    attributes: Vec<(String, String)>,
}

impl Span {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(value: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        _ => String::new(),
    }
}

/// Starts the receiver: `POST /v1/traces` (OTLP/HTTP, protobuf), spans collected in order.
async fn otlp_receiver() -> (String, Arc<Mutex<Vec<Span>>>) {
    let spans: Arc<Mutex<Vec<Span>>> = Arc::default();
    let sink = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let sink = sink.clone();
            async move {
                let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                let mut sink = sink.lock().unwrap();
                for resource_spans in request.resource_spans {
                    let service = resource_spans
                        .resource
                        .iter()
                        .flat_map(|r| &r.attributes)
                        .find(|a| a.key == "service.name")
                        .map(|a| text(a.value.as_ref()))
                        .unwrap_or_default();
                    for scope in resource_spans.scope_spans {
                        for span in scope.spans {
                            sink.push(Span {
                                service: service.clone(),
                                trace_id: hex(&span.trace_id),
                                span_id: hex(&span.span_id),
                                parent: hex(&span.parent_span_id),
                                name: span.name,
                                attributes: span
                                    .attributes
                                    .iter()
                                    .map(|a| (a.key.clone(), text(a.value.as_ref())))
                                    .collect(),
                            });
                        }
                    }
                }
                // An empty ExportTraceServiceResponse.
                (
                    [(axum::http::header::CONTENT_TYPE, "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), spans)
}

/// Log lines written by the JSON formatter, kept for assertions.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Waits until `check` holds over the received spans (flushing the exporter meanwhile).
async fn wait_for(spans: &Arc<Mutex<Vec<Span>>>, what: &str, check: impl Fn(&[Span]) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        common::tracing_otel::flush();
        if check(&spans.lock().unwrap()) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}; received: {:#?}",
            spans
                .lock()
                .unwrap()
                .iter()
                .map(|s| format!("{} {} {} <- {}", s.trace_id, s.name, s.span_id, s.parent))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_and_a_job_are_each_one_trace_across_the_services() {
    let (endpoint, spans) = otlp_receiver().await;
    // The standard variables, as an operator would set them (this process only).
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint);
    std::env::set_var("OTEL_SERVICE_NAME", "sable-e2e");
    std::env::set_var("OTEL_TRACES_SAMPLER", "parentbased_always_on");
    std::env::set_var("OTEL_BSP_SCHEDULE_DELAY", "100");
    assert!(common::tracing_otel::requested());

    // What common::telemetry::init installs for LOG_FORMAT=json, writing to a buffer.
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("info,sqlx=warn"))
        .with(common::tracing_otel::layer())
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .with_writer(move || writer.clone()),
        )
        .init();
    assert!(common::tracing_otel::enabled());

    let stack = Stack::start().await;

    // A stream through the gateway.
    let response = stack
        .post("/api/v1/generate/stream", &json!({"prompt": "Trace me"}))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let body = response.text().await.unwrap();
    assert_eq!(
        sse_payloads(&body).last().map(String::as_str),
        Some("[DONE]"),
        "{body}"
    );

    wait_for(
        &spans,
        "the gateway's stream span and the model service's spans in one trace",
        |spans| {
            spans.iter().any(|gw| {
                gw.name == "POST /api/v1/generate/stream"
                    && spans.iter().any(|ms| {
                        // Without the traceparent header it would be a root of its own trace.
                        ms.name == "POST /inference/stream" && ms.trace_id == gw.trace_id
                    })
            })
        },
    )
    .await;
    {
        let spans = spans.lock().unwrap();
        let gateway = spans
            .iter()
            .find(|s| s.name == "POST /api/v1/generate/stream")
            .unwrap();
        assert_eq!(
            gateway.service, "sable-e2e",
            "OTEL_SERVICE_NAME is honoured"
        );
        assert!(gateway.parent.is_empty() || gateway.parent == "0000000000000000");
        let trace: Vec<&Span> = spans
            .iter()
            .filter(|s| s.trace_id == gateway.trace_id)
            .collect();
        let model = trace
            .iter()
            .find(|s| s.name == "POST /inference/stream")
            .unwrap();
        assert!(
            !model.parent.is_empty(),
            "the model service's request has a parent"
        );
        // The provider call (under the model service's request), with its provider and model.
        let call = trace
            .iter()
            .find(|s| s.name == "provider call")
            .unwrap_or_else(|| panic!("no provider call span in {trace:#?}"));
        assert!(
            trace.iter().any(|s| s.span_id == call.parent),
            "the provider call's parent is in the trace: {trace:#?}"
        );
        assert_eq!(call.attr("provider"), Some("mock"));
        assert!(
            call.attr("model").is_some_and(|m| !m.is_empty()),
            "{call:?}"
        );
        // Token counts and the provider on the model service's side of the trace.
        let usage = trace
            .iter()
            .find(|s| s.attr("gen_ai.usage.output_tokens").is_some())
            .unwrap_or_else(|| panic!("no span with token counts in {trace:#?}"));
        assert!(
            usage
                .attr("gen_ai.usage.output_tokens")
                .unwrap()
                .parse::<u32>()
                .unwrap()
                > 0
        );
        assert_eq!(usage.attr("gen_ai.system"), Some("mock"));
        assert!(usage
            .attr("gen_ai.response.model")
            .is_some_and(|m| !m.is_empty()));

        // The JSON log lines of that request carry its trace id.
        let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        let line = logs
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|l| {
                l["fields"]["message"] == "request finished"
                    && l["span"]["path"] == "/api/v1/generate/stream"
            })
            .unwrap_or_else(|| panic!("no request line for the stream in:\n{logs}"));
        assert_eq!(
            line["span"]["trace_id"],
            gateway.trace_id.as_str(),
            "{line}"
        );
        assert_eq!(line["span"]["span_id"], gateway.span_id.as_str(), "{line}");
        assert!(line["span"]["request_id"].is_string(), "{line}");
    }

    // A job: the worker's job span, one prompt span per prompt, and the model service's
    // request under each prompt, all one trace.
    let job: serde_json::Value = stack
        .post("/api/v1/jobs", &json!({"prompts": ["one", "two"]}))
        .await
        .json()
        .await
        .unwrap();
    let id = job["job_id"].as_str().unwrap().to_owned();
    stack
        .wait_for_job(&id, "completed", Duration::from_secs(20))
        .await;
    wait_for(
        &spans,
        "the worker's job, its prompts and the model service's calls in one trace",
        |spans| {
            spans.iter().any(|job| {
                job.name == "job"
                    && job.attr("job_id") == Some(id.as_str())
                    && spans
                        .iter()
                        .filter(|p| p.name == "prompt" && p.trace_id == job.trace_id)
                        .count()
                        == 2
                    && spans
                        .iter()
                        .filter(|ms| ms.name == "POST /inference" && ms.trace_id == job.trace_id)
                        .count()
                        == 2
            })
        },
    )
    .await;
    // The submission itself: the gateway's request and the worker's, one trace.
    wait_for(
        &spans,
        "the job submission from gateway to worker in one trace",
        |spans| {
            spans.iter().any(|gw| {
                gw.name == "POST /api/v1/jobs"
                    && spans
                        .iter()
                        .any(|w| w.name == "POST /jobs" && w.trace_id == gw.trace_id)
            })
        },
    )
    .await;
    common::tracing_otel::shutdown();
}
