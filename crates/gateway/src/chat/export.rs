//! `GET /api/v1/chat/sessions/{id}/export`: a session as a Markdown document or as JSON.

use chrono::{DateTime, Utc};
use common::schemas::{timestamp, ChatSessionDetail, Role};

/// The Markdown export: `# <title>`, a line with the export time, the system prompt if any,
/// then one `## You` / `## Assistant` / `## System` section per message, in order.
pub fn markdown(session: &ChatSessionDetail, exported_at: DateTime<Utc>) -> String {
    let title = session.session.title.trim();
    let title = if title.is_empty() {
        "Untitled chat"
    } else {
        title
    };
    let mut out = String::with_capacity(
        256 + session
            .messages
            .iter()
            .map(|m| m.content.len() + 32)
            .sum::<usize>(),
    );
    out.push_str(&format!("# {}\n\n", title.replace('\n', " ")));
    out.push_str(&format!(
        "_Exported {}_\n\n",
        timestamp::format(&exported_at)
    ));
    if let Some(prompt) = session
        .session
        .system_prompt
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        out.push_str("**System prompt:**\n\n");
        out.push_str(prompt.trim_end());
        out.push_str("\n\n");
    }
    for message in &session.messages {
        let heading = match message.role {
            Role::User => "You",
            Role::Assistant => "Assistant",
            Role::System => "System",
        };
        out.push_str(&format!("## {heading}\n\n"));
        out.push_str(message.content.trim_end());
        out.push_str("\n\n");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
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
    use common::schemas::{ChatMessageOut, ChatSessionOut};
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
}
