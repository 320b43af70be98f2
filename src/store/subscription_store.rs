//! The store's subscription methods (SPEC §10), as traits of their own that `Store` and
//! `StoreTx` extend: reads outside a transaction, and the changes, routing and queue work done
//! inside a write transaction. `subscriptions_impl` implements them over SQL.

use super::errors::StoreResult;
use super::rows::{EventRow, SubscriptionRow};
use async_trait::async_trait;

/// Subscriptions (SPEC §10) read outside a transaction (`subscriptions_impl`).
#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    /// A subscription of the tenant, with its owner token's state.
    async fn get_subscription(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<Option<SubscriptionRow>>;
    /// A page of the tenant's subscriptions by id (only token `owner`'s when given).
    async fn list_subscriptions(
        &self,
        tenant_id: &str,
        owner: Option<&str>,
        after_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<SubscriptionRow>>;
    /// The subscription webhook `webhook_id` delivers for, if any.
    async fn subscription_of_webhook(
        &self,
        webhook_id: &str,
    ) -> StoreResult<Option<SubscriptionRow>>;
    /// The oldest `limit` unacknowledged events of a polling subscription, in order.
    async fn subscription_queue(&self, id: &str, limit: i64) -> StoreResult<Vec<EventRow>>;
    /// How many events a subscription holds unacknowledged.
    async fn subscription_queue_len(&self, id: &str) -> StoreResult<i64>;
    /// Unacknowledged events of every subscription (metrics).
    async fn subscription_backlog(&self) -> StoreResult<i64>;
}

/// Subscriptions changed, routed to and acknowledged inside a write transaction
/// (`subscriptions_impl`).
#[async_trait]
pub trait SubscriptionTx: Send {
    async fn insert_subscription(&mut self, s: &SubscriptionRow) -> StoreResult<()>;
    async fn update_subscription(&mut self, s: &SubscriptionRow) -> StoreResult<()>;
    /// Deletes a subscription and its queue; false when there was none.
    async fn delete_subscription(&mut self, tenant_id: &str, id: &str) -> StoreResult<bool>;
    /// The tenant's active subscriptions, for routing new events.
    async fn routable_subscriptions(
        &mut self,
        tenant_id: &str,
    ) -> StoreResult<Vec<SubscriptionRow>>;
    /// Queues an event for a polling subscription, dropping (and counting) the oldest beyond
    /// `buffer`; returns how many were dropped.
    async fn enqueue_subscription_event(
        &mut self,
        id: &str,
        event_id: &str,
        buffer: i64,
    ) -> StoreResult<u64>;
    /// Removes events from a subscription's queue; returns how many were there.
    async fn ack_subscription_events(&mut self, id: &str, event_ids: &[String])
        -> StoreResult<u64>;
}
