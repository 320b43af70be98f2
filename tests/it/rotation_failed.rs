//! `rotation.failed` when every delivery of the `rotation.due` (due_now) event to the policy's
//! own webhooks failed (SPEC §4 rule 7), even though another webhook — a catch-all outside the
//! policy — accepted the same event.

use crate::both_stores;
use crate::common::receiver::Receiver;
use crate::common::{StoreKind, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SECRET: &str = "whsec_0123456789abcdef";

both_stores!(rotation_fails_when_only_the_policys_webhooks_failed);

async fn hook(app: &TestApp, name: &str, url: &str, events: Value) -> String {
    let r = app
        .post(
            "/v1/webhooks",
            &json!({"name": name, "url": url, "secret": SECRET, "events": events}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["id"].as_str().expect("id").to_string()
}

async fn rotation_fails_when_only_the_policys_webhooks_failed(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |c| {
        c.webhook_retry_schedule = scaivault::domain::duration::parse_list("1s").unwrap();
        // Only this test ticks the scheduler.
        c.scheduler_tick = scaivault::domain::duration::ApiDuration::parse("1h").unwrap();
    })
    .await;
    let policy_rx = Receiver::start(SECRET).await;
    policy_rx.script(&[(500, None), (500, None)]);
    let everything_rx = Receiver::start(SECRET).await;
    let policy_hook = hook(&app, "rotator", &policy_rx.url, json!(["rotation.due"])).await;
    hook(&app, "everything", &everything_rx.url, json!(["*"])).await;

    let r = app
        .post(
            "/v1/rotation/policies",
            &json!({"name": "db", "interval": "1d", "webhook_ids": [policy_hook]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    app.put_secret("rf/db", json!({"password": "p"})).await;
    let r = app
        .post(
            "/v1/rotation/policies/rot_db/secrets",
            &json!({"secret_path": "rf/db"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    app.clock.advance(chrono::Duration::days(1));
    let report = scaivault::scheduler::tick(&app.state).await.expect("tick");
    assert_eq!(report.opened, 1, "{report:?}");
    everything_rx
        .wait_for("the catch-all accepting rotation.due", |r| {
            r.iter().any(|e| e.event_type == "rotation.due")
        })
        .await;
    policy_rx.wait_for("first attempt", |r| r.len() == 1).await;
    // Once the failed attempt is recorded, its retry is due one second later (test clock).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = app
            .get(&format!("/v1/webhooks/{policy_hook}/deliveries"))
            .await;
        if r.body["deliveries"][0]["attempts"] == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "first attempt not recorded: {}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.clock.advance(chrono::Duration::seconds(2));
    app.state.bus.deliveries.notify_one();
    // (The policy's webhook also gets the rotation.failed that may follow at once.)
    policy_rx
        .wait_for("second attempt", |r| {
            r.iter().filter(|e| e.event_type == "rotation.due").count() == 2
        })
        .await;

    let deadline = Instant::now() + Duration::from_secs(10);
    let item = loop {
        let r = app.get("/v1/rotation/policies/rot_db/history").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let item = r.body["data"][0].clone();
        if item["status"] != "pending" {
            break item;
        }
        assert!(
            Instant::now() < deadline,
            "the rotation stayed pending: {item}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(item["status"], "failed", "{item}");
    assert!(
        item["error"].to_string().contains("delivery_failed"),
        "{item}"
    );
    let got = everything_rx
        .wait_for("rotation.failed", |r| {
            r.iter().any(|e| e.event_type == "rotation.failed")
        })
        .await;
    let failed = got
        .iter()
        .find(|e| e.event_type == "rotation.failed")
        .expect("rotation.failed");
    assert_eq!(failed.body["data"]["rotation_policy_id"], "rot_db");
    assert_eq!(failed.body["path"], "rf/db");
}
