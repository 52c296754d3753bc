//! The documentation reader (issue 11.7) against a real directory: it follows no symbolic
//! link (inside the root either), serves only regular `.md` files with no hidden component,
//! and lists only what it would serve.

use crate::helpers::{assert_envelope, closed_port_url, spawn_app_with, TestApp};

struct Docs {
    root: std::path::PathBuf,
    outside: std::path::PathBuf,
}

impl Drop for Docs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
        let _ = std::fs::remove_dir_all(&self.outside);
    }
}

/// A docs root with a real document, links to an inside and to an outside file, a linked
/// directory, hidden files and directories, and a file that is not markdown.
fn docs_tree() -> Docs {
    let id = uuid::Uuid::new_v4();
    let root = std::env::temp_dir().join(format!("sable-docs-root-{id}"));
    let outside = std::env::temp_dir().join(format!("sable-docs-outside-{id}"));
    std::fs::create_dir_all(root.join("docs/guides")).unwrap();
    std::fs::create_dir_all(root.join("docs/.hidden")).unwrap();
    std::fs::create_dir_all(root.join(".hidden")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(root.join("README.md"), "# Readme\ninside").unwrap();
    std::fs::write(root.join("docs/guides/real.md"), "# Real\n").unwrap();
    std::fs::write(root.join("docs/.hidden/x.md"), "# hidden in docs").unwrap();
    std::fs::write(root.join(".hidden/x.md"), "# hidden").unwrap();
    std::fs::write(root.join(".secret.md"), "# secret").unwrap();
    std::fs::write(root.join("docs/notes.txt"), "not markdown").unwrap();
    std::fs::create_dir_all(root.join("docs/folder.md")).unwrap();
    std::fs::write(outside.join("secret.md"), "# OUTSIDE SECRET").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink(outside.join("secret.md"), root.join("docs/escape.md")).unwrap();
        symlink(outside.join("secret.md"), root.join("ESCAPE.md")).unwrap();
        symlink(root.join("README.md"), root.join("docs/inside.md")).unwrap();
        symlink("guides/real.md", root.join("docs/relative.md")).unwrap();
        symlink(&outside, root.join("docs/linked")).unwrap();
        symlink(root.join("docs/guides"), root.join("docs/guides-link")).unwrap();
    }
    Docs { root, outside }
}

async fn spawn_with_docs(docs: &Docs) -> TestApp {
    let down = closed_port_url().await;
    spawn_app_with(&down, &down, &["--docs-root", docs.root.to_str().unwrap()]).await
}

async fn read(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(app.url("/api/v1/workshop/content"))
        .query(&[("path", path)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_reader_serves_regular_markdown_files() {
    let docs = docs_tree();
    let app = spawn_with_docs(&docs).await;
    for (path, content) in [
        ("README.md", "# Readme\ninside"),
        ("docs/guides/real.md", "# Real\n"),
    ] {
        let response = read(&app, path).await;
        assert_eq!(response.status(), 200, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["content"], content);
        assert_eq!(body["path"], path);
    }
}

#[cfg(unix)]
#[tokio::test]
async fn the_reader_follows_no_symlink_inside_or_outside_the_root() {
    let docs = docs_tree();
    let app = spawn_with_docs(&docs).await;
    for path in [
        "docs/escape.md",
        "ESCAPE.md",
        "docs/inside.md",
        "docs/relative.md",
        "docs/linked/secret.md",
        "docs/guides-link/real.md",
    ] {
        let response = read(&app, path).await;
        let body = assert_envelope(response, 400, "INVALID_PATH").await;
        assert!(
            !body.to_string().contains("OUTSIDE SECRET"),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn hidden_paths_directories_and_other_files_are_not_served() {
    let docs = docs_tree();
    let app = spawn_with_docs(&docs).await;
    for path in [
        ".hidden/x.md",
        "docs/.hidden/x.md",
        ".secret.md",
        "./README.md",
        "docs/folder.md",
        "docs/missing.md",
    ] {
        assert_envelope(read(&app, path).await, 404, "NOT_FOUND").await;
    }
    assert_envelope(read(&app, "docs/notes.txt").await, 400, "INVALID_PATH").await;
}

#[tokio::test]
async fn the_index_lists_only_what_the_reader_serves() {
    let docs = docs_tree();
    let app = spawn_with_docs(&docs).await;
    let index: serde_json::Value = app
        .get("/api/v1/workshop/index")
        .await
        .json()
        .await
        .unwrap();
    let paths: Vec<&str> = index["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["README.md", "docs/guides/real.md"]);
    for path in paths {
        assert_eq!(read(&app, path).await.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn a_missing_docs_root_answers_404_not_500() {
    let down = closed_port_url().await;
    let missing = std::env::temp_dir().join(format!("sable-no-docs-{}", uuid::Uuid::new_v4()));
    let app = spawn_app_with(&down, &down, &["--docs-root", missing.to_str().unwrap()]).await;
    assert_envelope(read(&app, "README.md").await, 404, "NOT_FOUND").await;
    let index: serde_json::Value = app
        .get("/api/v1/workshop/index")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(index["documents"], serde_json::json!([]));
}
