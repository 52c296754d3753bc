//! Titles worth reading (issue 15.5). A new chat is titled at once from its first user message
//! (cut at a word boundary, [`crate::chat::title_from_message`]). After its first answer is
//! stored, while that automatic title is still in place (the user did not rename the chat), the
//! gateway asks the model that gave that answer (one the user may use) for a short title in the
//! background and stores it; its tokens count towards the user's usage like the answer's. When
//! that model is served by the offline mock (its `provider_kind` in the model service's
//! `GET /api/v1/models`), or when the model fails or answers nothing usable, the title from the
//! first message stays.

use std::time::Duration;

use common::schemas::{GenerateRequest, GenerateResponse, ModelsResponse};
use reqwest::Method;
use uuid::Uuid;

use crate::chat::repo as chat_repo;
use crate::chat::title_from_message;
use crate::state::AppState;

/// Longest a generated title may be, in code points (cut at a word boundary).
pub const GENERATED_TITLE_MAX_CHARS: usize = 60;
/// How long the background title request may take.
const TITLE_TIMEOUT: Duration = Duration::from_secs(20);
/// How much of the first exchange the model sees.
const EXCERPT_CHARS: usize = 1_000;

/// Starts the background title task for the session when its first answer was just stored.
pub fn after_answer(state: &AppState, user_id: Uuid, session_id: Uuid) {
    let state = state.clone();
    let request_id = common::request_id::current().unwrap_or_else(common::request_id::generate);
    tokio::spawn(common::request_id::scope(request_id, async move {
        if let Err(e) = title_session(&state, user_id, session_id).await {
            tracing::warn!(error = %e, %session_id, "no generated title; the first message's stays");
        }
    }));
}

async fn title_session(state: &AppState, user_id: Uuid, session_id: Uuid) -> Result<(), String> {
    let Some(first) = chat_repo::first_exchange(&state.db, user_id, session_id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    // Only while the title is still the automatic one.
    if title_from_message(&first.question).as_deref() != Some(first.title.as_str()) {
        return Ok(());
    }
    if served_by_mock(state, first.model.as_deref()).await? {
        return Ok(());
    }
    let mut request = GenerateRequest::new(format!(
        "Write a short title (at most six words, no quotes, no punctuation at the end) for this \
         conversation. Answer with the title only.\n\nUser: {}\n\nAssistant: {}",
        excerpt(&first.question),
        excerpt(&first.answer)
    ));
    request.model = first.model;
    request.max_tokens = 24;
    request.temperature = 0.2;
    let response: GenerateResponse = state
        .model
        .send_json(
            state
                .model
                .request_within(Method::POST, "/inference", TITLE_TIMEOUT)
                .json(&request),
        )
        .await
        .map_err(|e| e.to_string())?;
    state
        .usage
        .add(user_id, &response.model, response.usage, response.cost_usd);
    let Some(title) = clean_title(&response.text) else {
        return Err("the model's title was empty".to_owned());
    };
    chat_repo::replace_auto_title(&state.db, user_id, session_id, &first.title, &title)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// True when `model` (`None`: the default) is served by the offline mock: its "titles" would
/// be canned text.
async fn served_by_mock(state: &AppState, model: Option<&str>) -> Result<bool, String> {
    let models: ModelsResponse = state
        .model
        .send_json(
            state
                .model
                .request_within(Method::GET, "/api/v1/models", TITLE_TIMEOUT),
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(is_mock(&models, model))
}

/// By the model's provider kind, not the provider's name: a deployment may name a real provider
/// "mock" or the mock anything. A model service older than `provider_kind` names its only
/// provider by its kind, so the name decides there.
fn is_mock(models: &ModelsResponse, model: Option<&str>) -> bool {
    let id = model.unwrap_or(&models.default);
    let info = models.models.iter().find(|m| m.id == id);
    match info.and_then(|m| m.provider_kind.as_deref()) {
        Some(kind) => kind == "mock",
        None => models.provider == "mock",
    }
}

fn excerpt(text: &str) -> String {
    text.chars().take(EXCERPT_CHARS).collect()
}

/// The model's answer as a title: first non-empty line, without surrounding quotes, a
/// `Title:` prefix or a trailing period, whitespace collapsed, at most
/// [`GENERATED_TITLE_MAX_CHARS`] code points cut at a word boundary.
pub fn clean_title(text: &str) -> Option<String> {
    let plain = plain_words(text.lines().map(str::trim).find(|l| !l.is_empty())?);
    let line = plain.trim();
    let line = line
        .strip_prefix("Title:")
        .or_else(|| line.strip_prefix("title:"))
        .unwrap_or(line);
    let quotes: &[char] = &['"', '\'', '“', '”', '‘', '’', '`', '*', '#'];
    let line = line
        .trim()
        .trim_matches(quotes)
        .trim()
        .trim_end_matches('.')
        .trim();
    cut_at_word(line, GENERATED_TITLE_MAX_CHARS)
}

/// The words of a markdown text for a title: fenced code blocks left out, and the markup of
/// what remains dropped (headings, quotes, list markers, emphasis, inline-code backticks, link
/// and image syntax keeping their text).
pub fn plain_words(text: &str) -> String {
    let mut out = String::new();
    let mut in_fence = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let mut rest = trimmed.trim_start_matches(['#', '>']).trim_start();
        for marker in ["- ", "* ", "+ "] {
            rest = rest.strip_prefix(marker).unwrap_or(rest);
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && rest[digits..].starts_with(". ") {
            rest = &rest[digits + 2..];
        }
        out.push_str(&unlink(rest).replace(['`', '*'], "").replace("__", ""));
        out.push(' ');
    }
    out
}

/// `[text](url)` and `![alt](url)` as their text.
fn unlink(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|i| open + i) else {
            break;
        };
        let Some(end) = rest[close..].find(')').map(|i| close + i) else {
            break;
        };
        out.push_str(rest[..open].strip_suffix('!').unwrap_or(&rest[..open]));
        out.push_str(&rest[open + 1..close]);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// `text` with whitespace collapsed, at most `max` code points, cut between words; a first
/// word longer than `max` is cut (there is no boundary to cut at). `None` when nothing is left.
pub fn cut_at_word(text: &str, max: usize) -> Option<String> {
    let mut title = String::new();
    let mut len = 0;
    for word in text.split_whitespace() {
        let word_len = word.chars().count();
        let sep = usize::from(!title.is_empty());
        if len + sep + word_len > max {
            if title.is_empty() {
                title.extend(word.chars().take(max));
            }
            break;
        }
        if sep == 1 {
            title.push(' ');
        }
        title.push_str(word);
        len += sep + word_len;
    }
    (!title.is_empty()).then_some(title)
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::schemas::ModelInfo;

    fn models(provider: &str, kind: Option<&str>) -> ModelsResponse {
        ModelsResponse {
            provider: provider.into(),
            default: "m".into(),
            fallback: None,
            models: vec![ModelInfo {
                id: "m".into(),
                provider: provider.into(),
                provider_kind: kind.map(str::to_owned),
                description: None,
                role: "default".into(),
                capabilities: vec![],
                context_window: None,
                max_output_tokens: None,
                price_input_per_mtok: None,
                price_output_per_mtok: None,
            }],
            aliases: Default::default(),
        }
    }

    #[test]
    fn the_mock_is_known_by_its_kind_not_its_name() {
        assert!(is_mock(&models("offline", Some("mock")), None));
        assert!(is_mock(&models("offline", Some("mock")), Some("m")));
        assert!(!is_mock(&models("mock", Some("openai")), None));
        assert!(!is_mock(&models("local", Some("openai")), Some("m")));
        // A model service without `provider_kind`: its single provider's name is its kind.
        assert!(is_mock(&models("mock", None), None));
        assert!(!is_mock(&models("openai", None), None));
        // A model no longer listed: the provider's name, as an older model service.
        assert!(!is_mock(&models("openai", Some("mock")), Some("gone")));
    }

    #[test]
    fn titles_are_cut_between_words() {
        assert_eq!(
            cut_at_word("Plan a  trip to\nRome", 12).as_deref(),
            Some("Plan a trip")
        );
        assert_eq!(
            cut_at_word("Plan a trip", 11).as_deref(),
            Some("Plan a trip")
        );
        assert_eq!(
            cut_at_word("Supercalifragilistic", 5).as_deref(),
            Some("Super")
        );
        assert_eq!(cut_at_word("  ", 5), None);
    }

    #[test]
    fn markdown_and_code_are_left_out_of_titles() {
        assert_eq!(
            plain_words("```rust\nfn main() {}\n```\n## **Explain** this `code` and [the docs](https://x.y)")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            "Explain this code and the docs"
        );
        assert_eq!(
            crate::chat::title_from_message("- 1st *point*\n2. second").as_deref(),
            Some("1st point second")
        );
        // Only code: its own text rather than no title.
        assert_eq!(
            crate::chat::title_from_message("```\nls -la\n```").as_deref(),
            Some(
                "```\nls -la\n```"
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .as_str()
            )
        );
        assert_eq!(
            clean_title("**Rust** `ownership`").as_deref(),
            Some("Rust ownership")
        );
    }

    #[test]
    fn model_titles_lose_quotes_prefixes_and_periods() {
        assert_eq!(
            clean_title("\n\"Rust ownership explained.\"\nmore").as_deref(),
            Some("Rust ownership explained")
        );
        assert_eq!(
            clean_title("Title: Trip to Rome").as_deref(),
            Some("Trip to Rome")
        );
        assert_eq!(clean_title(" \n "), None);
        let long = clean_title(&"word ".repeat(40)).unwrap();
        assert!(long.chars().count() <= GENERATED_TITLE_MAX_CHARS);
        assert!(long.ends_with("word"));
    }
}
