//! Rotation end to end: the seed tutorial with a receiver that acts like the tutorial's
//! handler, a 90-day lifecycle on the test clock, and two replicas never double-firing.

use crate::both_stores;
use crate::common::receiver::Receiver;
use crate::common::{StoreKind, TestApp};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxStatus};
use axum::routing::post;
use chrono::Duration;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

both_stores!(
    seed_tutorial_end_to_end,
    ninety_day_lifecycle_on_the_test_clock,
    policies_api_rules
);

/// The tutorial's FastAPI handler, in Rust: verify, de-duplicate, PUT a new credential on due_now.
#[derive(Clone)]
struct TutorialHandler {
    secret: Arc<Vec<u8>>,
    vault: String,
    token: String,
    seen: Arc<Mutex<HashSet<String>>>,
    events: Arc<Mutex<Vec<Value>>>,
}

async fn handle(State(h): State<TutorialHandler>, headers: HeaderMap, body: Bytes) -> AxStatus {
    let get = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (ts, sig) = (get("x-scaivault-timestamp"), get("x-scaivault-signature"));
    let Some(hex_sig) = sig.strip_prefix("sha256=") else {
        return AxStatus::BAD_REQUEST;
    };
    let Ok(t) = ts.parse::<i64>() else {
        return AxStatus::BAD_REQUEST;
    };
    if (chrono::Utc::now().timestamp() - t).abs() > 300 {
        return AxStatus::UNAUTHORIZED;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&h.secret).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(&body);
    if mac
        .verify_slice(&hex::decode(hex_sig).unwrap_or_default())
        .is_err()
    {
        return AxStatus::UNAUTHORIZED;
    }
    let event: Value = serde_json::from_slice(&body).unwrap();
    if !h
        .seen
        .lock()
        .unwrap()
        .insert(event["event_id"].as_str().unwrap().to_string())
    {
        return AxStatus::OK;
    }
    h.events.lock().unwrap().push(event.clone());
    if event["event_type"] != "rotation.due" || event["data"]["due_now"] != true {
        return AxStatus::OK;
    }
    let path = event["path"].as_str().unwrap();
    let r = reqwest::Client::new()
        .put(format!("{}/v1/secrets/{path}", h.vault))
        .bearer_auth(&h.token)
        .json(&json!({"data": {"client_id": "3MVG9-new", "client_secret": "minted-by-handler"}, "secret_type": "json"}))
        .send()
        .await
        .unwrap();
    if r.status().is_success() {
        AxStatus::OK
    } else {
        AxStatus::BAD_GATEWAY
    }
}

async fn start_handler(app: &TestApp, secret: &str) -> (String, TutorialHandler) {
    let h = TutorialHandler {
        secret: Arc::new(secret.as_bytes().to_vec()),
        vault: app.base.clone(),
        token: app.root_token.clone(),
        seen: Arc::default(),
        events: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/scaivault/rotate-sf-oauth",
        listener.local_addr().unwrap()
    );
    let router = axum::Router::new()
        .route("/scaivault/rotate-sf-oauth", post(handle))
        .with_state(h.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, h)
}

async fn wait_until(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn seed_tutorial_end_to_end(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let sv_secret = "0123456789abcdef0123456789abcdef";
    let (url, handler) = start_handler(&app, sv_secret).await;
    // 1. Store the current credential.
    let r = app
        .put(
            "/v1/secrets/integrations/salesforce/oauth",
            &json!({"data": {"client_id": "3MVG9...", "client_secret": "current-secret"}, "secret_type": "json",
                    "metadata": {"description": "Salesforce OAuth for production integrations", "tags": ["salesforce", "oauth", "production"], "owner": "team:integrations"},
                    "options": {"max_versions": 10}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = app.get("/v1/secrets/integrations/salesforce/oauth").await;
    assert_eq!(
        (
            r.body["version"].clone(),
            r.body["metadata"]["tags"].clone()
        ),
        (json!(1), json!(["salesforce", "oauth", "production"]))
    );
    // 3. Register the webhook and smoke-test it.
    let r = app
        .post("/v1/webhooks", &json!({"name": "sf-oauth-rotator", "url": url, "secret": sv_secret, "events": ["rotation.due", "secret.rotated"], "filters": {"path_prefix": "integrations/salesforce/"}}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let wh = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .post(&format!("/v1/webhooks/{wh}/test"), &json!({}))
        .await;
    assert_eq!(
        (r.body["status"].clone(), r.body["response_code"].clone()),
        (json!("success"), json!(200)),
        "{}",
        r.body
    );
    // 4. The policy. 5. Attach.
    let r = app
        .post("/v1/rotation/policies", &json!({"name": "oauth-90d", "description": "90-day rotation for OAuth credentials", "interval": "90d", "grace_period": "48h", "warn_before": "7d,1d", "auto_generate": false, "webhook_ids": [wh]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["id"], "rot_oauth-90d");
    assert_eq!(r.body["interval_seconds"], 7_776_000);
    let r = app
        .post(
            "/v1/rotation/policies/rot_oauth-90d/secrets",
            &json!({"secret_path": "integrations/salesforce/oauth"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // 6. Forced rotation: the handler receives rotation.due (due_now) and PUTs v2.
    let r = app
        .post(
            "/v1/rotation/policies/rot_oauth-90d/rotate",
            &json!({"secret_paths": ["integrations/salesforce/oauth"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body[0]["status"], "pending");
    assert_eq!(r.body[0]["trigger"], "manual");
    wait_until("secret.rotated at the handler", async || {
        handler
            .events
            .lock()
            .unwrap()
            .iter()
            .any(|e| e["event_type"] == "secret.rotated")
    })
    .await;
    let events = handler.events.lock().unwrap().clone();
    let due = events
        .iter()
        .find(|e| e["event_type"] == "rotation.due")
        .unwrap();
    assert_eq!(due["data"]["due_now"], true);
    let rotated = events
        .iter()
        .find(|e| e["event_type"] == "secret.rotated")
        .unwrap();
    assert_eq!(
        (
            rotated["data"]["old_version"].clone(),
            rotated["data"]["new_version"].clone()
        ),
        (json!(1), json!(2))
    );
    assert_eq!(rotated["data"]["auto_generated"], false);
    assert_eq!(rotated["data"]["rotation_policy_name"], "oauth-90d");
    // Verify in ScaiVault.
    let r = app
        .get("/v1/secrets/integrations/salesforce/oauth/versions")
        .await;
    let v = &r.body["versions"];
    assert_eq!(
        (
            v[0]["version"].clone(),
            v[0]["is_current"].clone(),
            v[0]["is_rotation"].clone()
        ),
        (json!(2), json!(true), json!(true))
    );
    assert_eq!(
        (v[1]["version"].clone(), v[1]["is_current"].clone()),
        (json!(1), json!(false))
    );
    assert!(v[1]["readable_until"].is_string());
    let r = app
        .get("/v1/secrets/integrations/salesforce/oauth?version=1")
        .await;
    assert_eq!(r.body["data"]["client_secret"], "current-secret");
    let r = app.get("/v1/secrets/integrations/salesforce/oauth").await;
    assert_eq!(r.body["data"]["client_secret"], "minted-by-handler");
    assert_eq!(r.body["rotation"]["status"], "scheduled");
    let r = app.get("/v1/rotation/policies/rot_oauth-90d/history").await;
    assert_eq!(r.body["data"][0]["status"], "success");
    assert_eq!(
        (
            r.body["data"][0]["old_version"].clone(),
            r.body["data"][0]["new_version"].clone()
        ),
        (json!(1), json!(2))
    );
    // 8. The audit trail of the path.
    let r = app
        .get("/v1/audit/secrets/integrations/salesforce/oauth?limit=100")
        .await;
    let actions: Vec<(String, Option<i64>)> = r.body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|l| {
            (
                l["action"].as_str().unwrap().to_string(),
                l["version"].as_i64(),
            )
        })
        .collect();
    // (The test clock stands still, so all rows share one timestamp: check by version.)
    for (action, version) in [
        ("write", Some(1)),
        ("rotate", Some(1)),
        ("write", Some(2)),
        ("read", Some(2)),
    ] {
        assert!(
            actions.iter().any(|x| x.0 == action && x.1 == version),
            "{action} v{version:?} not in {actions:?}"
        );
    }
}

async fn tick(app: &TestApp) -> scaivault::scheduler::TickReport {
    scaivault::scheduler::tick(&app.state).await.unwrap()
}

async fn ninety_day_lifecycle_on_the_test_clock(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let rx = Receiver::start("0123456789abcdef0123456789abcdef").await;
    let r = app.post("/v1/webhooks", &json!({"name": "rx", "url": rx.url, "secret": "0123456789abcdef0123456789abcdef", "events": ["*"]})).await;
    let wh = r.body["id"].as_str().unwrap().to_string();
    app.post("/v1/rotation/policies", &json!({"name": "p90", "interval": "90d", "grace_period": "48h", "warn_before": ["7d", "1d"], "webhook_ids": [wh]})).await;
    app.put(
        "/v1/secrets/life/db",
        &json!({"data": {"pw": "one"}, "options": {"rotation_policy_id": "rot_p90"}}),
    )
    .await;
    let t0 = app.clock_now();
    let due_at = t0 + Duration::days(90);
    let r = app.get("/v1/secrets/life/db").await;
    assert_eq!(
        r.body["rotation"]["next_rotation_at"],
        due_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    // Delivery is at-least-once (a jump of the test clock can outlast a lease): de-duplicate on
    // event_id as receivers do.
    let dues = |rx: &Receiver| {
        let mut seen = HashSet::new();
        // Deliveries run in parallel: order by event id (ULIDs sort by creation time).
        let mut got = rx.received();
        got.sort_by(|a, b| a.event_id.cmp(&b.event_id));
        got.into_iter()
            .filter(|r| r.event_type.starts_with("rotation.") && seen.insert(r.event_id.clone()))
            .map(|r| r.body)
            .collect::<Vec<_>>()
    };
    // Nothing yet.
    app.clock.advance(Duration::days(82));
    assert_eq!(tick(&app).await.warned, 0);
    // T-7d: the first warning.
    app.clock.advance(Duration::days(1));
    assert_eq!(tick(&app).await.warned, 1);
    assert_eq!(tick(&app).await.warned, 0, "a warning fires once");
    // T-1d.
    app.clock.advance(Duration::days(6));
    assert_eq!(tick(&app).await.warned, 1);
    rx.wait_for("two warnings", |r| {
        r.iter()
            .filter(|x| x.event_type == "rotation.due")
            .map(|x| &x.event_id)
            .collect::<HashSet<_>>()
            .len()
            == 2
    })
    .await;
    let w = dues(&rx);
    assert_eq!(
        (
            w[0]["data"]["threshold"].clone(),
            w[0]["data"]["due_now"].clone()
        ),
        (json!("7d"), json!(false))
    );
    assert_eq!(w[1]["data"]["threshold"], "1d");
    assert_eq!(
        w[1]["data"]["next_rotation_at"],
        due_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    // T: due now.
    app.clock.set(due_at);
    assert_eq!(tick(&app).await.opened, 1);
    rx.wait_for("due_now", |r| {
        r.iter().any(|x| x.body["data"]["due_now"] == true)
    })
    .await;
    let r = app.get("/v1/rotation/due?within_hours=1").await;
    assert_eq!(r.body["count"], 1);
    assert_eq!(r.body["data"][0]["secret_path"], "life/db");
    // No PUT: overdue at T+48h, once.
    app.clock.advance(Duration::hours(47));
    assert_eq!(tick(&app).await.overdue, 0);
    app.clock.advance(Duration::hours(1));
    assert_eq!(tick(&app).await.overdue, 1);
    assert_eq!(tick(&app).await.overdue, 0);
    rx.wait_for("overdue", |r| {
        r.iter().any(|x| x.event_type == "rotation.overdue")
    })
    .await;
    let r = app.get("/v1/rotation/due?within_hours=0").await;
    assert_eq!(r.body["data"][0]["overdue"], true);
    let r = app.get("/v1/rotation/policies/rot_p90/history").await;
    assert_eq!(r.body["data"][0]["status"], "overdue");
    // A late PUT still completes it; the clock restarts from the completion.
    app.clock.advance(Duration::hours(5));
    let done_at = app.clock_now();
    app.put_secret("life/db", json!({"pw": "two"})).await;
    rx.wait_for("completed", |r| {
        r.iter().any(|x| x.event_type == "rotation.completed")
    })
    .await;
    let r = app.get("/v1/rotation/policies/rot_p90/history").await;
    assert_eq!(r.body["data"][0]["status"], "success");
    let r = app.get("/v1/secrets/life/db").await;
    assert_eq!(
        r.body["rotation"]["next_rotation_at"],
        (done_at + Duration::days(90)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    // Grace: v1 readable until completion + 48h, then 410.
    app.clock.advance(Duration::hours(47));
    assert_eq!(
        app.get("/v1/secrets/life/db?version=1").await.status,
        StatusCode::OK
    );
    app.clock.advance(Duration::hours(2));
    let r = app.get("/v1/secrets/life/db?version=1").await;
    assert_eq!(r.status, StatusCode::GONE);
    assert_eq!(r.code(), "secret_expired");
    assert_eq!(
        app.get("/v1/secrets/life/db").await.body["data"]["pw"],
        "two"
    );
    // The next cycle warns at its own T-7d.
    app.clock.set(done_at + Duration::days(83));
    assert_eq!(tick(&app).await.warned, 1);
}

async fn policies_api_rules(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let r = app
        .post(
            "/v1/rotation/policies",
            &json!({"name": "Bad Name", "interval": "90d"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .post(
            "/v1/rotation/policies",
            &json!({"name": "p", "interval": "ninety"}),
        )
        .await;
    assert_eq!(r.code(), "invalid_duration");
    let r = app
        .post(
            "/v1/rotation/policies",
            &json!({"name": "p", "interval": "30d", "webhook_ids": ["wh_nope"]}),
        )
        .await;
    assert_eq!(r.code(), "webhook_not_found");
    let r = app
        .post(
            "/v1/rotation/policies",
            &json!({"name": "p", "interval": "30d", "warn_before": ["7d", "1d"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["warn_before"], "7d,1d");
    assert_eq!(r.body["grace_period"], "48h");
    assert_eq!(r.body["grace_period_seconds"], 172_800);
    let r = app
        .post(
            "/v1/rotation/policies",
            &json!({"name": "p", "interval": "30d"}),
        )
        .await;
    assert_eq!(r.code(), "name_conflict");
    assert_eq!(
        app.get("/v1/rotation/policies/rot_nope").await.code(),
        "rotation_policy_not_found"
    );
    let r = app
        .put(
            "/v1/secrets/x/y",
            &json!({"data": {"a": "b"}, "options": {"rotation_policy_id": "rot_nope"}}),
        )
        .await;
    assert_eq!(r.code(), "rotation_policy_not_found");
    // Auto-generation: same keys, new random strings, completed at once.
    app.post(
        "/v1/rotation/policies",
        &json!({"name": "auto", "interval": "365d", "auto_generate": true}),
    )
    .await;
    app.put("/v1/secrets/x/auto", &json!({"data": {"user": "u", "password": "p", "port": 5432}, "options": {"rotation_policy_id": "rot_auto"}})).await;
    let r = app
        .post("/v1/rotation/policies/rot_auto/rotate", &json!({}))
        .await;
    assert_eq!(r.body[0]["status"], "success", "{}", r.body);
    let r = app.get("/v1/secrets/x/auto").await;
    assert_eq!(r.body["version"], 2);
    let d = &r.body["data"];
    assert_eq!(d["port"], 5432);
    assert_eq!(d["password"].as_str().unwrap().len(), 32);
    assert_ne!(d["user"], "u");
    // Disabled: nothing fires; enabling fires what is due at once.
    app.post("/v1/rotation/policies/rot_p/disable", &json!({}))
        .await;
    app.put(
        "/v1/secrets/x/dis",
        &json!({"data": {"a": "b"}, "options": {"rotation_policy_id": "rot_p"}}),
    )
    .await;
    app.clock.advance(Duration::days(31));
    assert_eq!(
        scaivault::scheduler::tick(&app.state).await.unwrap().opened,
        0
    );
    let r = app
        .post("/v1/rotation/policies/rot_p/enable", &json!({}))
        .await;
    assert_eq!(r.body["is_active"], true);
    assert_eq!(
        scaivault::scheduler::tick(&app.state).await.unwrap().opened,
        1
    );
    // Forced rotation of a pending secret returns the pending item.
    let a = app
        .post(
            "/v1/rotation/policies/rot_p/rotate",
            &json!({"secret_paths": ["x/dis"]}),
        )
        .await;
    let b = app
        .post(
            "/v1/rotation/policies/rot_p/rotate",
            &json!({"secret_paths": ["x/dis"]}),
        )
        .await;
    assert_eq!(a.body[0]["id"], b.body[0]["id"]);
    // Detach and delete.
    let r = app
        .delete("/v1/rotation/policies/rot_p/secrets/x/dis")
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/v1/secrets/x/dis").await.body["rotation"],
        Value::Null
    );
    let r = app.delete("/v1/rotation/policies/rot_p").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let (_, tok) = app.create_token("r", &["secrets:read"], &[]).await;
    let r = app
        .call(
            reqwest::Method::POST,
            "/v1/rotation/policies/rot_auto/rotate",
            Some(&tok),
            Some(&json!({})),
        )
        .await;
    assert_eq!(r.code(), "insufficient_scope");
}

/// Two replicas on one PostgreSQL, 1,000 attached secrets all due at once: every secret gets
/// exactly one due event and one history item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_fire_each_due_rotation_once() {
    // The app's own background scheduler must not tick while the two ticks below run (it would
    // open some of the rotations itself, which made the test fail under load): it ticks at
    // start and then not for an hour.
    let app = TestApp::spawn_with(StoreKind::Postgres, |c| {
        c.scheduler_tick = scaivault::domain::duration::ApiDuration::parse("1h").unwrap()
    })
    .await;
    app.post(
        "/v1/rotation/policies",
        &json!({"name": "bulk", "interval": "1d", "grace_period": "1h"}),
    )
    .await;
    let db = app.db().await;
    // 1,000 secrets attached through the API would take a while; write them in parallel chunks.
    let mut tasks = Vec::new();
    for chunk in 0..10 {
        let (client, base, tok) = (app.client.clone(), app.base.clone(), app.root_token.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..100 {
                let r = client
                    .put(format!("{base}/v1/secrets/bulk/{chunk}/{i}"))
                    .bearer_auth(&tok)
                    .json(&json!({"data": {"v": i}, "options": {"rotation_policy_id": "rot_bulk"}}))
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // A second replica: same database, same clock.
    let replica = app.replica().await;
    app.clock.advance(Duration::days(1));
    let (a, b) = tokio::join!(
        scaivault::scheduler::tick(&app.state),
        scaivault::scheduler::tick(&replica.state)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.opened + b.opened, 1000, "{a:?} {b:?}");
    let dues: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE event_type = 'rotation.due'")
            .fetch_one(&db)
            .await
            .unwrap();
    let distinct: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT path) FROM events WHERE event_type = 'rotation.due'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let history: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rotation_history")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!((dues, distinct, history), (1000, 1000, 1000));
}

both_stores!(expiry_notices_fire_once_each);

async fn expiry_notices_fire_once_each(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let rx = Receiver::start("0123456789abcdef0123456789abcdef").await;
    app.post("/v1/webhooks", &json!({"name": "rx", "url": rx.url, "secret": "0123456789abcdef0123456789abcdef", "events": ["secret.expiring", "secret.expired"]})).await;
    let r = app.put("/v1/secrets/exp/cert", &json!({"data": {"pem": "x"}, "secret_type": "certificate", "options": {"expires_in": "30d", "notify_before": "7d,1d"}})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let expires = app.clock_now() + Duration::days(30);
    let tick = |app: &TestApp| {
        let st = app.state.clone();
        async move {
            scaivault::scheduler::tick(&st)
                .await
                .unwrap()
                .expiry_notices
        }
    };
    app.clock.advance(Duration::days(22));
    assert_eq!(tick(&app).await, 0);
    app.clock.advance(Duration::days(1));
    assert_eq!(tick(&app).await, 1);
    assert_eq!(tick(&app).await, 0);
    app.clock.advance(Duration::days(6));
    assert_eq!(tick(&app).await, 1);
    app.clock.advance(Duration::days(1));
    assert_eq!(tick(&app).await, 1);
    assert_eq!(tick(&app).await, 0);
    let got = rx
        .wait_for("three notices", |r| {
            r.iter().map(|x| &x.event_id).collect::<HashSet<_>>().len() >= 3
        })
        .await;
    let mut got = got;
    got.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    let mut seen = HashSet::new();
    let bodies: Vec<&Value> = got
        .iter()
        .filter(|x| seen.insert(x.event_id.clone()))
        .map(|x| &x.body)
        .collect();
    assert_eq!(bodies[0]["event_type"], "secret.expiring");
    assert_eq!(
        (
            bodies[0]["data"]["threshold"].clone(),
            bodies[0]["data"]["days_remaining"].clone()
        ),
        (json!("7d"), json!(7))
    );
    assert_eq!(
        (
            bodies[1]["data"]["threshold"].clone(),
            bodies[1]["data"]["days_remaining"].clone()
        ),
        (json!("1d"), json!(1))
    );
    assert_eq!(bodies[2]["event_type"], "secret.expired");
    assert_eq!(
        bodies[2]["data"]["expires_at"],
        expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
}
