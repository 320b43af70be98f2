//! Lists can be huge: `metadata.custom` is bounded (16 KiB of JSON per secret, 422 naming the
//! field beyond), and a secret listing ends its page early at about 4 MiB with `has_more: true`
//! and a cursor that continues where it stopped — also over rows stored before the bound.

use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

both_stores!(custom_metadata_is_bounded, list_pages_end_at_a_size_bound);

const MAX_CUSTOM: usize = 16 * 1024;

/// A `custom` object whose JSON is exactly `bytes` long.
fn custom_of(bytes: usize) -> Value {
    let overhead = r#"{"blob":""}"#.len();
    json!({ "blob": "x".repeat(bytes - overhead) })
}

fn field_of(r: &crate::common::Resp) -> Value {
    r.body["error"]["details"]["fields"][0]["field"].clone()
}

async fn custom_metadata_is_bounded(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    assert_eq!(
        serde_json::to_vec(&custom_of(MAX_CUSTOM)).unwrap().len(),
        MAX_CUSTOM
    );
    let too_big = custom_of(MAX_CUSTOM + 1);
    let r = app
        .put(
            "/v1/secrets/meta/big",
            &json!({"data": {"a": 1}, "metadata": {"custom": too_big}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.code(), "validation_error");
    assert_eq!(field_of(&r), "metadata.custom");
    assert!(
        !r.body.to_string().contains("xxxx"),
        "the value is not echoed"
    );
    assert_eq!(
        app.get("/v1/secrets/meta/big").await.code(),
        "secret_not_found"
    );
    // At the bound it is accepted.
    let r = app
        .put(
            "/v1/secrets/meta/big",
            &json!({"data": {"a": 1}, "metadata": {"custom": custom_of(MAX_CUSTOM)}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // A metadata PATCH is held to the same bound, in either body shape.
    let app = &app;
    let patch = |body: Value| async move {
        app.call(
            Method::PATCH,
            "/v1/secrets/meta/big/metadata",
            Some(&app.root_token),
            Some(&body),
        )
        .await
    };
    let r = patch(json!({"metadata": {"custom": too_big.clone()}})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(field_of(&r), "metadata.custom");
    let r = patch(json!({"custom": too_big})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(field_of(&r), "custom");
    let stored = app.get("/v1/secrets/meta/big/metadata").await;
    assert_eq!(stored.body["metadata"]["custom"], custom_of(MAX_CUSTOM));
    let r = patch(json!({"custom": {"small": true}})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

async fn list_pages_end_at_a_size_bound(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let mut all = Vec::new();
    for i in 0..7 {
        let path = format!("huge/{i}");
        app.put_secret(&path, json!({"i": i})).await;
        all.push(path);
    }
    for i in 0..3 {
        let path = format!("huge/small-{i}");
        app.put_secret(&path, json!({"i": i})).await;
        all.push(path);
    }
    all.sort();
    // Rows written before the bound existed: about 1 MiB of custom metadata each.
    let legacy = serde_json::to_string(&custom_of(1024 * 1024)).unwrap();
    let db = app.db().await;
    let n = sqlx::query("UPDATE secrets SET custom = $1 WHERE path NOT LIKE 'huge/small-%'")
        .bind(&legacy)
        .execute(&db)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(n, 7);
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut cursor = String::new();
    loop {
        let res = app
            .client
            .get(app.url(&format!(
                "/v1/secrets?prefix=huge&limit=1000&cursor={cursor}"
            )))
            .bearer_auth(&app.root_token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let bytes = res.bytes().await.unwrap();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        let rows = body["secrets"].as_array().unwrap();
        assert!(!rows.is_empty());
        assert!(
            bytes.len() <= 4 * 1024 * 1024 + 64 * 1024,
            "a page of {} bytes",
            bytes.len()
        );
        seen.extend(rows.iter().map(|r| r["path"].as_str().unwrap().to_string()));
        pages.push(rows.len());
        match body["cursor"].as_str() {
            Some(c) => {
                assert_eq!(body["has_more"], true);
                cursor = c.to_string();
            }
            None => {
                assert_eq!(body["has_more"], false);
                break;
            }
        }
        assert!(pages.len() < 10, "{pages:?}");
    }
    assert!(pages.len() >= 2, "the first page ended early: {pages:?}");
    assert_eq!(seen, all, "every secret exactly once, in order: {pages:?}");
}
