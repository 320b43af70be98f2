//! A minimal webhook receiver for benchmarks (the deliveries rows of bench/run.sh).
//! `cargo run --release --example webhook_sink -- PORT SECRET [hold]`
//!
//! - `POST /hook`: verifies `X-ScaiVault-Signature` (HMAC-SHA256 with SECRET over
//!   `"{X-ScaiVault-Timestamp}." ‖ body`, SPEC §5), counts it as ok or bad, answers 200.
//! - `GET /count`: `{"ok","bad","distinct","first_us","last_us","p50_ms","p99_ms"}`: requests
//!   with a good / bad signature, distinct `X-ScaiVault-Delivery-Id`s, the Unix time in
//!   microseconds of the first and last request, and the event-to-receipt latency percentiles
//!   (receipt time minus the envelope's `timestamp`).
//! - With `hold`, every `POST /hook` waits (its connection open, unanswered) until
//!   `POST /release`; then all are answered and later ones are not held. Receipt times are taken
//!   after the wait, so a backlog queued behind held requests can be timed from the release.
//!
//! Listens on 127.0.0.1 only (PORT 0: any free port); prints `listening on 127.0.0.1:PORT`
//! once bound.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

#[derive(Default)]
struct Counts {
    ok: u64,
    bad: u64,
    delivery_ids: HashSet<String>,
    first_us: Option<i64>,
    last_us: Option<i64>,
    /// Receipt time minus event time, in microseconds, one per request.
    latencies_us: Vec<i64>,
}

struct Sink {
    secret: Vec<u8>,
    counts: Mutex<Counts>,
    /// true once requests may be answered (always, without `hold`).
    open: watch::Sender<bool>,
}

fn verify(secret: &[u8], ts: &str, body: &[u8], sig: &str) -> bool {
    let Some(expected) = sig
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The envelope's `timestamp` (RFC 3339) in Unix microseconds.
fn event_time_us(body: &[u8]) -> Option<i64> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let t = chrono::DateTime::parse_from_rfc3339(v["timestamp"].as_str()?).ok()?;
    Some(t.timestamp_micros())
}

async fn hook(State(s): State<Arc<Sink>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    // Fails only if the sender is gone, which it never is (the Sink owns it).
    let _ = s.open.subscribe().wait_for(|open| *open).await;
    let now_us = chrono::Utc::now().timestamp_micros();
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let ok = verify(
        &s.secret,
        h("x-scaivault-timestamp"),
        &body,
        h("x-scaivault-signature"),
    );
    let latency = event_time_us(&body).map(|t| now_us - t);
    let delivery_id = h("x-scaivault-delivery-id").to_string();
    let mut c = s.counts.lock().unwrap_or_else(|e| e.into_inner());
    if ok {
        c.ok += 1;
    } else {
        c.bad += 1;
    }
    c.delivery_ids.insert(delivery_id);
    c.first_us.get_or_insert(now_us);
    c.last_us = Some(now_us);
    if let Some(l) = latency {
        c.latencies_us.push(l);
    }
    StatusCode::OK
}

async fn count(State(s): State<Arc<Sink>>) -> Json<Value> {
    let c = s.counts.lock().unwrap_or_else(|e| e.into_inner());
    let mut lat = c.latencies_us.clone();
    let (ok, bad, distinct, first, last) =
        (c.ok, c.bad, c.delivery_ids.len(), c.first_us, c.last_us);
    drop(c);
    lat.sort_unstable();
    let pct = |p: f64| -> Value {
        if lat.is_empty() {
            return Value::Null;
        }
        let i = ((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1;
        json!(lat[i] as f64 / 1000.0)
    };
    Json(json!({
        "ok": ok,
        "bad": bad,
        "distinct": distinct,
        "first_us": first,
        "last_us": last,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }))
}

async fn release(State(s): State<Arc<Sink>>) -> StatusCode {
    s.open.send_replace(true);
    StatusCode::OK
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(port), Some(secret)) = (args.next(), args.next()) else {
        eprintln!("usage: webhook_sink PORT SECRET [hold]");
        std::process::exit(2);
    };
    let port: u16 = port.parse().unwrap_or_else(|_| {
        eprintln!("PORT must be a number");
        std::process::exit(2)
    });
    let hold = match args.next().as_deref() {
        None => false,
        Some("hold") => true,
        Some(_) => {
            eprintln!("usage: webhook_sink PORT SECRET [hold]");
            std::process::exit(2);
        }
    };
    let sink = Arc::new(Sink {
        secret: secret.into_bytes(),
        counts: Mutex::new(Counts::default()),
        open: watch::Sender::new(!hold),
    });
    let app = Router::new()
        .route("/hook", post(hook))
        .route("/count", get(count))
        .route("/release", post(release))
        .with_state(sink);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await
}
