//! What a chaos run sets up on the server before the load starts: the secrets readers read, a
//! webhook for every event pointing at a real receiver (deliveries run all through the run),
//! and an auto-generating rotation policy of seconds over a few secrets (the scheduler rotates
//! them all the time). Plus the small HTTP helper the checks use.

use super::load::READ_PATHS;
use crate::common::receiver::Receiver;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub const HOOK_SECRET: &str = "whsec_chaos_receiver_secret";

/// How many secrets the auto-rotation policy rotates.
pub const ROTATING: usize = 4;

/// One server (or one of several replicas) seen from outside.
#[derive(Clone)]
pub struct Target {
    pub base: String,
    pub token: String,
    pub tag: String,
    client: reqwest::Client,
}

impl Target {
    pub fn new(base: &str, token: &str, tag: &str) -> Target {
        Target {
            base: base.to_string(),
            token: token.to_string(),
            tag: tag.to_string(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
        }
    }

    /// One request; (status, body). A transport error is status 0.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut rb = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        match rb.send().await {
            Ok(r) => {
                let s = r.status().as_u16();
                let bytes = r.bytes().await.unwrap_or_default();
                (s, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
            }
            Err(_) => (0, Value::Null),
        }
    }

    /// Repeats a request until it answers `want` (bounded): set-up and checks run while the
    /// server may still be coming back.
    pub async fn call_until(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        want: u16,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (s, b) = self.call(method.clone(), path, body.clone()).await;
            if s == want {
                return b;
            }
            assert!(
                Instant::now() < deadline,
                "{method} {path} answered {s} (want {want}): {b}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The webhook, the read secrets and the rotating secrets.
    pub async fn prepare(&self, rx: &Receiver) {
        use reqwest::Method as M;
        self.call_until(
            M::POST,
            "/v1/webhooks",
            Some(json!({"name": format!("chaos-{}", self.tag), "url": rx.url,
                        "secret": HOOK_SECRET, "events": ["*"]})),
            201,
        )
        .await;
        for i in 0..READ_PATHS {
            self.call_until(
                M::PUT,
                &format!("/v1/secrets/chaos/{}/read/{i}", self.tag),
                Some(json!({"data": {"i": i}})),
                201,
            )
            .await;
        }
        self.call_until(
            M::POST,
            "/v1/rotation/policies",
            Some(
                json!({"name": format!("chaos-{}", self.tag), "interval": "2s",
                        "grace_period": "1s", "auto_generate": true}),
            ),
            201,
        )
        .await;
        for i in 0..ROTATING {
            self.call_until(
                M::PUT,
                &format!("/v1/secrets/chaos/{}/rot/{i}", self.tag),
                Some(json!({"data": {"pw": "initial"},
                            "options": {"rotation_policy_id": format!("rot_chaos-{}", self.tag)}})),
                201,
            )
            .await;
        }
    }
}

/// The environment every chaos server runs with: fast scheduler, short webhook retries.
pub fn server_env(db: &str, key: &str, root: &str) -> Vec<(String, String)> {
    [
        ("SCAIVAULT_DATABASE_URL", db),
        ("SCAIVAULT_MASTER_KEY", key),
        ("SCAIVAULT_ROOT_TOKEN", root),
        ("SCAIVAULT_WEBHOOK_ALLOW_HTTP", "true"),
        ("SCAIVAULT_WEBHOOK_ALLOW_CIDRS", "127.0.0.0/8"),
        ("SCAIVAULT_SCHEDULER_TICK", "1s"),
        (
            "SCAIVAULT_WEBHOOK_RETRY_SCHEDULE",
            "1s,1s,1s,1s,1s,1s,1s,1s,1s,1s",
        ),
        ("RUST_LOG", "warn"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}
