//! A path-restricted admin (`{"scopes":["admin"],"path_prefixes":["team-a/"]}`) is an admin of
//! its paths only (SPEC §2, turn 2). One test per escape found on 2026-12-04, each with the
//! positive control: the same admin manages `team-a/` webhooks and policies. Also: refusals
//! are audited and collapsed, and requests without a valid token are limited per address.

use crate::both_stores;
use crate::common::{Resp, StoreKind, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

both_stores!(
    restricted_admin_neither_sees_nor_repoints_other_teams_webhooks,
    restricted_admin_cannot_create_a_catch_all_or_look_alike_webhook,
    restricted_admin_cannot_detach_other_teams_secrets,
    restricted_admin_cannot_change_a_policy_with_other_teams_secrets,
    restricted_admin_cannot_route_its_policy_to_other_teams_webhooks,
    repeated_refusals_collapse_into_one_row_with_a_count,
    requests_without_a_valid_token_are_limited_per_address,
);

const SECRET: &str = "whsec_0123456789abcdef0123456789";

async fn as_(app: &TestApp, tok: &str, m: Method, url: &str, body: Option<Value>) -> Resp {
    app.call(m, url, Some(tok), body.as_ref()).await
}

async fn team_a_admin(app: &TestApp) -> String {
    app.create_token("admin-a", &["admin"], &["team-a/"])
        .await
        .1
}

/// A webhook made by the root token; returns its id.
async fn webhook(app: &TestApp, name: &str, filter: Option<&str>) -> String {
    let r = app
        .post(
            "/v1/webhooks",
            &json!({"name": name, "url": "http://127.0.0.1:9/hook", "secret": SECRET, "events": ["*"], "filters": {"path_prefix": filter}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["id"].as_str().expect("id").to_string()
}

async fn restricted_admin_neither_sees_nor_repoints_other_teams_webhooks(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let tok = team_a_admin(&app).await;
    let b = webhook(&app, "team-b-hook", Some("team-b/")).await;
    let all = webhook(&app, "catch-all", None).await;
    let a = webhook(&app, "team-a-hook", Some("team-a/")).await;

    let r = as_(&app, &tok, Method::GET, "/v1/webhooks", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let ids: Vec<&str> = r.body["webhooks"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|w| w["id"].as_str())
        .collect();
    assert_eq!(ids, [a.as_str()], "only its own team's webhook is listed");

    for id in [&b, &all] {
        for (m, url, body) in [
            (Method::GET, format!("/v1/webhooks/{id}"), None),
            (
                Method::PATCH,
                format!("/v1/webhooks/{id}"),
                Some(json!({"url": "http://127.0.0.1:9/stolen"})),
            ),
            (Method::DELETE, format!("/v1/webhooks/{id}"), None),
            (Method::GET, format!("/v1/webhooks/{id}/deliveries"), None),
            (Method::POST, format!("/v1/webhooks/{id}/test"), None),
        ] {
            let r = as_(&app, &tok, m.clone(), &url, body).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{m} {url}: {}", r.body);
            assert_eq!(r.code(), "webhook_not_found");
        }
        let r = app.get(&format!("/v1/webhooks/{id}")).await;
        assert_eq!(r.body["url"], "http://127.0.0.1:9/hook", "unchanged");
    }
    // An unknown id answers exactly the same.
    let r = as_(&app, &tok, Method::GET, "/v1/webhooks/wh_nope", None).await;
    assert_eq!(r.code(), "webhook_not_found");

    // Positive control: its own team's webhook it reads, repoints and deletes.
    let r = as_(
        &app,
        &tok,
        Method::PATCH,
        &format!("/v1/webhooks/{a}"),
        Some(json!({"url": "http://127.0.0.1:9/moved"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["url"], "http://127.0.0.1:9/moved");
    // …but cannot widen its filter past its rules.
    let r = as_(
        &app,
        &tok,
        Method::PATCH,
        &format!("/v1/webhooks/{a}"),
        Some(json!({"filters": {"path_prefix": null}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.code(), "access_denied");
    let r = app.get(&format!("/v1/webhooks/{a}")).await;
    assert_eq!(r.body["filters"]["path_prefix"], "team-a/");
    let r = as_(
        &app,
        &tok,
        Method::DELETE,
        &format!("/v1/webhooks/{a}"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
}

async fn restricted_admin_cannot_create_a_catch_all_or_look_alike_webhook(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let tok = team_a_admin(&app).await;
    // No filter (every event), another team's, and a string prefix that also matches
    // `team-a-prod/…` are all refused, and nothing is created.
    for filter in [
        json!(null),
        json!("team-b/"),
        json!("team-a"),
        json!("team"),
    ] {
        let r = as_(
            &app,
            &tok,
            Method::POST,
            "/v1/webhooks",
            Some(json!({"name": "grab", "url": "http://127.0.0.1:9/grab", "secret": SECRET, "events": ["*"], "filters": {"path_prefix": filter}})),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{filter}: {}", r.body);
        assert_eq!(r.code(), "access_denied", "{filter}");
    }
    let r = app.get("/v1/webhooks").await;
    assert_eq!(r.body["webhooks"], json!([]), "nothing was created");
    // Positive control: with a filter inside its rules it may.
    for filter in ["team-a/", "team-a/payments/"] {
        let r = as_(
            &app,
            &tok,
            Method::POST,
            "/v1/webhooks",
            Some(json!({"name": format!("ok-{}", filter.len()), "url": "http://127.0.0.1:9/a", "secret": SECRET, "events": ["*"], "filters": {"path_prefix": filter}})),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{filter}: {}", r.body);
    }
}

/// A policy made by the root token with these secrets attached; returns its id.
async fn policy(app: &TestApp, name: &str, paths: &[&str]) -> String {
    let r = app
        .post(
            "/v1/rotation/policies",
            &json!({"name": name, "interval": "30d"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().expect("id").to_string();
    for p in paths {
        app.put_secret(p, json!({"v": 1})).await;
        let r = app
            .post(
                &format!("/v1/rotation/policies/{id}/secrets"),
                &json!({"secret_path": p}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    id
}

async fn attached(app: &TestApp, path: &str) -> Value {
    app.get(&format!("/v1/secrets/{path}")).await.body["rotation_policy_id"].clone()
}

async fn restricted_admin_cannot_detach_other_teams_secrets(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let tok = team_a_admin(&app).await;
    let id = policy(&app, "shared", &["team-a/db", "team-b/db"]).await;
    // An attached secret, a missing one and a detached one answer alike: no existence oracle.
    for path in ["team-b/db", "team-b/missing"] {
        let r = as_(
            &app,
            &tok,
            Method::DELETE,
            &format!("/v1/rotation/policies/{id}/secrets/{path}"),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.body);
        assert_eq!(r.code(), "access_denied", "{path}");
    }
    assert_eq!(attached(&app, "team-b/db").await, json!(id));
    // Positive control: its own team's secret it detaches.
    let r = as_(
        &app,
        &tok,
        Method::DELETE,
        &format!("/v1/rotation/policies/{id}/secrets/team-a/db"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(attached(&app, "team-a/db").await, Value::Null);
}

async fn restricted_admin_cannot_change_a_policy_with_other_teams_secrets(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let tok = team_a_admin(&app).await;
    let mixed = policy(&app, "mixed", &["team-a/db", "team-b/db"]).await;
    let own = policy(&app, "own", &["team-a/api"]).await;
    let url = format!("/v1/rotation/policies/{mixed}");
    // The attack: rotate team-b's secret every second with generated values.
    let r = as_(
        &app,
        &tok,
        Method::PATCH,
        &url,
        Some(json!({"interval": "1s", "auto_generate": true})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.code(), "access_denied");
    for (m, u) in [
        (Method::POST, format!("{url}/disable")),
        (Method::POST, format!("{url}/enable")),
        (Method::DELETE, url.clone()),
    ] {
        let r = as_(&app, &tok, m.clone(), &u, None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{m} {u}: {}", r.body);
    }
    let p = app.get(&url).await;
    assert_eq!(
        (
            &p.body["interval"],
            &p.body["auto_generate"],
            &p.body["is_active"]
        ),
        (&json!("30d"), &json!(false), &json!(true)),
        "{}",
        p.body
    );
    // Forcing a rotation of team-b's secret is refused too.
    let r = as_(
        &app,
        &tok,
        Method::POST,
        &format!("{url}/rotate"),
        Some(json!({"secret_paths": ["team-b/db"]})),
    )
    .await;
    assert_eq!(r.code(), "access_denied", "{}", r.body);
    // It sees the policy, counting only its own paths.
    let r = as_(&app, &tok, Method::GET, &url, None).await;
    assert_eq!(r.body["secrets_count"], 1, "{}", r.body);
    assert_eq!(app.get(&url).await.body["secrets_count"], 2);

    // Positive control: a policy whose secrets are all its own it changes and deletes.
    let own_url = format!("/v1/rotation/policies/{own}");
    let r = as_(
        &app,
        &tok,
        Method::PATCH,
        &own_url,
        Some(json!({"interval": "7d"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["interval"], "7d");
    let r = as_(&app, &tok, Method::DELETE, &own_url, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
}

async fn restricted_admin_cannot_route_its_policy_to_other_teams_webhooks(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let tok = team_a_admin(&app).await;
    let b = webhook(&app, "team-b-hook", Some("team-b/")).await;
    let a = webhook(&app, "team-a-hook", Some("team-a/")).await;
    let r = as_(
        &app,
        &tok,
        Method::POST,
        "/v1/rotation/policies",
        Some(json!({"name": "mine", "interval": "30d", "webhook_ids": [b]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(r.code(), "webhook_not_found");
    let r = as_(
        &app,
        &tok,
        Method::POST,
        "/v1/rotation/policies",
        Some(json!({"name": "mine", "interval": "30d", "webhook_ids": [a]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

async fn repeated_refusals_collapse_into_one_row_with_a_count(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let tok = team_a_admin(&app).await;
    for _ in 0..25 {
        let r = as_(&app, &tok, Method::GET, "/v1/secrets/team-b/db", None).await;
        assert_eq!(r.code(), "access_denied");
    }
    let db = app.db().await;
    let count = |db: sqlx::AnyPool| async move {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE identity_id = 'sa:admin-a' AND success = 0",
        )
        .fetch_one(&db)
        .await
        .expect("count");
        n
    };
    assert_eq!(
        count(db.clone()).await,
        1,
        "one row while the window is open"
    );
    let rows = app.refusals_of("sa:admin-a").await;
    assert_eq!(rows, [("read".into(), 403, 1), ("read".into(), 403, 24)]);
    let extras: Vec<String> = sqlx::query_scalar(
        "SELECT extra_data FROM audit_log WHERE identity_id = 'sa:admin-a' AND success = 0",
    )
    .fetch_all(&db)
    .await
    .expect("refusal rows");
    let extra: Value = extras
        .iter()
        .map(|e| serde_json::from_str::<Value>(e).expect("json"))
        .find(|e| e.get("repeated").is_some())
        .expect("a summary row");
    assert_eq!(extra["repeated"], 24);
    assert_eq!(extra["error"], "access_denied");
    // The 401s of a bad token collapse the same way.
    for _ in 0..10 {
        let r = app
            .call(Method::GET, "/v1/secrets/x", Some("skt_wrong"), None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let rows = app.refusals_of("anonymous").await;
    assert_eq!(
        rows,
        [
            ("auth_failed".into(), 401, 1),
            ("auth_failed".into(), 401, 9)
        ]
    );
}

async fn requests_without_a_valid_token_are_limited_per_address(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |c| c.rate_limits.unauthenticated = 2).await;
    // A burst of 10 × 2/s, then 429 with Retry-After (the test clock does not move).
    for i in 0..20 {
        let r = app
            .call(Method::GET, "/v1/secrets/x", Some("skt_wrong"), None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "request {i}");
    }
    let r = app
        .call(Method::GET, "/v1/secrets/x", Some("skt_wrong"), None)
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.code(), "rate_limited");
    assert!(r.header("retry-after").is_some());
    // A valid token is not limited by it.
    let r = app.get("/v1/auth/whoami").await;
    assert_eq!(r.status, StatusCode::OK);
    // The budget comes back with time.
    app.clock.advance(chrono::Duration::seconds(1));
    let r = app
        .call(Method::GET, "/v1/secrets/x", Some("skt_wrong"), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
