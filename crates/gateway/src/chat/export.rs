//! `GET /api/v1/chat/sessions/{id}/export`: a session as a Markdown document or as JSON.

use axum::body::Body;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use common::schemas::{
    timestamp, ChatMessageOut, ChatSessionDetail, ChatSessionOut, MessageFeedback, Role, Source,
};
use common::text::{one_line, one_line_clipped};
use futures::StreamExt;

use crate::chat::repo::RepoResult;

/// The Markdown export: `# <title>`, a line with the export time, the system prompt if any,
/// then one `## You` / `## Assistant` / `## System` section per message, in order (an answer
/// grounded in files ends with its numbered sources); trailing
/// whitespace trimmed, one final newline. Built from the same pieces as [`markdown_body`].
pub fn markdown(session: &ChatSessionDetail, exported_at: DateTime<Utc>) -> String {
    let mut trim = TrimEnd::default();
    let mut out = trim.push(&markdown_head(&session.session, exported_at));
    for message in &session.messages {
        out.push_str(&trim.push(&markdown_message(message)));
    }
    out.push('\n');
    out
}

/// The title, export time and system prompt of the Markdown export.
pub fn markdown_head(session: &ChatSessionOut, exported_at: DateTime<Utc>) -> String {
    let title = session.title.trim();
    let title = if title.is_empty() {
        "Untitled chat"
    } else {
        title
    };
    let mut out = format!(
        "# {}\n\n_Exported {}_\n\n",
        title.replace('\n', " "),
        timestamp::format(&exported_at)
    );
    if let Some(prompt) = session.system_prompt.as_deref().filter(|p| !p.is_empty()) {
        out.push_str("**System prompt:**\n\n");
        out.push_str(prompt.trim_end());
        out.push_str("\n\n");
    }
    out
}

/// One message's section of the Markdown export.
pub fn markdown_message(message: &ChatMessageOut) -> String {
    let heading = match message.role {
        Role::User => "You",
        Role::Assistant => "Assistant",
        Role::System => "System",
    };
    let mut out = format!("## {heading}\n\n");
    let content = message.content.trim_end();
    if !content.is_empty() {
        out.push_str(content);
        out.push_str("\n\n");
    }
    if let Some(sources) = sources_list(message) {
        out.push_str(&sources);
    }
    if let Some(failure) = failure_note(message) {
        out.push_str(&failure);
    }
    if let Some(feedback) = &message.feedback {
        out.push_str(&feedback_note(feedback));
    }
    out
}

/// A grounded answer's sources (`meta.sources`) as a numbered list under it, numbered as the
/// answer cites them: `1. report.pdf, page 4, section "Terms": "<snippet>"`, with
/// `(not cited)` for a source the answer was given but did not use and `(file deleted)` for
/// one whose file is gone. `None` for an answer without sources.
fn sources_list(message: &ChatMessageOut) -> Option<String> {
    let meta = message.meta.as_ref()?;
    let sources: Vec<Source> = serde_json::from_value(meta.get("sources")?.clone()).ok()?;
    if sources.is_empty() {
        return None;
    }
    let cited: Option<Vec<u32>> = meta
        .get("cited")
        .and_then(|c| serde_json::from_value(c.clone()).ok());
    let mut out = String::from("**Sources:**\n\n");
    for source in &sources {
        let mut line = format!("{}. {}", source.n, one_line(&source.filename));
        if let Some(page) = source.page {
            line.push_str(&format!(", page {page}"));
        }
        if let Some(heading) = source
            .heading
            .as_deref()
            .map(one_line)
            .filter(|h| !h.is_empty())
        {
            line.push_str(&format!(", section \"{heading}\""));
        }
        let snippet = one_line_clipped(&source.snippet, SNIPPET_CHARS);
        if !snippet.is_empty() {
            line.push_str(&format!(": \"{snippet}\""));
        }
        if cited.as_ref().is_some_and(|c| !c.contains(&source.n)) {
            line.push_str(" (not cited)");
        }
        if source.deleted {
            line.push_str(" (file deleted)");
        }
        out.push_str(&line);
        out.push('\n');
    }
    out.push('\n');
    Some(out)
}

/// Characters of a source's passage quoted in the export.
const SNIPPET_CHARS: usize = 200;

/// The line that records the owner's rating of an answer, and their comment if any.
fn feedback_note(feedback: &MessageFeedback) -> String {
    let verdict = if feedback.rating > 0 {
        "👍 helpful"
    } else {
        "👎 not helpful"
    };
    match feedback.comment.as_deref().map(str::trim) {
        Some(comment) if !comment.is_empty() => format!(
            "_Feedback: {verdict}: {}_\n\n",
            common::text::one_line(comment).trim()
        ),
        _ => format!("_Feedback: {verdict}_\n\n"),
    }
}

/// The line that says an answer failed (`meta.error`, `{code, message}`; older rows stored a
/// bare message), so a failed turn reads as one in the export too.
fn failure_note(message: &ChatMessageOut) -> Option<String> {
    let error = message.meta.as_ref()?.get("error")?;
    let text = match error {
        serde_json::Value::String(m) if !m.is_empty() => m.clone(),
        serde_json::Value::Object(o) => {
            let message = o.get("message").and_then(|m| m.as_str()).unwrap_or("");
            match o.get("code").and_then(|c| c.as_str()) {
                Some(code) => format!("{code}: {message}"),
                None => message.to_owned(),
            }
        }
        _ => return None,
    };
    Some(format!(
        "_This answer failed: {}_\n\n",
        common::text::one_line(&text).trim()
    ))
}

/// Writes pieces of text so that the whole has its trailing whitespace removed, without
/// holding more than that whitespace back (for streamed documents).
#[derive(Debug, Default)]
pub struct TrimEnd {
    pending: String,
}

impl TrimEnd {
    /// What to send now for `piece`.
    pub fn push(&mut self, piece: &str) -> String {
        let body = piece.trim_end();
        if body.is_empty() {
            self.pending.push_str(piece);
            return String::new();
        }
        let mut out = std::mem::take(&mut self.pending);
        out.push_str(body);
        self.pending = piece[body.len()..].to_owned();
        out
    }
}

type Messages = futures::stream::BoxStream<'static, RepoResult<ChatMessageOut>>;

/// Messages written per chunk of a streamed body.
const MESSAGES_PER_CHUNK: usize = 16;

/// The Markdown export as a streamed body: memory stays bounded by a few messages, whatever
/// the length of the conversation. A database error mid-way aborts the body (the client sees
/// a truncated transfer, never a silently short file).
pub fn markdown_body(
    session: ChatSessionOut,
    messages: Messages,
    exported_at: DateTime<Utc>,
) -> Body {
    let stream = async_stream::stream! {
        let mut trim = TrimEnd::default();
        yield Ok(Bytes::from(trim.push(&markdown_head(&session, exported_at))));
        let mut chunks = messages.ready_chunks(MESSAGES_PER_CHUNK);
        while let Some(chunk) = chunks.next().await {
            let mut out = String::new();
            for message in chunk {
                match message {
                    Ok(message) => out.push_str(&trim.push(&markdown_message(&message))),
                    Err(e) => {
                        tracing::error!(error = ?e, "export stopped: could not read the messages");
                        yield Err(std::io::Error::other("could not read the messages"));
                        return;
                    }
                }
            }
            if !out.is_empty() {
                yield Ok(Bytes::from(out));
            }
        }
        yield Ok(Bytes::from_static(b"\n"));
    };
    Body::from_stream(stream)
}

/// A `ChatSessionDetail` as a streamed JSON body: the session's fields, then `"messages"` written
/// as they are read from the database. With `count_messages`, `message_count` is the number of
/// messages written (sent last); otherwise the session's own. A database error mid-way aborts
/// the body.
pub fn detail_body(session: ChatSessionOut, messages: Messages, count_messages: bool) -> Body {
    let stream = async_stream::stream! {
        let mut head = match serde_json::to_value(&session) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => {
                yield Err(std::io::Error::other("could not write the session"));
                return;
            }
        };
        if count_messages {
            head.remove("message_count");
        }
        let mut out = serde_json::to_vec(&head).unwrap_or_default();
        // `{...}` → `{...,"messages":[`
        out.pop();
        if !head.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(b"\"messages\":[");
        yield Ok(Bytes::from(out));
        let mut count: i64 = 0;
        let mut chunks = messages.ready_chunks(MESSAGES_PER_CHUNK);
        while let Some(chunk) = chunks.next().await {
            let mut out = Vec::new();
            for message in chunk {
                let written = message
                    .map_err(|e| format!("{e:?}"))
                    .and_then(|m| serde_json::to_vec(&m).map_err(|e| e.to_string()));
                match written {
                    Ok(json) => {
                        if count > 0 {
                            out.push(b',');
                        }
                        out.extend_from_slice(&json);
                        count += 1;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "session body stopped: could not read the messages");
                        yield Err(std::io::Error::other("could not read the messages"));
                        return;
                    }
                }
            }
            yield Ok(Bytes::from(out));
        }
        let tail = if count_messages {
            format!("],\"message_count\":{count}}}")
        } else {
            "]}".to_owned()
        };
        yield Ok(Bytes::from(tail));
    };
    Body::from_stream(stream)
}

/// A file name made from the title: lower-case ASCII letters and digits joined by single
/// hyphens, at most 60 characters, `chat` when nothing is left.
pub fn slug(title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            if slug.len() >= 60 {
                break;
            }
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "chat".to_owned()
    } else {
        slug.to_owned()
    }
}

/// `attachment; filename="<slug>.<ext>"` (the slug needs no quoting or escaping).
pub fn content_disposition(title: &str, extension: &str) -> String {
    format!("attachment; filename=\"{}.{extension}\"", slug(title))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use uuid::Uuid;

    #[test]
    fn slugs_are_safe_file_names() {
        assert_eq!(slug("Trip to Rome: day 1!"), "trip-to-rome-day-1");
        assert_eq!(slug("  ../../etc/passwd  "), "etc-passwd");
        assert_eq!(slug("日本語"), "chat");
        assert_eq!(slug(""), "chat");
        assert!(slug(&"ab ".repeat(100)).len() <= 60);
        assert_eq!(
            content_disposition("A \"quoted\" title", "md"),
            "attachment; filename=\"a-quoted-title.md\""
        );
    }

    #[test]
    fn markdown_has_a_title_a_timestamp_and_a_section_per_message() {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        let id = Uuid::new_v4();
        let message = |role, content: &str| ChatMessageOut {
            id: Uuid::new_v4(),
            session_id: id,
            role,
            content: content.to_owned(),
            meta: None,
            created_at: t,
            parent_id: None,
            sibling_count: 1,
            sibling_index: 1,
            feedback: None,
        };
        let session = ChatSessionDetail {
            session: ChatSessionOut {
                id,
                user_id: Uuid::from_u128(1),
                title: "Greetings".into(),
                system_prompt: Some("Be brief.".into()),
                created_at: t,
                updated_at: t,
                message_count: 3,
                model: None,
                temperature: None,
                max_tokens: None,
                pinned: false,
                archived: false,
                knowledge: Default::default(),
                folder_id: None,
            },
            messages: vec![
                message(Role::System, "Context"),
                message(Role::User, "Hello"),
                message(Role::Assistant, "Hi!\n"),
            ],
        };
        assert_eq!(
            markdown(&session, t),
            "# Greetings\n\n_Exported 2026-11-23T12:00:00Z_\n\n**System prompt:**\n\nBe brief.\n\n\
             ## System\n\nContext\n\n## You\n\nHello\n\n## Assistant\n\nHi!\n"
        );
    }

    #[test]
    fn a_grounded_answer_lists_its_sources_numbered_under_it() {
        let source = |n: u32, filename: &str, page, heading: Option<&str>, deleted| Source {
            n,
            file_id: Uuid::from_u128(u128::from(n)),
            filename: filename.into(),
            chunk_id: Uuid::from_u128(9),
            page,
            heading: heading.map(str::to_owned),
            snippet: format!("Passage\n{n} {}", "x".repeat(300)),
            score: 0.5,
            char_start: 0,
            char_end: 10,
            deleted,
        };
        let sources = vec![
            source(1, "report.pdf", Some(4), Some("Terms > End"), false),
            source(2, "notes.md", None, None, true),
        ];
        let message = ChatMessageOut {
            id: Uuid::new_v4(),
            session_id: Uuid::new_v4(),
            role: Role::Assistant,
            content: "It ends in May [1].".into(),
            meta: Some(serde_json::json!({"sources": sources, "cited": [1]})),
            created_at: Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
            parent_id: None,
            sibling_count: 1,
            sibling_index: 1,
            feedback: None,
        };
        let section = markdown_message(&message);
        let lines: Vec<&str> = section.lines().collect();
        assert_eq!(
            lines[..5],
            [
                "## Assistant",
                "",
                "It ends in May [1].",
                "",
                "**Sources:**"
            ]
        );
        assert!(
            lines[6].starts_with("1. report.pdf, page 4, section \"Terms > End\": \"Passage 1 xxx"),
            "{section}"
        );
        assert!(lines[6].ends_with("x…\""), "clipped: {section}");
        assert!(
            lines[7].starts_with("2. notes.md: \"Passage 2")
                && lines[7].ends_with(" (not cited) (file deleted)"),
            "{section}"
        );
        // An answer without sources has no list.
        let plain = ChatMessageOut {
            meta: Some(serde_json::json!({"sources": []})),
            ..message
        };
        assert!(!markdown_message(&plain).contains("Sources"));
    }
}
