//! An auto-generated rotation whose writer died between opening it and writing the value (a
//! killed process, a lost replica) is taken over by the next tick after the write lease, on
//! any replica, instead of staying `pending` for good.

use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use chrono::Duration;
use reqwest::StatusCode;
use scaivault::domain::rotation::{self, Step, AUTO_WRITE_LEASE_SECS};
use serde_json::json;

both_stores!(a_rotation_left_open_by_a_dead_writer_is_finished_after_the_lease);

async fn a_rotation_left_open_by_a_dead_writer_is_finished_after_the_lease(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("svc/db", json!({"pw": "one", "user": "app"}))
        .await;
    let r = app
        .post(
            "/v1/rotation/policies",
            &json!({"name": "daily", "interval": "1d", "auto_generate": true}),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            &format!("/v1/rotation/policies/{id}/secrets"),
            &json!({"secret_path": "svc/db"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    // What a process killed right after the opening commit leaves behind: the rotation opened
    // (history pending) and no generated value written.
    app.clock.advance(Duration::days(1));
    let now = app.clock_now();
    let store = app.state.store.as_ref();
    let mut tx = store.begin().await.unwrap();
    let claimed = tx
        .claim_due_schedules(scaivault::clock::to_micros(now), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let mut s = claimed.into_iter().next().unwrap();
    let p = tx
        .get_policy(&s.tenant_id, &s.policy_id)
        .await
        .unwrap()
        .unwrap();
    let secret = tx.secret_by_id(&s.secret_id).await.unwrap().unwrap();
    let step = rotation::step(&mut *tx, &mut s, &p, &secret, now)
        .await
        .unwrap();
    assert!(matches!(step, Step::Opened { auto: true, .. }), "{step:?}");
    tx.commit().await.unwrap();

    let history = format!("/v1/rotation/policies/{id}/history");
    assert_eq!(app.get(&history).await.body["data"][0]["status"], "pending");
    // Within the lease nobody else touches it (its writer may still be at work).
    app.clock
        .advance(Duration::seconds(AUTO_WRITE_LEASE_SECS - 1));
    let report = scaivault::scheduler::tick(&app.state).await.unwrap();
    assert_eq!(report.retried, 0);
    assert_eq!(app.get("/v1/secrets/svc/db").await.body["version"], 1);

    // After it, the next tick (of this or any replica) writes the value and completes it.
    app.clock.advance(Duration::seconds(2));
    let report = scaivault::scheduler::tick(&app.state).await.unwrap();
    assert_eq!(report.retried, 1);
    let h = app.get(&history).await;
    assert_eq!(h.body["data"][0]["status"], "success", "{}", h.body);
    assert_eq!(h.body["data"][0]["new_version"], 2);
    let current = app.get("/v1/secrets/svc/db").await;
    assert_eq!(current.body["version"], 2);
    assert_ne!(current.body["data"]["pw"], "one");
    // Once: nothing more to take over.
    app.clock
        .advance(Duration::seconds(AUTO_WRITE_LEASE_SECS + 1));
    assert_eq!(
        scaivault::scheduler::tick(&app.state)
            .await
            .unwrap()
            .retried,
        0
    );
    assert_eq!(app.get("/v1/secrets/svc/db").await.body["version"], 2);
}
