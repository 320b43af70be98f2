//! Read alerts (SPEC §11): every successful read of a secret flagged `alert_on_read` (one
//! version or another, batch read, the Vault read) emits `secret.accessed`, committed with the
//! read's audit row; reads of unflagged secrets emit nothing.

use crate::both_stores;
use crate::common::receiver::Receiver;
use crate::common::{allow_loopback_webhooks, StoreKind, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

both_stores!(
    flagged_reads_emit_secret_accessed_and_unflagged_do_not,
    batch_and_vault_reads_alert_too,
    alerts_reach_webhooks_and_survive_read_auditing_off,
    a_token_revoked_behind_the_servers_back_reads_no_flagged_secret,
);

const SECRET: &str = "whsec_read_alerts_0123456789abcdef";

/// The `secret.accessed` events of the feed.
async fn accessed(app: &TestApp) -> Vec<Value> {
    let r = app.get("/v1/events?types=secret.accessed").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["events"].as_array().cloned().unwrap_or_default()
}

async fn flagged_reads_emit_secret_accessed_and_unflagged_do_not(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let r = app
        .put(
            "/v1/secrets/honey/aws",
            &json!({"data": {"key": "AKIA-HONEY"}, "options": {"alert_on_read": true}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    app.put_secret("honey/aws", json!({"key": "AKIA-HONEY-2"}))
        .await;
    app.put_secret("plain/db", json!({"pw": "x"})).await;
    let meta = app.get("/v1/secrets/honey/aws/metadata").await;
    assert_eq!(meta.body["alert_on_read"], true, "{}", meta.body);

    let (_, reader) = app.create_token("reader", &["secrets:read"], &[]).await;
    for path in ["/v1/secrets/honey/aws", "/v1/secrets/honey/aws?version=1"] {
        let r = app.call(Method::GET, path, Some(&reader), None).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    app.call(Method::GET, "/v1/secrets/plain/db", Some(&reader), None)
        .await;
    // A failed read (a version that does not exist) alerts nothing.
    let r = app
        .call(
            Method::GET,
            "/v1/secrets/honey/aws?version=9",
            Some(&reader),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let events = accessed(&app).await;
    assert_eq!(events.len(), 2, "{events:?}");
    let versions: Vec<i64> = events
        .iter()
        .map(|e| e["data"]["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [2, 1]);
    for e in &events {
        assert_eq!(e["path"], "honey/aws");
        assert_eq!(e["identity_id"], "sa:reader");
        assert_eq!(e["data"]["accessed_by"], "sa:reader");
        assert_eq!(e["data"]["source_ip"], "127.0.0.1");
        assert!(e["data"].get("user_agent").is_some());
        assert!(!e.to_string().contains("AKIA-HONEY"), "never the value");
        // Committed with the read's audit row: the same request.
        let rid = e["request_id"].as_str().unwrap();
        let rows = app.get(&format!("/v1/audit/logs?request_id={rid}")).await;
        assert_eq!(rows.body["logs"][0]["action"], "read");
        assert_eq!(rows.body["logs"][0]["secret_path"], "honey/aws");
    }

    // Turned off by a metadata change: no more alerts.
    let r = app
        .call(
            Method::PATCH,
            "/v1/secrets/honey/aws/metadata",
            Some(&app.root_token),
            Some(&json!({"options": {"alert_on_read": false}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["alert_on_read"], false);
    app.call(Method::GET, "/v1/secrets/honey/aws", Some(&reader), None)
        .await;
    assert_eq!(accessed(&app).await.len(), 2);
}

async fn batch_and_vault_reads_alert_too(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put(
        "/v1/secrets/honey/one",
        &json!({"data": {"k": "v"}, "options": {"alert_on_read": true}}),
    )
    .await;
    app.put_secret("plain/two", json!({"k": "v"})).await;
    let r = app
        .post(
            "/v1/secrets/batch",
            &json!({"paths": ["honey/one", "plain/two", "missing/three"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let events = accessed(&app).await;
    assert_eq!(events.len(), 1, "only the flagged secret: {events:?}");
    assert_eq!(events[0]["path"], "honey/one");

    let r = app
        .client
        .get(app.url("/v1/secret/data/honey/one"))
        .header("X-Vault-Token", &app.root_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let events = accessed(&app).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["data"]["version"], 1);
    // The Vault dialect sets the flag through the native metadata only; a Vault write keeps it.
    let r = app
        .client
        .post(app.url("/v1/secret/data/honey/one"))
        .header("X-Vault-Token", &app.root_token)
        .json(&json!({"data": {"k": "v2"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        app.get("/v1/secrets/honey/one/metadata").await.body["alert_on_read"],
        true
    );
}

async fn alerts_reach_webhooks_and_survive_read_auditing_off(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |c| {
        allow_loopback_webhooks(c);
        c.audit_reads = false;
    })
    .await;
    let rx = Receiver::start(SECRET).await;
    let r = app
        .post(
            "/v1/webhooks",
            &json!({"name": "alerts", "url": rx.url, "secret": SECRET, "events": ["secret.accessed"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    app.put(
        "/v1/secrets/honey/db",
        &json!({"data": {"pw": "x"}, "options": {"alert_on_read": true}}),
    )
    .await;
    app.put_secret("plain/db", json!({"pw": "y"})).await;
    app.get("/v1/secrets/plain/db").await;
    app.get("/v1/secrets/honey/db").await;
    let got = rx.wait_for("secret.accessed", |r| !r.is_empty()).await;
    assert_eq!(got.len(), 1);
    assert!(got[0].signature_ok);
    assert_eq!(got[0].event_type, "secret.accessed");
    assert_eq!(got[0].body["path"], "honey/db");
    // Read auditing is off, but a flagged read keeps its audit row; the unflagged one has none.
    let rows = app.get("/v1/audit/logs?action=read").await;
    let paths: Vec<&str> = rows.body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["secret_path"].as_str())
        .collect();
    assert_eq!(paths, ["honey/db"]);
}

async fn a_token_revoked_behind_the_servers_back_reads_no_flagged_secret(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put(
        "/v1/secrets/honey/key",
        &json!({"data": {"k": "v"}, "options": {"alert_on_read": true}}),
    )
    .await;
    let (id, tok) = app.create_token("reader", &["secrets:read"], &[]).await;
    for _ in 0..2 {
        let r = app
            .call(Method::GET, "/v1/secrets/honey/key", Some(&tok), None)
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    // Revoked with SQL, as another process or replica would: this server's token cache is
    // not told, so the flagged read's own transaction must catch it.
    let db = app.db().await;
    sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2")
        .bind(app.clock_now().timestamp_micros())
        .bind(&id)
        .execute(&db)
        .await
        .unwrap();
    let r = app
        .call(Method::GET, "/v1/secrets/honey/key", Some(&tok), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert_eq!(r.code(), "token_revoked");
    assert!(r.body.get("data").is_none());
    assert_eq!(
        accessed(&app).await.len(),
        2,
        "no alert for the refused read"
    );
}
