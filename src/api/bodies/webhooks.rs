//! `/v1/webhooks` and `/v1/events` response bodies (SPEC §5, §6), built from stored rows. The
//! signing secret is never shown. The request bodies are in `webhook_requests`.

use super::common::{opt_ts, ts};
use crate::clock::{from_micros, rfc3339_micros};
use crate::store::{DeliveryRow, WebhookRow};
use serde::Serialize;
use utoipa::ToSchema;

pub use super::webhook_requests::*;

/// A webhook as shown.
#[derive(Serialize, ToSchema)]
pub struct Webhook {
    pub id: String,
    pub name: String,
    pub url: String,
    pub description: Option<String>,
    pub events: Vec<String>,
    pub filters: WebhookFilters,
    pub enabled: bool,
    #[schema(value_type = WebhookStatus)]
    pub status: String,
    pub disabled_reason: Option<String>,
    /// Until when the previous signing secret still signs (after a rotation).
    pub previous_secret_expires_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// Health of a webhook.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookStatus {
    Healthy,
    Failing,
    Disabled,
}

/// `GET /v1/webhooks/{id}`: the webhook with its delivery statistics.
#[derive(Serialize, ToSchema)]
pub struct WebhookDetail {
    #[serde(flatten)]
    pub webhook: Webhook,
    pub statistics: WebhookStatistics,
    pub last_delivery: Option<Delivery>,
}

/// Deliveries of the last 24 hours.
#[derive(Serialize, ToSchema)]
pub struct WebhookStatistics {
    pub deliveries_24h: i64,
    pub success_rate_24h: Option<f64>,
    pub avg_latency_ms: Option<f64>,
}

/// `GET /v1/webhooks`.
#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<Webhook>,
    pub has_more: bool,
    pub cursor: Option<String>,
}

/// One delivery of an event to a webhook.
#[derive(Serialize, ToSchema)]
pub struct Delivery {
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: String,
    pub timestamp: String,
    #[schema(value_type = DeliveryStatus)]
    pub status: String,
    pub attempts: i64,
    pub response_code: Option<i64>,
    pub duration_ms: Option<i64>,
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
}

/// State of a delivery.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Success,
    Failed,
    Cancelled,
}

/// `GET /v1/webhooks/{id}/deliveries`.
#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<Delivery>,
    pub has_more: bool,
    pub cursor: Option<String>,
}

/// `POST /v1/webhooks/{id}/test`: the outcome of one synchronous attempt.
#[derive(Serialize, ToSchema)]
pub struct TestDelivery {
    pub delivery_id: String,
    /// `success` or `failed`.
    pub status: String,
    pub response_code: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<String>,
}

/// `POST …/redeliver`: the new delivery of the same event.
#[derive(Serialize, ToSchema)]
pub struct Redelivery {
    pub delivery_id: String,
    pub event_id: String,
}

/// An event envelope (also the body of a webhook request).
#[derive(Serialize, ToSchema)]
pub struct Event {
    pub event_id: String,
    pub event_type: String,
    pub timestamp: String,
    pub tenant_id: String,
    pub identity_id: Option<String>,
    /// Present for every secret and rotation event.
    pub path: Option<String>,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// Null for scheduled work.
    pub request_id: Option<String>,
}

/// `GET /v1/events`: events after `after`, and the cursor to resume from.
#[derive(Serialize, ToSchema)]
pub struct EventFeed {
    /// Each rendered by `delivery::envelope`, byte for byte what a webhook receives.
    #[schema(value_type = Vec<Event>)]
    pub events: Vec<serde_json::Value>,
    pub cursor: Option<String>,
}

impl From<&WebhookRow> for Webhook {
    /// A webhook as shown (never its signing secret).
    fn from(w: &WebhookRow) -> Self {
        Webhook {
            id: w.id.clone(),
            name: w.name.clone(),
            url: w.url.clone(),
            description: w.description.clone(),
            events: serde_json::from_str(&w.events).unwrap_or_default(),
            filters: WebhookFilters {
                path_prefix: w.filter_path_prefix.clone().into(),
                secret_type: w.filter_secret_type.clone().into(),
                tags: serde_json::from_str(&w.filter_tags).ok(),
            },
            enabled: w.enabled,
            status: if !w.enabled {
                "disabled".into()
            } else {
                w.status.as_str().to_string()
            },
            disabled_reason: w.disabled_reason.clone(),
            previous_secret_expires_at: opt_ts(
                w.prev_secret_until
                    .filter(|_| w.prev_secret_ciphertext.is_some()),
            ),
            created_at: ts(w.created_at),
            updated_at: ts(w.updated_at),
        }
    }
}

impl From<&DeliveryRow> for Delivery {
    fn from(d: &DeliveryRow) -> Self {
        Delivery {
            id: d.id.clone(),
            webhook_id: d.webhook_id.clone(),
            event_id: d.event_id.clone(),
            event_type: d.event_type.clone(),
            timestamp: rfc3339_micros(from_micros(d.created_at)),
            status: d.status.as_str().to_string(),
            attempts: d.attempts,
            response_code: d.response_code,
            duration_ms: d.duration_ms,
            next_attempt_at: (d.status == crate::store::DeliveryStatus::Pending)
                .then(|| ts(d.next_attempt_at)),
            last_error: d.last_error.clone(),
        }
    }
}
