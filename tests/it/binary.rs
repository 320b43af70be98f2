//! The real `scaivault` binary, as an operator runs it: its logs never carry secret values,
//! tokens or the master key; it refuses to start without a master key, with a bad setting, or
//! with a master key the database was not created with; `serve --dev` keeps a 0600 key file and
//! prints a fresh root token each start (revoking the last); the first start without a root
//! token prints an admin token once; `token create|list|revoke` work on the store directly;
//! a revocation on one replica holds on the next request to another; and a `kill -9` loses no
//! webhook event (the outbox survives).
//!
//! Every child is started with a cleared environment in a temporary working directory, its
//! stdout and stderr drained continuously (so a chatty `RUST_LOG=debug` never blocks it), and
//! killed on drop. Waits poll with deadlines; nothing sleeps a fixed time.

use crate::common::receiver::Receiver;
use crate::common::{fresh_pg_database, StoreKind, TestDb};
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_scaivault");
pub(crate) const START_DEADLINE: Duration = Duration::from_secs(60);
pub(crate) const EXIT_DEADLINE: Duration = Duration::from_secs(30);

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn master_key() -> String {
    base64::engine::general_purpose::STANDARD.encode(scaivault::domain::ids::random_bytes(32))
}

pub(crate) fn root_token() -> String {
    format!("skt_root_{}", uuid::Uuid::new_v4().simple())
}

pub(crate) async fn database(kind: StoreKind, dir: &Path) -> TestDb {
    match kind {
        StoreKind::Postgres => fresh_pg_database().await,
        StoreKind::Sqlite => TestDb::file(format!(
            "sqlite://{}",
            dir.join("db").join("sv.db").display()
        )),
    }
}

/// A command with nothing inherited: empty environment, given working directory.
pub(crate) fn command(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(cwd)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs a command that is expected to exit by itself; returns (success, stdout, stderr).
pub(crate) async fn run(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = tokio::time::timeout(EXIT_DEADLINE, command(cwd, args, env).output())
        .await
        .unwrap_or_else(|_| panic!("scaivault {args:?} did not exit within {EXIT_DEADLINE:?}"))
        .expect("run scaivault");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub(crate) type Buf = Arc<Mutex<Vec<u8>>>;

pub(crate) fn drain(mut r: impl tokio::io::AsyncRead + Unpin + Send + 'static) -> Buf {
    let buf: Buf = Arc::default();
    let sink = buf.clone();
    tokio::spawn(async move {
        let mut chunk = [0u8; 8192];
        while let Ok(n) = r.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    buf
}

/// A running `scaivault serve`.
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
    token: String,
    stdout: Buf,
    stderr: Buf,
}

impl Server {
    /// Starts `scaivault serve` (plus `extra_args`) on `port` and polls `/v1/health` until it
    /// answers; fails early with the output if the process exits first.
    pub(crate) async fn start(
        cwd: &Path,
        extra_args: &[&str],
        port: u16,
        env: &[(&str, &str)],
        token: &str,
    ) -> Server {
        let listen = format!("127.0.0.1:{port}");
        let mut all_env = vec![
            ("SCAIVAULT_LISTEN", listen.as_str()),
            ("SCAIVAULT_LOG_FORMAT", "json"),
            ("RUST_LOG", "debug"),
        ];
        all_env.extend_from_slice(env);
        let mut args = vec!["serve"];
        args.extend_from_slice(extra_args);
        let mut child = command(cwd, &args, &all_env)
            .spawn()
            .expect("spawn scaivault");
        let stdout = drain(child.stdout.take().unwrap());
        let stderr = drain(child.stderr.take().unwrap());
        let mut srv = Server {
            child,
            base: format!("http://{listen}"),
            token: token.to_string(),
            stdout,
            stderr,
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Ok(r) = client.get(format!("{}/v1/health", srv.base)).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            if let Ok(Some(status)) = srv.child.try_wait() {
                panic!(
                    "scaivault exited during start ({status}):\n{}",
                    srv.output()
                );
            }
            assert!(
                Instant::now() < deadline,
                "scaivault did not answer /v1/health within {START_DEADLINE:?}:\n{}",
                srv.output()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        srv
    }

    /// The server's process id (to send it signals).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    pub(crate) fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    pub(crate) fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Everything printed so far (stdout, then stderr).
    pub(crate) fn output(&self) -> String {
        format!("{}{}", self.stdout_text(), self.stderr_text())
    }

    async fn call_with(
        &self,
        token: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut rb = reqwest::Client::new().request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        let bytes = r.bytes().await.unwrap_or_default();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_with(Some(&self.token.clone()), method, path, body)
            .await
    }

    /// True while the process has not exited.
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// `kill -9` (SIGKILL), then waits for the process to be gone; returns its output.
    pub(crate) async fn kill9(mut self) -> String {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        self.output()
    }

    /// SIGTERM, then waits (bounded) for a clean exit; returns (exit success, all output).
    pub(crate) async fn stop(mut self) -> (bool, String) {
        let pid = self.child.id().expect("running");
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let ok = match tokio::time::timeout(EXIT_DEADLINE, self.child.wait()).await {
            Ok(Ok(status)) => status.success(),
            _ => {
                let _ = self.child.start_kill();
                let _ = self.child.wait().await;
                false
            }
        };
        // The pipes close with the process; give the drains a bounded moment to finish.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Arc::strong_count(&self.stdout) + Arc::strong_count(&self.stderr) > 2
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (ok, self.output())
    }
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// The first `skt_…` token printed in `text`.
fn printed_token(text: &str) -> Option<String> {
    text.split_whitespace()
        .find(|w| w.starts_with("skt_"))
        .map(str::to_string)
}

/// Polls `stdout` until a token is printed.
async fn wait_for_printed_token(srv: &Server) -> String {
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        if let Some(t) = printed_token(&srv.stdout_text()) {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "no token printed:\n{}",
            srv.output()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn logs_hold_no_values_or_tokens(kind: StoreKind) {
    use reqwest::Method as M;
    let dir = tempfile::tempdir().unwrap();
    let db = database(kind, dir.path()).await;
    let (key, root) = (master_key(), root_token());
    let env = [
        ("SCAIVAULT_DATABASE_URL", db.as_str()),
        ("SCAIVAULT_MASTER_KEY", key.as_str()),
        ("SCAIVAULT_ROOT_TOKEN", root.as_str()),
        ("SCAIVAULT_WEBHOOK_ALLOW_HTTP", "true"),
        ("SCAIVAULT_WEBHOOK_ALLOW_CIDRS", "127.0.0.0/8"),
    ];
    let srv = Server::start(dir.path(), &[], free_port(), &env, &root).await;
    let canary = |n: u32| format!("LOG-CANARY-{n}-{}", uuid::Uuid::new_v4().simple());
    let (c1, c2, c3, c4, c5) = (canary(1), canary(2), canary(3), canary(4), canary(5));
    let whsec = format!("whsec_{}", canary(6));

    let (s, tok) = srv
        .call(
            M::POST,
            "/v1/auth/tokens",
            Some(json!({"name": "svc", "scopes": ["secrets:read", "secrets:list"]})),
        )
        .await;
    assert_eq!(s, 201, "{tok}");
    let svc = tok["token"].as_str().unwrap().to_string();
    let (s, tok) = srv
        .call(
            M::POST,
            "/v1/auth/tokens",
            Some(json!({"name": "doomed", "scopes": ["secrets:read"]})),
        )
        .await;
    assert_eq!(s, 201);
    let doomed = tok["token"].as_str().unwrap().to_string();
    let doomed_id = tok["id"].as_str().unwrap().to_string();

    let put = |data: Value| Some(json!({ "data": data }));
    assert_eq!(
        srv.call(M::PUT, "/v1/secrets/log/a", put(json!({"pw": c1})))
            .await
            .0,
        201
    );
    assert_eq!(
        srv.call(M::PUT, "/v1/secrets/log/a", put(json!({"pw": c2})))
            .await
            .0,
        200
    );
    assert_eq!(
        srv.call(
            M::PUT,
            "/v1/secrets/log/b",
            put(json!({"nested": {"k": [c3]}}))
        )
        .await
        .0,
        201
    );
    let (s, r) = srv.call(M::GET, "/v1/secrets/log/a", None).await;
    assert_eq!((s, r["data"]["pw"].as_str()), (200, Some(c2.as_str())));
    let (s, r) = srv
        .call_with(Some(&svc), M::GET, "/v1/secrets/log/a?version=1", None)
        .await;
    assert_eq!((s, r["data"]["pw"].as_str()), (200, Some(c1.as_str())));
    let (s, r) = srv
        .call_with(
            Some(&svc),
            M::POST,
            "/v1/secrets/batch",
            Some(json!({"paths": ["log/a", "log/b", "log/none"]})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(r["secrets"]["log/b"]["data"]["nested"]["k"][0], c3.as_str());
    assert_eq!(
        srv.call(M::GET, "/v1/secrets?prefix=log/", None).await.0,
        200
    );
    assert_eq!(
        srv.call(M::GET, "/v1/secrets/log/a/versions", None).await.0,
        200
    );
    assert_eq!(
        srv.call(M::GET, "/v1/secrets/log/a/metadata", None).await.0,
        200
    );
    assert_eq!(
        srv.call(
            M::PATCH,
            "/v1/secrets/log/a/metadata",
            Some(json!({"description": "patched"}))
        )
        .await
        .0,
        200
    );
    assert_eq!(srv.call(M::DELETE, "/v1/secrets/log/a", None).await.0, 200);
    assert_eq!(
        srv.call(M::PUT, "/v1/secrets/log/a", put(json!({"pw": c4})))
            .await
            .0,
        409
    );
    assert_eq!(
        srv.call(M::POST, "/v1/secrets/log/a/restore", None).await.0,
        200
    );
    // Refused input that carries a value: 422 (data not an object), 400 (broken JSON), 409 cas.
    let (s, r) = srv
        .call(M::PUT, "/v1/secrets/log/c", Some(json!({"data": c5})))
        .await;
    assert_eq!(s, 422, "{r}");
    assert!(
        !r.to_string().contains(&c5),
        "the 422 echoes the value: {r}"
    );
    let broken = reqwest::Client::new()
        .put(format!("{}/v1/secrets/log/c", srv.base))
        .bearer_auth(&root)
        .header("content-type", "application/json")
        .body(format!("{{\"data\": {{\"pw\": \"{c5}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status().as_u16(), 400);
    let (s, _) = srv
        .call(
            M::PUT,
            "/v1/secrets/log/b",
            Some(json!({"data": {"pw": c5}, "options": {"cas": 7}})),
        )
        .await;
    assert_eq!(s, 409);
    // A webhook with a signing secret (never delivered anywhere reachable).
    let (s, r) = srv
        .call(
            M::POST,
            "/v1/webhooks",
            Some(json!({"name": "logs", "url": "http://127.0.0.1:9/hook", "secret": whsec, "events": ["*"]})),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    // Failed auth: an unknown token, a malformed header, a revoked token.
    let near_miss = format!("{svc}x");
    assert_eq!(
        srv.call_with(Some(&near_miss), M::GET, "/v1/secrets/log/a", None)
            .await
            .0,
        401
    );
    let basic = reqwest::Client::new()
        .get(format!("{}/v1/auth/whoami", srv.base))
        .header("Authorization", format!("Basic {root}"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status().as_u16(), 401);
    assert_eq!(
        srv.call(M::DELETE, &format!("/v1/auth/tokens/{doomed_id}"), None)
            .await
            .0,
        204
    );
    let (s, r) = srv
        .call_with(Some(&doomed), M::GET, "/v1/auth/whoami", None)
        .await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (401, Some("token_revoked"))
    );
    // A permission error and a read by the service token.
    assert_eq!(
        srv.call_with(
            Some(&svc),
            M::PUT,
            "/v1/secrets/log/a",
            put(json!({"pw": c4}))
        )
        .await
        .0,
        403
    );
    assert_eq!(
        srv.call_with(Some(&svc), M::GET, "/v1/secrets/log/b", None)
            .await
            .0,
        200
    );
    assert_eq!(
        srv.call(M::DELETE, "/v1/secrets/log/b?permanent=true", None)
            .await
            .0,
        200
    );

    let (clean_exit, logs) = srv.stop().await;
    assert!(clean_exit, "SIGTERM did not end in exit 0:\n{logs}");
    assert!(
        logs.contains("scaivault stopped"),
        "no clean stop logged:\n{logs}"
    );
    // The logs are there (request lines with paths), as JSON.
    assert!(
        logs.contains("/v1/secrets/log/a"),
        "the request log lines are not captured:\n{logs}"
    );
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            serde_json::from_str::<Value>(line).is_ok(),
            "not a JSON log line: {line}"
        );
    }
    for (what, v) in [
        ("secret value 1", c1.as_str()),
        ("secret value 2", &c2),
        ("a nested value", &c3),
        ("a refused write's value", &c4),
        ("a 422/400/409 body's value", &c5),
        ("a webhook signing secret", &whsec),
        ("the root token", &root),
        ("an API token", &svc),
        ("an API token body", &svc["skt_".len()..]),
        ("a revoked token", &doomed),
        ("a refused token", &near_miss),
        ("the master key", &key),
        ("the root token's hash", &sha256_hex(&root)),
        ("an API token's hash", &sha256_hex(&svc)),
    ] {
        assert!(!logs.contains(v), "{what} reached the output:\n{logs}");
    }
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
async fn refuses_to_start_without_a_usable_master_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/x.db", dir.path().display());
    let port = free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let base = [
        ("SCAIVAULT_DATABASE_URL", db.as_str()),
        ("SCAIVAULT_LISTEN", listen.as_str()),
    ];
    let (ok, out, err) = run(dir.path(), &["serve"], &base).await;
    assert!(!ok, "started without a master key:\n{out}{err}");
    assert!(err.contains("SCAIVAULT_MASTER_KEY"), "{err}");
    assert!(
        !out.contains("skt_"),
        "printed a token although it did not start: {out}"
    );
    // A key that is not base64 of 32 bytes is refused the same way, without echoing it.
    let short = base64::engine::general_purpose::STANDARD.encode([7u8; 16]);
    for bad in ["not base64 at all!", short.as_str()] {
        let mut env = base.to_vec();
        env.push(("SCAIVAULT_MASTER_KEY", bad));
        let (ok, out, err) = run(dir.path(), &["serve"], &env).await;
        assert!(!ok, "started with master key {bad:?}:\n{out}{err}");
        assert!(err.contains("SCAIVAULT_MASTER_KEY"), "{err}");
        assert!(!err.contains(bad), "the bad key is echoed: {err}");
    }
    // A key file that does not exist.
    let mut env = base.to_vec();
    env.push(("SCAIVAULT_MASTER_KEY_FILE", "/nonexistent/master.key"));
    let (ok, _, err) = run(dir.path(), &["serve"], &env).await;
    assert!(!ok);
    assert!(err.contains("SCAIVAULT_MASTER_KEY_FILE"), "{err}");
    // Nothing answers on the port.
    assert!(reqwest::get(format!("http://{listen}/v1/health"))
        .await
        .is_err());
}

#[tokio::test]
async fn a_bad_setting_is_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/x.db", dir.path().display());
    let key = master_key();
    for (name, value) in [
        ("SCAIVAULT_SCHEDULER_TICK", "abc"),
        ("SCAIVAULT_SCHEDULER_TICK", "0s"),
        ("SCAIVAULT_LISTEN", "nowhere"),
        ("SCAIVAULT_WEBHOOK_RETRY_SCHEDULE", "30s,soon"),
        ("SCAIVAULT_DATABASE_URL", "mysql://localhost/x"),
    ] {
        let mut env = vec![
            ("SCAIVAULT_DATABASE_URL", db.as_str()),
            ("SCAIVAULT_MASTER_KEY", key.as_str()),
        ];
        env.retain(|(k, _)| *k != name);
        env.push((name, value));
        let (ok, out, err) = run(dir.path(), &["serve"], &env).await;
        assert!(!ok, "{name}={value} started:\n{out}{err}");
        assert_eq!(err.trim().lines().count(), 1, "{name}={value}: {err}");
        assert!(err.contains(name), "{name}={value}: {err}");
        assert!(out.trim().is_empty(), "{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_mode_keeps_its_key_and_rotates_its_root_token() {
    use reqwest::Method as M;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let srv = Server::start(dir.path(), &["--dev"], port, &[], "").await;
    let first = wait_for_printed_token(&srv).await;
    let rest = first.strip_prefix("skt_").unwrap();
    assert!(rest.len() >= 32, "{first}");
    let key_file = dir.path().join("data").join("master.key");
    let meta = std::fs::metadata(&key_file).expect("./data/master.key exists");
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "master.key mode");
    }
    let key_text = std::fs::read_to_string(&key_file).unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(key_text.trim())
        .expect("base64 key");
    assert_eq!(decoded.len(), 32);
    assert!(dir.path().join("data").join("scaivault.db").exists());
    let (s, me) = srv
        .call_with(Some(&first), M::GET, "/v1/auth/whoami", None)
        .await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["scopes"], json!(["admin"]));
    let (s, _) = srv
        .call_with(
            Some(&first),
            M::PUT,
            "/v1/secrets/dev/s",
            Some(json!({"data": {"v": "kept"}})),
        )
        .await;
    assert_eq!(s, 201);
    // Plain-HTTP webhooks are allowed in dev.
    let (s, r) = srv
        .call_with(
            Some(&first),
            M::POST,
            "/v1/webhooks",
            Some(json!({"name": "dev", "url": "http://127.0.0.1:9/h", "secret": "whsec_0123456789abcdef", "events": ["*"]})),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let (ok, out1) = srv.stop().await;
    assert!(ok, "{out1}");

    let srv = Server::start(dir.path(), &["--dev"], port, &[], "").await;
    let second = wait_for_printed_token(&srv).await;
    assert_ne!(first, second, "the same dev root token was printed twice");
    let (s, r) = srv
        .call_with(Some(&first), M::GET, "/v1/auth/whoami", None)
        .await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (401, Some("token_revoked")),
        "{r}"
    );
    let (s, r) = srv
        .call_with(Some(&second), M::GET, "/v1/secrets/dev/s", None)
        .await;
    assert_eq!((s, r["data"]["v"].as_str()), (200, Some("kept")), "{r}");
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap(),
        key_text,
        "the key changed"
    );
    let stderr = srv.stderr_text();
    let (ok, out2) = srv.stop().await;
    assert!(ok, "{out2}");
    // The tokens go to stdout only, never through the logger.
    for t in [&first, &second] {
        assert!(
            !stderr.contains(t.as_str()),
            "a dev token was logged: {stderr}"
        );
    }
    assert!(!out1.contains(&key_text.trim().to_string()) && !out2.contains(key_text.trim()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_prints_an_admin_token_once() {
    use reqwest::Method as M;
    let dir = tempfile::tempdir().unwrap();
    let db = database(StoreKind::Sqlite, dir.path()).await;
    let key = master_key();
    let env = [
        ("SCAIVAULT_DATABASE_URL", db.as_str()),
        ("SCAIVAULT_MASTER_KEY", key.as_str()),
    ];
    let port = free_port();
    let srv = Server::start(dir.path(), &[], port, &env, "").await;
    let token = wait_for_printed_token(&srv).await;
    let (s, me) = srv
        .call_with(Some(&token), M::GET, "/v1/auth/whoami", None)
        .await;
    assert_eq!((s, &me["scopes"]), (200, &json!(["admin"])), "{me}");
    assert!(
        !srv.stderr_text().contains(&token),
        "the first token was logged"
    );
    let (ok, _) = srv.stop().await;
    assert!(ok);
    let srv = Server::start(dir.path(), &[], port, &env, "").await;
    assert_eq!(
        srv.call_with(Some(&token), M::GET, "/v1/auth/whoami", None)
            .await
            .0,
        200
    );
    let (ok, out) = srv.stop().await;
    assert!(ok);
    assert!(!out.contains("skt_"), "a token was printed again: {out}");
}

async fn refuses_a_different_master_key(kind: StoreKind) {
    use reqwest::Method as M;
    let dir = tempfile::tempdir().unwrap();
    let db = database(kind, dir.path()).await;
    let (key, root) = (master_key(), root_token());
    let port = free_port();
    let e1 = [
        ("SCAIVAULT_DATABASE_URL", db.as_str()),
        ("SCAIVAULT_MASTER_KEY", key.as_str()),
        ("SCAIVAULT_ROOT_TOKEN", root.as_str()),
    ];
    let srv = Server::start(dir.path(), &[], port, &e1, &root).await;
    assert_eq!(
        srv.call(
            M::PUT,
            "/v1/secrets/k/s",
            Some(json!({"data": {"v": "under key 1"}}))
        )
        .await
        .0,
        201
    );
    let (ok, _) = srv.stop().await;
    assert!(ok);

    let other = master_key();
    let listen = format!("127.0.0.1:{port}");
    let e2 = [
        ("SCAIVAULT_DATABASE_URL", db.as_str()),
        ("SCAIVAULT_MASTER_KEY", other.as_str()),
        ("SCAIVAULT_ROOT_TOKEN", root.as_str()),
        ("SCAIVAULT_LISTEN", listen.as_str()),
    ];
    let (ok, out, err) = run(dir.path(), &["serve"], &e2).await;
    assert!(!ok, "started with a different master key:\n{out}{err}");
    assert!(err.contains("different master key"), "{err}");
    assert!(
        !err.contains(&other) && !err.contains(&key),
        "a key is echoed: {err}"
    );

    // The refused start changed nothing: the right key still opens everything.
    let srv = Server::start(dir.path(), &[], port, &e1, &root).await;
    let (s, r) = srv.call(M::GET, "/v1/secrets/k/s", None).await;
    assert_eq!(
        (s, r["data"]["v"].as_str()),
        (200, Some("under key 1")),
        "{r}"
    );
    let (ok, _) = srv.stop().await;
    assert!(ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_different_master_key_postgres() {
    refuses_a_different_master_key(StoreKind::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_different_master_key_sqlite() {
    refuses_a_different_master_key(StoreKind::Sqlite).await
}

async fn cli_token_create_list_revoke(kind: StoreKind) {
    use reqwest::Method as M;
    let dir = tempfile::tempdir().unwrap();
    let db = database(kind, dir.path()).await;
    let cli_env = [("SCAIVAULT_DATABASE_URL", db.as_str())];
    // Store-level commands never create a store: it must exist (a start or `migrate` made it).
    let (ok, out, err) = run(dir.path(), &["token", "list"], &cli_env).await;
    assert!(!ok && out.is_empty(), "{out}{err}");
    assert!(err.contains("using store"), "{err}");
    let (ok, _, err) = run(dir.path(), &["migrate"], &cli_env).await;
    assert!(ok, "{err}");

    let (ok, out, err) = run(
        dir.path(),
        &[
            "token",
            "create",
            "--name",
            "ci",
            "--scopes",
            "secrets:read",
        ],
        &cli_env,
    )
    .await;
    assert!(ok, "{out}{err}");
    let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "stdout is just the token: {out}");
    let token = lines[0].trim().to_string();
    assert!(token.starts_with("skt_") && token.len() >= 36, "{token}");
    assert!(!err.contains(&token), "the token went to stderr too: {err}");
    let id = err
        .split_whitespace()
        .find(|w| w.starts_with("tok_"))
        .unwrap_or_else(|| panic!("no id on stderr: {err}"))
        .to_string();

    let (ok, out, err) = run(dir.path(), &["token", "list"], &cli_env).await;
    assert!(ok, "{err}");
    let row = out
        .lines()
        .find(|l| l.contains(&id))
        .unwrap_or_else(|| panic!("{id} not listed: {out}"));
    assert!(
        row.contains(" ci ") && row.contains("active") && row.contains("secrets:read"),
        "{row}"
    );
    assert!(!out.contains(&token), "list shows the token: {out}");
    assert!(
        !out.contains(&sha256_hex(&token)),
        "list shows the hash: {out}"
    );

    // The token works against a server on the same store.
    let (key, root) = (master_key(), root_token());
    let env = [
        ("SCAIVAULT_DATABASE_URL", db.as_str()),
        ("SCAIVAULT_MASTER_KEY", key.as_str()),
        ("SCAIVAULT_ROOT_TOKEN", root.as_str()),
    ];
    let srv = Server::start(dir.path(), &[], free_port(), &env, &root).await;
    assert_eq!(
        srv.call(M::PUT, "/v1/secrets/ci/s", Some(json!({"data": {"v": 1}})))
            .await
            .0,
        201
    );
    let (s, me) = srv
        .call_with(Some(&token), M::GET, "/v1/auth/whoami", None)
        .await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["identity_id"], "sa:ci");
    assert_eq!(me["scopes"], json!(["secrets:read"]));
    assert_eq!(me["tenant_id"], "tnt_default");
    assert_eq!(
        srv.call_with(Some(&token), M::GET, "/v1/secrets/ci/s", None)
            .await
            .0,
        200
    );
    let (s, r) = srv
        .call_with(
            Some(&token),
            M::PUT,
            "/v1/secrets/ci/s",
            Some(json!({"data": {"v": 2}})),
        )
        .await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (403, Some("insufficient_scope"))
    );

    // Revoked by the CLI while the server runs: the very next request is refused.
    let (ok, out, err) = run(dir.path(), &["token", "revoke", &id], &cli_env).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains(&id), "{out}");
    let (s, r) = srv
        .call_with(Some(&token), M::GET, "/v1/secrets/ci/s", None)
        .await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (401, Some("token_revoked")),
        "{r}"
    );
    // Both CLI changes left an audit row in the token's tenant, by `system:cli`.
    let (s, logs) = srv
        .call(
            M::GET,
            "/v1/audit/logs?action=token_create,token_revoke&identity_id=system:cli",
            None,
        )
        .await;
    assert_eq!(s, 200, "{logs}");
    let mut actions: Vec<&str> = logs["logs"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter(|r| r["extra_data"]["token_id"] == id.as_str())
                .filter_map(|r| r["action"].as_str())
                .collect()
        })
        .unwrap_or_default();
    actions.sort();
    assert_eq!(actions, ["token_create", "token_revoke"], "{logs}");
    let (ok, _) = srv.stop().await;
    assert!(ok);

    let (ok, out, _) = run(dir.path(), &["token", "list"], &cli_env).await;
    assert!(ok);
    assert!(
        out.lines()
            .any(|l| l.contains(&id) && l.contains("revoked")),
        "{out}"
    );
    // Revoking again, or an unknown id, fails with one line.
    for bad in [id.as_str(), "tok_unknown"] {
        let (ok, _, err) = run(dir.path(), &["token", "revoke", bad], &cli_env).await;
        assert!(!ok, "revoke {bad} succeeded");
        assert!(err.contains(bad), "{err}");
        // One line besides the one naming the store.
        let lines = err.trim().lines().filter(|l| !l.contains("using store"));
        assert_eq!(lines.count(), 1, "{err}");
    }
    // Bad input is refused before anything is stored.
    for args in [
        vec!["token", "create", "--name", "x", "--scopes", "secrets:fly"],
        vec![
            "token",
            "create",
            "--name",
            "bad name",
            "--scopes",
            "secrets:read",
        ],
        vec![
            "token",
            "create",
            "--name",
            "x",
            "--scopes",
            "secrets:read",
            "--ttl",
            "soon",
        ],
    ] {
        let (ok, out, err) = run(dir.path(), &args, &cli_env).await;
        assert!(!ok, "{args:?} succeeded: {out}");
        assert!(!out.contains("skt_"), "{args:?} printed a token");
        assert!(!err.trim().is_empty());
    }
    // A token with ttl, path prefix and tenant.
    let (ok, out, err) = run(
        dir.path(),
        &[
            "token",
            "create",
            "--name",
            "scoped",
            "--scopes",
            "secrets:read,secrets:list",
            "--ttl",
            "90d",
            "--path-prefix",
            "team-a/",
            "--tenant",
            "acme",
        ],
        &cli_env,
    )
    .await;
    assert!(ok, "{out}{err}");
    assert!(err.contains("tnt_acme"), "{err}");
    let (ok, out, _) = run(dir.path(), &["token", "list", "--tenant", "acme"], &cli_env).await;
    assert!(ok);
    let row = out
        .lines()
        .find(|l| l.contains("scoped"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        row.contains("secrets:list") && !row.contains("never"),
        "{row}"
    );
    let (ok, out, _) = run(dir.path(), &["token", "list"], &cli_env).await;
    assert!(ok);
    assert!(
        !out.contains("scoped"),
        "another tenant's token is listed: {out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_token_create_list_revoke_postgres() {
    cli_token_create_list_revoke(StoreKind::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_token_create_list_revoke_sqlite() {
    cli_token_create_list_revoke(StoreKind::Sqlite).await
}

/// Two replicas on one PostgreSQL database: a revocation through one holds on the next
/// request to the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_holds_on_every_replica() {
    use reqwest::Method as M;
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_pg_database().await;
    let (key, root) = (master_key(), root_token());
    let env = [
        ("SCAIVAULT_DATABASE_URL", db.as_str()),
        ("SCAIVAULT_MASTER_KEY", key.as_str()),
        ("SCAIVAULT_ROOT_TOKEN", root.as_str()),
    ];
    let one = Server::start(dir.path(), &[], free_port(), &env, &root).await;
    let two = Server::start(dir.path(), &[], free_port(), &env, &root).await;
    let (s, t) = one
        .call(
            M::POST,
            "/v1/auth/tokens",
            Some(json!({"name": "shared", "scopes": ["secrets:read"]})),
        )
        .await;
    assert_eq!(s, 201);
    let (id, tok) = (t["id"].as_str().unwrap(), t["token"].as_str().unwrap());
    assert_eq!(
        two.call_with(Some(tok), M::GET, "/v1/auth/whoami", None)
            .await
            .0,
        200
    );
    assert_eq!(
        one.call(M::DELETE, &format!("/v1/auth/tokens/{id}"), None)
            .await
            .0,
        204
    );
    let (s, r) = two
        .call_with(Some(tok), M::GET, "/v1/auth/whoami", None)
        .await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (401, Some("token_revoked")),
        "{r}"
    );
    let (ok1, _) = one.stop().await;
    let (ok2, _) = two.stop().await;
    assert!(ok1 && ok2);
}

/// Writes while the receiver is down, `kill -9`, restart, receiver up: every event arrives.
async fn kill_9_loses_no_event(kind: StoreKind) {
    use reqwest::Method as M;
    let dir = tempfile::tempdir().unwrap();
    let db = database(kind, dir.path()).await;
    let (key, root, port) = (master_key(), root_token(), free_port());
    let env = [
        ("SCAIVAULT_DATABASE_URL", db.as_str()),
        ("SCAIVAULT_MASTER_KEY", key.as_str()),
        ("SCAIVAULT_ROOT_TOKEN", root.as_str()),
        ("SCAIVAULT_WEBHOOK_ALLOW_HTTP", "true"),
        ("SCAIVAULT_WEBHOOK_ALLOW_CIDRS", "127.0.0.0/8"),
        (
            "SCAIVAULT_WEBHOOK_RETRY_SCHEDULE",
            "1s,1s,1s,1s,1s,1s,1s,1s,1s,1s",
        ),
    ];
    // A receiver address that refuses connections until it is started.
    let dead_port = free_port();
    let srv = Server::start(dir.path(), &[], port, &env, &root).await;
    let (s, r) = srv
        .call(
            M::POST,
            "/v1/webhooks",
            Some(
                json!({"name": "rx", "url": format!("http://127.0.0.1:{dead_port}/hook"),
                        "secret": "whsec_crash_test_secret", "events": ["*"]}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    for i in 0..20 {
        let (s, r) = srv
            .call(
                M::PUT,
                &format!("/v1/secrets/crash/{i}"),
                Some(json!({"data": {"i": i}})),
            )
            .await;
        assert_eq!(s, 201, "{r}");
    }
    let mut child = srv.child;
    child.start_kill().unwrap(); // SIGKILL
    let _ = child.wait().await;

    let rx = Receiver::start_on(dead_port, "whsec_crash_test_secret").await;
    let srv = Server::start(dir.path(), &[], port, &env, &root).await;
    let got = rx
        .wait_for("all 20 events after restart", |r| {
            let mut paths: Vec<&str> = r
                .iter()
                .map(|x| x.body["path"].as_str().unwrap_or(""))
                .collect();
            paths.sort();
            paths.dedup();
            paths.len() >= 20
        })
        .await;
    assert!(got.iter().all(|r| r.signature_ok));
    let (ok, out) = srv.stop().await;
    assert!(ok, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_event_postgres() {
    kill_9_loses_no_event(StoreKind::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_event_sqlite() {
    kill_9_loses_no_event(StoreKind::Sqlite).await
}

/// `kill -9` under a read load: every read that got a 200 has its audit row afterwards
/// (the group-commit writer answers only after the row's batch committed), with either
/// audit durability (`process` answers once the database has the row, which a crash of
/// scaivault cannot take).
async fn kill_9_under_reads_keeps_every_audit_row(kind: StoreKind, durability: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = database(kind, dir.path()).await;
    let (key, root, port) = (master_key(), root_token(), free_port());
    let env = [
        ("SCAIVAULT_DATABASE_URL", db.as_str()),
        ("SCAIVAULT_MASTER_KEY", key.as_str()),
        ("SCAIVAULT_ROOT_TOKEN", root.as_str()),
        ("SCAIVAULT_AUDIT_DURABILITY", durability),
        ("RUST_LOG", "warn"),
    ];
    let srv = Server::start(dir.path(), &[], port, &env, &root).await;
    let load = ReadLoad::start(&srv, &root).await;
    load.until_answered(300).await;
    let mut child = srv.child;
    child.start_kill().unwrap(); // SIGKILL, mid-load
    let _ = child.wait().await;
    let answered = load.stop().await;
    let srv = Server::start(dir.path(), &[], port, &env, &root).await;
    assert_every_read_audited(&db, &answered).await;
    let (ok, out) = srv.stop().await;
    assert!(ok, "{out}");
}

/// Readers of one secret (`load/x`, written here), eight at once, each read with its own
/// request id (`crash-…`); the ids of those answered 200 are kept. A reader stops at its first
/// connection error (the server is gone).
pub(crate) struct ReadLoad {
    answered: Arc<Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl ReadLoad {
    pub(crate) async fn start(srv: &Server, token: &str) -> ReadLoad {
        let (s, _) = srv
            .call(
                reqwest::Method::PUT,
                "/v1/secrets/load/x",
                Some(json!({"data": {"v": 1}})),
            )
            .await;
        assert_eq!(s, 201);
        let answered: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        let mut tasks = Vec::new();
        for t in 0..8 {
            let (ids, stop, base, tok) = (
                answered.clone(),
                stop.clone(),
                srv.base.clone(),
                token.to_string(),
            );
            tasks.push(tokio::spawn(async move {
                let client = reqwest::Client::new();
                for n in 0.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let rid = format!("crash-{t}-{n}");
                    let res = client
                        .get(format!("{base}/v1/secrets/load/x"))
                        .bearer_auth(&tok)
                        .header("x-request-id", &rid)
                        .send()
                        .await;
                    match res {
                        Ok(r) if r.status().as_u16() == 200 => ids.lock().unwrap().push(rid),
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
            }));
        }
        ReadLoad {
            answered,
            stop,
            tasks,
        }
    }

    /// Waits (bounded) until `n` reads in all were answered 200.
    pub(crate) async fn until_answered(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.answered.lock().unwrap().len() < n {
            assert!(Instant::now() < deadline, "the read load did not get going");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops the readers; the request ids answered 200.
    pub(crate) async fn stop(self) -> Vec<String> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        let answered = self.answered.lock().unwrap().clone();
        answered
    }
}

/// Every request id in `answered` has its read row in the audit log of database `db`.
pub(crate) async fn assert_every_read_audited(db: &str, answered: &[String]) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(db).await.unwrap();
    let stored: HashSet<String> = sqlx::query_scalar::<_, String>(
        "SELECT request_id FROM audit_log WHERE action = 'read' AND request_id LIKE 'crash-%'",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    let missing: Vec<&String> = answered.iter().filter(|r| !stored.contains(*r)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} answered reads have no audit row: {:?}",
        missing.len(),
        answered.len(),
        &missing[..missing.len().min(5)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_reads_keeps_every_audit_row_postgres() {
    kill_9_under_reads_keeps_every_audit_row(StoreKind::Postgres, "durable").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_reads_keeps_every_audit_row_sqlite() {
    kill_9_under_reads_keeps_every_audit_row(StoreKind::Sqlite, "durable").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_reads_keeps_every_audit_row_process_mode_postgres() {
    kill_9_under_reads_keeps_every_audit_row(StoreKind::Postgres, "process").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_reads_keeps_every_audit_row_process_mode_sqlite() {
    kill_9_under_reads_keeps_every_audit_row(StoreKind::Sqlite, "process").await
}

/// The rotation lifecycle on the real binary with a policy of seconds: warnings, due, overdue,
/// completion by a PUT, grace then 410, and the next cycle scheduled from the completion.
async fn seconds_policy_lifecycle(kind: StoreKind) {
    use reqwest::Method as M;
    let dir = tempfile::tempdir().unwrap();
    let db = database(kind, dir.path()).await;
    let (key, root, port) = (master_key(), root_token(), free_port());
    let env = [
        ("SCAIVAULT_DATABASE_URL", db.as_str()),
        ("SCAIVAULT_MASTER_KEY", key.as_str()),
        ("SCAIVAULT_ROOT_TOKEN", root.as_str()),
        ("SCAIVAULT_WEBHOOK_ALLOW_HTTP", "true"),
        ("SCAIVAULT_WEBHOOK_ALLOW_CIDRS", "127.0.0.0/8"),
        ("SCAIVAULT_SCHEDULER_TICK", "1s"),
        ("RUST_LOG", "warn"),
    ];
    let srv = Server::start(dir.path(), &[], port, &env, &root).await;
    let rx = Receiver::start("whsec_seconds_lifecycle").await;
    let (s, _) = srv
        .call(M::POST, "/v1/webhooks", Some(json!({"name": "rx", "url": rx.url, "secret": "whsec_seconds_lifecycle", "events": ["rotation.due", "rotation.overdue", "rotation.completed", "secret.rotated"]})))
        .await;
    assert_eq!(s, 201);
    let (s, b) = srv
        .call(M::POST, "/v1/rotation/policies", Some(json!({"name": "fast", "interval": "8s", "warn_before": "4s,2s", "grace_period": "3s"})))
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, _) = srv
        .call(
            M::PUT,
            "/v1/secrets/fast/db",
            Some(json!({"data": {"pw": "one"}, "options": {"rotation_policy_id": "rot_fast"}})),
        )
        .await;
    assert_eq!(s, 201);
    let seen = |rx: &Receiver, pred: &dyn Fn(&Value) -> bool| {
        let mut ids = HashSet::new();
        rx.received()
            .iter()
            .filter(|r| pred(&r.body) && ids.insert(r.event_id.clone()))
            .count()
    };
    let wait = |what: &'static str,
                rx: Receiver,
                pred: Box<dyn Fn(&Value) -> bool + Send>,
                n: usize| async move {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let mut ids = HashSet::new();
            if rx
                .received()
                .iter()
                .filter(|r| pred(&r.body) && ids.insert(r.event_id.clone()))
                .count()
                >= n
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {:#?}",
                rx.received()
                    .iter()
                    .map(|r| r.body.clone())
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    wait(
        "the 4s warning",
        rx.clone(),
        Box::new(|b| b["data"]["threshold"] == "4s"),
        1,
    )
    .await;
    wait(
        "the 2s warning",
        rx.clone(),
        Box::new(|b| b["data"]["threshold"] == "2s"),
        1,
    )
    .await;
    wait(
        "due now",
        rx.clone(),
        Box::new(|b| b["data"]["due_now"] == true),
        1,
    )
    .await;
    wait(
        "overdue",
        rx.clone(),
        Box::new(|b| b["event_type"] == "rotation.overdue"),
        1,
    )
    .await;
    let (s, _) = srv
        .call(
            M::PUT,
            "/v1/secrets/fast/db",
            Some(json!({"data": {"pw": "two"}})),
        )
        .await;
    assert_eq!(s, 200);
    wait(
        "completion",
        rx.clone(),
        Box::new(|b| b["event_type"] == "rotation.completed"),
        1,
    )
    .await;
    // Deliveries run in parallel: secret.rotated (same transaction) may land just after.
    wait(
        "secret.rotated",
        rx.clone(),
        Box::new(|b| b["event_type"] == "secret.rotated"),
        1,
    )
    .await;
    assert_eq!(seen(&rx, &|b| b["event_type"] == "secret.rotated"), 1);
    let (s, b) = srv
        .call(M::GET, "/v1/secrets/fast/db?version=1", None)
        .await;
    assert_eq!((s, b["data"]["pw"].clone()), (200, json!("one")));
    // Grace of 3s, then 410 (polled, bounded).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (s, b) = srv
            .call(M::GET, "/v1/secrets/fast/db?version=1", None)
            .await;
        if s == 410 {
            assert_eq!(b["error"]["code"], "secret_expired");
            break;
        }
        assert_eq!(s, 200);
        assert!(Instant::now() < deadline, "v1 never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The next cycle counts from the completion: its 4s warning comes again.
    wait(
        "the next cycle's warning",
        rx.clone(),
        Box::new(|b| b["data"]["threshold"] == "4s"),
        2,
    )
    .await;
    let (ok, out) = srv.stop().await;
    assert!(ok, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seconds_policy_lifecycle_postgres() {
    seconds_policy_lifecycle(StoreKind::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seconds_policy_lifecycle_sqlite() {
    seconds_policy_lifecycle(StoreKind::Sqlite).await
}
