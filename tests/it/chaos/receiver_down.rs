//! Fault 5: a webhook receiver down for days, on the test clock. Its delivery is retried on the
//! default schedule (30s, 5m, 30m, 2h, 8h, 24h: each attempt exactly that long after the last),
//! then ends `failed` and the webhook `failing`; once the receiver is back, a redeliver succeeds
//! with the same `event_id`. A healthy webhook beside it got every event promptly throughout.
//! (Slow rather than dead endpoints: `webhook_isolation.rs`.)

use crate::binary::free_port;
use crate::both_stores;
use crate::common::receiver::Receiver;
use crate::common::{StoreKind, TestApp};
use chrono::Duration as Days;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SECRET: &str = "whsec_chaos_receiver_down";
/// The default schedule, in seconds.
const SCHEDULE: [i64; 6] = [30, 300, 1800, 7200, 28800, 86400];

both_stores!(receiver_down_for_days);

async fn hook(app: &TestApp, name: &str, url: &str, prefix: &str) -> String {
    let r = app
        .post(
            "/v1/webhooks",
            &json!({"name": name, "url": url, "secret": SECRET, "events": ["secret.created"],
                    "filters": {"path_prefix": prefix}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["id"].as_str().expect("id").to_string()
}

/// The down webhook's only delivery (its filter takes only the first secret), once
/// `attempts` reached `n`.
async fn delivery_after(app: &TestApp, hook: &str, n: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        app.state.bus.deliveries.notify_one();
        let r = app.get(&format!("/v1/webhooks/{hook}/deliveries")).await;
        let d = r.body["deliveries"][0].clone();
        if d["attempts"].as_u64() == Some(n as u64) {
            return d;
        }
        assert!(Instant::now() < deadline, "attempt {n} never happened: {d}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn receiver_down_for_days(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let dead_port = free_port();
    let down = hook(
        &app,
        "down",
        &format!("http://127.0.0.1:{dead_port}/hook"),
        "days/first",
    )
    .await;
    let healthy_rx = Receiver::start(SECRET).await;
    hook(&app, "healthy", &healthy_rx.url, "days").await;

    app.put_secret("days/first", json!({"v": 1})).await;
    let mut d = delivery_after(&app, &down, 1).await;
    let mut slowest_healthy = Duration::ZERO;
    for (i, delay) in SCHEDULE.iter().enumerate() {
        // Each retry is due exactly `delay` after the attempt before it.
        let next =
            chrono::DateTime::parse_from_rfc3339(d["next_attempt_at"].as_str().expect("next"))
                .expect("time");
        assert_eq!(
            next.timestamp() - app.clock_now().timestamp(),
            *delay,
            "retry {} not on the schedule: {d}",
            i + 1
        );
        // Not before it is due…
        app.clock.advance(Days::seconds(delay - 1));
        app.state.bus.deliveries.notify_one();
        // …while the healthy webhook keeps getting new events at once.
        let path = format!("days/during-{i}");
        let wrote = Instant::now();
        app.put_secret(&path, json!({"v": i})).await;
        healthy_rx
            .wait_for("the healthy webhook's event", |r| {
                r.iter().any(|x| x.body["path"] == path.as_str())
            })
            .await;
        slowest_healthy = slowest_healthy.max(wrote.elapsed());
        let r = app.get(&format!("/v1/webhooks/{down}/deliveries")).await;
        assert_eq!(
            r.body["deliveries"][0]["attempts"],
            i as u64 + 1,
            "retried early"
        );
        app.clock.advance(Days::seconds(1));
        d = delivery_after(&app, &down, i + 2).await;
    }
    assert_eq!(d["status"], "failed", "{d}");
    let w = app.get(&format!("/v1/webhooks/{down}")).await;
    assert_eq!(w.body["status"], "failing", "{}", w.body);
    // Three more days down: nothing more is tried.
    app.clock.advance(Days::days(3));
    app.state.bus.deliveries.notify_one();
    app.put_secret("days/after", json!({"v": 0})).await;
    healthy_rx
        .wait_for("the healthy webhook's event", |r| {
            r.iter().any(|x| x.body["path"] == "days/after")
        })
        .await;
    let r = app.get(&format!("/v1/webhooks/{down}/deliveries")).await;
    assert_eq!(r.body["deliveries"][0]["attempts"], SCHEDULE.len() + 1);
    let days_down = (SCHEDULE.iter().sum::<i64>() + 3 * 86400) as f64 / 86400.0;

    // The receiver comes back: a redeliver succeeds, with the same event.
    let back = Receiver::start_on(dead_port, SECRET).await;
    let first_event = healthy_rx.received()[0].event_id.clone();
    let r = app
        .post(
            &format!(
                "/v1/webhooks/{down}/deliveries/{}/redeliver",
                d["id"].as_str().expect("id")
            ),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    app.state.bus.deliveries.notify_one();
    let got = back.wait_for("the redelivery", |r| !r.is_empty()).await;
    assert!(got[0].signature_ok);
    assert_eq!(
        got[0].event_id, first_event,
        "a redelivery carries the same event_id"
    );
    // At least once: a jump of the test clock can expire the lease of a delivery in flight,
    // and it is then sent again (same event id), so count events, not requests.
    let healthy: std::collections::BTreeSet<String> = healthy_rx
        .received()
        .iter()
        .map(|r| r.event_id.clone())
        .collect();
    assert_eq!(
        healthy.len(),
        SCHEDULE.len() + 2,
        "every event reached the healthy webhook"
    );
    // The success ends `failing`.
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.get(&format!("/v1/webhooks/{down}")).await.body["status"] != "healthy" {
        assert!(
            Instant::now() < deadline,
            "the webhook stayed failing after a success"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "chaos: fault=receiver-down store={kind:?} attempts={} days_down={days_down:.2} final=failed webhook=failing redeliver=ok then=healthy \
         healthy_events={} slowest_healthy_ms={} lost=0",
        SCHEDULE.len() + 1,
        healthy_rx.received().len(),
        slowest_healthy.as_millis()
    );
    assert!(
        slowest_healthy < Duration::from_secs(5),
        "the healthy webhook was slowed: {slowest_healthy:?}"
    );
}
