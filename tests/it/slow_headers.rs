//! The header read timeout (SPEC §13): a connection that does not finish its request headers
//! in time — half a request line, nothing at all, or nothing after a kept-alive response — is
//! closed by the server, while complete requests are served as usual.

use crate::common::{StoreKind, TestApp};
use scaivault::domain::duration::ApiDuration;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The timeout these tests configure.
const TIMEOUT: Duration = Duration::from_secs(1);

/// Longest a test waits for the server to close a connection.
const WAIT_LIMIT: Duration = Duration::from_secs(8);

async fn app() -> TestApp {
    TestApp::spawn_with(StoreKind::Sqlite, |c| {
        c.header_read_timeout = ApiDuration::parse("1s").expect("duration");
    })
    .await
}

async fn connect(app: &TestApp) -> TcpStream {
    let addr = app.base.trim_start_matches("http://");
    TcpStream::connect(addr).await.expect("connect")
}

/// Reads until the server closes the connection (EOF or reset), bounded by `WAIT_LIMIT`;
/// returns what arrived and when the connection was closed.
async fn read_until_closed(stream: &mut TcpStream) -> (Vec<u8>, Instant) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (got, Instant::now()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "the server kept the connection open for {WAIT_LIMIT:?}; got {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
}

fn assert_closed_by_timeout(opened: Instant, closed: Instant) {
    let held = closed - opened;
    assert!(
        held >= TIMEOUT - Duration::from_millis(100),
        "closed after {held:?}: sooner than the timeout, so not by it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_request_line_is_closed_after_the_header_timeout() {
    let app = app().await;
    let mut stream = connect(&app).await;
    let opened = Instant::now();
    stream.write_all(b"GET /v1/heal").await.expect("write");
    let (_, closed) = read_until_closed(&mut stream).await;
    assert_closed_by_timeout(opened, closed);

    // Complete requests are still served.
    let r = app
        .call(reqwest::Method::GET, "/v1/health", None, None)
        .await;
    assert_eq!(r.status, reqwest::StatusCode::OK, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connection_is_closed_after_the_header_timeout() {
    let app = app().await;
    let mut stream = connect(&app).await;
    let opened = Instant::now();
    let (got, closed) = read_until_closed(&mut stream).await;
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    assert_closed_by_timeout(opened, closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_kept_alive_connection_is_closed_after_the_header_timeout() {
    let app = app().await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 4096];
    let n = tokio::time::timeout(WAIT_LIMIT, stream.read(&mut buf))
        .await
        .expect("a response in time")
        .expect("read");
    let answered = Instant::now();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    // Half of a second request, then nothing.
    stream.write_all(b"GET /v1/he").await.expect("write");
    let (_, closed) = read_until_closed(&mut stream).await;
    assert_closed_by_timeout(answered, closed);
}
