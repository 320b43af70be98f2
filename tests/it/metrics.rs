//! `/v1/metrics` (SPEC §8): after a known mix of traffic every listed series is present with
//! the values that traffic implies; no secret path or token ever appears in the text; the
//! endpoint wants an admin token on the API listener, and the separate
//! `SCAIVAULT_METRICS_LISTEN` listener serves without one and stops with the server.

use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use chrono::Duration;
use reqwest::{Method, StatusCode};
use scaivault::domain::duration::ApiDuration;
use serde_json::json;
use std::collections::BTreeMap;

both_stores!(
    series_follow_the_traffic,
    metrics_need_an_admin_token,
    separate_listener_serves_without_auth,
    busy_metrics_address_stops_the_start
);

const SECRET: &str = "0123456789abcdef0123456789abcdef";

/// One sample of the exposition: name, labels, value.
#[derive(Debug)]
pub(crate) struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text exposition (our label values never hold commas or quotes).
pub(crate) fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("sample line has a value");
            let (name, labels) = match series.split_once('{') {
                None => (series.to_string(), BTreeMap::new()),
                Some((n, rest)) => {
                    let inner = rest.strip_suffix('}').expect("labels end with }");
                    let labels = inner
                        .split(',')
                        .filter(|p| !p.is_empty())
                        .map(|p| {
                            let (k, v) = p.split_once('=').expect("label k=v");
                            (k.to_string(), v.trim_matches('"').to_string())
                        })
                        .collect();
                    (n.to_string(), labels)
                }
            };
            Sample {
                name,
                labels,
                value: value.parse().expect("numeric value"),
            }
        })
        .collect()
}

/// The value of the sample with exactly these labels, if present.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples
        .iter()
        .find(|s| s.name == name && s.labels == want)
        .map(|s| s.value)
}

pub(crate) fn must(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    value(samples, name, labels)
        .unwrap_or_else(|| panic!("no sample {name}{labels:?} in the exposition"))
}

/// The exposition `GET /v1/metrics` answers the root token (checks status and content type).
pub(crate) async fn scrape(app: &TestApp) -> String {
    let r = app
        .client
        .get(app.url("/v1/metrics"))
        .bearer_auth(&app.root_token)
        .send()
        .await
        .expect("scrape");
    assert_eq!(r.status(), StatusCode::OK);
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    r.text().await.expect("body")
}

/// A URL where nothing listens (the port was free a moment ago).
fn dead_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}/hook")
}

async fn series_follow_the_traffic(kind: StoreKind) {
    // The background scheduler must not tick on its own: the test ticks it.
    let app = TestApp::spawn_with(kind, |c| {
        c.scheduler_tick = ApiDuration::parse("1h").unwrap();
    })
    .await;
    let r = app
        .post(
            "/v1/webhooks",
            &json!({"name": "down", "url": dead_url(), "secret": SECRET, "events": ["secret.created"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app
        .post(
            "/v1/rotation/policies",
            &json!({"name": "p1", "interval": "1d", "grace_period": "1h"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    // Writes: 3 plain creates, 3 creates under the policy, 1 update, 1 delete = 8
    // (6 deliveries pending). The deleted secret under the policy is not due for rotation.
    for i in 0..3 {
        app.put_secret(&format!("probe/alpha-{i}"), json!({"v": "hunter2"}))
            .await;
    }
    for p in ["probe/rot-a", "probe/rot-b", "probe/rot-c"] {
        let r = app
            .put(
                &format!("/v1/secrets/{p}"),
                &json!({"data": {"pw": "one"}, "options": {"rotation_policy_id": "rot_p1"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let r = app.put_secret("probe/alpha-0", json!({"v": "two"})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        app.delete("/v1/secrets/probe/rot-c").await.status,
        StatusCode::OK
    );

    // Reads: 4 single reads + 2 found in a batch = 6; a 404 and a batch miss do not count.
    for p in ["alpha-0", "alpha-1", "alpha-2", "alpha-0"] {
        assert_eq!(
            app.get(&format!("/v1/secrets/probe/{p}")).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        app.get("/v1/secrets/probe/missing").await.status,
        StatusCode::NOT_FOUND
    );
    let r = app
        .post(
            "/v1/secrets/batch",
            &json!({"paths": ["probe/alpha-1", "probe/alpha-2", "probe/missing"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // Both rotations are due and the scheduler is 90 s late.
    app.clock.advance(Duration::days(1) + Duration::seconds(90));
    let s = parse(&scrape(&app).await);
    assert_eq!(must(&s, "scaivault_rotation_queue_depth", &[]), 2.0);
    assert_eq!(must(&s, "scaivault_scheduler_lag_seconds", &[]), 90.0);
    assert_eq!(must(&s, "scaivault_webhook_queue_depth", &[]), 6.0);
    assert_eq!(
        must(&s, "scaivault_webhook_oldest_pending_seconds", &[]),
        86_490.0
    );

    // The scheduler opens both; a new value completes rot-a; rot-b passes its grace period.
    let report = scaivault::scheduler::tick(&app.state).await.expect("tick");
    assert_eq!(report.opened, 2);
    let r = app.put_secret("probe/rot-a", json!({"pw": "two"})).await;
    assert_eq!(r.status, StatusCode::OK);
    app.clock.advance(Duration::hours(1) + Duration::seconds(1));
    let report = scaivault::scheduler::tick(&app.state).await.expect("tick");
    assert_eq!(report.overdue, 1);

    let text = scrape(&app).await;
    let s = parse(&text);
    assert_eq!(must(&s, "scaivault_secret_reads_total", &[]), 6.0);
    assert_eq!(must(&s, "scaivault_secret_writes_total", &[]), 9.0);
    let rot = |status| {
        must(
            &s,
            "scaivault_secret_rotations_total",
            &[("status", status)],
        )
    };
    assert_eq!(
        (rot("success"), rot("overdue"), rot("failed")),
        (1.0, 1.0, 0.0)
    );
    assert_eq!(must(&s, "scaivault_rotation_queue_depth", &[]), 1.0);
    assert_eq!(must(&s, "scaivault_scheduler_lag_seconds", &[]), 0.0);
    assert_eq!(must(&s, "scaivault_webhook_queue_depth", &[]), 6.0);
    assert_eq!(
        must(&s, "scaivault_webhook_oldest_pending_seconds", &[]),
        86_490.0 + 3_601.0
    );
    let req = |m, cat, status| {
        value(
            &s,
            "scaivault_requests_total",
            &[("method", m), ("path_category", cat), ("status", status)],
        )
        .unwrap_or(0.0)
    };
    assert_eq!(req("GET", "secrets", "200"), 4.0);
    assert_eq!(req("GET", "secrets", "404"), 1.0);
    assert_eq!(req("PUT", "secrets", "201"), 6.0);
    assert_eq!(req("DELETE", "secrets", "200"), 1.0);
    assert_eq!(req("PUT", "secrets", "200"), 2.0);
    assert_eq!(req("POST", "secrets", "200"), 1.0);
    assert_eq!(req("POST", "webhooks", "201"), 1.0);
    assert_eq!(req("POST", "rotation", "201"), 1.0);
    assert_eq!(req("GET", "metrics", "200"), 1.0, "the first scrape");
    let labels = [("method", "GET"), ("path_category", "secrets")];
    assert_eq!(
        must(&s, "scaivault_request_duration_seconds_count", &labels),
        5.0
    );
    assert!(must(&s, "scaivault_request_duration_seconds_sum", &labels) > 0.0);
    let mut inf = labels.to_vec();
    inf.push(("le", "+Inf"));
    assert_eq!(
        must(&s, "scaivault_request_duration_seconds_bucket", &inf),
        5.0
    );
    // Reads and the 404 are audited through the group-commit writer.
    let batches = must(&s, "scaivault_audit_batch_size_count", &[]);
    let rows = must(&s, "scaivault_audit_batch_size_sum", &[]);
    assert!(batches >= 1.0 && rows >= batches, "{batches} {rows}");
    assert!(
        value(&s, "scaivault_audit_batch_size_bucket", &[("le", "1000.0")]).is_some(),
        "buckets of the batch-size histogram"
    );
    // Each of those batches is timed too.
    let commits = must(&s, "scaivault_audit_commit_seconds_count", &[]);
    assert!((commits - batches).abs() <= 1.0, "{commits} {batches}");
    assert!(must(&s, "scaivault_audit_commit_seconds_sum", &[]) > 0.0);
    // Only fixed route families, never a path, a token or a value.
    let categories: std::collections::BTreeSet<&str> = s
        .iter()
        .filter_map(|x| x.labels.get("path_category").map(String::as_str))
        .collect();
    assert_eq!(
        categories.into_iter().collect::<Vec<_>>(),
        vec!["metrics", "rotation", "secrets", "webhooks"]
    );
    for needle in [
        "probe",
        "alpha",
        "rot-a",
        "hunter2",
        "skt_",
        &app.root_token,
    ] {
        assert!(!text.contains(needle), "'{needle}' leaked into the metrics");
    }
}

async fn metrics_need_an_admin_token(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let r = app.call(Method::GET, "/v1/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "authentication_required");
    let (_, reader) = app
        .create_token("reader", &["secrets:read", "audit:read"], &[])
        .await;
    let r = app
        .call(Method::GET, "/v1/metrics", Some(&reader), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "insufficient_scope");
    let (_, admin) = app.create_token("ops", &["admin"], &[]).await;
    let r = app
        .call(Method::GET, "/v1/metrics", Some(&admin), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.body.as_str().expect("text exposition").to_string();
    assert!(text.ends_with("# EOF\n"));
    let s = parse(&text);
    // Every series of SPEC §8 is there from the start (families with labels once used).
    for name in [
        "scaivault_secret_reads_total",
        "scaivault_secret_writes_total",
        "scaivault_rotation_queue_depth",
        "scaivault_webhook_queue_depth",
        "scaivault_webhook_oldest_pending_seconds",
        "scaivault_scheduler_lag_seconds",
        "scaivault_audit_batch_size_count",
    ] {
        assert!(value(&s, name, &[]).is_some(), "{name} missing:\n{text}");
    }
    for status in ["success", "failed", "overdue"] {
        assert_eq!(
            value(
                &s,
                "scaivault_secret_rotations_total",
                &[("status", status)]
            ),
            Some(0.0)
        );
    }
    // The two denied scrapes were counted like any request.
    let denied = |status| {
        value(
            &s,
            "scaivault_requests_total",
            &[
                ("method", "GET"),
                ("path_category", "metrics"),
                ("status", status),
            ],
        )
    };
    assert_eq!((denied("401"), denied("403")), (Some(1.0), Some(1.0)));
    for name in [
        "scaivault_requests",
        "scaivault_request_duration_seconds",
        "scaivault_secret_rotations",
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} has no TYPE line"
        );
    }
    assert!(!text.contains(&admin) && !text.contains(&reader));
}

async fn separate_listener_serves_without_auth(kind: StoreKind) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let app = TestApp::spawn_with(kind, |c| c.metrics_listen = Some(addr)).await;
    app.put_secret("probe/x", json!({"v": 1})).await;
    let client = reqwest::Client::new();
    for path in ["/metrics", "/v1/metrics"] {
        let r = client
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .expect("metrics listener answers");
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let s = parse(&r.text().await.unwrap());
        assert_eq!(must(&s, "scaivault_secret_writes_total", &[]), 1.0);
    }
    let r = client
        .get(format!("http://{addr}/v1/secrets/probe/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "only metrics there");
    // The API listener still wants a token.
    let r = app.call(Method::GET, "/v1/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Stopping the server stops the metrics listener too.
    drop(app);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        // A fresh client each time: a pooled connection must not hide the closed listener.
        let gone = reqwest::Client::new()
            .get(format!("http://{addr}/metrics"))
            .timeout(std::time::Duration::from_secs(2))
            .send()
            .await
            .is_err();
        if gone {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the metrics listener outlived the server"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn busy_metrics_address_stops_the_start(kind: StoreKind) {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let app = TestApp::spawn(kind).await;
    let mut config = (*app.state.config).clone();
    config.metrics_listen = Some(addr);
    let clock: std::sync::Arc<dyn scaivault::clock::Clock> = std::sync::Arc::new(app.clock.clone());
    let second = scaivault::App::build(config, clock).await.expect("builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        second.serve(listener, std::future::pending()),
    )
    .await
    .expect("serve gives up at once")
    .expect_err("the metrics address is taken");
    assert!(
        err.to_string().contains("SCAIVAULT_METRICS_LISTEN"),
        "{err}"
    );
}
