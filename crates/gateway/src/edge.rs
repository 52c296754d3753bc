//! Edge protection that applies to every gateway response (issue 11.6):
//!
//! - [`with_security_headers`]: `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`
//!   and `X-Frame-Options: DENY` on every answer, errors and CORS preflights included; the UI
//!   pages add their Content-Security-Policy in [`crate::spa`] (see [`content_security_policy`]);
//! - [`refused_host`]: with `ALLOWED_HOSTS` set, a request whose `Host` is not listed gets a 400
//!   envelope (a DNS-rebinding page cannot talk to a local install); `/health` and
//!   `/health/*` stay reachable for probes that address the service by IP, and `/metrics`
//!   for Prometheus when it presents the internal token.

use axum::extract::Request;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use common::AppError;
use sha2::{Digest, Sha256};

/// The security headers every response carries (set, not appended, so each appears once);
/// applied to every answer by [`crate::layers::apply`]. Inserted in this order so that an
/// answer without them lists them as it always has on the wire: `X-Frame-Options`,
/// `Referrer-Policy`, `X-Content-Type-Options` (one tower-http layer per header did, the
/// innermost first).
pub fn with_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The hosts a request may name (`ALLOWED_HOSTS`). Entries are `host` (any port),
/// `host:port` (that port only) or `.example.com` (the domain and its subdomains); IPv6 as
/// `[::1]`. Compared case-insensitively.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    entries: Vec<String>,
    /// `INTERNAL_TOKEN`: a `GET /metrics` presenting it passes whatever its `Host`.
    scraper_token: Option<std::sync::Arc<[u8]>>,
}

impl AllowedHosts {
    /// `None` or an empty list: every host is allowed.
    pub fn parse(list: Option<&str>) -> Self {
        Self {
            entries: list
                .map(common::config::split_list)
                .unwrap_or_default()
                .into_iter()
                .map(|e| e.to_ascii_lowercase())
                .collect(),
            scraper_token: None,
        }
    }

    /// Lets Prometheus, which addresses each replica by its IP (`Host: 10.0.3.7:8000`), read
    /// `/metrics` when it presents the internal token (`Authorization: Bearer`, the scrape
    /// job's `credentials_file`); a DNS-rebinding page cannot know the token.
    pub fn with_scraper_token(
        mut self,
        internal: &common::internal_auth::InternalAuthArgs,
    ) -> Self {
        self.scraper_token = common::internal_auth::expected(internal);
        self
    }

    pub fn is_restricted(&self) -> bool {
        !self.entries.is_empty()
    }

    /// Checks each entry at start-up: one sentence naming the entry that is not a host.
    pub fn validate(&self) -> Result<(), String> {
        for entry in &self.entries {
            let bare = entry.strip_prefix('.').unwrap_or(entry);
            let ok = !bare.is_empty()
                && !bare.contains(['/', '@', '*', ' ', '\t'])
                && HeaderValue::from_str(bare).is_ok();
            if !ok {
                return Err(format!(
                    "ALLOWED_HOSTS entry `{entry}` is not a host: write names like localhost, chat.example.com, 127.0.0.1:8000 or .example.com"
                ));
            }
        }
        Ok(())
    }

    /// Whether `host` (a `Host` header value: `name`, `name:port`, `[v6]:port`) is allowed.
    pub fn allows(&self, host: &str) -> bool {
        if !self.is_restricted() {
            return true;
        }
        let host = host.trim().to_ascii_lowercase();
        let name = host_name(&host);
        self.entries.iter().any(|entry| {
            if let Some(domain) = entry.strip_prefix('.') {
                name == domain || name.ends_with(entry.as_str())
            } else if has_port(entry) {
                *entry == host
            } else {
                entry == name
            }
        })
    }
}

/// `name` of `name:port`, `[v6]` of `[v6]:port`.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

fn has_port(entry: &str) -> bool {
    host_name(entry).len() != entry.len()
}

/// The answer to a request whose host is refused (applied by [`crate::layers`]): 400
/// `INVALID_HOST` for a `Host` outside the list, and for a request with more than one `Host`
/// header (always). `None`: the request may go on.
pub fn refused_host(allowed: &AllowedHosts, req: &Request) -> Option<Response> {
    // Two `Host` headers name two hosts: which one a proxy, a cache or this check reads is
    // anyone's guess, so the request is refused whatever ALLOWED_HOSTS says (RFC 9112 §3.2).
    if req.headers().get_all(header::HOST).iter().nth(1).is_some() {
        tracing::warn!("request with more than one Host header refused");
        return Some(
            AppError::BadRequest {
                code: "INVALID_HOST",
                message: "The request has more than one Host header".to_owned(),
            }
            .into_response(),
        );
    }
    if !allowed.is_restricted() {
        return None;
    }
    // Probes address a replica by its IP (`Host: 10.0.3.7:8000`), and so does Prometheus,
    // which proves itself with the internal token.
    let path = req.uri().path();
    if path == "/health" || path.starts_with("/health/") {
        return None;
    }
    if path == "/metrics"
        && allowed.scraper_token.as_deref().is_some_and(|token| {
            common::internal_auth::presents(req.headers(), token) == Some(true)
        })
    {
        return None;
    }
    // HTTP/1.1 sends `Host`; HTTP/2 the `:authority`, which axum exposes in the URI.
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()));
    match host {
        Some(host) if allowed.allows(&host) => None,
        _ => {
            tracing::warn!(host = ?host, "request for a host outside ALLOWED_HOSTS refused");
            Some(
                AppError::BadRequest {
                    code: "INVALID_HOST",
                    message: "The Host header names a host this server does not serve".to_owned(),
                }
                .into_response(),
            )
        }
    }
}

/// The UI's Content-Security-Policy: scripts only from the gateway's own origin plus the
/// exact inline scripts of `index_html` (by SHA-256 hash, so a build that changes them stays
/// covered and an injected one does not run); no framing at all. Styles allow
/// `'unsafe-inline'` because Mermaid diagrams carry `<style>` elements and charts and
/// highlighted code use `style` attributes; style injection cannot run code.
///
/// `frontend/nginx.conf` sends the same policy in the Docker deployment
/// (`scripts/test_nginx.sh` checks its hash against the build).
pub fn content_security_policy(index_html: &str) -> String {
    let mut script_src = String::from("'self'");
    for script in inline_scripts(index_html) {
        let digest = Sha256::digest(script.as_bytes());
        let hash = base64::engine::general_purpose::STANDARD.encode(digest);
        script_src.push_str(&format!(" 'sha256-{hash}'"));
    }
    format!(
        "default-src 'self'; script-src {script_src}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; \
         worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// The bodies of `<script>` elements without a `src` attribute, exactly as written (the hash
/// covers the text between the tags).
fn inline_scripts(html: &str) -> Vec<&str> {
    let lower = html.to_ascii_lowercase();
    let mut scripts = Vec::new();
    let mut from = 0;
    while let Some(start) = lower[from..].find("<script").map(|i| i + from) {
        let Some(tag_end) = lower[start..].find('>').map(|i| i + start) else {
            break;
        };
        let Some(close) = lower[tag_end..].find("</script").map(|i| i + tag_end) else {
            break;
        };
        let tag = &lower[start..tag_end];
        let has_src = tag
            .split(|c: char| c.is_ascii_whitespace())
            .any(|attr| attr.starts_with("src="));
        if !has_src {
            scripts.push(&html[tag_end + 1..close]);
        }
        from = close;
    }
    scripts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_by_name_port_or_domain() {
        let hosts = AllowedHosts::parse(Some(
            "localhost, Chat.Example.com,127.0.0.1:8000,.corp.test,[::1]",
        ));
        assert_eq!(hosts.validate(), Ok(()));
        for ok in [
            "localhost",
            "localhost:8000",
            "chat.example.com",
            "CHAT.example.com:443",
            "127.0.0.1:8000",
            "corp.test",
            "a.b.corp.test:9000",
            "[::1]:8000",
        ] {
            assert!(hosts.allows(ok), "{ok} should be allowed");
        }
        for refused in [
            "evil.example",
            "127.0.0.1",
            "127.0.0.1:9000",
            "localhost.evil.example",
            "xcorp.test",
            "example.com",
            "",
        ] {
            assert!(!hosts.allows(refused), "{refused} should be refused");
        }
        assert!(AllowedHosts::parse(None).allows("anything"));
        assert!(AllowedHosts::parse(Some(" , ")).allows("anything"));
    }

    #[test]
    fn odd_host_entries_are_refused_with_one_sentence() {
        for bad in ["http://localhost", "*", "a b", "user@host"] {
            let err = AllowedHosts::parse(Some(bad)).validate().unwrap_err();
            assert!(err.contains("ALLOWED_HOSTS"), "{bad}: {err}");
        }
    }

    /// The Docker deployment's frontend nginx sends the same policy (its hash is checked
    /// against the build by scripts/test_nginx.sh).
    #[test]
    fn frontend_nginx_sends_the_same_policy() {
        let conf = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../frontend/nginx.conf"
        ))
        .expect("frontend/nginx.conf");
        let nginx = conf
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("add_header Content-Security-Policy \"")
                    .and_then(|rest| rest.split_once('"'))
                    .map(|(policy, _)| policy)
            })
            .expect("frontend/nginx.conf sends a Content-Security-Policy");
        let without_hashes = |policy: &str| -> Vec<String> {
            policy
                .split(';')
                .map(|d| {
                    d.split_whitespace()
                        .filter(|t| !t.starts_with("'sha256-"))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect()
        };
        assert_eq!(
            without_hashes(nginx),
            without_hashes(&content_security_policy("<script>x</script>"))
        );
    }

    #[test]
    fn the_policy_hashes_exactly_the_inline_scripts() {
        let html = "<head><script>\n  boot();\n</script><script type=\"module\" crossorigin src=\"/assets/i.js\"></script></head>";
        let csp = content_security_policy(html);
        let expected =
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"\n  boot();\n"));
        assert!(
            csp.contains(&format!("script-src 'self' 'sha256-{expected}';")),
            "{csp}"
        );
        assert_eq!(csp.matches("sha256-").count(), 1, "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        let script_src = csp
            .split(';')
            .find(|d| d.trim().starts_with("script-src"))
            .unwrap();
        assert!(!script_src.contains("unsafe"), "{script_src}");
    }
}
