//! Event types and the event envelope (SPEC §6), and webhook routing rules (SPEC §5).

use crate::clock::{from_micros, rfc3339_micros, to_micros};
use crate::store::{EventRow, WebhookRow};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

pub const SECRET_CREATED: &str = "secret.created";
pub const SECRET_UPDATED: &str = "secret.updated";
pub const SECRET_DELETED: &str = "secret.deleted";
pub const SECRET_RESTORED: &str = "secret.restored";
pub const SECRET_ROTATED: &str = "secret.rotated";
pub const SECRET_EXPIRING: &str = "secret.expiring";
pub const SECRET_EXPIRED: &str = "secret.expired";
pub const ROTATION_DUE: &str = "rotation.due";
pub const ROTATION_OVERDUE: &str = "rotation.overdue";
pub const ROTATION_COMPLETED: &str = "rotation.completed";
pub const ROTATION_FAILED: &str = "rotation.failed";
pub const WEBHOOK_TEST: &str = "webhook.test";
/// A read of a secret flagged `alert_on_read` (SPEC §11).
pub const SECRET_ACCESSED: &str = "secret.accessed";
/// A superseded version's grace period ended, with who still read it (SPEC §11).
pub const ROTATION_GRACE_ENDED: &str = "rotation.grace_ended";

/// Every event type a webhook can subscribe to.
pub const ALL_TYPES: [&str; 14] = [
    SECRET_CREATED,
    SECRET_UPDATED,
    SECRET_DELETED,
    SECRET_RESTORED,
    SECRET_ROTATED,
    SECRET_EXPIRING,
    SECRET_EXPIRED,
    ROTATION_DUE,
    ROTATION_OVERDUE,
    ROTATION_COMPLETED,
    ROTATION_FAILED,
    WEBHOOK_TEST,
    SECRET_ACCESSED,
    ROTATION_GRACE_ENDED,
];

/// A new event id: `evt_` + ULID, so ids sort by creation time.
pub fn new_event_id(now: DateTime<Utc>) -> String {
    let ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    let ulid = ulid::Ulid::from_parts(ms, rand_u128());
    format!("evt_{ulid}")
}

/// A time-sortable id with another prefix (deliveries list newest first by id).
pub fn new_sortable_id(prefix: &str, now: DateTime<Utc>) -> String {
    let ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    format!("{prefix}{}", ulid::Ulid::from_parts(ms, rand_u128()))
}

fn rand_u128() -> u128 {
    let b = super::ids::random_bytes(16);
    let mut a = [0u8; 16];
    a.copy_from_slice(&b);
    u128::from_be_bytes(a)
}

/// What an event is about, before it is stored.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub tenant_id: String,
    pub event_type: &'static str,
    pub identity_id: Option<String>,
    pub path: Option<String>,
    pub data: Value,
    pub request_id: Option<String>,
    /// For routing: the secret's type and tags, and its rotation policy's webhooks.
    pub secret_type: Option<super::secret::SecretType>,
    pub tags: Vec<String>,
    pub policy_webhook_ids: Vec<String>,
}

impl NewEvent {
    /// The row to store, stamped with `now` and a fresh id.
    pub fn to_row(&self, now: DateTime<Utc>) -> EventRow {
        EventRow {
            seq: 0,
            id: new_event_id(now),
            tenant_id: self.tenant_id.clone(),
            event_type: self.event_type.to_string(),
            ts: to_micros(now),
            identity_id: self.identity_id.clone(),
            path: self.path.clone(),
            data: self.data.to_string(),
            request_id: self.request_id.clone(),
        }
    }
}

/// The JSON envelope sent to webhooks and returned by the feed.
pub fn envelope(e: &EventRow) -> Value {
    let data: Value = serde_json::from_str(&e.data).unwrap_or(Value::Null);
    json!({
        "event_id": e.id,
        "event_type": e.event_type,
        "timestamp": rfc3339_micros(from_micros(e.ts)),
        "tenant_id": e.tenant_id,
        "identity_id": e.identity_id,
        "path": e.path,
        "data": data,
        "request_id": e.request_id,
    })
}

/// True when `event` should go to webhook `w` (SPEC §5 routing).
pub fn routes_to(w: &WebhookRow, event: &NewEvent) -> bool {
    if !w.enabled {
        return false;
    }
    let by_policy = (event.event_type.starts_with("rotation.")
        || event.event_type == SECRET_ROTATED)
        && event.policy_webhook_ids.iter().any(|id| id == &w.id);
    if by_policy {
        return true;
    }
    let events: Vec<String> = serde_json::from_str(&w.events).unwrap_or_default();
    if !events.iter().any(|t| t == "*" || t == event.event_type) {
        return false;
    }
    if let Some(prefix) = &w.filter_path_prefix {
        if !event
            .path
            .as_deref()
            .is_some_and(|p| p.starts_with(prefix.as_str()))
        {
            return false;
        }
    }
    if let Some(t) = &w.filter_secret_type {
        if event.secret_type.map(|s| s.as_str()) != Some(t.as_str()) {
            return false;
        }
    }
    let tags: Vec<String> = serde_json::from_str(&w.filter_tags).unwrap_or_default();
    if !tags.is_empty() && !tags.iter().any(|t| event.tags.contains(t)) {
        return false;
    }
    true
}
