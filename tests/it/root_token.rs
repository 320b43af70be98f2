//! `SCAIVAULT_ROOT_TOKEN` across restarts: a changed value revokes the previous root token
//! (audited); an unchanged value keeps its row, so replicas already serving never lose it.

use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::Value;

both_stores!(
    changed_root_token_revokes_the_previous_one,
    unchanged_root_token_keeps_its_row,
);

/// `GET base/path` with a bearer token.
async fn get_at(app: &TestApp, base: &str, path: &str, token: &str) -> crate::common::Resp {
    let res = app
        .client
        .request(Method::GET, format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request sent");
    TestApp::into_resp(res).await
}

/// The token list entries named `root`, as the API shows them.
async fn root_entries(app: &TestApp, base: &str, token: &str) -> Vec<Value> {
    let r = get_at(app, base, "/v1/auth/tokens", token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .filter(|t| t["name"] == "root")
        .cloned()
        .collect()
}

async fn changed_root_token_revokes_the_previous_one(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let old = app.root_token.clone();
    let old_id = root_entries(&app, &app.base, &old).await[0]["id"].clone();
    let new = format!("skt_test_{}", uuid::Uuid::new_v4().simple());
    let value = SecretString::from(new.clone());
    let restarted = app.serve_replica(move |c| c.root_token = Some(value)).await;

    let r = get_at(&app, &restarted.base, "/v1/auth/whoami", &new).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["scopes"], serde_json::json!(["admin"]));
    let r = get_at(&app, &restarted.base, "/v1/auth/whoami", &old).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert_eq!(r.code(), "token_revoked");
    // The server still running from before learns of it too.
    let r = get_at(&app, &app.base, "/v1/auth/whoami", &old).await;
    assert_eq!(r.code(), "token_revoked");

    let roots = root_entries(&app, &restarted.base, &new).await;
    let old_entry = roots.iter().find(|t| t["id"] == old_id).expect("old row");
    assert_eq!(old_entry["status"], "revoked");
    assert_eq!(
        roots.iter().filter(|t| t["status"] == "active").count(),
        1,
        "{roots:#?}"
    );

    let logs = get_at(
        &app,
        &restarted.base,
        "/v1/audit/logs?action=token_revoke",
        &new,
    )
    .await;
    assert_eq!(logs.status, StatusCode::OK, "{}", logs.body);
    let rows = logs.body["logs"].as_array().expect("logs");
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["identity_id"], "system:bootstrap");
    assert_eq!(rows[0]["identity_type"], "system");
    assert_eq!(rows[0]["success"], true);
    assert_eq!(rows[0]["extra_data"]["token_id"], old_id);
}

async fn unchanged_root_token_keeps_its_row(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let token = app.root_token.clone();
    let before = root_entries(&app, &app.base, &token).await;
    let value = SecretString::from(token.clone());
    let restarted = app.serve_replica(move |c| c.root_token = Some(value)).await;

    let after = root_entries(&app, &restarted.base, &token).await;
    assert_eq!(after.len(), 1, "{after:#?}");
    assert_eq!(after[0]["id"], before[0]["id"], "the row was re-created");
    assert_eq!(after[0]["status"], "active");
    let logs = get_at(
        &app,
        &restarted.base,
        "/v1/audit/logs?action=token_revoke",
        &token,
    )
    .await;
    assert_eq!(logs.body["logs"], serde_json::json!([]));
}
