//! What leaves a subscription is decided by its owner's rights at delivery time; webhook
//! subscriptions are signed and retried like webhooks; read alerts are routed to
//! subscriptions; and the tutorial's whole rotation runs with polling consumers only.

use super::{ack, create, kinds, long_poll, poll, poll_now, polling, CONSUMER};
use crate::both_stores;
use crate::common::receiver::Receiver;
use crate::common::{StoreKind, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;

both_stores!(
    a_narrowed_or_revoked_owner_stops_receiving,
    webhook_subscriptions_are_signed_and_isolated_from_webhooks,
    a_revoked_owners_webhook_subscription_sends_nothing_more,
    read_alerts_reach_subscriptions,
    the_tutorial_rotation_runs_with_polling_consumers,
);

const SECRET: &str = "whsec_subscription_0123456789";

async fn a_narrowed_or_revoked_owner_stops_receiving(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (tok_id, token) = app.create_token("team", CONSUMER, &["team"]).await;
    let s = create(&app, &token, polling("t", &["team/**"], &["*"])).await;
    let id = s["id"].as_str().unwrap();
    app.put_secret("team/db", json!({"v": 1})).await;
    app.put_secret("team/api", json!({"v": 1})).await;
    // An operator narrows the token to team/api behind the server's back.
    let pool = app.db().await;
    sqlx::query("UPDATE tokens SET path_prefixes = '[\"team/api\"]' WHERE id = $1")
        .bind(&tok_id)
        .execute(&pool)
        .await
        .unwrap();
    // The admin without rules polls it too, but the owner's rules decide what leaves.
    let events = poll_now(&app, &app.root_token, id).await;
    assert_eq!(
        kinds(&events),
        [("secret.created".into(), "team/api".into())]
    );
    // The event it may not see is gone from the queue, not just hidden.
    let shown = app.get(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!(shown.body["pending_events"], 1, "{}", shown.body);
    // Revoked: nothing more, neither queued nor new.
    assert_eq!(
        app.delete(&format!("/v1/auth/tokens/{tok_id}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    app.put_secret("team/api", json!({"v": 2})).await;
    assert!(poll_now(&app, &app.root_token, id).await.is_empty());
    let shown = app.get(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!(shown.body["pending_events"], 0);
    // An expired owner as well (the test clock moves past its ttl).
    let r = app
        .post(
            "/v1/auth/tokens",
            &json!({"name": "brief", "scopes": CONSUMER, "ttl": "1h"}),
        )
        .await;
    let brief = r.body["token"].as_str().unwrap().to_string();
    let s = create(&app, &brief, polling("b", &["**"], &["*"])).await;
    app.put_secret("late/x", json!({"v": 1})).await;
    app.clock.advance(chrono::Duration::hours(2));
    assert!(poll_now(&app, &app.root_token, s["id"].as_str().unwrap())
        .await
        .is_empty());
}

async fn webhook_subscriptions_are_signed_and_isolated_from_webhooks(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let rx = Receiver::start(SECRET).await;
    let (_, token) = app.create_token("pusher", CONSUMER, &[]).await;
    let s = create(
        &app,
        &token,
        json!({"name": "push", "paths": ["apps/*/key"], "events": ["secret.created", "secret.updated"],
               "delivery": {"type": "webhook", "url": rx.url, "secret": SECRET}}),
    )
    .await;
    assert_eq!(s["delivery"]["type"], "webhook");
    assert_eq!(s["delivery"]["url"], rx.url.as_str());
    assert_eq!(s["delivery"]["status"], "healthy");
    assert!(
        !s.to_string().contains(SECRET),
        "the signing secret is never shown"
    );
    // Its webhook is its own: not listed, read or routed as a webhook.
    let hooks = app.get("/v1/webhooks").await;
    assert_eq!(hooks.body["webhooks"], json!([]), "{}", hooks.body);

    app.put_secret("apps/billing/key", json!({"k": 1})).await;
    app.put_secret("apps/billing/other", json!({"k": 1})).await;
    app.put_secret("apps/billing/key", json!({"k": 2})).await;
    let got = rx.wait_for("two deliveries", |r| r.len() >= 2).await;
    assert!(got.iter().all(|r| r.signature_ok), "{got:#?}");
    let types: Vec<&str> = got.iter().map(|r| r.event_type.as_str()).collect();
    assert_eq!(types.len(), 2);
    assert!(types.contains(&"secret.created") && types.contains(&"secret.updated"));
    assert!(got.iter().all(|r| r.body["path"] == "apps/billing/key"));
    // Retried like a webhook: a 503 is tried again with the same event id.
    rx.script(&[(503, None)]);
    app.put_secret("apps/pay/key", json!({"k": 1})).await;
    let first = rx.wait_for("the failed attempt", |r| r.len() >= 3).await;
    let failed_event = first[2].event_id.clone();
    app.clock.advance(chrono::Duration::seconds(31));
    let again = rx.wait_for("the retry", |r| r.len() >= 4).await;
    assert_eq!(again[3].event_id, failed_event);
    // Pausing stops it; deleting removes its webhook.
    let url = format!("/v1/subscriptions/{}", s["id"].as_str().unwrap());
    let r = app
        .call(
            Method::PATCH,
            &url,
            Some(&token),
            Some(&json!({"status": "paused"})),
        )
        .await;
    assert_eq!(r.body["delivery"]["status"], "disabled", "{}", r.body);
    app.put_secret("apps/quiet/key", json!({"k": 1})).await;
    let r = app.call(Method::DELETE, &url, Some(&token), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let pool = app.db().await;
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhooks")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert!(rx
        .received()
        .iter()
        .all(|r| r.body["path"] != "apps/quiet/key"));
    // Not pollable.
    let s2 = create(
        &app,
        &token,
        json!({"name": "push2", "paths": ["x"], "events": ["*"],
               "delivery": {"type": "webhook", "url": rx.url, "secret": SECRET}}),
    )
    .await;
    let r = poll(&app, &token, s2["id"].as_str().unwrap(), "timeout=0").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
}

async fn a_revoked_owners_webhook_subscription_sends_nothing_more(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let rx = Receiver::start(SECRET).await;
    let (tok_id, token) = app.create_token("leaver", CONSUMER, &[]).await;
    create(
        &app,
        &token,
        json!({"name": "push", "paths": ["r/*"], "events": ["*"],
               "delivery": {"type": "webhook", "url": rx.url, "secret": SECRET}}),
    )
    .await;
    // Queued while the receiver is failing, then the owner is revoked before the retry.
    rx.script(&[(503, None)]);
    app.put_secret("r/one", json!({"v": 1})).await;
    rx.wait_for("the first attempt", |r| r.len() == 1).await;
    app.delete(&format!("/v1/auth/tokens/{tok_id}")).await;
    app.clock.advance(chrono::Duration::seconds(31));
    app.put_secret("r/two", json!({"v": 1})).await;
    // The retry is withheld (failed, not sent) and the new event is not routed.
    let pool = app.db().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, error): (String, Option<String>) =
            sqlx::query_as("SELECT status, last_error FROM deliveries ORDER BY created_at LIMIT 1")
                .fetch_one(&pool)
                .await
                .unwrap();
        if status == "failed" {
            assert!(
                error.unwrap_or_default().contains("may not read"),
                "withheld"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the retry was never decided"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 1, "nothing routed for a revoked owner");
    assert_eq!(rx.received().len(), 1, "nothing sent after the revocation");
}

async fn read_alerts_reach_subscriptions(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (_, token) = app.create_token("soc", CONSUMER, &[]).await;
    let s = create(
        &app,
        &token,
        polling("honey", &["honey/**"], &["secret.accessed"]),
    )
    .await;
    let r = app
        .put(
            "/v1/secrets/honey/aws",
            &json!({"data": {"k": "AKIA"}, "options": {"alert_on_read": true}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    app.put_secret("honey/plain", json!({"k": 1})).await;
    let (_, reader) = app.create_token("intruder", &["secrets:read"], &[]).await;
    for p in ["honey/aws", "honey/plain"] {
        let r = app
            .call(
                Method::GET,
                &format!("/v1/secrets/{p}"),
                Some(&reader),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let events = poll_now(&app, &token, s["id"].as_str().unwrap()).await;
    assert_eq!(
        kinds(&events),
        [("secret.accessed".into(), "honey/aws".into())]
    );
    assert_eq!(events[0]["data"]["accessed_by"], "sa:intruder");
}

async fn the_tutorial_rotation_runs_with_polling_consumers(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let path = "integrations/salesforce/oauth";
    let r = app
        .put(&format!("/v1/secrets/{path}"), &json!({"data": {"client_id": "3MVG9", "client_secret": "v1-secret"}, "secret_type": "json"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    // The rotation handler and the reporting service, both behind a firewall: they poll.
    let (_, handler) = app
        .create_token(
            "rotation-handler",
            &[
                "subscriptions:read",
                "subscriptions:write",
                "secrets:write",
                "secrets:read",
            ],
            &["integrations"],
        )
        .await;
    let (_, reporting) = app
        .create_token("reporting", CONSUMER, &["integrations/salesforce"])
        .await;
    let due = create(
        &app,
        &handler,
        polling("due", &["integrations/**"], &["rotation.due"]),
    )
    .await;
    let due_id = due["id"].as_str().unwrap().to_string();
    let rotated = create(
        &app,
        &reporting,
        polling("cache", &["integrations/salesforce/*"], &["secret.rotated"]),
    )
    .await;
    let rotated_id = rotated["id"].as_str().unwrap().to_string();
    // The reporting service caches v1.
    let r = app
        .call(
            Method::GET,
            &format!("/v1/secrets/{path}"),
            Some(&reporting),
            None,
        )
        .await;
    assert_eq!(r.body["data"]["client_secret"], "v1-secret");
    // It long-polls for rotations while the policy is set up and a rotation forced.
    let waiting = long_poll(
        &app,
        app.url(&format!("/v1/subscriptions/{rotated_id}/poll?timeout=30")),
        &reporting,
    );
    let r = app
        .post("/v1/rotation/policies", &json!({"name": "oauth-90d", "interval": "90d", "grace_period": "48h", "warn_before": "7d,1d", "auto_generate": false}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    app.post(
        "/v1/rotation/policies/rot_oauth-90d/secrets",
        &json!({"secret_path": path}),
    )
    .await;
    let r = app
        .post(
            "/v1/rotation/policies/rot_oauth-90d/rotate",
            &json!({"secret_paths": [path]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The handler polls rotation.due, mints new credentials and PUTs v2, then acknowledges.
    let r = poll(&app, &handler, &due_id, "timeout=10").await;
    let events = r.body["events"].as_array().unwrap().clone();
    assert_eq!(kinds(&events), [("rotation.due".into(), path.into())]);
    assert_eq!(events[0]["data"]["due_now"], true);
    let r = app
        .call(
            Method::PUT,
            &format!("/v1/secrets/{path}"),
            Some(&handler),
            Some(&json!({"data": {"client_id": "3MVG9", "client_secret": "v2-secret"}})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(ack(&app, &handler, &due_id, &events).await, 1);
    // The reporting service wakes with secret.rotated, refreshes, acknowledges.
    let (body, _) = waiting.await.unwrap();
    let events = body["events"].as_array().unwrap().clone();
    assert_eq!(kinds(&events), [("secret.rotated".into(), path.into())]);
    assert_eq!(events[0]["data"]["old_version"], 1);
    assert_eq!(events[0]["data"]["new_version"], 2);
    assert_eq!(events[0]["data"]["rotation_policy_id"], "rot_oauth-90d");
    let r = app
        .call(
            Method::GET,
            &format!("/v1/secrets/{path}"),
            Some(&reporting),
            None,
        )
        .await;
    assert_eq!(r.body["data"]["client_secret"], "v2-secret");
    assert_eq!(ack(&app, &reporting, &rotated_id, &events).await, 1);
    assert!(poll_now(&app, &reporting, &rotated_id).await.is_empty());
    assert!(poll_now(&app, &handler, &due_id).await.is_empty());
    let history = app.get("/v1/rotation/policies/rot_oauth-90d/history").await;
    assert_eq!(
        history.body["data"][0]["status"], "success",
        "{}",
        history.body
    );
}
