//! `Store` for `SqlStore`: each method picks the pool (reads on the reader, writes on their
//! turn on the writer) and delegates to the aggregate's SQL in `sql/`.

use super::audit_sink::{AuditBatches, AuditSink};
use super::errors::StoreResult;
use super::read_cache::Group;
use super::rows::{
    AuditRow, DeliveryRow, EventRow, HistoryRow, MountRow, PolicyRow, ScheduleRow,
    SchedulerBacklog, SecretPolicyRow, SecretRow, TokenRow, VersionInfo, VersionReaders,
    VersionReads, VersionRow, WebhookRow, WebhookStats,
};
use super::sql::{
    audit, audit_query, deliveries, events, meta, mounts, rotation, secret_policies, secrets,
    tokens, version_reads, webhooks,
};
use super::stored_enums::{DeliveryStatus, RotationStatus};
use super::tx_impl::SqlTx;
use super::{
    AttemptRecord, AuditQuery, AuditSummary, Backend, EventListQuery, SecretEntry, SecretListQuery,
    SqlStore, Store, StoreTx,
};
use async_trait::async_trait;
use std::sync::Arc;

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn migrate(&self) -> StoreResult<()> {
        let turn = self.write_turn().await;
        self.migrator().run(&self.writer).await?;
        turn.durable().await
    }

    async fn migrations_applied(&self) -> StoreResult<bool> {
        let applied = meta::applied_migrations(&self.reader).await?;
        Ok(self.migrator().iter().all(|m| applied.contains(&m.version)))
    }

    async fn ping(&self) -> StoreResult<()> {
        meta::ping(&self.reader).await
    }

    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>> {
        let turn = self.write_turn().await;
        let tx = self.writer.begin_with(self.dialect().begin_write).await?;
        Ok(Box::new(SqlTx::new(
            tx,
            self.dialect(),
            self.cache.clone(),
            turn,
        )))
    }

    async fn get_meta(&self, key: &str) -> StoreResult<Option<String>> {
        meta::get(&self.reader, key).await
    }

    async fn find_token_by_hash(&self, hash: &str) -> StoreResult<Option<TokenRow>> {
        tokens::find_by_hash(&self.reader, hash).await
    }

    async fn find_token_cached(&self, hash: &str) -> StoreResult<Option<(Arc<TokenRow>, bool)>> {
        if let Some(row) = self.cache.token(hash) {
            return Ok(Some((row, true)));
        }
        let gen = self.cache.generation(Group::Tokens);
        let Some(row) = self.find_token_by_hash(hash).await? else {
            return Ok(None);
        };
        let row = Arc::new(row);
        self.cache.put_token(hash, gen, row.clone());
        Ok(Some((row, false)))
    }

    async fn get_token(&self, tenant_id: &str, id: &str) -> StoreResult<Option<TokenRow>> {
        tokens::get(&self.reader, tenant_id, id).await
    }

    async fn list_tokens(
        &self,
        tenant_id: &str,
        after_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<TokenRow>> {
        tokens::list(&self.reader, tenant_id, after_id.unwrap_or(""), limit).await
    }

    async fn count_tokens(&self) -> StoreResult<i64> {
        tokens::count(&self.writer).await
    }

    async fn get_secret(&self, tenant_id: &str, path: &str) -> StoreResult<Option<SecretRow>> {
        secrets::get_live(&self.reader, tenant_id, path).await
    }

    async fn get_secret_any_state(
        &self,
        tenant_id: &str,
        path: &str,
    ) -> StoreResult<Option<SecretRow>> {
        secrets::get_any_state(&self.reader, tenant_id, path).await
    }

    async fn version_reads(
        &self,
        tenant_id: &str,
        path: &str,
        since_us: i64,
        recent_us: i64,
    ) -> StoreResult<Vec<VersionReads>> {
        version_reads::per_version(&self.reader, tenant_id, path, since_us, recent_us).await
    }

    async fn version_readers(
        &self,
        tenant_id: &str,
        path: &str,
        version: i64,
        from_us: i64,
        to_us: i64,
    ) -> StoreResult<VersionReaders> {
        version_reads::readers_of(&self.reader, tenant_id, path, version, from_us, to_us).await
    }

    async fn get_mount(&self, tenant_id: &str, name: &str) -> StoreResult<Option<MountRow>> {
        mounts::get(&self.reader, tenant_id, name).await
    }

    async fn get_version(&self, secret_id: &str, version: i64) -> StoreResult<Option<VersionRow>> {
        secrets::get_version(&self.reader, secret_id, version).await
    }

    async fn read_secret_cached(
        &self,
        tenant_id: &str,
        path: &str,
        version: Option<i64>,
    ) -> StoreResult<Option<SecretEntry>> {
        if let Some(hit) = self.cache.secret(tenant_id, path, version) {
            return Ok(Some(hit));
        }
        let gen = self.cache.generation(Group::Secrets);
        let found = match version {
            None => self.get_secret_with_current(tenant_id, path).await?,
            Some(n) => match self.get_secret(tenant_id, path).await? {
                None => None,
                Some(secret) => self.get_version(&secret.id, n).await?.map(|v| (secret, v)),
            },
        };
        let Some(found) = found else { return Ok(None) };
        let entry = Arc::new(found);
        self.cache
            .put_secret(tenant_id, path, version, gen, entry.clone());
        Ok(Some(entry))
    }

    async fn get_schedule_cached(&self, secret_id: &str) -> StoreResult<Option<Arc<ScheduleRow>>> {
        if let Some(hit) = self.cache.schedule(secret_id) {
            return Ok(hit);
        }
        let gen = self.cache.generation(Group::Secrets);
        let found = self.get_schedule(secret_id).await?.map(Arc::new);
        self.cache.put_schedule(secret_id, gen, found.clone());
        Ok(found)
    }

    async fn get_secret_with_current(
        &self,
        tenant_id: &str,
        path: &str,
    ) -> StoreResult<Option<(SecretRow, VersionRow)>> {
        secrets::get_with_current(&self.reader, tenant_id, path).await
    }

    async fn list_versions(&self, secret_id: &str) -> StoreResult<Vec<VersionInfo>> {
        secrets::list_versions(&self.reader, secret_id).await
    }

    async fn list_secrets(&self, query: &SecretListQuery) -> StoreResult<Vec<SecretRow>> {
        secrets::list(&self.reader, query).await
    }

    async fn get_webhook(&self, tenant_id: &str, id: &str) -> StoreResult<Option<WebhookRow>> {
        webhooks::get(&self.reader, tenant_id, id).await
    }

    async fn list_webhooks(
        &self,
        tenant_id: &str,
        after_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<WebhookRow>> {
        webhooks::list(&self.reader, tenant_id, after_id.unwrap_or(""), limit).await
    }

    async fn webhooks_by_ids(&self, ids: &[String]) -> StoreResult<Vec<WebhookRow>> {
        webhooks::by_ids(&self.reader, ids).await
    }

    async fn webhook_stats(&self, webhook_id: &str, since_us: i64) -> StoreResult<WebhookStats> {
        deliveries::webhook_stats(&self.reader, webhook_id, since_us).await
    }

    async fn last_delivery(&self, webhook_id: &str) -> StoreResult<Option<DeliveryRow>> {
        deliveries::last(&self.reader, webhook_id).await
    }

    async fn get_delivery(&self, tenant_id: &str, id: &str) -> StoreResult<Option<DeliveryRow>> {
        deliveries::get(&self.reader, tenant_id, id).await
    }

    async fn list_deliveries(
        &self,
        webhook_id: &str,
        status: Option<DeliveryStatus>,
        before_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRow>> {
        deliveries::list(&self.reader, webhook_id, status, before_id, limit).await
    }

    async fn claim_due_deliveries(
        &self,
        now_us: i64,
        lease_until_us: i64,
        limit: i64,
        exclude_webhooks: &[String],
    ) -> StoreResult<Vec<DeliveryRow>> {
        let sql = deliveries::claim_sql(self.dialect().claim_deliveries, exclude_webhooks.len());
        // A lease is soft state (it expires): the claim need not wait for a WAL flush.
        let _turn = self.write_turn().await;
        deliveries::claim_due(
            &self.writer,
            &sql,
            now_us,
            lease_until_us,
            limit,
            exclude_webhooks,
        )
        .await
    }

    async fn release_deliveries(&self, ids: &[String]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = deliveries::release_sql(ids.len());
        // A lease is soft state: no need to wait for a WAL flush.
        let _turn = self.write_turn().await;
        deliveries::release(&self.writer, &sql, ids).await
    }

    async fn finish_attempt(&self, o: &AttemptRecord, audit: &AuditRow) -> StoreResult<bool> {
        let turn = self.write_turn().await;
        let mut tx = self.writer.begin_with(self.dialect().begin_write).await?;
        let recorded = deliveries::record_attempt(&mut tx, o, audit).await?;
        tx.commit().await?;
        turn.durable().await?;
        Ok(recorded)
    }

    async fn finish_attempts(&self, items: &[(AttemptRecord, AuditRow)]) -> StoreResult<Vec<bool>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let turn = self.write_turn().await;
        let mut tx = self.writer.begin_with(self.dialect().begin_write).await?;
        let out = if deliveries::needs_one_by_one(items) {
            let mut out = Vec::with_capacity(items.len());
            for (o, audit) in items {
                out.push(deliveries::record_attempt(&mut tx, o, audit).await?);
            }
            out
        } else {
            deliveries::record_attempts_bulk(&mut tx, items).await?
        };
        tx.commit().await?;
        turn.durable().await?;
        Ok(out)
    }

    async fn pending_deliveries(&self) -> StoreResult<(i64, Option<i64>)> {
        deliveries::pending_stats(&self.reader).await
    }

    async fn scheduler_backlog(&self, now_us: i64) -> StoreResult<SchedulerBacklog> {
        rotation::backlog(&self.reader, now_us).await
    }

    async fn get_event(&self, id: &str) -> StoreResult<Option<EventRow>> {
        events::get(&self.reader, id).await
    }

    async fn events_by_ids(&self, ids: &[String]) -> StoreResult<Vec<EventRow>> {
        events::by_ids(&self.reader, ids).await
    }

    async fn list_events(&self, eq: &EventListQuery) -> StoreResult<Vec<EventRow>> {
        events::list(&self.reader, eq).await
    }

    async fn get_policy(&self, tenant_id: &str, id: &str) -> StoreResult<Option<PolicyRow>> {
        rotation::get_policy(&self.reader, tenant_id, id).await
    }

    async fn list_policies(
        &self,
        tenant_id: &str,
        active_only: bool,
        after_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<PolicyRow>> {
        let after = after_id.unwrap_or("");
        rotation::list_policies(&self.reader, tenant_id, active_only, after, limit).await
    }

    async fn count_attached(&self, tenant_id: &str, policy_id: &str) -> StoreResult<i64> {
        rotation::count_attached(&self.reader, tenant_id, policy_id).await
    }

    async fn attached_paths(&self, tenant_id: &str, policy_id: &str) -> StoreResult<Vec<String>> {
        rotation::attached_paths(&self.reader, tenant_id, policy_id).await
    }

    async fn get_schedule(&self, secret_id: &str) -> StoreResult<Option<ScheduleRow>> {
        rotation::get_schedule(&self.reader, secret_id, "").await
    }

    async fn due_rotations(
        &self,
        tenant_id: &str,
        until_us: i64,
        policy_id: Option<&str>,
    ) -> StoreResult<Vec<(ScheduleRow, String)>> {
        rotation::due_list(&self.reader, tenant_id, until_us, policy_id).await
    }

    async fn list_history(
        &self,
        tenant_id: &str,
        policy_id: &str,
        status: Option<RotationStatus>,
        before_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<HistoryRow>> {
        rotation::list_history(&self.reader, tenant_id, policy_id, status, before_id, limit).await
    }

    async fn history_by_due_event(&self, event_id: &str) -> StoreResult<Option<HistoryRow>> {
        rotation::history_by_due_event(&self.reader, event_id).await
    }

    async fn get_secret_policy(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<Option<SecretPolicyRow>> {
        secret_policies::get(&self.reader, tenant_id, id, "").await
    }

    async fn list_secret_policies(
        &self,
        tenant_id: &str,
        after_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<SecretPolicyRow>> {
        secret_policies::list(&self.reader, tenant_id, after_id.unwrap_or(""), limit).await
    }

    async fn insert_audit(&self, rows: &[AuditRow]) -> StoreResult<()> {
        self.insert_audit_checked(rows, &[]).await.map(|_| ())
    }

    async fn insert_audit_checked(
        &self,
        rows: &[AuditRow],
        tokens: &[String],
    ) -> StoreResult<Vec<String>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let invalid = self
            .append_audit_checked(rows.to_vec(), tokens.to_vec())
            .await?;
        if invalid.is_empty() {
            self.sync_audit().await?;
        }
        Ok(invalid)
    }

    fn audit_sink(&self) -> AuditSink {
        match &self.sqlite_audit {
            Some(appender) => AuditSink::Appender(appender.clone()),
            None => AuditSink::Batches(AuditBatches {
                writer: self
                    .audit_pool
                    .clone()
                    .unwrap_or_else(|| self.writer.clone()),
                cache: self.cache.clone(),
                head: Default::default(),
            }),
        }
    }

    async fn list_audit(&self, aq: &AuditQuery) -> StoreResult<Vec<AuditRow>> {
        audit_query::list(&self.reader, aq).await
    }

    async fn audit_summary(&self, aq: &AuditQuery) -> StoreResult<AuditSummary> {
        audit_query::summary(&self.reader, aq).await
    }

    async fn seal_audit(&self, limit: i64, wait: bool) -> StoreResult<usize> {
        let turn = self.write_turn().await;
        let dialect = self.dialect();
        let lock = if wait {
            dialect.lock_sealer
        } else {
            dialect.try_lock_sealer
        };
        let sealed = audit::seal_unsealed(&self.writer, dialect.begin_write, lock, limit).await?;
        turn.durable().await?;
        Ok(sealed)
    }

    async fn audit_chain(&self, from_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>> {
        audit::chain_page(&self.reader, from_seq, limit).await
    }

    async fn count_unsealed_audit(&self) -> StoreResult<i64> {
        audit::count_unsealed(&self.reader).await
    }

    async fn apply_audit_retention(&self, before_us: i64, anchor_key: &str) -> StoreResult<u64> {
        let turn = self.write_turn().await;
        let dialect = self.dialect();
        let Some(deleted) = audit::apply_retention(
            &self.writer,
            dialect.begin_write,
            dialect.lock_sealer,
            before_us,
            anchor_key,
        )
        .await?
        else {
            // Nothing was written: nothing to wait for.
            return Ok(0);
        };
        turn.durable().await?;
        Ok(deleted)
    }
}
