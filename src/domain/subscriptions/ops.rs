//! Subscription operations: each change is one transaction that writes the subscription, its
//! webhook (for webhook delivery), what must not be sent any more, and the audit row together.
//! Handlers authorize and validate; no HTTP here.

use crate::store::{AuditRow, Store, StoreError, StoreResult, SubscriptionRow, WebhookRow};

/// Why a subscription change was refused.
#[derive(Debug)]
pub enum SubscriptionError {
    /// The owner already has a subscription of this name.
    NameConflict,
    Store(StoreError),
}

impl From<StoreError> for SubscriptionError {
    fn from(e: StoreError) -> Self {
        SubscriptionError::Store(e)
    }
}

/// The subscription service over one store.
pub struct SubscriptionOps<'a> {
    store: &'a dyn Store,
}

impl<'a> SubscriptionOps<'a> {
    pub fn new(store: &'a dyn Store) -> Self {
        Self { store }
    }

    /// Stores a new subscription and, for webhook delivery, its webhook.
    pub async fn create(
        &self,
        s: &SubscriptionRow,
        webhook: Option<&WebhookRow>,
        audit: &AuditRow,
    ) -> Result<(), SubscriptionError> {
        let mut tx = self.store.begin().await?;
        if let Some(w) = webhook {
            tx.insert_webhook(w).await?;
        }
        tx.insert_subscription(s).await.map_err(conflict)?;
        tx.insert_audit(audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Saves a changed subscription (and its webhook); a paused one's pending deliveries are
    /// cancelled.
    pub async fn update(
        &self,
        s: &SubscriptionRow,
        webhook: Option<&WebhookRow>,
        audit: &AuditRow,
    ) -> Result<(), SubscriptionError> {
        let mut tx = self.store.begin().await?;
        tx.update_subscription(s).await.map_err(conflict)?;
        if let Some(w) = webhook {
            tx.update_webhook(w).await?;
            if !w.enabled {
                tx.cancel_pending_deliveries(&w.id, s.updated_at).await?;
            }
        }
        tx.insert_audit(audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a subscription, its queue, its webhook and that webhook's pending deliveries;
    /// false when there was none.
    pub async fn delete(
        &self,
        s: &SubscriptionRow,
        audit: &AuditRow,
        now_us: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.store.begin().await?;
        if !tx.delete_subscription(&s.tenant_id, &s.id).await? {
            return Ok(false);
        }
        if let Some(w) = &s.webhook_id {
            tx.delete_webhook(&s.tenant_id, w).await?;
            tx.cancel_pending_deliveries(w, now_us).await?;
        }
        tx.insert_audit(audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Removes events from a subscription's queue (acknowledged, or no longer the owner's to
    /// see); returns how many were there.
    pub async fn remove(&self, id: &str, event_ids: &[String]) -> StoreResult<u64> {
        if event_ids.is_empty() {
            return Ok(0);
        }
        let mut tx = self.store.begin().await?;
        let n = tx.ack_subscription_events(id, event_ids).await?;
        tx.commit().await?;
        Ok(n)
    }
}

fn conflict(e: StoreError) -> SubscriptionError {
    match e {
        StoreError::Conflict(_) => SubscriptionError::NameConflict,
        other => SubscriptionError::Store(other),
    }
}
