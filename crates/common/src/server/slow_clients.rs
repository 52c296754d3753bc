//! The accept loop, with limits on slow clients: a header block must arrive within
//! [`ClientTimeouts::header_read`] (hyper closes the connection otherwise: before the headers
//! there is no request to answer), and a request body within [`ClientTimeouts::request_body`]
//! of the headers plus one second per [`BODY_BYTES_PER_SECOND`] received (408 `REQUEST_TIMEOUT`
//! in the envelope, then the connection closes): a large upload that keeps arriving at a
//! reasonable rate is never cut off, a trickle is. Without
//! them, a client sending one byte a second holds a connection and a task for as long as it
//! likes. `axum::serve` offers neither, so this is its loop with both added.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures::StreamExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::error::AppError;
use crate::request_id;

/// The minimum rate a body must keep up once its grace period is spent: every this many bytes
/// received extend the body's deadline by a second. 32 KiB/s: a 25 MB upload may take up to
/// ~13 minutes; a client sending one byte a second gets the grace period and no more.
pub const BODY_BYTES_PER_SECOND: u64 = 32 * 1024;

/// How long a client may take to send its request (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientTimeouts {
    pub header_read: Duration,
    pub request_body: Duration,
}

impl Default for ClientTimeouts {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            request_body: Duration::from_secs(30),
        }
    }
}

/// Accepts connections on `listener` and serves `router` on each (HTTP/1.1, as axum::serve
/// without its `http2` feature; the peer address as `ConnectInfo<SocketAddr>`), until `signal` completes; then stops accepting and
/// returns once every open connection has finished (each is asked to close gracefully).
pub async fn serve_connections(
    listener: TcpListener,
    router: Router,
    timeouts: ClientTimeouts,
    signal: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read);
    let graceful = GracefulShutdown::new();
    let mut signal = pin!(signal);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // As axum::serve: a per-connection error (reset before accept) is skipped;
                    // running out of file descriptors is waited out.
                    tracing::debug!(error = %e, "accept failed");
                    if !is_connection_error(&e) {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    continue;
                }
            },
            () = &mut signal => break,
        };
        // No Nagle delay: a stream's events leave in several small writes, and a write held
        // back until the previous one is acknowledged waits out the peer's delayed ACK (~40 ms).
        let _ = tcp.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let mut request = request.map(Body::new);
            // Connect info gives the gateway the peer address its rate limits fall back to.
            request.extensions_mut().insert(ConnectInfo(remote));
            with_body_deadline(router.clone(), request, timeouts.request_body)
        });
        let connection = builder.serve_connection(TokioIo::new(tcp), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::trace!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Runs `router` on `request` with its body bounded by `within` plus a second per
/// [`BODY_BYTES_PER_SECOND`] received: a body still arriving after that ends with an error (the
/// handler's extractor fails), and the answer becomes 408.
async fn with_body_deadline(
    router: Router,
    request: Request<Body>,
    within: Duration,
) -> Result<Response, std::convert::Infallible> {
    if !has_body(&request) {
        return router.oneshot(request).await;
    }
    let expired = Arc::new(AtomicBool::new(false));
    let (parts, body) = request.into_parts();
    let started = tokio::time::Instant::now();
    let flag = expired.clone();
    let chunks = body.into_data_stream();
    let body = futures::stream::unfold(
        (chunks, flag, 0_u64, false),
        move |(mut chunks, flag, received, over)| async move {
            if over {
                return None;
            }
            let earned = Duration::from_secs_f64(received as f64 / BODY_BYTES_PER_SECOND as f64);
            let deadline = started + within + earned;
            match tokio::time::timeout_at(deadline, chunks.next()).await {
                Ok(Some(chunk)) => {
                    let size = chunk.as_ref().map_or(0, |bytes| bytes.len() as u64);
                    Some((chunk, (chunks, flag, received + size, false)))
                }
                Ok(None) => None,
                Err(_) => {
                    flag.store(true, Ordering::Relaxed);
                    let error = axum::Error::new("the request body did not arrive in time");
                    Some((Err(error), (chunks, flag, received, true)))
                }
            }
        },
    );
    let request = Request::from_parts(parts, Body::from_stream(body));
    let response = router.oneshot(request).await?;
    if !expired.load(Ordering::Relaxed) {
        return Ok(response);
    }
    Ok(request_timeout(&response))
}

/// Whether the request announces a body (a length above zero, or chunked).
fn has_body<B>(request: &Request<B>) -> bool {
    let headers = request.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

/// 408 in the envelope, naming the request id the router gave the request, and closing the
/// connection (the rest of the body is not read).
fn request_timeout(original: &Response) -> Response {
    let id = original.headers().get(request_id::HEADER).cloned();
    let id_text = id.as_ref().and_then(|v| v.to_str().ok()).map(str::to_owned);
    let message = "The request body did not arrive in time";
    let error = AppError::detailed(StatusCode::REQUEST_TIMEOUT, "REQUEST_TIMEOUT", message);
    let mut body = error.body();
    body["error"]["request_id"] = serde_json::json!(id_text);
    let mut response = (StatusCode::REQUEST_TIMEOUT, axum::Json(body)).into_response();
    if let Some(id) = id {
        response.headers_mut().insert(request_id::HEADER, id);
    }
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    tracing::info!(status = 408, "request body timed out");
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::net::SocketAddr;
    use std::time::Instant;

    use axum::routing::post;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    /// A real server with one JSON route and the given (small) timeouts.
    async fn server(timeouts: ClientTimeouts) -> SocketAddr {
        let router = crate::server::with_common_layers(Router::new().route(
            "/echo",
            post(|body: axum::Json<serde_json::Value>| async move { body }),
        ));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve_connections(
            listener,
            router,
            timeouts,
            std::future::pending(),
        ));
        addr
    }

    /// Writes `bytes` one a second (a slow client) until the peer stops taking them; then
    /// returns whatever the server answered and when the connection ended.
    async fn trickle(addr: SocketAddr, head: &[u8], bytes: &[u8]) -> (String, Duration) {
        let started = Instant::now();
        let mut socket = TcpStream::connect(addr).await.unwrap();
        socket.write_all(head).await.unwrap();
        let (mut read, mut write) = socket.into_split();
        let bytes = bytes.to_vec();
        let writer = tokio::spawn(async move {
            for byte in bytes {
                if write.write_all(&[byte]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let mut answer = Vec::new();
        // Bounded: the timeouts under test are a second; ten is a hang.
        let read = tokio::time::timeout(Duration::from_secs(10), read.read_to_end(&mut answer));
        let _ = read.await.expect("the server ended the connection");
        writer.abort();
        (
            String::from_utf8_lossy(&answer).into_owned(),
            started.elapsed(),
        )
    }

    const SMALL: ClientTimeouts = ClientTimeouts {
        header_read: Duration::from_secs(1),
        request_body: Duration::from_secs(1),
    };

    #[tokio::test]
    async fn headers_at_one_byte_a_second_are_cut_off() {
        let addr = server(SMALL).await;
        let (answer, took) = trickle(
            addr,
            b"",
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n",
        )
        .await;
        // Before the headers there is no request to answer: the connection is closed.
        assert!(!answer.contains("200 OK"), "{answer}");
        assert!(took < Duration::from_secs(4), "{took:?}");
    }

    #[tokio::test]
    async fn a_body_at_one_byte_a_second_is_answered_408() {
        let addr = server(SMALL).await;
        let body = br#"{"hello": "a slow world"}"#;
        let head = format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let (answer, took) = trickle(addr, head.as_bytes(), body).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains(r#""code":"REQUEST_TIMEOUT""#), "{answer}");
        assert!(
            answer.to_ascii_lowercase().contains("x-request-id"),
            "{answer}"
        );
        assert!(took < Duration::from_secs(4), "{took:?}");

        // A client that sends in time is answered as usual.
        let c = crate::http::client_builder().build().unwrap();
        let echoed: serde_json::Value = c
            .post(format!("http://{addr}/echo"))
            .json(&serde_json::json!({"fast": true}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(echoed["fast"], true);
    }

    #[tokio::test]
    async fn a_large_body_that_keeps_arriving_is_not_cut_off() {
        let addr = server(SMALL).await;
        // 192 KiB at 64 KiB/s: three times the 1 s window, at twice the minimum rate.
        let pad = "x".repeat(192 * 1024);
        let body = format!(r#"{{"pad":"{pad}"}}"#).into_bytes();
        let head = format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let started = Instant::now();
        let mut socket = TcpStream::connect(addr).await.unwrap();
        socket.write_all(head.as_bytes()).await.unwrap();
        for piece in body.chunks(16 * 1024) {
            socket.write_all(piece).await.unwrap();
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut answer));
        read.await.expect("answered").unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            started.elapsed() > SMALL.request_body,
            "the body took longer than the window"
        );
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "{}",
            &answer[..answer.len().min(300)]
        );
    }
}
