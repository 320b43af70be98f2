//! The foundation's must-shows: CAS races, path rules, tenant isolation, revocation, pruning.

use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

both_stores!(
    concurrent_cas_writers_exactly_one_wins,
    path_prefix_token_cannot_leave_its_prefix,
    other_tenant_gets_404,
    revoked_token_is_refused_at_once,
    max_versions_prunes_oldest,
    denied_attempts_are_audited,
);

async fn concurrent_cas_writers_exactly_one_wins(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for i in 0..8 {
        let path = format!("race/{i}");
        app.put_secret(&path, json!({"v": 0})).await;
        let body = |n: i32| json!({"data": {"v": n}, "options": {"cas": 1}});
        let url = format!("/v1/secrets/{path}");
        let (b1, b2) = (body(1), body(2));
        let (a, b) = tokio::join!(app.put(&url, &b1), app.put(&url, &b2));
        let statuses = [a.status, b.status];
        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::OK).count(),
            1,
            "{statuses:?} {} {}",
            a.body,
            b.body
        );
        let loser = if a.status == StatusCode::OK { &b } else { &a };
        assert_eq!(loser.status, StatusCode::CONFLICT);
        assert_eq!(loser.code(), "version_conflict");
        let r = app.get(&url).await;
        assert_eq!(r.body["version"], 2);
    }
    // cas 0 = create only if absent, also under a race.
    let (n1, n2) = (
        json!({"data": {"v": 1}, "options": {"cas": 0}}),
        json!({"data": {"v": 2}, "options": {"cas": 0}}),
    );
    let (a, b) = tokio::join!(
        app.put("/v1/secrets/race/new", &n1),
        app.put("/v1/secrets/race/new", &n2)
    );
    let mut s = [a.status, b.status];
    s.sort();
    assert_eq!(s, [StatusCode::CREATED, StatusCode::CONFLICT]);
}

async fn path_prefix_token_cannot_leave_its_prefix(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("team-a/db", json!({"p": "a"})).await;
    app.put_secret("team-b/db", json!({"p": "b"})).await;
    let (_, tok) = app
        .create_token(
            "team-a",
            &[
                "secrets:read",
                "secrets:write",
                "secrets:list",
                "audit:read",
            ],
            &["team-a/"],
        )
        .await;
    let r = app
        .call(Method::GET, "/v1/secrets/team-a/db", Some(&tok), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .call(Method::GET, "/v1/secrets/team-b/db", Some(&tok), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "access_denied");
    let r = app
        .call(
            Method::PUT,
            "/v1/secrets/team-b/x",
            Some(&tok),
            Some(&json!({"data": {}})),
        )
        .await;
    assert_eq!(r.code(), "access_denied");
    for q in ["", "?prefix=team-b/", "?prefix=team"] {
        let r = app
            .call(Method::GET, &format!("/v1/secrets{q}"), Some(&tok), None)
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let paths: Vec<&str> = r.body["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["path"].as_str().unwrap())
            .collect();
        assert!(
            paths.iter().all(|p| p.starts_with("team-a/")),
            "{q}: {paths:?}"
        );
    }
    let r = app
        .call(
            Method::POST,
            "/v1/secrets/batch",
            Some(&tok),
            Some(&json!({"paths": ["team-a/db", "team-b/db"]})),
        )
        .await;
    assert_eq!(r.body["secrets"]["team-a/db"]["data"]["p"], "a");
    assert_eq!(r.body["errors"]["team-b/db"]["code"], "access_denied");
    // The events feed (readable with audit:read) only shows its paths.
    let r = app.call(Method::GET, "/v1/events", Some(&tok), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let events = r.body["events"].as_array().unwrap();
    assert!(!events.is_empty());
    assert!(events
        .iter()
        .all(|e| e["path"].as_str().unwrap().starts_with("team-a/")));
}

async fn other_tenant_gets_404(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("shared/name", json!({"owner": "tenant-a"}))
        .await;
    let b = app.token_in_tenant("tnt_b", &["admin"]).await;
    for (m, path) in [
        (Method::GET, "/v1/secrets/shared/name"),
        (Method::GET, "/v1/secrets/shared/name/versions"),
        (Method::GET, "/v1/secrets/shared/name/metadata"),
        (Method::DELETE, "/v1/secrets/shared/name"),
    ] {
        let r = app.call(m.clone(), path, Some(&b), None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{m} {path}");
        assert_eq!(r.code(), "secret_not_found");
    }
    let r = app.call(Method::GET, "/v1/secrets", Some(&b), None).await;
    assert_eq!(r.body["secrets"], json!([]));
    // B's write to the same path is its own secret; A's is untouched.
    let r = app
        .call(
            Method::PUT,
            "/v1/secrets/shared/name",
            Some(&b),
            Some(&json!({"data": {"owner": "tenant-b"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        app.get("/v1/secrets/shared/name").await.body["data"]["owner"],
        "tenant-a"
    );
}

async fn revoked_token_is_refused_at_once(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (id, tok) = app.create_token("svc", &["secrets:read"], &[]).await;
    let r = app
        .call(Method::GET, "/v1/auth/whoami", Some(&tok), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["identity_id"], "sa:svc");
    let r = app.delete(&format!("/v1/auth/tokens/{id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app
        .call(Method::GET, "/v1/auth/whoami", Some(&tok), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "token_revoked");
    let r = app
        .call(Method::GET, "/v1/auth/whoami", Some("skt_nope"), None)
        .await;
    assert_eq!(r.code(), "token_invalid");
    let r = app.call(Method::GET, "/v1/auth/whoami", None, None).await;
    assert_eq!(r.code(), "authentication_required");
}

async fn max_versions_prunes_oldest(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for n in 1..=5 {
        let r = app
            .put(
                "/v1/secrets/p/x",
                &json!({"data": {"n": n}, "options": {"max_versions": 3}}),
            )
            .await;
        assert!(r.status.is_success());
    }
    let r = app.get("/v1/secrets/p/x/versions").await;
    let versions: Vec<i64> = r.body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, vec![5, 4, 3]);
    assert_eq!(r.body["versions"][0]["is_current"], true);
    assert_eq!(r.body["versions"][1]["is_current"], false);
    for gone in [1, 2] {
        let r = app.get(&format!("/v1/secrets/p/x?version={gone}")).await;
        assert_eq!(r.code(), "version_not_found");
    }
    let r = app.get("/v1/secrets/p/x?version=3").await;
    assert_eq!(r.body["data"]["n"], 3);
}

async fn denied_attempts_are_audited(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (_, tok) = app.create_token("reader", &["secrets:read"], &[]).await;
    let r = app
        .call(
            Method::PUT,
            "/v1/secrets/a/b",
            Some(&tok),
            Some(&json!({"data": {}})),
        )
        .await;
    assert_eq!(r.code(), "insufficient_scope");
    let rid = r.header("x-request-id").unwrap().to_string();
    let db = app.db().await;
    let (action, success, status, identity): (String, i64, i64, String) = sqlx::query_as(
        "SELECT action, success, status_code, identity_id FROM audit_log WHERE request_id = $1",
    )
    .bind(&rid)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(
        (action.as_str(), success, status, identity.as_str()),
        ("write", 0, 403, "sa:reader")
    );
    // Nothing was written.
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM secrets")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(n, 0);
}
