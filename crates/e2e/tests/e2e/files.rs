//! Knowledge I through the gateway: uploads streamed to the worker's store, ingestion on the
//! job queue, files and collections per user (another user's are 404 on every route), bad
//! input (415, 413, 422, 429, hostile names and encodings).

use std::time::Duration;

use e2e::{assert_envelope, Stack};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::grounded::DOCS;

const SECRET: &str = "e2e-test-signing-secret-0123456789abcdef";
const BOUNDARY: &str = "sable-test-boundary-7MA4YWxkTrZu0gW";

/// A multipart body with one `file` part per `(name, content type, bytes)`.
fn multipart(files: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, content_type, bytes) in files {
        body.extend(format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n"
        ).as_bytes());
        body.extend_from_slice(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

pub(crate) async fn upload(
    stack: &Stack,
    token: Option<&str>,
    files: &[(&str, &str, &[u8])],
) -> reqwest::Response {
    let mut request = stack
        .client
        .post(stack.url("/api/v1/files"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(files));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

pub(crate) async fn call(
    stack: &Stack,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = stack.client.request(method, stack.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// How long a file may take to settle: ingestion with the mock embeddings takes far less, with
/// a real embedding model (knowledge_services.rs) on a busy machine it can take a while.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Polls the file until it leaves pending/processing.
pub(crate) async fn wait_settled(stack: &Stack, token: Option<&str>, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + SETTLE_TIMEOUT;
    loop {
        let file: Value = call(
            stack,
            Method::GET,
            &format!("/api/v1/files/{id}"),
            token,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
        if file["status"] == "ready" || file["status"] == "failed" {
            return file;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "file {id} did not settle: {file}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Uploads `docs` (name, Markdown text) for `token`'s user in one request and waits until each
/// is ready; their ids in order.
pub(crate) async fn ready_files(
    stack: &Stack,
    token: Option<&str>,
    docs: &[(&str, &str)],
) -> Vec<String> {
    let parts: Vec<(&str, &str, &[u8])> = docs
        .iter()
        .map(|(n, t)| (*n, "text/markdown", t.as_bytes()))
        .collect();
    let response = upload(stack, token, &parts).await;
    let status = response.status();
    let uploaded: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{status}: {uploaded}");
    let list = match uploaded.get("files") {
        Some(files) => files.as_array().unwrap().clone(),
        None => vec![uploaded.clone()],
    };
    let mut ids = Vec::new();
    for file in list {
        let id = file["id"].as_str().unwrap().to_owned();
        let settled = wait_settled(stack, token, &id).await;
        assert_eq!(settled["status"], "ready", "{settled}");
        ids.push(id);
    }
    ids
}

async fn chunk_texts(stack: &Stack, file_id: &str) -> Vec<(String, Option<i32>, Option<String>)> {
    let pool = sqlx::PgPool::connect(&stack.db.url).await.unwrap();
    let id = uuid::Uuid::parse_str(file_id).unwrap();
    sqlx::query_as("SELECT text, page, heading FROM chunks WHERE file_id = $1 ORDER BY idx")
        .bind(id)
        .fetch_all(&pool)
        .await
        .unwrap()
}

const GUIDE: &str = "# Sable guide\n\nSable is an assistant platform.\n\n## Install\n\nRun the installer, then start the gateway with make run.\n\n## Backups\n\nThe database is backed up nightly with pg_dump.\n";

#[tokio::test]
async fn a_file_is_stored_ingested_listed_downloaded_deduplicated_and_deleted() {
    let stack = Stack::start().await;
    let response = upload(
        &stack,
        None,
        &[("guide.md", "text/markdown", GUIDE.as_bytes())],
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let file: Value = response.json().await.unwrap();
    let id = file["id"].as_str().unwrap().to_owned();
    assert_eq!(file["filename"], "guide.md");
    assert_eq!(file["kind"], "markdown");
    assert_eq!(file["size_bytes"], GUIDE.len());
    assert_eq!(file["sha256"].as_str().map(str::len), Some(64));
    assert!(matches!(
        file["status"].as_str(),
        Some("pending" | "processing" | "ready")
    ));

    let ready = wait_settled(&stack, None, &id).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert!(ready["chunk_count"].as_i64().unwrap() >= 1);
    assert!(ready["ready_at"].is_string());
    let chunks = chunk_texts(&stack, &id).await;
    assert_eq!(chunks.len() as i64, ready["chunk_count"].as_i64().unwrap());
    let all: String = chunks.iter().map(|c| c.0.as_str()).collect();
    assert!(all.contains("backed up nightly"), "{all}");
    assert!(chunks.iter().all(|c| c.1.is_none()));
    assert!(chunks
        .iter()
        .any(|c| c.2.as_deref().is_some_and(|h| h.starts_with("Sable guide"))));

    // The ingestion is a job on the queue, visible in the jobs list.
    let job_id = ready["job_id"].as_str().unwrap();
    let job = stack.get_json(&format!("/api/v1/jobs/{job_id}")).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["name"], "Ingest guide.md");

    // Listed, with the bytes stored.
    let list = stack.get_json("/api/v1/files").await;
    assert_eq!(list["files"].as_array().unwrap().len(), 1);
    assert_eq!(list["files"][0]["id"], id.as_str());
    assert_eq!(list["used_bytes"], GUIDE.len());

    // The original bytes, as an attachment that browsers will not sniff.
    let content = stack.get(&format!("/api/v1/files/{id}/content")).await;
    assert_eq!(content.status(), StatusCode::OK);
    let headers = content.headers().clone();
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment;"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/markdown"));
    assert_eq!(content.bytes().await.unwrap().as_ref(), GUIDE.as_bytes());

    // The same bytes again (under another name): stored once, the same file answers.
    let again = upload(
        &stack,
        None,
        &[("copy.md", "text/markdown", GUIDE.as_bytes())],
    )
    .await;
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["duplicate"], true);
    let blobs = || {
        walk(std::path::Path::new(&stack.file_store))
            .into_iter()
            .filter(|p| p.contains("users"))
            .count()
    };
    assert_eq!(blobs(), 1);

    // Delete: the record, the passages and the blob go.
    let deleted = call(
        &stack,
        Method::DELETE,
        &format!("/api/v1/files/{id}"),
        None,
        None,
    )
    .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_envelope(
        stack.get(&format!("/api/v1/files/{id}")).await,
        404,
        "FILE_NOT_FOUND",
    )
    .await;
    assert!(chunk_texts(&stack, &id).await.is_empty());
    assert_eq!(blobs(), 0);
    let again = call(
        &stack,
        Method::DELETE,
        &format!("/api/v1/files/{id}"),
        None,
        None,
    )
    .await;
    assert_envelope(again, 404, "FILE_NOT_FOUND").await;
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path.to_string_lossy().into_owned());
            }
        }
    }
    out
}

#[tokio::test]
async fn several_files_in_one_upload_answer_a_list_and_formats_are_read() {
    let stack = Stack::start().await;
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in "Grüße aus Köln: the UTF-16 notes.\n".encode_utf16() {
        utf16.extend(unit.to_le_bytes());
    }
    let html = b"<html><body><h1>Handbook</h1><p>Holidays are booked in the portal.</p><script>evil()</script></body></html>";
    let csv = b"name,role\nAda,engineer\nGrace,admiral\n";
    let response = upload(
        &stack,
        None,
        &[
            ("notes.txt", "text/plain", &utf16),
            ("handbook.html", "text/html", html),
            ("people.csv", "text/csv", csv),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    let files = body["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    let mut texts = Vec::new();
    for file in files {
        let id = file["id"].as_str().unwrap();
        let settled = wait_settled(&stack, None, id).await;
        assert_eq!(settled["status"], "ready", "{settled}");
        texts.push(chunk_texts(&stack, id).await);
    }
    assert!(texts[0][0].0.contains("Grüße aus Köln"), "{:?}", texts[0]);
    assert!(
        texts[1][0].0.contains("Holidays are booked"),
        "{:?}",
        texts[1]
    );
    assert!(!texts[1][0].0.contains("evil"), "{:?}", texts[1]);
    assert_eq!(texts[1][0].2.as_deref(), Some("Handbook"));
    assert!(
        texts[2][0].0.contains("name: Grace; role: admiral"),
        "{:?}",
        texts[2]
    );
}

#[tokio::test]
async fn bad_uploads_get_clear_answers_and_leave_nothing() {
    let stack =
        Stack::start_with(&["--file-max-bytes", "2000", "--quota-file-bytes", "3000"]).await;
    // Unsupported type: 415 naming the supported ones.
    let response = upload(
        &stack,
        None,
        &[("tool.exe", "application/octet-stream", b"MZ\x90\x00")],
    )
    .await;
    let body = assert_envelope(response, 415, "UNSUPPORTED_FILE_TYPE").await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains(".pdf"),
        "{body}"
    );
    // Over FILE_MAX_BYTES: 413.
    let big = vec![b'a'; 2001];
    assert_envelope(
        upload(&stack, None, &[("big.txt", "text/plain", &big)]).await,
        413,
        "FILE_TOO_LARGE",
    )
    .await;
    // Empty: 422.
    assert_envelope(
        upload(&stack, None, &[("empty.txt", "text/plain", b"")]).await,
        422,
        "EMPTY_FILE",
    )
    .await;
    // No file field: 422.
    let response = stack
        .client
        .post(stack.url("/api/v1/files"))
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--{BOUNDARY}--\r\n"))
        .send()
        .await
        .unwrap();
    assert_envelope(response, 422, "INVALID_UPLOAD").await;
    // Nothing was stored by any of those.
    assert_eq!(stack.get_json("/api/v1/files").await["files"], json!([]));
    assert!(walk(std::path::Path::new(&stack.file_store))
        .iter()
        .all(|p| !p.contains("users")));

    // A name with path separators and control characters is cleaned.
    let response = upload(
        &stack,
        None,
        &[("../../etc/pass\twd.txt", "text/plain", b"first file body")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let first: Value = response.json().await.unwrap();
    assert_eq!(first["filename"], "passwd.txt");

    // Quota: 3000 bytes; 15 stored, 1990 more fits, 1990 after that does not.
    let fits = vec![b'b'; 1990];
    assert_eq!(
        upload(&stack, None, &[("fits.txt", "text/plain", &fits)])
            .await
            .status(),
        StatusCode::CREATED
    );
    let over = vec![b'c'; 1990];
    let body = assert_envelope(
        upload(&stack, None, &[("over.txt", "text/plain", &over)]).await,
        429,
        "QUOTA_EXCEEDED",
    )
    .await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("2.0 KB used of 3.0 KB"), "{message}");
    assert_eq!(
        stack.get_json("/api/v1/files").await["files"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Not text at all (invalid UTF-8, no BOM): the file fails alone, in words.
    let id = first["id"].as_str().unwrap();
    assert_eq!(wait_settled(&stack, None, id).await["status"], "ready");
    call(
        &stack,
        Method::DELETE,
        &format!("/api/v1/files/{id}"),
        None,
        None,
    )
    .await;
    let response = upload(
        &stack,
        None,
        &[("binary.txt", "text/plain", b"\x81\x00garbage\xff")],
    )
    .await;
    let bad: Value = response.json().await.unwrap();
    let failed = wait_settled(&stack, None, bad["id"].as_str().unwrap()).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("not valid UTF-8"),
        "{failed}"
    );
    let job = stack
        .get_json(&format!(
            "/api/v1/jobs/{}",
            failed["job_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(job["status"], "failed", "{job}");
}

pub(crate) async fn sign_up(stack: &Stack, email: &str) -> String {
    let answer = e2e::sign_up(
        &stack.client,
        &stack.url(""),
        &json!({"email": email, "password": "correct horse battery", "display_name": "T"}),
    )
    .await;
    answer["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn files_and_collections_are_their_owners_only() {
    let stack = Stack::start_with(&["--auth-mode", "jwt", "--jwt-secret", SECRET]).await;
    let alice = sign_up(&stack, "alice@example.com").await;
    let bob = sign_up(&stack, "bob@example.com").await;
    let (a, b) = (Some(alice.as_str()), Some(bob.as_str()));

    let file: Value = upload(&stack, a, &[("a.md", "text/markdown", GUIDE.as_bytes())])
        .await
        .json()
        .await
        .unwrap();
    let file_id = file["id"].as_str().unwrap().to_owned();
    let bobs: Value = upload(&stack, b, &[("b.txt", "text/plain", b"bob's notes")])
        .await
        .json()
        .await
        .unwrap();
    let bobs_id = bobs["id"].as_str().unwrap().to_owned();
    // The same bytes from another user are their own file.
    let same: Value = upload(&stack, b, &[("a.md", "text/markdown", GUIDE.as_bytes())])
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(same["id"], file_id.as_str());
    assert!(same.get("duplicate").is_none());

    let collection = call(
        &stack,
        Method::POST,
        "/api/v1/collections",
        a,
        Some(json!({"name": "Manuals", "description": "how-tos", "file_ids": [file_id]})),
    )
    .await;
    assert_eq!(collection.status(), StatusCode::CREATED);
    let collection: Value = collection.json().await.unwrap();
    let cid = collection["id"].as_str().unwrap().to_owned();
    assert_eq!(collection["file_ids"], json!([file_id]));
    let bobs_collection: Value = call(
        &stack,
        Method::POST,
        "/api/v1/collections",
        b,
        Some(json!({"name": "Mine"})),
    )
    .await
    .json()
    .await
    .unwrap();
    let bcid = bobs_collection["id"].as_str().unwrap().to_owned();

    // Bob: 404 on every route that names Alice's things.
    for (method, path, code) in [
        (
            Method::GET,
            format!("/api/v1/files/{file_id}"),
            "FILE_NOT_FOUND",
        ),
        (
            Method::GET,
            format!("/api/v1/files/{file_id}/content"),
            "FILE_NOT_FOUND",
        ),
        (
            Method::DELETE,
            format!("/api/v1/files/{file_id}"),
            "FILE_NOT_FOUND",
        ),
        (
            Method::GET,
            format!("/api/v1/collections/{cid}"),
            "COLLECTION_NOT_FOUND",
        ),
        (
            Method::PATCH,
            format!("/api/v1/collections/{cid}"),
            "COLLECTION_NOT_FOUND",
        ),
        (
            Method::DELETE,
            format!("/api/v1/collections/{cid}"),
            "COLLECTION_NOT_FOUND",
        ),
        (
            Method::PUT,
            format!("/api/v1/collections/{cid}/files/{bobs_id}"),
            "COLLECTION_NOT_FOUND",
        ),
        (
            Method::DELETE,
            format!("/api/v1/collections/{cid}/files/{file_id}"),
            "COLLECTION_NOT_FOUND",
        ),
        (
            Method::PUT,
            format!("/api/v1/collections/{bcid}/files/{file_id}"),
            "FILE_NOT_FOUND",
        ),
    ] {
        let body = (method == Method::PATCH).then(|| json!({"name": "stolen"}));
        let response = call(&stack, method.clone(), &path, b, body).await;
        assert_envelope(response, 404, code).await;
    }
    let response = call(
        &stack,
        Method::POST,
        "/api/v1/collections",
        b,
        Some(json!({"name": "x", "file_ids": [file_id]})),
    )
    .await;
    assert_envelope(response, 404, "FILE_NOT_FOUND").await;
    // Bob's lists hold only his own.
    let list: Value = call(&stack, Method::GET, "/api/v1/files", b, None)
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(
        !ids.contains(&file_id.as_str()) && ids.contains(&bobs_id.as_str()),
        "{list}"
    );
    let list: Value = call(&stack, Method::GET, "/api/v1/collections", b, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["collections"].as_array().unwrap().len(), 1);
    // Nothing of Alice's changed.
    let still: Value = call(
        &stack,
        Method::GET,
        &format!("/api/v1/collections/{cid}"),
        a,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(still["name"], "Manuals");
    assert_eq!(still["file_ids"], json!([file_id]));
    // Retrieval: Alice's file and collection are 404 to Bob, and never in his passages.
    let response = call(
        &stack,
        Method::POST,
        "/api/v1/retrieve",
        b,
        Some(json!({"query": "installer", "file_ids": [file_id]})),
    )
    .await;
    assert_envelope(response, 404, "FILE_NOT_FOUND").await;
    let response = call(
        &stack,
        Method::POST,
        "/api/v1/retrieve",
        b,
        Some(json!({"query": "installer", "collection_ids": [cid]})),
    )
    .await;
    assert_envelope(response, 404, "COLLECTION_NOT_FOUND").await;
    wait_settled(&stack, a, &file_id).await;
    wait_settled(&stack, b, same["id"].as_str().unwrap()).await;
    let found: Value = call(
        &stack,
        Method::POST,
        "/api/v1/retrieve",
        b,
        Some(json!({"query": "installer gateway"})),
    )
    .await
    .json()
    .await
    .unwrap();
    let passages = found["passages"].as_array().unwrap();
    assert!(!passages.is_empty(), "{found}");
    assert!(
        passages.iter().all(|p| p["file_id"] != file_id.as_str()),
        "{found}"
    );
    // Without a token: 401.
    assert_eq!(
        call(&stack, Method::GET, "/api/v1/files", None, None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // Alice manages her collection: rename, add twice (idempotent), remove, delete; the file stays.
    let second: Value = upload(&stack, a, &[("two.txt", "text/plain", b"second file")])
        .await
        .json()
        .await
        .unwrap();
    let second_id = second["id"].as_str().unwrap();
    let renamed: Value = call(
        &stack,
        Method::PATCH,
        &format!("/api/v1/collections/{cid}"),
        a,
        Some(json!({"name": "Docs"})),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(renamed["name"], "Docs");
    assert_eq!(renamed["description"], "how-tos");
    for _ in 0..2 {
        let added: Value = call(
            &stack,
            Method::PUT,
            &format!("/api/v1/collections/{cid}/files/{second_id}"),
            a,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(added["file_ids"].as_array().unwrap().len(), 2, "{added}");
    }
    let removed: Value = call(
        &stack,
        Method::DELETE,
        &format!("/api/v1/collections/{cid}/files/{file_id}"),
        a,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(removed["file_ids"], json!([second_id]));
    let invalid = call(
        &stack,
        Method::PATCH,
        &format!("/api/v1/collections/{cid}"),
        a,
        Some(json!({"name": "  "})),
    )
    .await;
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Deleting a file takes it out of its collections.
    call(
        &stack,
        Method::DELETE,
        &format!("/api/v1/files/{second_id}"),
        a,
        None,
    )
    .await;
    let after: Value = call(
        &stack,
        Method::GET,
        &format!("/api/v1/collections/{cid}"),
        a,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(after["file_ids"], json!([]));
    assert_eq!(
        call(
            &stack,
            Method::DELETE,
            &format!("/api/v1/collections/{cid}"),
            a,
            None
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(
            &stack,
            Method::GET,
            &format!("/api/v1/files/{file_id}"),
            a,
            None
        )
        .await
        .status(),
        StatusCode::OK
    );
    // Ids that are not UUIDs are simply not found.
    assert_envelope(
        call(&stack, Method::GET, "/api/v1/files/not-an-id", a, None).await,
        404,
        "FILE_NOT_FOUND",
    )
    .await;
}

/// A one-page PDF per text, with a correct cross-reference table (Helvetica, no embedding).
fn pdf(pages: &[&str]) -> Vec<u8> {
    let n = pages.len();
    // Objects: 1 catalog, 2 pages, 3 font, then per page: page, contents.
    let mut objects: Vec<String> = Vec::new();
    objects.push("<< /Type /Catalog /Pages 2 0 R >>".to_owned());
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
    objects.push(format!(
        "<< /Type /Pages /Kids [{}] /Count {n} >>",
        kids.join(" ")
    ));
    objects.push(
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_owned(),
    );
    for (i, text) in pages.iter().enumerate() {
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            5 + 2 * i
        ));
        let stream = format!("BT /F1 12 Tf 72 720 Td ({text}) Tj ET");
        objects.push(format!(
            "<< /Length {} >>\nstream\n{stream}\nendstream",
            stream.len()
        ));
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A DOCX whose body is `document_xml`.
fn docx(document_xml: &str) -> Vec<u8> {
    use std::io::Write;
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("word/document.xml", options).unwrap();
    zip.write_all(document_xml.as_bytes()).unwrap();
    zip.finish().unwrap();
    out.into_inner()
}

const PDF_TYPE: &str = "application/pdf";
const DOCX_TYPE: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

#[tokio::test]
async fn pdf_and_docx_are_read_and_hostile_files_fail_alone() {
    let stack = Stack::start_with_worker(&[], &["--docx-max-uncompressed-bytes", "1000000"]).await;
    let report = pdf(&[
        "Quarterly revenue grew by nine percent.",
        "Termination needs ninety days notice.",
    ]);
    let truncated = report[..report.len() / 2].to_vec();
    let contract = docx(
        r#"<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>
        <w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Contract</w:t></w:r></w:p>
        <w:p><w:r><w:t>Either party may end the agreement with notice.</w:t></w:r></w:p></w:body></w:document>"#,
    );
    let bomb = docx(&format!(
        "<w:document><w:body><w:p><w:r><w:t>{}</w:t></w:r></w:p></w:body></w:document>",
        "a".repeat(3_000_000)
    ));
    assert!(bomb.len() < 50_000, "the bomb compresses: {}", bomb.len());
    let uploaded: Value = upload(
        &stack,
        None,
        &[
            ("report.pdf", PDF_TYPE, &report),
            ("broken.pdf", PDF_TYPE, &truncated),
            ("contract.docx", DOCX_TYPE, &contract),
            ("bomb.docx", DOCX_TYPE, &bomb),
            ("fake.pdf", PDF_TYPE, b"this is not a pdf at all"),
            ("blank.md", "text/markdown", b"  \n\n  \n"),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    let files = uploaded["files"].as_array().unwrap();
    let mut settled = Vec::new();
    for f in files {
        settled.push(wait_settled(&stack, None, f["id"].as_str().unwrap()).await);
    }
    let error = |i: usize| settled[i]["error"].as_str().unwrap_or("").to_owned();

    assert_eq!(settled[0]["status"], "ready", "{}", settled[0]);
    assert_eq!(settled[0]["pages"], 2);
    let chunks = chunk_texts(&stack, files[0]["id"].as_str().unwrap()).await;
    let all: String = chunks.iter().map(|c| c.0.as_str()).collect();
    assert!(
        all.contains("Quarterly revenue") && all.contains("ninety days"),
        "{chunks:?}"
    );
    assert_eq!(chunks[0].1, Some(1));

    assert_eq!(settled[1]["status"], "failed", "{}", settled[1]);
    assert!(error(1).contains("PDF could not be read"), "{}", error(1));

    assert_eq!(settled[2]["status"], "ready", "{}", settled[2]);
    let chunks = chunk_texts(&stack, files[2]["id"].as_str().unwrap()).await;
    assert!(chunks[0].0.contains("Either party may end"), "{chunks:?}");
    assert_eq!(chunks[0].2.as_deref(), Some("Contract"));

    assert_eq!(settled[3]["status"], "failed");
    assert!(error(3).contains("zip bomb"), "{}", error(3));
    assert_eq!(settled[4]["status"], "failed");
    assert!(error(4).contains("not a PDF"), "{}", error(4));
    assert_eq!(settled[5]["status"], "failed");
    assert_eq!(error(5), "No text found in the file");
    for s in &settled[..] {
        if s["status"] == "failed" {
            assert_eq!(s["chunk_count"], 0);
        }
    }

    // The worker is still up and working: a prompt job completes.
    let job: Value = stack
        .post("/api/v1/jobs", &json!({"prompts": ["still there?"]}))
        .await
        .json()
        .await
        .unwrap();
    stack
        .wait_for_job(
            job["job_id"].as_str().unwrap(),
            "completed",
            Duration::from_secs(20),
        )
        .await;
}

#[tokio::test]
async fn retrieval_is_hybrid_ranked_and_scoped() {
    let stack = Stack::start().await;
    let ids = ready_files(&stack, None, &DOCS).await;
    // Every passage has a vector, with its model and dimension.
    let pool = sqlx::PgPool::connect(&stack.db.url).await.unwrap();
    let (models, dims, missing): (Vec<String>, Vec<i32>, i64) = sqlx::query_as(
        "SELECT array_agg(DISTINCT v.model), array_agg(DISTINCT v.dim),
                count(*) FILTER (WHERE v.chunk_id IS NULL)
           FROM chunks c LEFT JOIN chunk_vectors v ON v.chunk_id = c.id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(missing, 0);
    assert_eq!(models.len(), 1, "{models:?}");
    assert!(models[0].contains("mock-embed"), "{models:?}");
    assert_eq!(dims.len(), 1);

    let retrieve = |body: Value| {
        let stack = &stack;
        async move { call(stack, Method::POST, "/api/v1/retrieve", None, Some(body)).await }
    };
    let answer: Value = retrieve(json!({"query": "How often is the database backed up?"}))
        .await
        .json()
        .await
        .unwrap();
    let passages = answer["passages"].as_array().unwrap();
    assert!(!passages.is_empty(), "{answer}");
    assert_eq!(passages[0]["filename"], "backups.md", "{answer}");
    assert_eq!(passages[0]["heading"], "Operations > Backups");
    assert_eq!(passages[0]["vector_rank"], 1, "{answer}");
    assert_eq!(passages[0]["text_rank"], 1, "{answer}");
    assert!(passages[0]["text"].as_str().unwrap().contains("pg_dump"));
    assert!(answer["embedding_model"]
        .as_str()
        .unwrap()
        .contains("mock-embed"));
    let scores: Vec<f64> = passages
        .iter()
        .map(|p| p["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");

    let answer: Value =
        retrieve(json!({"query": "how many days of holiday do employees get", "top_k": 1}))
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(answer["passages"].as_array().unwrap().len(), 1);
    assert_eq!(answer["passages"][0]["filename"], "holidays.md", "{answer}");

    // Scoped to one file: only its passages, even for another file's question.
    let answer: Value = retrieve(json!({"query": "database backups", "file_ids": [ids[2]]}))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        answer["passages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["filename"] == "install.md"),
        "{answer}"
    );
    // Scoped to a collection.
    let collection: Value = call(
        &stack,
        Method::POST,
        "/api/v1/collections",
        None,
        Some(json!({"name": "People", "file_ids": [ids[1]]})),
    )
    .await
    .json()
    .await
    .unwrap();
    let answer: Value =
        retrieve(json!({"query": "database backups", "collection_ids": [collection["id"]]}))
            .await
            .json()
            .await
            .unwrap();
    assert!(
        answer["passages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["filename"] == "holidays.md"),
        "{answer}"
    );
    // An empty collection finds nothing.
    let empty: Value = call(
        &stack,
        Method::POST,
        "/api/v1/collections",
        None,
        Some(json!({"name": "Empty"})),
    )
    .await
    .json()
    .await
    .unwrap();
    let answer: Value = retrieve(json!({"query": "backups", "collection_ids": [empty["id"]]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["passages"], json!([]));
    // Unknown (or another user's) ids are 404; bad input 422.
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_envelope(
        retrieve(json!({"query": "x", "file_ids": [unknown]})).await,
        404,
        "FILE_NOT_FOUND",
    )
    .await;
    assert_envelope(
        retrieve(json!({"query": "x", "collection_ids": [unknown]})).await,
        404,
        "COLLECTION_NOT_FOUND",
    )
    .await;
    assert_eq!(
        retrieve(json!({"query": "  "})).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        retrieve(json!({"query": "x", "top_k": 0})).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // A deleted file is never retrieved.
    call(
        &stack,
        Method::DELETE,
        &format!("/api/v1/files/{}", ids[0]),
        None,
        None,
    )
    .await;
    let answer: Value = retrieve(json!({"query": "database backed up pg_dump"}))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        answer["passages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["filename"] != "backups.md"),
        "{answer}"
    );
}
