//! Secret versions sealed with the first binding format (tenant, path, version — before the
//! secret id was bound too) still read, and `scaivault keys rewrap` (the real binary) re-seals
//! them under the current format; a row that does not open is reported by id and path (never a
//! value) and left as it is while the rest are re-sealed.

use crate::common::{StoreKind, TestApp};
use crate::keys::{cli_env, keys};
use reqwest::StatusCode;
use scaivault::crypto::binding::{SecretSlot, AAD_V1, AAD_V2};
use scaivault::crypto::{open, seal, Sealed};
use serde_json::json;
use sqlx::Row;

crate::both_stores!(
    v1_bound_row_reads_and_rewrap_reseals_it_as_v2,
    rewrap_reports_and_skips_a_row_that_does_not_open,
);

/// The id of the secret at `path` in the default tenant.
async fn secret_id(db: &sqlx::AnyPool, path: &str) -> String {
    sqlx::query_scalar("SELECT id FROM secrets WHERE tenant_id = 'tnt_default' AND path = $1")
        .bind(path)
        .fetch_one(db)
        .await
        .expect("secret row")
}

/// The stored version 1 of `path`: its sealed value and binding format.
async fn stored(db: &sqlx::AnyPool, path: &str) -> (Sealed, i64) {
    let id = secret_id(db, path).await;
    let r = sqlx::query(
        "SELECT ciphertext, wrapped_key, key_id, aad_version FROM secret_versions \
         WHERE secret_id = $1 AND version = 1",
    )
    .bind(&id)
    .fetch_one(db)
    .await
    .expect("version row");
    let sealed = Sealed {
        ciphertext: r.get(0),
        wrapped_key: r.get(1),
        key_id: r.get(2),
    };
    (sealed, r.get(3))
}

/// Writes `path` (version 1) through the API, then replaces its stored row with `value` sealed
/// the way releases before the v2 binding did (`aad_version` 1).
async fn put_v1_bound(app: &TestApp, db: &sqlx::AnyPool, path: &str, value: &serde_json::Value) {
    let r = app.put_secret(path, json!({"placeholder": true})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = secret_id(db, path).await;
    let slot = SecretSlot {
        tenant: "tnt_default",
        secret_id: &id,
        path,
        version: 1,
    };
    let binding = slot.binding(AAD_V1).expect("v1 binding");
    let sealed = seal(&app.state.keys, &binding, value.to_string().as_bytes());
    let done = sqlx::query(
        "UPDATE secret_versions SET ciphertext = $1, wrapped_key = $2, key_id = $3, \
         aad_version = 1 WHERE secret_id = $4 AND version = 1",
    )
    .bind(&sealed.ciphertext)
    .bind(&sealed.wrapped_key)
    .bind(&sealed.key_id)
    .bind(&id)
    .execute(db)
    .await
    .expect("write the v1 row");
    assert_eq!(done.rows_affected(), 1);
}

/// Opens the stored version 1 of `path` in-process under binding format `aad_version`.
async fn opens_as(app: &TestApp, db: &sqlx::AnyPool, path: &str, aad_version: i64) -> bool {
    let id = secret_id(db, path).await;
    let (sealed, _) = stored(db, path).await;
    let slot = SecretSlot {
        tenant: "tnt_default",
        secret_id: &id,
        path,
        version: 1,
    };
    let binding = slot.binding(aad_version).expect("known format");
    open(&app.state.keys, &binding, &sealed).is_ok()
}

async fn v1_bound_row_reads_and_rewrap_reseals_it_as_v2(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let db = app.db().await;
    let legacy = json!({"password": format!("LEGACY-{}", uuid::Uuid::new_v4().simple())});
    put_v1_bound(&app, &db, "legacy/db", &legacy).await;
    let modern = json!({"password": "MODERN-VALUE"});
    app.put_secret("modern/db", modern.clone()).await;
    assert_eq!(stored(&db, "modern/db").await.1, AAD_V2, "new rows are v2");
    let (before, format) = stored(&db, "legacy/db").await;
    assert_eq!(format, AAD_V1);

    let r = app.get("/v1/secrets/legacy/db").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"], legacy);

    let (ok, out, err) = keys(&["keys", "rewrap"], &cli_env(&app)).await;
    assert!(ok, "keys rewrap failed: {out} {err}");
    assert!(out.contains("1 values re-sealed"), "{out}");
    assert!(out.contains("0 left under older keys"), "{out}");
    assert!(
        !out.contains("LEGACY-") && !err.contains("LEGACY-"),
        "{out} {err}"
    );

    let (after, format) = stored(&db, "legacy/db").await;
    assert_eq!(format, AAD_V2, "the row is re-sealed under the v2 binding");
    assert_ne!(after.ciphertext, before.ciphertext);
    assert_ne!(after.wrapped_key, before.wrapped_key);
    assert!(opens_as(&app, &db, "legacy/db", AAD_V2).await);
    assert!(!opens_as(&app, &db, "legacy/db", AAD_V1).await);
    // The server reads it (an explicit version: not the read cached before the rewrap).
    let r = app.get("/v1/secrets/legacy/db?version=1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"], legacy);
    assert_eq!(app.get("/v1/secrets/modern/db").await.body["data"], modern);
    // Nothing left: a second run re-seals nothing.
    let (ok, out, _) = keys(&["keys", "rewrap"], &cli_env(&app)).await;
    assert!(ok && out.contains("0 values re-sealed"), "{out}");
}

async fn rewrap_reports_and_skips_a_row_that_does_not_open(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let db = app.db().await;
    let value = |p: &str| json!({"v": format!("VALUE-OF-{p}-{}", uuid::Uuid::new_v4().simple())});
    let paths = ["skip/a", "skip/b", "skip/c"];
    let values: Vec<_> = paths.iter().map(|p| value(p)).collect();
    for (p, v) in paths.iter().zip(&values) {
        put_v1_bound(&app, &db, p, v).await;
    }
    // skip/b's ciphertext is altered: it cannot be opened, so cannot be re-sealed.
    let broken_id = secret_id(&db, "skip/b").await;
    let (mut broken, _) = stored(&db, "skip/b").await;
    broken.ciphertext[20] ^= 0x01;
    sqlx::query("UPDATE secret_versions SET ciphertext = $1 WHERE secret_id = $2")
        .bind(&broken.ciphertext)
        .bind(&broken_id)
        .execute(&db)
        .await
        .expect("alter the row");

    let (ok, out, err) = keys(&["keys", "rewrap", "--batch-size", "1"], &cli_env(&app)).await;
    assert!(!ok, "a run that left a row behind exits non-zero: {out}");
    assert!(out.contains("2 values re-sealed"), "{out}");
    assert!(out.contains("1 left under older keys"), "{out}");
    assert!(out.contains("1 stored rows could not be opened"), "{out}");
    assert!(
        out.contains(&format!(
            "version 1 of secret {broken_id} (tenant tnt_default, path skip/b)"
        )),
        "{out}"
    );
    assert!(out.contains("failed its integrity check"), "{out}");
    assert!(err.contains("could not be opened"), "{err}");
    for v in &values {
        let text = v["v"].as_str().expect("text");
        assert!(
            !out.contains(text) && !err.contains(text),
            "a value was printed"
        );
    }

    // The others are re-sealed and read; the broken row is untouched.
    for (p, v) in paths.iter().zip(&values) {
        let (sealed, format) = stored(&db, p).await;
        if *p == "skip/b" {
            assert_eq!(format, AAD_V1);
            assert_eq!(sealed.ciphertext, broken.ciphertext);
            continue;
        }
        assert_eq!(format, AAD_V2, "{p}");
        let r = app.get(&format!("/v1/secrets/{p}?version=1")).await;
        assert_eq!(r.status, StatusCode::OK, "{p}: {}", r.body);
        assert_eq!(&r.body["data"], v, "{p}");
    }
    let extra: String = sqlx::query_scalar(
        "SELECT extra_data FROM audit_log WHERE action = 'key_rewrap' AND identity_id = 'system:cli'",
    )
    .fetch_one(&db)
    .await
    .expect("the rewrap's audit row");
    let extra: serde_json::Value = serde_json::from_str(&extra).expect("json");
    assert_eq!(
        (extra["unopenable"].clone(), extra["resealed"].clone()),
        (json!(1), json!(2))
    );
}
