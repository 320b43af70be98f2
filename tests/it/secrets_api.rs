//! `/v1/secrets` behaviour (SPEC §3): writes and their options, check-and-set (also raced),
//! version pruning, reads, versions and metadata views, listing, delete/restore/destroy, batch
//! reads, and the audit row every operation leaves.

use crate::both_stores;
use crate::common::{Resp, StoreKind, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::BTreeSet;

both_stores!(
    put_creates_then_updates_and_keeps_metadata,
    cas_option_and_if_match_header,
    concurrent_cas_writers_exactly_one_wins_each_time,
    max_versions_keeps_only_the_newest,
    get_current_and_explicit_versions,
    versions_and_metadata_views,
    patch_metadata_changes_no_version,
    patch_metadata_honours_cas_and_if_match,
    list_filters_by_prefix_tag_and_type,
    list_paginates_with_cursor,
    soft_delete_then_restore,
    permanent_delete_destroys_every_row,
    soft_deleted_path_is_reusable_after_retention,
    batch_reads_many_paths,
    every_operation_leaves_its_audit_row,
);

// ---------------------------------------------------------------------------------------------
// Helpers shared with `secrets_errors`.

/// The sorted keys of a JSON object.
pub(crate) fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}

/// The sorted list of `names`, for comparing with `keys`.
pub(crate) fn names(names: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    k.sort();
    k
}

/// Sends a request with the root token, optional extra headers and a raw body.
pub(crate) async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Resp {
    let mut rb = app
        .client
        .request(method, app.url(path))
        .bearer_auth(&app.root_token);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    if let Some(b) = body {
        rb = rb.header("content-type", "application/json").body(b);
    }
    TestApp::into_resp(rb.send().await.expect("request sent")).await
}

/// The request id a response carries.
pub(crate) fn request_id(r: &Resp) -> String {
    r.header("x-request-id")
        .unwrap_or_else(|| panic!("no X-Request-ID: {r:?}"))
        .to_string()
}

/// Asserts the error envelope of SPEC §0, with `request_id` equal to the header; returns the code.
pub(crate) fn assert_envelope(r: &Resp, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    let err = &r.body["error"];
    assert!(err.is_object(), "not an error envelope: {}", r.body);
    assert_eq!(err["code"], code, "{}", r.body);
    assert!(
        err["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message: {}",
        r.body
    );
    assert_eq!(
        err["request_id"].as_str(),
        Some(request_id(r).as_str()),
        "{}",
        r.body
    );
    let allowed = names(&["code", "message", "request_id", "details"]);
    assert!(
        keys(err).iter().all(|k| allowed.contains(k)),
        "unexpected envelope keys: {}",
        r.body
    );
    assert_eq!(keys(&r.body), names(&["error"]), "{}", r.body);
}

/// The field names listed in a `validation_error`'s `details.fields`.
pub(crate) fn failing_fields(r: &Resp) -> Vec<String> {
    r.body["error"]["details"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no details.fields: {}", r.body))
        .iter()
        .map(|f| f["field"].as_str().expect("field name").to_string())
        .collect()
}

/// One audit row as stored.
#[derive(Debug, Clone)]
pub(crate) struct AuditRec {
    pub action: String,
    pub secret_path: Option<String>,
    pub version: Option<i64>,
    pub success: i64,
    pub status_code: i64,
    pub identity_id: String,
}

/// The audit rows written for one request id (oldest first).
pub(crate) async fn audit_for(pool: &sqlx::AnyPool, request_id: &str) -> Vec<AuditRec> {
    sqlx::query(
        "SELECT action, secret_path, version, success, status_code, identity_id \
         FROM audit_log WHERE request_id = $1 ORDER BY ts, id",
    )
    .bind(request_id)
    .fetch_all(pool)
    .await
    .expect("audit rows")
    .iter()
    .map(|r| AuditRec {
        action: r.get("action"),
        secret_path: r.get("secret_path"),
        version: r.get("version"),
        success: r.get("success"),
        status_code: r.get("status_code"),
        identity_id: r.get("identity_id"),
    })
    .collect()
}

/// Asserts that exactly one audit row exists for the response and returns it.
pub(crate) async fn one_audit(pool: &sqlx::AnyPool, r: &Resp) -> AuditRec {
    let rows = audit_for(pool, &request_id(r)).await;
    assert_eq!(rows.len(), 1, "audit rows for {}: {rows:?}", request_id(r));
    rows.into_iter().next().expect("one row")
}

/// A single integer from `sql` with one text parameter.
pub(crate) async fn count(pool: &sqlx::AnyPool, sql: &str, arg: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .bind(arg)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// How many versions are stored for the secret at `path` (any state).
pub(crate) async fn stored_versions(pool: &sqlx::AnyPool, path: &str) -> i64 {
    count(
        pool,
        "SELECT COUNT(*) FROM secret_versions v JOIN secrets s ON s.id = v.secret_id \
         WHERE s.path = $1",
        path,
    )
    .await
}

/// The tags stored in `secret_tags` for the secret at `path`.
pub(crate) async fn stored_tags(pool: &sqlx::AnyPool, path: &str) -> BTreeSet<String> {
    sqlx::query_scalar::<_, String>(
        "SELECT t.tag FROM secret_tags t JOIN secrets s ON s.id = t.secret_id WHERE s.path = $1",
    )
    .bind(path)
    .fetch_all(pool)
    .await
    .expect("tags")
    .into_iter()
    .collect()
}

fn paths_of(r: &Resp) -> Vec<String> {
    r.body["secrets"]
        .as_array()
        .unwrap_or_else(|| panic!("no secrets list: {}", r.body))
        .iter()
        .map(|s| s["path"].as_str().expect("path").to_string())
        .collect()
}

fn version_numbers(r: &Resp) -> Vec<i64> {
    r.body["versions"]
        .as_array()
        .unwrap_or_else(|| panic!("no versions: {}", r.body))
        .iter()
        .map(|v| v["version"].as_i64().expect("version"))
        .collect()
}

// ---------------------------------------------------------------------------------------------

async fn put_creates_then_updates_and_keeps_metadata(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let db = app.db().await;
    let r = app
        .put(
            "/v1/secrets/apps/web/db",
            &json!({
                "data": {"user": "app", "password": "s3cr3t"},
                "metadata": {"description": "web db", "tags": ["prod", "db"], "owner": "team-web",
                             "custom": {"tier": 1}},
                "options": {"max_versions": 7}
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        keys(&r.body),
        names(&["path", "version", "created_at", "secret_type", "metadata"])
    );
    assert_eq!(r.body["path"], "apps/web/db");
    assert_eq!(r.body["version"], 1);
    assert_eq!(r.body["secret_type"], "json");
    assert_eq!(r.body["created_at"], "2026-01-01T12:00:00Z");
    assert_eq!(
        r.body["metadata"],
        json!({"description": "web db", "tags": ["prod", "db"], "owner": "team-web",
               "custom": {"tier": 1}})
    );
    assert!(!r.body.to_string().contains("s3cr3t"), "{}", r.body);
    assert_eq!(r.header("etag"), Some("\"1\""));

    // A later write without metadata/options keeps them.
    app.clock.advance(chrono::Duration::minutes(1));
    let r = app
        .put(
            "/v1/secrets/apps/web/db",
            &json!({"data": {"user": "app", "password": "n3w"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.body["created_at"], "2026-01-01T12:01:00Z");
    assert_eq!(r.body["secret_type"], "json");
    assert_eq!(r.body["metadata"]["tags"], json!(["prod", "db"]));
    assert_eq!(r.body["metadata"]["description"], "web db");
    assert!(r.body.get("data").is_none());
    assert_eq!(r.header("etag"), Some("\"2\""));

    let m = app.get("/v1/secrets/apps/web/db/metadata").await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.body);
    assert_eq!(m.body["max_versions"], 7);
    assert_eq!(m.body["version"], 2);
    assert_eq!(m.body["version_count"], 2);
    assert_eq!(m.body["metadata"]["owner"], "team-web");
    assert_eq!(m.body["metadata"]["custom"], json!({"tier": 1}));
    assert_eq!(m.body["created_at"], "2026-01-01T12:00:00Z");
    assert_eq!(m.body["updated_at"], "2026-01-01T12:01:00Z");
    assert_eq!(stored_versions(&db, "apps/web/db").await, 2);
    assert_eq!(
        stored_tags(&db, "apps/web/db").await,
        BTreeSet::from(["prod".to_string(), "db".to_string()])
    );

    // A partial metadata object replaces only the fields it names; a type sticks until changed.
    let r = app
        .put(
            "/v1/secrets/apps/web/db",
            &json!({"data": {"k": "v"}, "secret_type": "kv", "metadata": {"tags": ["blue"]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["version"], 3);
    assert_eq!(r.body["secret_type"], "kv");
    assert_eq!(r.body["metadata"]["tags"], json!(["blue"]));
    assert_eq!(r.body["metadata"]["description"], "web db");
    assert_eq!(
        stored_tags(&db, "apps/web/db").await,
        BTreeSet::from(["blue".to_string()])
    );
    let r = app
        .put("/v1/secrets/apps/web/db", &json!({"data": {"k": "w"}}))
        .await;
    assert_eq!(r.body["secret_type"], "kv");
    assert_eq!(r.body["version"], 4);
    let g = app.get("/v1/secrets/apps/web/db").await;
    assert_eq!(g.body["data"], json!({"k": "w"}));
    assert_eq!(g.body["metadata"]["tags"], json!(["blue"]));
    let m = app.get("/v1/secrets/apps/web/db/metadata").await;
    assert_eq!(m.body["max_versions"], 7);
}

async fn cas_option_and_if_match_header(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let db = app.db().await;
    let put = |cas: i64, v: i64| json!({"data": {"v": v}, "options": {"cas": cas}});

    let r = app.put("/v1/secrets/cas/a", &put(0, 1)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app.put("/v1/secrets/cas/a", &put(0, 99)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.code(), "version_conflict");
    assert_eq!(r.body["error"]["details"]["current_version"], 1);
    assert_eq!(r.body["error"]["details"]["expected_version"], 0);
    let r = app.put("/v1/secrets/cas/a", &put(1, 2)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["version"], 2);
    for stale in [1, 3, 7] {
        let r = app.put("/v1/secrets/cas/a", &put(stale, 99)).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "cas {stale}: {}", r.body);
        assert_eq!(r.code(), "version_conflict");
    }
    assert_eq!(stored_versions(&db, "cas/a").await, 2);
    let g = app.get("/v1/secrets/cas/a").await;
    assert_eq!(g.body["data"], json!({"v": 2}));

    // If-Match: "<version>" is the same check.
    let body = serde_json::to_vec(&json!({"data": {"v": 3}})).unwrap();
    let r = send(
        &app,
        Method::PUT,
        "/v1/secrets/cas/a",
        &[("if-match", "\"2\"")],
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["version"], 3);
    assert_eq!(r.header("etag"), Some("\"3\""));
    let r = send(
        &app,
        Method::PUT,
        "/v1/secrets/cas/a",
        &[("if-match", "\"2\"")],
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.code(), "version_conflict");
    let r = send(
        &app,
        Method::PUT,
        "/v1/secrets/cas/new",
        &[("if-match", "\"0\"")],
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = send(
        &app,
        Method::PUT,
        "/v1/secrets/cas/new",
        &[("if-match", "\"0\"")],
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.code(), "version_conflict");
    // A mismatching If-Match on an absent path does not create it.
    let r = send(
        &app,
        Method::PUT,
        "/v1/secrets/cas/absent",
        &[("if-match", "\"4\"")],
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(
        app.get("/v1/secrets/cas/absent").await.status,
        StatusCode::NOT_FOUND
    );
    let r = send(
        &app,
        Method::PUT,
        "/v1/secrets/cas/a",
        &[("if-match", "abc")],
        Some(body),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.code(), "invalid_request");
    assert_eq!(stored_versions(&db, "cas/a").await, 3);
    assert_eq!(stored_versions(&db, "cas/new").await, 1);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM secrets WHERE path = $1",
            "cas/absent"
        )
        .await,
        0
    );
}

async fn concurrent_cas_writers_exactly_one_wins_each_time(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let db = app.db().await;
    for i in 0..10 {
        // Update race: both expect version 1.
        let path = format!("race/{i}/upd");
        app.put_secret(&path, json!({"v": 0})).await;
        let url = format!("/v1/secrets/{path}");
        let (b1, b2) = (
            json!({"data": {"w": 1}, "options": {"cas": 1}}),
            json!({"data": {"w": 2}, "options": {"cas": 1}}),
        );
        let (a, b) = tokio::join!(app.put(&url, &b1), app.put(&url, &b2));
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "round {i}: {} {}",
            a.body,
            b.body
        );
        let (winner, loser, wdata) = if a.status == StatusCode::OK {
            (&a, &b, json!({"w": 1}))
        } else {
            (&b, &a, json!({"w": 2}))
        };
        assert_eq!(winner.body["version"], 2);
        assert_eq!(loser.code(), "version_conflict");
        let g = app.get(&url).await;
        assert_eq!(g.body["version"], 2);
        assert_eq!(g.body["data"], wdata);
        assert_eq!(stored_versions(&db, &path).await, 2);

        // Create race: both demand absence (cas 0), one via the If-Match header.
        let path = format!("race/{i}/new");
        let url = format!("/v1/secrets/{path}");
        let c1 = json!({"data": {"c": 1}, "options": {"cas": 0}});
        let c2 = serde_json::to_vec(&json!({"data": {"c": 2}})).unwrap();
        let (a, b) = tokio::join!(
            app.put(&url, &c1),
            send(&app, Method::PUT, &url, &[("if-match", "\"0\"")], Some(c2))
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::CREATED, StatusCode::CONFLICT],
            "round {i}: {} {}",
            a.body,
            b.body
        );
        let loser = if a.status == StatusCode::CREATED {
            &b
        } else {
            &a
        };
        assert_eq!(loser.code(), "version_conflict");
        let g = app.get(&url).await;
        assert_eq!(g.body["version"], 1);
        assert_eq!(stored_versions(&db, &path).await, 1);

        // Without cas both racing creates succeed: one creates, the other adds version 2.
        let path = format!("race/{i}/free");
        let url = format!("/v1/secrets/{path}");
        let (f1, f2) = (json!({"data": {"f": 1}}), json!({"data": {"f": 2}}));
        let (a, b) = tokio::join!(app.put(&url, &f1), app.put(&url, &f2));
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CREATED],
            "round {i}: {} {}",
            a.body,
            b.body
        );
        let mut versions = [a.body["version"].as_i64(), b.body["version"].as_i64()];
        versions.sort();
        assert_eq!(versions, [Some(1), Some(2)]);
        assert_eq!(stored_versions(&db, &path).await, 2);
    }
}

async fn max_versions_keeps_only_the_newest(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let db = app.db().await;
    let r = app
        .put(
            "/v1/secrets/pruned",
            &json!({"data": {"n": 1}, "options": {"max_versions": 3}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    for n in 2..=5 {
        app.clock.advance(chrono::Duration::seconds(1));
        let r = app.put_secret("pruned", json!({"n": n})).await;
        assert_eq!(r.body["version"], n);
    }
    let v = app.get("/v1/secrets/pruned/versions").await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.body);
    assert_eq!(version_numbers(&v), vec![5, 4, 3]);
    let current: Vec<bool> = v.body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["is_current"].as_bool().unwrap())
        .collect();
    assert_eq!(current, vec![true, false, false]);
    for gone in [1, 2] {
        let r = app.get(&format!("/v1/secrets/pruned?version={gone}")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
        assert_eq!(r.code(), "version_not_found");
    }
    let r = app.get("/v1/secrets/pruned?version=3").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"], json!({"n": 3}));
    assert_eq!(r.body["version"], 3);
    assert_eq!(stored_versions(&db, "pruned").await, 3);
    let m = app.get("/v1/secrets/pruned/metadata").await;
    assert_eq!(m.body["version_count"], 3);

    // Lowering max_versions on a write prunes down to the new limit at once.
    let r = app
        .put(
            "/v1/secrets/pruned",
            &json!({"data": {"n": 6}, "options": {"max_versions": 1}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = app.get("/v1/secrets/pruned/versions").await;
    assert_eq!(version_numbers(&v), vec![6]);
    assert_eq!(stored_versions(&db, "pruned").await, 1);
    let r = app.get("/v1/secrets/pruned?version=5").await;
    assert_eq!(r.code(), "version_not_found");
}

async fn get_current_and_explicit_versions(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("g/one", json!({"v": "first"})).await;
    app.clock.advance(chrono::Duration::hours(1));
    app.put_secret("g/one", json!({"v": "second", "nested": {"a": [1, 2]}}))
        .await;

    let r = app.get("/v1/secrets/g/one").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("etag"), Some("\"2\""));
    assert_eq!(r.body["path"], "g/one");
    assert_eq!(r.body["version"], 2);
    assert_eq!(
        r.body["data"],
        json!({"v": "second", "nested": {"a": [1, 2]}})
    );
    assert_eq!(r.body["secret_type"], "json");
    assert_eq!(r.body["created_at"], "2026-01-01T12:00:00Z");
    assert_eq!(r.body["updated_at"], "2026-01-01T13:00:00Z");
    assert_eq!(r.body["expires_at"], Value::Null);
    assert_eq!(r.body["rotation_policy_id"], Value::Null);
    assert_eq!(r.body["rotation"], Value::Null);
    for k in [
        "path",
        "version",
        "data",
        "secret_type",
        "metadata",
        "created_at",
        "updated_at",
        "expires_at",
        "rotation_policy_id",
        "rotation",
    ] {
        assert!(r.body.get(k).is_some(), "missing {k}: {}", r.body);
    }

    let r = app.get("/v1/secrets/g/one?version=1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["version"], 1);
    assert_eq!(r.body["data"], json!({"v": "first"}));
    assert_eq!(r.header("etag"), Some("\"1\""));
    let r = app.get("/v1/secrets/g/one?version=2").await;
    assert_eq!(r.body["data"]["v"], "second");

    for bad in ["abc", "0", "-1", "1.5", ""] {
        let r = app.get(&format!("/v1/secrets/g/one?version={bad}")).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "version={bad}: {}",
            r.body
        );
        assert_eq!(r.code(), "invalid_request");
    }
    let r = app.get("/v1/secrets/g/one?version=3").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "version_not_found");
    for missing in [
        "/v1/secrets/g/none",
        "/v1/secrets/g/none?version=1",
        "/v1/secrets/g/none/versions",
        "/v1/secrets/g/none/metadata",
        "/v1/secrets/g",
    ] {
        let r = app.get(missing).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{missing}: {}", r.body);
        assert_eq!(r.code(), "secret_not_found", "{missing}");
    }
}

async fn versions_and_metadata_views(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let who = app.get("/v1/auth/whoami").await;
    let me = who.body["identity_id"]
        .as_str()
        .expect("identity")
        .to_string();
    app.put(
        "/v1/secrets/views/s",
        &json!({"data": {"secret": "hunter2"}, "metadata": {"tags": ["t1"]}}),
    )
    .await;
    app.clock.advance(chrono::Duration::minutes(5));
    app.put_secret("views/s", json!({"secret": "hunter3"}))
        .await;

    let r = app.get("/v1/secrets/views/s/versions").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let list = r.body["versions"].as_array().expect("versions");
    assert_eq!(list.len(), 2);
    for v in list {
        assert_eq!(
            keys(v),
            names(&[
                "version",
                "is_current",
                "created_at",
                "created_by",
                "is_rotation",
                "readable_until",
                "last_read_at",
                "readers_24h"
            ])
        );
        assert_eq!(v["created_by"], me.as_str());
        assert_eq!(v["is_rotation"], false);
        assert_eq!(v["readable_until"], Value::Null);
        assert_eq!(v["last_read_at"], Value::Null, "never read");
        assert_eq!(v["readers_24h"], 0);
    }
    assert_eq!(list[0]["version"], 2);
    assert_eq!(list[0]["is_current"], true);
    assert_eq!(list[0]["created_at"], "2026-01-01T12:05:00Z");
    assert_eq!(list[1]["version"], 1);
    assert_eq!(list[1]["is_current"], false);
    assert_eq!(list[1]["created_at"], "2026-01-01T12:00:00Z");
    assert!(!r.body.to_string().contains("hunter"));

    let m = app.get("/v1/secrets/views/s/metadata").await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.body);
    assert!(m.body.get("data").is_none(), "{}", m.body);
    assert!(!m.body.to_string().contains("hunter"));
    assert_eq!(m.body["path"], "views/s");
    assert_eq!(m.body["version"], 2);
    assert_eq!(m.body["secret_type"], "json");
    assert_eq!(m.body["metadata"]["tags"], json!(["t1"]));
    assert_eq!(m.body["created_by"], me.as_str());
    assert_eq!(m.body["max_versions"], 10);
    assert_eq!(m.body["version_count"], 2);
}

async fn patch_metadata_changes_no_version(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let db = app.db().await;
    app.put(
        "/v1/secrets/p/s",
        &json!({"data": {"k": 1}, "metadata": {"description": "old", "tags": ["a"], "owner": "o"}}),
    )
    .await;
    app.put_secret("p/s", json!({"k": 2})).await;

    // Wrapped form.
    app.clock.advance(chrono::Duration::minutes(1));
    let r = app
        .call(
            Method::PATCH,
            "/v1/secrets/p/s/metadata",
            Some(&app.root_token),
            Some(&json!({"metadata": {"description": "new", "tags": ["p1", "p2"]}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["version"], 2);
    assert!(r.body.get("data").is_none());
    assert_eq!(
        r.body["metadata"],
        json!({"description": "new", "tags": ["p1", "p2"], "owner": "o", "custom": {}})
    );
    assert_eq!(r.body["updated_at"], "2026-01-01T12:01:00Z");
    assert_eq!(
        stored_tags(&db, "p/s").await,
        BTreeSet::from(["p1".to_string(), "p2".to_string()])
    );

    // Bare form.
    let r = app
        .call(
            Method::PATCH,
            "/v1/secrets/p/s/metadata",
            Some(&app.root_token),
            Some(&json!({"tags": ["q"], "custom": {"team": "x"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.body["metadata"]["tags"], json!(["q"]));
    assert_eq!(r.body["metadata"]["description"], "new");
    assert_eq!(r.body["metadata"]["custom"], json!({"team": "x"}));

    // Options can be patched too.
    let r = app
        .call(
            Method::PATCH,
            "/v1/secrets/p/s/metadata",
            Some(&app.root_token),
            Some(&json!({"options": {"max_versions": 4}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["max_versions"], 4);

    let g = app.get("/v1/secrets/p/s").await;
    assert_eq!(g.body["version"], 2);
    assert_eq!(g.body["data"], json!({"k": 2}));
    assert_eq!(g.body["metadata"]["tags"], json!(["q"]));
    let v = app.get("/v1/secrets/p/s/versions").await;
    assert_eq!(version_numbers(&v), vec![2, 1]);
    assert_eq!(stored_versions(&db, "p/s").await, 2);
    let l = app.get("/v1/secrets?tag=q").await;
    assert_eq!(paths_of(&l), vec!["p/s"]);
    let l = app.get("/v1/secrets?tag=p1").await;
    assert!(paths_of(&l).is_empty());

    // Refused patches change nothing.
    for (body, field) in [
        (json!({}), "metadata"),
        (json!({"tags": "not-a-list"}), "tags"),
        (json!({"metadata": "x"}), "metadata"),
        (json!({"metadata": {"tags": [1]}}), "metadata.tags"),
        (
            json!({"options": {"max_versions": 0}}),
            "options.max_versions",
        ),
    ] {
        let r = app
            .call(
                Method::PATCH,
                "/v1/secrets/p/s/metadata",
                Some(&app.root_token),
                Some(&body),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert_eq!(r.code(), "validation_error");
        assert!(
            failing_fields(&r).iter().any(|f| f == field),
            "{body}: {}",
            r.body
        );
    }
    let r = send(
        &app,
        Method::PATCH,
        "/v1/secrets/p/s/metadata",
        &[],
        Some(b"{\"tags\": [".to_vec()),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "invalid_request");
    let r = app
        .call(
            Method::PATCH,
            "/v1/secrets/p/none/metadata",
            Some(&app.root_token),
            Some(&json!({"tags": ["z"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "secret_not_found");
    let m = app.get("/v1/secrets/p/s/metadata").await;
    assert_eq!(
        m.body["metadata"],
        json!({"description": "new", "tags": ["q"], "owner": "o", "custom": {"team": "x"}})
    );
    assert_eq!(m.body["max_versions"], 4);
    assert_eq!(m.body["version"], 2);
    assert_eq!(
        stored_tags(&db, "p/s").await,
        BTreeSet::from(["q".to_string()])
    );
}

async fn list_filters_by_prefix_tag_and_type(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for (path, ty, tags) in [
        ("apps/web/db", "kv", vec!["prod"]),
        ("apps/web/api", "api_key", vec!["dev"]),
        ("apps/worker/q", "json", vec!["prod", "queue"]),
        ("apps-legacy/x", "json", vec![]),
        ("other/cert", "certificate", vec!["prod"]),
        ("gone/one", "kv", vec!["prod"]),
    ] {
        let r = app
            .put(
                &format!("/v1/secrets/{path}"),
                &json!({"data": {"value": "topsecret"}, "secret_type": ty, "metadata": {"tags": tags}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    assert_eq!(
        app.delete("/v1/secrets/gone/one").await.status,
        StatusCode::OK
    );

    let all = app.get("/v1/secrets").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(
        paths_of(&all),
        vec![
            "apps-legacy/x",
            "apps/web/api",
            "apps/web/db",
            "apps/worker/q",
            "other/cert"
        ]
    );
    assert_eq!(all.body["has_more"], false);
    assert_eq!(all.body["cursor"], Value::Null);
    assert!(!all.body.to_string().contains("topsecret"));
    for s in all.body["secrets"].as_array().unwrap() {
        assert!(s.get("data").is_none(), "{s}");
        assert!(s.get("metadata").is_some(), "{s}");
    }
    let cases: [(&str, Vec<&str>); 8] = [
        (
            "prefix=apps/",
            vec!["apps/web/api", "apps/web/db", "apps/worker/q"],
        ),
        ("prefix=apps/web/", vec!["apps/web/api", "apps/web/db"]),
        (
            "prefix=apps",
            vec![
                "apps-legacy/x",
                "apps/web/api",
                "apps/web/db",
                "apps/worker/q",
            ],
        ),
        (
            "tag=prod",
            vec!["apps/web/db", "apps/worker/q", "other/cert"],
        ),
        (
            "tag=prod&prefix=apps/",
            vec!["apps/web/db", "apps/worker/q"],
        ),
        ("secret_type=kv", vec!["apps/web/db"]),
        ("secret_type=json&tag=queue", vec!["apps/worker/q"]),
        ("prefix=nothing/", vec![]),
    ];
    for (q, want) in cases {
        let r = app.get(&format!("/v1/secrets?{q}")).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.body);
        assert_eq!(paths_of(&r), want, "{q}");
    }
    let r = app.get("/v1/secrets?secret_type=blob").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "invalid_secret_type");
    let r = app.get("/v1/secrets?prefix=bad$char").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "invalid_path");
}

async fn list_paginates_with_cursor(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let created: Vec<String> = (1..=5).map(|i| format!("page/s{i}")).collect();
    for p in &created {
        app.put_secret(p, json!({"x": 1})).await;
    }
    app.put_secret("zzz/outside", json!({"x": 1})).await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let mut url = "/v1/secrets?prefix=page/&limit=2".to_string();
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let r = app.get(&url).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let page = paths_of(&r);
        pages.push(page.len());
        seen.extend(page);
        match r.body["cursor"].as_str() {
            Some(c) => {
                assert_eq!(r.body["has_more"], true);
                cursor = Some(c.to_string());
            }
            None => {
                assert_eq!(r.body["cursor"], Value::Null);
                assert_eq!(r.body["has_more"], false);
                break;
            }
        }
        assert!(pages.len() < 10, "pagination does not end");
    }
    assert_eq!(pages, vec![2, 2, 1]);
    assert_eq!(seen, created);

    // Exactly a full last page: has_more is false and no cursor.
    let r = app.get("/v1/secrets?prefix=page/&limit=5").await;
    assert_eq!(paths_of(&r).len(), 5);
    assert_eq!(r.body["has_more"], false);
    assert_eq!(r.body["cursor"], Value::Null);

    for bad in ["garbage!!", "Zm9vYmFy", "%FF"] {
        let r = app.get(&format!("/v1/secrets?cursor={bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.body);
        assert_eq!(r.code(), "invalid_cursor");
    }
    for bad in ["0", "5000", "1001", "-1", "ten"] {
        let r = app.get(&format!("/v1/secrets?limit={bad}")).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            r.body
        );
        assert_eq!(r.code(), "validation_error");
        assert_eq!(failing_fields(&r), vec!["limit"]);
    }
    let r = app.get("/v1/secrets?limit=1000").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(paths_of(&r).len(), 6);
}

async fn soft_delete_then_restore(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let db = app.db().await;
    app.put(
        "/v1/secrets/d/s",
        &json!({"data": {"k": 1}, "metadata": {"tags": ["keep"]}}),
    )
    .await;
    app.put_secret("d/s", json!({"k": 2})).await;

    let r = app.delete("/v1/secrets/d/s").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["path"], "d/s");
    assert_eq!(r.body["deleted"], true);
    assert_eq!(r.body["permanent"], false);
    assert_eq!(r.body["version_count"], 2);
    assert_eq!(r.body["deleted_at"], "2026-01-01T12:00:00Z");
    assert_eq!(r.body["recoverable_until"], "2026-01-31T12:00:00Z");

    for path in [
        "/v1/secrets/d/s",
        "/v1/secrets/d/s?version=1",
        "/v1/secrets/d/s/versions",
        "/v1/secrets/d/s/metadata",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.body);
        assert_eq!(r.code(), "secret_not_found");
    }
    let r = app.put("/v1/secrets/d/s", &json!({"data": {"k": 3}})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.code(), "secret_exists");
    let r = app.delete("/v1/secrets/d/s").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "secret_not_found");
    let r = app
        .call(
            Method::PATCH,
            "/v1/secrets/d/s/metadata",
            Some(&app.root_token),
            Some(&json!({"tags": ["x"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // The versions are kept for the restore.
    assert_eq!(stored_versions(&db, "d/s").await, 2);

    app.clock.advance(chrono::Duration::days(10));
    let r = app.post("/v1/secrets/d/s/restore", &json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["path"], "d/s");
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.body["restored"], true);
    let g = app.get("/v1/secrets/d/s").await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.body);
    assert_eq!(g.body["data"], json!({"k": 2}));
    assert_eq!(g.body["version"], 2);
    assert_eq!(g.body["metadata"]["tags"], json!(["keep"]));
    let g = app.get("/v1/secrets/d/s?version=1").await;
    assert_eq!(g.body["data"], json!({"k": 1}));
    let l = app.get("/v1/secrets?tag=keep").await;
    assert_eq!(paths_of(&l), vec!["d/s"]);
    let r = app.post("/v1/secrets/d/s/restore", &json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(r.code(), "secret_not_found");
    // Writing continues the version sequence.
    let r = app.put_secret("d/s", json!({"k": 3})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["version"], 3);
    let r = app.post("/v1/secrets/d/never/restore", &json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn permanent_delete_destroys_every_row(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let db = app.db().await;
    app.put(
        "/v1/secrets/x/live",
        &json!({"data": {"v": 1}, "metadata": {"tags": ["t"]}}),
    )
    .await;
    app.put_secret("x/live", json!({"v": 2})).await;
    app.put_secret("x/live", json!({"v": 3})).await;
    let id: String = sqlx::query_scalar("SELECT id FROM secrets WHERE path = $1")
        .bind("x/live")
        .fetch_one(&db)
        .await
        .expect("secret id");
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM secret_versions WHERE secret_id = $1",
            &id
        )
        .await,
        3
    );

    let r = app.delete("/v1/secrets/x/live?permanent=maybe").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "invalid_request");
    assert_eq!(app.get("/v1/secrets/x/live").await.status, StatusCode::OK);

    let r = app.delete("/v1/secrets/x/live?permanent=true").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["permanent"], true);
    assert_eq!(r.body["deleted"], true);
    assert_eq!(r.body["version_count"], 3);
    assert_eq!(r.body["recoverable_until"], Value::Null);
    let g = app.get("/v1/secrets/x/live").await;
    assert_eq!(g.status, StatusCode::NOT_FOUND);
    assert_eq!(g.code(), "secret_not_found");
    let g = app.get("/v1/secrets/x/live?version=1").await;
    assert_eq!(g.status, StatusCode::NOT_FOUND);
    let r = app.post("/v1/secrets/x/live/restore", &json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "secret_not_found");
    for table in ["secret_versions", "secret_tags"] {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE secret_id = $1");
        assert_eq!(count(&db, &sql, &id).await, 0, "{table}");
    }
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM secrets WHERE id = $1", &id).await,
        0
    );
    let r = app.delete("/v1/secrets/x/live?permanent=true").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // A soft-deleted secret can be destroyed too.
    app.put_secret("x/soft", json!({"v": 1})).await;
    assert_eq!(
        app.delete("/v1/secrets/x/soft").await.status,
        StatusCode::OK
    );
    let r = app.delete("/v1/secrets/x/soft?permanent=true").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(stored_versions(&db, "x/soft").await, 0);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM secrets WHERE path = $1",
            "x/soft"
        )
        .await,
        0
    );
    let r = app.post("/v1/secrets/x/soft/restore", &json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The path is free again at once.
    let r = app.put_secret("x/live", json!({"v": "fresh"})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["version"], 1);
    assert_eq!(r.body["metadata"]["tags"], json!([]));
}

async fn soft_deleted_path_is_reusable_after_retention(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let db = app.db().await;
    app.put(
        "/v1/secrets/r/s",
        &json!({"data": {"old": 1}, "metadata": {"tags": ["old"]}}),
    )
    .await;
    app.put_secret("r/s", json!({"old": 2})).await;
    assert_eq!(app.delete("/v1/secrets/r/s").await.status, StatusCode::OK);
    app.clock.advance(chrono::Duration::days(29));
    let r = app
        .put("/v1/secrets/r/s", &json!({"data": {"new": 1}}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "secret_exists");
    app.clock.advance(chrono::Duration::days(2));
    let r = app.post("/v1/secrets/r/s/restore", &json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(r.code(), "secret_not_found");

    let r = app
        .put("/v1/secrets/r/s", &json!({"data": {"new": 1}}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["version"], 1);
    assert_eq!(r.body["metadata"]["tags"], json!([]));
    let g = app.get("/v1/secrets/r/s").await;
    assert_eq!(g.body["data"], json!({"new": 1}));
    assert_eq!(g.body["created_at"], "2026-02-01T12:00:00Z");
    let v = app.get("/v1/secrets/r/s/versions").await;
    assert_eq!(version_numbers(&v), vec![1]);
    let r = app.get("/v1/secrets/r/s?version=2").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "version_not_found");
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM secrets WHERE path = $1", "r/s").await,
        1
    );
    assert_eq!(stored_versions(&db, "r/s").await, 1);
    assert!(stored_tags(&db, "r/s").await.is_empty());
    assert!(paths_of(&app.get("/v1/secrets?tag=old").await).is_empty());
}

async fn batch_reads_many_paths(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let db = app.db().await;
    app.put_secret("b/one", json!({"n": 1})).await;
    app.put_secret("b/one", json!({"n": 2})).await;
    app.put(
        "/v1/secrets/b/two",
        &json!({"data": {"t": "x"}, "secret_type": "kv", "metadata": {"tags": ["bt"]}}),
    )
    .await;

    let r = app
        .post(
            "/v1/secrets/batch",
            &json!({"paths": ["b/one", "b/two", "b/missing", "a//b", "x/versions"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(keys(&r.body), names(&["secrets", "errors"]));
    assert_eq!(
        r.body["secrets"]["b/one"],
        json!({"data": {"n": 2}, "version": 2, "secret_type": "json"})
    );
    assert_eq!(
        r.body["secrets"]["b/two"],
        json!({"data": {"t": "x"}, "version": 1, "secret_type": "kv"})
    );
    assert_eq!(keys(&r.body["secrets"]), names(&["b/one", "b/two"]));
    assert_eq!(
        keys(&r.body["errors"]),
        names(&["b/missing", "a//b", "x/versions"])
    );
    assert_eq!(r.body["errors"]["b/missing"]["code"], "secret_not_found");
    assert_eq!(r.body["errors"]["a//b"]["code"], "invalid_path");
    assert_eq!(r.body["errors"]["x/versions"]["code"], "invalid_path");
    for e in r.body["errors"].as_object().unwrap().values() {
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
    }
    // Each path is audited on its own.
    let rows = audit_for(&db, &request_id(&r)).await;
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert!(rows.iter().all(|a| a.action == "read"));
    let ok: BTreeSet<_> = rows
        .iter()
        .filter(|a| a.success == 1)
        .map(|a| (a.secret_path.clone().unwrap(), a.version, a.status_code))
        .collect();
    assert_eq!(
        ok,
        BTreeSet::from([
            ("b/one".to_string(), Some(2), 200),
            ("b/two".to_string(), Some(1), 200)
        ])
    );
    let failed = rows
        .iter()
        .find(|a| a.secret_path.as_deref() == Some("b/missing"));
    let failed = failed.expect("row for the missing path");
    assert_eq!((failed.success, failed.status_code), (0, 404));

    // include_metadata and an explicit version.
    let r = app
        .post(
            "/v1/secrets/batch",
            &json!({"paths": ["b/one", "b/two"], "options": {"include_metadata": true, "version": 1}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["secrets"]["b/one"]["data"], json!({"n": 1}));
    assert_eq!(r.body["secrets"]["b/one"]["version"], 1);
    assert_eq!(
        r.body["secrets"]["b/two"]["metadata"]["tags"],
        json!(["bt"])
    );
    assert!(r.body["secrets"]["b/one"]["metadata"].is_object());
    assert_eq!(r.body["errors"], json!({}));
    let r = app
        .post(
            "/v1/secrets/batch",
            &json!({"paths": ["b/one", "b/two"], "options": {"version": 2}}),
        )
        .await;
    assert_eq!(r.body["secrets"]["b/one"]["version"], 2);
    assert_eq!(r.body["errors"]["b/two"]["code"], "version_not_found");
    assert!(r.body["secrets"]["b/one"].get("metadata").is_none());

    // fail_fast stops at the first error.
    let r = app
        .post(
            "/v1/secrets/batch",
            &json!({"paths": ["b/one", "b/missing", "b/two"], "options": {"fail_fast": true}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(keys(&r.body["secrets"]), names(&["b/one"]));
    assert_eq!(keys(&r.body["errors"]), names(&["b/missing"]));
    let rows = audit_for(&db, &request_id(&r)).await;
    assert_eq!(rows.len(), 2, "{rows:?}");

    // Limits and shape.
    let hundred: Vec<String> = (0..100).map(|i| format!("b/many/{i}")).collect();
    let r = app
        .post("/v1/secrets/batch", &json!({"paths": hundred}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["errors"].as_object().unwrap().len(), 100);
    let too_many: Vec<String> = (0..101).map(|i| format!("b/many/{i}")).collect();
    for (body, field) in [
        (json!({"paths": too_many}), "paths"),
        (json!({"paths": []}), "paths"),
        (json!({}), "paths"),
        (json!({"paths": "b/one"}), "paths"),
        (json!({"paths": [1, 2]}), "paths"),
        (
            json!({"paths": ["b/one"], "options": {"fail_fast": "yes"}}),
            "options.fail_fast",
        ),
        (
            json!({"paths": ["b/one"], "options": {"version": 0}}),
            "options.version",
        ),
    ] {
        let r = app.post("/v1/secrets/batch", &body).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert_eq!(r.code(), "validation_error");
        assert_eq!(failing_fields(&r), vec![field]);
    }
    let r = send(
        &app,
        Method::POST,
        "/v1/secrets/batch",
        &[],
        Some(b"[\"b/one\"]".to_vec()),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.code(), "invalid_request");
}

/// A response and the audit row it must have left: (response, action, status, version, path).
type Expected = (Resp, &'static str, i64, Option<i64>, Option<&'static str>);

async fn every_operation_leaves_its_audit_row(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let db = app.db().await;
    let me = app.get("/v1/auth/whoami").await.body["identity_id"]
        .as_str()
        .expect("identity")
        .to_string();
    let patch = |body: Value| {
        let app = &app;
        async move {
            app.call(
                Method::PATCH,
                "/v1/secrets/au/s/metadata",
                Some(&app.root_token),
                Some(&body),
            )
            .await
        }
    };

    let mut checks: Vec<Expected> = Vec::new();
    let r = app
        .put("/v1/secrets/au/s", &json!({"data": {"a": 1}}))
        .await;
    checks.push((r, "write", 201, Some(1), Some("au/s")));
    let r = app
        .put("/v1/secrets/au/s", &json!({"data": {"a": 2}}))
        .await;
    checks.push((r, "write", 200, Some(2), Some("au/s")));
    let r = app.get("/v1/secrets/au/s").await;
    checks.push((r, "read", 200, Some(2), Some("au/s")));
    let r = app.get("/v1/secrets/au/s?version=1").await;
    checks.push((r, "read", 200, Some(1), Some("au/s")));
    let r = app.get("/v1/secrets/au/s/versions").await;
    checks.push((r, "read_metadata", 200, Some(2), Some("au/s")));
    let r = app.get("/v1/secrets/au/s/metadata").await;
    checks.push((r, "read_metadata", 200, Some(2), Some("au/s")));
    let r = patch(json!({"description": "d"})).await;
    checks.push((r, "write", 200, Some(2), Some("au/s")));
    let r = app.get("/v1/secrets?prefix=au/").await;
    checks.push((r, "list", 200, None, Some("au/")));
    let r = app.delete("/v1/secrets/au/s").await;
    checks.push((r, "delete", 200, Some(2), Some("au/s")));
    let r = app.post("/v1/secrets/au/s/restore", &json!({})).await;
    checks.push((r, "restore", 200, Some(2), Some("au/s")));
    let r = app.delete("/v1/secrets/au/s?permanent=true").await;
    checks.push((r, "destroy", 200, Some(2), Some("au/s")));

    for (r, action, status, version, path) in &checks {
        assert!(r.status.is_success(), "{action}: {} {}", r.status, r.body);
        let a = one_audit(&db, r).await;
        assert_eq!(a.action, *action, "{a:?}");
        assert_eq!(a.success, 1, "{a:?}");
        assert_eq!(a.status_code, *status, "{a:?}");
        assert_eq!(a.version, *version, "{a:?}");
        assert_eq!(a.secret_path.as_deref(), *path, "{a:?}");
        assert_eq!(a.identity_id, me, "{a:?}");
    }

    // Failed and refused operations leave success:false rows with their status.
    app.put_secret("au/t", json!({"a": 1})).await;
    let (_, reader) = app.create_token("reader", &["secrets:read"], &[]).await;
    let mut failures: Vec<(Resp, &str, i64, Option<&str>)> = Vec::new();
    let r = app.get("/v1/secrets/au/none").await;
    failures.push((r, "read", 404, Some("au/none")));
    let r = app.get("/v1/secrets/au/t?version=7").await;
    failures.push((r, "read", 404, Some("au/t")));
    let r = app
        .put(
            "/v1/secrets/au/t",
            &json!({"data": {"a": 2}, "options": {"cas": 5}}),
        )
        .await;
    failures.push((r, "write", 409, Some("au/t")));
    let r = app.put("/v1/secrets/au/t", &json!({"data": "nope"})).await;
    failures.push((r, "write", 422, Some("au/t")));
    let r = app.delete("/v1/secrets/au/none").await;
    failures.push((r, "delete", 404, Some("au/none")));
    let r = app.delete("/v1/secrets/au/none?permanent=true").await;
    failures.push((r, "destroy", 404, Some("au/none")));
    let r = app.post("/v1/secrets/au/t/restore", &json!({})).await;
    failures.push((r, "restore", 404, Some("au/t")));
    let r = app.get("/v1/secrets/au/none/versions").await;
    failures.push((r, "read_metadata", 404, Some("au/none")));
    let r = app.get("/v1/secrets?limit=0").await;
    failures.push((r, "list", 422, None));
    let r = app
        .call(
            Method::PUT,
            "/v1/secrets/au/t",
            Some(&reader),
            Some(&json!({"data": {"a": 3}})),
        )
        .await;
    failures.push((r, "write", 403, Some("au/t")));
    let r = app
        .call(Method::DELETE, "/v1/secrets/au/t", Some(&reader), None)
        .await;
    failures.push((r, "delete", 403, Some("au/t")));
    for (r, action, status, path) in &failures {
        assert_eq!(
            i64::from(r.status.as_u16()),
            *status,
            "{action}: {}",
            r.body
        );
        let a = one_audit(&db, r).await;
        assert_eq!(a.action, *action, "{a:?}");
        assert_eq!(a.success, 0, "{a:?}");
        assert_eq!(a.status_code, *status, "{a:?}");
        assert_eq!(a.secret_path.as_deref(), *path, "{a:?}");
    }
    // The refused write changed nothing.
    let g = app.get("/v1/secrets/au/t").await;
    assert_eq!(g.body["version"], 1);
    assert_eq!(g.body["data"], json!({"a": 1}));
}

/// A metadata patch with `options.cas` or `If-Match` applies only at that current version:
/// otherwise 409 `version_conflict` and nothing changes.
async fn patch_metadata_honours_cas_and_if_match(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("pc/s", json!({"k": 1})).await;
    app.put_secret("pc/s", json!({"k": 2})).await;
    let patch = |body: Value, if_match: Option<&'static str>| {
        let mut rb = app
            .client
            .patch(app.url("/v1/secrets/pc/s/metadata"))
            .bearer_auth(&app.root_token)
            .json(&body);
        if let Some(v) = if_match {
            rb = rb.header("If-Match", v);
        }
        async move { TestApp::into_resp(rb.send().await.expect("sent")).await }
    };
    for (body, if_match) in [
        (json!({"description": "stale", "options": {"cas": 1}}), None),
        (json!({"description": "stale"}), Some("\"1\"")),
        (json!({"description": "stale", "options": {"cas": 0}}), None),
    ] {
        let r = patch(body.clone(), if_match).await;
        assert_eq!(
            r.status,
            StatusCode::CONFLICT,
            "{body} {if_match:?}: {}",
            r.body
        );
        assert_eq!(r.code(), "version_conflict");
    }
    let g = app.get("/v1/secrets/pc/s/metadata").await;
    assert_eq!(g.body["metadata"]["description"], Value::Null, "{}", g.body);
    let r = patch(json!({"description": "fresh", "options": {"cas": 2}}), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = patch(json!({"owner": "team"}), Some("\"2\"")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let g = app.get("/v1/secrets/pc/s").await;
    assert_eq!(g.body["metadata"]["description"], "fresh", "{}", g.body);
    assert_eq!(g.body["metadata"]["owner"], "team", "{}", g.body);
    assert_eq!(g.body["version"], 2);
    let r = patch(json!({"options": {"cas": -1}}), None).await;
    assert_eq!(r.status.as_u16() / 100, 4, "{}", r.body);
}
