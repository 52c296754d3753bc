//! Accounts and ownership (AUTH_MODE=jwt): sign-up, sign-in, refresh rotation and reuse
//! detection, lockout, API keys, and the matrix of every data endpoint × every kind of caller.

use std::time::Duration;

use e2e::{assert_envelope, Stack};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const SECRET: &str = "e2e-test-signing-secret-0123456789abcdef";
const PASSWORD: &str = "correct horse battery";

/// With `REGISTRATION_REVEALS_ACCOUNTS=true`: these tests check the sign-in that registration
/// answers then (the default answer has its own tests in the gateway's `api/accounts.rs`).
async fn jwt_stack(extra: &[&str]) -> Stack {
    let mut flags = vec![
        "--auth-mode",
        "jwt",
        "--jwt-secret",
        SECRET,
        "--registration-reveals-accounts",
        "true",
    ];
    flags.extend_from_slice(extra);
    Stack::start_with(&flags).await
}

/// Registers `email` and returns the sign-in answer.
async fn register(stack: &Stack, email: &str) -> Value {
    let response = stack
        .post(
            "/api/v1/auth/register",
            &json!({"email": email, "password": PASSWORD, "display_name": "T"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED, "register {email}");
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(cookie.starts_with("sable_refresh="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    response.json().await.unwrap()
}

/// One request with an optional bearer credential.
async fn call(
    stack: &Stack,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut request = stack.client.request(method, stack.url(path));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn sign_up_sign_in_refresh_rotation_and_reuse_detection() {
    // No grace: a reuse, however soon, is theft (the grace has its own test below).
    let stack = jwt_stack(&["--refresh-reuse-grace-secs", "0"]).await;
    let config = stack.get_json("/api/v1/auth/config").await;
    assert_eq!(config["auth_mode"], "jwt");
    assert_eq!(config["registration"], "open");

    let first = register(&stack, "Ada@Example.com").await;
    assert_eq!(first["token_type"], "bearer");
    assert_eq!(first["expires_in"], 900);
    assert_eq!(
        first["user"]["role"], "admin",
        "the first account is the admin"
    );
    let second = register(&stack, "bob@example.com").await;
    assert_eq!(second["user"]["role"], "user");

    // Emails are unique case-insensitively; the policy names the field and echoes nothing.
    let dup = stack
        .post(
            "/api/v1/auth/register",
            &json!({"email": "ada@example.COM", "password": PASSWORD}),
        )
        .await;
    assert_envelope(dup, 409, "CONFLICT").await;
    for (password, why) in [("Xq7!zz", "too short"), ("ada2@example.com", "the email")] {
        let weak = stack
            .post(
                "/api/v1/auth/register",
                &json!({"email": "ada2@example.com", "password": password}),
            )
            .await;
        let body = assert_envelope(weak, 422, "VALIDATION_ERROR").await;
        assert_eq!(
            body["detail"][0]["loc"],
            json!(["body", "password"]),
            "{why}"
        );
        assert!(
            !body.to_string().contains(password),
            "{why}: password echoed"
        );
    }

    // Login, then /me with the access token.
    let login = stack
        .post(
            "/api/v1/auth/login",
            &json!({"email": "ADA@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    let login: Value = login.json().await.unwrap();
    let access = login["access_token"].as_str().unwrap();
    let me: Value = call(&stack, Method::GET, "/api/v1/auth/me", Some(access), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "Ada@Example.com");
    assert_eq!(me["role"], "admin");

    // Refresh rotates; the old token used again revokes the whole family.
    let old = login["refresh_token"].as_str().unwrap().to_owned();
    let rotated = stack
        .post("/api/v1/auth/refresh", &json!({"refresh_token": old}))
        .await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let rotated: Value = rotated.json().await.unwrap();
    let new = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    let reused = stack
        .post("/api/v1/auth/refresh", &json!({"refresh_token": old}))
        .await;
    assert_envelope(reused, 401, "UNAUTHORIZED").await;
    let after_theft = stack
        .post("/api/v1/auth/refresh", &json!({"refresh_token": new}))
        .await;
    assert_envelope(after_theft, 401, "UNAUTHORIZED").await;

    // The cookie works in place of the body; logout revokes it.
    let fresh = stack
        .post(
            "/api/v1/auth/login",
            &json!({"email": "bob@example.com", "password": PASSWORD}),
        )
        .await;
    let token: Value = fresh.json().await.unwrap();
    let cookie = format!("sable_refresh={}", token["refresh_token"].as_str().unwrap());
    let by_cookie = stack
        .client
        .post(stack.url("/api/v1/auth/refresh"))
        .header("cookie", &cookie)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(by_cookie.status(), StatusCode::OK);
    let by_cookie: Value = by_cookie.json().await.unwrap();
    let current = by_cookie["refresh_token"].as_str().unwrap();
    let logout = stack
        .post("/api/v1/auth/logout", &json!({"refresh_token": current}))
        .await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let after_logout = stack
        .post("/api/v1/auth/refresh", &json!({"refresh_token": current}))
        .await;
    assert_envelope(after_logout, 401, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn a_refresh_token_replayed_at_once_is_a_race_not_a_theft() {
    let stack = jwt_stack(&["--refresh-reuse-grace-secs", "2"]).await;
    let first = register(&stack, "racer@example.com").await;
    let token = first["refresh_token"].as_str().unwrap();
    let refresh = |t: &str| {
        let body = json!({"refresh_token": t});
        let stack = &stack;
        async move { stack.post("/api/v1/auth/refresh", &body).await }
    };
    // A reload cancelled the first refresh's answer; the browser sends the same token again.
    assert_eq!(refresh(token).await.status(), StatusCode::OK);
    let again = refresh(token).await;
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "within the grace: another successor"
    );
    let successor: Value = again.json().await.unwrap();
    let successor = successor["refresh_token"].as_str().unwrap().to_owned();
    // After the grace the same replay is theft: the whole sign-in is revoked.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_envelope(refresh(token).await, 401, "UNAUTHORIZED").await;
    assert_envelope(refresh(&successor).await, 401, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_account_without_telling_so() {
    let stack = jwt_stack(&["--login-max-failures", "3", "--login-lockout-secs", "60"]).await;
    register(&stack, "carol@example.com").await;
    let attempt = |password: &'static str, email: &'static str| {
        let stack = &stack;
        async move {
            stack
                .post(
                    "/api/v1/auth/login",
                    &json!({"email": email, "password": password}),
                )
                .await
        }
    };
    let unknown = assert_envelope(
        attempt(PASSWORD, "nobody@example.com").await,
        401,
        "INVALID_CREDENTIALS",
    )
    .await;
    for _ in 0..3 {
        let wrong = assert_envelope(
            attempt("wrong password!", "carol@example.com").await,
            401,
            "INVALID_CREDENTIALS",
        )
        .await;
        assert_eq!(wrong["error"]["message"], unknown["error"]["message"]);
    }
    // Locked: even the right password gets exactly the wrong-password answer.
    let locked = assert_envelope(
        attempt(PASSWORD, "carol@example.com").await,
        401,
        "INVALID_CREDENTIALS",
    )
    .await;
    assert_eq!(locked["error"]["message"], unknown["error"]["message"]);
    assert_eq!(locked["detail"], unknown["detail"]);
}

#[tokio::test]
async fn closed_registration_leaves_account_creation_to_admins() {
    let stack = jwt_stack(&["--registration", "closed"]).await;
    let refused = stack
        .post(
            "/api/v1/auth/register",
            &json!({"email": "x@example.com", "password": PASSWORD}),
        )
        .await;
    assert_envelope(refused, 403, "REGISTRATION_CLOSED").await;
    // The operator's way in: an admin created directly in the database, then the admin API.
    let hash = gateway::auth::password::hash(PASSWORD).unwrap();
    gateway::auth::repo::create_user(
        &stack.db.pool,
        "root@example.com",
        &hash,
        None,
        gateway::auth::repo::NewRole::FirstIsAdmin,
    )
    .await
    .unwrap()
    .unwrap();
    let login: Value = stack
        .post(
            "/api/v1/auth/login",
            &json!({"email": "root@example.com", "password": PASSWORD}),
        )
        .await
        .json()
        .await
        .unwrap();
    let admin = login["access_token"].as_str().unwrap();
    let created = call(
        &stack,
        Method::POST,
        "/api/v1/admin/users",
        Some(admin),
        Some(&json!({"email": "dan@example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let users: Value = call(
        &stack,
        Method::GET,
        "/api/v1/admin/users",
        Some(admin),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(users.as_array().unwrap().len(), 2, "{users}");
}

/// Everything user A owns, for the matrix.
struct Owned {
    session: String,
    job: String,
    key_id: String,
    word: &'static str,
}

async fn make_owned(stack: &Stack, token: &str) -> Owned {
    let word = "zanzibarian";
    let session: Value = call(
        stack,
        Method::POST,
        "/api/v1/chat/sessions",
        Some(token),
        Some(&json!({"title": "Private plans"})),
    )
    .await
    .json()
    .await
    .unwrap();
    let session = session["id"].as_str().unwrap().to_owned();
    let stream = call(
        stack,
        Method::POST,
        "/api/v1/generate/stream",
        Some(token),
        Some(&json!({"prompt": format!("My {word} secret"), "session_id": session})),
    )
    .await;
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(stream.text().await.unwrap().ends_with("data: [DONE]\n\n"));
    let job: Value = call(
        stack,
        Method::POST,
        "/api/v1/jobs",
        Some(token),
        Some(&json!({"prompts": [format!("{word} job prompt")]})),
    )
    .await
    .json()
    .await
    .unwrap();
    let job = job["job_id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let status: Value = call(
            stack,
            Method::GET,
            &format!("/api/v1/jobs/{job}"),
            Some(token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
        if status["status"] == "completed" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let key: Value = call(
        stack,
        Method::POST,
        "/api/v1/auth/keys",
        Some(token),
        Some(&json!({"name": "scripts"})),
    )
    .await
    .json()
    .await
    .unwrap();
    Owned {
        session,
        job,
        key_id: key["id"].as_str().unwrap().to_owned(),
        word,
    }
}

/// What a caller should get from one endpoint.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// 2xx.
    Ok,
    /// 2xx, and the body must not contain the owner's data.
    OkWithoutOwnersData,
    Status(u16),
}

#[tokio::test]
async fn every_data_endpoint_by_every_kind_of_caller() {
    let stack = jwt_stack(&[]).await;
    let alice = register(&stack, "alice@example.com").await;
    let bob = register(&stack, "bob@example.com").await;
    let alice_token = alice["access_token"].as_str().unwrap().to_owned();
    let bob_token = bob["access_token"].as_str().unwrap().to_owned();
    let owned = make_owned(&stack, &alice_token).await;

    // Alice's API key works like her access token; a revoked key does not.
    let key: Value = call(
        &stack,
        Method::POST,
        "/api/v1/auth/keys",
        Some(&alice_token),
        Some(&json!({"name": "laptop"})),
    )
    .await
    .json()
    .await
    .unwrap();
    let alice_key = key["key"].as_str().unwrap().to_owned();
    assert!(alice_key.starts_with("sk-sable-"));
    let doomed: Value = call(
        &stack,
        Method::POST,
        "/api/v1/auth/keys",
        Some(&alice_token),
        Some(&json!({"name": "old"})),
    )
    .await
    .json()
    .await
    .unwrap();
    let revoked_key = doomed["key"].as_str().unwrap().to_owned();
    let revoke = call(
        &stack,
        Method::DELETE,
        &format!("/api/v1/auth/keys/{}", doomed["id"].as_str().unwrap()),
        Some(&alice_token),
        None,
    )
    .await;
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    let expired = gateway::auth::tokens::AccessTokens::new(SECRET, 0)
        .issue(
            alice["user"]["id"].as_str().unwrap().parse().unwrap(),
            gateway::auth::Role::Admin,
            uuid::Uuid::new_v4(),
        )
        .unwrap();
    let forged = gateway::auth::tokens::AccessTokens::new(&"x".repeat(40), 900)
        .issue(
            alice["user"]["id"].as_str().unwrap().parse().unwrap(),
            gateway::auth::Role::Admin,
            uuid::Uuid::new_v4(),
        )
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let s = &owned.session;
    let j = &owned.job;
    let k = &owned.key_id;
    let w = owned.word;
    let gen = json!({"prompt": "hi", "session_id": s});
    let patch = json!({"title": "Renamed"});
    let message = json!({"role": "user", "content": "more"});
    let job = json!({"prompts": ["p"]});
    let key_body = json!({"name": "n"});
    // (method, path, body, what the owner gets, what another user gets)
    let endpoints: Vec<(Method, String, Option<&Value>, Expect, Expect)> = vec![
        (
            Method::GET,
            "/api/v1/chat/sessions".into(),
            None,
            Expect::Ok,
            Expect::OkWithoutOwnersData,
        ),
        (
            Method::GET,
            format!("/api/v1/chat/sessions/{s}"),
            None,
            Expect::Ok,
            Expect::Status(404),
        ),
        (
            Method::PATCH,
            format!("/api/v1/chat/sessions/{s}"),
            Some(&patch),
            Expect::Ok,
            Expect::Status(404),
        ),
        (
            Method::POST,
            format!("/api/v1/chat/sessions/{s}/messages"),
            Some(&message),
            Expect::Ok,
            Expect::Status(404),
        ),
        (
            Method::GET,
            format!("/api/v1/chat/sessions/{s}/export"),
            None,
            Expect::Ok,
            Expect::Status(404),
        ),
        (
            Method::GET,
            format!("/api/v1/chat/search?q={w}"),
            None,
            Expect::Ok,
            Expect::OkWithoutOwnersData,
        ),
        (
            Method::POST,
            "/api/v1/generate".into(),
            Some(&gen),
            Expect::Ok,
            Expect::Status(404),
        ),
        (
            Method::POST,
            "/api/v1/generate/stream".into(),
            Some(&gen),
            Expect::Ok,
            Expect::Status(404),
        ),
        (
            Method::GET,
            "/api/v1/jobs".into(),
            None,
            Expect::Ok,
            Expect::OkWithoutOwnersData,
        ),
        (
            Method::GET,
            format!("/api/v1/jobs/{j}"),
            None,
            Expect::Ok,
            Expect::Status(404),
        ),
        (
            Method::POST,
            format!("/api/v1/jobs/{j}/cancel"),
            None,
            Expect::Status(409),
            Expect::Status(404),
        ),
        (
            Method::POST,
            "/api/v1/jobs".into(),
            Some(&job),
            Expect::Ok,
            Expect::Ok,
        ),
        (
            Method::GET,
            "/api/v1/auth/me".into(),
            None,
            Expect::Ok,
            Expect::OkWithoutOwnersData,
        ),
        (
            Method::GET,
            "/api/v1/auth/keys".into(),
            None,
            Expect::Ok,
            Expect::OkWithoutOwnersData,
        ),
        (
            Method::POST,
            "/api/v1/auth/keys".into(),
            Some(&key_body),
            Expect::Ok,
            Expect::Ok,
        ),
        (
            Method::DELETE,
            format!("/api/v1/auth/keys/{k}"),
            None,
            Expect::Ok,
            Expect::Status(404),
        ),
        (
            Method::GET,
            "/api/v1/admin/users".into(),
            None,
            Expect::Ok,
            Expect::Status(403),
        ),
        (
            Method::DELETE,
            format!("/api/v1/chat/sessions/{s}"),
            None,
            Expect::Ok,
            Expect::Status(404),
        ),
    ];
    let alice_marks = [
        s.as_str(),
        j.as_str(),
        w,
        "alice@example.com",
        "Private plans",
    ];
    let mut checked = 0;
    for (method, path, body, owner, other) in &endpoints {
        // Unauthenticated callers of every kind: 401 with the challenge, nothing else.
        for (who, credential) in [
            ("no credentials", None),
            ("expired token", Some(expired.as_str())),
            ("malformed token", Some("not-a-token")),
            ("token signed with another secret", Some(forged.as_str())),
            ("revoked API key", Some(revoked_key.as_str())),
            (
                "refresh token as bearer",
                Some(alice["refresh_token"].as_str().unwrap()),
            ),
        ] {
            let response = call(&stack, method.clone(), path, credential, *body).await;
            assert_eq!(
                response
                    .headers()
                    .get("www-authenticate")
                    .map(|v| v.to_str().unwrap().starts_with("Bearer")),
                Some(true),
                "{method} {path} as {who}"
            );
            let text = assert_envelope(response, 401, "UNAUTHORIZED")
                .await
                .to_string();
            for mark in alice_marks {
                assert!(
                    !text.contains(mark),
                    "{method} {path} as {who} leaked {mark}"
                );
            }
            checked += 1;
        }
        // Another user: their own view, never Alice's data.
        let response = call(&stack, method.clone(), path, Some(&bob_token), *body).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        match other {
            Expect::Status(expected) => {
                assert_eq!(status, *expected, "{method} {path} as bob: {text}")
            }
            _ => assert!(
                (200..300).contains(&status),
                "{method} {path} as bob: {status} {text}"
            ),
        }
        // (A 404 may echo the id Bob himself sent; anything else of Alice's must not appear.)
        let sent = format!("{path} {}", body.map(Value::to_string).unwrap_or_default());
        for mark in alice_marks.iter().filter(|m| !sent.contains(**m)) {
            assert!(
                !text.contains(mark),
                "{method} {path} as bob leaked {mark}: {text}"
            );
        }
        checked += 1;
        // The owner, by access token and by API key (alternating keeps the session alive for
        // the later rows; DELETE runs once).
        let credential = if checked % 2 == 0 {
            &alice_token
        } else {
            &alice_key
        };
        let response = call(&stack, method.clone(), path, Some(credential), *body).await;
        let status = response.status().as_u16();
        match owner {
            Expect::Status(expected) => assert_eq!(status, *expected, "{method} {path} as alice"),
            _ => assert!(
                (200..300).contains(&status),
                "{method} {path} as alice: {status} {}",
                response.text().await.unwrap()
            ),
        }
        checked += 1;
    }
    println!(
        "ownership matrix: {} endpoints x 8 callers = {checked} checks",
        endpoints.len()
    );
    assert_eq!(checked, endpoints.len() * 8);
}

#[tokio::test]
async fn every_documented_operation_outside_the_public_list_needs_credentials() {
    let stack = jwt_stack(&[]).await;
    let doc = stack.get_json("/openapi.json").await;
    let public = [
        "/health",
        "/health/ready",
        "/api/v1/models",
        "/api/v1/workshop/content",
        "/api/v1/workshop/index",
        "/api/v1/workshop/curriculum",
        "/api/v1/auth/config",
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/auth/password-reset",
        // A shared chat is read by anyone holding its link (issue 25.11); copying it needs sign-in.
        "/api/v1/shared/{token}",
    ];
    let mut protected = 0;
    for (path, operations) in doc["paths"].as_object().unwrap() {
        if public.contains(&path.as_str()) {
            continue;
        }
        let concrete = path
            .replace("{id}", &uuid::Uuid::new_v4().to_string())
            .replace("{job_id}", &uuid::Uuid::new_v4().to_string());
        for method in operations.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let response = call(&stack, method.clone(), &concrete, None, Some(&json!({}))).await;
            assert_eq!(
                response.status().as_u16(),
                401,
                "{method} {path} is not protected"
            );
            protected += 1;
        }
    }
    assert!(protected >= 20, "only {protected} operations found");
}

/// A token that is still valid for an account that has since been deleted is a credential of
/// nobody: creating anything with it answers 401 (it answered 500, a foreign-key violation).
#[tokio::test]
async fn a_valid_token_of_a_deleted_account_is_refused_with_401() {
    let stack = jwt_stack(&[]).await;
    let signed_in = register(&stack, "gone@example.com").await;
    let token = signed_in["access_token"].as_str().unwrap();
    sqlx::query("DELETE FROM users WHERE email = 'gone@example.com'")
        .execute(&stack.db.pool)
        .await
        .unwrap();
    for (path, body) in [
        ("/api/v1/chat/sessions", json!({"title": "after"})),
        ("/api/v1/auth/keys", json!({"name": "after"})),
    ] {
        let response = call(&stack, Method::POST, path, Some(token), Some(&body)).await;
        assert_envelope(response, 401, "UNAUTHORIZED").await;
    }
}
