//! `.env.example` tells the truth: every key in it appears once and is read by a binary (an
//! `env = "…"` in a clap definition under `crates/*/src`) or by the Docker Compose files
//! (`${KEY}`); it advertises no deprecated alias; and a duration written with a unit (`30s`)
//! is only given to a setting whose parser accepts units. Commented `# KEY=` lines count: they
//! document a setting too. And every setting that holds a credential hides its value in
//! `--help` (issue 11.5).

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What the clap definitions say about one environment variable.
#[derive(Debug, Default)]
struct Setting {
    /// Files whose `#[arg(…)]` reads it.
    files: BTreeSet<String>,
    /// Declared `hide = true`: a deprecated alias kept for old configurations.
    hidden: bool,
    /// Parsed by `common::config::duration_*`, so `30s`, `200ms`… are accepted.
    takes_units: bool,
    /// Declared `hide_env_values = true`: `--help` does not print its value.
    value_hidden: bool,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `env = "NAME"` in the sources of the workspace's crates, with the attribute around it.
fn settings_read_by_binaries() -> BTreeMap<String, Setting> {
    let mut files = Vec::new();
    for krate in std::fs::read_dir(root().join("crates")).unwrap().flatten() {
        rust_files(&krate.path().join("src"), &mut files);
    }
    let mut settings: BTreeMap<String, Setting> = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("env = \"") {
            let before = &rest[..at];
            let after = &rest[at + "env = \"".len()..];
            let Some(end) = after.find('"') else { break };
            let name = &after[..end];
            rest = &after[end..];
            // Only clap's `env = "…"`, not a longer name ending in `env` (the providers file's
            // `api_key_env = "…"` in docs and tests names a provider's key, not a setting).
            let part_of_a_longer_name = before
                .bytes()
                .last()
                .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
            if part_of_a_longer_name
                || name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            {
                continue;
            }
            // The attribute this `env` belongs to: from its `#[arg(` to the closing `)]`.
            let start = before.rfind("#[arg(").unwrap_or(before.len());
            let attribute = format!(
                "{}{}",
                &before[start..],
                &rest[..rest.find(")]").unwrap_or(rest.len())]
            );
            let setting = settings.entry(name.to_owned()).or_default();
            setting.files.insert(
                file.strip_prefix(root())
                    .unwrap_or(&file)
                    .display()
                    .to_string(),
            );
            setting.hidden |= attribute.contains("hide = true");
            setting.takes_units |= attribute.contains("value_parser = duration_");
            setting.value_hidden |= attribute.contains("hide_env_values = true");
        }
    }
    settings
}

/// Every `${NAME` that a Compose file substitutes from `.env`.
fn keys_read_by_compose() -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for entry in std::fs::read_dir(root()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("docker-compose")
            && (name.ends_with(".yml") || name.ends_with(".yaml")))
        {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        for part in text.split("${").skip(1) {
            let key: String = part
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !key.is_empty() {
                keys.insert(key);
            }
        }
    }
    keys
}

/// `(line number, key, value)` for each `KEY=value` or `# KEY=value` line.
fn example_entries() -> Vec<(usize, String, String)> {
    let text = std::fs::read_to_string(root().join(".env.example")).unwrap();
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line.trim_start();
            let line = line.strip_prefix('#').map_or(line, str::trim_start);
            let (key, value) = line.split_once('=')?;
            let is_key = !key.is_empty()
                && key.starts_with(|c: char| c.is_ascii_uppercase())
                && key
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            is_key.then(|| (i + 1, key.to_owned(), value.trim().to_owned()))
        })
        .collect()
}

#[test]
fn the_scan_finds_the_settings_it_must() {
    // Guards the scanner itself: if these go missing, the other tests prove nothing.
    let settings = settings_read_by_binaries();
    for key in [
        "DATABASE_URL",
        "GATEWAY_ADDR",
        "PROVIDER",
        "WORKER_MAX_JOBS",
        "SHUTDOWN_GRACE_SECS",
    ] {
        assert!(
            settings.contains_key(key),
            "{key} not found in crates/*/src"
        );
    }
    assert!(settings["SHUTDOWN_GRACE_SECS"].takes_units);
    assert!(keys_read_by_compose().contains("POSTGRES_PASSWORD"));
    assert!(example_entries().len() > 30);
}

#[test]
fn env_example_names_each_key_once() {
    let mut first_line = BTreeMap::new();
    let mut twice = Vec::new();
    for (line, key, _) in example_entries() {
        if let Some(first) = first_line.insert(key.clone(), line) {
            twice.push(format!("{key} (lines {first} and {line})"));
        }
    }
    assert!(
        twice.is_empty(),
        ".env.example names these keys twice: {}",
        twice.join(", ")
    );
}

#[test]
fn env_example_names_only_keys_that_something_reads() {
    let settings = settings_read_by_binaries();
    let compose = keys_read_by_compose();
    let unread: Vec<String> = example_entries()
        .into_iter()
        .filter(|(_, key, _)| !settings.contains_key(key) && !compose.contains(key))
        .map(|(line, key, _)| format!("{key} (line {line})"))
        .collect();
    assert!(
        unread.is_empty(),
        ".env.example names keys that no binary (env = \"…\" in crates/*/src) and no docker-compose file reads: {}",
        unread.join(", ")
    );
}

#[test]
fn env_example_advertises_no_deprecated_alias() {
    let settings = settings_read_by_binaries();
    let deprecated: Vec<String> = example_entries()
        .into_iter()
        .filter(|(_, key, _)| settings.get(key).is_some_and(|s| s.hidden))
        .map(|(line, key, _)| format!("{key} (line {line})"))
        .collect();
    assert!(
        deprecated.is_empty(),
        ".env.example names deprecated (hidden) settings; write their new names instead: {}",
        deprecated.join(", ")
    );
}

#[test]
fn durations_with_units_go_only_to_settings_that_accept_them() {
    let settings = settings_read_by_binaries();
    for (line, key, value) in example_entries() {
        let Some(setting) = settings.get(&key) else {
            continue;
        };
        if !(key.ends_with("_MS") || key.ends_with("_SECS")) || value.is_empty() {
            continue;
        }
        if setting.takes_units {
            let parsed = if key.ends_with("_MS") {
                common::config::duration_ms(&value)
            } else {
                common::config::duration_secs(&value)
            };
            assert!(
                parsed.is_ok(),
                ".env.example line {line}: {key}={value}: {parsed:?}"
            );
        } else {
            assert!(
                value.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
                ".env.example line {line}: {key}={value}, but {:?} parse it as a plain number",
                setting.files
            );
        }
    }
}

/// Names that hold credentials: a URL that may carry a password, keys, tokens, secrets.
fn looks_secret(key: &str) -> bool {
    ["DATABASE_URL", "REDIS_URL"].contains(&key)
        || ["_SECRET", "_KEY", "_TOKEN", "_PASSWORD"]
            .iter()
            .any(|suffix| key.ends_with(suffix))
}

#[test]
fn every_secret_setting_hides_its_value_in_help() {
    let shown: Vec<String> = settings_read_by_binaries()
        .into_iter()
        .filter(|(key, s)| looks_secret(key) && !s.value_hidden)
        .map(|(key, s)| format!("{key} in {:?}", s.files))
        .collect();
    assert!(
        shown.is_empty(),
        "these secrets need `hide_env_values = true` so --help does not print them: {}",
        shown.join(", ")
    );
}
