//! Accounts II (issues 21.5, 21.6, 25.10) against a real Postgres: revocable sign-ins, sign out
//! everywhere, disabling an account, one-time reset links, the password policy, registration
//! that does not reveal accounts, the profile, the export and deleting an account.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_envelope, closed_port_url, spawn_app_with, TestApp};

const SECRET: &str = "accounts-test-secret-0123456789abcdef-xyz";
const PASSWORD: &str = "correct horse battery";

async fn jwt_app(extra: &[&str]) -> TestApp {
    let down = closed_port_url().await;
    let mut flags = vec!["--auth-mode", "jwt", "--jwt-secret", SECRET];
    flags.extend_from_slice(extra);
    spawn_app_with(&down, &down, &flags).await
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    bearer: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(bearer);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn login_as(app: &TestApp, email: &str, password: &str, agent: &str) -> Value {
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("user-agent", agent)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "login {email}");
    response.json().await.unwrap()
}

/// Registers (the default 202) and signs in.
async fn sign_up(app: &TestApp, email: &str) -> Value {
    let registered = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(registered.status(), 202);
    login_as(app, email, PASSWORD, "test-agent").await
}

fn token(pair: &Value) -> &str {
    pair["access_token"].as_str().unwrap()
}

async fn me_status(app: &TestApp, bearer: &str) -> StatusCode {
    call(app, Method::GET, "/api/v1/auth/me", bearer, None)
        .await
        .status()
}

#[tokio::test]
async fn registration_answers_the_same_for_a_new_and_a_taken_email() {
    let app = jwt_app(&[]).await;
    let register = |email: &'static str| {
        let app = &app;
        async move {
            app.post_json(
                "/api/v1/auth/register",
                &json!({"email": email, "password": PASSWORD}),
            )
            .await
        }
    };
    let new = register("ada@example.com").await;
    assert_eq!(new.status(), 202);
    assert!(new.headers().get("set-cookie").is_none(), "no sign-in");
    let new: Value = new.json().await.unwrap();
    let taken = register("ADA@example.com").await;
    assert_eq!(taken.status(), 202);
    let taken: Value = taken.json().await.unwrap();
    assert_eq!(new, taken, "identical bodies");
    assert!(new.get("access_token").is_none());
    // The first account is still the admin, and signs in with its password.
    let ada = login_as(&app, "ada@example.com", PASSWORD, "a").await;
    assert_eq!(ada["user"]["role"], "admin");

    // The setting restores the old answers.
    let revealing = jwt_app(&["--registration-reveals-accounts", "true"]).await;
    let body = json!({"email": "bob@example.com", "password": PASSWORD});
    let created = revealing.post_json("/api/v1/auth/register", &body).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(me_status(&revealing, token(&created)).await, StatusCode::OK);
    let dup = revealing.post_json("/api/v1/auth/register", &body).await;
    assert_envelope(dup, 409, "CONFLICT").await;
}

#[tokio::test]
async fn blank_and_common_passwords_are_refused_with_the_reason() {
    let app = jwt_app(&[]).await;
    for (password, reason) in [
        ("            ", "whitespace"),
        ("qwertyuiop", "commonly used"),
        ("Password123", "commonly used"),
    ] {
        let response = app
            .post_json(
                "/api/v1/auth/register",
                &json!({"email": "ada@example.com", "password": password}),
            )
            .await;
        let body = assert_envelope(response, 422, "VALIDATION_ERROR").await;
        assert_eq!(body["detail"][0]["loc"], json!(["body", "password"]));
        let msg = body["detail"][0]["msg"].as_str().unwrap();
        assert!(msg.contains(reason), "{password:?}: {msg}");
    }
    // Nothing was created.
    let login = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": "ada@example.com", "password": "qwertyuiop"}),
        )
        .await;
    assert_eq!(login.status(), 401);
}

#[tokio::test]
async fn logout_refuses_the_access_token_within_the_check_interval() {
    let app = jwt_app(&["--sign-in-check-secs", "2"]).await;
    let first = sign_up(&app, "ada@example.com").await;
    let access = token(&first).to_owned();
    assert_eq!(me_status(&app, &access).await, StatusCode::OK);

    // Ended through this gateway: refused at once.
    let out = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .json(&json!({"refresh_token": first["refresh_token"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let refused = call(&app, Method::GET, "/api/v1/auth/me", &access, None).await;
    let body = assert_envelope(refused, 401, "UNAUTHORIZED").await;
    assert!(body.to_string().contains("sign-in has ended"), "{body}");
    let refresh = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": first["refresh_token"]}),
        )
        .await;
    assert_eq!(refresh.status(), 401);

    // Ended elsewhere (another replica: here, straight in the database), after this gateway
    // has cached the sign-in as live: refused within SIGN_IN_CHECK_SECS.
    let second = login_as(&app, "ada@example.com", PASSWORD, "b").await;
    let access = token(&second).to_owned();
    assert_eq!(me_status(&app, &access).await, StatusCode::OK);
    sqlx::query("UPDATE sign_ins SET revoked_at = now() WHERE revoked_at IS NULL")
        .execute(&app.state.db)
        .await
        .unwrap();
    let ended = Instant::now();
    assert_eq!(
        me_status(&app, &access).await,
        StatusCode::OK,
        "the cached answer holds for a while (no query per request)"
    );
    loop {
        if me_status(&app, &access).await == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            ended.elapsed() < Duration::from_millis(2500),
            "still accepted after the check interval"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn sign_ins_are_listed_revoked_and_ended_everywhere() {
    let app = jwt_app(&[]).await;
    let laptop = sign_up(&app, "ada@example.com").await;
    let phone = login_as(&app, "ada@example.com", PASSWORD, "Phone/1.0").await;
    let tablet = login_as(&app, "ada@example.com", PASSWORD, "Tablet/2.0").await;

    let list: Value = call(
        &app,
        Method::GET,
        "/api/v1/auth/sessions",
        token(&phone),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3, "{list:?}");
    let current: Vec<&Value> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["user_agent"], "Phone/1.0");
    let tablet_id = list
        .iter()
        .find(|s| s["user_agent"] == "Tablet/2.0")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Revoke the tablet from the phone.
    let path = format!("/api/v1/auth/sessions/{tablet_id}");
    assert_eq!(
        call(&app, Method::DELETE, &path, token(&phone), None)
            .await
            .status(),
        204
    );
    assert_eq!(me_status(&app, token(&tablet)).await, 401);
    assert_eq!(me_status(&app, token(&phone)).await, 200);
    // Another user cannot revoke Ada's sign-ins.
    let bob = sign_up(&app, "bob@example.com").await;
    let phone_id = current[0]["id"].as_str().unwrap();
    let theirs = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/auth/sessions/{phone_id}"),
        token(&bob),
        None,
    )
    .await;
    assert_envelope(theirs, 404, "NOT_FOUND").await;

    // Sign out everywhere: the laptop and the phone too.
    let all = call(
        &app,
        Method::POST,
        "/api/v1/auth/logout-all",
        token(&laptop),
        None,
    )
    .await;
    assert_eq!(all.status(), 204);
    for pair in [&laptop, &phone] {
        assert_eq!(me_status(&app, token(pair)).await, 401);
        let refresh = app
            .post_json(
                "/api/v1/auth/refresh",
                &json!({"refresh_token": pair["refresh_token"]}),
            )
            .await;
        assert_eq!(refresh.status(), 401);
    }
    assert_eq!(me_status(&app, token(&bob)).await, 200, "others unaffected");
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sign_ins() {
    let app = jwt_app(&[]).await;
    let here = sign_up(&app, "ada@example.com").await;
    let there = login_as(&app, "ada@example.com", PASSWORD, "other").await;
    let change = |current: &str, new: &str| {
        call(
            &app,
            Method::POST,
            "/api/v1/auth/password",
            token(&here),
            Some(json!({"current_password": current, "new_password": new})),
        )
    };
    let wrong = change("not my password", "a brand new passphrase").await;
    let body = assert_envelope(wrong, 422, "VALIDATION_ERROR").await;
    assert_eq!(
        body["detail"][0]["loc"],
        json!(["body", "current_password"])
    );
    let common = change(PASSWORD, "1234567890").await;
    let body = assert_envelope(common, 422, "VALIDATION_ERROR").await;
    assert_eq!(body["detail"][0]["loc"], json!(["body", "new_password"]));

    assert_eq!(
        change(PASSWORD, "a brand new passphrase").await.status(),
        204
    );
    assert_eq!(me_status(&app, token(&here)).await, 200, "this one stays");
    assert_eq!(me_status(&app, token(&there)).await, 401, "the other ends");
    let old = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(old.status(), 401);
    login_as(&app, "ada@example.com", "a brand new passphrase", "x").await;
}

#[tokio::test]
async fn an_admin_disables_a_user_ending_sign_ins_and_keys_at_once() {
    let app = jwt_app(&[]).await;
    let admin = sign_up(&app, "admin@example.com").await;
    let bob = sign_up(&app, "bob@example.com").await;
    let key: Value = call(
        &app,
        Method::POST,
        "/api/v1/auth/keys",
        token(&bob),
        Some(json!({"name": "script"})),
    )
    .await
    .json()
    .await
    .unwrap();
    let key = key["key"].as_str().unwrap().to_owned();
    assert_eq!(me_status(&app, &key).await, 200);
    let bob_id = bob["user"]["id"].as_str().unwrap();

    let not_admin = call(
        &app,
        Method::POST,
        &format!("/api/v1/admin/users/{bob_id}/disable"),
        token(&bob),
        None,
    )
    .await;
    assert_envelope(not_admin, 403, "FORBIDDEN").await;
    let disabled = call(
        &app,
        Method::POST,
        &format!("/api/v1/admin/users/{bob_id}/disable"),
        token(&admin),
        None,
    )
    .await;
    assert_eq!(disabled.status(), 200);
    let disabled: Value = disabled.json().await.unwrap();
    assert!(disabled["disabled_at"].is_string(), "{disabled}");

    assert_eq!(me_status(&app, token(&bob)).await, 401, "token refused");
    assert_eq!(me_status(&app, &key).await, 401, "key refused");
    let refresh = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": bob["refresh_token"]}),
        )
        .await;
    assert_eq!(refresh.status(), 401);
    let login = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": "bob@example.com", "password": PASSWORD}),
        )
        .await;
    assert_envelope(login, 403, "ACCOUNT_DISABLED").await;
    let own = call(
        &app,
        Method::POST,
        &format!(
            "/api/v1/admin/users/{}/disable",
            admin["user"]["id"].as_str().unwrap()
        ),
        token(&admin),
        None,
    )
    .await;
    assert_envelope(own, 409, "CONFLICT").await;

    // Enabled again: signing in works, the old key stays revoked.
    let enabled = call(
        &app,
        Method::POST,
        &format!("/api/v1/admin/users/{bob_id}/enable"),
        token(&admin),
        None,
    )
    .await;
    assert_eq!(enabled.status(), 200);
    login_as(&app, "bob@example.com", PASSWORD, "x").await;
    assert_eq!(me_status(&app, &key).await, 401);
}

#[tokio::test]
async fn a_reset_link_works_once_and_ends_every_sign_in() {
    let app = jwt_app(&[]).await;
    let admin = sign_up(&app, "admin@example.com").await;
    let bob = sign_up(&app, "bob@example.com").await;
    let bob_id = bob["user"]["id"].as_str().unwrap();
    let issue = || {
        let (app, admin) = (&app, &admin);
        async move {
            call(
                app,
                Method::POST,
                &format!("/api/v1/admin/users/{bob_id}/password-reset"),
                token(admin),
                None,
            )
            .await
        }
    };
    let link = issue().await;
    assert_eq!(link.status(), 201);
    let link: Value = link.json().await.unwrap();
    let secret = link["token"].as_str().unwrap().to_owned();
    assert!(link["url"].as_str().unwrap().contains(&secret));
    // Stored hashed only.
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM password_resets WHERE token_hash = convert_to($1, 'UTF8') \
         OR position(convert_to($1, 'UTF8') IN token_hash) > 0",
    )
    .bind(&secret)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(stored, 0);

    let reset = |token: String, password: &'static str| {
        let app = &app;
        async move {
            app.post_json(
                "/api/v1/auth/password-reset",
                &json!({"token": token, "new_password": password}),
            )
            .await
        }
    };
    let common = reset(secret.clone(), "qwertyuiop").await;
    assert_envelope(common, 422, "VALIDATION_ERROR").await;
    assert_eq!(
        reset(secret.clone(), "reset passphrase one").await.status(),
        204
    );
    assert_eq!(me_status(&app, token(&bob)).await, 401, "sign-ins ended");
    login_as(&app, "bob@example.com", "reset passphrase one", "x").await;
    let again = reset(secret, "reset passphrase two").await;
    assert_envelope(again, 400, "INVALID_RESET_LINK").await;

    // An expired link is refused; a newer link replaces an older unused one.
    let older: Value = issue().await.json().await.unwrap();
    let newer: Value = issue().await.json().await.unwrap();
    let replaced = reset(
        older["token"].as_str().unwrap().to_owned(),
        "reset passphrase three",
    )
    .await;
    assert_envelope(replaced, 400, "INVALID_RESET_LINK").await;
    sqlx::query("UPDATE password_resets SET expires_at = now() - interval '1 second'")
        .execute(&app.state.db)
        .await
        .unwrap();
    let expired = reset(
        newer["token"].as_str().unwrap().to_owned(),
        "reset passphrase three",
    )
    .await;
    assert_envelope(expired, 400, "INVALID_RESET_LINK").await;
}

#[tokio::test]
async fn display_name_export_and_account_deletion() {
    let app = jwt_app(&[]).await;
    let ada = sign_up(&app, "ada@example.com").await;
    let bob = sign_up(&app, "bob@example.com").await;
    let named: Value = call(
        &app,
        Method::PATCH,
        "/api/v1/auth/me",
        token(&ada),
        Some(json!({"display_name": "  Ada L.  "})),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(named["display_name"], "Ada L.");
    let long = call(
        &app,
        Method::PATCH,
        "/api/v1/auth/me",
        token(&ada),
        Some(json!({"display_name": "x".repeat(121)})),
    )
    .await;
    assert_envelope(long, 422, "VALIDATION_ERROR").await;

    // Some data: a chat with a message, a job with an item, a key, a collection, a file row.
    let session: Value = call(
        &app,
        Method::POST,
        "/api/v1/chat/sessions",
        token(&ada),
        Some(json!({"title": "Trip plans"})),
    )
    .await
    .json()
    .await
    .unwrap();
    let sid = session["id"].as_str().unwrap();
    let message = call(
        &app,
        Method::POST,
        &format!("/api/v1/chat/sessions/{sid}/messages"),
        token(&ada),
        Some(json!({"role": "user", "content": "Rome in May?"})),
    )
    .await;
    assert!(message.status().is_success(), "{}", message.status());
    let key: Value = call(
        &app,
        Method::POST,
        "/api/v1/auth/keys",
        token(&ada),
        Some(json!({"name": "laptop"})),
    )
    .await
    .json()
    .await
    .unwrap();
    let ada_id: uuid::Uuid = ada["user"]["id"].as_str().unwrap().parse().unwrap();
    let job = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO batch_jobs (id, user_id, status, prompts, total_prompts, completed_prompts, name) \
         VALUES ($1, $2, 'completed', '[\"p\"]', 1, 1, 'nightly')",
    )
    .bind(job)
    .bind(ada_id)
    .execute(&app.state.db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO batch_job_results (job_id, idx, text, attempt) VALUES ($1, 0, 'answer', 1)",
    )
    .bind(job)
    .execute(&app.state.db)
    .await
    .unwrap();
    sqlx::query("INSERT INTO chat_folders (id, user_id, name) VALUES ($1, $2, 'travel')")
        .bind(uuid::Uuid::now_v7())
        .bind(ada_id)
        .execute(&app.state.db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO collections (id, user_id, name) VALUES ($1, $2, 'notes')")
        .bind(uuid::Uuid::now_v7())
        .bind(ada_id)
        .execute(&app.state.db)
        .await
        .unwrap();

    let export = call(&app, Method::GET, "/api/v1/auth/export", token(&ada), None).await;
    assert_eq!(export.status(), 200);
    let disposition = export.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"sable-export-"),
        "{disposition}"
    );
    let text = export.text().await.unwrap();
    assert!(
        !text.contains(key["key"].as_str().unwrap()),
        "no key secret"
    );
    assert!(!text.contains("$argon2"), "no password hash");
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["format"], "sable-account-export");
    assert_eq!(doc["profile"]["display_name"], "Ada L.");
    assert_eq!(doc["chats"][0]["title"], "Trip plans");
    assert_eq!(doc["chats"][0]["messages"][0]["content"], "Rome in May?");
    assert_eq!(doc["jobs"][0]["name"], "nightly");
    assert_eq!(doc["jobs"][0]["items"][0]["text"], "answer");
    assert_eq!(doc["api_keys"][0]["name"], "laptop");
    assert!(doc["api_keys"][0].get("key_hash").is_none());
    assert_eq!(doc["collections"][0]["name"], "notes");
    assert_eq!(doc["folders"][0]["name"], "travel");
    assert_eq!(doc["files"], json!([]));
    assert!(!text.contains("bob@example.com"), "only the caller's data");

    // A file the worker service must delete first: with the worker down, nothing is deleted.
    sqlx::query(
        "INSERT INTO files (id, user_id, filename, content_type, kind, size_bytes, sha256, blob_key) \
         VALUES ($1, $2, 'a.txt', 'text/plain', 'text', 1, 'x', 'k')",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(ada_id)
    .execute(&app.state.db)
    .await
    .unwrap();
    let delete = |password: &str| {
        call(
            &app,
            Method::DELETE,
            "/api/v1/auth/me",
            token(&ada),
            Some(json!({"password": password})),
        )
    };
    let wrong = delete("not the password").await;
    let body = assert_envelope(wrong, 422, "VALIDATION_ERROR").await;
    assert_eq!(body["detail"][0]["loc"], json!(["body", "password"]));
    let worker_down = delete(PASSWORD).await;
    assert_eq!(worker_down.status(), 503);
    assert_eq!(me_status(&app, token(&ada)).await, 200, "nothing deleted");
    sqlx::query("DELETE FROM files WHERE user_id = $1")
        .bind(ada_id)
        .execute(&app.state.db)
        .await
        .unwrap();

    assert_eq!(delete(PASSWORD).await.status(), 204);
    assert_eq!(me_status(&app, token(&ada)).await, 401);
    assert_eq!(me_status(&app, key["key"].as_str().unwrap()).await, 401);
    for table in [
        "chat_sessions",
        "chat_folders",
        "batch_jobs",
        "api_keys",
        "collections",
        "sign_ins",
        "refresh_tokens",
    ] {
        let left: i64 =
            sqlx::query_scalar(&format!("SELECT count(*) FROM {table} WHERE user_id = $1"))
                .bind(ada_id)
                .fetch_one(&app.state.db)
                .await
                .unwrap();
        assert_eq!(left, 0, "{table}");
    }
    let results: i64 =
        sqlx::query_scalar("SELECT count(*) FROM batch_job_results WHERE job_id = $1")
            .bind(job)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(results, 0);
    let login = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status(), 401);
    assert_eq!(me_status(&app, token(&bob)).await, 200, "others unaffected");
}
