//! `Retry-After` in its HTTP-date form on a receiver's 429 is honoured like the seconds form
//! (SPEC §5): the next attempt waits until that date, not just the schedule's delay.

use crate::both_stores;
use crate::common::receiver::Receiver;
use crate::common::{StoreKind, TestApp};
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant, SystemTime};

const SECRET: &str = "whsec_0123456789abcdef";

both_stores!(retry_after_http_date_is_honoured);

async fn retry_after_http_date_is_honoured(kind: StoreKind) {
    let app = TestApp::spawn_with(kind, |c| {
        c.webhook_retry_schedule = scaivault::domain::duration::parse_list("1s,1s").unwrap();
    })
    .await;
    let rx = Receiver::start(SECRET).await;
    // Ten minutes after now on the receiver's clock (its Date header is the base).
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(600));
    rx.script(&[(429, Some(date.as_str()))]);
    let r = app
        .post(
            "/v1/webhooks",
            &json!({"name": "busy", "url": rx.url, "secret": SECRET, "events": ["*"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().expect("id").to_string();
    app.put_secret("ra/date", json!({"a": 1})).await;
    rx.wait_for("first attempt", |r| !r.is_empty()).await;

    let deadline = Instant::now() + Duration::from_secs(10);
    let d = loop {
        let r = app.get(&format!("/v1/webhooks/{id}/deliveries")).await;
        let d = r.body["deliveries"][0].clone();
        if d["attempts"] == 1 {
            break d;
        }
        assert!(Instant::now() < deadline, "no recorded attempt: {}", r.body);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(d["status"], "pending", "{d}");
    let next = chrono::DateTime::parse_from_rfc3339(d["next_attempt_at"].as_str().expect("next"))
        .expect("RFC 3339");
    let wait = next.timestamp() - app.clock_now().timestamp();
    // HTTP-dates have whole seconds: the request took part of one.
    assert!(
        (597..=600).contains(&wait),
        "waits {wait}s, not until the Retry-After date (600s), beating the 1s schedule"
    );
    app.clock.advance(chrono::Duration::seconds(601));
    app.state.bus.deliveries.notify_one();
    rx.wait_for("second attempt", |r| r.len() == 2).await;
}
