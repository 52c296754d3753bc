//! Knowledge (issue 23): files, collections and retrieval. The gateway serves these shapes under
//! `/api/v1/files`, `/api/v1/collections` and `/api/v1/retrieve`; the worker service, which owns
//! the tables and the blobs, answers the same shapes on its internal routes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::validation::{body, Checker, FieldError, Validate};

/// The upload's file name as the client gave it (percent-encoded UTF-8), gateway -> worker.
pub const FILE_NAME_HEADER: &str = "x-sable-file-name";
/// Largest file the gateway accepts (`FILE_MAX_BYTES`), gateway -> worker: the worker stops
/// reading past it.
pub const FILE_MAX_BYTES_HEADER: &str = "x-sable-file-max-bytes";
/// The caller's storage quota in bytes (`QUOTA_FILE_BYTES`), gateway -> worker: the worker
/// knows what is stored and refuses past it.
pub const FILE_QUOTA_HEADER: &str = "x-sable-quota-bytes";

/// The kinds of file ingestion reads, as (kind, extensions, content types).
pub const SUPPORTED_KINDS: &[(&str, &[&str], &[&str])] = &[
    ("pdf", &["pdf"], &["application/pdf"]),
    (
        "docx",
        &["docx"],
        &["application/vnd.openxmlformats-officedocument.wordprocessingml.document"],
    ),
    (
        "html",
        &["html", "htm"],
        &["text/html", "application/xhtml+xml"],
    ),
    (
        "markdown",
        &["md", "markdown"],
        &["text/markdown", "text/x-markdown"],
    ),
    ("csv", &["csv"], &["text/csv"]),
    ("text", &["txt", "text", "log"], &["text/plain"]),
];

/// "PDF, DOCX, HTML, Markdown, CSV or plain text (.pdf, .docx, …)": what a 415 says.
pub fn supported_types_sentence() -> String {
    let exts: Vec<String> = SUPPORTED_KINDS
        .iter()
        .flat_map(|(_, exts, _)| exts.iter().map(|e| format!(".{e}")))
        .collect();
    format!(
        "Supported files: PDF, DOCX, HTML, Markdown, CSV and plain text ({})",
        exts.join(", ")
    )
}

/// The kind of a file from its name's extension, else from its declared content type
/// (`application/octet-stream` and other unknown types say nothing).
pub fn kind_of(filename: &str, content_type: Option<&str>) -> Option<&'static str> {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if let Some((kind, _, _)) = SUPPORTED_KINDS
        .iter()
        .find(|(_, exts, _)| exts.contains(&ext.as_str()))
    {
        return Some(kind);
    }
    let mime = content_type?
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    SUPPORTED_KINDS
        .iter()
        .find(|(_, _, types)| types.contains(&mime.as_str()))
        .map(|(kind, _, _)| *kind)
}

/// The content type a file of `kind` is served with.
pub fn content_type_of(kind: &str) -> &'static str {
    match kind {
        "pdf" => "application/pdf",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "html" => "text/html; charset=utf-8",
        "markdown" => "text/markdown; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    }
}

/// Longest stored file name, in code points.
pub const FILE_NAME_MAX_CHARS: usize = 255;

/// A file name safe to store and show: the last path component (both `/` and `\` separate),
/// without control characters, trimmed, at most [`FILE_NAME_MAX_CHARS`] code points (the
/// extension kept); `"file"` when nothing is left.
pub fn clean_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        return "file".to_owned();
    }
    if cleaned.chars().count() <= FILE_NAME_MAX_CHARS {
        return cleaned.to_owned();
    }
    let (stem, ext) = match cleaned.rsplit_once('.') {
        Some((stem, ext)) if ext.chars().count() <= 10 => (stem, format!(".{ext}")),
        _ => (cleaned, String::new()),
    };
    let keep = FILE_NAME_MAX_CHARS - ext.chars().count();
    format!("{}{ext}", stem.chars().take(keep).collect::<String>())
}

/// 404 `FILE_NOT_FOUND`: a missing file and another user's file answer the same.
pub fn file_not_found() -> crate::AppError {
    crate::AppError::NotFound {
        code: "FILE_NOT_FOUND",
        message: "File not found".to_owned(),
    }
}

/// 404 `COLLECTION_NOT_FOUND`.
pub fn collection_not_found() -> crate::AppError {
    crate::AppError::NotFound {
        code: "COLLECTION_NOT_FOUND",
        message: "Collection not found".to_owned(),
    }
}

/// Parses a file or collection id from a path; anything but a UUID is `not_found`.
pub fn parse_id(raw: &str, not_found: fn() -> crate::AppError) -> Result<Uuid, crate::AppError> {
    Uuid::parse_str(raw.trim()).map_err(|_| not_found())
}

/// File states: `pending` (queued), `processing` (see `stage`), `ready` (searchable), `failed`
/// (see `error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    Pending,
    Processing,
    Ready,
    Failed,
}

/// A stored file (`GET /api/v1/files/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FileOut {
    pub id: Uuid,
    /// The name as uploaded, cleaned of path separators and control characters.
    pub filename: String,
    pub content_type: String,
    /// How ingestion reads it: pdf, docx, html, markdown, csv or text.
    pub kind: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the bytes; the same bytes uploaded again answer this record.
    pub sha256: String,
    pub status: FileStatus,
    /// While `processing`: extracting, chunking, embedding or indexing.
    pub stage: Option<String>,
    /// Why ingestion failed, in words (`status: failed`).
    pub error: Option<String>,
    /// Pages (PDF) once extracted.
    pub pages: Option<i32>,
    pub chunk_count: i32,
    /// The ingestion job (visible in `GET /api/v1/jobs`).
    pub job_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub ready_at: Option<DateTime<Utc>>,
    /// True when this upload matched bytes already stored (no new file was made).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

/// Several uploaded files (`POST /api/v1/files` with more than one `file` field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FileUploadList {
    pub files: Vec<FileOut>,
}

/// `GET /api/v1/files`: newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FileList {
    pub files: Vec<FileOut>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<Uuid>,
    /// Bytes the caller stores (the quota counts these).
    pub used_bytes: i64,
}

/// `GET /api/v1/files`, `GET /api/v1/collections` query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1..=200 (default 50).
    #[serde(default)]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The last id of the previous page (`next_before`): only older items are listed.
    #[serde(default)]
    pub before: Option<String>,
}

pub const PAGE_DEFAULT_LIMIT: i64 = 50;
pub const PAGE_MAX_LIMIT: i64 = 200;

impl PageQuery {
    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(PAGE_DEFAULT_LIMIT)
    }

    /// The cursor (validated by [`Validate`]; empty means none).
    pub fn before_id(&self) -> Option<Uuid> {
        self.before
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .and_then(|s| Uuid::parse_str(s).ok())
    }
}

impl Validate for PageQuery {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.int_range(
            crate::validation::query("limit"),
            self.limit(),
            1,
            PAGE_MAX_LIMIT,
        );
        let before = self.before.as_deref().map(str::trim).unwrap_or("");
        if !before.is_empty() && Uuid::parse_str(before).is_err() {
            c.push(FieldError::new(
                "uuid_parsing",
                &["query", "before"],
                "Input should be a valid UUID",
            ));
        }
        c.finish()
    }
}

pub const COLLECTION_NAME_MAX_CHARS: usize = 200;
pub const COLLECTION_DESCRIPTION_MAX_CHARS: usize = 2000;
/// Most files named in one request (collection create, retrieve).
pub const IDS_MAX: usize = 500;

/// `POST /api/v1/collections`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CollectionCreate {
    /// 1..=200 code points.
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Files to put in it at once (the caller's; another's is 404).
    #[serde(default)]
    pub file_ids: Vec<Uuid>,
}

impl Validate for CollectionCreate {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.str_len(body("name"), self.name.trim(), 1, COLLECTION_NAME_MAX_CHARS);
        if let Some(d) = &self.description {
            c.str_len(body("description"), d, 0, COLLECTION_DESCRIPTION_MAX_CHARS);
        }
        c.list_len(body("file_ids"), self.file_ids.len(), 0, IDS_MAX);
        c.finish()
    }
}

/// `PATCH /api/v1/collections/{id}`: only the fields sent change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CollectionUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

impl Validate for CollectionUpdate {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        if let Some(n) = &self.name {
            c.str_len(body("name"), n.trim(), 1, COLLECTION_NAME_MAX_CHARS);
        }
        if let Some(d) = &self.description {
            c.str_len(body("description"), d, 0, COLLECTION_DESCRIPTION_MAX_CHARS);
        }
        c.finish()
    }
}

/// A collection with the ids of its files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CollectionOut {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub file_ids: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CollectionList {
    pub collections: Vec<CollectionOut>,
    pub next_before: Option<Uuid>,
}

pub const QUERY_MAX_CHARS: usize = 2000;

/// Internal header (gateway → worker) on `POST /retrieve`: named files and collections that
/// are gone are skipped instead of answered with 404 (a chat's stored knowledge may name a file
/// deleted since). The public route never sends it.
pub const SKIP_MISSING_HEADER: &str = "x-sable-skip-missing";
pub const TOP_K_DEFAULT: i64 = 8;
pub const TOP_K_MAX: i64 = 50;

/// `POST /api/v1/retrieve`: passages of the caller's files that answer `query`. With neither
/// `collection_ids` nor `file_ids`, every ready file of the caller is searched; with either,
/// the union of the named files and the files of the named collections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RetrieveRequest {
    /// 1..=2000 code points.
    pub query: String,
    #[serde(default)]
    pub collection_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    pub file_ids: Option<Vec<Uuid>>,
    /// 1..=50, default 8.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 50, default = 8)]
    pub top_k: Option<i64>,
}

impl RetrieveRequest {
    pub fn top_k(&self) -> i64 {
        self.top_k.unwrap_or(TOP_K_DEFAULT)
    }
}

impl Validate for RetrieveRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.str_len(body("query"), self.query.trim(), 1, QUERY_MAX_CHARS);
        c.int_range(body("top_k"), self.top_k(), 1, TOP_K_MAX);
        if let Some(ids) = &self.collection_ids {
            c.list_len(body("collection_ids"), ids.len(), 0, IDS_MAX);
        }
        if let Some(ids) = &self.file_ids {
            c.list_len(body("file_ids"), ids.len(), 0, IDS_MAX);
        }
        c.finish()
    }
}

/// One ranked passage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Passage {
    pub file_id: Uuid,
    pub filename: String,
    pub chunk_id: Uuid,
    /// The PDF page the passage starts on (1-based).
    pub page: Option<i32>,
    /// The heading path above the passage, e.g. `Guide > Install`.
    pub heading: Option<String>,
    pub text: String,
    /// Reciprocal rank fusion of the two ranks (higher is better).
    pub score: f64,
    /// 1-based rank by vector similarity; absent when the vector side did not return it.
    pub vector_rank: Option<i64>,
    /// 1-based rank by full-text relevance; absent when the text side did not return it.
    pub text_rank: Option<i64>,
    /// Character offsets of the passage in the file's extracted text.
    pub char_start: i32,
    pub char_end: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RetrieveResponse {
    pub passages: Vec<Passage>,
    /// The embedding model the vector side used (absent when no vector search ran).
    pub embedding_model: Option<String>,
    /// Additive: the tokens of the query's embedding (counted towards the caller's usage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<super::Usage>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("C:\\Users\\a\\report.pdf"), "report.pdf");
        assert_eq!(clean_file_name("a\u{0}b\nc.txt"), "abc.txt");
        assert_eq!(clean_file_name("  "), "file");
        assert_eq!(clean_file_name("dir/"), "file");
        assert_eq!(clean_file_name(".."), "file");
        let long = format!("{}.pdf", "x".repeat(400));
        let cleaned = clean_file_name(&long);
        assert_eq!(cleaned.chars().count(), FILE_NAME_MAX_CHARS);
        assert!(cleaned.ends_with(".pdf"));
    }

    #[test]
    fn kinds_come_from_the_extension_then_the_content_type() {
        assert_eq!(kind_of("a.PDF", None), Some("pdf"));
        assert_eq!(
            kind_of("notes.md", Some("application/octet-stream")),
            Some("markdown")
        );
        assert_eq!(
            kind_of("blob", Some("text/plain; charset=utf-16")),
            Some("text")
        );
        assert_eq!(kind_of("x.exe", Some("application/octet-stream")), None);
        assert_eq!(kind_of("x.exe", None), None);
    }
}
