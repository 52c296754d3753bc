//! Chat sessions, messages, search and export (contract §5.6 and §8; search, paging and export
//! are additive).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::limits::{MESSAGE_CONTENT_MAX_CHARS, SYSTEM_PROMPT_MAX_CHARS};
use super::Role;
use crate::validation::{body, query, Checker, FieldError, Validate};

/// Chat limits, inclusive, counted in code points unless named otherwise.
pub mod chat_limits {
    /// The title a session gets when none (or `""` on create) is given.
    pub const DEFAULT_SESSION_TITLE: &str = "New Chat";
    /// Contract §19.4 (`varchar(200)` in the schema).
    pub const TITLE_MAX_CHARS: usize = 200;
    /// `meta` is opaque to the server but bounded: at most 16 KiB of serialized JSON.
    pub const META_MAX_BYTES: usize = 16 * 1024;
    pub const SEARCH_QUERY_MAX_CHARS: usize = 200;
    pub const SEARCH_LIMIT_DEFAULT: i64 = 20;
    pub const SEARCH_LIMIT_MAX: i64 = 100;
    /// The reference's fixed cap is the default page size, so old clients see no change.
    pub const SESSION_LIST_LIMIT_DEFAULT: i64 = 100;
    pub const SESSION_LIST_LIMIT_MAX: i64 = 200;
}

use chat_limits::*;

/// Timestamps as the reference writes them (contract §5.6): ISO 8601 UTC with microseconds and
/// a `Z` suffix, the fraction omitted when it is zero, e.g. `2026-11-23T19:54:40.915651Z`.
pub mod timestamp {
    use chrono::{DateTime, Timelike, Utc};
    use serde::Serializer;

    pub fn format(t: &DateTime<Utc>) -> String {
        if t.nanosecond() == 0 {
            t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        } else {
            t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
        }
    }

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }
}

/// `POST /api/v1/chat/sessions` body. `{}` is valid; a missing body is not.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChatSessionCreate {
    /// At most 200 code points; null, absent or `""` means "New Chat".
    #[serde(default)]
    #[schema(max_length = 200, example = "Trip planning")]
    pub title: Option<String>,
    /// At most 20 000 code points. Sent to the model with every generation in this session.
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub system_prompt: Option<String>,
    /// Additive: this chat's model (used when a stream names the session and the request
    /// gives none); `""` clears it (PATCH).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Additive: this chat's temperature, 0.0..=2.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Additive: this chat's max_tokens, 1..=8192.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<i64>,
    /// Additive: pinned to the top of the UI's list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<bool>,
    /// Additive: archived (hidden from the UI's main list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
    /// Additive: the files this chat answers from (grounded answers with numbered sources).
    /// Every id must be the caller's (404 otherwise); on PATCH the object replaces the chat's
    /// knowledge, and empty lists clear it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knowledge: Option<super::KnowledgeSettings>,
    /// Additive: the caller's folder this chat goes in (404 when it is not the caller's). The
    /// folder's system prompt and model apply when the body gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder_id: Option<Uuid>,
}

impl ChatSessionCreate {
    /// The title to store: the given one, or the default for null/absent/`""`.
    pub fn effective_title(&self) -> &str {
        match self.title.as_deref() {
            None | Some("") => DEFAULT_SESSION_TITLE,
            Some(title) => title,
        }
    }
}

impl Validate for ChatSessionCreate {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors =
            validate_session_fields(self.title.as_deref(), self.system_prompt.as_deref());
        errors.extend(validate_settings(&self.settings()));
        errors
    }
}

/// `PATCH /api/v1/chat/sessions/{id}` body: absent or null fields are left unchanged; an empty
/// title is applied as given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChatSessionUpdate {
    #[serde(default)]
    #[schema(max_length = 200)]
    pub title: Option<String>,
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub system_prompt: Option<String>,
    /// Additive: this chat's model (used when a stream names the session and the request
    /// gives none); `""` clears it (PATCH).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Additive: this chat's temperature, 0.0..=2.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Additive: this chat's max_tokens, 1..=8192.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<i64>,
    /// Additive: pinned to the top of the UI's list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<bool>,
    /// Additive: archived (hidden from the UI's main list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
    /// Additive: the files this chat answers from (grounded answers with numbered sources).
    /// Every id must be the caller's (404 otherwise); on PATCH the object replaces the chat's
    /// knowledge, and empty lists clear it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knowledge: Option<super::KnowledgeSettings>,
    /// Additive: moves the chat into one of the caller's folders (404 when it is not the
    /// caller's); `null` takes it out of its folder; absent leaves it where it is.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub folder_id: Option<Option<Uuid>>,
}

/// Tells an explicit `null` (`Some(None)`) from an absent field (`None`, via `default`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl ChatSessionUpdate {
    /// The per-chat settings of this body.
    pub fn settings(&self) -> SessionSettingsUpdate {
        SessionSettingsUpdate {
            model: self.model.clone(),
            temperature: self.temperature,
            max_tokens: self.max_tokens,
            pinned: self.pinned,
            archived: self.archived,
            knowledge: self.knowledge.clone(),
            folder: self.folder_id,
        }
    }
}

/// The additive per-chat settings of a create or update body; `None` leaves a value unchanged
/// (or unset on create); a `model` of `""` clears the model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionSettingsUpdate {
    pub model: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<i64>,
    pub pinned: Option<bool>,
    pub archived: Option<bool>,
    pub knowledge: Option<super::KnowledgeSettings>,
    /// `Some(None)` takes the chat out of its folder (update only).
    pub folder: Option<Option<Uuid>>,
}

impl ChatSessionCreate {
    /// The per-chat settings of this body.
    pub fn settings(&self) -> SessionSettingsUpdate {
        SessionSettingsUpdate {
            model: self.model.clone(),
            temperature: self.temperature,
            max_tokens: self.max_tokens,
            pinned: self.pinned,
            archived: self.archived,
            knowledge: self.knowledge.clone(),
            folder: self.folder_id.map(Some),
        }
    }
}

impl Validate for ChatSessionUpdate {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors =
            validate_session_fields(self.title.as_deref(), self.system_prompt.as_deref());
        errors.extend(validate_settings(&self.settings()));
        errors
    }
}

fn validate_settings(settings: &SessionSettingsUpdate) -> Vec<FieldError> {
    use super::limits::{
        MAX_TOKENS_MAX, MAX_TOKENS_MIN, MODEL_NAME_MAX_CHARS, TEMPERATURE_MAX, TEMPERATURE_MIN,
    };
    let mut c = Checker::new();
    if let Some(model) = &settings.model {
        c.str_len(body("model"), model, 0, MODEL_NAME_MAX_CHARS);
    }
    if let Some(t) = settings.temperature {
        c.float_range(body("temperature"), t, TEMPERATURE_MIN, TEMPERATURE_MAX);
    }
    if let Some(n) = settings.max_tokens {
        c.int_range(body("max_tokens"), n, MAX_TOKENS_MIN, MAX_TOKENS_MAX);
    }
    if let Some(knowledge) = &settings.knowledge {
        knowledge.check(&mut c, &["body", "knowledge"]);
    }
    c.finish()
}

fn validate_session_fields(title: Option<&str>, system_prompt: Option<&str>) -> Vec<FieldError> {
    let mut c = Checker::new();
    if let Some(title) = title {
        c.str_len(body("title"), title, 0, TITLE_MAX_CHARS);
    }
    if let Some(system_prompt) = system_prompt {
        c.str_len(
            body("system_prompt"),
            system_prompt,
            0,
            SYSTEM_PROMPT_MAX_CHARS,
        );
    }
    c.finish()
}

/// `POST /api/v1/chat/sessions/{id}/messages` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChatMessageCreate {
    pub role: Role,
    /// 1..=100 000 code points.
    #[schema(min_length = 1, max_length = 100000)]
    pub content: String,
    /// Any JSON object (at most 16 KiB serialized), stored and returned verbatim.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
}

impl Validate for ChatMessageCreate {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.str_len(body("content"), &self.content, 1, MESSAGE_CONTENT_MAX_CHARS);
        if let Some(meta) = &self.meta {
            check_meta(&mut c, meta);
        }
        c.finish()
    }
}

fn check_meta(c: &mut Checker, meta: &Value) {
    if !meta.is_object() {
        c.push(FieldError::new(
            "dict_type",
            &["body", "meta"],
            "Input should be a valid dictionary",
        ));
        return;
    }
    let size = serde_json::to_vec(meta).map_or(usize::MAX, |v| v.len());
    if size > META_MAX_BYTES {
        c.push(
            FieldError::new(
                "too_long",
                &["body", "meta"],
                format!("meta should be at most {META_MAX_BYTES} bytes of JSON, not {size}"),
            )
            .with_ctx(json!({ "max_bytes": META_MAX_BYTES, "actual_bytes": size })),
        );
    }
}

/// A session as listed (contract §8 `ChatSessionOut`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChatSessionOut {
    pub id: Uuid,
    pub user_id: Uuid,
    pub title: String,
    pub system_prompt: Option<String>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(example = "2026-11-23T19:54:40.915651Z")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(example = "2026-11-23T19:54:40.915651Z")]
    pub updated_at: DateTime<Utc>,
    pub message_count: i64,
    /// Additive: this chat's model, temperature and max_tokens (null: the request's or the
    /// server's default).
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub max_tokens: Option<i64>,
    /// Additive: pinned and archived flags (false unless set).
    #[serde(default)]
    pub pinned: bool,
    #[serde(default)]
    pub archived: bool,
    /// Additive: the files this chat answers from (both lists empty: none).
    #[serde(default)]
    pub knowledge: super::KnowledgeSettings,
    /// Additive: the caller's folder the chat is in (null: none).
    #[serde(default)]
    pub folder_id: Option<Uuid>,
}

/// One session with its messages in order (contract §8 `ChatSessionDetail`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChatSessionDetail {
    #[serde(flatten)]
    pub session: ChatSessionOut,
    pub messages: Vec<ChatMessageOut>,
}

/// One message (contract §8 `ChatMessageOut`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChatMessageOut {
    pub id: Uuid,
    pub session_id: Uuid,
    pub role: Role,
    pub content: String,
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(example = "2026-11-23T19:54:40.915651Z")]
    pub created_at: DateTime<Utc>,
    /// Additive (branches): the message this one follows; null for a first message.
    #[serde(default)]
    pub parent_id: Option<Uuid>,
    /// Additive: how many versions this message has — messages with the same parent, itself
    /// included (edits and regenerations add versions).
    #[serde(default = "one")]
    pub sibling_count: i64,
    /// Additive: this version's 1-based position among them, oldest first.
    #[serde(default = "one")]
    pub sibling_index: i64,
    /// Additive (issue 25): the owner's rating of an assistant answer; absent when unrated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<MessageFeedback>,
}

/// The owner's feedback on an answer (`PUT …/messages/{message_id}/feedback`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessageFeedback {
    /// 1 (thumbs up) or -1 (thumbs down).
    pub rating: i16,
    /// The optional comment (at most 2 000 code points); null without one.
    pub comment: Option<String>,
    /// When the feedback was last given.
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(example = "2026-11-23T19:54:40.915651Z")]
    pub updated_at: DateTime<Utc>,
}

fn one() -> i64 {
    1
}

/// `GET /api/v1/chat/sessions` query (additive paging; without it the reference's first 100).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionListQuery {
    /// Page size, 1..=200, default 100.
    #[param(minimum = 1, maximum = 200, default = 100)]
    pub limit: Option<i64>,
    /// Keyset cursor: only sessions that sort after it (older `updated_at`, then smaller id).
    /// Either `<updated_at>` (RFC 3339, e.g. `2026-11-23T19:54:40.915651Z`) or
    /// `<updated_at>,<id>` of the last row already seen. A full page carries the next value in
    /// the `X-Next-Cursor` response header.
    pub before: Option<String>,
    /// Additive filter: only pinned (`true`) or only unpinned (`false`) sessions.
    pub pinned: Option<bool>,
    /// Additive filter: only archived (`true`) or only not archived (`false`) sessions.
    pub archived: Option<bool>,
    /// Additive filter: only the sessions in this folder (a folder id, UUID). Like the other
    /// filters it only narrows the caller's own sessions: an id that is not one of the caller's
    /// folders gives an empty page. Not a UUID: 422.
    #[param(value_type = Option<String>, format = Uuid)]
    pub folder_id: Option<String>,
}

impl SessionListQuery {
    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(SESSION_LIST_LIMIT_DEFAULT)
    }

    /// The parsed cursor (validation has already rejected a malformed one).
    pub fn cursor(&self) -> Option<SessionCursor> {
        self.before.as_deref().and_then(SessionCursor::parse)
    }

    /// The parsed folder filter (validation has already rejected a malformed one).
    pub fn folder_id(&self) -> Option<Uuid> {
        self.folder_id
            .as_deref()
            .and_then(|f| Uuid::parse_str(f.trim()).ok())
    }
}

impl Validate for SessionListQuery {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        if let Some(limit) = self.limit {
            c.int_range(query("limit"), limit, 1, SESSION_LIST_LIMIT_MAX);
        }
        if let Some(before) = &self.before {
            if SessionCursor::parse(before).is_none() {
                c.push(
                    FieldError::new(
                        "value_error",
                        &["query", "before"],
                        "before should be `<updated_at>` (RFC 3339) or `<updated_at>,<id>`",
                    )
                    .with_input(json!(before)),
                );
            }
        }
        if let Some(folder) = &self.folder_id {
            if self.folder_id().is_none() {
                c.push(
                    FieldError::new(
                        "uuid_parsing",
                        &["query", "folder_id"],
                        "folder_id should be a folder id (a UUID)",
                    )
                    .with_input(json!(folder)),
                );
            }
        }
        c.finish()
    }
}

/// `GET /api/v1/chat/sessions/{id}` query (additive paging of the messages; without it, the
/// whole active path as the reference returns it).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionMessagesQuery {
    /// At most this many messages: the newest ones (or the ones just before `before`), in
    /// order. 1..=1000.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// The id of a message of the active path: only messages before it (older) are returned.
    /// Pass the first message's id of a page to get the page before it.
    pub before: Option<String>,
}

/// Largest page of `GET /api/v1/chat/sessions/{id}?limit=`.
pub const SESSION_MESSAGES_LIMIT_MAX: i64 = 1000;

impl SessionMessagesQuery {
    /// The parsed `before` id (validation has already rejected a malformed one).
    pub fn before_id(&self) -> Option<Uuid> {
        self.before
            .as_deref()
            .and_then(|b| Uuid::parse_str(b.trim()).ok())
    }

    /// True when the query asks for a page rather than the whole path.
    pub fn is_paged(&self) -> bool {
        self.limit.is_some() || self.before.is_some()
    }
}

impl Validate for SessionMessagesQuery {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        if let Some(limit) = self.limit {
            c.int_range(query("limit"), limit, 1, SESSION_MESSAGES_LIMIT_MAX);
        }
        if self.before.is_some() && self.before_id().is_none() {
            c.push(FieldError::new(
                "uuid_parsing",
                &["query", "before"],
                "before should be the id of a message",
            ));
        }
        c.finish()
    }
}

/// A position in the session list, which is ordered by `(updated_at DESC, id DESC)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionCursor {
    pub updated_at: DateTime<Utc>,
    /// Without an id, every session updated at exactly `updated_at` is skipped too.
    pub id: Option<Uuid>,
}

impl SessionCursor {
    pub fn after(session: &ChatSessionOut) -> Self {
        Self {
            updated_at: session.updated_at,
            id: Some(session.id),
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let (time, id) = match s.trim().split_once(',') {
            Some((time, id)) => (time, Some(Uuid::parse_str(id.trim()).ok()?)),
            None => (s.trim(), None),
        };
        let updated_at = DateTime::parse_from_rfc3339(time.trim())
            .ok()?
            .with_timezone(&Utc);
        Some(Self { updated_at, id })
    }

    pub fn encode(&self) -> String {
        match self.id {
            Some(id) => format!("{},{id}", timestamp::format(&self.updated_at)),
            None => timestamp::format(&self.updated_at),
        }
    }
}

/// `GET /api/v1/chat/search` query.
#[derive(Debug, Clone, PartialEq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChatSearchQuery {
    /// Words to find, 1..=200 code points (web-search syntax: `"exact phrase"`, `-exclude`,
    /// `or`). Whitespace only counts as empty.
    #[param(min_length = 1, max_length = 200)]
    pub q: String,
    /// At most this many matches, 1..=100, default 20.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<i64>,
}

impl ChatSearchQuery {
    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(SEARCH_LIMIT_DEFAULT)
    }
}

impl Validate for ChatSearchQuery {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        if self.q.trim().is_empty() {
            c.push(
                FieldError::new(
                    "string_too_short",
                    &["query", "q"],
                    "String should have at least 1 character",
                )
                .with_input(json!(self.q))
                .with_ctx(json!({ "min_length": 1 })),
            );
        } else {
            c.str_len(query("q"), &self.q, 1, SEARCH_QUERY_MAX_CHARS);
        }
        if let Some(limit) = self.limit {
            c.int_range(query("limit"), limit, 1, SEARCH_LIMIT_MAX);
        }
        c.finish()
    }
}

/// `GET /api/v1/chat/search` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChatSearchResponse {
    /// Best match first.
    pub results: Vec<ChatSearchHit>,
}

/// One matching message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChatSearchHit {
    pub session_id: Uuid,
    pub session_title: String,
    pub message_id: Uuid,
    pub role: Role,
    /// An excerpt of the message, HTML-escaped, with the matched words wrapped in
    /// `<mark>`…`</mark>` (the only markup it can contain).
    #[schema(example = "we should <mark>deploy</mark> the <mark>gateway</mark> on Friday")]
    pub snippet: String,
    #[serde(serialize_with = "timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// `ts_rank_cd` relevance; higher is better.
    pub rank: f32,
}

/// Export formats of `GET /api/v1/chat/sessions/{id}/export`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    #[default]
    Markdown,
    Json,
}

/// `GET /api/v1/chat/sessions/{id}/export` query.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `markdown` (default) or `json`.
    #[param(inline)]
    pub format: Option<ExportFormat>,
}

impl Validate for ExportQuery {
    fn validate(&self) -> Vec<FieldError> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::parse_json_body;
    use chrono::TimeZone;

    fn kinds(errors: &[FieldError]) -> Vec<(String, String)> {
        errors.iter().map(|e| (e.field(), e.kind.clone())).collect()
    }

    #[test]
    fn create_defaults_the_title_including_empty() {
        let c: ChatSessionCreate = parse_json_body(b"{}", true).unwrap();
        assert_eq!(c.effective_title(), "New Chat");
        let c: ChatSessionCreate =
            parse_json_body(br#"{"title":"","system_prompt":null}"#, true).unwrap();
        assert_eq!(c.effective_title(), "New Chat");
        let c: ChatSessionCreate = parse_json_body(br#"{"title":"  x "}"#, true).unwrap();
        assert_eq!(c.effective_title(), "  x ");
    }

    #[test]
    fn title_limit_counts_code_points() {
        let ok = ChatSessionUpdate {
            title: Some("é".repeat(200)),
            system_prompt: None,
            ..Default::default()
        };
        assert!(ok.validate().is_empty());
        let long = ChatSessionUpdate {
            title: Some("é".repeat(201)),
            system_prompt: Some("x".repeat(20_001)),
            ..Default::default()
        };
        assert_eq!(
            kinds(&long.validate()),
            [
                ("title".to_owned(), "string_too_long".to_owned()),
                ("system_prompt".to_owned(), "string_too_long".to_owned())
            ]
        );
    }

    #[test]
    fn message_content_and_meta_are_checked() {
        let m: ChatMessageCreate =
            parse_json_body(br#"{"role":"user","content":"","meta":[1]}"#, true).unwrap();
        assert_eq!(
            kinds(&m.validate()),
            [
                ("content".to_owned(), "string_too_short".to_owned()),
                ("meta".to_owned(), "dict_type".to_owned())
            ]
        );
        let big = json!({ "x": "a".repeat(META_MAX_BYTES) });
        let m = ChatMessageCreate {
            role: Role::User,
            content: "hi".into(),
            meta: Some(big),
        };
        assert_eq!(kinds(&m.validate())[0].1, "too_long");
        match parse_json_body::<ChatMessageCreate>(br#"{"role":"robot","content":"x"}"#, true) {
            Err(crate::AppError::Validation(e)) => assert_eq!(e[0].kind, "enum"),
            other => panic!("expected an enum error, got {other:?}"),
        }
    }

    #[test]
    fn timestamps_have_microseconds_and_z() {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 19, 54, 40).unwrap();
        assert_eq!(timestamp::format(&t), "2026-11-23T19:54:40Z");
        let t = t + chrono::Duration::microseconds(915_000);
        assert_eq!(timestamp::format(&t), "2026-11-23T19:54:40.915000Z");
    }

    #[test]
    fn cursors_round_trip() {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 19, 54, 40).unwrap()
            + chrono::Duration::microseconds(7);
        let id = Uuid::new_v4();
        let c = SessionCursor {
            updated_at: t,
            id: Some(id),
        };
        assert_eq!(SessionCursor::parse(&c.encode()), Some(c));
        assert_eq!(
            SessionCursor::parse("2026-11-23T19:54:40Z").map(|c| c.id),
            Some(None)
        );
        assert_eq!(SessionCursor::parse("yesterday"), None);
        assert_eq!(SessionCursor::parse("2026-11-23T19:54:40Z,nope"), None);
    }

    #[test]
    fn search_query_rejects_blank_and_long() {
        let q = |q: &str, limit: Option<i64>| ChatSearchQuery { q: q.into(), limit }.validate();
        assert!(q("deploy gateway", None).is_empty());
        assert_eq!(kinds(&q("   ", None))[0].1, "string_too_short");
        assert_eq!(kinds(&q(&"x".repeat(201), None))[0].1, "string_too_long");
        assert_eq!(kinds(&q("x", Some(101)))[0].1, "less_than_equal");
        assert_eq!(kinds(&q("x", Some(0)))[0].1, "greater_than_equal");
    }
}

/// `POST /api/v1/chat/import` body: a session as Sable's JSON export writes it
/// (`GET /sessions/{id}/export?format=json`, a `ChatSessionDetail`). Ids, owner, timestamps and
/// counts in it are ignored: the import is a new session of the caller, its messages one chain
/// in the given order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChatSessionImport {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub system_prompt: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub max_tokens: Option<i64>,
    #[serde(default)]
    pub pinned: Option<bool>,
    #[serde(default)]
    pub archived: Option<bool>,
    /// At most 10 000 messages, oldest first.
    pub messages: Vec<ChatMessageImport>,
}

/// One message of an import: role, content (may be empty only for an assistant answer stopped
/// before its first token), meta.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChatMessageImport {
    pub role: Role,
    pub content: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
}

/// Most messages one import may carry.
pub const IMPORT_MESSAGES_MAX: usize = 10_000;

impl ChatSessionImport {
    /// The per-chat settings of this body.
    pub fn settings(&self) -> SessionSettingsUpdate {
        SessionSettingsUpdate {
            model: self.model.clone().filter(|m| !m.is_empty()),
            temperature: self.temperature,
            max_tokens: self.max_tokens,
            pinned: self.pinned,
            archived: self.archived,
            // An export's file ids may be another account's (or gone): an import starts
            // without knowledge; the chat's files can be attached again.
            knowledge: None,
            folder: None,
        }
    }
}

impl Validate for ChatSessionImport {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors =
            validate_session_fields(self.title.as_deref(), self.system_prompt.as_deref());
        errors.extend(validate_settings(&self.settings()));
        let mut c = Checker::new();
        c.list_len(
            body("messages"),
            self.messages.len(),
            0,
            IMPORT_MESSAGES_MAX,
        );
        for (i, m) in self.messages.iter().enumerate() {
            let min = usize::from(m.role != Role::Assistant);
            let loc = vec![json!("body"), json!("messages"), json!(i), json!("content")];
            c.str_len(loc, &m.content, min, MESSAGE_CONTENT_MAX_CHARS);
            if let Some(meta) = &m.meta {
                check_meta(&mut c, meta);
            }
        }
        errors.extend(c.finish());
        errors
    }
}
