//! A real HTTP webhook receiver on 127.0.0.1:0: verifies every signature with the SPEC
//! algorithm, records what arrived, and answers with a scripted sequence of statuses (optionally
//! after a delay, to play a slow endpoint).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub event_id: String,
    pub event_type: String,
    pub delivery_id: String,
    pub timestamp: i64,
    pub signature_ok: bool,
    pub user_agent: String,
    pub body: Value,
    /// When the request arrived (before any configured delay).
    pub at: Instant,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    script: VecDeque<(u16, Option<String>)>,
    /// How long to wait before answering each request (recorded on arrival).
    delay: Option<Duration>,
}

/// The receiver handle a test holds.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    secret: Arc<Vec<u8>>,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    /// Starts a receiver that verifies with `secret`.
    pub async fn start(secret: &str) -> Self {
        Self::start_on(0, secret).await
    }

    /// Starts a receiver on a given port (0 = any).
    pub async fn start_on(port: u16, secret: &str) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let r = Self {
            url,
            secret: Arc::new(secret.as_bytes().to_vec()),
            inner: Arc::new(Mutex::new(Inner::default())),
        };
        let app = Router::new()
            .route("/hook", post(handle))
            .with_state(r.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        r
    }

    /// Queues answers: each request takes the next (status, Retry-After); then 200.
    pub fn script(&self, answers: &[(u16, Option<&str>)]) {
        let mut i = self.inner.lock().unwrap();
        i.script = answers
            .iter()
            .map(|(s, h)| (*s, h.map(str::to_string)))
            .collect();
    }

    /// Answers every later request only after `delay` (None: at once). The request is recorded
    /// when it arrives, before the wait.
    pub fn set_delay(&self, delay: Option<Duration>) {
        self.inner.lock().unwrap().delay = delay;
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Waits (polling, bounded) until `pred` holds over what arrived.
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.received();
            if pred(&got) {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; got {got:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn verify(secret: &[u8], ts: &str, body: &[u8], sig: &str) -> bool {
    let Some(hex_sig) = sig.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_sig) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("hmac");
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

async fn handle(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let ts = h("x-scaivault-timestamp");
    let rec = Received {
        event_id: h("x-scaivault-event-id"),
        event_type: h("x-scaivault-event-type"),
        delivery_id: h("x-scaivault-delivery-id"),
        timestamp: ts.parse().unwrap_or(0),
        signature_ok: verify(&r.secret, &ts, &body, &h("x-scaivault-signature")),
        user_agent: h("user-agent"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        at: Instant::now(),
    };
    let (status, retry_after, delay) = {
        let mut inner = r.inner.lock().unwrap();
        inner.received.push(rec);
        let (status, retry_after) = inner.script.pop_front().unwrap_or((200, None));
        (status, retry_after, inner.delay)
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let mut res = StatusCode::from_u16(status)
        .unwrap_or(StatusCode::OK)
        .into_response();
    if let Some(ra) = retry_after {
        res.headers_mut().insert("retry-after", ra.parse().unwrap());
    }
    res
}
