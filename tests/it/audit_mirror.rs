//! `SCAIVAULT_AUDIT_MIRROR=file:PATH` through the real binary (both stores): after 2xx requests
//! their audit rows appear in the file as JSON lines, in chain order (`seq`) with no gap or
//! repeat; after
//! the file is renamed (logrotate) and the server gets SIGHUP, new rows go to a new file at the
//! configured path; after a restart the file continues where it stopped.

use crate::binary::{database, master_key, root_token, Server};
use crate::common::StoreKind;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

/// Polls until `path` holds a row of `action` on `secret_path`; returns all its lines.
async fn wait_for(path: &Path, action: &str, secret_path: &str) -> Vec<Value> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let rows = lines(path);
        if rows
            .iter()
            .any(|r| r["action"] == action && r["secret_path"] == secret_path)
        {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "no {action} of {secret_path} in {}: {rows:?}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn position(rows: &[Value], action: &str, secret_path: &str) -> usize {
    rows.iter()
        .position(|r| r["action"] == action && r["secret_path"] == secret_path)
        .unwrap_or_else(|| panic!("no {action} of {secret_path}"))
}

fn seqs(rows: &[Value]) -> Vec<i64> {
    rows.iter()
        .map(|r| r["seq"].as_i64().expect("seq"))
        .collect()
}

async fn mirror_follows_commits_and_logrotate(kind: StoreKind) {
    let dir = tempfile::tempdir().unwrap();
    let db = database(kind, dir.path()).await;
    let (key, root) = (master_key(), root_token());
    let file = dir.path().join("audit.jsonl");
    let mirror = format!("file:{}", file.display());
    let env = [
        ("SCAIVAULT_DATABASE_URL", db.as_str()),
        ("SCAIVAULT_MASTER_KEY", key.as_str()),
        ("SCAIVAULT_ROOT_TOKEN", root.as_str()),
        ("SCAIVAULT_AUDIT_MIRROR", mirror.as_str()),
    ];
    let srv = Server::start(dir.path(), &[], crate::binary::free_port(), &env, &root).await;
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut rb = http
            .request(method, format!("{}{path}", srv.base))
            .bearer_auth(&root);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        async move {
            let r = rb.send().await.expect("request");
            assert!(r.status().is_success(), "{}", r.status());
        }
    };
    use reqwest::Method as M;
    call(
        M::PUT,
        "/v1/secrets/m/one",
        Some(json!({"data": {"v": "value-one"}})),
    )
    .await;
    call(M::GET, "/v1/secrets/m/one", None).await;
    call(
        M::PUT,
        "/v1/secrets/m/two",
        Some(json!({"data": {"v": "value-two"}})),
    )
    .await;

    let rows = wait_for(&file, "write", "m/two").await;
    let s = seqs(&rows);
    assert!(
        s.windows(2).all(|w| w[1] == w[0] + 1),
        "seq not consecutive: {s:?}"
    );
    // Chain order: the writes in the order they committed. (On SQLite a read is chained as it
    // commits, a write by the sealer within a second, so a read may come before an earlier
    // write: the order is the chain's `seq`, checked above.)
    let (w1, _, w2) = (
        position(&rows, "write", "m/one"),
        position(&rows, "read", "m/one"),
        position(&rows, "write", "m/two"),
    );
    assert!(w1 < w2, "writes out of order: {rows:?}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains("value-one") && !text.contains(&root),
        "a value or token in the mirror"
    );

    // logrotate: rename, then SIGHUP; new rows go to a new file at the same path.
    let rotated = dir.path().join("audit.jsonl.1");
    std::fs::rename(&file, &rotated).unwrap();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &srv.pid().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let deadline = Instant::now() + DEADLINE;
    while !srv.stderr_text().contains("audit mirror reopened") {
        assert!(
            Instant::now() < deadline,
            "no reopen logged:\n{}",
            srv.output()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    call(
        M::PUT,
        "/v1/secrets/m/three",
        Some(json!({"data": {"v": "value-three"}})),
    )
    .await;
    let new_rows = wait_for(&file, "write", "m/three").await;
    let old_rows = lines(&rotated);
    assert!(
        !old_rows.iter().any(|r| r["secret_path"] == "m/three"),
        "m/three went to the old file"
    );
    // Together the two files hold every row once, in order.
    let all: Vec<i64> = seqs(&old_rows).into_iter().chain(seqs(&new_rows)).collect();
    assert!(
        all.windows(2).all(|w| w[1] == w[0] + 1),
        "seq across files: {all:?}"
    );

    let (ok, out) = srv.stop().await;
    assert!(ok, "{out}");

    // A restart continues the file after its last line's seq: nothing repeated, nothing skipped.
    let srv = Server::start(dir.path(), &[], crate::binary::free_port(), &env, &root).await;
    let r = reqwest::Client::new()
        .put(format!("{}/v1/secrets/m/four", srv.base))
        .bearer_auth(&root)
        .json(&json!({"data": {"v": "value-four"}}))
        .send()
        .await
        .expect("request");
    assert!(r.status().is_success(), "{}", r.status());
    let after_restart = wait_for(&file, "write", "m/four").await;
    let all: Vec<i64> = seqs(&lines(&rotated))
        .into_iter()
        .chain(seqs(&after_restart))
        .collect();
    assert!(
        all.windows(2).all(|w| w[1] == w[0] + 1),
        "seq across a restart: {all:?}"
    );
    let (ok, out) = srv.stop().await;
    assert!(ok, "{out}");
}

crate::both_stores!(mirror_follows_commits_and_logrotate);
