//! A slow or dead webhook endpoint never delays deliveries to other endpoints.
//!
//! One webhook points at a stuck endpoint (a receiver that answers only after most of the
//! attempt timeout, or a port that accepts TCP and never answers); another at a healthy
//! receiver. More events are written than the worker has delivery slots
//! (`webhook_concurrency`), so the stuck endpoint always has more due deliveries than slots.
//! Every event must reach the healthy receiver promptly after its write: a healthy delivery
//! that waited for a stuck attempt (for its slot, or for a claim or batch held up by it) would
//! wait until that attempt ends, up to `hold` (the least time a stuck attempt takes) after it
//! began. The bound is half of `hold`, measured per event from its write, so a slow machine
//! (slow writes) does not make the test fail, and no fixed sleep is involved.

use crate::both_stores;
use crate::common::receiver::Receiver;
use crate::common::{StoreKind, TestApp};
use reqwest::StatusCode;
use scaivault::domain::duration::ApiDuration;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "whsec_isolation_0123456789";

/// The attempt timeout. A healthy delivery normally arrives a few milliseconds after its write;
/// the margin (half of this) is for a loaded machine. A passing run does not wait for it.
const TIMEOUT_SECS: u64 = 8;

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
/// and a healthy receiver, and asserts the healthy one gets each within `hold / 2` of its write.
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

    // Write, 8 at a time, noting when each write was answered.
    let started = Instant::now();
    let mut written: HashMap<String, Instant> = HashMap::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(8) {
        let done = futures_util::future::join_all(chunk.iter().map(|i| async move {
            let path = format!("iso/s{i:03}");
            app.put_secret(&path, json!({"i": i})).await;
            (path, Instant::now())
        }))
        .await;
        written.extend(done);
    }
    let writes_took = started.elapsed();

    // Poll (bounded) until the healthy receiver has every event. The deadline is far past
    // `hold` so that a failing run still reports how late the healthy deliveries were.
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

    // What arrived is right: every secret's creation (and nothing else), signed.
    let mut arrived: HashMap<String, Instant> = HashMap::new();
    for r in &got {
        assert!(r.signature_ok, "a bad signature arrived: {r:?}");
        assert_eq!(r.event_type, "secret.created", "{r:?}");
        let path = r.body["path"].as_str().expect("path").to_string();
        let at = arrived.entry(path).or_insert(r.at);
        *at = (*at).min(r.at);
    }
    let want: HashSet<&String> = written.keys().collect();
    assert_eq!(
        arrived.keys().collect::<HashSet<_>>(),
        want,
        "the healthy receiver got other events"
    );

    // The scenario really happened: attempts to the stuck endpoint were in flight.
    assert!(
        stuck_seen > 0,
        "no attempt reached the stuck endpoint (the test proves nothing)"
    );

    // The claim: each healthy delivery arrived promptly after its write.
    let (worst_path, worst) = written
        .iter()
        .map(|(p, w)| (p, arrived[p].saturating_duration_since(*w)))
        .max_by_key(|(_, l)| *l)
        .expect("events");
    eprintln!(
        "{:?}: {n} events written in {writes_took:?}, all at the healthy receiver after {took:?}, \
         slowest {worst:?} after its write; {stuck_seen} requests reached the stuck endpoint, \
         whose attempts take {hold:?}",
        app.kind
    );
    assert!(
        worst < hold / 2,
        "{worst_path} reached the healthy receiver {worst:?} after its write (all {n} took \
         {took:?}; writes {writes_took:?}); {stuck_seen} requests had reached the stuck \
         endpoint ({slots} delivery slots), whose attempts take {hold:?}: healthy deliveries \
         waited for the stuck endpoint"
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
