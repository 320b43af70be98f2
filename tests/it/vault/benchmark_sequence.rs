//! vault-benchmark's KV v2 sequence, as it sends it: mount, seed N secrets with PUT, read and
//! overwrite them with `X-Vault-Token` and an empty `X-Vault-Namespace`, unmount.

use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use reqwest::StatusCode;
use serde_json::json;

both_stores!(vault_benchmark_kvv2_sequence);

const N: usize = 40;

async fn vault_benchmark_kvv2_sequence(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let send = |method: reqwest::Method, path: String, body: Option<serde_json::Value>| {
        let mut rb = app
            .client
            .request(method, app.url(&path))
            .header("X-Vault-Token", &app.root_token)
            .header("X-Vault-Namespace", "")
            .header("X-Vault-Request", "true");
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        async move { TestApp::into_resp(rb.send().await.expect("sent")).await }
    };
    let mount = "kvv2_bench-0f3a";
    let r = send(
        reqwest::Method::POST,
        format!("/v1/sys/mounts/{mount}"),
        Some(json!({"type": "kv", "description": "", "config": {}, "options": {"version": "2"}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    for i in 0..N {
        let r = send(
            reqwest::Method::PUT,
            format!("/v1/{mount}/data/secret-{i}"),
            Some(json!({"data": {"foo": "a"}})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    for i in 0..N {
        let r = send(
            reqwest::Method::GET,
            format!("/v1/{mount}/data/secret-{i}"),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["data"]["data"]["foo"], "a");
        let r = send(
            reqwest::Method::POST,
            format!("/v1/{mount}/data/secret-{i}"),
            Some(json!({"data": {"foo": "b"}})),
        )
        .await;
        assert_eq!(r.body["data"]["version"], 2);
    }
    let listed = app
        .get(&format!("/v1/secrets?prefix={mount}/&limit=1000"))
        .await;
    assert_eq!(
        listed.body["secrets"].as_array().map(Vec::len),
        Some(N),
        "{}",
        listed.body
    );
    let r = send(
        reqwest::Method::DELETE,
        format!("/v1/sys/mounts/{mount}"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let listed = app.get(&format!("/v1/secrets?prefix={mount}/")).await;
    assert_eq!(listed.body["secrets"], json!([]));
    // Each destroyed secret has its audit row and event, and the unmount its own row.
    let r = app.get("/v1/audit/logs?action=mount_delete").await;
    assert_eq!(r.body["logs"][0]["extra_data"]["secrets_destroyed"], N);
    let r = app
        .get(&format!(
            "/v1/audit/logs?action=destroy&path_prefix={mount}/&limit=1000"
        ))
        .await;
    assert_eq!(r.body["logs"].as_array().map(Vec::len), Some(N));
    let r = app
        .get(&format!(
            "/v1/events?path_prefix={mount}/&types=secret.deleted"
        ))
        .await;
    assert_eq!(r.body["events"].as_array().map(Vec::len), Some(N));
}
