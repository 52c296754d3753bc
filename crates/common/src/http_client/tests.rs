#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Response, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

fn settings(connect_ms: u64, idle_ms: Option<u64>) -> ClientSettings {
    ClientSettings {
        idle_timeout: idle_ms.map(Duration::from_millis),
        // Whatever proxies the machine running the tests names: these servers are on loopback.
        proxies: Proxies::none(),
        ..ClientSettings::new(Duration::from_millis(connect_ms))
    }
}

fn get(url: &str) -> Request<Full<Bytes>> {
    request(
        Method::GET,
        parse_uri(url).unwrap(),
        hyper::HeaderMap::new(),
        Bytes::new(),
    )
}

/// A TCP server that reads the request, writes `head`, then a chunk of `tick` every
/// `every` (never, when `every` is `None`: it stalls with the connection open).
async fn raw_server(head: &'static [u8], tick: &'static [u8], every: Option<Duration>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                if socket.write_all(head).await.is_err() {
                    return;
                }
                match every {
                    Some(every) => loop {
                        tokio::time::sleep(every).await;
                        if socket.write_all(tick).await.is_err() {
                            return;
                        }
                    },
                    None => {
                        // Hold the connection open without a byte more.
                        let _ = socket.read(&mut buf).await;
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                }
            });
        }
    });
    format!("http://{addr}/")
}

const CHUNKED_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n";

#[tokio::test]
async fn the_connect_timeout_covers_a_tls_handshake_that_never_answers() {
    // Accepts TCP and then says nothing: the TLS handshake waits for a ServerHello.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let client = HttpClient::new(settings(300, Some(10_000))).unwrap();
    let started = Instant::now();
    let e = client
        .send(get(&format!("https://{addr}/")), None)
        .await
        .expect_err("no handshake");
    assert!(e.is_timeout() && e.is_connect(), "{e}");
    assert!(started.elapsed() < Duration::from_secs(3), "{e}");
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error_not_a_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = HttpClient::new(settings(1_000, Some(1_000))).unwrap();
    let e = client
        .send(get(&format!("http://{addr}/")), None)
        .await
        .expect_err("refused");
    assert!(e.is_connect() && !e.is_timeout(), "{e}");
}

#[tokio::test]
async fn the_idle_timeout_bounds_the_wait_for_the_head() {
    let url = raw_server(b"", b"", None).await;
    let client = HttpClient::new(settings(1_000, Some(300))).unwrap();
    let started = Instant::now();
    let e = client.send(get(&url), None).await.expect_err("no head");
    assert!(e.is_timeout() && !e.is_connect(), "{e}");
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_stalled_stream_ends_with_a_timeout_after_the_idle_time() {
    let url = raw_server(CHUNKED_HEAD, b"", None).await;
    let client = HttpClient::new(settings(1_000, Some(300))).unwrap();
    let mut body = client.send(get(&url), None).await.unwrap().into_body();
    assert_eq!(body.chunk().await.unwrap().as_deref(), Some(&b"first"[..]));
    let started = Instant::now();
    let e = body.chunk().await.expect_err("stalled");
    assert!(e.is_timeout() && !e.is_body(), "{e}");
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_body_that_keeps_trickling_is_cut_by_the_total_timeout() {
    // A byte every 50 ms never trips the idle timeout; the total one ends it.
    let url = raw_server(CHUNKED_HEAD, b"1\r\nx\r\n", Some(Duration::from_millis(50))).await;
    let client = HttpClient::new(settings(1_000, Some(1_000))).unwrap();
    let started = Instant::now();
    let response = client
        .send(get(&url), Some(Duration::from_millis(400)))
        .await
        .unwrap();
    let e = response.into_body().bytes().await.expect_err("endless");
    assert!(e.is_timeout(), "{e}");
    assert!(started.elapsed() >= Duration::from_millis(350));
    assert!(started.elapsed() < Duration::from_secs(3));
    // Without a total timeout the same body goes on past it.
    let mut body = client.send(get(&url), None).await.unwrap().into_body();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(600) {
        assert!(body.chunk().await.unwrap().is_some());
    }
}

fn test_ca() -> CertificateDer<'static> {
    CertificateDer::from(include_bytes!("testdata/ca.der").to_vec())
}

/// An HTTPS server with the test CA's `localhost` certificate, answering "secure" over
/// HTTP/1.1 or HTTP/2 (offered by ALPN).
async fn tls_server() -> SocketAddr {
    let cert = CertificateDer::from(include_bytes!("testdata/leaf.der").to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        include_bytes!("testdata/leaf.key.der").to_vec(),
    ));
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(|_| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"secure"))))
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn tls_with_an_extra_root_round_trips_and_picks_http2_by_alpn() {
    let addr = tls_server().await;
    let client = HttpClient::new(ClientSettings {
        extra_roots: vec![test_ca()],
        ..settings(2_000, Some(5_000))
    })
    .unwrap();
    for host in ["localhost", "127.0.0.1"] {
        let url = format!("https://{host}:{}/", addr.port());
        let response = client.send(get(&url), None).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), Version::HTTP_2, "{host}");
        assert_eq!(&response.into_body().bytes().await.unwrap()[..], b"secure");
    }
    // Without the test CA the certificate is refused: a connect error, not a timeout.
    let plain = HttpClient::new(settings(2_000, Some(5_000))).unwrap();
    let e = plain
        .send(get(&format!("https://localhost:{}/", addr.port())), None)
        .await
        .expect_err("untrusted");
    assert!(e.is_connect() && !e.is_timeout(), "{e}");
}

/// A streamed chat completion from `fake-openai`.
fn stream_request(base: &str) -> Request<Full<Bytes>> {
    let mut headers = hyper::HeaderMap::new();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    request(
        Method::POST,
        parse_uri(&format!("{base}/chat/completions")).unwrap(),
        headers,
        Bytes::from_static(
            br#"{"model":"bench","stream":true,"max_tokens":8,"messages":[{"role":"user","content":"hi"}]}"#,
        ),
    )
}

#[tokio::test]
async fn http1_and_h2c_against_fake_openai_and_a_burst_shares_one_h2_connection() {
    let fake = fake_openai::spawn(fake_openai::Behaviour::default())
        .await
        .unwrap();
    let base = fake.base_url();
    for (h2c, version) in [(false, Version::HTTP_11), (true, Version::HTTP_2)] {
        let client = HttpClient::new(ClientSettings {
            http2_prior_knowledge: h2c,
            ..settings(2_000, Some(5_000))
        })
        .unwrap();
        let response = client.send(stream_request(&base), None).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), version);
        let body = response.into_body().bytes().await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("chat.completion.chunk"), "{text}");
        assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    }

    // 20 simultaneous streams: with h2c, one connection.
    let before = fake.counters.connections();
    let client = HttpClient::new(ClientSettings {
        http2_prior_knowledge: true,
        ..settings(2_000, Some(5_000))
    })
    .unwrap();
    let burst = (0..20).map(|_| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let response = client.send(stream_request(&base), None).await.unwrap();
            response.into_body().bytes().await.unwrap().len()
        }
    });
    let lengths = futures::future::join_all(burst).await;
    assert!(lengths.iter().all(|&n| n > 0));
    assert_eq!(fake.counters.connections() - before, 1);
}

/// A `CONNECT` proxy on loopback (user `user`, password `secret`): answers 200 and relays the
/// bytes both ways. Records each request head it was sent.
async fn connect_proxy() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = heads.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if inbound.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let target = head
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                log.lock().unwrap().push(head);
                let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                if inbound
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .is_ok()
                {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (format!("http://user:secret@{addr}"), heads)
}

#[tokio::test]
async fn the_environments_proxy_carries_https_and_http_through_a_connect_tunnel() {
    let (proxy, heads) = connect_proxy().await;
    let secure = tls_server().await;
    let plain = raw_server(
        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nplain",
        b"",
        None,
    )
    .await;
    let matcher = hyper_util::client::proxy::matcher::Matcher::builder()
        .https(proxy.as_str())
        .http(proxy.as_str())
        .no("direct.invalid")
        .build();
    let client = HttpClient::new(ClientSettings {
        extra_roots: vec![test_ca()],
        proxies: Proxies::from_matcher(matcher),
        ..settings(2_000, Some(5_000))
    })
    .unwrap();

    // https: TLS inside the tunnel (the certificate is still checked against the host).
    let url = format!("https://localhost:{}/", secure.port());
    let response = client.send(get(&url), None).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(&response.into_body().bytes().await.unwrap()[..], b"secure");
    // http: tunnelled too.
    let response = client.send(get(&plain), None).await.unwrap();
    assert_eq!(&response.into_body().bytes().await.unwrap()[..], b"plain");

    let heads = heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 2, "{heads:?}");
    let plain_authority = plain.trim_start_matches("http://").trim_end_matches('/');
    assert!(
        heads[0].starts_with(&format!("CONNECT localhost:{} HTTP/1.1\r\n", secure.port())),
        "{heads:?}"
    );
    assert!(
        heads[1].starts_with(&format!("CONNECT {plain_authority} HTTP/1.1\r\n")),
        "{heads:?}"
    );
    // The proxy URL's user and password, as Basic credentials ("user:secret").
    for head in &heads {
        assert!(
            head.contains("Proxy-Authorization: Basic dXNlcjpzZWNyZXQ=\r\n"),
            "{head}"
        );
    }
}

#[tokio::test]
async fn no_proxy_hosts_are_reached_directly_and_a_dead_proxy_is_a_connect_error() {
    let plain = raw_server(
        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nplain",
        b"",
        None,
    )
    .await;
    let dead = closed_port().await;
    let matcher = hyper_util::client::proxy::matcher::Matcher::builder()
        .http(format!("http://{dead}"))
        .no("localhost")
        .build();
    let client = HttpClient::new(ClientSettings {
        proxies: Proxies::from_matcher(matcher),
        ..settings(2_000, Some(5_000))
    })
    .unwrap();
    // NO_PROXY: straight to the server.
    let direct = plain.replace("127.0.0.1", "localhost");
    let response = client.send(get(&direct), None).await.unwrap();
    assert_eq!(&response.into_body().bytes().await.unwrap()[..], b"plain");
    // Anything else goes to the proxy, which is not there.
    let e = client
        .send(get(&plain), None)
        .await
        .expect_err("proxy down");
    assert!(e.is_connect() && !e.is_timeout(), "{e}");
}

/// An address where nothing listens.
async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// The request head an HTTP/1.1 server on loopback reads from `client` for
/// `POST http://127.0.0.1:<port>/v1/chat/completions` with the headers `headers` makes for it.
async fn head_sent(client: &HttpClient, headers: impl FnOnce(&Uri) -> hyper::HeaderMap) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "the connection closed before the head ended");
            head.extend_from_slice(&buf[..n]);
        }
        socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        String::from_utf8(head).unwrap()
    });
    let uri = parse_uri(&format!("http://{addr}/v1/chat/completions")).unwrap();
    let headers = headers(&uri);
    let response = client
        .send(request(Method::POST, uri, headers, "{}"), None)
        .await
        .unwrap();
    response.into_body().bytes().await.unwrap();
    server
        .await
        .unwrap()
        .replace(&addr.port().to_string(), "PORT")
}

#[tokio::test]
async fn a_preset_host_header_sends_the_same_request_as_the_clients_own() {
    let client = HttpClient::new(settings(1000, None)).unwrap();
    let mut headers = hyper::HeaderMap::new();
    headers.insert("authorization", "Bearer k".parse().unwrap());
    headers.insert("accept", "*/*".parse().unwrap());
    let plain = head_sent(&client, |_| headers.clone()).await;
    let preset = head_sent(&client, |uri| {
        let mut headers = headers.clone();
        headers.insert(hyper::header::HOST, http1_host_header(uri).unwrap());
        headers
    })
    .await;
    assert!(plain.contains("host: 127.0.0.1:PORT\r\n"), "{plain}");
    assert_eq!(plain, preset);

    for (url, host) in [
        ("http://example.com/v1", "example.com"),
        ("http://example.com:80/v1", "example.com"),
        ("http://example.com:8080/v1", "example.com:8080"),
        ("https://example.com:443/v1", "example.com"),
        ("https://example.com:8443/v1", "example.com:8443"),
        ("http://[::1]:8000/v1", "[::1]:8000"),
    ] {
        let value = http1_host_header(&parse_uri(url).unwrap()).unwrap();
        assert_eq!(value, host, "{url}");
    }
}
