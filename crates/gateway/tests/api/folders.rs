//! Folders of chats (issue 25.13): create, list, rename, delete (its chats stay, in no
//! folder), move a chat in and out with the session's `folder_id`; a folder's system prompt
//! and model start new chats in it; another user's folder is 404 everywhere.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{
    accounts_app, assert_envelope, call, call_json, json_of, sign_up, TestApp, User,
};

const FOLDERS: &str = "/api/v1/chat/folders";

/// `POST path` with `body` as `user`: the 201 answer.
async fn created(app: &TestApp, user: Option<&User>, path: &str, body: Value) -> Value {
    call_json(app, user, Method::POST, path, Some(body), 201).await
}

/// `PATCH path` with `body` as `user`: the 200 answer.
async fn patched(app: &TestApp, user: Option<&User>, path: &str, body: Value) -> Value {
    call_json(app, user, Method::PATCH, path, Some(body), 200).await
}

#[tokio::test]
async fn folders_hold_chats_and_give_new_chats_their_defaults() {
    let app = accounts_app().await;
    let ada = sign_up(&app, "ada@example.com").await;
    let ada = Some(&ada);

    let work = created(
        &app,
        ada,
        FOLDERS,
        json!({"name": "  Work ", "system_prompt": "Answer as a lawyer.", "model": "mock-small"}),
    )
    .await;
    assert_eq!(work["name"], "Work");
    assert_eq!(work["session_count"], 0);
    let work_id = work["id"].as_str().unwrap();
    let home = created(&app, ada, FOLDERS, json!({"name": "home"})).await;
    assert_eq!(home["system_prompt"], Value::Null);
    let listed = call_json(&app, ada, Method::GET, FOLDERS, None, 200).await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["home", "Work"], "by name, case-insensitive");

    // A chat created in the folder starts with its defaults; its own values win.
    let inside = created(
        &app,
        ada,
        "/api/v1/chat/sessions",
        json!({"folder_id": work_id}),
    )
    .await;
    assert_eq!(inside["folder_id"], work_id);
    assert_eq!(inside["system_prompt"], "Answer as a lawyer.");
    assert_eq!(inside["model"], "mock-small");
    let own = created(
        &app,
        ada,
        "/api/v1/chat/sessions",
        json!({"folder_id": work_id, "system_prompt": "Be brief.", "model": "mock"}),
    )
    .await;
    assert_eq!(own["system_prompt"], "Be brief.");
    assert_eq!(own["model"], "mock");
    let loose = created(&app, ada, "/api/v1/chat/sessions", json!({})).await;
    assert_eq!(loose["folder_id"], Value::Null);
    let loose_id = loose["id"].as_str().unwrap();

    // Moving a chat in is filing, not activity: updated_at stays.
    let session_path = format!("/api/v1/chat/sessions/{loose_id}");
    let moved = patched(&app, ada, &session_path, json!({"folder_id": work_id})).await;
    assert_eq!(moved["folder_id"], work_id);
    assert_eq!(moved["updated_at"], loose["updated_at"]);
    // Absent leaves it, null takes it out.
    let renamed = patched(&app, ada, &session_path, json!({"title": "Contract"})).await;
    assert_eq!(renamed["folder_id"], work_id);
    let listed = call_json(&app, ada, Method::GET, FOLDERS, None, 200).await;
    let work_now = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == work_id)
        .unwrap()
        .clone();
    assert_eq!(work_now["session_count"], 3);
    let out = patched(&app, ada, &session_path, json!({"folder_id": null})).await;
    assert_eq!(out["folder_id"], Value::Null);
    assert_eq!(out["title"], "Contract");

    // Rename, change and clear the defaults.
    let folder_path = format!("{FOLDERS}/{work_id}");
    let renamed = patched(
        &app,
        ada,
        &folder_path,
        json!({"name": "Office", "model": ""}),
    )
    .await;
    assert_eq!(renamed["name"], "Office");
    assert_eq!(renamed["model"], Value::Null);
    assert_eq!(renamed["system_prompt"], "Answer as a lawyer.");
    for bad in [
        json!({"name": "   "}),
        json!({"name": "x".repeat(101)}),
        json!({"system_prompt": "x".repeat(20_001)}),
    ] {
        assert_envelope(
            call(&app, ada, Method::PATCH, &folder_path, Some(bad)).await,
            422,
            "VALIDATION_ERROR",
        )
        .await;
    }
    assert_envelope(
        call(&app, ada, Method::POST, FOLDERS, Some(json!({}))).await,
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(
        call(
            &app,
            ada,
            Method::PATCH,
            &format!("{FOLDERS}/nope"),
            Some(json!({"name": "x"}))
        )
        .await
        .status(),
        400
    );

    // Deleting the folder keeps its chats, in no folder.
    assert_eq!(
        call(&app, ada, Method::DELETE, &folder_path, None)
            .await
            .status(),
        204
    );
    assert_envelope(
        call(&app, ada, Method::DELETE, &folder_path, None).await,
        404,
        "NOT_FOUND",
    )
    .await;
    for chat in [&inside, &own] {
        let id = chat["id"].as_str().unwrap();
        let kept = call_json(
            &app,
            ada,
            Method::GET,
            &format!("/api/v1/chat/sessions/{id}"),
            None,
            200,
        )
        .await;
        assert_eq!(kept["folder_id"], Value::Null);
        assert_eq!(
            kept["system_prompt"], chat["system_prompt"],
            "its own copy of the defaults"
        );
    }
    // A deleted folder cannot take chats.
    assert_envelope(
        call(
            &app,
            ada,
            Method::PATCH,
            &session_path,
            Some(json!({"folder_id": work_id})),
        )
        .await,
        404,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn another_users_folder_is_not_found_and_cannot_take_chats() {
    let app = accounts_app().await;
    let ada = sign_up(&app, "ada@example.com").await;
    let bob = sign_up(&app, "bob@example.com").await;
    let folder = created(&app, Some(&ada), FOLDERS, json!({"name": "Ada's"})).await;
    let folder_id = folder["id"].as_str().unwrap();
    let folder_path = format!("{FOLDERS}/{folder_id}");

    let bobs = call_json(&app, Some(&bob), Method::GET, FOLDERS, None, 200).await;
    assert_eq!(bobs, json!([]));
    let answer = assert_envelope(
        call(
            &app,
            Some(&bob),
            Method::PATCH,
            &folder_path,
            Some(json!({"name": "Mine"})),
        )
        .await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_eq!(answer["detail"], "Folder not found");
    assert_envelope(
        call(&app, Some(&bob), Method::DELETE, &folder_path, None).await,
        404,
        "NOT_FOUND",
    )
    .await;

    // Bob cannot put his chats in Ada's folder, on create or on update.
    assert_envelope(
        call(
            &app,
            Some(&bob),
            Method::POST,
            "/api/v1/chat/sessions",
            Some(json!({"folder_id": folder_id})),
        )
        .await,
        404,
        "NOT_FOUND",
    )
    .await;
    let bob_chat = created(&app, Some(&bob), "/api/v1/chat/sessions", json!({})).await;
    let bob_path = format!("/api/v1/chat/sessions/{}", bob_chat["id"].as_str().unwrap());
    let refused = assert_envelope(
        call(
            &app,
            Some(&bob),
            Method::PATCH,
            &bob_path,
            Some(json!({"folder_id": folder_id})),
        )
        .await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_eq!(refused["detail"], "Folder not found");
    // Nor move Ada's chat into his folder: her session is 404 to him first.
    let bob_folder = created(&app, Some(&bob), FOLDERS, json!({"name": "Bob's"})).await;
    let ada_chat = created(
        &app,
        Some(&ada),
        "/api/v1/chat/sessions",
        json!({"folder_id": folder_id}),
    )
    .await;
    let ada_path = format!("/api/v1/chat/sessions/{}", ada_chat["id"].as_str().unwrap());
    let refused = assert_envelope(
        call(
            &app,
            Some(&bob),
            Method::PATCH,
            &ada_path,
            Some(json!({"folder_id": bob_folder["id"]})),
        )
        .await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_eq!(refused["detail"], "Session not found");
    // And the database refuses it even past the routes.
    let direct = sqlx::query("UPDATE chat_sessions SET folder_id = $1 WHERE id = $2")
        .bind(uuid::Uuid::parse_str(bob_folder["id"].as_str().unwrap()).unwrap())
        .bind(uuid::Uuid::parse_str(ada_chat["id"].as_str().unwrap()).unwrap())
        .execute(&app.state.db)
        .await;
    assert!(direct.is_err(), "a session in another user's folder");

    // Ada's folder and chat are untouched.
    let hers = call_json(&app, Some(&ada), Method::GET, FOLDERS, None, 200).await;
    assert_eq!(hers[0]["name"], "Ada's");
    assert_eq!(hers[0]["session_count"], 1);
}

/// The ids of a page of `GET /api/v1/chat/sessions`, newest first.
fn ids(page: &Value) -> Vec<&str> {
    page.as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect()
}

/// Makes a folder or a chat (`POST path` with `body`); its id.
async fn made(app: &TestApp, user: &User, path: &str, body: Value) -> String {
    let made = created(app, Some(user), path, body).await;
    made["id"].as_str().unwrap().to_owned()
}

/// `GET /api/v1/chat/sessions{query}` as `user`.
async fn list(app: &TestApp, user: &User, query: &str) -> reqwest::Response {
    let path = format!("/api/v1/chat/sessions{query}");
    call(app, Some(user), Method::GET, &path, None).await
}

#[tokio::test]
async fn the_session_list_filters_by_folder_and_pages_within_it() {
    const SESSIONS: &str = "/api/v1/chat/sessions";
    let app = accounts_app().await;
    let ada = sign_up(&app, "ada@example.com").await;
    let bob = sign_up(&app, "bob@example.com").await;
    let work = made(&app, &ada, FOLDERS, json!({"name": "Work"})).await;
    let home = made(&app, &ada, FOLDERS, json!({"name": "Home"})).await;
    // Oldest first: three in Work, each followed by one in no folder, then one in Home.
    let mut in_work = Vec::new();
    for i in 0..3 {
        let body = json!({"title": format!("work {i}"), "folder_id": work});
        in_work.push(made(&app, &ada, SESSIONS, body).await);
        made(&app, &ada, SESSIONS, json!({"title": format!("loose {i}")})).await;
    }
    let in_home = made(
        &app,
        &ada,
        SESSIONS,
        json!({"title": "home", "folder_id": home}),
    )
    .await;
    in_work.reverse(); // newest first, as listed

    let all = json_of(list(&app, &ada, "").await, 200).await;
    assert_eq!(ids(&all).len(), 7);
    let page = json_of(list(&app, &ada, &format!("?folder_id={work}")).await, 200).await;
    assert_eq!(ids(&page), in_work);
    assert!(page
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["folder_id"] == work.as_str()));
    let page = json_of(list(&app, &ada, &format!("?folder_id={home}")).await, 200).await;
    assert_eq!(ids(&page), [in_home.as_str()]);

    // Paged inside the folder: the cursor of a full page leads to the rest of that folder only.
    let first = list(&app, &ada, &format!("?folder_id={work}&limit=2")).await;
    assert_eq!(first.status().as_u16(), 200);
    let cursor = first
        .headers()
        .get("x-next-cursor")
        .expect("a full page carries the next cursor")
        .to_str()
        .unwrap()
        .to_owned();
    let first = json_of(first, 200).await;
    assert_eq!(ids(&first), in_work[..2]);
    let next = format!("?folder_id={work}&limit=2&before={}", urlencode(&cursor));
    let rest = json_of(list(&app, &ada, &next).await, 200).await;
    assert_eq!(ids(&rest), in_work[2..]);

    // Combined with the other filters.
    let pinned = list(&app, &ada, &format!("?folder_id={work}&pinned=true")).await;
    assert_eq!(json_of(pinned, 200).await, json!([]));

    // Another user's folder, or no one's: an empty page, as the other filters give.
    let bobs = json_of(list(&app, &bob, &format!("?folder_id={work}")).await, 200).await;
    assert_eq!(bobs, json!([]));
    let nobody = uuid::Uuid::new_v4();
    let none = json_of(list(&app, &ada, &format!("?folder_id={nobody}")).await, 200).await;
    assert_eq!(none, json!([]));

    // Not a UUID: 422 in the envelope, naming the field.
    let refused = assert_envelope(
        list(&app, &ada, "?folder_id=not-a-uuid").await,
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(
        refused["detail"][0]["loc"],
        json!(["query", "folder_id"]),
        "{refused}"
    );
}

fn urlencode(s: &str) -> String {
    s.replace(':', "%3A")
        .replace('+', "%2B")
        .replace(',', "%2C")
}
