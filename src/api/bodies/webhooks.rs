//! `/v1/webhooks` and `/v1/events` bodies (SPEC §5, §6). The signing secret is never shown.

use super::common::{EventTypeName, SecretTypeName};
use serde::Serialize;
use utoipa::ToSchema;

/// Routing filters of a webhook.
#[derive(Serialize, ToSchema)]
pub struct WebhookFilters {
    pub path_prefix: Option<String>,
    pub secret_type: Option<SecretTypeName>,
    pub tags: Option<Vec<String>>,
}

/// `POST /v1/webhooks` body.
#[derive(Serialize, ToSchema)]
pub struct WebhookCreate {
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub name: String,
    /// `https://` (or `http://` when allowed by configuration).
    #[schema(
        pattern = "^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~-]*)*$",
        max_length = 2048
    )]
    pub url: String,
    /// The HMAC signing secret, 16 to 512 bytes.
    #[schema(min_length = 16, max_length = 512)]
    pub secret: String,
    /// Event types, or `*` for all.
    #[schema(min_items = 1)]
    pub events: Vec<EventTypeName>,
    #[schema(max_length = 1024)]
    pub description: Option<String>,
    pub filters: Option<WebhookFilters>,
    pub enabled: Option<bool>,
}

/// `PATCH /v1/webhooks/{id}` body: any field of a create; a new `secret` rotates the signing
/// secret, the previous one staying valid for `previous_secret_ttl`.
#[derive(Serialize, ToSchema)]
pub struct WebhookPatch {
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub name: Option<String>,
    #[schema(
        pattern = "^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~-]*)*$",
        max_length = 2048
    )]
    pub url: Option<String>,
    #[schema(min_length = 16, max_length = 512)]
    pub secret: Option<String>,
    /// A duration such as `24h`.
    #[schema(example = "24h", pattern = "^[1-9][0-9]{0,4}[smhdw]$")]
    pub previous_secret_ttl: Option<String>,
    #[schema(min_items = 1)]
    pub events: Option<Vec<EventTypeName>>,
    #[schema(max_length = 1024)]
    pub description: Option<String>,
    pub filters: Option<WebhookFilters>,
    pub enabled: Option<bool>,
}

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
    pub status: WebhookStatus,
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
    pub status: DeliveryStatus,
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
    pub events: Vec<Event>,
    pub cursor: Option<String>,
}
