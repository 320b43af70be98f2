//! Webhook deliveries per second: K queued deliveries of signed events to a local receiver
//! that verifies every signature. `cargo run --release --example delivery_bench -- URL [K]`
//! (bench/delivery.sh runs both stores).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use hmac::{Hmac, Mac};
use scaivault::clock::{to_micros, SystemClock};
use scaivault::config::Config;
use secrecy::SecretString;
use sha2::Sha256;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "whsec_delivery_bench_0123456789";

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    bad: AtomicU64,
}

async fn sink(State(c): State<Arc<Counts>>, headers: HeaderMap, body: Bytes) -> &'static str {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let sig = h("x-scaivault-signature")
        .strip_prefix("sha256=")
        .unwrap_or("");
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("hmac");
    mac.update(h("x-scaivault-timestamp").as_bytes());
    mac.update(b".");
    mac.update(&body);
    let good = hex::decode(sig).is_ok_and(|s| mac.verify_slice(&s).is_ok());
    if good { &c.ok } else { &c.bad }.fetch_add(1, Ordering::Relaxed);
    "ok"
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sqlite:///tmp/scaivault-delivery-bench.db".into());
    let k: i64 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let counts = Arc::new(Counts::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sink_url = format!("http://{}/hook", listener.local_addr()?);
    let router = axum::Router::new()
        .route("/hook", post(sink))
        .with_state(counts.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let mut config = Config::with_database(&url);
    let (_, key) = scaivault::crypto::MasterKey::generate();
    config.master_key = Some(SecretString::from(key.to_string()));
    let token = "skt_delivery_bench_token_0123456789".to_string();
    config.root_token = Some(SecretString::from(token.clone()));
    config.webhook_allow_http = true;
    config.data_dir = std::env::temp_dir();
    let app = scaivault::App::build(config, Arc::new(SystemClock)).await?;
    let st = app.state.clone();
    let api = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", api.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // The worker starts with the server; deliveries are queued below, then it is woken.
    let server = tokio::spawn(app.serve(api, async move {
        let _ = stop_rx.await;
    }));
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/webhooks"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "sink", "url": sink_url, "secret": SECRET, "events": ["*"]}))
        .send()
        .await?;
    let hook: serde_json::Value = r.json().await?;
    let hook_id = hook["id"].as_str().unwrap_or_default().to_string();

    // Queue K events with one delivery each, in the outbox tables (as writes would).
    let now = chrono::Utc::now();
    let mut i = 0;
    while i < k {
        let end = (i + 500).min(k);
        let mut tx = st.store.begin().await?;
        tx.lock_event_sequence().await?;
        for n in i..end {
            let event = scaivault::domain::events::NewEvent {
                tenant_id: "tnt_default".into(),
                event_type: scaivault::domain::events::SECRET_UPDATED,
                identity_id: Some("user:bench".into()),
                path: Some(format!("bench/{n}")),
                data: serde_json::json!({"old_version": 1, "new_version": 2, "updated_by": "user:bench", "is_rotation": false}),
                request_id: None,
                secret_type: Some("json".into()),
                tags: Vec::new(),
                policy_webhook_ids: Vec::new(),
            }
            .to_row(now);
            tx.insert_event(&event).await?;
            let mut d = scaivault::domain::outbox::new_delivery(&event, &hook_id, now);
            d.next_attempt_at = to_micros(now);
            tx.insert_delivery(&d).await?;
        }
        tx.commit().await?;
        i = end;
    }
    let started = Instant::now();
    st.bus.deliveries.notify_one();
    let deadline = started + Duration::from_secs(300);
    while (counts.ok.load(Ordering::Relaxed) as i64) < k && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let ok = counts.ok.load(Ordering::Relaxed);
    println!(
        "RESULT store={} deliveries={ok} bad_signatures={} seconds={secs:.2} deliveries_per_s={:.0}",
        st.store.backend().as_str(),
        counts.bad.load(Ordering::Relaxed),
        ok as f64 / secs
    );
    let _ = stop_tx.send(());
    let _ = server.await;
    Ok(())
}
