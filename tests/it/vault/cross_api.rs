//! A write through Vault's API is a native write: readable natively and back, the same audit
//! rows and events as the native API's, and it completes a pending rotation.

use super::vault_call;
use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;

both_stores!(
    written_through_vault_read_natively_and_back,
    audit_rows_and_events_match_the_native_ones,
    a_vault_write_completes_a_pending_rotation,
);

async fn written_through_vault_read_natively_and_back(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let t = &app.root_token;
    let r = vault_call(
        &app,
        "PUT",
        "/v1/secret/data/x/vault-made",
        t,
        Some(&json!({"data": {"n": 1, "s": "v"}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let native = app.get("/v1/secrets/x/vault-made").await;
    assert_eq!(native.body["data"], json!({"n": 1, "s": "v"}));
    assert_eq!(native.body["version"], 1);
    assert_eq!(native.body["secret_type"], "json");

    app.put_secret("x/native-made", json!({"k": "native"}))
        .await;
    app.put_secret("x/native-made", json!({"k": "native2"}))
        .await;
    let r = vault_call(&app, "GET", "/v1/secret/data/x/native-made", t, None).await;
    assert_eq!(r.body["data"]["data"], json!({"k": "native2"}));
    assert_eq!(r.body["data"]["metadata"]["version"], 2);
    let r = vault_call(&app, "LIST", "/v1/secret/metadata/x", t, None).await;
    assert_eq!(r.body["data"]["keys"], json!(["native-made", "vault-made"]));
}

/// The audit rows of `action` on `path`, newest first.
async fn audit_rows(app: &TestApp, action: &str, path: &str) -> Vec<Value> {
    let r = app
        .get(&format!(
            "/v1/audit/logs?action={action}&path_prefix={path}"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["secret_path"] == path)
        .cloned()
        .collect()
}

/// What must be equal between two audit rows of the same operation on different paths.
fn comparable(row: &Value) -> Value {
    let mut r = row.clone();
    let o = r.as_object_mut().unwrap();
    // The chain position is set when the sealer reaches the row.
    o.remove("seq");
    for varying in [
        "id",
        "timestamp",
        "secret_path",
        "request_id",
        "duration_ms",
        "user_agent",
    ] {
        assert!(
            o.remove(varying).is_some() || varying == "user_agent",
            "{varying} in {row}"
        );
    }
    r
}

async fn audit_rows_and_events_match_the_native_ones(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let t = &app.root_token;
    // The same three operations, natively and through Vault.
    app.put_secret("native/s", json!({"a": "1"})).await;
    app.put_secret("native/s", json!({"a": "2"})).await;
    app.get("/v1/secrets/native/s").await;
    for body in [json!({"data": {"a": "1"}}), json!({"data": {"a": "2"}})] {
        let r = vault_call(&app, "POST", "/v1/secret/data/vault/s", t, Some(&body)).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    assert_eq!(
        vault_call(&app, "GET", "/v1/secret/data/vault/s", t, None)
            .await
            .status,
        StatusCode::OK
    );

    for action in ["write", "read"] {
        // By version: rows of one test-clock instant share their timestamp.
        let mut native: Vec<Value> = audit_rows(&app, action, "native/s")
            .await
            .iter()
            .map(comparable)
            .collect();
        native.sort_by_key(|r| r["version"].as_i64());
        let mut vault: Vec<Value> = audit_rows(&app, action, "vault/s")
            .await
            .iter()
            .map(comparable)
            .collect();
        vault.sort_by_key(|r| r["version"].as_i64());
        assert!(!native.is_empty());
        assert_eq!(vault, native, "{action} rows");
    }

    let r = app.get("/v1/events").await;
    assert_eq!(r.status, StatusCode::OK);
    let events = r.body["events"].as_array().unwrap();
    let shape = |path: &str| -> Vec<(String, BTreeSet<String>, Value)> {
        events
            .iter()
            .filter(|e| e["path"] == path)
            .map(|e| {
                let keys = e["data"].as_object().unwrap().keys().cloned().collect();
                let mut data = e["data"].clone();
                data.as_object_mut().unwrap().remove("expires_at");
                (e["event_type"].as_str().unwrap().to_string(), keys, data)
            })
            .collect()
    };
    let native = shape("native/s");
    assert_eq!(native.len(), 2);
    assert_eq!(
        shape("vault/s"),
        native,
        "the same events with the same data"
    );
}

async fn a_vault_write_completes_a_pending_rotation(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("rot/db", json!({"pw": "one"})).await;
    let r = app
        .post(
            "/v1/rotation/policies",
            &json!({"name": "manual", "interval": "90d"}),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/v1/rotation/policies/{id}/secrets"),
        &json!({"secret_path": "rot/db"}),
    )
    .await;
    let r = app
        .post(&format!("/v1/rotation/policies/{id}/rotate"), &json!({}))
        .await;
    assert_eq!(r.body[0]["status"], "pending", "{}", r.body);
    let r = vault_call(
        &app,
        "POST",
        "/v1/secret/data/rot/db",
        &app.root_token,
        Some(&json!({"data": {"pw": "two"}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let h = app
        .get(&format!("/v1/rotation/policies/{id}/history"))
        .await;
    assert_eq!(h.body["data"][0]["status"], "success", "{}", h.body);
    assert_eq!(h.body["data"][0]["new_version"], 2);
}
