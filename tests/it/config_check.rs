//! `scaivault config check` through the real binary: a valid configuration (file + env, TLS on)
//! prints every effective setting with its source and never the master key, root token or
//! database password; an invalid one exits 2 with the same one line `serve` stops with.
//! No store is opened, so these need no database.

use crate::binary::{command, master_key, root_token, EXIT_DEADLINE};
use std::path::Path;

async fn run(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let out = tokio::time::timeout(EXIT_DEADLINE, command(cwd, args, env).output())
        .await
        .expect("exits in time")
        .expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn self_signed(dir: &Path) -> (String, String) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (c, k) = (dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::write(&c, ck.cert.pem()).unwrap();
    std::fs::write(&k, ck.key_pair.serialize_pem()).unwrap();
    (c.display().to_string(), k.display().to_string())
}

#[tokio::test]
async fn valid_config_prints_settings_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("scaivault.toml");
    std::fs::write(&file, "scheduler_tick = \"5s\"\nwebhook_concurrency = 8\n").unwrap();
    let file = file.display().to_string();
    let (cert, key) = self_signed(d);
    let (mk, root) = (master_key(), root_token());
    let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
    let db = format!("postgres://vault:{password}@db.internal:5432/vault");
    let env = [
        ("SCAIVAULT_MASTER_KEY", mk.as_str()),
        ("SCAIVAULT_ROOT_TOKEN", root.as_str()),
        ("SCAIVAULT_DATABASE_URL", db.as_str()),
        ("SCAIVAULT_LISTEN", "0.0.0.0:9443"),
        ("SCAIVAULT_TLS_CERT", cert.as_str()),
        ("SCAIVAULT_TLS_KEY", key.as_str()),
    ];
    let (code, out, err) = run(d, &["--config", &file, "config", "check"], &env).await;
    assert_eq!(code, Some(0), "{out}{err}");
    let line = |key: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no {key} line:\n{out}"))
            .to_string()
    };
    assert_eq!(
        line("listen"),
        "listen = \"0.0.0.0:9443\"  # env SCAIVAULT_LISTEN"
    );
    assert_eq!(
        line("scheduler_tick"),
        format!("scheduler_tick = \"5s\"  # file {file}")
    );
    assert_eq!(
        line("webhook_concurrency"),
        format!("webhook_concurrency = 8  # file {file}")
    );
    assert_eq!(
        line("webhook_timeout"),
        "webhook_timeout = \"10s\"  # default"
    );
    assert_eq!(
        line("database_url"),
        "database_url = \"postgres://vault:[redacted]@db.internal:5432/vault\"  \
         # env SCAIVAULT_DATABASE_URL"
    );
    assert_eq!(
        line("master_key"),
        "master_key = [redacted]  # env SCAIVAULT_MASTER_KEY"
    );
    assert_eq!(
        line("root_token"),
        "root_token = [redacted]  # env SCAIVAULT_ROOT_TOKEN"
    );
    assert!(line("tls_cert").contains(&cert), "{out}");
    // Every setting documented in config/scaivault.toml is shown.
    let documented = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/scaivault.toml"
    ))
    .unwrap();
    let keys: Vec<&str> = documented
        .lines()
        .filter_map(|l| l.strip_prefix("# ")?.split_once(" = ").map(|(k, _)| k))
        .filter(|k| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect();
    assert!(keys.len() >= 18, "{keys:?}");
    for key in keys {
        line(key);
    }
    for (what, v) in [
        ("master key", mk.as_str()),
        ("root token", &root),
        ("database password", &password),
    ] {
        assert!(
            !out.contains(v) && !err.contains(v),
            "{what} printed:\n{out}{err}"
        );
    }
}

/// The error `serve` stops with, and `config check`'s for the same environment.
async fn both_refuse(d: &Path, env: &[(&str, &str)]) -> String {
    let (code, out, err) = run(d, &["config", "check"], env).await;
    assert_eq!(code, Some(2), "{env:?}: {out}{err}");
    assert_eq!(err.trim().lines().count(), 1, "{env:?}: {err}");
    assert!(!d.join("sv.db").exists(), "config check opened a store");
    let (serve_code, _, serve_err) = run(d, &["serve"], env).await;
    assert_eq!(serve_code, Some(1), "{env:?}: {serve_err}");
    assert_eq!(err.trim(), serve_err.trim(), "check and serve disagree");
    // `serve` opens the store before it loads the master key; start each case afresh.
    for f in ["sv.db", "sv.db-wal", "sv.db-shm"] {
        let _ = std::fs::remove_file(d.join(f));
    }
    err
}

#[tokio::test]
async fn invalid_config_fails_with_the_serve_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = format!("sqlite://{}", d.join("sv.db").display());
    let mk = master_key();
    let (cert, _) = self_signed(d);
    let other = tempfile::tempdir().unwrap();
    let (_, wrong_key) = self_signed(other.path());
    let short_key = "c2hvcnQ=";
    let base = [
        ("SCAIVAULT_DATABASE_URL", db.as_str()),
        ("SCAIVAULT_MASTER_KEY", mk.as_str()),
    ];
    for (name, value, says) in [
        (
            "SCAIVAULT_SCHEDULER_TICK",
            "abc",
            "SCAIVAULT_SCHEDULER_TICK",
        ),
        (
            "SCAIVAULT_WEBHOOK_DENY_CIDRS",
            "10.0.0.0/33",
            "is not a CIDR",
        ),
        (
            "SCAIVAULT_DATABASE_URL",
            "mysql://h/x",
            "SCAIVAULT_DATABASE_URL",
        ),
        ("SCAIVAULT_MASTER_KEY", short_key, "SCAIVAULT_MASTER_KEY"),
        ("SCAIVAULT_TLS_CERT", cert.as_str(), "needs both"),
    ] {
        let mut env: Vec<_> = base.iter().copied().filter(|(k, _)| *k != name).collect();
        env.push((name, value));
        let err = both_refuse(d, &env).await;
        assert!(err.contains(says), "{name}={value}: {err}");
        assert!(!err.contains(short_key), "the bad key is echoed: {err}");
    }
    // A key that does not match the certificate.
    let mut env = base.to_vec();
    env.extend([
        ("SCAIVAULT_TLS_CERT", cert.as_str()),
        ("SCAIVAULT_TLS_KEY", wrong_key.as_str()),
    ]);
    let err = both_refuse(d, &env).await;
    assert!(err.contains("SCAIVAULT_TLS_KEY"), "{err}");
    assert!(err.contains("does not match the certificate"), "{err}");
    // No master key at all.
    let err = both_refuse(d, &base[..1]).await;
    assert!(err.contains("no master key"), "{err}");
    // A --config file that does not exist.
    let (code, _, err) = run(
        d,
        &["--config", "/nonexistent.toml", "config", "check"],
        &base,
    )
    .await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("does not exist"), "{err}");
}
