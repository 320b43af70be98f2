//! Encryption at rest, checked on the stored bytes: no secret value, webhook signing secret or
//! API token appears in any row (PostgreSQL) or anywhere in the database files (SQLite, WAL
//! included) — neither raw nor hex- nor base64-encoded — and a ciphertext that is moved to
//! another row — another path, version or tenant, or the row of a secret re-created at the
//! same path — or altered, fails to open (500 `internal_error`), never yielding wrong data.

use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Row;

both_stores!(
    no_plaintext_value_or_token_in_storage,
    ciphertext_moved_to_another_path_fails_to_open,
    ciphertext_moved_across_versions_or_tenants_fails_to_open,
    altered_ciphertext_or_wrapped_key_fails_to_open,
    ciphertext_copied_into_a_recreated_secret_fails_to_open,
);

/// Everything the database holds, as bytes.
async fn stored_bytes(app: &TestApp) -> Vec<u8> {
    match app.kind {
        StoreKind::Sqlite => {
            let f = app.sqlite_file.clone().expect("sqlite file");
            let mut all = Vec::new();
            let mut found = 0;
            for suffix in ["", "-wal", "-shm"] {
                if let Ok(b) = std::fs::read(format!("{}{suffix}", f.display())) {
                    found += 1;
                    all.extend(b);
                }
            }
            assert!(found >= 1, "no database file at {}", f.display());
            all
        }
        StoreKind::Postgres => {
            let db = app.db().await;
            let tables: Vec<String> = sqlx::query(
                "SELECT table_name::text AS t FROM information_schema.tables \
                 WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
            )
            .fetch_all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.get::<String, _>("t"))
            .collect();
            for t in [
                "tokens",
                "secrets",
                "secret_versions",
                "audit_log",
                "meta",
                "events",
            ] {
                assert!(
                    tables.iter().any(|x| x == t),
                    "table {t} missing: {tables:?}"
                );
            }
            let mut out = Vec::new();
            for t in &tables {
                let rows = sqlx::query(&format!("SELECT CAST(x AS TEXT) AS r FROM \"{t}\" x"))
                    .fetch_all(&db)
                    .await
                    .unwrap();
                for r in rows {
                    out.extend(r.get::<String, _>("r").into_bytes());
                    out.push(b'\n');
                }
            }
            db.close().await;
            out
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The forms a leaked value could take: raw, hex (PostgreSQL renders bytea as hex), and
/// base64 at each of the three alignments (only the part fixed by the value itself).
fn encodings(value: &str) -> Vec<(String, Vec<u8>)> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = vec![
        ("raw".to_string(), value.as_bytes().to_vec()),
        ("hex".to_string(), hex::encode(value).into_bytes()),
    ];
    for k in 0..3usize {
        let mut input = vec![b'x'; k];
        input.extend_from_slice(value.as_bytes());
        let enc = b64.encode(&input);
        let start = if k == 0 { 0 } else { 4 };
        let inner = &enc[start..enc.len() - 4];
        out.push((format!("base64/{k}"), inner.as_bytes().to_vec()));
    }
    out
}

fn assert_absent(stored: &[u8], what: &str, value: &str) {
    for (form, bytes) in encodings(value) {
        assert!(
            !contains(stored, &bytes),
            "{what} is stored in plaintext ({form})"
        );
    }
}

async fn no_plaintext_value_or_token_in_storage(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let canary = |n: u32| format!("PLAINTEXT-CANARY-{n}-{}", uuid::Uuid::new_v4().simple());
    let (c1, c2, c3, c4, c5, c6) = (
        canary(1),
        canary(2),
        canary(3),
        canary(4),
        canary(5),
        canary(6),
    );
    // Several secrets, several versions, types and nestings.
    app.put_secret("vault/a", json!({"password": c1})).await;
    app.put_secret("vault/a", json!({"password": c2})).await;
    app.put_secret("vault/b", json!({"nested": {"deep": [c3]}}))
        .await;
    let r = app
        .put(
            "/v1/secrets/vault/key",
            &json!({"data": {"api_key": c4}, "secret_type": "api_key",
                    "metadata": {"description": "stored in clear on purpose", "tags": ["prod"]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // A soft-deleted secret keeps its (encrypted) versions.
    app.put_secret("vault/gone", json!({"v": c5})).await;
    assert_eq!(
        app.delete("/v1/secrets/vault/gone").await.status,
        StatusCode::OK
    );
    // A webhook signing secret is sealed the same way.
    let whsec = format!("whsec_{}", c6);
    let r = app
        .post(
            "/v1/webhooks",
            &json!({"name": "canary-hook", "url": "http://127.0.0.1:9/hook",
                    "secret": whsec, "events": ["*"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // Tokens: created through the API, used, one revoked.
    let (_, reader) = app.create_token("svc", &["secrets:read"], &[]).await;
    let (rid, revoked) = app.create_token("old", &["secrets:read"], &[]).await;
    assert_eq!(
        app.delete(&format!("/v1/auth/tokens/{rid}")).await.status,
        StatusCode::NO_CONTENT
    );
    let bad = format!("{reader}-not-valid");
    assert_eq!(
        app.call(Method::GET, "/v1/auth/whoami", Some(&bad), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // Reads (audited) and a batch read.
    let r = app
        .call(Method::GET, "/v1/secrets/vault/a", Some(&reader), None)
        .await;
    assert_eq!(r.body["data"]["password"], c2.as_str());
    let r = app.get("/v1/secrets/vault/a?version=1").await;
    assert_eq!(r.body["data"]["password"], c1.as_str());
    let r = app
        .post(
            "/v1/secrets/batch",
            &json!({"paths": ["vault/a", "vault/b", "vault/key"]}),
        )
        .await;
    assert_eq!(
        r.body["secrets"]["vault/b"]["data"]["nested"]["deep"][0],
        c3.as_str()
    );

    let stored = stored_bytes(&app).await;
    // The scan sees the rows it is meant to see.
    for visible in [
        "vault/a",
        "vault/key",
        "stored in clear on purpose",
        "canary-hook",
    ] {
        assert!(
            contains(&stored, visible.as_bytes()),
            "the scan misses '{visible}'"
        );
    }
    for (what, v) in [
        ("secret value 1", &c1),
        ("secret value 2", &c2),
        ("a nested value", &c3),
        ("an api_key value", &c4),
        ("a soft-deleted value", &c5),
        ("a webhook signing secret", &whsec),
        ("the root token", &app.root_token),
        ("an API token", &reader),
        ("a revoked token", &revoked),
        ("a refused token", &bad),
    ] {
        assert_absent(&stored, what, v);
    }
    // Nor the token bodies without their prefix.
    assert_absent(&stored, "an API token body", &reader["skt_".len()..]);
    // Each version row holds a ciphertext no shorter than nonce + tag.
    let db = app.db().await;
    let rows = sqlx::query("SELECT ciphertext, wrapped_key, key_id FROM secret_versions")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 5);
    for r in rows {
        let (ct, wk, kid): (Vec<u8>, Vec<u8>, String) = (r.get(0), r.get(1), r.get(2));
        assert!(ct.len() >= 12 + 16, "{}", ct.len());
        assert_eq!(wk.len(), 12 + 32 + 16);
        assert!(!kid.is_empty());
    }
}

/// A stored sealed value: (ciphertext, wrapped_key, key_id).
type Sealed = (Vec<u8>, Vec<u8>, String);

/// The sealed value of one version of a path, in any tenant.
async fn sealed_of(db: &sqlx::AnyPool, tenant: &str, path: &str, version: i64) -> Sealed {
    let r = sqlx::query(
        "SELECT v.ciphertext, v.wrapped_key, v.key_id FROM secret_versions v \
         JOIN secrets s ON s.id = v.secret_id \
         WHERE s.tenant_id = $1 AND s.path = $2 AND v.version = $3",
    )
    .bind(tenant)
    .bind(path)
    .bind(version)
    .fetch_one(db)
    .await
    .unwrap();
    (r.get(0), r.get(1), r.get(2))
}

async fn put_sealed(db: &sqlx::AnyPool, tenant: &str, path: &str, version: i64, sealed: &Sealed) {
    let done = sqlx::query(
        "UPDATE secret_versions SET ciphertext = $1, wrapped_key = $2, key_id = $3 \
         WHERE version = $4 AND secret_id = \
         (SELECT id FROM secrets WHERE tenant_id = $5 AND path = $6)",
    )
    .bind(&sealed.0)
    .bind(&sealed.1)
    .bind(&sealed.2)
    .bind(version)
    .bind(tenant)
    .bind(path)
    .execute(db)
    .await
    .unwrap();
    assert_eq!(done.rows_affected(), 1);
}

/// A read that must fail to open: 500 `internal_error`, and no trace of `never` in the answer.
fn assert_refused(r: &crate::common::Resp, never: &str) {
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.body);
    assert_eq!(r.code(), "internal_error");
    assert!(r.body.get("data").is_none(), "{}", r.body);
    assert!(!r.body.to_string().contains(never), "{}", r.body);
}

async fn ciphertext_moved_to_another_path_fails_to_open(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let alpha = format!("ALPHA-CANARY-{}", uuid::Uuid::new_v4().simple());
    app.put_secret("move/a", json!({"v": alpha})).await;
    app.put_secret("move/b", json!({"v": "BRAVO-VALUE"})).await;
    let db = app.db().await;
    let a = sealed_of(&db, "tnt_default", "move/a", 1).await;
    put_sealed(&db, "tnt_default", "move/b", 1, &a).await;

    let r = app.get("/v1/secrets/move/b").await;
    assert_refused(&r, &alpha);
    assert!(!r.body.to_string().contains("BRAVO-VALUE"));
    let r = app.get("/v1/secrets/move/b?version=1").await;
    assert_refused(&r, &alpha);
    // In a batch read it is an error entry, and the other paths still read.
    let r = app
        .post("/v1/secrets/batch", &json!({"paths": ["move/a", "move/b"]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["secrets"]["move/a"]["data"]["v"], alpha.as_str());
    assert!(r.body["secrets"].get("move/b").is_none(), "{}", r.body);
    assert_eq!(r.body["errors"]["move/b"]["code"], "internal_error");
    let text = r.body["errors"].to_string();
    assert!(!text.contains(&alpha), "{text}");
    // The original still opens where it belongs.
    assert_eq!(
        app.get("/v1/secrets/move/a").await.body["data"]["v"],
        alpha.as_str()
    );
    // A new write to B works again (fresh version, fresh data key).
    app.put_secret("move/b", json!({"v": "BRAVO-2"})).await;
    assert_eq!(
        app.get("/v1/secrets/move/b").await.body["data"]["v"],
        "BRAVO-2"
    );
}

async fn ciphertext_moved_across_versions_or_tenants_fails_to_open(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let v1 = format!("VERSION-ONE-{}", uuid::Uuid::new_v4().simple());
    app.put_secret("swap/x", json!({"v": v1})).await;
    app.put_secret("swap/x", json!({"v": "VERSION-TWO"})).await;
    let db = app.db().await;
    // Version 1's sealed value copied over version 2 (a "rollback" done in the database).
    let old = sealed_of(&db, "tnt_default", "swap/x", 1).await;
    put_sealed(&db, "tnt_default", "swap/x", 2, &old).await;
    assert_refused(&app.get("/v1/secrets/swap/x").await, &v1);
    assert_eq!(
        app.get("/v1/secrets/swap/x?version=1").await.body["data"]["v"],
        v1.as_str()
    );

    // Same path in another tenant: tenant A's sealed value does not open as tenant B's.
    let b = app.token_in_tenant("tnt_b", &["admin"]).await;
    let r = app
        .call(
            Method::PUT,
            "/v1/secrets/swap/x",
            Some(&b),
            Some(&json!({"data": {"v": "TENANT-B"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    put_sealed(&db, "tnt_b", "swap/x", 1, &old).await;
    let r = app
        .call(Method::GET, "/v1/secrets/swap/x", Some(&b), None)
        .await;
    assert_refused(&r, &v1);
}

async fn altered_ciphertext_or_wrapped_key_fails_to_open(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let value = format!("TAMPER-CANARY-{}", uuid::Uuid::new_v4().simple());
    let db = app.db().await;
    // Flip one byte at several positions of the ciphertext (nonce, body, tag), then of the
    // wrapped key; and name an unknown master key. Each must fail, never return altered data.
    let original = {
        app.put_secret("tamper/x", json!({"v": value})).await;
        sealed_of(&db, "tnt_default", "tamper/x", 1).await
    };
    let n = original.0.len();
    let mut cases: Vec<(String, Sealed)> = Vec::new();
    for pos in [0, 12, n / 2, n - 1] {
        let mut s = original.clone();
        s.0[pos] ^= 0x01;
        cases.push((format!("ciphertext byte {pos}"), s));
    }
    for pos in [0, 20, original.1.len() - 1] {
        let mut s = original.clone();
        s.1[pos] ^= 0x80;
        cases.push((format!("wrapped key byte {pos}"), s));
    }
    let mut truncated = original.clone();
    truncated.0.truncate(n - 1);
    cases.push(("truncated ciphertext".into(), truncated));
    let mut unknown = original.clone();
    unknown.2 = "mk_0000000000000000".into();
    cases.push(("unknown key id".into(), unknown));
    for (what, sealed) in cases {
        put_sealed(&db, "tnt_default", "tamper/x", 1, &sealed).await;
        let r = app.get("/v1/secrets/tamper/x").await;
        assert_eq!(
            r.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{what}: {}",
            r.body
        );
        assert_eq!(r.code(), "internal_error", "{what}");
        assert!(r.body.get("data").is_none(), "{what}");
    }
    // Put back, it opens again: the failures were the tampering, nothing else.
    put_sealed(&db, "tnt_default", "tamper/x", 1, &original).await;
    let r = app.get("/v1/secrets/tamper/x").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["v"], value.as_str());
}

/// A database-level attacker (or a bad restore) keeps a version of a secret, the secret is
/// destroyed and re-created at the same path (a new secret id), and the kept row is copied
/// over the new secret's version 1: same tenant, path and version, but another secret.
async fn ciphertext_copied_into_a_recreated_secret_fails_to_open(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let old_value = format!("OLD-SECRET-{}", uuid::Uuid::new_v4().simple());
    app.put_secret("recreated/p", json!({"v": old_value})).await;
    let db = app.db().await;
    let old_id: String =
        sqlx::query_scalar("SELECT id FROM secrets WHERE tenant_id = $1 AND path = $2")
            .bind("tnt_default")
            .bind("recreated/p")
            .fetch_one(&db)
            .await
            .unwrap();
    let kept = sealed_of(&db, "tnt_default", "recreated/p", 1).await;
    let r = app.delete("/v1/secrets/recreated/p?permanent=true").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.put_secret("recreated/p", json!({"v": "NEW-SECRET"}))
        .await;
    let new_id: String =
        sqlx::query_scalar("SELECT id FROM secrets WHERE tenant_id = $1 AND path = $2")
            .bind("tnt_default")
            .bind("recreated/p")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_ne!(old_id, new_id, "the re-created secret has a new id");
    put_sealed(&db, "tnt_default", "recreated/p", 1, &kept).await;

    let r = app.get("/v1/secrets/recreated/p").await;
    assert_refused(&r, &old_value);
    assert!(!r.body.to_string().contains("NEW-SECRET"), "{}", r.body);
    assert_refused(
        &app.get("/v1/secrets/recreated/p?version=1").await,
        &old_value,
    );
    // A new write to the re-created secret works again.
    app.put_secret("recreated/p", json!({"v": "NEW-2"})).await;
    assert_eq!(
        app.get("/v1/secrets/recreated/p").await.body["data"]["v"],
        "NEW-2"
    );
}
