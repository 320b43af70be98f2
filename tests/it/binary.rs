//! The real `scaivault` binary: its logs never carry values or tokens, it refuses to start
//! without a master key, and a `kill -9` loses no webhook event (the outbox survives).

use crate::common::receiver::Receiver;
use crate::common::{fresh_pg_database, StoreKind};
use base64::Engine;
use serde_json::{json, Value};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

struct Server {
    child: Child,
    base: String,
    token: String,
    /// Everything the process printed so far (drained continuously so it never blocks).
    output: Arc<Mutex<Vec<u8>>>,
    drains: Vec<tokio::task::JoinHandle<()>>,
}

/// Copies a child's pipe into `sink` until it closes.
fn drain(
    mut pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    sink: Arc<Mutex<Vec<u8>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut buf).await {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn database(kind: StoreKind, dir: &std::path::Path) -> String {
    match kind {
        StoreKind::Postgres => fresh_pg_database().await,
        StoreKind::Sqlite => format!("sqlite://{}", dir.join("sv.db").display()),
    }
}

/// Starts `scaivault serve` and waits (bounded polling) until it is ready.
async fn start(db: &str, key: &str, token: &str, port: u16, extra: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scaivault"));
    cmd.arg("serve")
        .env("SCAIVAULT_LISTEN", format!("127.0.0.1:{port}"))
        .env("SCAIVAULT_DATABASE_URL", db)
        .env("SCAIVAULT_MASTER_KEY", key)
        .env("SCAIVAULT_ROOT_TOKEN", token)
        .env("SCAIVAULT_LOG_FORMAT", "json")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn scaivault");
    let output = Arc::new(Mutex::new(Vec::new()));
    let mut drains = Vec::new();
    if let Some(out) = child.stdout.take() {
        drains.push(drain(out, output.clone()));
    }
    if let Some(err) = child.stderr.take() {
        drains.push(drain(err, output.clone()));
    }
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = reqwest::Client::new();
    loop {
        if let Ok(r) = client.get(format!("{base}/v1/health/ready")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(Instant::now() < deadline, "scaivault did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Server {
        child,
        base,
        token: token.to_string(),
        output,
        drains,
    }
}

impl Server {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut rb = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Stops the process and returns everything it printed.
    async fn stop_and_collect(mut self) -> String {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        for d in self.drains.drain(..) {
            let _ = d.await;
        }
        let bytes = self.output.lock().unwrap().clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

fn master_key() -> String {
    base64::engine::general_purpose::STANDARD.encode(scaivault::domain::ids::random_bytes(32))
}

async fn logs_hold_no_values_or_tokens(kind: StoreKind) {
    let dir = tempfile::tempdir().unwrap();
    let db = database(kind, dir.path()).await;
    let root = format!("skt_root_{}", uuid::Uuid::new_v4().simple());
    let srv = start(&db, &master_key(), &root, free_port(), &[]).await;
    let canary = format!("LOG-CANARY-{}", uuid::Uuid::new_v4().simple());
    use reqwest::Method as M;
    let (s, tok) = srv
        .call(
            M::POST,
            "/v1/auth/tokens",
            Some(json!({"name": "svc", "scopes": ["secrets:read"]})),
        )
        .await;
    assert_eq!(s, 201);
    let svc_token = tok["token"].as_str().unwrap().to_string();
    assert_eq!(
        srv.call(
            M::PUT,
            "/v1/secrets/log/a",
            Some(json!({"data": {"pw": canary}}))
        )
        .await
        .0,
        201
    );
    assert_eq!(
        srv.call(
            M::PUT,
            "/v1/secrets/log/a",
            Some(json!({"data": {"pw": format!("{canary}2")}}))
        )
        .await
        .0,
        200
    );
    assert_eq!(srv.call(M::GET, "/v1/secrets/log/a", None).await.0, 200);
    assert_eq!(
        srv.call(M::GET, "/v1/secrets/log/a?version=1", None)
            .await
            .0,
        200
    );
    assert_eq!(
        srv.call(M::GET, "/v1/secrets?prefix=log/", None).await.0,
        200
    );
    assert_eq!(
        srv.call(M::PUT, "/v1/secrets/log/b", Some(json!({"data": canary})))
            .await
            .0,
        422
    );
    assert_eq!(srv.call(M::DELETE, "/v1/secrets/log/a", None).await.0, 200);
    assert_eq!(
        srv.call(M::POST, "/v1/secrets/log/a/restore", None).await.0,
        200
    );
    let r = reqwest::Client::new()
        .get(format!("{}/v1/secrets/log/a", srv.base))
        .bearer_auth(format!("{svc_token}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = reqwest::Client::new()
        .get(format!("{}/v1/secrets/log/a", srv.base))
        .bearer_auth(&svc_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let logs = srv.stop_and_collect().await;
    assert!(
        logs.contains("\"path\":\"/v1/secrets/log/a\""),
        "the request log lines are captured"
    );
    assert!(!logs.contains(&canary), "a secret value reached the logs");
    assert!(!logs.contains(&root), "the root token reached the logs");
    assert!(
        !logs.contains(&svc_token[4..]),
        "an API token reached the logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_hold_no_values_or_tokens_postgres() {
    logs_hold_no_values_or_tokens(StoreKind::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_hold_no_values_or_tokens_sqlite() {
    logs_hold_no_values_or_tokens(StoreKind::Sqlite).await
}

#[tokio::test]
async fn refuses_to_start_without_master_key_or_with_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scaivault"))
        .arg("serve")
        .current_dir(dir.path())
        .env_remove("SCAIVAULT_MASTER_KEY")
        .env(
            "SCAIVAULT_DATABASE_URL",
            format!("sqlite://{}/x.db", dir.path().display()),
        )
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SCAIVAULT_MASTER_KEY"));
    let out = Command::new(env!("CARGO_BIN_EXE_scaivault"))
        .arg("serve")
        .current_dir(dir.path())
        .env("SCAIVAULT_SCHEDULER_TICK", "abc")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("SCAIVAULT_SCHEDULER_TICK"), "{err}");
}

/// Writes while the receiver is down, `kill -9`, restart, receiver up: every event arrives.
async fn kill_9_loses_no_event(kind: StoreKind) {
    let dir = tempfile::tempdir().unwrap();
    let db = database(kind, dir.path()).await;
    let (key, root, port) = (
        master_key(),
        format!("skt_root_{}", uuid::Uuid::new_v4().simple()),
        free_port(),
    );
    let env = [
        ("SCAIVAULT_WEBHOOK_ALLOW_HTTP", "true"),
        ("SCAIVAULT_WEBHOOK_TIMEOUT", "2s"),
        (
            "SCAIVAULT_WEBHOOK_RETRY_SCHEDULE",
            "1s,1s,1s,1s,1s,1s,1s,1s,1s,1s",
        ),
    ];
    // A receiver address that refuses connections until it is started.
    let dead_port = free_port();
    let srv = start(&db, &key, &root, port, &env).await;
    use reqwest::Method as M;
    let (s, _) = srv
        .call(M::POST, "/v1/webhooks", Some(json!({"name": "rx", "url": format!("http://127.0.0.1:{dead_port}/hook"), "secret": "whsec_crash_test_secret", "events": ["*"]})))
        .await;
    assert_eq!(s, 201);
    for i in 0..20 {
        assert_eq!(
            srv.call(
                M::PUT,
                &format!("/v1/secrets/crash/{i}"),
                Some(json!({"data": {"i": i}}))
            )
            .await
            .0,
            201
        );
    }
    let mut child = srv.child;
    child.start_kill().unwrap(); // SIGKILL
    let _ = child.wait().await;

    let rx = Receiver::start_on(dead_port, "whsec_crash_test_secret").await;
    let srv = start(&db, &key, &root, port, &env).await;
    let got = rx
        .wait_for("all 20 events after restart", |r| {
            let mut ids: Vec<&str> = r
                .iter()
                .map(|x| x.body["path"].as_str().unwrap_or(""))
                .collect();
            ids.sort();
            ids.dedup();
            ids.len() >= 20
        })
        .await;
    assert!(got.iter().all(|r| r.signature_ok));
    drop(srv);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_event_postgres() {
    kill_9_loses_no_event(StoreKind::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_event_sqlite() {
    kill_9_loses_no_event(StoreKind::Sqlite).await
}
