//! Chat: sessions and messages (`repo`, all the SQL), server-side conversations
//! (`conversation`: context for the model, storing streamed turns), `export` and search
//! `snippet`s, plus the id parsing and errors the chat routes and the relay share.

pub mod conversation;
pub mod export;
pub mod folders;
pub mod generations;
pub mod grounding;
pub mod peers;
pub mod repo;
pub mod search_query;
pub mod shares;
pub mod snippet;
pub mod titles;

use axum::http::StatusCode;
use common::schemas::chat_limits::TITLE_MAX_CHARS;
use common::AppError;
use uuid::Uuid;

/// 400 for a path id that is not a UUID: the envelope (code `VALIDATION_ERROR`) plus the
/// reference's `"detail":"Invalid session id"` (contract §5.6, §19.3).
pub fn invalid_session_id() -> AppError {
    AppError::detailed(
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
        "Invalid session id",
    )
}

/// 404 for a session that does not exist or is not the caller's: the envelope (code
/// `NOT_FOUND`) plus `"detail":"Session not found"`.
pub fn session_not_found() -> AppError {
    AppError::detailed(StatusCode::NOT_FOUND, "NOT_FOUND", "Session not found")
}

/// Parses a session id as leniently as the reference (Python's `uuid.UUID`): any case, with or
/// without hyphens, `{braced}`, `urn:uuid:` prefixed.
pub fn parse_session_id(raw: &str) -> Result<Uuid, AppError> {
    if let Ok(id) = Uuid::parse_str(raw) {
        return Ok(id);
    }
    let stripped = raw.replace("urn:", "").replace("uuid:", "");
    let hex: String = stripped
        .trim_matches(|c| c == '{' || c == '}')
        .chars()
        .filter(|&c| c != '-')
        .collect();
    if hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Uuid::parse_str(&hex).map_err(|_| invalid_session_id())
    } else {
        Err(invalid_session_id())
    }
}

/// The title a session gets from its first user message: trimmed, inner whitespace collapsed
/// to single spaces, at most [`TITLE_MAX_CHARS`] code points, cut between words (only a first
/// word longer than that is cut). `None` when nothing is left.
pub fn title_from_message(content: &str) -> Option<String> {
    // Markdown and code read badly in a sidebar: their plain words, unless nothing else is left.
    titles::cut_at_word(&titles::plain_words(content), TITLE_MAX_CHARS)
        .or_else(|| titles::cut_at_word(content, TITLE_MAX_CHARS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_parse_leniently() {
        let id = Uuid::parse_str("3f2a0c1e-9b7d-4c1e-8a55-0123456789ab").unwrap();
        for raw in [
            "3f2a0c1e-9b7d-4c1e-8a55-0123456789ab",
            "3F2A0C1E-9B7D-4C1E-8A55-0123456789AB",
            "3f2a0c1e9b7d4c1e8a550123456789ab",
            "{3f2a0c1e-9b7d-4c1e-8a55-0123456789ab}",
            "urn:uuid:3f2a0c1e-9b7d-4c1e-8a55-0123456789ab",
            "3f2a-0c1e9b7d4c1e8a550123456789ab",
        ] {
            assert_eq!(parse_session_id(raw).unwrap(), id, "{raw}");
        }
        for raw in [
            "",
            "nope",
            "3f2a0c1e-9b7d-4c1e-8a55-0123456789a",
            "3f2a0c1e-9b7d-4c1e-8a55-0123456789abc",
            "zz2a0c1e9b7d4c1e8a550123456789ab",
        ] {
            let err = parse_session_id(raw).unwrap_err();
            assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{raw}");
            assert_eq!(err.body()["detail"], "Invalid session id");
        }
    }

    #[test]
    fn titles_are_trimmed_collapsed_and_capped() {
        assert_eq!(
            title_from_message("  Plan a\n\n trip\tto  Rome  ").as_deref(),
            Some("Plan a trip to Rome")
        );
        assert_eq!(title_from_message(" \n\t "), None);
        let long = title_from_message(&"é".repeat(500)).unwrap();
        assert_eq!(long.chars().count(), 200);
        let words = title_from_message(&"ab ".repeat(300)).unwrap();
        assert!(words.chars().count() <= 200);
        assert!(!words.ends_with(' '));
        // Never mid-word: "ab" pairs and single spaces, so an even length.
        assert_eq!(words.chars().count() % 3, 2, "{words}");
    }
}
