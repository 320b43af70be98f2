//! The client subcommands through the real binary against a real server (both stores), as a
//! user runs them: `login` saves a 0600 file; `secret put` reads `k=@file` and `k=-` (stdin);
//! `secret get PATH#key` prints the raw value; `list`/`versions` print JSON when piped; `run
//! --env` hands the value and passes the child's exit status through; a server error prints its
//! code and exits non-zero; `events tail --after` resumes where the last run stopped.

use crate::binary::{BIN, EXIT_DEADLINE};
use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

/// What a finished client command showed.
struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `scaivault ARGS` in `home` (its own HOME and XDG_CONFIG_HOME, nothing else inherited
/// but PATH), with `env` and `stdin` given; stdout and stderr are pipes.
async fn client(home: &Path, args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Out {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(args)
        .current_dir(home)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("xdg"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn scaivault");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin).await.expect("write stdin");
    drop(input);
    let out = tokio::time::timeout(EXIT_DEADLINE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("scaivault {args:?} did not exit in time"))
        .expect("scaivault ran");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `client`, asserting exit 0.
async fn ok(home: &Path, args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> String {
    let o = client(home, args, env, stdin).await;
    assert_eq!(
        o.code,
        Some(0),
        "scaivault {args:?}:\n{}{}",
        o.stdout,
        o.stderr
    );
    o.stdout
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

async fn login_put_get_list_and_run(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let home = tempfile::tempdir().unwrap();
    let h = home.path();

    // login: the token from stdin, checked, saved 0600 under XDG_CONFIG_HOME.
    let out = ok(
        h,
        &["login", "--addr", &app.base],
        &[],
        format!("{}\n", app.root_token).as_bytes(),
    )
    .await;
    assert!(out.contains("logged in to"), "{out}");
    let file = h.join("xdg").join("scaivault").join("config.json");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file)
            .expect("login file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "login file mode");
    }
    assert!(
        !out.contains(&app.root_token),
        "login printed the token: {out}"
    );

    // put: one value literal, one from a file, one from stdin.
    let pw_file = h.join("pw.txt");
    std::fs::write(&pw_file, "file-secret\nline2").unwrap();
    let arg_file = format!("password=@{}", pw_file.display());
    let out = ok(
        h,
        &[
            "secret",
            "put",
            "prod/db",
            "user=app",
            &arg_file,
            "api_key=-",
        ],
        &[],
        b"stdin-secret\n",
    )
    .await;
    assert_eq!(parse(&out)["version"], 1, "{out}");
    let stored = app.get("/v1/secrets/prod/db").await;
    assert_eq!(
        stored.body["data"],
        json!({"user": "app", "password": "file-secret\nline2", "api_key": "stdin-secret"})
    );

    // get PATH#key: the raw value, nothing else (stdout is a pipe: no newline added).
    let out = ok(h, &["secret", "get", "prod/db#password"], &[], b"").await;
    assert_eq!(out, "file-secret\nline2");
    let out = ok(h, &["secret", "get", "prod/db#api_key"], &[], b"").await;
    assert_eq!(out, "stdin-secret");

    // A second version, then list and versions: JSON because stdout is piped.
    ok(h, &["secret", "put", "prod/db", "user=app2"], &[], b"").await;
    app.put_secret("prod/cache", json!({"url": "redis://x"}))
        .await;
    let list = parse(&ok(h, &["secret", "list", "prod"], &[], b"").await);
    let paths: Vec<&str> = list["secrets"]
        .as_array()
        .expect("secrets")
        .iter()
        .filter_map(|s| s["path"].as_str())
        .collect();
    assert_eq!(paths.len(), 2, "{list}");
    assert!(
        paths.contains(&"prod/db") && paths.contains(&"prod/cache"),
        "{list}"
    );
    assert!(
        !list.to_string().contains("stdin-secret"),
        "list shows a value: {list}"
    );
    let versions = parse(&ok(h, &["secret", "versions", "prod/db"], &[], b"").await);
    let numbers: Vec<i64> = versions["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["version"].as_i64())
        .collect();
    assert_eq!(numbers, [2, 1], "{versions}");

    // run --env: the child sees the value; its exit status is run's.
    let out = client(
        h,
        &[
            "run",
            "--env",
            "DB_KEY=prod/db#user",
            "--",
            "sh",
            "-c",
            "printf '%s' \"$DB_KEY\"; exit 7",
        ],
        &[],
        b"",
    )
    .await;
    assert_eq!(out.code, Some(7), "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, "app2");
    let out = client(
        h,
        &["run", "--env", "X=prod/db#user", "--", "true"],
        &[],
        b"",
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);

    // SCAIVAULT_ADDR and SCAIVAULT_TOKEN beat the saved login.
    let (_, reader) = app.create_token("reader", &["secrets:list"], &[]).await;
    let out = client(
        h,
        &["secret", "get", "prod/db#user"],
        &[("SCAIVAULT_TOKEN", reader.as_str())],
        b"",
    )
    .await;
    assert_ne!(out.code, Some(0));
    assert!(out.stderr.contains("insufficient_scope"), "{}", out.stderr);
    assert!(
        !out.stderr.contains(&reader),
        "the token was printed: {}",
        out.stderr
    );
}

async fn server_errors_print_their_code(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let env = [
        ("SCAIVAULT_ADDR", app.base.as_str()),
        ("SCAIVAULT_TOKEN", app.root_token.as_str()),
    ];
    let out = client(h, &["secret", "get", "no/such#k"], &env, b"").await;
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("secret_not_found"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    // A missing key of an existing secret names the key, never a value.
    app.put_secret("a/b", json!({"k": "hidden-value"})).await;
    let out = client(h, &["secret", "get", "a/b#nope"], &env, b"").await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("'nope'") && !out.stderr.contains("hidden-value"),
        "{}",
        out.stderr
    );
    // run fails before starting the command: 125, the command never ran.
    let marker = h.join("ran");
    let touch = format!("touch {}", marker.display());
    let out = client(
        h,
        &["run", "--env", "X=no/such#k", "--", "sh", "-c", &touch],
        &env,
        b"",
    )
    .await;
    assert_eq!(out.code, Some(125), "{}", out.stderr);
    assert!(out.stderr.contains("secret_not_found"), "{}", out.stderr);
    assert!(!marker.exists());
    // A bad token: the server's code, exit 1.
    let out = client(
        h,
        &["secret", "list"],
        &[
            ("SCAIVAULT_ADDR", app.base.as_str()),
            ("SCAIVAULT_TOKEN", "skt_wrong_wrong_wrong_wrong_wrong_wrong"),
        ],
        b"",
    )
    .await;
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("token_invalid"), "{}", out.stderr);
    // No token at all.
    let out = client(
        h,
        &["secret", "list"],
        &[("SCAIVAULT_ADDR", app.base.as_str())],
        b"",
    )
    .await;
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("scaivault login"), "{}", out.stderr);
}

async fn events_tail_resumes_after(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let env = [
        ("SCAIVAULT_ADDR", app.base.as_str()),
        ("SCAIVAULT_TOKEN", app.root_token.as_str()),
    ];
    app.put_secret("feed/one", json!({"v": "1"})).await;
    let first = client(h, &["events", "tail", "--once"], &env, b"").await;
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let lines: Vec<Value> = first.stdout.lines().map(parse).collect();
    assert_eq!(lines.len(), 1, "{}", first.stdout);
    assert_eq!(lines[0]["event_type"], "secret.created");
    assert_eq!(lines[0]["path"], "feed/one");
    let last = lines[0]["event_id"].as_str().expect("event_id").to_string();
    assert!(
        first.stderr.contains(&format!("--after {last}")),
        "{}",
        first.stderr
    );

    app.put_secret("feed/two", json!({"v": "2"})).await;
    app.put_secret("feed/one", json!({"v": "3"})).await;
    let next = client(
        h,
        &["events", "tail", "--once", "--after", &last],
        &env,
        b"",
    )
    .await;
    assert_eq!(next.code, Some(0), "{}", next.stderr);
    let lines: Vec<Value> = next.stdout.lines().map(parse).collect();
    let seen: Vec<(&str, &str)> = lines
        .iter()
        .map(|e| {
            (
                e["event_type"].as_str().unwrap_or(""),
                e["path"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("secret.created", "feed/two"),
            ("secret.updated", "feed/one")
        ],
        "{}",
        next.stdout
    );
    // Nothing new: an empty run that still names where to resume.
    let after = lines[1]["event_id"].as_str().expect("event_id");
    let none = client(
        h,
        &["events", "tail", "--once", "--after", after],
        &env,
        b"",
    )
    .await;
    assert_eq!(
        (none.code, none.stdout.as_str()),
        (Some(0), ""),
        "{}",
        none.stderr
    );

    // The audit tail resumes the same way.
    let audit = client(
        h,
        &["audit", "tail", "--once", "--after", "log_000000000x"],
        &env,
        b"",
    )
    .await;
    assert_eq!(audit.code, Some(0), "{}", audit.stderr);
    let rows: Vec<Value> = audit.stdout.lines().map(parse).collect();
    assert!(
        rows.iter()
            .any(|r| r["action"] == "write" && r["secret_path"] == "feed/two"),
        "{}",
        audit.stdout
    );
    let last_log = rows
        .last()
        .and_then(|r| r["id"].as_str())
        .expect("a row")
        .to_string();
    // Rows of one microsecond are ordered by their random id suffix: the resume point is a time.
    app.clock.advance(chrono::Duration::milliseconds(1));
    app.put_secret("feed/three", json!({"v": "4"})).await;
    let audit = client(
        h,
        &["audit", "tail", "--once", "--after", &last_log],
        &env,
        b"",
    )
    .await;
    let rows: Vec<Value> = audit.stdout.lines().map(parse).collect();
    assert!(
        rows.iter().any(|r| r["secret_path"] == "feed/three"),
        "{}",
        audit.stdout
    );
    assert!(
        !rows.iter().any(|r| r["id"] == last_log.as_str()),
        "{}",
        audit.stdout
    );
}

both_stores!(
    delete_restore_and_rotate,
    login_put_get_list_and_run,
    server_errors_print_their_code,
    events_tail_resumes_after
);

#[tokio::test]
async fn help_groups_admin_and_client_commands_and_generates_docs() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let help = ok(h, &["--help"], &[], b"").await;
    let admin = help
        .find("Server administration (direct store access")
        .expect("admin heading");
    let client_at = help
        .find("Client (talks to a server")
        .expect("client heading");
    let token_at = help.find("\n  token ").expect("token listed");
    let secret_at = help.find("\n  secret ").expect("secret listed");
    assert!(
        admin < token_at && token_at < client_at && client_at < secret_at,
        "{help}"
    );
    let bash = ok(h, &["completions", "bash"], &[], b"").await;
    assert!(
        bash.contains("_scaivault") && bash.contains("secret"),
        "no bash completion"
    );
    let out = ok(h, &["man", "--out", "man"], &[], b"").await;
    assert!(out.contains("man pages"), "{out}");
    let page =
        std::fs::read_to_string(h.join("man").join("scaivault-secret-put.1")).expect("man page");
    assert!(page.contains(".TH"), "{page}");
}

/// `secret delete` (soft, then restore), `secret rotate` through the attached policy, and
/// `secret delete --permanent`, each seen through the API as well.
async fn delete_restore_and_rotate(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let env = [
        ("SCAIVAULT_ADDR", app.base.as_str()),
        ("SCAIVAULT_TOKEN", app.root_token.as_str()),
    ];
    app.put_secret("ops/db", json!({"pw": "one"})).await;

    let out = parse(&ok(h, &["secret", "delete", "ops/db"], &env, b"").await);
    assert!(out["recoverable_until"].is_string(), "{out}");
    assert_eq!(
        app.get("/v1/secrets/ops/db").await.status,
        reqwest::StatusCode::NOT_FOUND
    );
    ok(h, &["secret", "restore", "ops/db"], &env, b"").await;
    assert_eq!(
        app.get("/v1/secrets/ops/db").await.body["data"]["pw"],
        "one"
    );

    // rotate: without a policy it says so and fails; with one attached it rotates.
    let o = client(h, &["secret", "rotate", "ops/db"], &env, b"").await;
    assert_ne!(o.code, Some(0));
    assert!(o.stderr.contains("no rotation policy"), "{}", o.stderr);
    let r = app
        .post(
            "/v1/rotation/policies",
            &json!({"name": "cli", "interval": "30d", "auto_generate": true}),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/v1/rotation/policies/{id}/secrets"),
        &json!({"secret_path": "ops/db"}),
    )
    .await;
    let rotated = parse(&ok(h, &["secret", "rotate", "ops/db"], &env, b"").await);
    assert_eq!(rotated[0]["status"], "success", "{rotated}");
    let now = app.get("/v1/secrets/ops/db").await;
    assert_eq!(now.body["version"], 2);
    assert_ne!(now.body["data"]["pw"], "one");

    ok(h, &["secret", "delete", "--permanent", "ops/db"], &env, b"").await;
    let o = client(h, &["secret", "restore", "ops/db"], &env, b"").await;
    assert_ne!(o.code, Some(0), "a destroyed secret cannot be restored");
    assert!(o.stderr.contains("secret_not_found"), "{}", o.stderr);
}
