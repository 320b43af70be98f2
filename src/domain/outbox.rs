//! The transactional outbox: an event, one delivery per matching webhook and one queue entry
//! (or delivery) per matching subscription, written in the transaction of the change that
//! caused them. Nothing is sent from here.

use super::events::{new_sortable_id, routes_to, NewEvent};
use super::subscriptions::{Route, POLLING};
use crate::clock::to_micros;
use crate::store::{DeliveryRow, DeliveryStatus, EventRow, StoreResult, StoreTx};
use chrono::{DateTime, Utc};

/// Writes the events and their deliveries; returns the stored rows and the delivery count.
/// Call it last in the transaction: it takes the event-sequence lock until commit.
pub async fn emit(
    tx: &mut dyn StoreTx,
    events: &[NewEvent],
    now: DateTime<Utc>,
) -> StoreResult<(Vec<EventRow>, usize)> {
    if events.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let webhooks = tx.routable_webhooks(&events[0].tenant_id).await?;
    let subscriptions = tx.routable_subscriptions(&events[0].tenant_id).await?;
    let routes: Vec<Route> = subscriptions.iter().map(Route::new).collect();
    let now_us = to_micros(now);
    let mut rows = Vec::with_capacity(events.len());
    let mut deliveries = 0;
    for ev in events {
        let row = ev.to_row(now);
        if rows.is_empty() {
            // Takes the event-sequence lock, held until commit.
            tx.insert_first_event(&row).await?;
        } else {
            tx.insert_event(&row).await?;
        }
        for w in webhooks
            .iter()
            .filter(|w| w.tenant_id == ev.tenant_id && routes_to(w, ev))
        {
            tx.insert_delivery(&new_delivery(&row, &w.id, now)).await?;
            deliveries += 1;
        }
        for r in routes.iter().filter(|r| {
            r.row.tenant_id == ev.tenant_id && r.wants(ev.event_type, ev.path.as_deref(), now_us)
        }) {
            match (&r.row.webhook_id, r.row.delivery_type.as_str()) {
                (_, POLLING) => {
                    tx.enqueue_subscription_event(&r.row.id, &row.id, r.row.buffer_size)
                        .await?;
                }
                (Some(webhook_id), _) => {
                    tx.insert_delivery(&new_delivery(&row, webhook_id, now))
                        .await?;
                    deliveries += 1;
                }
                (None, _) => {}
            }
        }
        rows.push(row);
    }
    Ok((rows, deliveries))
}

/// A pending delivery of `event` to webhook `webhook_id`, due now.
pub fn new_delivery(event: &EventRow, webhook_id: &str, now: DateTime<Utc>) -> DeliveryRow {
    let us = to_micros(now);
    DeliveryRow {
        id: new_sortable_id("del_", now),
        tenant_id: event.tenant_id.clone(),
        webhook_id: webhook_id.to_string(),
        event_id: event.id.clone(),
        event_type: event.event_type.clone(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: us,
        lease_until: None,
        response_code: None,
        duration_ms: None,
        last_error: None,
        created_at: us,
        updated_at: us,
    }
}
