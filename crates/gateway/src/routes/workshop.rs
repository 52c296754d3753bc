//! `GET /api/v1/workshop/content?path=`: the documentation reader (contract §5.7), serving
//! this project's own markdown: top-level `*.md` (README, ARCHITECTURE, CHANGELOG) and
//! `docs/**/*.md` under the documentation root, and the workshop's pages
//! (`part<N>_<name>/task<NN>_<slug>/…`, the reference client's paths) under the workshop root.
//! Additive: `GET /api/v1/workshop/index` lists the documents, `GET /api/v1/workshop/curriculum`
//! the workshop ([`curriculum`]), `GET/PUT /api/v1/workshop/progress` a learner's progress
//! ([`progress`]).
//!
//! Path rules, in the contract's order: `..`, absolute or backslash paths → 400
//! `INVALID_PATH`; not `.md` → 400; a symbolic link anywhere below the root (pointing inside
//! or outside) → 400, because the reader follows none; a component starting with `.`,
//! outside the published set, not a regular file, or no documentation root → 404
//! `NOT_FOUND`. Never a 500.
//!
//! The root is `DOCS_ROOT`, or else the checkout the binary was built from when it still
//! holds README.md ([`docs_root`]); never the working directory. The workshop root is
//! `WORKSHOP_ROOT`, or else `workshop/` under that root ([`workshop_root`]).

pub mod curriculum;
pub mod progress;

use std::path::{Path, PathBuf};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use common::extract::ValidQuery;
use common::validation::{query, Checker, FieldError, Validate};
use common::{AppError, AppResult};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::config::Config;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/workshop/content", get(content))
        .route("/api/v1/workshop/index", get(index))
        .route("/api/v1/workshop/curriculum", get(curriculum::curriculum))
        .route(
            "/api/v1/workshop/progress",
            get(progress::get_progress).put(progress::put_progress),
        )
}

#[derive(OpenApi)]
#[openapi(
    paths(
        content,
        index,
        curriculum::curriculum,
        progress::get_progress,
        progress::put_progress
    ),
    components(schemas(
        ContentResponse,
        DocIndex,
        DocEntry,
        curriculum::Curriculum,
        curriculum::Part,
        curriculum::Task,
        curriculum::Page,
        progress::Progress,
        progress::TaskProgress,
        progress::LastVisited,
        progress::ProgressUpdate
    ))
)]
pub struct ApiDoc;

#[derive(Debug, Deserialize, IntoParams)]
pub struct ContentQuery {
    /// Relative path of a markdown file, e.g. `README.md`, `docs/benchmarks.md` or
    /// `part0_introduction/task01_getting_started/README.md`.
    pub path: String,
}

impl Validate for ContentQuery {
    fn validate(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        c.str_len(query("path"), &self.path, 1, 500);
        c.finish()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContentResponse {
    pub content: String,
    /// The path as sent.
    pub path: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocIndex {
    pub documents: Vec<DocEntry>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocEntry {
    pub path: String,
    /// The first `# ` heading, or the file name.
    pub title: String,
}

/// Returns one documentation file's markdown.
#[utoipa::path(get, path = "/api/v1/workshop/content", tag = "docs", params(ContentQuery),
    responses(
        (status = 200, description = "The file's markdown", body = ContentResponse),
        (status = 400, description = "INVALID_PATH: traversal, absolute or non-.md path", body = common::error::ErrorEnvelope),
        (status = 404, description = "NOT_FOUND", body = common::error::ErrorEnvelope),
        (status = 422, description = "Missing path", body = common::error::ErrorEnvelope),
    ))]
pub async fn content(
    State(state): State<AppState>,
    ValidQuery(q): ValidQuery<ContentQuery>,
) -> AppResult<Json<ContentResponse>> {
    let path = q.path.clone();
    let config = state.config.clone();
    let content = tokio::task::spawn_blocking(move || {
        if curriculum::is_workshop_path(&path) {
            read_markdown(
                workshop_root(&config).as_deref(),
                &path,
                curriculum::is_workshop_page,
            )
        } else {
            read_document(docs_root(&config).as_deref(), &path)
        }
    })
    .await
    .map_err(|e| AppError::internal(format!("docs reader task failed: {e}")))??;
    Ok(Json(ContentResponse {
        content,
        path: q.path,
    }))
}

/// Lists the documentation files the reader serves.
#[utoipa::path(get, path = "/api/v1/workshop/index", tag = "docs",
    responses((status = 200, description = "Published documents", body = DocIndex)))]
pub async fn index(State(state): State<AppState>) -> Json<DocIndex> {
    let documents = match docs_root(&state.config) {
        Some(root) => tokio::task::spawn_blocking(move || list_documents(&root))
            .await
            .unwrap_or_default(),
        None => Vec::new(),
    };
    Json(DocIndex { documents })
}

fn invalid(message: &str) -> AppError {
    AppError::BadRequest {
        code: "INVALID_PATH",
        message: message.to_owned(),
    }
}

fn not_found(path: &str) -> AppError {
    AppError::NotFound {
        code: "NOT_FOUND",
        message: format!("Workshop content not found: {path}"),
    }
}

/// The documentation root: `DOCS_ROOT` when set; otherwise the checkout this binary was
/// built from (`crates/gateway/../..`) while it still holds README.md; otherwise none (the
/// reader answers 404 and the index is empty). Never the working directory.
pub fn docs_root(config: &Config) -> Option<PathBuf> {
    if let Some(root) = &config.docs_root {
        return Some(root.clone());
    }
    let built_from = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    built_from.join("README.md").is_file().then(|| {
        built_from
            .canonicalize()
            .unwrap_or_else(|_| built_from.to_path_buf())
    })
}

/// The workshop root: `WORKSHOP_ROOT` when set, otherwise `workshop/` under the documentation
/// root (so the same checkout rule applies: never the working directory).
pub fn workshop_root(config: &Config) -> Option<PathBuf> {
    if let Some(root) = &config.workshop_root {
        return Some(root.clone());
    }
    docs_root(config).map(|root| root.join("workshop"))
}

fn symlink_refused() -> AppError {
    invalid("Symbolic links are not served")
}

/// Applies the path rules and reads the document, following no symbolic link: each component
/// below the root is checked with `lstat`, and the file that was opened must be the regular
/// file that was checked (so swapping in a link between check and open is caught).
fn read_document(root: Option<&Path>, raw: &str) -> AppResult<String> {
    read_markdown(root, raw, is_published)
}

/// [`read_document`] for any published set: the same rules, the same link checks.
fn read_markdown(root: Option<&Path>, raw: &str, published: fn(&str) -> bool) -> AppResult<String> {
    check_path(raw, published)?;
    let root = root.ok_or_else(|| not_found(raw))?;
    let (path, checked) = walk(root, raw)?;
    let mut file = std::fs::File::open(&path).map_err(|_| not_found(raw))?;
    let opened = file.metadata().map_err(|_| not_found(raw))?;
    if !opened.is_file() || !same_file(&opened, &checked) {
        return Err(symlink_refused());
    }
    let mut content = String::new();
    std::io::Read::read_to_string(&mut file, &mut content).map_err(|_| not_found(raw))?;
    Ok(content)
}

/// The contract's checks on the raw path, then the published set (no hidden component).
fn check_path(raw: &str, published: fn(&str) -> bool) -> AppResult<()> {
    if raw.contains("..")
        || raw.starts_with('/')
        || raw.starts_with('\\')
        || raw.contains('\\')
        || raw.contains('\0')
    {
        return Err(invalid(
            "Path must be a relative path with no '..' components",
        ));
    }
    if !raw.ends_with(".md") {
        return Err(invalid("Only .md files are accessible"));
    }
    if !published(raw) {
        return Err(not_found(raw));
    }
    Ok(())
}

/// `lstat`s every component of `raw` below `root`: directories on the way, a regular file at
/// the end, a symbolic link nowhere. Returns the path and the checked file's metadata.
fn walk(root: &Path, raw: &str) -> AppResult<(PathBuf, std::fs::Metadata)> {
    let parts: Vec<&str> = raw.split('/').collect();
    let mut path = root.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        path.push(part);
        let meta = std::fs::symlink_metadata(&path).map_err(|_| not_found(raw))?;
        if meta.file_type().is_symlink() {
            return Err(symlink_refused());
        }
        let last = i + 1 == parts.len();
        if last && meta.is_file() {
            return Ok((path, meta));
        }
        if last || !meta.is_dir() {
            return Err(not_found(raw));
        }
    }
    Err(not_found(raw))
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    a.len() == b.len() && a.modified().ok() == b.modified().ok()
}

/// Top-level markdown files and anything under `docs/`; never e.g. `frontend/node_modules`,
/// and no component starting with `.` (`.github/…`, `docs/.drafts/…`, `.notes.md`).
fn is_published(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    if parts.iter().any(|p| p.is_empty() || p.starts_with('.')) {
        return false;
    }
    match parts.as_slice() {
        [_file] => true,
        ["docs", rest @ ..] => !rest.is_empty(),
        _ => false,
    }
}

/// What the reader would serve, found the same way: regular files and directories only (a
/// `DirEntry`'s file type does not follow links), no hidden names.
fn list_documents(root: &Path) -> Vec<DocEntry> {
    let mut paths = Vec::new();
    if let Ok(entries) = std::fs::read_dir(root) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let regular = entry.file_type().is_ok_and(|t| t.is_file());
            if regular && name.ends_with(".md") && !name.starts_with('.') {
                paths.push(name);
            }
        }
    }
    let docs_is_dir = std::fs::symlink_metadata(root.join("docs")).is_ok_and(|m| m.is_dir());
    if docs_is_dir {
        collect_docs(&root.join("docs"), "docs", &mut paths);
    }
    paths.sort_by_key(|p| (doc_rank(p), p.clone()));
    paths
        .into_iter()
        .map(|path| {
            let title = std::fs::read_to_string(root.join(&path))
                .ok()
                .and_then(|text| {
                    text.lines()
                        .find_map(|l| l.strip_prefix("# ").map(|t| t.trim().to_owned()))
                })
                .unwrap_or_else(|| path.clone());
            DocEntry { path, title }
        })
        .collect()
}

fn collect_docs(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if name.starts_with('.') || kind.is_symlink() {
            continue;
        }
        if kind.is_dir() {
            collect_docs(&entry.path(), &format!("{prefix}/{name}"), out);
        } else if kind.is_file() && name.ends_with(".md") {
            out.push(format!("{prefix}/{name}"));
        }
    }
}

/// README first, then ARCHITECTURE, other top-level files, then docs/.
fn doc_rank(path: &str) -> u8 {
    match path {
        "README.md" => 0,
        "ARCHITECTURE.md" => 1,
        p if !p.contains('/') => 2,
        _ => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_top_level_and_docs_without_hidden_parts_are_published() {
        assert!(is_published("README.md"));
        assert!(is_published("docs/benchmarks.md"));
        assert!(is_published("docs/guides/queue.md"));
        assert!(!is_published("frontend/node_modules/x/README.md"));
        assert!(!is_published("docs/.hidden.md"));
        assert!(!is_published("docs/.drafts/a.md"));
        assert!(!is_published(".notes.md"));
        assert!(!is_published("./README.md"));
        assert!(!is_published("docs//a.md"));
        assert!(!is_published("docs/"));
    }

    #[test]
    fn path_rules_follow_the_contract_order() {
        let root = std::env::temp_dir().join(format!("sable-docs-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(root.join("docs")).unwrap();
        std::fs::write(root.join("README.md"), "# Hi").unwrap();
        std::fs::write(root.join("docs/a.md"), "# A").unwrap();
        let read = |raw: &str| read_document(Some(&root), raw);
        let code =
            |r: AppResult<String>| r.err().map(|e| (e.status().as_u16(), e.code().to_owned()));

        assert_eq!(read("README.md").unwrap(), "# Hi");
        assert_eq!(read("docs/a.md").unwrap(), "# A");
        for (raw, status) in [
            ("../etc/passwd.md", 400),
            ("/etc/passwd", 400),
            ("docs/a.txt", 400),
            ("missing.md", 404),
            ("src/lib.md", 404),
        ] {
            assert_eq!(
                code(read(raw)),
                Some((
                    status,
                    if status == 400 {
                        "INVALID_PATH"
                    } else {
                        "NOT_FOUND"
                    }
                    .into()
                )),
                "{raw}"
            );
        }
        // No root at all: nothing is served, never the working directory.
        assert_eq!(
            code(read_document(None, "README.md")),
            Some((404, "NOT_FOUND".into()))
        );
        let index = list_documents(&root);
        assert_eq!(index[0].path, "README.md");
        assert_eq!(index[0].title, "Hi");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_built_in_root_is_the_checkout_never_the_working_directory() {
        let config = <Config as clap::Parser>::try_parse_from(["gateway"]).unwrap();
        let root = docs_root(&config).expect("this checkout holds README.md");
        assert!(root.join("README.md").is_file());
        assert!(
            root.join("crates/gateway/Cargo.toml").is_file(),
            "{}",
            root.display()
        );
        assert!(root.is_absolute(), "{}", root.display());
        let config =
            <Config as clap::Parser>::try_parse_from(["gateway", "--docs-root", "/srv/docs"])
                .unwrap();
        assert_eq!(docs_root(&config), Some(PathBuf::from("/srv/docs")));
    }
}
