//! The workshop's curriculum, read from the folders under the workshop root: parts
//! `part<N>_<name>/`, tasks `task<NN>_<slug>/`, each task with up to four pages (`README.md`,
//! `lab/README.md`, `slides.md`, `production_reality.md`). Titles are the pages' first `# `
//! headings, so the curriculum cannot disagree with the content. Task ids are what learners
//! type (`make lab-check TASK=0.4`): `0.<NN>` in Part 0, the task number elsewhere (`5`).

use std::path::Path;

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::workshop_root;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Curriculum {
    pub parts: Vec<Part>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Part {
    /// `0`, `1`, `2`, `3`.
    pub id: String,
    /// The part's folder, e.g. `part0_introduction`.
    pub dir: String,
    pub title: String,
    pub tasks: Vec<Task>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Task {
    /// `0.1`…`0.6` in Part 0, `1`…`11` after it.
    pub id: String,
    /// The task's folder, e.g. `part0_introduction/task01_getting_started`.
    pub dir: String,
    pub title: String,
    /// The overview's first paragraph.
    pub summary: String,
    pub pages: Vec<Page>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page {
    /// `overview`, `lab`, `slides` or `production_reality`.
    pub kind: String,
    /// The path to ask `GET /api/v1/workshop/content` for.
    pub path: String,
}

/// The four pages of a task, in reading order, with the file each one is.
pub const PAGES: [(&str, &str); 4] = [
    ("overview", "README.md"),
    ("lab", "lab/README.md"),
    ("slides", "slides.md"),
    ("production_reality", "production_reality.md"),
];

/// Lists the workshop: parts, tasks and their pages.
#[utoipa::path(get, path = "/api/v1/workshop/curriculum", tag = "docs",
    responses((status = 200, description = "The workshop's parts and tasks (empty without a workshop root)", body = Curriculum)))]
pub async fn curriculum(State(state): State<AppState>) -> Json<Curriculum> {
    let parts = match workshop_root(&state.config) {
        Some(root) => tokio::task::spawn_blocking(move || read_curriculum(&root))
            .await
            .unwrap_or_default(),
        None => Vec::new(),
    };
    Json(Curriculum { parts })
}

/// `part0_introduction` → 0; `None` for anything else.
fn numbered(name: &str, prefix: &str) -> Option<u32> {
    let rest = name.strip_prefix(prefix)?;
    let (digits, slug) = rest.split_once('_')?;
    let slug_ok = !slug.is_empty()
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) || !slug_ok {
        return None;
    }
    digits.parse().ok()
}

/// Whether a content path names the workshop rather than the documentation (its first
/// component is a part folder's name).
pub fn is_workshop_path(raw: &str) -> bool {
    raw.split('/')
        .next()
        .is_some_and(|first| numbered(first, "part").is_some())
}

/// What the reader serves from the workshop root: markdown inside a part folder, with no
/// hidden or empty component.
pub fn is_workshop_page(raw: &str) -> bool {
    let parts: Vec<&str> = raw.split('/').collect();
    if parts.iter().any(|p| p.is_empty() || p.starts_with('.')) {
        return false;
    }
    parts.len() >= 2 && is_workshop_path(raw)
}

/// The task id learners use: `0.4` in Part 0, `5` elsewhere.
pub fn task_id(part: u32, task: u32) -> String {
    if part == 0 {
        format!("0.{task}")
    } else {
        task.to_string()
    }
}

/// Real directories (no links, no hidden names) whose names carry `prefix<N>_`, by number.
fn numbered_dirs(dir: &Path, prefix: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if let (true, Some(n)) = (is_dir, numbered(&name, prefix)) {
            found.push((n, name));
        }
    }
    found.sort();
    found
}

/// The first `# ` heading and the first paragraph after it.
fn title_and_summary(path: &Path) -> Option<(String, String)> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let title = lines
        .by_ref()
        .find_map(|l| l.strip_prefix("# ").map(|t| t.trim().to_owned()))?;
    let paragraph: Vec<&str> = lines
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::trim)
        .collect();
    let summary = common::text::one_line_clipped(&paragraph.join(" "), 400);
    Some((title, summary))
}

pub fn read_curriculum(root: &Path) -> Vec<Part> {
    numbered_dirs(root, "part")
        .into_iter()
        .map(|(n, dir)| {
            let part_dir = root.join(&dir);
            let title = title_and_summary(&part_dir.join("README.md"))
                .map(|(t, _)| t)
                .unwrap_or_else(|| dir.clone());
            let tasks = numbered_dirs(&part_dir, "task")
                .into_iter()
                .map(|(t, task_dir)| {
                    let rel = format!("{dir}/{task_dir}");
                    let (title, summary) =
                        title_and_summary(&part_dir.join(&task_dir).join("README.md"))
                            .unwrap_or_else(|| (task_dir.clone(), String::new()));
                    let pages = PAGES
                        .iter()
                        .filter(|(_, file)| {
                            std::fs::symlink_metadata(root.join(&rel).join(file))
                                .is_ok_and(|m| m.is_file())
                        })
                        .map(|(kind, file)| Page {
                            kind: (*kind).to_owned(),
                            path: format!("{rel}/{file}"),
                        })
                        .collect();
                    Task {
                        id: task_id(n, t),
                        dir: rel,
                        title,
                        summary,
                        pages,
                    }
                })
                .collect();
            Part {
                id: n.to_string(),
                dir,
                title,
                tasks,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workshop_paths_are_part_folders_without_hidden_parts() {
        assert!(is_workshop_path(
            "part0_introduction/task01_getting_started/README.md"
        ));
        assert!(is_workshop_page(
            "part0_introduction/task01_getting_started/lab/README.md"
        ));
        assert!(is_workshop_page("part2_scalability/README.md"));
        assert!(!is_workshop_page("part0_introduction"));
        assert!(!is_workshop_page("part0_introduction/.hidden/README.md"));
        assert!(!is_workshop_page("part0_introduction//README.md"));
        assert!(!is_workshop_path("partx_introduction/README.md"));
        assert!(!is_workshop_path("part0-introduction/README.md"));
        assert!(!is_workshop_path("part_/README.md"));
        assert!(!is_workshop_path("docs/part0_x.md"));
        assert!(!is_workshop_path("README.md"));
    }

    #[test]
    fn task_ids_are_what_learners_type() {
        assert_eq!(task_id(0, 4), "0.4");
        assert_eq!(task_id(2, 5), "5");
        assert_eq!(numbered("task05_profiling", "task"), Some(5));
        assert_eq!(numbered("task05_Profiling", "task"), None);
    }

    /// The repository's own workshop: four parts, seventeen tasks, four pages each.
    #[test]
    fn the_repository_workshop_has_seventeen_tasks_with_four_pages() {
        let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../workshop"));
        let parts = read_curriculum(root);
        let ids: Vec<&str> = parts.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["0", "1", "2", "3"]);
        let tasks: Vec<&Task> = parts.iter().flat_map(|p| &p.tasks).collect();
        let task_ids: Vec<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(
            task_ids,
            [
                "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "1", "2", "3", "4", "5", "6", "7", "8",
                "9", "10", "11"
            ]
        );
        for task in tasks {
            assert_eq!(task.pages.len(), 4, "{} has {:?}", task.dir, task.pages);
            assert!(!task.summary.is_empty(), "{} has no summary", task.dir);
            assert_ne!(task.title, task.dir.rsplit('/').next().unwrap_or_default());
        }
    }
}
