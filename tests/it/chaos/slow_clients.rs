//! Fault 6: slow and broken clients. While 1,000 idle keep-alive connections sit open and 50
//! clients have asked for a 400 KiB secret and stopped reading it (a 4 KiB receive buffer:
//! most of the answer sits unsent on the server's side), the mixed load is still served:
//! every request answered 2xx, none slow. After the header read timeout the server has closed
//! the idle connections by itself. (Half-sent requests: `slow_headers.rs`.)

use super::check::check;
use super::load::wait_until;
use super::load::{Load, LoadSpec};
use super::report::{assert_clean, bound, full, line};
use super::target::{server_env, Target, HOOK_SECRET};
use crate::binary::{free_port, master_key, root_token, Server};
use crate::common::receiver::Receiver;
use crate::common::StoreKind;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const IDLE: usize = 1000;
const STALLED: usize = 50;
/// A served request slower than this under the fault counts as being held up by it (a request
/// queued behind a stuck client would wait for the client's 30 s timeout). The machine is
/// shared and small, so the run also measures the same load without the fault and prints both.
const SLOW: Duration = Duration::from_secs(5);

/// A connection that made one request, read its answer and now sits idle.
async fn idle_connection(addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET /v1/health HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("send");
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).await.expect("read");
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    s
}

/// A connection that asks for the big secret and never reads the answer.
async fn stalled_connection(addr: &str, token: &str, path: &str) -> TcpStream {
    let sock = TcpSocket::new_v4().expect("socket");
    sock.set_recv_buffer_size(4096)
        .expect("small receive buffer");
    let mut s = sock
        .connect(addr.parse().expect("addr"))
        .await
        .expect("connect");
    let req = format!(
        "GET /v1/secrets/{path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.expect("send");
    s
}

/// True once the server has closed the connection (EOF or reset), reading what it sent.
async fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    matches!(
        tokio::time::timeout(Duration::from_millis(100), s.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_broken_clients() {
    let hold = if full() {
        Duration::from_secs(15)
    } else {
        Duration::from_secs(3)
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("db").join("sv.db").display());
    let (key, root, port) = (master_key(), root_token(), free_port());
    let mut env = server_env(&db, &key, &root);
    env.push(("SCAIVAULT_HEADER_READ_TIMEOUT".into(), "5s".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let srv = Server::start(dir.path(), &[], port, &env, &root).await;
    let addr = srv.base.trim_start_matches("http://").to_string();
    let rx = Receiver::start(HOOK_SECRET).await;
    let t = Target::new(&srv.base, &root, "slow");
    t.prepare(&rx).await;
    let big = "b".repeat(400 * 1024);
    t.call_until(
        reqwest::Method::PUT,
        "/v1/secrets/chaos/slow/big",
        Some(json!({"data": {"big": big}})),
        201,
    )
    .await;

    // The same load without the fault, for comparison.
    let started = Instant::now();
    let base_load = Load::start(
        &srv.base,
        &root,
        &LoadSpec {
            tag: "slowbase".to_string(),
            ..LoadSpec::mixed("slow")
        },
    );
    wait_until("load without the slow clients", || {
        let (w, r) = base_load.ledger.ok_count();
        w >= 30 && r >= 30 && started.elapsed() >= hold
    })
    .await;
    let base = base_load.stop().await;
    let base_rate =
        base.ok.load(std::sync::atomic::Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    let base_slowest = *base.slowest_ok.lock().unwrap();

    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        idle.push(idle_connection(&addr).await);
    }
    let mut stalled = Vec::with_capacity(STALLED);
    for _ in 0..STALLED {
        stalled.push(stalled_connection(&addr, &root, "chaos/slow/big").await);
    }
    let opened = Instant::now();
    let load = Load::start(&srv.base, &root, &LoadSpec::mixed("slow"));
    wait_until("load beside the slow clients", || {
        let (w, r) = load.ledger.ok_count();
        w >= 30 && r >= 30 && opened.elapsed() >= hold
    })
    .await;
    let ledger = load.stop().await;
    let rate = ledger.ok.load(std::sync::atomic::Ordering::Relaxed) as f64
        / opened.elapsed().as_secs_f64();
    let slowest_ok = *ledger.slowest_ok.lock().unwrap();

    // The idle ones are closed by the server after the header read timeout (5 s here).
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut open = idle;
    while !open.is_empty() {
        let mut still = Vec::new();
        for mut s in open {
            if !closed_by_server(&mut s).await {
                still.push(s);
            }
        }
        open = still;
        if open.is_empty() || Instant::now() > deadline {
            break;
        }
    }
    let left_open = open.len();
    drop(stalled);

    let v = check(&t, &db, StoreKind::Sqlite, &ledger, &rx).await;
    let text = line("slow-clients", "sqlite", 1, &ledger, Duration::ZERO, &v);
    println!(
        "chaos: slow-clients: idle={IDLE} stalled={STALLED} held_ms={} 2xx_per_s={rate:.0} (without the fault {base_rate:.0}) \
         slowest_2xx_ms={} (without the fault {}) idle_left_open={left_open}",
        opened.elapsed().as_millis(),
        slowest_ok.as_millis(),
        base_slowest.as_millis()
    );
    assert_clean(&text, &ledger, &v);
    assert_eq!(
        ledger
            .unavailable
            .load(std::sync::atomic::Ordering::Relaxed),
        0,
        "{text}"
    );
    assert_eq!(
        ledger
            .conn_errors
            .load(std::sync::atomic::Ordering::Relaxed),
        0,
        "{text}"
    );
    assert!(
        slowest_ok < bound(SLOW),
        "a request was held up: {slowest_ok:?}: {text}"
    );
    assert_eq!(left_open, 0, "idle connections the server never closed");
    let (ok, out) = srv.stop().await;
    assert!(ok, "scaivault did not stop cleanly:\n{out}");
}
