//! What new users met in their first hour, through the real binary: a second `serve --dev` on a
//! busy port stops before it touches tokens (the first server's root token keeps working);
//! `--listen` picks the address; the start-up line names address, store and master key source;
//! `token list` from a folder without a store fails, names the store and creates nothing;
//! `config check | head` exits cleanly when its reader goes away.

use crate::binary::{command, master_key, run, Server, EXIT_DEADLINE, START_DEADLINE};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The first `skt_…` word printed.
fn printed_token(text: &str) -> Option<String> {
    text.split_whitespace()
        .find(|w| w.starts_with("skt_"))
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_dev_server_on_a_busy_port_leaves_the_first_alone() {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::binary::free_port();
    let srv = Server::start(dir.path(), &["--dev"], port, &[], "").await;
    let deadline = Instant::now() + START_DEADLINE;
    let token = loop {
        if let Some(t) = printed_token(&srv.stdout_text()) {
            break t;
        }
        assert!(Instant::now() < deadline, "no token:\n{}", srv.output());
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    // The start-up line: address, store, where the key came from; never the token.
    let logs = srv.stderr_text();
    let line = logs
        .lines()
        .find(|l| l.contains("scaivault serving"))
        .unwrap_or_else(|| panic!("no start-up line:\n{logs}"));
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
    assert!(line.contains("sqlite://./data/scaivault.db"), "{line}");
    assert!(line.contains("dev key file ./data/master.key"), "{line}");
    assert!(!logs.contains(&token), "the token was logged: {logs}");

    // A second one with --listen on the same port: fails, names the address, revokes nothing.
    let listen = format!("127.0.0.1:{port}");
    let (ok, out, err) = run(dir.path(), &["serve", "--dev", "--listen", &listen], &[]).await;
    assert!(!ok, "second server started:\n{out}{err}");
    assert!(err.contains(&format!("cannot listen on {listen}")), "{err}");
    assert!(
        printed_token(&out).is_none(),
        "a second token was minted: {out}"
    );
    let me = reqwest::Client::new()
        .get(format!("{}/v1/auth/whoami", srv.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200, "the first server's token stopped working");
    let (ok, out) = srv.stop().await;
    assert!(ok, "{out}");
}

#[tokio::test]
async fn admin_commands_never_create_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let key = master_key();
    for args in [
        &["token", "list"][..],
        &["token", "create", "--name", "x", "--scopes", "admin"],
        &["keys", "rotate"],
    ] {
        let (ok, out, err) = run(dir.path(), args, &[("SCAIVAULT_MASTER_KEY", key.as_str())]).await;
        assert!(!ok, "{args:?} succeeded:\n{out}{err}");
        assert!(
            err.contains("using store sqlite://./data/scaivault.db"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("no store at ./data/scaivault.db"),
            "{args:?}: {err}"
        );
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(!dir.path().join("data").exists(), "{args:?} created ./data");
    }
    // After a start (here `migrate`), the same command works on that store and says which.
    let (ok, _, err) = run(dir.path(), &["migrate"], &[]).await;
    assert!(ok, "{err}");
    let (ok, out, err) = run(dir.path(), &["token", "list"], &[]).await;
    assert!(ok, "{err}");
    assert!(out.starts_with("ID "), "{out}");
    assert!(
        err.contains("using store sqlite://./data/scaivault.db"),
        "{err}"
    );
}

#[tokio::test]
async fn config_check_survives_a_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let key = master_key();
    let mut child = command(
        dir.path(),
        &["config", "check"],
        &[("SCAIVAULT_MASTER_KEY", key.as_str())],
    )
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    // The reader goes away before the command writes (as `| head -0` would).
    drop(child.stdout.take());
    let status = tokio::time::timeout(EXIT_DEADLINE, child.wait())
        .await
        .unwrap()
        .unwrap();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use tokio::io::AsyncReadExt;
        let _ = e.read_to_string(&mut err).await;
    }
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.code(), Some(0), "{err}");
}
