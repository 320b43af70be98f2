//! `KeyMaterialStore` for `SqlStore`: master key versions and re-wrapping (`sql::keys`).

use super::errors::StoreResult;
use super::rows::{
    KeySwap, MasterKeyVersionRow, VersionSwap, WebhookSecretSlot, WrappedVersionRow,
    WrappedWebhookRow,
};
use super::sql::{keys, meta};
use super::{KeyMaterialStore, SqlStore};

#[async_trait::async_trait]
impl KeyMaterialStore for SqlStore {
    async fn master_key_versions(&self) -> StoreResult<Vec<MasterKeyVersionRow>> {
        keys::list_versions(&self.reader).await
    }

    async fn insert_master_key_version(&self, row: &MasterKeyVersionRow) -> StoreResult<bool> {
        let turn = self.write_turn().await;
        let done = keys::insert_version(&self.writer, row).await?;
        turn.durable().await?;
        Ok(done)
    }

    async fn count_stale_keys(&self, active_key_id: &str) -> StoreResult<(i64, i64)> {
        keys::count_stale(&self.reader, active_key_id).await
    }

    async fn stale_versions(
        &self,
        active_key_id: &str,
        after: (&str, i64),
        limit: i64,
    ) -> StoreResult<Vec<WrappedVersionRow>> {
        keys::stale_versions(&self.reader, active_key_id, after, limit).await
    }

    async fn swap_version_key(
        &self,
        secret_id: &str,
        version: i64,
        swap: VersionSwap<'_>,
    ) -> StoreResult<bool> {
        let turn = self.write_turn().await;
        let done = keys::swap_version_key(&self.writer, secret_id, version, swap).await?;
        turn.durable().await?;
        Ok(done)
    }

    async fn stale_webhooks(&self, active_key_id: &str) -> StoreResult<Vec<WrappedWebhookRow>> {
        keys::stale_webhooks(&self.reader, active_key_id).await
    }

    async fn swap_webhook_key(
        &self,
        webhook_id: &str,
        slot: WebhookSecretSlot,
        swap: KeySwap<'_>,
    ) -> StoreResult<bool> {
        let turn = self.write_turn().await;
        let done = keys::swap_webhook_key(&self.writer, webhook_id, slot, swap).await?;
        turn.durable().await?;
        Ok(done)
    }

    async fn replace_meta(&self, key: &str, old: &str, new: &str) -> StoreResult<bool> {
        let turn = self.write_turn().await;
        let done = meta::replace(&self.writer, key, old, new).await?;
        turn.durable().await?;
        Ok(done)
    }
}
