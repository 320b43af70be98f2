//! Encryption at rest, checked on the stored bytes: no plaintext value or token in any row or
//! database file, and a ciphertext moved to another row fails to open (error, not wrong data).

use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row;

both_stores!(no_plaintext_in_storage, moved_ciphertext_fails_to_open);

async fn stored_text(app: &TestApp) -> String {
    match app.kind {
        StoreKind::Sqlite => {
            let f = app.sqlite_file.clone().unwrap();
            let mut all = Vec::new();
            for suffix in ["", "-wal", "-shm"] {
                let p = format!("{}{suffix}", f.display());
                if let Ok(b) = std::fs::read(&p) {
                    all.extend(b);
                }
            }
            String::from_utf8_lossy(&all).into_owned()
        }
        StoreKind::Postgres => {
            let db = app.db().await;
            let mut out = String::new();
            for t in [
                "tokens",
                "secrets",
                "secret_tags",
                "secret_versions",
                "audit_log",
                "meta",
                "events",
                "deliveries",
                "webhooks",
            ] {
                let rows = sqlx::query(&format!("SELECT CAST(t AS TEXT) AS r FROM {t} t"))
                    .fetch_all(&db)
                    .await
                    .unwrap();
                for r in rows {
                    out.push_str(&r.get::<String, _>("r"));
                }
            }
            out
        }
    }
}

async fn no_plaintext_in_storage(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let canary = format!("PLAINTEXT-CANARY-{}", uuid::Uuid::new_v4().simple());
    app.put_secret("vault/a", json!({"password": canary})).await;
    app.put_secret("vault/a", json!({"password": format!("{canary}-v2")}))
        .await;
    app.put_secret("vault/b", json!({"nested": {"key": canary}}))
        .await;
    let (_, token) = app.create_token("svc", &["secrets:read"], &[]).await;
    let r = app
        .call(
            reqwest::Method::GET,
            "/v1/secrets/vault/a",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.body["data"]["password"], format!("{canary}-v2"));
    let stored = stored_text(&app).await;
    assert!(stored.contains("vault/a"), "the scan must see the rows");
    assert!(
        !stored.contains(&canary),
        "a secret value is stored in plaintext"
    );
    assert!(
        !stored.contains(&app.root_token),
        "the root token is stored in plaintext"
    );
    assert!(
        !stored.contains(&token),
        "an API token is stored in plaintext"
    );
}

async fn moved_ciphertext_fails_to_open(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("move/a", json!({"v": "ALPHA-VALUE"})).await;
    app.put_secret("move/b", json!({"v": "BRAVO-VALUE"})).await;
    let db = app.db().await;
    let a = sqlx::query(
        "SELECT v.ciphertext, v.wrapped_key, v.key_id FROM secret_versions v JOIN secrets s ON s.id = v.secret_id WHERE s.path = 'move/a'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let (ct, wk, kid): (Vec<u8>, Vec<u8>, String) = (a.get(0), a.get(1), a.get(2));
    sqlx::query(
        "UPDATE secret_versions SET ciphertext = $1, wrapped_key = $2, key_id = $3 WHERE secret_id = (SELECT id FROM secrets WHERE path = 'move/b')",
    )
    .bind(&ct)
    .bind(&wk)
    .bind(&kid)
    .execute(&db)
    .await
    .unwrap();
    let r = app.get("/v1/secrets/move/b").await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.code(), "internal_error");
    assert!(!r.body.to_string().contains("ALPHA-VALUE"));
    // One flipped byte in A's own ciphertext also fails instead of returning altered data.
    let mut bad = ct.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    sqlx::query("UPDATE secret_versions SET ciphertext = $1 WHERE secret_id = (SELECT id FROM secrets WHERE path = 'move/a')")
        .bind(&bad)
        .execute(&db)
        .await
        .unwrap();
    let r = app.get("/v1/secrets/move/a").await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
}
