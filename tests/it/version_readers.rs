//! Is the old version still used? (SPEC §11): `/versions` shows per version the last read and
//! the distinct readers of the last 24 hours, and when a grace period ends
//! `rotation.grace_ended` says who read the old version during it. Both from the audit log.

use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

both_stores!(
    versions_show_last_read_and_recent_readers,
    grace_ended_says_who_still_read_the_old_version,
);

async fn versions(app: &TestApp, path: &str) -> Vec<Value> {
    let r = app.get(&format!("/v1/secrets/{path}/versions")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["versions"].as_array().cloned().unwrap()
}

async fn versions_show_last_read_and_recent_readers(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("used/db", json!({"pw": "one"})).await;
    let (_, reader) = app.create_token("reader", &["secrets:read"], &[]).await;
    let read = |token: String, q: &'static str| {
        let app = &app;
        async move {
            let r = app
                .call(
                    Method::GET,
                    &format!("/v1/secrets/used/db{q}"),
                    Some(&token),
                    None,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK);
        }
    };
    let v = versions(&app, "used/db").await;
    assert_eq!(v[0]["last_read_at"], Value::Null, "never read yet");
    assert_eq!(v[0]["readers_24h"], 0);

    read(reader.clone(), "").await;
    read(reader.clone(), "").await;
    read(app.root_token.clone(), "").await;
    app.clock.advance(Duration::minutes(5));
    app.put_secret("used/db", json!({"pw": "two"})).await;
    let read_at = app.clock_now();
    read(reader.clone(), "?version=1").await;
    // A refused read is not a read.
    let (_, other) = app.create_token("nope", &["secrets:list"], &[]).await;
    let r = app
        .call(Method::GET, "/v1/secrets/used/db", Some(&other), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let v = versions(&app, "used/db").await;
    assert_eq!(v[0]["version"], 2);
    assert_eq!(v[0]["last_read_at"], Value::Null);
    assert_eq!(v[0]["readers_24h"], 0);
    assert_eq!(v[1]["version"], 1);
    assert_eq!(v[1]["readers_24h"], 2, "reader and root, each counted once");
    assert_eq!(
        v[1]["last_read_at"],
        read_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );

    app.clock.advance(Duration::hours(25));
    let v = versions(&app, "used/db").await;
    assert_eq!(v[1]["readers_24h"], 0, "outside the 24 h window");
    assert_ne!(
        v[1]["last_read_at"],
        Value::Null,
        "the last read stays known"
    );

    // A secret re-created at the same path starts with no reads.
    app.call(
        Method::DELETE,
        "/v1/secrets/used/db?permanent=true",
        Some(&app.root_token),
        None,
    )
    .await;
    app.clock.advance(Duration::seconds(1));
    app.put_secret("used/db", json!({"pw": "new"})).await;
    let v = versions(&app, "used/db").await;
    assert_eq!(v[0]["last_read_at"], Value::Null);
}

async fn tick(app: &TestApp) -> scaivault::scheduler::TickReport {
    scaivault::scheduler::tick(&app.state).await.expect("tick")
}

async fn grace_ended_says_who_still_read_the_old_version(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("grace/api", json!({"key": "one"})).await;
    let (_, reader) = app.create_token("reader", &["secrets:read"], &[]).await;
    // A read before the rotation is not a read during the grace period.
    app.call(Method::GET, "/v1/secrets/grace/api", Some(&reader), None)
        .await;
    let r = app
        .post(
            "/v1/rotation/policies",
            &json!({"name": "g2h", "interval": "90d", "grace_period": "2h", "auto_generate": true}),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/v1/rotation/policies/{id}/secrets"),
        &json!({"secret_path": "grace/api"}),
    )
    .await;
    app.clock.advance(Duration::seconds(10));
    let r = app
        .post(&format!("/v1/rotation/policies/{id}/rotate"), &json!({}))
        .await;
    assert_eq!(r.body[0]["status"], "success", "{}", r.body);

    app.clock.advance(Duration::minutes(30));
    for token in [&reader, &reader, &app.root_token] {
        let r = app
            .call(
                Method::GET,
                "/v1/secrets/grace/api?version=1",
                Some(token),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let last = app.clock_now();
    // Reads of the new version are not reads of the old one.
    app.call(Method::GET, "/v1/secrets/grace/api", Some(&reader), None)
        .await;

    assert_eq!(tick(&app).await.grace_ended, 0, "still in the grace period");
    app.clock.advance(Duration::hours(2));
    assert_eq!(tick(&app).await.grace_ended, 1);
    assert_eq!(tick(&app).await.grace_ended, 0, "reported once");

    let r = app.get("/v1/events?types=rotation.grace_ended").await;
    let events = r.body["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{}", r.body);
    let d = &events[0]["data"];
    assert_eq!(events[0]["path"], "grace/api");
    assert_eq!(d["rotation_policy_id"], id);
    assert_eq!(d["old_version"], 1);
    assert_eq!(d["reads_during_grace"], 3);
    assert_eq!(d["readers"], json!(["sa:reader", "user:root"]));
    assert_eq!(
        d["last_read_at"],
        last.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
}
