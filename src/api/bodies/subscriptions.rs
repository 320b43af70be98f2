//! `/v1/subscriptions` response bodies (SPEC §10), built from stored rows. A webhook
//! subscription's signing secret is never shown. The request bodies are in
//! `subscription_requests`.

use super::common::ts;
use crate::domain::subscriptions::POLLING;
use crate::store::SubscriptionRow;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

pub use super::subscription_requests::*;

/// A subscription as shown.
#[derive(Serialize, ToSchema)]
pub struct Subscription {
    pub id: String,
    pub name: String,
    /// `active` or `paused`.
    pub status: String,
    /// Who owns it (the identity of the token that created it).
    pub identity_id: String,
    pub paths: Vec<String>,
    pub events: Vec<String>,
    pub delivery: DeliveryView,
    /// Events dropped because more than `buffer_size` were unacknowledged.
    pub dropped_events: i64,
    /// Unacknowledged events waiting (polling; shown on a single subscription).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_events: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

/// A subscription's delivery as shown.
#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    /// `polling` or `webhook`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buffer_size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Webhook delivery health: `healthy`, `failing` or `disabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl Subscription {
    /// The shown form of `s`; `url` and `health` come from its webhook, if it has one.
    pub fn new(s: &SubscriptionRow, url: Option<String>, health: Option<String>) -> Self {
        let polling = s.delivery_type == POLLING;
        Self {
            id: s.id.clone(),
            name: s.name.clone(),
            status: s.status.clone(),
            identity_id: s.identity_id.clone(),
            paths: serde_json::from_str(&s.paths).unwrap_or_default(),
            events: serde_json::from_str(&s.events).unwrap_or_default(),
            delivery: DeliveryView {
                kind: s.delivery_type.clone(),
                buffer_size: polling.then_some(s.buffer_size),
                url,
                status: health,
            },
            dropped_events: s.dropped_events,
            pending_events: None,
            created_at: ts(s.created_at),
            updated_at: ts(s.updated_at),
        }
    }
}

/// `GET /v1/subscriptions`.
#[derive(Serialize, ToSchema)]
pub struct SubscriptionList {
    pub subscriptions: Vec<Subscription>,
    pub cursor: Option<String>,
    pub has_more: bool,
}

/// `GET /v1/subscriptions/{id}/poll`: the oldest unacknowledged events, in order.
#[derive(Serialize, ToSchema)]
pub struct PollResult {
    /// Event envelopes (SPEC §6).
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<Value>,
    /// More unacknowledged events wait beyond these.
    pub has_more: bool,
}

/// `POST /v1/subscriptions/{id}/ack`.
#[derive(Serialize, ToSchema)]
pub struct AckResult {
    pub acknowledged: u64,
}
