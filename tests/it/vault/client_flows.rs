//! The KV v2 calls Vault tools make, through `vaultrs`: write, read, read a version, list,
//! metadata read and custom-metadata write, delete metadata and all versions, check-and-set,
//! token lookup-self, and mounts.

use super::{api_error, vault_client};
use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use vaultrs::api::kv2::requests::{SetSecretMetadataRequestBuilder, SetSecretRequestOptions};
use vaultrs::api::sys::requests::EnableEngineRequestBuilder;
use vaultrs::{kv2, sys, token};

both_stores!(
    write_read_list_metadata_and_delete_through_vaultrs,
    check_and_set_through_vaultrs,
    token_lookup_self_through_vaultrs,
    mounts_through_vaultrs,
);

async fn write_read_list_metadata_and_delete_through_vaultrs(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let c = vault_client(&app, &app.root_token);
    let v1 = kv2::set(
        &c,
        "secret",
        "team/api/db",
        &json!({"user": "app", "pw": "one"}),
    )
    .await
    .expect("write v1");
    assert_eq!(v1.version, 1);
    assert_eq!(v1.deletion_time, "");
    assert!(!v1.destroyed);
    let v2 = kv2::set(
        &c,
        "secret",
        "team/api/db",
        &json!({"user": "app", "pw": "two"}),
    )
    .await
    .expect("write v2");
    assert_eq!(v2.version, 2);
    kv2::set(&c, "secret", "team/api/cache", &json!({"k": "v"}))
        .await
        .expect("write");
    kv2::set(&c, "secret", "team/readme", &json!({"k": "v"}))
        .await
        .expect("write");

    let current: Value = kv2::read(&c, "secret", "team/api/db").await.expect("read");
    assert_eq!(current, json!({"user": "app", "pw": "two"}));
    let first: Value = kv2::read_version(&c, "secret", "team/api/db", 1)
        .await
        .expect("read v1");
    assert_eq!(first["pw"], "one");

    assert_eq!(
        kv2::list(&c, "secret", "team").await.expect("list"),
        ["api/", "readme"]
    );
    assert_eq!(
        kv2::list(&c, "secret", "team/api/").await.expect("list"),
        ["cache", "db"]
    );
    assert_eq!(
        kv2::list(&c, "secret", "").await.expect("list root"),
        ["team/"]
    );

    let meta = kv2::read_metadata(&c, "secret", "team/api/db")
        .await
        .expect("metadata");
    assert_eq!(meta.current_version, 2);
    assert_eq!(meta.oldest_version, 1);
    let mut versions: Vec<_> = meta.versions.keys().cloned().collect();
    versions.sort();
    assert_eq!(versions, ["1", "2"]);
    assert!(meta.custom_metadata.is_none());

    kv2::set_metadata(
        &c,
        "secret",
        "team/api/db",
        Some(
            SetSecretMetadataRequestBuilder::default().custom_metadata(HashMap::from([
                ("owner".to_string(), "team-api".to_string()),
                ("ticket".to_string(), "OPS-7".to_string()),
            ])),
        ),
    )
    .await
    .expect("custom metadata");
    let meta = kv2::read_metadata(&c, "secret", "team/api/db")
        .await
        .expect("metadata");
    let custom = meta.custom_metadata.expect("custom metadata");
    assert_eq!(custom["owner"], "team-api");
    assert_eq!(custom["ticket"], "OPS-7");
    assert_eq!(meta.current_version, 2, "metadata changes make no version");
    // Stored as the native metadata.custom.
    let native = app.get("/v1/secrets/team/api/db").await;
    assert_eq!(native.body["metadata"]["custom"]["owner"], "team-api");

    kv2::delete_metadata(&c, "secret", "team/api/db")
        .await
        .expect("delete metadata");
    let gone = kv2::read::<Value>(&c, "secret", "team/api/db")
        .await
        .expect_err("destroyed");
    assert_eq!(api_error(gone).0, 404);
    assert_eq!(
        app.get("/v1/secrets/team/api/db").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        kv2::list(&c, "secret", "team/api").await.expect("list"),
        ["cache"]
    );
}

async fn check_and_set_through_vaultrs(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let c = vault_client(&app, &app.root_token);
    let cas = |n: u32| SetSecretRequestOptions { cas: n };
    // cas 0: only if it does not exist yet.
    kv2::set_with_options(&c, "secret", "cas/x", &json!({"a": "1"}), cas(0))
        .await
        .expect("create with cas 0");
    let again = kv2::set_with_options(&c, "secret", "cas/x", &json!({"a": "2"}), cas(0))
        .await
        .expect_err("exists");
    assert_eq!(
        api_error(again),
        (
            400,
            vec!["check-and-set parameter did not match the current version".to_string()]
        )
    );
    let v2 = kv2::set_with_options(&c, "secret", "cas/x", &json!({"a": "2"}), cas(1))
        .await
        .expect("cas 1 matches");
    assert_eq!(v2.version, 2);
    let stale = kv2::set_with_options(&c, "secret", "cas/x", &json!({"a": "3"}), cas(1))
        .await
        .expect_err("stale");
    assert_eq!(api_error(stale).0, 400);
    let v: Value = kv2::read(&c, "secret", "cas/x").await.expect("read");
    assert_eq!(v["a"], "2", "a failed check-and-set changes nothing");
}

async fn token_lookup_self_through_vaultrs(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let r = app
        .post(
            "/v1/auth/tokens",
            &json!({"name": "reporting", "scopes": ["secrets:read", "secrets:list"], "ttl": "2h"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.body["id"].as_str().expect("id").to_string();
    let plain = r.body["token"].as_str().expect("token").to_string();
    let c = vault_client(&app, &plain);
    let me = token::lookup_self(&c).await.expect("lookup-self");
    assert_eq!(me.accessor, id);
    assert_eq!(me.display_name, "reporting");
    assert_eq!(me.policies, ["secrets:read", "secrets:list"]);
    assert!(!me.renewable);
    assert_eq!(me.ttl, 7200);
    assert!(me.expire_time.is_some());
    assert_ne!(me.id, plain, "the token itself is never sent back");

    let renewed = super::vault_call(&app, "PUT", "/v1/auth/token/renew-self", &plain, None).await;
    assert_eq!(renewed.status, StatusCode::OK);
    assert_eq!(renewed.body["auth"]["renewable"], false);
    assert_eq!(renewed.body["auth"]["lease_duration"], 7200);
    assert!(!renewed.body.to_string().contains(&plain));
}

async fn mounts_through_vaultrs(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let c = vault_client(&app, &app.root_token);
    sys::mount::enable(
        &c,
        "team-kv",
        "kv",
        Some(
            EnableEngineRequestBuilder::default()
                .options(HashMap::from([("version".to_string(), "2".to_string())])),
        ),
    )
    .await
    .expect("mount");
    kv2::set(&c, "team-kv", "svc/db", &json!({"pw": "x"}))
        .await
        .expect("write in mount");
    // The mount is the native prefix `team-kv/`.
    let native = app.get("/v1/secrets/team-kv/svc/db").await;
    assert_eq!(native.status, StatusCode::OK);
    assert_eq!(native.body["data"]["pw"], "x");
    // ... and `secret` sees the whole tenant.
    let via_root: Value = kv2::read(&c, "secret", "team-kv/svc/db")
        .await
        .expect("read");
    assert_eq!(via_root["pw"], "x");
    // A second replica sees the stored mount.
    let replica = app.serve_replica(|_| {}).await;
    let r = app
        .client
        .get(format!("{}/v1/team-kv/data/svc/db", replica.base))
        .header("X-Vault-Token", &app.root_token)
        .send()
        .await
        .expect("replica read");
    assert_eq!(r.status(), StatusCode::OK);

    let dup = sys::mount::enable(
        &c,
        "team-kv",
        "kv",
        Some(
            EnableEngineRequestBuilder::default()
                .options(HashMap::from([("version".to_string(), "2".to_string())])),
        ),
    )
    .await
    .expect_err("already mounted");
    assert_eq!(api_error(dup).0, 400);

    sys::mount::disable(&c, "team-kv").await.expect("unmount");
    assert_eq!(
        app.get("/v1/secrets/team-kv/svc/db").await.status,
        StatusCode::NOT_FOUND,
        "unmounting destroys the mount's secrets"
    );
    let after = kv2::read::<Value>(&c, "team-kv", "svc/db")
        .await
        .expect_err("no mount");
    assert_eq!(api_error(after).0, 404);
    let root = sys::mount::disable(&c, "secret")
        .await
        .expect_err("root stays");
    assert_eq!(api_error(root).0, 400);
}
