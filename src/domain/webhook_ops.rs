//! Webhook operations: each change is one transaction that writes the webhook, cancels what
//! must not be sent any more, and writes its audit row together. Handlers authorize and
//! validate; no HTTP here.

use crate::store::{AuditRow, DeliveryRow, EventRow, Store, StoreResult, WebhookRow};

/// The webhook service over one store.
pub struct WebhookOps<'a> {
    store: &'a dyn Store,
}

impl<'a> WebhookOps<'a> {
    pub fn new(store: &'a dyn Store) -> Self {
        Self { store }
    }

    /// Stores a new webhook (a duplicate name is `StoreError::Conflict`).
    pub async fn create(&self, w: &WebhookRow, audit: &AuditRow) -> StoreResult<()> {
        let mut tx = self.store.begin().await?;
        tx.insert_webhook(w).await?;
        tx.insert_audit(audit).await?;
        tx.commit().await
    }

    /// Saves a changed webhook; a disabled one has its pending deliveries cancelled.
    pub async fn update(&self, w: &WebhookRow, audit: &AuditRow, now_us: i64) -> StoreResult<()> {
        let mut tx = self.store.begin().await?;
        tx.update_webhook(w).await?;
        if !w.enabled {
            tx.cancel_pending_deliveries(&w.id, now_us).await?;
        }
        tx.insert_audit(audit).await?;
        tx.commit().await
    }

    /// Deletes a webhook and cancels its pending deliveries; false when there was none.
    pub async fn delete(
        &self,
        tenant_id: &str,
        id: &str,
        audit: &AuditRow,
        now_us: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.store.begin().await?;
        if !tx.delete_webhook(tenant_id, id).await? {
            return Ok(false);
        }
        tx.cancel_pending_deliveries(id, now_us).await?;
        tx.insert_audit(audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Stores a test event and its (leased) delivery, in event order.
    pub async fn queue_test(&self, event: &EventRow, delivery: &DeliveryRow) -> StoreResult<()> {
        let mut tx = self.store.begin().await?;
        tx.insert_first_event(event).await?;
        tx.insert_delivery(delivery).await?;
        tx.commit().await
    }

    /// Queues another delivery of an event.
    pub async fn redeliver(&self, delivery: &DeliveryRow) -> StoreResult<()> {
        let mut tx = self.store.begin().await?;
        tx.insert_delivery(delivery).await?;
        tx.commit().await
    }
}
