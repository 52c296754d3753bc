//! Share links (issue 25.11): an unguessable token, readable without credentials, showing the
//! active path as of sharing (later messages never leak), revocable, continued by another
//! signed-in user as their own copy; no account data in what a reader gets.

use serde_json::{json, Value};

use crate::helpers::{accounts_app, assert_envelope, call, json_of, sign_up, TestApp, User};

/// A session of `user` holding `contents` as alternating user / assistant messages.
pub async fn chat_with(app: &TestApp, user: &User, contents: &[&str]) -> String {
    use reqwest::Method;
    let session = json_of(
        call(
            app,
            Some(user),
            Method::POST,
            "/api/v1/chat/sessions",
            Some(json!({"title": "Trip to Rome"})),
        )
        .await,
        201,
    )
    .await;
    let id = session["id"].as_str().unwrap().to_owned();
    append(app, user, &id, contents).await;
    id
}

async fn append(app: &TestApp, user: &User, id: &str, contents: &[&str]) {
    for (i, content) in contents.iter().enumerate() {
        let role = if i % 2 == 0 { "user" } else { "assistant" };
        let meta =
            json!({"model": "mock", "usage": {"total_tokens": 3}, "secret_note": "owner only"});
        json_of(
            call(
                app,
                Some(user),
                reqwest::Method::POST,
                &format!("/api/v1/chat/sessions/{id}/messages"),
                Some(json!({"role": role, "content": content, "meta": meta})),
            )
            .await,
            201,
        )
        .await;
    }
}

fn contents(messages: &Value) -> Vec<&str> {
    messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_link_shows_the_path_as_of_sharing_to_anyone_and_nothing_of_the_account() {
    use reqwest::Method;
    let app = accounts_app().await;
    let ada = sign_up(&app, "ada@example.com").await;
    let id = chat_with(&app, &ada, &["Plan a trip", "Go in May."]).await;

    let share = json_of(
        call(
            &app,
            Some(&ada),
            Method::POST,
            &format!("/api/v1/chat/sessions/{id}/share"),
            None,
        )
        .await,
        201,
    )
    .await;
    let token = share["token"].as_str().unwrap();
    // 32 random bytes, base64url: 256 bits.
    assert_eq!(token.len(), 43, "{share}");
    assert_eq!(share["url"], format!("/shared/{token}"));
    assert_eq!(share["message_count"], 2);
    // Only the token's SHA-256 is stored.
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM chat_shares WHERE token_digest = sha256(convert_to($1, 'UTF8'))",
    )
    .bind(token)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(stored, 1);
    let in_clear: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM chat_shares WHERE position(convert_to($1, 'UTF8') IN token_digest) > 0 \
         OR snapshot::text LIKE '%' || $1 || '%'",
    )
    .bind(token)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(in_clear, 0);

    // The owner goes on: more messages, and a new version of the first answer.
    append(&app, &ada, &id, &["And in June?", "Hotter."]).await;
    let path = json_of(
        call(
            &app,
            Some(&ada),
            Method::GET,
            &format!("/api/v1/chat/sessions/{id}"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(path["messages"].as_array().unwrap().len(), 4);
    let status = json_of(
        call(
            &app,
            Some(&ada),
            Method::GET,
            &format!("/api/v1/chat/sessions/{id}/share"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(status["shared"], true);
    assert_eq!(status["message_count"], 2);

    // Read without any credentials: the first two messages only.
    let shared = app.get(&format!("/api/v1/shared/{token}")).await;
    assert_eq!(shared.status(), 200);
    let raw = shared.text().await.unwrap();
    let shared: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(shared["title"], "Trip to Rome");
    assert_eq!(contents(&shared["messages"]), ["Plan a trip", "Go in May."]);
    assert_eq!(shared["messages"][1]["role"], "assistant");
    assert_eq!(shared["messages"][1]["meta"], json!({"model": "mock"}));
    for private in [
        ada.id.as_str(),
        ada.email.as_str(),
        id.as_str(),
        "owner only",
        "June",
        "usage",
        "user_id",
    ] {
        assert!(!raw.contains(private), "{private:?} leaked: {raw}");
    }
}

#[tokio::test]
async fn a_revoked_link_is_gone_and_sharing_again_makes_a_new_one() {
    use reqwest::Method;
    let app = accounts_app().await;
    let ada = sign_up(&app, "ada@example.com").await;
    let id = chat_with(&app, &ada, &["Hello", "Hi!"]).await;
    let share_path = format!("/api/v1/chat/sessions/{id}/share");
    let first = json_of(
        call(&app, Some(&ada), Method::POST, &share_path, None).await,
        201,
    )
    .await;
    let first = first["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get(&format!("/api/v1/shared/{first}")).await.status(),
        200
    );

    let ended = call(&app, Some(&ada), Method::DELETE, &share_path, None).await;
    assert_eq!(ended.status(), 204);
    let gone = app.get(&format!("/api/v1/shared/{first}")).await;
    assert_envelope(gone, 404, "NOT_FOUND").await;
    let status = json_of(
        call(&app, Some(&ada), Method::GET, &share_path, None).await,
        200,
    )
    .await;
    assert_eq!(
        status,
        json!({"shared": false, "created_at": null, "message_count": null})
    );
    // Ending it again is fine.
    assert_eq!(
        call(&app, Some(&ada), Method::DELETE, &share_path, None)
            .await
            .status(),
        204
    );

    let second = json_of(
        call(&app, Some(&ada), Method::POST, &share_path, None).await,
        201,
    )
    .await;
    let second = second["token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert_eq!(
        app.get(&format!("/api/v1/shared/{second}")).await.status(),
        200
    );
    assert_eq!(
        app.get(&format!("/api/v1/shared/{first}")).await.status(),
        404
    );

    // Sharing again while shared replaces the link: one live link per chat.
    let third = json_of(
        call(&app, Some(&ada), Method::POST, &share_path, None).await,
        201,
    )
    .await;
    let third = third["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get(&format!("/api/v1/shared/{second}")).await.status(),
        404
    );
    assert_eq!(
        app.get(&format!("/api/v1/shared/{third}")).await.status(),
        200
    );

    // Deleting the chat ends its link too.
    assert_eq!(
        call(
            &app,
            Some(&ada),
            Method::DELETE,
            &format!("/api/v1/chat/sessions/{id}"),
            None
        )
        .await
        .status(),
        204
    );
    assert_eq!(
        app.get(&format!("/api/v1/shared/{third}")).await.status(),
        404
    );

    // Guessed tokens: 404 in the envelope, whatever their shape.
    for guess in ["x", "A".repeat(43).as_str(), "../../etc", "%00"] {
        let response = app.get(&format!("/api/v1/shared/{guess}")).await;
        assert_eq!(response.status(), 404, "{guess}");
    }
    assert_envelope(
        app.get(&format!("/api/v1/shared/{}", "A".repeat(43))).await,
        404,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn another_user_cannot_share_or_unshare_but_can_continue_a_copy() {
    use reqwest::Method;
    let app = accounts_app().await;
    let ada = sign_up(&app, "ada@example.com").await;
    let bob = sign_up(&app, "bob@example.com").await;
    let id = chat_with(&app, &ada, &["Plan a trip", "Go in May."]).await;
    let share_path = format!("/api/v1/chat/sessions/{id}/share");
    for method in [Method::POST, Method::GET, Method::DELETE] {
        let response = call(&app, Some(&bob), method.clone(), &share_path, None).await;
        assert_envelope(response, 404, "NOT_FOUND").await;
    }
    assert_envelope(
        call(&app, None, Method::POST, &share_path, None).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    let bad = call(
        &app,
        Some(&ada),
        Method::POST,
        "/api/v1/chat/sessions/nope/share",
        None,
    )
    .await;
    assert_eq!(bad.status(), 400);

    let token = json_of(
        call(&app, Some(&ada), Method::POST, &share_path, None).await,
        201,
    )
    .await;
    let token = token["token"].as_str().unwrap().to_owned();
    append(&app, &ada, &id, &["Later", "Private"]).await;

    // Continuing needs an account.
    let copy_path = format!("/api/v1/shared/{token}/copy");
    assert_envelope(
        call(&app, None, Method::POST, &copy_path, None).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    let copy = json_of(
        call(&app, Some(&bob), Method::POST, &copy_path, None).await,
        201,
    )
    .await;
    assert_eq!(copy["user_id"], bob.id.as_str());
    assert_eq!(copy["title"], "Trip to Rome");
    assert_eq!(copy["message_count"], 2);
    let copy_id = copy["id"].as_str().unwrap();
    assert_ne!(copy_id, id);
    let mine = json_of(
        call(
            &app,
            Some(&bob),
            Method::GET,
            &format!("/api/v1/chat/sessions/{copy_id}"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(contents(&mine["messages"]), ["Plan a trip", "Go in May."]);
    // Bob's copy is his: he goes on in it; Ada's chat is untouched and still hers alone.
    append(&app, &bob, copy_id, &["What about Naples?"]).await;
    let original = json_of(
        call(
            &app,
            Some(&ada),
            Method::GET,
            &format!("/api/v1/chat/sessions/{id}"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        contents(&original["messages"]),
        ["Plan a trip", "Go in May.", "Later", "Private"]
    );
    assert_envelope(
        call(
            &app,
            Some(&bob),
            Method::GET,
            &format!("/api/v1/chat/sessions/{id}"),
            None,
        )
        .await,
        404,
        "NOT_FOUND",
    )
    .await;

    // An ended link cannot be copied.
    assert_eq!(
        call(&app, Some(&ada), Method::DELETE, &share_path, None)
            .await
            .status(),
        204
    );
    assert_envelope(
        call(&app, Some(&bob), Method::POST, &copy_path, None).await,
        404,
        "NOT_FOUND",
    )
    .await;
}
