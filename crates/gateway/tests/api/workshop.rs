//! The workshop (issue 26): its pages served under the contract's path rules from the workshop
//! root (the reference client's paths), the curriculum read from the folders, and each user's
//! progress stored server-side.

use serde_json::{json, Value};

use crate::helpers::{assert_envelope, closed_port_url, spawn_app_with, TestApp};

async fn read(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(app.url("/api/v1/workshop/content"))
        .query(&[("path", path)])
        .send()
        .await
        .unwrap()
}

/// The gateway with this checkout as its documentation root (so `workshop/` is the real one).
async fn spawn() -> TestApp {
    let down = closed_port_url().await;
    spawn_app_with(&down, &down, &[]).await
}

#[tokio::test]
async fn the_reference_clients_paths_serve_the_repository_workshop() {
    let app = spawn().await;
    for (path, heading) in [
        (
            "part0_introduction/task01_getting_started/README.md",
            "# 0.1 ",
        ),
        (
            "part0_introduction/task01_getting_started/lab/README.md",
            "# Lab 0.1",
        ),
        ("part2_scalability/task07_memory/slides.md", "# 7 "),
        (
            "part3_security/task11_secrets/production_reality.md",
            "# 11 ",
        ),
    ] {
        let response = read(&app, path).await;
        assert_eq!(response.status(), 200, "{path}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["content"].as_str().unwrap().starts_with(heading),
            "{path}: {}",
            body["content"]
        );
        assert_eq!(body["path"], path);
    }
    // The documentation reader is unchanged beside it.
    assert_eq!(read(&app, "README.md").await.status(), 200);
    assert_eq!(read(&app, "docs/benchmarks.md").await.status(), 200);
}

#[tokio::test]
async fn workshop_paths_follow_the_contracts_rules() {
    let app = spawn().await;
    for path in [
        "part0_introduction/../../Cargo.toml.md",
        "part0_introduction/task01_getting_started/../../../README.md",
        "/part0_introduction/README.md",
        "part0_introduction\\README.md",
    ] {
        assert_envelope(read(&app, path).await, 400, "INVALID_PATH").await;
    }
    // Not markdown: the lab's scripts are not served.
    assert_envelope(
        read(
            &app,
            "part0_introduction/task01_getting_started/lab/solution.sh",
        )
        .await,
        400,
        "INVALID_PATH",
    )
    .await;
    for path in [
        "part9_nothing/README.md",
        "part0_introduction/task01_getting_started/missing.md",
        "part0_introduction/.hidden/README.md",
        "part0_introduction//README.md",
        "part0_introduction/task01_getting_started/lab.md",
        // A folder is not a file, even when its name ends in .md.
        "part0_introduction/task01_getting_started",
    ] {
        let response = read(&app, path).await;
        assert!(
            [400, 404].contains(&response.status().as_u16()),
            "{path}: {}",
            response.status()
        );
        assert!(response.status() != 200);
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_workshop_root_follows_no_symbolic_link() {
    let id = uuid::Uuid::new_v4();
    let root = std::env::temp_dir().join(format!("sable-workshop-root-{id}"));
    let outside = std::env::temp_dir().join(format!("sable-workshop-outside-{id}"));
    std::fs::create_dir_all(root.join("part0_intro/task01_a")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(root.join("part0_intro/task01_a/README.md"), "# A\n\nFirst.").unwrap();
    std::fs::write(outside.join("secret.md"), "# OUTSIDE SECRET").unwrap();
    std::os::unix::fs::symlink(
        outside.join("secret.md"),
        root.join("part0_intro/task01_a/slides.md"),
    )
    .unwrap();
    std::os::unix::fs::symlink(&outside, root.join("part0_intro/task02_linked")).unwrap();
    let down = closed_port_url().await;
    let app = spawn_app_with(&down, &down, &["--workshop-root", root.to_str().unwrap()]).await;
    assert_eq!(
        read(&app, "part0_intro/task01_a/README.md").await.status(),
        200
    );
    for path in [
        "part0_intro/task01_a/slides.md",
        "part0_intro/task02_linked/secret.md",
    ] {
        let body = assert_envelope(read(&app, path).await, 400, "INVALID_PATH").await;
        assert!(!body.to_string().contains("OUTSIDE SECRET"), "{path}");
    }
    // The curriculum lists neither the linked file nor the linked folder.
    let curriculum: Value = app
        .get("/api/v1/workshop/curriculum")
        .await
        .json()
        .await
        .unwrap();
    let tasks = &curriculum["parts"][0]["tasks"];
    assert_eq!(tasks.as_array().unwrap().len(), 1, "{curriculum}");
    assert_eq!(tasks[0]["title"], "A");
    assert_eq!(tasks[0]["summary"], "First.");
    assert_eq!(
        tasks[0]["pages"],
        json!([{"kind": "overview", "path": "part0_intro/task01_a/README.md"}])
    );
    std::fs::remove_dir_all(&root).unwrap();
    std::fs::remove_dir_all(&outside).unwrap();
}

#[tokio::test]
async fn the_curriculum_lists_seventeen_tasks_whose_pages_all_load() {
    let app = spawn().await;
    let curriculum: Value = app
        .get("/api/v1/workshop/curriculum")
        .await
        .json()
        .await
        .unwrap();
    let parts = curriculum["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 4);
    let mut pages = 0;
    let mut ids = Vec::new();
    for part in parts {
        for task in part["tasks"].as_array().unwrap() {
            ids.push(task["id"].as_str().unwrap().to_owned());
            let kinds: Vec<&str> = task["pages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["kind"].as_str().unwrap())
                .collect();
            assert_eq!(
                kinds,
                ["overview", "lab", "slides", "production_reality"],
                "{task}"
            );
            for page in task["pages"].as_array().unwrap() {
                let path = page["path"].as_str().unwrap();
                assert_eq!(read(&app, path).await.status(), 200, "{path}");
                pages += 1;
            }
        }
    }
    assert_eq!(ids.len(), 17, "{ids:?}");
    assert_eq!(ids[..3], ["0.1", "0.2", "0.3"]);
    assert_eq!(ids[16], "11");
    assert_eq!(pages, 68);
}

/// An account's access token on a gateway with accounts on.
async fn sign_up(app: &TestApp, email: &str) -> String {
    let password = "workshop-password-123";
    let registered = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": email, "password": password}),
        )
        .await;
    assert_eq!(registered.status(), 202);
    let login: Value = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": email, "password": password}),
        )
        .await
        .json()
        .await
        .unwrap();
    login["access_token"].as_str().unwrap().to_owned()
}

async fn put(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.client
        .put(app.url("/api/v1/workshop/progress"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn progress(app: &TestApp, token: &str) -> Value {
    let response = app
        .client
        .get(app.url("/api/v1/workshop/progress"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn progress_is_per_user_and_remembers_the_last_page() {
    let down = closed_port_url().await;
    let secret = "workshop-test-secret-0123456789abcdef-xyz";
    let app = spawn_app_with(
        &down,
        &down,
        &["--auth-mode", "jwt", "--jwt-secret", secret],
    )
    .await;
    let ada = sign_up(&app, "ada@example.com").await;
    let bob = sign_up(&app, "bob@example.com").await;

    // Nothing yet; no credentials: 401.
    assert_eq!(
        progress(&app, &ada).await,
        json!({"tasks": [], "last": null})
    );
    let anonymous = app.get("/api/v1/workshop/progress").await;
    assert_eq!(anonymous.status(), 401);

    // Opening pages records where to continue; marking a task done records how.
    let opened = put(&app, &ada, json!({"task_id": "0.4", "page": "lab"})).await;
    assert_eq!(opened.status(), 200);
    let opened: Value = opened.json().await.unwrap();
    assert_eq!(opened["done"], false);
    assert_eq!(opened["last_page"], "lab");
    let marked: Value = put(&app, &ada, json!({"task_id": "0.1", "done": true}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(marked["done"], true);
    assert_eq!(marked["completed_via"], "manual");
    assert!(marked["completed_at"].as_str().unwrap().ends_with('Z'));
    // A passing lab check upgrades the manual mark, and is not downgraded by a later one.
    let checked: Value = put(
        &app,
        &ada,
        json!({"task_id": "0.1", "done": true, "via": "check"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(checked["completed_via"], "check");
    assert_eq!(checked["completed_at"], marked["completed_at"]);
    let again: Value = put(&app, &ada, json!({"task_id": "0.1", "done": true}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["completed_via"], "check");
    // The most recently touched page is where to continue.
    put(&app, &ada, json!({"task_id": "7", "page": "slides"})).await;
    let mine = progress(&app, &ada).await;
    assert_eq!(mine["last"], json!({"task_id": "7", "page": "slides"}));
    let ids: Vec<&str> = mine["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["7", "0.1", "0.4"]);
    // Unmarking clears the completion.
    let unmarked: Value = put(&app, &ada, json!({"task_id": "0.1", "done": false}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unmarked["done"], false);
    assert_eq!(unmarked["completed_via"], Value::Null);

    // Another user sees none of it.
    assert_eq!(
        progress(&app, &bob).await,
        json!({"tasks": [], "last": null})
    );
}

#[tokio::test]
async fn bad_progress_updates_are_422_naming_the_field() {
    let app = spawn().await; // AUTH_MODE=off: the seeded default user
    for (body, field) in [
        (json!({"task_id": "12", "done": true}), "task_id"),
        (json!({"task_id": "../0.1", "done": true}), "task_id"),
        (json!({"task_id": "0.1", "page": "secrets"}), "page"),
        (
            json!({"task_id": "0.1", "done": true, "via": "magic"}),
            "via",
        ),
        (json!({"task_id": "0.1"}), "done"),
        (json!({"task_id": 4, "done": true}), "task_id"),
    ] {
        let response = app
            .client
            .put(app.url("/api/v1/workshop/progress"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let envelope = assert_envelope(response, 422, "VALIDATION_ERROR").await;
        let locs: Vec<&Value> = envelope["detail"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| &d["loc"])
            .collect();
        assert!(
            locs.contains(&&json!(["body", field])),
            "{body}: {envelope}"
        );
    }
}
