//! The timeout budget (README.md, "Timeouts") checked against the shipped defaults: every
//! inner limit ends before the one around it, so the innermost failure is the one reported
//! (a stalled provider gives 504 `PROVIDER_TIMEOUT` from the model service, not a gateway or
//! nginx timeout, and leaves time for the fallback).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use clap::Parser;
use common::config::HttpClientArgs;
use common::http::announced_deadline;

use crate::config::Config;

const NGINX_CONF: &str = include_str!("../../../infra/nginx/nginx.conf");
const README: &str = include_str!("../../../README.md");

/// The gateway's and the worker's client settings, at their defaults.
#[derive(Parser)]
struct Client {
    #[command(flatten)]
    http: HttpClientArgs,
}

/// `proxy_read_timeout` in seconds: the server default (before the first `location`) or the
/// one inside `location <name> {`.
fn nginx_read_timeout(location: Option<&str>) -> Duration {
    let block = match location {
        None => {
            let first_location = NGINX_CONF
                .lines()
                .find(|l| l.trim_start().starts_with("location "))
                .unwrap();
            &NGINX_CONF[..NGINX_CONF.find(first_location).unwrap()]
        }
        Some(name) => {
            let start = NGINX_CONF
                .find(&format!("location {name} {{"))
                .unwrap_or_else(|| panic!("nginx.conf has no location {name}"));
            let rest = &NGINX_CONF[start..];
            &rest[..rest.find('}').unwrap()]
        }
    };
    let line = block
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with("proxy_read_timeout "))
        .expect("a proxy_read_timeout");
    let secs = line
        .trim_start_matches("proxy_read_timeout ")
        .trim_end_matches(';')
        .trim_end_matches('s');
    Duration::from_secs(secs.parse().unwrap())
}

#[test]
fn each_timeout_default_ends_before_the_one_around_it() {
    let client = Client::try_parse_from(["gateway"]).unwrap().http;
    let model = Config::try_parse_from(["model-service"]).unwrap();

    // A whole answer: nginx > gateway (and worker) call > model-service request > one attempt.
    let chain = [
        ("nginx proxy_read_timeout (API)", nginx_read_timeout(None)),
        ("HTTP_REQUEST_TIMEOUT_SECS", client.request_timeout()),
        (
            "X-Sable-Deadline-Ms announced",
            announced_deadline(client.request_timeout()),
        ),
        (
            "MODEL_REQUEST_DEADLINE_SECS",
            model.model_request_deadline(),
        ),
        ("PROVIDER_TIMEOUT_SECS", model.provider_timeout()),
        ("PROVIDER_CONNECT_TIMEOUT_SECS", model.connect_timeout()),
    ];
    for pair in chain.windows(2) {
        let ((outer, o), (inner, i)) = (pair[0], pair[1]);
        assert!(i < o, "{inner} ({i:?}) must end before {outer} ({o:?})");
    }

    // A stream: nginx > gateway idle > model-service time to the first token (all attempts)
    // > one attempt's first token; between tokens the model service's idle timeout fires first.
    let stream = nginx_read_timeout(Some("= /api/v1/generate/stream"));
    assert_eq!(stream, nginx_read_timeout(Some("/v1/")));
    let chain = [
        ("nginx proxy_read_timeout (streams)", stream),
        ("STREAM_IDLE_TIMEOUT_SECS", client.stream_idle_timeout()),
        (
            "X-Sable-Deadline-Ms announced for streams",
            announced_deadline(client.stream_idle_timeout()),
        ),
        ("FIRST_TOKEN_TIMEOUT_SECS", model.first_token_timeout()),
    ];
    for pair in chain.windows(2) {
        let ((outer, o), (inner, i)) = (pair[0], pair[1]);
        assert!(i < o, "{inner} ({i:?}) must end before {outer} ({o:?})");
    }
    assert!(model.idle_timeout() < client.stream_idle_timeout());

    // The defaults: a stalled primary leaves room for at least one fallback attempt.
    assert!(model.provider_timeout() * 2 <= model.model_request_deadline());
}

#[test]
fn the_readme_states_the_budget() {
    let section = README
        .split("### Timeouts")
        .nth(1)
        .expect("README.md has a Timeouts section");
    for name in [
        "proxy_read_timeout",
        "HTTP_REQUEST_TIMEOUT_SECS",
        "STREAM_IDLE_TIMEOUT_SECS",
        "MODEL_REQUEST_DEADLINE_SECS",
        "X-Sable-Deadline-Ms",
        "PROVIDER_TIMEOUT_SECS",
        "FIRST_TOKEN_TIMEOUT_SECS",
        "IDLE_TIMEOUT_SECS",
        "LEASE_SECS",
    ] {
        assert!(
            section.contains(name),
            "README.md, Timeouts: {name} missing"
        );
    }
}
