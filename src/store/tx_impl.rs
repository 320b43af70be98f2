//! `StoreTx` for one open write transaction: each method delegates to the aggregate's SQL in
//! `sql/` and notes which cached table groups it changed, dropped from the read cache at commit.

use super::errors::StoreResult;
use super::read_cache::{Group, ReadCache};
use super::rows::{
    AuditRow, DeliveryRow, EventRow, ExpiryRow, GraceEnded, HistoryRow, MountRow, PolicyRow,
    ScheduleRow, SecretPolicyRow, SecretRow, TokenRow, VersionRow, WebhookRow,
};
use super::sql::{
    audit, deliveries, events, expiry, grace, meta, mounts, rotation, secret_policies, secrets,
    tokens, webhooks, Dialect, Tx,
};
use super::sql_store::WriteTurn;
use super::stored_enums::{DeliveryStatus, TokenKind};
use super::StoreTx;
use async_trait::async_trait;
use std::sync::Arc;

/// One open write transaction.
pub(super) struct SqlTx {
    pub(super) tx: Tx,
    dialect: &'static Dialect,
    cache: Arc<ReadCache>,
    /// Cached table groups this transaction changed: invalidated when it commits.
    touched: Vec<Group>,
    /// This process's turn to write (`SqlStore::write_turn`), given back after `tx` (fields
    /// drop in order) or, on commit, before waiting for the write to be durable.
    turn: WriteTurn,
}

impl SqlTx {
    pub(super) fn new(
        tx: Tx,
        dialect: &'static Dialect,
        cache: Arc<ReadCache>,
        turn: WriteTurn,
    ) -> Self {
        Self {
            tx,
            dialect,
            cache,
            touched: Vec::new(),
            turn,
        }
    }

    fn touch(&mut self, group: Group) {
        if !self.touched.contains(&group) {
            self.touched.push(group);
        }
    }
}

#[async_trait]
impl StoreTx for SqlTx {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let SqlTx {
            tx,
            cache,
            touched,
            turn,
            ..
        } = *self;
        let result = tx.commit().await;
        // Even a failed commit may have landed: drop cached rows either way.
        for group in &touched {
            cache.invalidate(*group);
        }
        result?;
        turn.durable().await
    }

    async fn put_meta_if_absent(&mut self, key: &str, value: &str) -> StoreResult<()> {
        meta::put_if_absent(&mut *self.tx, key, value).await
    }

    async fn insert_token(&mut self, t: &TokenRow) -> StoreResult<()> {
        tokens::insert(&mut *self.tx, t).await
    }

    async fn revoke_token(&mut self, tenant_id: &str, id: &str, now_us: i64) -> StoreResult<bool> {
        self.touch(Group::Tokens);
        tokens::revoke(&mut *self.tx, tenant_id, id, now_us).await
    }

    async fn revoke_tokens_of_kind(
        &mut self,
        kind: TokenKind,
        keep_hash: &str,
        now_us: i64,
    ) -> StoreResult<Vec<TokenRow>> {
        self.touch(Group::Tokens);
        tokens::revoke_of_kind(&mut *self.tx, kind, keep_hash, now_us).await
    }

    async fn delete_token_by_hash(&mut self, hash: &str) -> StoreResult<()> {
        self.touch(Group::Tokens);
        tokens::delete_by_hash(&mut *self.tx, hash).await
    }

    async fn lock_secret(&mut self, tenant_id: &str, path: &str) -> StoreResult<Option<SecretRow>> {
        secrets::lock(&mut *self.tx, tenant_id, path, self.dialect.lock_row).await
    }

    async fn insert_secret(&mut self, s: &SecretRow) -> StoreResult<()> {
        self.touch(Group::Secrets);
        secrets::insert(&mut *self.tx, s).await
    }

    async fn update_secret(&mut self, s: &SecretRow) -> StoreResult<()> {
        self.touch(Group::Secrets);
        secrets::update(&mut *self.tx, s).await
    }

    async fn replace_tags(&mut self, secret_id: &str, tags: &[String]) -> StoreResult<()> {
        self.touch(Group::Secrets);
        secrets::replace_tags(&mut self.tx, secret_id, tags).await
    }

    async fn insert_version(&mut self, v: &VersionRow) -> StoreResult<()> {
        self.touch(Group::Secrets);
        secrets::insert_version(&mut *self.tx, v).await
    }

    async fn prune_versions(
        &mut self,
        secret_id: &str,
        floor: i64,
        now_us: i64,
    ) -> StoreResult<u64> {
        self.touch(Group::Secrets);
        secrets::prune_versions(&mut *self.tx, secret_id, floor, now_us).await
    }

    async fn count_versions(&mut self, secret_id: &str) -> StoreResult<i64> {
        secrets::count_versions(&mut *self.tx, secret_id).await
    }

    async fn delete_secret(&mut self, secret_id: &str) -> StoreResult<()> {
        self.touch(Group::Secrets);
        secrets::delete(&mut self.tx, secret_id).await
    }

    async fn lock_secrets_under(
        &mut self,
        tenant_id: &str,
        prefix: &str,
    ) -> StoreResult<Vec<SecretRow>> {
        mounts::secrets_under(&mut *self.tx, tenant_id, prefix, self.dialect.lock_row).await
    }

    async fn claim_grace_ended(&mut self, now_us: i64, limit: i64) -> StoreResult<Vec<GraceEnded>> {
        grace::claim(&mut *self.tx, now_us, limit, self.dialect.skip_locked).await
    }

    async fn mark_grace_reported(&mut self, secret_id: &str, version: i64) -> StoreResult<()> {
        self.touch(Group::Secrets);
        grace::mark_reported(&mut *self.tx, secret_id, version).await
    }

    async fn insert_mount(&mut self, m: &MountRow) -> StoreResult<()> {
        mounts::insert(&mut *self.tx, m).await
    }

    async fn delete_mount(&mut self, tenant_id: &str, name: &str) -> StoreResult<bool> {
        mounts::delete(&mut *self.tx, tenant_id, name).await
    }

    async fn invalid_tokens(&mut self, tokens: &[String]) -> StoreResult<Vec<String>> {
        audit::invalid_tokens(&mut self.tx, tokens).await
    }

    async fn insert_audit(&mut self, row: &AuditRow) -> StoreResult<()> {
        audit::insert(&mut *self.tx, row).await
    }

    async fn insert_webhook(&mut self, w: &WebhookRow) -> StoreResult<()> {
        webhooks::insert(&mut *self.tx, w).await
    }

    async fn update_webhook(&mut self, w: &WebhookRow) -> StoreResult<()> {
        webhooks::update(&mut *self.tx, w).await
    }

    async fn delete_webhook(&mut self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        webhooks::delete(&mut *self.tx, tenant_id, id).await
    }

    async fn cancel_pending_deliveries(
        &mut self,
        webhook_id: &str,
        now_us: i64,
    ) -> StoreResult<u64> {
        deliveries::cancel_pending(&mut *self.tx, webhook_id, now_us).await
    }

    async fn routable_webhooks(&mut self, tenant_id: &str) -> StoreResult<Vec<WebhookRow>> {
        webhooks::routable(&mut *self.tx, tenant_id).await
    }

    async fn insert_first_event(&mut self, e: &EventRow) -> StoreResult<()> {
        events::insert(&mut *self.tx, e, self.dialect.insert_event_locking).await
    }

    async fn insert_event(&mut self, e: &EventRow) -> StoreResult<()> {
        events::insert(&mut *self.tx, e, None).await
    }

    async fn insert_delivery(&mut self, d: &DeliveryRow) -> StoreResult<()> {
        deliveries::insert(&mut *self.tx, d).await
    }

    async fn get_policy(&mut self, tenant_id: &str, id: &str) -> StoreResult<Option<PolicyRow>> {
        rotation::get_policy(&mut *self.tx, tenant_id, id).await
    }

    async fn lock_secret_policy(
        &mut self,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<Option<SecretPolicyRow>> {
        secret_policies::get(&mut *self.tx, tenant_id, id, self.dialect.lock_row).await
    }

    async fn insert_secret_policy(&mut self, p: &SecretPolicyRow) -> StoreResult<()> {
        secret_policies::insert(&mut *self.tx, p).await
    }

    async fn update_secret_policy(&mut self, p: &SecretPolicyRow) -> StoreResult<()> {
        secret_policies::update(&mut *self.tx, p).await
    }

    async fn delete_secret_policy(&mut self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        secret_policies::delete(&mut *self.tx, tenant_id, id).await
    }

    async fn secret_policy_users(&mut self, tenant_id: &str, id: &str) -> StoreResult<Vec<String>> {
        secret_policies::users(&mut *self.tx, tenant_id, id).await
    }

    async fn insert_policy(&mut self, p: &PolicyRow) -> StoreResult<()> {
        rotation::insert_policy(&mut self.tx, p).await
    }

    async fn update_policy(&mut self, p: &PolicyRow) -> StoreResult<()> {
        rotation::update_policy(&mut self.tx, p).await
    }

    async fn delete_policy(&mut self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        self.touch(Group::Secrets);
        rotation::delete_policy(&mut self.tx, tenant_id, id).await
    }

    async fn lock_schedule(&mut self, secret_id: &str) -> StoreResult<Option<ScheduleRow>> {
        rotation::get_schedule(&mut *self.tx, secret_id, self.dialect.lock_row).await
    }

    async fn attached_paths(
        &mut self,
        tenant_id: &str,
        policy_id: &str,
    ) -> StoreResult<Vec<String>> {
        rotation::attached_paths(&mut *self.tx, tenant_id, policy_id).await
    }

    async fn schedules_of_policy(
        &mut self,
        tenant_id: &str,
        policy_id: &str,
    ) -> StoreResult<Vec<ScheduleRow>> {
        rotation::schedules_of_policy(&mut self.tx, tenant_id, policy_id).await
    }

    async fn upsert_schedule(&mut self, s: &ScheduleRow) -> StoreResult<()> {
        self.touch(Group::Secrets);
        rotation::upsert_schedule(&mut self.tx, s).await
    }

    async fn delete_schedule(&mut self, secret_id: &str) -> StoreResult<bool> {
        self.touch(Group::Secrets);
        rotation::delete_schedule(&mut self.tx, secret_id).await
    }

    async fn claim_due_schedules(
        &mut self,
        now_us: i64,
        limit: i64,
    ) -> StoreResult<Vec<ScheduleRow>> {
        rotation::claim_due(&mut self.tx, now_us, limit, self.dialect.skip_locked).await
    }

    async fn insert_history(&mut self, h: &HistoryRow) -> StoreResult<()> {
        rotation::insert_history(&mut self.tx, h).await
    }

    async fn update_history(&mut self, h: &HistoryRow) -> StoreResult<()> {
        rotation::update_history(&mut self.tx, h).await
    }

    async fn get_history(&mut self, id: &str) -> StoreResult<Option<HistoryRow>> {
        rotation::get_history(&mut *self.tx, id).await
    }

    async fn set_version_flags(
        &mut self,
        secret_id: &str,
        version: i64,
        is_rotation: Option<bool>,
        readable_until: Option<i64>,
    ) -> StoreResult<()> {
        self.touch(Group::Secrets);
        let tx = &mut self.tx;
        secrets::set_version_flags(tx, secret_id, version, is_rotation, readable_until).await
    }

    async fn secret_by_id(&mut self, id: &str) -> StoreResult<Option<SecretRow>> {
        secrets::by_id(&mut *self.tx, id).await
    }

    async fn get_expiry(&mut self, secret_id: &str) -> StoreResult<Option<ExpiryRow>> {
        expiry::get(&mut self.tx, secret_id).await
    }

    async fn upsert_expiry(&mut self, e: &ExpiryRow) -> StoreResult<()> {
        expiry::upsert(&mut self.tx, e).await
    }

    async fn delete_expiry(&mut self, secret_id: &str) -> StoreResult<()> {
        expiry::delete(&mut self.tx, secret_id).await
    }

    async fn claim_due_expiry(&mut self, now_us: i64, limit: i64) -> StoreResult<Vec<ExpiryRow>> {
        expiry::claim_due(&mut self.tx, now_us, limit, self.dialect.skip_locked).await
    }

    async fn event_delivery_states(
        &mut self,
        event_id: &str,
    ) -> StoreResult<Vec<(String, DeliveryStatus)>> {
        deliveries::states_of_event(&mut *self.tx, event_id).await
    }
}
