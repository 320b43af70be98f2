//! One delivery attempt: sign with a fresh timestamp, POST, classify the answer.

use super::signer::signature;
use super::target::{host_ip, is_target_denied, CONNECTION_FAILED, TARGET_DENIED};
use crate::crypto::envelope::{open, Sealed};
use crate::crypto::KeyRing;
use crate::store::{EventRow, WebhookRow};
use chrono::{DateTime, Utc};
use std::time::Instant;
use zeroize::Zeroizing;

/// How one attempt ended.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub success: bool,
    pub response_code: Option<u16>,
    pub duration_ms: i64,
    pub error: Option<String>,
    /// Seconds from a `Retry-After` on 429/503 (either form, see `retry_after`).
    pub retry_after: Option<u64>,
    /// The endpoint answered 410 Gone.
    pub gone: bool,
}

pub use crate::crypto::binding::webhook_binding;

/// Opens the webhook's current signing secret.
pub fn signing_secret(keys: &KeyRing, w: &WebhookRow) -> Option<Zeroizing<Vec<u8>>> {
    let sealed = Sealed {
        ciphertext: w.secret_ciphertext.clone(),
        wrapped_key: w.secret_wrapped_key.clone(),
        key_id: w.secret_key_id.clone(),
    };
    open(keys, &webhook_binding(&w.tenant_id, &w.id), &sealed).ok()
}

/// Opens the previous signing secret while its overlap window lasts.
fn previous_secret(keys: &KeyRing, w: &WebhookRow, now_us: i64) -> Option<Zeroizing<Vec<u8>>> {
    if w.prev_secret_until.is_none_or(|u| u <= now_us) {
        return None;
    }
    let sealed = Sealed {
        ciphertext: w.prev_secret_ciphertext.clone()?,
        wrapped_key: w.prev_secret_wrapped_key.clone()?,
        key_id: w.prev_secret_key_id.clone()?,
    };
    let mut binding = webhook_binding(&w.tenant_id, &w.id);
    binding.extend_from_slice(b"\0previous");
    open(keys, &binding, &sealed).ok()
}

/// Sends `event` (already rendered as `body`) to `w` once.
pub async fn send(
    st: &crate::server::AppState,
    w: &WebhookRow,
    event: &EventRow,
    body: &[u8],
    delivery_id: &str,
    now: DateTime<Utc>,
) -> AttemptResult {
    let (http, keys) = (&st.http, &*st.keys);
    let started = Instant::now();
    let fail = |msg: String| AttemptResult {
        success: false,
        response_code: None,
        duration_ms: elapsed_ms(started),
        error: Some(msg),
        retry_after: None,
        gone: false,
    };
    if keys.get(&w.secret_key_id).is_none() {
        // Sealed under a key version rotated in by another process: load it.
        if let Err(e) = crate::domain::master_keys::refresh(st.store.as_ref(), keys).await {
            tracing::warn!(error.cause = %e, "could not load the master key versions");
        }
    }
    let Some(secret) = signing_secret(keys, w) else {
        return fail("the webhook's signing secret could not be decrypted".into());
    };
    // An IP-literal host never reaches the resolver: check it here, before any connection.
    if let Some(ip) = reqwest::Url::parse(&w.url).ok().as_ref().and_then(host_ip) {
        if !st.config.webhook_targets().permits(ip) {
            return fail(TARGET_DENIED.into());
        }
    }
    // Fresh timestamp per attempt (wall clock: receivers compare it with theirs).
    let ts = Utc::now().timestamp();
    let mut req = http
        .post(&w.url)
        .header("content-type", "application/json")
        .header("x-scaivault-event-id", &event.id)
        .header("x-scaivault-event-type", &event.event_type)
        .header("x-scaivault-timestamp", ts.to_string())
        .header("x-scaivault-signature", signature(&secret, ts, body))
        .header("x-scaivault-delivery-id", delivery_id)
        .body(body.to_vec());
    if let Some(prev) = previous_secret(keys, w, crate::clock::to_micros(now)) {
        req = req.header("x-scaivault-signature-previous", signature(&prev, ts, body));
    }
    match req.send().await {
        Ok(res) => {
            let code = res.status().as_u16();
            let retry_after = if code == 429 || code == 503 {
                let header = |name: &str| res.headers().get(name).and_then(|v| v.to_str().ok());
                super::retry_after::seconds(
                    header("retry-after"),
                    header("date"),
                    std::time::SystemTime::now(),
                )
            } else {
                None
            };
            let success = res.status().is_success();
            AttemptResult {
                success,
                response_code: Some(code),
                duration_ms: elapsed_ms(started),
                error: (!success).then(|| format!("endpoint answered HTTP {code}")),
                retry_after,
                gone: code == 410,
            }
        }
        Err(e) => fail(describe(e, &w.id, delivery_id)),
    }
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// The attempt's error as reported: `target_denied` when the resolver refused the target (no
/// connection was made), else `connection_failed` whatever the cause, so that the answer cannot
/// tell a closed port from an open one (SPEC §5a). The cause is logged, without the URL (whose
/// query could carry a credential).
fn describe(e: reqwest::Error, webhook_id: &str, delivery_id: &str) -> String {
    let e = e.without_url();
    let code = if is_target_denied(&e) {
        TARGET_DENIED
    } else {
        CONNECTION_FAILED
    };
    let mut cause = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        cause.push_str(": ");
        cause.push_str(&s.to_string());
        src = s.source();
    }
    tracing::info!(
        webhook.id = %webhook_id,
        delivery.id = %delivery_id,
        error.code = code,
        error.cause = %cause,
        "webhook attempt failed before any response"
    );
    code.into()
}
