//! NUL characters in input (SPEC §13): a path → 400 `invalid_path`, a string field → 400
//! `invalid_request`, never a 503 (PostgreSQL cannot store NUL in text), and the refused
//! request still leaves its audit row. Secret values may hold NUL: they are stored encrypted.

use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

both_stores!(
    nul_in_a_secret_path_is_invalid_path_and_audited,
    nul_in_a_string_field_is_invalid_request_and_audited,
    nul_in_a_secret_value_is_kept,
    nul_in_a_query_filter_is_not_an_outage,
);

/// Sends a request tagged with `request_id` (so its audit row can be found).
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<&Value>,
    request_id: &str,
) -> crate::common::Resp {
    let mut rb = app
        .client
        .request(method, app.url(path))
        .bearer_auth(&app.root_token)
        .header("x-request-id", request_id);
    if let Some(b) = body {
        rb = rb.json(b);
    }
    TestApp::into_resp(rb.send().await.expect("request sent")).await
}

/// The audit rows of one request, as the audit API shows them.
async fn audit_of(app: &TestApp, request_id: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/v1/audit/logs?request_id={request_id}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["logs"].as_array().expect("logs").clone()
}

/// Asserts one refused-request audit row with `status`, holding no NUL anywhere.
async fn assert_refusal_audited(app: &TestApp, request_id: &str, status: u16) {
    let rows = audit_of(app, request_id).await;
    assert_eq!(rows.len(), 1, "{request_id}: {rows:#?}");
    assert_eq!(rows[0]["success"], false, "{:#}", rows[0]);
    assert_eq!(rows[0]["status_code"], status, "{:#}", rows[0]);
    assert!(!rows[0].to_string().contains("\\u0000"), "{:#}", rows[0]);
}

async fn nul_in_a_secret_path_is_invalid_path_and_audited(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let body = json!({"data": {"k": "v"}});
    // (method, path, body, leaves an audit row: the audit API's own reads leave none)
    let cases = [
        (Method::PUT, "/v1/secrets/team/a%00b", Some(&body), true),
        (Method::GET, "/v1/secrets/team/a%00b", None, true),
        (Method::GET, "/v1/secrets/a%00/versions", None, true),
        (Method::DELETE, "/v1/secrets/%00", None, true),
        (Method::GET, "/v1/audit/secrets/team/a%00b", None, false),
    ];
    for (i, (method, path, body, audited)) in cases.into_iter().enumerate() {
        let rid = format!("req_nulpath{i}");
        let r = send(&app, method.clone(), path, body, &rid).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{method} {path}: {}",
            r.body
        );
        assert_eq!(r.code(), "invalid_path", "{method} {path}");
        if audited {
            assert_refusal_audited(&app, &rid, 400).await;
        }
    }
    let rows = audit_of(&app, "req_nulpath0").await;
    assert_eq!(rows[0]["secret_path"], "team/a\u{fffd}b");
}

async fn nul_in_a_string_field_is_invalid_request_and_audited(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("team/kept", json!({"k": "v"})).await;
    let cases = [
        (
            Method::PUT,
            "/v1/secrets/team/new",
            json!({"data": {"k": "v"}, "metadata": {"description": "a\u{0}b"}}),
        ),
        (
            Method::PUT,
            "/v1/secrets/team/new",
            json!({"data": {"k": "v"}, "metadata": {"tags": ["x\u{0}"]}}),
        ),
        (
            Method::PATCH,
            "/v1/secrets/team/kept/metadata",
            json!({"metadata": {"custom": {"k\u{0}": "v"}}}),
        ),
        (
            Method::POST,
            "/v1/webhooks",
            json!({"name": "hook\u{0}", "url": "https://example.com/hook",
                   "secret": "whsec_0123456789abcdef", "events": ["*"]}),
        ),
        (
            Method::POST,
            "/v1/auth/tokens",
            json!({"name": "ci\u{0}", "scopes": ["secrets:read"]}),
        ),
        (
            Method::POST,
            "/v1/rotation/policies",
            json!({"name": "p1", "interval": "30d", "description": "d\u{0}"}),
        ),
    ];
    for (i, (method, path, body)) in cases.into_iter().enumerate() {
        let rid = format!("req_nulfield{i}");
        let r = send(&app, method.clone(), path, Some(&body), &rid).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{method} {path} {body}: {}",
            r.body
        );
        assert_eq!(r.code(), "invalid_request", "{method} {path} {body}");
        assert_refusal_audited(&app, &rid, 400).await;
    }
    // Nothing was written.
    assert_eq!(
        app.get("/v1/secrets/team/new").await.status,
        StatusCode::NOT_FOUND
    );
    let meta = app.get("/v1/secrets/team/kept/metadata").await;
    assert_eq!(meta.body["metadata"]["custom"], json!({}), "{}", meta.body);
    let hooks = app.get("/v1/webhooks").await;
    assert_eq!(hooks.body["webhooks"], json!([]));
}

async fn nul_in_a_secret_value_is_kept(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let data = json!({"k": "a\u{0}b", "nested": {"x\u{0}": ["\u{0}"]}});
    let r = app
        .put("/v1/secrets/team/bin", &json!({ "data": data }))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app.get("/v1/secrets/team/bin").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"], data);
}

/// A NUL in a query filter reaches the store: PostgreSQL refuses it (400, never 503);
/// SQLite simply finds no match.
async fn nul_in_a_query_filter_is_not_an_outage(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("team/a", json!({"k": "v"})).await;
    // (path, leaves an audit row: the audit API's own reads leave none)
    for (i, (path, audited)) in [
        ("/v1/secrets?tag=x%00y", true),
        ("/v1/audit/logs?identity_id=user:%00", false),
    ]
    .into_iter()
    .enumerate()
    {
        let rid = format!("req_nulquery{i}");
        let r = send(&app, Method::GET, path, None, &rid).await;
        match kind {
            StoreKind::Postgres => {
                assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.body);
                assert_eq!(r.code(), "invalid_request", "{path}");
                if audited {
                    assert_refusal_audited(&app, &rid, 400).await;
                }
            }
            StoreKind::Sqlite => assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body),
        }
    }
}
