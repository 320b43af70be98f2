//! `SubscriptionStore` for `SqlStore` and `SubscriptionTx` for its write transactions:
//! subscriptions, their routing and their polling queues (`sql::subscriptions`).

use super::errors::StoreResult;
use super::rows::{EventRow, SubscriptionRow};
use super::sql::subscriptions;
use super::tx_impl::SqlTx;
use super::{SqlStore, SubscriptionStore, SubscriptionTx};

#[async_trait::async_trait]
impl SubscriptionStore for SqlStore {
    async fn get_subscription(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<Option<SubscriptionRow>> {
        subscriptions::get(&self.reader, tenant_id, id).await
    }

    async fn list_subscriptions(
        &self,
        tenant_id: &str,
        owner: Option<&str>,
        after_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<SubscriptionRow>> {
        subscriptions::list(
            &self.reader,
            tenant_id,
            owner,
            after_id.unwrap_or(""),
            limit,
        )
        .await
    }

    async fn subscription_of_webhook(
        &self,
        webhook_id: &str,
    ) -> StoreResult<Option<SubscriptionRow>> {
        subscriptions::by_webhook(&self.reader, webhook_id).await
    }

    async fn subscription_queue(&self, id: &str, limit: i64) -> StoreResult<Vec<EventRow>> {
        subscriptions::queue(&self.reader, id, limit).await
    }

    async fn subscription_queue_len(&self, id: &str) -> StoreResult<i64> {
        subscriptions::queue_len(&self.reader, id).await
    }

    async fn subscription_backlog(&self) -> StoreResult<i64> {
        subscriptions::backlog(&self.reader).await
    }
}

#[async_trait::async_trait]
impl SubscriptionTx for SqlTx {
    async fn insert_subscription(&mut self, s: &SubscriptionRow) -> StoreResult<()> {
        subscriptions::insert(&mut *self.tx, s).await
    }

    async fn update_subscription(&mut self, s: &SubscriptionRow) -> StoreResult<()> {
        subscriptions::update(&mut *self.tx, s).await
    }

    async fn delete_subscription(&mut self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        subscriptions::delete(&mut self.tx, tenant_id, id).await
    }

    async fn routable_subscriptions(
        &mut self,
        tenant_id: &str,
    ) -> StoreResult<Vec<SubscriptionRow>> {
        subscriptions::routable(&mut *self.tx, tenant_id).await
    }

    async fn enqueue_subscription_event(
        &mut self,
        id: &str,
        event_id: &str,
        buffer: i64,
    ) -> StoreResult<u64> {
        subscriptions::enqueue(&mut self.tx, id, event_id, buffer).await
    }

    async fn ack_subscription_events(
        &mut self,
        id: &str,
        event_ids: &[String],
    ) -> StoreResult<u64> {
        subscriptions::ack(&mut self.tx, id, event_ids).await
    }
}
