//! Events and webhooks end to end: a real receiver verifies every signed delivery.

use crate::both_stores;
use crate::common::receiver::Receiver;
use crate::common::{StoreKind, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SECRET: &str = "whsec_0123456789abcdef";

both_stores!(
    secret_events_arrive_signed_with_data,
    filters_route_events,
    failing_receiver_is_retried_with_same_event_id,
    gone_disables_the_webhook,
    retry_after_is_honoured,
    redeliver_sends_same_event,
    test_endpoint_reports_failure,
    failed_write_emits_no_event,
    feed_reads_each_event_once_in_order,
    webhook_api_validates_and_hides_secret,
);

async fn hook(app: &TestApp, name: &str, url: &str, events: Value, filters: Value) -> String {
    let r = app
        .post(
            "/v1/webhooks",
            &json!({"name": name, "url": url, "secret": SECRET, "events": events, "filters": filters}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

async fn secret_events_arrive_signed_with_data(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let rx = Receiver::start(SECRET).await;
    hook(&app, "all", &rx.url, json!(["*"]), json!({})).await;
    app.put(
        "/v1/secrets/svc/api",
        &json!({"data": {"k": "EVENT-VALUE-CANARY-1"}, "metadata": {"tags": ["prod"]}}),
    )
    .await;
    app.put_secret("svc/api", json!({"k": "EVENT-VALUE-CANARY-2"}))
        .await;
    app.delete("/v1/secrets/svc/api").await;
    app.post("/v1/secrets/svc/api/restore", &json!({})).await;
    let got = rx.wait_for("4 events", |r| r.len() >= 4).await;
    let types: Vec<&str> = got.iter().map(|r| r.event_type.as_str()).collect();
    let mut sorted = types.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "secret.created",
            "secret.deleted",
            "secret.restored",
            "secret.updated"
        ]
    );
    for r in &got {
        assert!(r.signature_ok, "bad signature on {r:?}");
        assert_eq!(r.user_agent, "ScaiVault-Webhook/1.0");
        assert_eq!(r.body["event_id"], r.event_id);
        assert!(r.event_id.starts_with("evt_"));
        assert_eq!(r.body["path"], "svc/api");
        assert_eq!(r.body["tenant_id"], "tnt_default");
        assert!((r.timestamp - chrono::Utc::now().timestamp()).abs() < 60);
    }
    let by = |t: &str| got.iter().find(|r| r.event_type == t).unwrap().body["data"].clone();
    let created = by("secret.created");
    assert_eq!(created["version"], 1);
    assert_eq!(created["secret_type"], "json");
    assert_eq!(created["created_by"], "user:root");
    assert_eq!(created["tags"], json!(["prod"]));
    let updated = by("secret.updated");
    assert_eq!(
        (
            updated["old_version"].clone(),
            updated["new_version"].clone()
        ),
        (json!(1), json!(2))
    );
    assert_eq!(updated["is_rotation"], false);
    let deleted = by("secret.deleted");
    assert_eq!(deleted["version_count"], 2);
    assert_eq!(deleted["permanent"], false);
    assert!(deleted["recoverable_until"].is_string());
    assert_eq!(by("secret.restored")["version"], 2);
    // No value ever appears in an event.
    assert!(got
        .iter()
        .all(|r| !r.body.to_string().contains("EVENT-VALUE-CANARY")));
}

async fn filters_route_events(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (by_prefix, by_type, by_tag, only_updates) = tokio::join!(
        Receiver::start(SECRET),
        Receiver::start(SECRET),
        Receiver::start(SECRET),
        Receiver::start(SECRET)
    );
    hook(
        &app,
        "prefix",
        &by_prefix.url,
        json!(["*"]),
        json!({"path_prefix": "app/"}),
    )
    .await;
    hook(
        &app,
        "type",
        &by_type.url,
        json!(["secret.created"]),
        json!({"secret_type": "api_key"}),
    )
    .await;
    hook(
        &app,
        "tag",
        &by_tag.url,
        json!(["*"]),
        json!({"tags": ["pci", "x"]}),
    )
    .await;
    hook(
        &app,
        "upd",
        &only_updates.url,
        json!(["secret.updated"]),
        json!({}),
    )
    .await;
    app.put("/v1/secrets/app/one", &json!({"data": {"a": 1}}))
        .await;
    app.put(
        "/v1/secrets/other/key",
        &json!({"data": {"a": 1}, "secret_type": "api_key"}),
    )
    .await;
    app.put(
        "/v1/secrets/other/card",
        &json!({"data": {"a": 1}, "metadata": {"tags": ["pci"]}}),
    )
    .await;
    app.put_secret("other/card", json!({"a": 2})).await;
    let paths = |r: &Receiver| {
        let mut v: Vec<String> = r
            .received()
            .iter()
            .map(|x| format!("{} {}", x.event_type, x.body["path"].as_str().unwrap()))
            .collect();
        v.sort();
        v
    };
    by_tag.wait_for("tag events", |r| r.len() >= 2).await;
    only_updates.wait_for("update", |r| !r.is_empty()).await;
    by_prefix.wait_for("prefix", |r| !r.is_empty()).await;
    by_type.wait_for("type", |r| !r.is_empty()).await;
    // Every delivery the outbox queued has been attempted once all four saw theirs.
    wait_no_pending(&app).await;
    assert_eq!(paths(&by_prefix), ["secret.created app/one"]);
    assert_eq!(paths(&by_type), ["secret.created other/key"]);
    assert_eq!(
        paths(&by_tag),
        ["secret.created other/card", "secret.updated other/card"]
    );
    assert_eq!(paths(&only_updates), ["secret.updated other/card"]);
}

async fn wait_no_pending(app: &TestApp) {
    let db = app.db().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'")
            .fetch_one(&db)
            .await
            .unwrap();
        if n == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{n} deliveries still pending");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn failing_receiver_is_retried_with_same_event_id(kind: StoreKind) {
    let app = TestApp::spawn_real_clock(kind, |c| {
        c.webhook_retry_schedule = scaivault::domain::duration::parse_list("1s,1s").unwrap();
    })
    .await;
    let rx = Receiver::start(SECRET).await;
    rx.script(&[(500, None), (500, None)]);
    let id = hook(&app, "flaky", &rx.url, json!(["secret.created"]), json!({})).await;
    app.put_secret("r/x", json!({"a": 1})).await;
    let got = rx.wait_for("three attempts", |r| r.len() >= 3).await;
    assert_eq!(got.len(), 3);
    assert!(got
        .iter()
        .all(|r| r.signature_ok && r.event_id == got[0].event_id));
    assert!(got.iter().all(|r| r.delivery_id == got[0].delivery_id));
    assert!(got[0].timestamp <= got[1].timestamp && got[1].timestamp <= got[2].timestamp);
    assert!(
        got[2].timestamp > got[0].timestamp,
        "each attempt is signed afresh"
    );
    wait_no_pending(&app).await;
    let r = app.get(&format!("/v1/webhooks/{id}/deliveries")).await;
    let d = &r.body["deliveries"][0];
    assert_eq!(
        (d["status"].clone(), d["attempts"].clone()),
        (json!("success"), json!(3))
    );
    assert_eq!(
        app.get(&format!("/v1/webhooks/{id}")).await.body["status"],
        "healthy"
    );
    // One webhook_delivery audit row per attempt.
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'webhook_delivery'")
            .fetch_one(&app.db().await)
            .await
            .unwrap();
    assert_eq!(n, 3);
}

async fn gone_disables_the_webhook(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let rx = Receiver::start(SECRET).await;
    rx.script(&[(410, None)]);
    let id = hook(&app, "gone", &rx.url, json!(["*"]), json!({})).await;
    app.put_secret("g/x", json!({"a": 1})).await;
    rx.wait_for("one attempt", |r| !r.is_empty()).await;
    wait_no_pending(&app).await;
    let w = app.get(&format!("/v1/webhooks/{id}")).await;
    assert_eq!(w.body["status"], "disabled");
    assert_eq!(w.body["enabled"], false);
    app.put_secret("g/y", json!({"a": 1})).await;
    app.put_secret("g/z", json!({"a": 1})).await;
    let failed = app
        .get(&format!("/v1/webhooks/{id}/deliveries?status=failed"))
        .await;
    assert_eq!(failed.body["deliveries"].as_array().unwrap().len(), 1);
    assert_eq!(
        rx.received().len(),
        1,
        "a disabled webhook gets nothing more"
    );
}

async fn retry_after_is_honoured(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |c| {
        c.webhook_retry_schedule = scaivault::domain::duration::parse_list("1s,1s").unwrap();
    })
    .await;
    let rx = Receiver::start(SECRET).await;
    rx.script(&[(503, Some("30"))]);
    let id = hook(&app, "busy", &rx.url, json!(["*"]), json!({})).await;
    app.put_secret("ra/x", json!({"a": 1})).await;
    rx.wait_for("first attempt", |r| !r.is_empty()).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let d = loop {
        let r = app.get(&format!("/v1/webhooks/{id}/deliveries")).await;
        let d = r.body["deliveries"][0].clone();
        if d["attempts"] == 1 {
            break d;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let next =
        chrono::DateTime::parse_from_rfc3339(d["next_attempt_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        next.timestamp() - app.clock_now().timestamp(),
        30,
        "Retry-After: 30 beats the 1s schedule"
    );
    app.clock.advance(chrono::Duration::seconds(5));
    app.state.bus.deliveries.notify_one();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rx.received().len(), 1, "not retried before Retry-After");
    app.clock.advance(chrono::Duration::seconds(30));
    rx.wait_for("second attempt", |r| r.len() == 2).await;
}

async fn redeliver_sends_same_event(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let rx = Receiver::start(SECRET).await;
    let id = hook(&app, "re", &rx.url, json!(["*"]), json!({})).await;
    app.put_secret("re/x", json!({"a": 1})).await;
    let first = rx.wait_for("delivery", |r| !r.is_empty()).await[0].clone();
    wait_no_pending(&app).await;
    let d = app.get(&format!("/v1/webhooks/{id}/deliveries")).await.body["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .post(
            &format!("/v1/webhooks/{id}/deliveries/{d}/redeliver"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let got = rx.wait_for("redelivery", |r| r.len() >= 2).await;
    assert_eq!(got[1].event_id, first.event_id);
    assert_ne!(got[1].delivery_id, first.delivery_id);
    let r = app
        .post(
            &format!("/v1/webhooks/{id}/deliveries/del_nope/redeliver"),
            &json!({}),
        )
        .await;
    assert_eq!(r.code(), "delivery_not_found");
}

async fn test_endpoint_reports_failure(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let rx = Receiver::start(SECRET).await;
    let id = hook(&app, "t", &rx.url, json!(["rotation.due"]), json!({})).await;
    let ok = app
        .post(&format!("/v1/webhooks/{id}/test"), &json!({}))
        .await;
    assert_eq!(ok.body["status"], "success", "{}", ok.body);
    assert_eq!(ok.body["response_code"], 200);
    rx.script(&[(500, None)]);
    let bad = app
        .post(&format!("/v1/webhooks/{id}/test"), &json!({}))
        .await;
    assert_eq!(bad.status, StatusCode::OK);
    assert_eq!(bad.body["status"], "failed");
    assert_eq!(bad.body["response_code"], 500);
    assert!(bad.body["delivery_id"]
        .as_str()
        .unwrap()
        .starts_with("del_"));
    let got = rx.received();
    assert_eq!(got.len(), 2, "one attempt each, no retries");
    assert!(got
        .iter()
        .all(|r| r.event_type == "webhook.test" && r.signature_ok));
    let listed = app.get(&format!("/v1/webhooks/{id}/deliveries")).await;
    assert_eq!(listed.body["deliveries"].as_array().unwrap().len(), 2);
    let missing = app.post("/v1/webhooks/wh_missing/test", &json!({})).await;
    assert_eq!(missing.code(), "webhook_not_found");
}

async fn failed_write_emits_no_event(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("f/x", json!({"a": 1})).await;
    let before = app.get("/v1/events").await.body["events"]
        .as_array()
        .unwrap()
        .len();
    let r = app
        .put(
            "/v1/secrets/f/x",
            &json!({"data": {"a": 2}, "options": {"cas": 7}}),
        )
        .await;
    assert_eq!(r.code(), "version_conflict");
    let r = app
        .put("/v1/secrets/f/x", &json!({"data": "not an object"}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let after = app.get("/v1/events").await.body["events"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after);
}

async fn feed_reads_each_event_once_in_order(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    for i in 0..7 {
        app.put_secret(&format!("feed/{i}"), json!({"i": i})).await;
    }
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let r = app.get(&format!("/v1/events?limit=3&after={after}")).await;
        assert_eq!(r.status, StatusCode::OK);
        let events = r.body["events"].as_array().unwrap().clone();
        if events.is_empty() {
            break;
        }
        seen.extend(
            events
                .iter()
                .map(|e| e["path"].as_str().unwrap().to_string()),
        );
        after = r.body["cursor"].as_str().unwrap().to_string();
    }
    let expected: Vec<String> = (0..7).map(|i| format!("feed/{i}")).collect();
    assert_eq!(seen, expected);
    let r = app.get("/v1/events?types=secret.updated").await;
    assert_eq!(r.body["events"], json!([]));
    let r = app.get("/v1/events?after=evt_unknown").await;
    assert_eq!(r.code(), "invalid_cursor");

    // A long-poll returns promptly when an event is written.
    let waiter = {
        let (client, url, tok) = (
            app.client.clone(),
            app.url(&format!("/v1/events?wait=30s&after={after}")),
            app.root_token.clone(),
        );
        tokio::spawn(async move {
            let res = client.get(url).bearer_auth(tok).send().await.unwrap();
            (Instant::now(), res.json::<Value>().await.unwrap())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !waiter.is_finished(),
        "long-poll must wait while there is nothing new"
    );
    let written = Instant::now();
    app.put_secret("feed/late", json!({"i": 99})).await;
    let (returned, body) = waiter.await.unwrap();
    assert_eq!(body["events"][0]["path"], "feed/late");
    assert!(
        returned.duration_since(written) < Duration::from_millis(500),
        "{:?}",
        returned.duration_since(written)
    );
}

async fn webhook_api_validates_and_hides_secret(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |c| c.webhook_allow_http = false).await;
    let r = app
        .post(
            "/v1/webhooks",
            &json!({"name": "h", "url": "http://example.com/x", "secret": SECRET, "events": ["*"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["error"]["details"]["fields"][0]["field"], "url");
    let r = app
        .post("/v1/webhooks", &json!({"name": "h", "url": "https://169.254.169.254/x", "secret": SECRET, "events": ["*"]}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .post("/v1/webhooks", &json!({"name": "h", "url": "https://example.com/x", "secret": "short", "events": ["nope"]}))
        .await;
    let fields: Vec<&str> = r.body["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"secret") && fields.contains(&"events"),
        "{fields:?}"
    );
    let id = hook(
        &app,
        "ok",
        "https://example.com/x",
        json!(["secret.created"]),
        json!({}),
    )
    .await;
    let dup = app
        .post("/v1/webhooks", &json!({"name": "ok", "url": "https://example.com/y", "secret": SECRET, "events": ["*"]}))
        .await;
    assert_eq!(dup.code(), "name_conflict");
    for r in [
        app.get(&format!("/v1/webhooks/{id}")).await,
        app.get("/v1/webhooks").await,
    ] {
        assert!(!r.body.to_string().contains(SECRET));
    }
    let r = app
        .call(
            Method::PATCH,
            &format!("/v1/webhooks/{id}"),
            Some(&app.root_token),
            Some(&json!({"secret": "whsec_new_secret_value_1", "previous_secret_ttl": "24h"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["previous_secret_expires_at"].is_string());
    let r = app.delete(&format!("/v1/webhooks/{id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/v1/webhooks/{id}")).await.code(),
        "webhook_not_found"
    );
    // The signing secret is sealed at rest.
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action IN ('webhook_create', 'webhook_update', 'webhook_delete')")
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    assert!(n >= 3);
}
