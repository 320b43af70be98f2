//! Typed request bodies (one Rust type per body: serde parses, `check` validates): every body
//! the API accepts, sent with several wrong fields at once, answers one 422
//! `validation_error` that lists each of them in `details.fields`, never quotes a submitted
//! value, and changes nothing.

use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use crate::secrets_api::failing_fields;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

both_stores!(every_wrong_field_of_every_body_is_listed_in_one_422);

/// A value only a leaked echo could put in an answer.
const MARKER: &str = "hunter2-marker-7f3a";

async fn snapshot(app: &TestApp) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        "/v1/secrets",
        "/v1/secrets/tb/s",
        "/v1/webhooks",
        "/v1/auth/tokens",
        "/v1/rotation/policies",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        out.push(r.body);
    }
    out
}

async fn every_wrong_field_of_every_body_is_listed_in_one_422(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("tb/s", json!({"k": "v"})).await;
    let r = app
        .post(
            "/v1/webhooks",
            &json!({"name": "tb", "url": "https://hooks.example.com/x",
                    "secret": "0123456789abcdef0123", "events": ["*"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let wh = r.body["id"].as_str().expect("webhook id").to_string();
    let r = app
        .post(
            "/v1/rotation/policies",
            &json!({"name": "tb", "interval": "90d"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let before = snapshot(&app).await;

    let cases: Vec<(Method, String, Value, Vec<&str>)> = vec![
        (
            Method::PUT,
            "/v1/secrets/tb/new".into(),
            json!({"data": MARKER, "metadata": {"description": 5, "tags": [1]},
                   "options": {"max_versions": MARKER, "cas": -1}}),
            vec![
                "data",
                "metadata.description",
                "metadata.tags",
                "options.max_versions",
                "options.cas",
            ],
        ),
        (
            Method::PATCH,
            "/v1/secrets/tb/s/metadata".into(),
            json!({"tags": MARKER, "owner": 7}),
            vec!["tags", "owner"],
        ),
        (
            Method::PATCH,
            "/v1/secrets/tb/s/metadata".into(),
            json!({"metadata": {"custom": MARKER}, "options": {"max_versions": 0}}),
            vec!["metadata.custom", "options.max_versions"],
        ),
        (
            Method::POST,
            "/v1/secrets/batch".into(),
            json!({"paths": MARKER, "options": {"fail_fast": MARKER, "version": 0}}),
            vec!["paths", "options.fail_fast", "options.version"],
        ),
        (
            Method::POST,
            "/v1/webhooks".into(),
            json!({"name": 5, "url": 7, "secret": 12345, "events": MARKER, "enabled": MARKER}),
            vec!["name", "url", "secret", "events", "enabled"],
        ),
        (
            Method::PATCH,
            format!("/v1/webhooks/{wh}"),
            json!({"enabled": MARKER, "filters": {"tags": MARKER, "secret_type": MARKER}}),
            vec!["enabled", "filters.tags", "filters.secret_type"],
        ),
        (
            Method::POST,
            "/v1/auth/tokens".into(),
            json!({"name": 5, "scopes": MARKER, "path_prefixes": [1]}),
            vec!["name", "scopes", "path_prefixes"],
        ),
        (
            Method::POST,
            "/v1/auth/introspect".into(),
            json!({"token": 5}),
            vec!["token"],
        ),
        (
            Method::POST,
            "/v1/rotation/policies".into(),
            json!({"name": "BAD NAME", "interval": 5, "auto_generate": MARKER, "webhook_ids": MARKER}),
            vec!["name", "interval", "auto_generate", "webhook_ids"],
        ),
        (
            Method::PATCH,
            "/v1/rotation/policies/rot_tb".into(),
            json!({"auto_generate": MARKER, "description": 5, "name": "other"}),
            vec!["auto_generate", "description", "name"],
        ),
        (
            Method::POST,
            "/v1/rotation/policies/rot_tb/secrets".into(),
            json!({"secret_path": 5}),
            vec!["secret_path"],
        ),
        (
            Method::POST,
            "/v1/rotation/policies/rot_tb/rotate".into(),
            json!({"secret_paths": MARKER}),
            vec!["secret_paths"],
        ),
        (
            Method::POST,
            "/v1/audit/export".into(),
            json!({"format": MARKER, "filters": MARKER}),
            vec!["format", "filters"],
        ),
    ];
    for (method, path, body, fields) in cases {
        let r = app
            .call(method.clone(), &path, Some(&app.root_token), Some(&body))
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {path}: {}",
            r.body
        );
        assert_eq!(r.code(), "validation_error", "{method} {path}: {}", r.body);
        let mut got = failing_fields(&r);
        got.sort();
        let mut want: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "{method} {path}: {}", r.body);
        assert!(
            !r.body.to_string().contains(MARKER),
            "{method} {path} echoed a submitted value: {}",
            r.body
        );
    }
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused body changed something"
    );
    // Positive control: the same bodies, made right, are taken.
    let r = app
        .call(
            Method::PATCH,
            "/v1/secrets/tb/s/metadata",
            Some(&app.root_token),
            Some(&json!({"tags": ["a"], "owner": "team:x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["metadata"]["tags"], json!(["a"]));
}
