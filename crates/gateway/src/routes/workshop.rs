//! `GET /api/v1/workshop/content?path=`: the documentation reader (contract §5.7), serving
//! this project's own markdown: top-level `*.md` (README, ARCHITECTURE, CHANGELOG) and
//! `docs/**/*.md` under `DOCS_ROOT`. Additive: `GET /api/v1/workshop/index` lists them.
//!
//! Path rules, in the contract's order: `..`, absolute or backslash paths → 400
//! `INVALID_PATH`; not `.md` → 400; resolving outside the root (symlinks included) → 400;
//! not a file or outside the published set → 404 `NOT_FOUND`. Never a 500.

use std::path::{Path, PathBuf};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use common::extract::ValidQuery;
use common::validation::{query, Checker, FieldError, Validate};
use common::{AppError, AppResult};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/workshop/content", get(content))
        .route("/api/v1/workshop/index", get(index))
}

#[derive(OpenApi)]
#[openapi(
    paths(content, index),
    components(schemas(ContentResponse, DocIndex, DocEntry))
)]
pub struct ApiDoc;

#[derive(Debug, Deserialize, IntoParams)]
pub struct ContentQuery {
    /// Relative path of a markdown file, e.g. `README.md` or `docs/benchmarks.md`.
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
    let file = resolve(&state.config.docs_root, &q.path).await?;
    let content = tokio::fs::read_to_string(&file)
        .await
        .map_err(|_| not_found(&q.path))?;
    Ok(Json(ContentResponse {
        content,
        path: q.path,
    }))
}

/// Lists the documentation files the reader serves.
#[utoipa::path(get, path = "/api/v1/workshop/index", tag = "docs",
    responses((status = 200, description = "Published documents", body = DocIndex)))]
pub async fn index(State(state): State<AppState>) -> Json<DocIndex> {
    let root = state.config.docs_root.clone();
    let documents = tokio::task::spawn_blocking(move || list_documents(&root))
        .await
        .unwrap_or_default();
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

/// Applies the contract's path rules and returns the file to read.
async fn resolve(root: &Path, raw: &str) -> AppResult<PathBuf> {
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
    if !is_published(raw) {
        return Err(not_found(raw));
    }
    let root = tokio::fs::canonicalize(root)
        .await
        .map_err(|_| not_found(raw))?;
    let candidate = tokio::fs::canonicalize(root.join(raw))
        .await
        .map_err(|_| not_found(raw))?;
    if !candidate.starts_with(&root) {
        return Err(invalid(
            "Path must be a relative path with no '..' components",
        ));
    }
    match tokio::fs::metadata(&candidate).await {
        Ok(m) if m.is_file() => Ok(candidate),
        _ => Err(not_found(raw)),
    }
}

/// Top-level markdown files and anything under `docs/`; never e.g. `frontend/node_modules`.
fn is_published(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        [file] => !file.is_empty(),
        ["docs", rest @ ..] => {
            !rest.is_empty() && rest.iter().all(|p| !p.is_empty() && !p.starts_with('.'))
        }
        _ => false,
    }
}

fn list_documents(root: &Path) -> Vec<DocEntry> {
    let mut paths = Vec::new();
    if let Ok(entries) = std::fs::read_dir(root) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".md") && entry.path().is_file() {
                paths.push(name);
            }
        }
    }
    collect_docs(&root.join("docs"), "docs", &mut paths);
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
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            collect_docs(&path, &format!("{prefix}/{name}"), out);
        } else if name.ends_with(".md") {
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
    fn only_top_level_and_docs_are_published() {
        assert!(is_published("README.md"));
        assert!(is_published("docs/benchmarks.md"));
        assert!(is_published("docs/guides/queue.md"));
        assert!(!is_published("frontend/node_modules/x/README.md"));
        assert!(!is_published("docs/.hidden.md"));
        assert!(!is_published("docs/"));
    }

    #[tokio::test]
    async fn path_rules_follow_the_contract_order() {
        let root = std::env::temp_dir().join(format!("sable-docs-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(root.join("docs")).unwrap();
        std::fs::write(root.join("README.md"), "# Hi").unwrap();
        std::fs::write(root.join("docs/a.md"), "# A").unwrap();

        assert!(resolve(&root, "README.md").await.is_ok());
        assert!(resolve(&root, "docs/a.md").await.is_ok());
        let code =
            |r: AppResult<PathBuf>| r.err().map(|e| (e.status().as_u16(), e.code().to_owned()));
        assert_eq!(
            code(resolve(&root, "../etc/passwd.md").await),
            Some((400, "INVALID_PATH".into()))
        );
        assert_eq!(
            code(resolve(&root, "/etc/passwd").await),
            Some((400, "INVALID_PATH".into()))
        );
        assert_eq!(
            code(resolve(&root, "docs/a.txt").await),
            Some((400, "INVALID_PATH".into()))
        );
        assert_eq!(
            code(resolve(&root, "missing.md").await),
            Some((404, "NOT_FOUND".into()))
        );
        assert_eq!(
            code(resolve(&root, "src/lib.md").await),
            Some((404, "NOT_FOUND".into()))
        );

        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc/hostname", root.join("docs/escape.md")).unwrap();
            assert_eq!(
                code(resolve(&root, "docs/escape.md").await),
                Some((400, "INVALID_PATH".into()))
            );
        }
        let index = list_documents(&root);
        assert_eq!(index[0].path, "README.md");
        assert_eq!(index[0].title, "Hi");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
