//! A first end-to-end check of the harness: write, read, health.

use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use reqwest::StatusCode;
use serde_json::json;

both_stores!(write_then_read_round_trips);

async fn write_then_read_round_trips(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let r = app.put_secret("a/b", json!({"k": "v"})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["version"], 1);
    let r = app.get("/v1/secrets/a/b").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["data"], json!({"k": "v"}));
    assert_eq!(r.header("etag"), Some("\"1\""));
    assert!(r
        .header("x-request-id")
        .is_some_and(|v| v.starts_with("req_")));
    let r = app
        .call(reqwest::Method::GET, "/v1/health/ready", None, None)
        .await;
    assert_eq!(r.body["status"], "ready");
}
