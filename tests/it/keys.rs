//! Master key rotation: `scaivault keys rotate` + `keys rewrap` (the real binary) against the
//! database of a running server; every value still reads, nothing stays under an older key.

use crate::binary::run;
use crate::common::receiver::Receiver;
use crate::common::{StoreKind, TestApp};
use reqwest::StatusCode;
use scaivault::server::App;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::sync::Arc;

const HOOK_SECRET_OLD: &str = "whsec_keys_test_old_0123456789";
const HOOK_SECRET: &str = "whsec_keys_test_new_0123456789";

crate::both_stores!(rotate_and_rewrap_keep_every_value_readable);
crate::both_stores!(keys_commands_refuse_a_different_master_key);

pub(crate) fn cli_env(app: &TestApp) -> Vec<(&'static str, String)> {
    let key = app.state.config.master_key.as_ref().expect("master key");
    vec![
        ("SCAIVAULT_DATABASE_URL", app.database_url.clone()),
        ("SCAIVAULT_MASTER_KEY", key.expose_secret().to_string()),
    ]
}

/// Runs `scaivault <args>` from an empty folder with only `env`.
pub(crate) async fn keys(args: &[&str], env: &[(&'static str, String)]) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run(dir.path(), args, &env).await
}

async fn scalar_i64(db: &sqlx::AnyPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.expect(sql)
}

async fn key_of_version(db: &sqlx::AnyPool, version: i64) -> String {
    sqlx::query_scalar("SELECT key_id FROM master_key_versions WHERE version = $1")
        .bind(version)
        .fetch_one(db)
        .await
        .expect("key version row")
}

async fn rotate_and_rewrap_keep_every_value_readable(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let env = cli_env(&app);
    let db = app.db().await;
    let rx = Receiver::start(HOOK_SECRET).await;
    let hook = app
        .post(
            "/v1/webhooks",
            &json!({"name": "keys", "url": rx.url, "secret": HOOK_SECRET_OLD, "events": ["secret.created"]}),
        )
        .await;
    assert_eq!(hook.status, StatusCode::CREATED, "{}", hook.body);
    let hook_id = hook.body["id"].as_str().expect("webhook id").to_string();
    // A new signing secret with an overlap: the webhook holds two sealed secrets.
    let patched = app
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/webhooks/{hook_id}"),
            Some(&app.root_token),
            Some(&json!({"secret": HOOK_SECRET, "previous_secret_ttl": "7d"})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);

    let mut expected: Vec<(String, i64, Value)> = Vec::new();
    for (path, versions) in [("k/a", 3), ("k/b", 1), ("k/c", 2), ("team/x/db", 1)] {
        for v in 1..=versions {
            let data = json!({"password": format!("{path}-v{v}-value")});
            let r = app.put_secret(path, data.clone()).await;
            assert!(r.status.is_success(), "{}", r.body);
            expected.push((path.to_string(), v, data));
        }
    }
    let root_id = app.state.keys.root().id().to_string();

    let (ok, out, err) = keys(&["keys", "rotate"], &env).await;
    assert!(ok, "keys rotate failed: {out} {err}");
    assert!(out.contains("master key version 1"), "{out}");
    // Written while versions 0 and 1 exist: whichever this server uses, rewrap must catch it.
    let late = json!({"password": "written-between-rotations"});
    assert!(app
        .put_secret("k/late", late.clone())
        .await
        .status
        .is_success());
    expected.push(("k/late".into(), 1, late));
    let (ok, out, err) = keys(&["keys", "rotate"], &env).await;
    assert!(ok, "second keys rotate failed: {out} {err}");
    assert!(out.contains("master key version 2"), "{out}");
    let v1 = key_of_version(&db, 1).await;
    let v2 = key_of_version(&db, 2).await;
    assert!(v1 != v2 && v1 != root_id && v2 != root_id);
    assert!(out.contains(&v2) && out.contains(&v1), "{out}");

    let (ok, out, err) = keys(&["keys", "rewrap", "--batch-size", "2"], &env).await;
    assert!(ok, "keys rewrap failed: {out} {err}");
    assert!(out.contains(&format!("under {v2}")), "{out}");
    assert!(out.contains("0 left under older keys"), "{out}");

    // Nothing is wrapped by the old keys any more: versions, both webhook secrets, the probe.
    let total = scalar_i64(&db, "SELECT COUNT(*) FROM secret_versions").await;
    assert_eq!(total, expected.len() as i64);
    let under_v2: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM secret_versions WHERE key_id = $1")
            .bind(&v2)
            .fetch_one(&db)
            .await
            .expect("count");
    assert_eq!(
        under_v2, total,
        "every data key is wrapped by the active key"
    );
    let (cur, prev): (String, Option<String>) =
        sqlx::query_as("SELECT secret_key_id, prev_secret_key_id FROM webhooks WHERE id = $1")
            .bind(&hook_id)
            .fetch_one(&db)
            .await
            .expect("webhook row");
    assert_eq!(
        (cur.as_str(), prev.as_deref()),
        (v2.as_str(), Some(v2.as_str()))
    );
    let probe: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'encryption_probe'")
        .fetch_one(&db)
        .await
        .expect("probe");
    let probe: Value = serde_json::from_str(&probe).expect("probe json");
    assert_eq!(probe["key_id"], v2.as_str());
    assert!(
        out.contains(&format!("re-wrapped {} data keys", total + 3)),
        "{out}"
    );

    // The running server reads every version (it loads the new key versions on first sight).
    for (path, v, data) in &expected {
        let r = app.get(&format!("/v1/secrets/{path}?version={v}")).await;
        assert_eq!(r.status, StatusCode::OK, "{path} v{v}: {}", r.body);
        assert_eq!(&r.body["data"], data, "{path} v{v}");
    }
    // New writes use the active key; the webhook signs with its re-wrapped secret.
    assert!(app
        .put_secret("k/after", json!({"p": "after"}))
        .await
        .status
        .is_success());
    let after_key: String = sqlx::query_scalar(
        "SELECT v.key_id FROM secret_versions v JOIN secrets s ON s.id = v.secret_id WHERE s.path = 'k/after'",
    )
    .fetch_one(&db)
    .await
    .expect("k/after version");
    assert_eq!(after_key, v2);
    let got = rx
        .wait_for("secret.created for k/after", |r| {
            r.iter().any(|x| x.body["path"] == "k/after")
        })
        .await;
    assert!(
        got.iter().all(|x| x.signature_ok),
        "every delivery is signed with the current secret"
    );

    // Resumable and idempotent: a second run finds nothing to do.
    let (ok, out, _) = keys(&["keys", "rewrap"], &env).await;
    assert!(ok && out.contains("re-wrapped 0 data keys"), "{out}");
    let audited = scalar_i64(
        &db,
        "SELECT COUNT(*) FROM audit_log WHERE action IN ('key_rotate', 'key_rewrap') AND identity_id = 'system:cli'",
    )
    .await;
    assert_eq!(
        audited, 4,
        "two rotations and two rewraps are in the audit log"
    );

    // A restart with the same root key activates version 2 and opens the probe.
    let restarted = App::build(
        (*app.state.config).clone(),
        Arc::new(scaivault::clock::SystemClock),
    )
    .await
    .expect("restart with the same master key");
    assert_eq!(restarted.state.keys.active().id(), v2);
}

async fn keys_commands_refuse_a_different_master_key(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    assert!(app
        .put_secret("k/a", json!({"p": "1"}))
        .await
        .status
        .is_success());
    let (_, other_key) = scaivault::crypto::MasterKey::generate();
    let env = vec![
        ("SCAIVAULT_DATABASE_URL", app.database_url.clone()),
        ("SCAIVAULT_MASTER_KEY", other_key.to_string()),
    ];
    for args in [&["keys", "rotate"][..], &["keys", "rewrap"][..]] {
        let (ok, out, err) = keys(args, &env).await;
        assert!(!ok, "{args:?} must fail with another master key: {out}");
        assert!(err.contains("different master key"), "{args:?}: {err}");
        assert!(
            !err.contains(other_key.as_str()),
            "the key is never printed"
        );
    }
    let db = app.db().await;
    assert_eq!(
        scalar_i64(&db, "SELECT COUNT(*) FROM master_key_versions").await,
        0
    );
}
