//! Polling: the glob table end to end, order, acknowledgement and redelivery, long-poll
//! wake-up (on the same server and, on PostgreSQL, from another replica), the buffer limit,
//! the audit row of each poll, and the backlog gauge.

use super::{ack, create, kinds, long_poll, poll, poll_now, polling, CONSUMER};
use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};

both_stores!(
    globs_route_the_paths_they_match_and_no_other,
    events_come_in_order_until_acknowledged,
    a_long_poll_wakes_within_500ms_of_a_write,
    a_long_poll_wakes_on_another_replicas_write,
    more_than_buffer_size_unacknowledged_drops_the_oldest,
    polls_are_audited_and_the_backlog_is_a_metric,
    poll_parameters_are_checked,
    a_stopping_server_ends_waiting_polls_at_once,
);

/// Paths written, and for each glob which of them its subscription must receive.
const PATHS: &[&str] = &[
    "a",
    "a/b",
    "a/b/c",
    "a/x/c",
    "a/b/b/c",
    "ab/c",
    "x/oauth",
    "x/y/oauth",
];
const TABLE: &[(&str, &[&str])] = &[
    ("a/b/c", &["a/b/c"]),
    ("a/*/c", &["a/b/c", "a/x/c"]),
    ("a/*", &["a/b"]),
    ("a/**", &["a", "a/b", "a/b/c", "a/x/c", "a/b/b/c"]),
    ("a/**/c", &["a/b/c", "a/x/c", "a/b/b/c"]),
    ("**/oauth", &["x/oauth", "x/y/oauth"]),
    ("*/*", &["a/b", "ab/c", "x/oauth"]),
    ("**", PATHS),
];

async fn globs_route_the_paths_they_match_and_no_other(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (_, token) = app.create_token("c", CONSUMER, &[]).await;
    let mut subs = Vec::new();
    for (i, (glob, _)) in TABLE.iter().enumerate() {
        let s = create(
            &app,
            &token,
            polling(&format!("g{i}"), &[glob], &["secret.created"]),
        )
        .await;
        subs.push(s["id"].as_str().unwrap().to_string());
    }
    for p in PATHS {
        app.put_secret(p, json!({"v": 1})).await;
    }
    for ((glob, want), id) in TABLE.iter().zip(&subs) {
        let r = poll(&app, &token, id, "timeout=0&max_events=1000").await;
        let got: Vec<String> = kinds(r.body["events"].as_array().unwrap())
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        assert_eq!(got, *want, "glob {glob}");
    }
}

async fn events_come_in_order_until_acknowledged(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (_, token) = app.create_token("c", CONSUMER, &[]).await;
    let s = create(&app, &token, polling("o", &["svc/**"], &["*"])).await;
    let id = s["id"].as_str().unwrap();
    for i in 1..=5 {
        app.put_secret("svc/db", json!({"v": i})).await;
    }
    app.delete("/v1/secrets/svc/db").await;
    let r = poll(&app, &token, id, "timeout=0&max_events=4").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["has_more"], true);
    let first = r.body["events"].as_array().unwrap().clone();
    let versions: Vec<i64> = first
        .iter()
        .map(|e| {
            e["data"]["new_version"]
                .as_i64()
                .or(e["data"]["version"].as_i64())
                .unwrap()
        })
        .collect();
    assert_eq!(versions, [1, 2, 3, 4], "oldest first, in order");
    assert_eq!(first[0]["event_type"], "secret.created");
    // Not acknowledged: the same events again.
    let again = poll(&app, &token, id, "timeout=0&max_events=4").await;
    assert_eq!(
        again.body["events"].as_array().unwrap(),
        &first,
        "redelivered"
    );
    // Acknowledge two (and one unknown id, not counted).
    let mut some = first[..2].to_vec();
    some.push(json!({"event_id": "evt_unknown"}));
    assert_eq!(ack(&app, &token, id, &some).await, 2);
    let rest = poll_now(&app, &token, id).await;
    assert_eq!(rest.len(), 4);
    assert_eq!(rest[0]["event_id"], first[2]["event_id"]);
    assert_eq!(rest[3]["event_type"], "secret.deleted");
    assert_eq!(ack(&app, &token, id, &rest).await, 4);
    assert!(poll_now(&app, &token, id).await.is_empty());
    assert_eq!(
        ack(&app, &token, id, &rest).await,
        0,
        "acknowledged twice counts once"
    );
    let shown = app
        .call(
            Method::GET,
            &format!("/v1/subscriptions/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(shown.body["pending_events"], 0);
}

async fn a_long_poll_wakes_within_500ms_of_a_write(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (_, token) = app.create_token("c", CONSUMER, &[]).await;
    let s = create(&app, &token, polling("w", &["live/*"], &["secret.created"])).await;
    let id = s["id"].as_str().unwrap().to_string();
    let url = app.url(&format!("/v1/subscriptions/{id}/poll?timeout=20"));
    let waiting = long_poll(&app, url, &token);
    // The poll is waiting (it has not answered) before the write.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "a poll with nothing to return waits"
    );
    app.put_secret("live/one", json!({"v": 1})).await;
    let written = Instant::now();
    let (body, answered) = waiting.await.unwrap();
    assert_eq!(
        kinds(body["events"].as_array().unwrap()),
        [("secret.created".into(), "live/one".into())]
    );
    let lag = answered.saturating_duration_since(written);
    assert!(
        lag < Duration::from_millis(500),
        "woke {lag:?} after the write"
    );
    // A poll that times out answers 200 with no events.
    let r = poll(&app, &token, &id, "timeout=1").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["events"].as_array().unwrap().len(),
        1,
        "not acknowledged: returned at once"
    );
    ack(&app, &token, &id, r.body["events"].as_array().unwrap()).await;
    let started = Instant::now();
    let r = poll(&app, &token, &id, "timeout=1").await;
    assert_eq!(r.body, json!({"events": [], "has_more": false}));
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for its timeout"
    );
}

async fn a_long_poll_wakes_on_another_replicas_write(kind: StoreKind) {
    if kind == StoreKind::Sqlite {
        // One process serves an SQLite file: there is no other replica to hear from.
        return;
    }
    let app = TestApp::spawn(kind).await;
    let other = app.serve_replica(|_| {}).await;
    let (_, token) = app.create_token("c", CONSUMER, &[]).await;
    let s = create(&app, &token, polling("x", &["far/*"], &["secret.created"])).await;
    let url = app.url(&format!(
        "/v1/subscriptions/{}/poll?timeout=20",
        s["id"].as_str().unwrap()
    ));
    let waiting = long_poll(&app, url, &token);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = app
        .client
        .put(format!("{}/v1/secrets/far/away", other.base))
        .bearer_auth(&app.root_token)
        .json(&json!({"data": {"v": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let written = Instant::now();
    let (body, answered) = waiting.await.unwrap();
    assert_eq!(body["events"][0]["path"], "far/away", "{body}");
    let lag = answered.saturating_duration_since(written);
    assert!(
        lag < Duration::from_millis(500),
        "woke {lag:?} after the other replica's write"
    );
}

async fn more_than_buffer_size_unacknowledged_drops_the_oldest(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (_, token) = app.create_token("c", CONSUMER, &[]).await;
    let body = json!({"name": "small", "paths": ["buf/*"], "events": ["*"],
        "delivery": {"type": "polling", "buffer_size": 3}});
    let s = create(&app, &token, body).await;
    let id = s["id"].as_str().unwrap();
    for i in 1..=5 {
        app.put_secret(&format!("buf/s{i}"), json!({"v": i})).await;
    }
    let events = poll_now(&app, &token, id).await;
    let paths: Vec<String> = kinds(&events).into_iter().map(|(_, p)| p).collect();
    assert_eq!(
        paths,
        ["buf/s3", "buf/s4", "buf/s5"],
        "the newest three stay"
    );
    let shown = app
        .call(
            Method::GET,
            &format!("/v1/subscriptions/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(shown.body["dropped_events"], 2, "{}", shown.body);
    assert_eq!(shown.body["pending_events"], 3);
}

async fn polls_are_audited_and_the_backlog_is_a_metric(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (_, token) = app.create_token("auditme", CONSUMER, &[]).await;
    let s = create(&app, &token, polling("m", &["m/*"], &["*"])).await;
    let id = s["id"].as_str().unwrap();
    app.put_secret("m/a", json!({"v": 1})).await;
    app.put_secret("m/b", json!({"v": 1})).await;
    let metrics = app.get("/v1/metrics").await;
    let text = metrics.body.as_str().unwrap_or_default().to_string();
    assert!(text.contains("scaivault_subscription_backlog 2"), "{text}");
    let events = poll_now(&app, &token, id).await;
    assert_eq!(events.len(), 2);
    // An empty poll writes no row; one that returned events does.
    ack(&app, &token, id, &events).await;
    poll_now(&app, &token, id).await;
    let rows = app.get("/v1/audit/logs?action=subscription_event").await;
    let logs = rows.body["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 1, "{}", rows.body);
    assert_eq!(logs[0]["identity_id"], "sa:auditme");
    assert_eq!(logs[0]["extra_data"]["subscription_id"], id);
    assert_eq!(logs[0]["extra_data"]["events"], 2);
    let text = app
        .get("/v1/metrics")
        .await
        .body
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(text.contains("scaivault_subscription_backlog 0"), "{text}");
}

async fn poll_parameters_are_checked(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (_, token) = app.create_token("c", CONSUMER, &[]).await;
    let s = create(&app, &token, polling("q", &["q/*"], &["*"])).await;
    let id = s["id"].as_str().unwrap();
    for (q, status, code) in [
        (
            "timeout=61",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            "timeout=2m",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        ("timeout=soon", StatusCode::BAD_REQUEST, "invalid_duration"),
        (
            "max_events=0",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            "max_events=1001",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            "max_events=x",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
    ] {
        let r = poll(&app, &token, id, q).await;
        assert_eq!(r.status, status, "{q}: {}", r.body);
        assert_eq!(r.body["error"]["code"], code, "{q}");
    }
    for q in ["timeout=0", "timeout=1s&max_events=1000"] {
        assert_eq!(
            poll(&app, &token, id, q).await.status,
            StatusCode::OK,
            "{q}"
        );
    }
    let r = app
        .call(
            Method::POST,
            &format!("/v1/subscriptions/{id}/ack"),
            Some(&token),
            Some(&json!({"event_ids": []})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn a_stopping_server_ends_waiting_polls_at_once(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let (_, token) = app.create_token("c", CONSUMER, &[]).await;
    let s = create(&app, &token, polling("s", &["quiet/*"], &["*"])).await;
    let replica = app.serve_replica(|_| {}).await;
    let client = app.client.clone();
    let poll_url = format!(
        "{}/v1/subscriptions/{}/poll?timeout=60",
        replica.base,
        s["id"].as_str().unwrap()
    );
    let feed_url = format!("{}/v1/events?wait=60s", replica.base);
    let root = app.root_token.clone();
    let started = Instant::now();
    let polls = tokio::spawn(async move {
        let (a, b) = tokio::join!(
            client.get(poll_url).bearer_auth(&token).send(),
            client.get(feed_url).bearer_auth(root).send(),
        );
        (a.unwrap().status(), b.unwrap().status())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!polls.is_finished(), "both wait while nothing happens");
    drop(replica); // shuts the replica down
    let (poll, feed) = polls.await.unwrap();
    assert_eq!(poll, StatusCode::OK, "the waiting poll answered (empty)");
    assert_eq!(
        feed,
        StatusCode::OK,
        "the waiting feed read answered (empty)"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "answered at shutdown, not at its 60 s timeout"
    );
}
