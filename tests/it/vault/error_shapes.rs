//! Every error shape of SPEC §12 on the wire: status, `Content-Type`, and body exactly.

use super::vault_call;
use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};

both_stores!(
    missing_paths_are_404_with_an_empty_list,
    a_soft_deleted_secret_is_404_with_the_envelope,
    a_version_past_its_grace_is_404_with_the_envelope,
    a_destroyed_secret_is_404,
    bad_missing_and_revoked_tokens_are_403_permission_denied,
    a_path_outside_the_rules_is_403,
    check_and_set_mismatch_and_no_data_are_400,
    mounts_need_an_admin_without_rules_and_audit_devices_refuse,
);

fn assert_json(r: &crate::common::Resp) {
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "{}",
        r.body
    );
}

async fn missing_paths_are_404_with_an_empty_list(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let t = &app.root_token;
    for (method, path) in [
        ("GET", "/v1/secret/data/nope"),
        ("GET", "/v1/secret/metadata/nope"),
        ("LIST", "/v1/secret/metadata/nope/"),
        ("GET", "/v1/secret/metadata/?list=true"),
    ] {
        let r = vault_call(&app, method, path, t, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(r.body, json!({"errors": []}), "{method} {path}");
        assert_json(&r);
    }
    app.put_secret("have/one", json!({"a": "b"})).await;
    let r = vault_call(&app, "GET", "/v1/secret/data/have/one?version=9", t, None).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::NOT_FOUND, json!({"errors": []}))
    );
    // A mount that does not exist.
    let r = vault_call(&app, "GET", "/v1/nomount/data/x", t, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body["errors"][0]
        .as_str()
        .unwrap()
        .contains("no handler for route"));
    let r = vault_call(&app, "GET", "/v1/sys/internal/ui/mounts/nomount/x", t, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body, json!({"errors": ["permission denied"]}));
    let r = vault_call(&app, "GET", "/v1/sys/internal/ui/mounts/secret/x", t, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["data"]["path"], "secret/");
    assert_eq!(r.body["data"]["options"]["version"], "2");
}

async fn a_soft_deleted_secret_is_404_with_the_envelope(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("soft/x", json!({"a": "b"})).await;
    assert_eq!(
        app.delete("/v1/secrets/soft/x").await.status,
        StatusCode::OK
    );
    let r = vault_call(&app, "GET", "/v1/secret/data/soft/x", &app.root_token, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_json(&r);
    assert_eq!(r.body["data"]["data"], Value::Null);
    let meta = &r.body["data"]["metadata"];
    assert_eq!(meta["version"], 1);
    assert_eq!(meta["destroyed"], false);
    assert_ne!(meta["deletion_time"], "", "{}", r.body);
    assert_eq!(r.body["lease_id"], "");
    // Metadata stays readable and says when it was deleted.
    let m = vault_call(
        &app,
        "GET",
        "/v1/secret/metadata/soft/x",
        &app.root_token,
        None,
    )
    .await;
    assert_eq!(m.status, StatusCode::OK);
    assert_eq!(
        m.body["data"]["versions"]["1"]["deletion_time"],
        meta["deletion_time"]
    );
}

async fn a_version_past_its_grace_is_404_with_the_envelope(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("grace/db", json!({"pw": "one"})).await;
    let r = app
        .post(
            "/v1/rotation/policies",
            &json!({"name": "g1h", "interval": "90d", "grace_period": "1h", "auto_generate": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            &format!("/v1/rotation/policies/{id}/secrets"),
            &json!({"secret_path": "grace/db"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app
        .post(&format!("/v1/rotation/policies/{id}/rotate"), &json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // In the grace period: readable, with its deletion time to come.
    let t = &app.root_token;
    let r = vault_call(&app, "GET", "/v1/secret/data/grace/db?version=1", t, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["data"]["pw"], "one");
    let ends = r.body["data"]["metadata"]["deletion_time"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!ends.is_empty());
    app.clock.advance(Duration::hours(2));
    let r = vault_call(&app, "GET", "/v1/secret/data/grace/db?version=1", t, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["data"]["data"], Value::Null);
    assert_eq!(r.body["data"]["metadata"]["deletion_time"], ends);
    assert_eq!(r.body["data"]["metadata"]["version"], 1);
    // The current version reads as ever.
    let r = vault_call(&app, "GET", "/v1/secret/data/grace/db", t, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["data"]["metadata"]["version"], 2);
}

async fn a_destroyed_secret_is_404(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let t = &app.root_token;
    app.put_secret("gone/x", json!({"a": "b"})).await;
    let r = vault_call(&app, "DELETE", "/v1/secret/metadata/gone/x", t, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    for path in [
        "/v1/secret/data/gone/x",
        "/v1/secret/data/gone/x?version=1",
        "/v1/secret/metadata/gone/x",
    ] {
        let r = vault_call(&app, "GET", path, t, None).await;
        assert_eq!(
            (r.status, r.body.clone()),
            (StatusCode::NOT_FOUND, json!({"errors": []})),
            "{path}"
        );
    }
    // Deleting what is not there is no error, as in Vault.
    let r = vault_call(&app, "DELETE", "/v1/secret/metadata/gone/x", t, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}

async fn bad_missing_and_revoked_tokens_are_403_permission_denied(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("t/x", json!({"a": "b"})).await;
    let (id, token) = app
        .create_token("soon-revoked", &["secrets:read"], &[])
        .await;
    assert_eq!(
        vault_call(&app, "GET", "/v1/secret/data/t/x", &token, None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.delete(&format!("/v1/auth/tokens/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    let denied = json!({"errors": ["permission denied"]});
    for t in ["skt_not_a_real_token_at_all_0000000000", "", token.as_str()] {
        let r = vault_call(&app, "GET", "/v1/secret/data/t/x", t, None).await;
        assert_eq!(
            (r.status, r.body.clone()),
            (StatusCode::FORBIDDEN, denied.clone())
        );
        assert_json(&r);
    }
    let r = app
        .client
        .get(app.url("/v1/secret/data/t/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "no token at all");
    // A namespace other than the token's tenant.
    let r = app
        .client
        .get(app.url("/v1/secret/data/t/x"))
        .header("X-Vault-Token", &app.root_token)
        .header("X-Vault-Namespace", "other-team")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The native API keeps its own shapes.
    let r = app
        .call(
            reqwest::Method::GET,
            "/v1/secrets/t/x",
            Some("skt_nope_0000000000000000000000000000"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn a_path_outside_the_rules_is_403(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("team-a/db", json!({"a": "1"})).await;
    app.put_secret("team-b/db", json!({"b": "2"})).await;
    let (_, a) = app
        .create_token(
            "a",
            &["secrets:read", "secrets:write", "secrets:list"],
            &["team-a"],
        )
        .await;
    let denied = json!({"errors": ["permission denied"]});
    let r = vault_call(&app, "GET", "/v1/secret/data/team-b/db", &a, None).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::FORBIDDEN, denied.clone())
    );
    let r = vault_call(
        &app,
        "POST",
        "/v1/secret/data/team-b/db",
        &a,
        Some(&json!({"data": {"x": "y"}})),
    )
    .await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::FORBIDDEN, denied));
    assert_eq!(
        app.get("/v1/secrets/team-b/db").await.body["version"],
        1,
        "nothing changed"
    );
    let r = vault_call(&app, "GET", "/v1/secret/data/team-a/db", &a, None).await;
    assert_eq!(r.status, StatusCode::OK);
    // Listing shows only what the rules reach.
    let r = vault_call(&app, "LIST", "/v1/secret/metadata/", &a, None).await;
    assert_eq!(r.body["data"]["keys"], json!(["team-a/"]));
    // The refusals are audited like native ones.
    let refusals = app.refusals_of("sa:a").await;
    assert!(
        refusals
            .iter()
            .any(|(action, status, _)| action == "read" && *status == 403),
        "{refusals:?}"
    );
    assert!(
        refusals
            .iter()
            .any(|(action, status, _)| action == "write" && *status == 403),
        "{refusals:?}"
    );
}

async fn check_and_set_mismatch_and_no_data_are_400(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let t = &app.root_token;
    let app = &app;
    let w = |body: Value| async move {
        vault_call(app, "POST", "/v1/secret/data/c/x", t, Some(&body)).await
    };
    assert_eq!(w(json!({"data": {"a": "1"}})).await.status, StatusCode::OK);
    let r = w(json!({"data": {"a": "2"}, "options": {"cas": 0}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"errors": ["check-and-set parameter did not match the current version"]})
    );
    assert_json(&r);
    for body in [
        json!({}),
        json!({"data": null}),
        json!({"options": {"cas": 1}}),
    ] {
        let r = w(body.clone()).await;
        assert_eq!(
            (r.status, r.body.clone()),
            (
                StatusCode::BAD_REQUEST,
                json!({"errors": ["no data provided"]})
            ),
            "{body}"
        );
    }
    let r = w(json!({"data": "text"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = vault_call(app, "POST", "/v1/secret/data/c/x", t, None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // None of these made a version.
    assert_eq!(app.get("/v1/secrets/c/x").await.body["version"], 1);
    // Metadata bounds.
    let r = vault_call(
        app,
        "POST",
        "/v1/secret/metadata/c/x",
        t,
        Some(&json!({"custom_metadata": {"n": 5}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let big: serde_json::Map<String, Value> =
        (0..65).map(|i| (format!("k{i}"), json!("v"))).collect();
    let r = vault_call(
        app,
        "POST",
        "/v1/secret/metadata/c/x",
        t,
        Some(&json!({"custom_metadata": big})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = vault_call(
        app,
        "POST",
        "/v1/secret/metadata/c/x",
        t,
        Some(&json!({"custom_metadata": {"k": "v".repeat(513)}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = vault_call(
        app,
        "POST",
        "/v1/secret/metadata/nothing-here",
        t,
        Some(&json!({"custom_metadata": {"k": "v"}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn mounts_need_an_admin_without_rules_and_audit_devices_refuse(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (_, ruled_admin) = app.create_token("ruled", &["admin"], &["team-a"]).await;
    let (_, writer) = app.create_token("writer", &["secrets:write"], &[]).await;
    let body = json!({"type": "kv", "options": {"version": "2"}});
    for t in [&ruled_admin, &writer] {
        let r = vault_call(&app, "POST", "/v1/sys/mounts/kv2", t, Some(&body)).await;
        assert_eq!(
            (r.status, r.body.clone()),
            (
                StatusCode::FORBIDDEN,
                json!({"errors": ["permission denied"]})
            )
        );
    }
    let r = vault_call(
        &app,
        "POST",
        "/v1/sys/mounts/kv1",
        &app.root_token,
        Some(&json!({"type": "kv"})),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "KV version 1 is not served"
    );
    for reserved in ["secret", "sys", "secrets", "a%2Fb"] {
        let r = vault_call(
            &app,
            "POST",
            &format!("/v1/sys/mounts/{reserved}"),
            &app.root_token,
            Some(&body),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{reserved}");
    }
    let r = vault_call(
        &app,
        "PUT",
        "/v1/sys/audit/file",
        &app.root_token,
        Some(&json!({"type": "file"})),
    )
    .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::BAD_REQUEST,
            json!({"errors": ["audit is built in and always on"]})
        )
    );
}

/// Every native route's first segment is a reserved mount name, so no mount can ever shadow
/// (or be shadowed by) a native route added later.
#[test]
fn every_native_first_segment_is_a_reserved_mount_name() {
    for served in scaivault::api::routes().served() {
        let first = served
            .mount
            .trim_start_matches("/v1/")
            .split('/')
            .next()
            .unwrap_or_default();
        assert!(
            scaivault::domain::kv_mounts::is_reserved(first),
            "{} is served natively but '{first}' is not a reserved mount name",
            served.mount
        );
    }
}
