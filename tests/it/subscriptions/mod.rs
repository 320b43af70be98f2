//! Subscriptions (SPEC §10) on both stores: management and ownership, polling with
//! acknowledgement and long-poll wake-up, routing by the owner's rights at delivery time,
//! webhook delivery, and the tutorial's reporting service as a polling consumer.

mod delivery;
mod manage;
mod polling;

use crate::common::{Resp, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The scopes of a consumer that manages and polls its own subscriptions.
pub const CONSUMER: &[&str] = &["subscriptions:read", "subscriptions:write", "secrets:read"];

/// Creates a subscription as `token`, asserting 201; returns the body.
pub async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app
        .call(Method::POST, "/v1/subscriptions", Some(token), Some(&body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

/// A polling subscription named `name` of `globs` for `events`.
pub fn polling(name: &str, globs: &[&str], events: &[&str]) -> Value {
    json!({"name": name, "paths": globs, "events": events, "delivery": {"type": "polling"}})
}

/// Polls subscription `id` as `token` with the query `q` (e.g. `timeout=0`).
pub async fn poll(app: &TestApp, token: &str, id: &str, q: &str) -> Resp {
    app.call(
        Method::GET,
        &format!("/v1/subscriptions/{id}/poll?{q}"),
        Some(token),
        None,
    )
    .await
}

/// Polls without waiting, asserting 200; returns the events.
pub async fn poll_now(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    let r = poll(app, token, id, "timeout=0").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["events"].as_array().cloned().unwrap_or_default()
}

/// Acknowledges `events` (envelopes) as `token`; returns the count acknowledged.
pub async fn ack(app: &TestApp, token: &str, id: &str, events: &[Value]) -> i64 {
    let ids: Vec<&Value> = events.iter().map(|e| &e["event_id"]).collect();
    let r = app
        .call(
            Method::POST,
            &format!("/v1/subscriptions/{id}/ack"),
            Some(token),
            Some(&json!({ "event_ids": ids })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["acknowledged"].as_i64().expect("acknowledged")
}

/// Starts a GET of `url` as `token` in the background (a long poll); it yields the body and
/// when the answer arrived.
pub fn long_poll(
    app: &TestApp,
    url: String,
    token: &str,
) -> tokio::task::JoinHandle<(Value, std::time::Instant)> {
    let (client, token) = (app.client.clone(), token.to_string());
    tokio::spawn(async move {
        let res = client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .expect("poll sent");
        let at = std::time::Instant::now();
        (res.json::<Value>().await.expect("poll body"), at)
    })
}

/// `(event_type, path)` of each event.
pub fn kinds(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["event_type"].as_str().unwrap_or("").to_string(),
                e["path"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}
