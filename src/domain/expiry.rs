//! Expiry notices (SPEC §6): `secret.expiring` at each `notify_before` threshold before
//! `expires_at`, and `secret.expired` at `expires_at`; each sent once.

use super::events::{self as ev, NewEvent};
use crate::clock::{from_micros, rfc3339, to_micros};
use crate::store::{ExpiryRow, SecretRow, StoreResult, StoreTx};
use chrono::{DateTime, Utc};
use serde_json::json;

fn thresholds(notify_before: &str) -> Vec<(i64, String)> {
    if notify_before.trim().is_empty() {
        return Vec::new();
    }
    super::duration::parse_list(notify_before)
        .map(|l| {
            l.iter()
                .map(|d| (d.seconds(), d.as_str().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn next_event_at(e: &ExpiryRow) -> Option<i64> {
    let sent: Vec<i64> = serde_json::from_str(&e.notices_sent).unwrap_or_default();
    let notices = thresholds(&e.notify_before)
        .into_iter()
        .filter(|(s, _)| !sent.contains(s))
        .map(|(s, _)| e.expires_at - s * 1_000_000);
    let expired = (!e.expired_sent).then_some(e.expires_at);
    notices.chain(expired).min()
}

/// Keeps the secret's expiry row in step with its `expires_at`/`notify_before` (call after a
/// write or a metadata change). Thresholds already past when set are skipped.
pub async fn sync(tx: &mut dyn StoreTx, secret: &SecretRow, now: DateTime<Utc>) -> StoreResult<()> {
    let Some(expires_at) = secret.expires_at else {
        return tx.delete_expiry(&secret.id).await;
    };
    let notify = secret.notify_before.clone().unwrap_or_default();
    if let Some(cur) = tx.get_expiry(&secret.id).await? {
        if cur.expires_at == expires_at && cur.notify_before == notify {
            return Ok(());
        }
    }
    let now_us = to_micros(now);
    let skipped: Vec<i64> = thresholds(&notify)
        .into_iter()
        .filter(|(s, _)| expires_at - s * 1_000_000 <= now_us)
        .map(|(s, _)| s)
        .collect();
    let mut row = ExpiryRow {
        secret_id: secret.id.clone(),
        tenant_id: secret.tenant_id.clone(),
        expires_at,
        notify_before: notify,
        notices_sent: serde_json::to_string(&skipped).unwrap_or_else(|_| "[]".into()),
        expired_sent: false,
        next_event_at: None,
    };
    row.next_event_at = next_event_at(&row);
    tx.upsert_expiry(&row).await
}

/// Sends what is due for one claimed row; returns how many events it emitted.
pub async fn step(
    tx: &mut dyn StoreTx,
    e: &mut ExpiryRow,
    secret: &SecretRow,
    now: DateTime<Utc>,
) -> StoreResult<usize> {
    let now_us = to_micros(now);
    let mut sent: Vec<i64> = serde_json::from_str(&e.notices_sent).unwrap_or_default();
    let mut events = Vec::new();
    let event = |kind: &'static str, data: serde_json::Value| NewEvent {
        tenant_id: secret.tenant_id.clone(),
        event_type: kind,
        identity_id: Some(super::rotation::SCHEDULER_IDENTITY.to_string()),
        path: Some(secret.path.clone()),
        data,
        request_id: None,
        secret_type: Some(secret.secret_type),
        tags: serde_json::from_str(&secret.tags).unwrap_or_default(),
        policy_webhook_ids: Vec::new(),
    };
    let expires = rfc3339(from_micros(e.expires_at));
    if now_us < e.expires_at {
        for (secs, text) in thresholds(&e.notify_before) {
            if e.expires_at - secs * 1_000_000 <= now_us && !sent.contains(&secs) {
                sent.push(secs);
                let days = (e.expires_at - now_us) / 86_400_000_000;
                events.push(event(
                    ev::SECRET_EXPIRING,
                    json!({ "expires_at": expires, "days_remaining": days, "threshold": text }),
                ));
            }
        }
    } else if !e.expired_sent {
        e.expired_sent = true;
        for (secs, _) in thresholds(&e.notify_before) {
            if !sent.contains(&secs) {
                sent.push(secs);
            }
        }
        events.push(event(ev::SECRET_EXPIRED, json!({ "expires_at": expires })));
    }
    e.notices_sent = serde_json::to_string(&sent).unwrap_or_else(|_| "[]".into());
    e.next_event_at = next_event_at(e);
    tx.upsert_expiry(e).await?;
    super::outbox::emit(tx, &events, now).await?;
    Ok(events.len())
}
