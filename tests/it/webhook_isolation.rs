//! A slow or dead webhook endpoint never delays deliveries to other endpoints.
//!
//! One webhook points at a stuck endpoint (a receiver that answers only after most of the
//! attempt timeout, or a port that accepts TCP and never answers); another at a healthy
//! receiver. More events are written than the worker has delivery slots
//! (`webhook_concurrency`), so the stuck endpoint has more due deliveries than there are slots.
//! The healthy receiver must get every event before any attempt to the stuck endpoint can have
//! ended: anything that waited for a stuck attempt (a slot, a claim, a batch) would arrive at
//! least `hold` after the first write, since no stuck attempt started before it.

use crate::both_stores;
use crate::common::receiver::Receiver;
use crate::common::{StoreKind, TestApp};
use reqwest::StatusCode;
use scaivault::domain::duration::ApiDuration;
use serde_json::json;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "whsec_isolation_0123456789";

/// The attempt timeout. Healthy deliveries normally all arrive well under a second after the
/// first write; the margin is for a loaded machine. A passing run does not wait for it.
const TIMEOUT_SECS: u64 = 6;

both_stores!(
    slow_endpoint_does_not_delay_others,
    dead_endpoint_does_not_delay_others
);

/// A receiver that answers 200 one second before the attempt timeout: slow, yet successful.
async fn slow_endpoint_does_not_delay_others(kind: StoreKind) {
    let app = spawn(kind).await;
    let hold = Duration::from_secs(TIMEOUT_SECS - 1);
    let slow = Receiver::start(SECRET).await;
    slow.set_delay(Some(hold));
    let seen = slow.clone();
    assert_isolated(&app, &slow.url, hold, move || seen.received().len()).await;
}

/// A port that accepts TCP connections and never reads or answers: every attempt times out.
async fn dead_endpoint_does_not_delay_others(kind: StoreKind) {
    let app = spawn(kind).await;
    let pit = Tarpit::start().await;
    let accepted = pit.accepted.clone();
    assert_isolated(
        &app,
        &pit.url,
        Duration::from_secs(TIMEOUT_SECS),
        move || accepted.load(Ordering::SeqCst),
    )
    .await;
}

async fn spawn(kind: StoreKind) -> TestApp {
    TestApp::spawn_with(kind, |c| {
        c.webhook_timeout =
            ApiDuration::parse(&format!("{TIMEOUT_SECS}s")).expect("timeout duration");
    })
    .await
}

async fn hook(app: &TestApp, name: &str, url: &str) {
    let r = app
        .post(
            "/v1/webhooks",
            &json!({"name": name, "url": url, "secret": SECRET, "events": ["*"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

/// Writes more secrets than there are delivery slots, each routed to both the stuck endpoint
/// and a healthy receiver, and asserts the healthy one gets them all before `hold` (the least
/// time any attempt to the stuck endpoint takes) has passed since the first write.
async fn assert_isolated(
    app: &TestApp,
    stuck_url: &str,
    hold: Duration,
    stuck_requests: impl Fn() -> usize,
) {
    let slots = app.state.config.webhook_concurrency;
    let n = 2 * slots + 8;
    // The stuck webhook first: its deliveries are created (and due) ahead of the healthy ones.
    hook(app, "stuck", stuck_url).await;
    let healthy = Receiver::start(SECRET).await;
    hook(app, "healthy", &healthy.url).await;

    let started = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(8) {
        futures_util::future::join_all(chunk.iter().map(|i| async move {
            app.put_secret(&format!("iso/s{i:03}"), json!({"i": i}))
                .await
        }))
        .await;
    }
    let written = started.elapsed();

    // Poll (bounded) until the healthy receiver has every event. The deadline is far past
    // `hold` so that a failing run still reports how long the healthy deliveries took.
    let deadline = started + 3 * hold + Duration::from_secs(10);
    let (got, took, stuck_seen) = loop {
        let got = healthy.received();
        let distinct: HashSet<&str> = got.iter().map(|r| r.event_id.as_str()).collect();
        if distinct.len() >= n {
            break (got, started.elapsed(), stuck_requests());
        }
        assert!(
            Instant::now() < deadline,
            "the healthy receiver got {} of {n} events in {:?}",
            distinct.len(),
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };

    eprintln!(
        "{:?}: {n} events, writes took {written:?}, all at the healthy receiver after {took:?}; \
         {stuck_seen} requests reached the stuck endpoint; its attempts take {hold:?}",
        app.kind
    );

    // What arrived is right: every secret's creation (and nothing else), signed.
    let paths: HashSet<String> = got
        .iter()
        .filter_map(|r| r.body["path"].as_str().map(str::to_string))
        .collect();
    let want: HashSet<String> = (0..n).map(|i| format!("iso/s{i:03}")).collect();
    assert_eq!(paths, want, "the healthy receiver got other events");
    assert!(
        got.iter().all(|r| r.signature_ok),
        "a bad signature arrived"
    );
    assert!(got.iter().all(|r| r.event_type == "secret.created"));

    // The scenario really happened: attempts to the stuck endpoint were in flight.
    assert!(
        stuck_seen > 0,
        "no attempt reached the stuck endpoint (the test proves nothing)"
    );

    // The claim: nothing to the healthy receiver waited for a stuck attempt.
    assert!(
        took < hold,
        "the healthy receiver got all {n} events only {took:?} after the first write \
         (writes took {written:?}); {stuck_seen} requests had reached the stuck endpoint \
         ({slots} delivery slots), whose attempts end {hold:?} after they start, so healthy \
         deliveries waited for the stuck endpoint"
    );
}

/// Accepts TCP connections and holds them without reading or answering.
struct Tarpit {
    url: String,
    accepted: Arc<AtomicUsize>,
}

impl Tarpit {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind tarpit");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let accepted = Arc::new(AtomicUsize::new(0));
        let held = Arc::new(Mutex::new(Vec::new()));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                held.lock().unwrap().push(sock);
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        Self { url, accepted }
    }
}
