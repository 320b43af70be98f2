//! Persistence behind one trait. Handlers and domain code speak to `Store` and `StoreTx` in
//! domain terms; SQL lives only in this folder. PostgreSQL and SQLite share query text (`sql/`,
//! one file per aggregate), and each backend module holds what differs: connection set-up,
//! migrations, row locking (`postgres::DIALECT`, `sqlite::DIALECT`).

mod audit_sink;
mod backend;
mod cache_listener;
mod errors;
mod keys_impl;
mod pool_health;
mod postgres;
pub mod read_cache;
pub mod rows;
mod sql;
mod sql_store;
mod sqlite;
mod sqlite_audit;
mod sqlite_audit_tx;
mod sqlite_files;
mod store_impl;
mod stored_enums;
mod stored_flag;
mod subscription_store;
mod subscriptions_impl;
mod tx_impl;

pub use audit_sink::{AuditBatches, AuditSink};
pub use backend::Backend;
pub use errors::{StoreError, StoreResult};
pub use read_cache::{CacheStats, ReadCache, SecretEntry};
pub use rows::*;
pub use sql_store::SqlStore;
pub use sqlite_audit::SqliteAuditAppender;
pub use stored_enums::{
    DeliveryStatus, IdentityType, RotationStatus, RotationTrigger, ScheduleStatus, TokenKind,
    UnknownValue, WebhookHealth,
};
pub use stored_flag::{flag, StoredFlag};
pub use subscription_store::{SubscriptionStore, SubscriptionTx};

use async_trait::async_trait;
use std::sync::Arc;

/// Filters of a secret listing, all optional; `path_rules` are the caller's token rules.
#[derive(Debug, Clone, Default)]
pub struct SecretListQuery {
    pub tenant_id: String,
    pub prefix: Option<String>,
    pub tag: Option<String>,
    pub secret_type: Option<String>,
    pub path_rules: Vec<String>,
    pub after_path: Option<String>,
    pub limit: i64,
}

/// Master key versions and re-wrapping of stored data keys (`keys rotate`, `keys rewrap`).
/// Every `swap_*` changes a row only while it still holds the old wrapped key (and, for a
/// secret version, the old binding format).
#[async_trait]
pub trait KeyMaterialStore: Send + Sync {
    async fn master_key_versions(&self) -> StoreResult<Vec<MasterKeyVersionRow>>;
    /// False when that version number or key id already exists.
    async fn insert_master_key_version(&self, row: &MasterKeyVersionRow) -> StoreResult<bool>;
    /// Secret versions (data key not wrapped by `active_key_id`, or sealed with an older
    /// binding format) and webhooks (data key not wrapped by `active_key_id`) to re-wrap.
    async fn count_stale_keys(&self, active_key_id: &str) -> StoreResult<(i64, i64)>;
    /// Up to `limit` secret versions after `after` (secret id, version) not under
    /// `active_key_id` or not sealed with the current binding format.
    async fn stale_versions(
        &self,
        active_key_id: &str,
        after: (&str, i64),
        limit: i64,
    ) -> StoreResult<Vec<WrappedVersionRow>>;
    async fn swap_version_key(
        &self,
        secret_id: &str,
        version: i64,
        swap: VersionSwap<'_>,
    ) -> StoreResult<bool>;
    async fn stale_webhooks(&self, active_key_id: &str) -> StoreResult<Vec<WrappedWebhookRow>>;
    async fn swap_webhook_key(
        &self,
        webhook_id: &str,
        slot: WebhookSecretSlot,
        swap: KeySwap<'_>,
    ) -> StoreResult<bool>;
    /// Compare-and-set of a meta value.
    async fn replace_meta(&self, key: &str, old: &str, new: &str) -> StoreResult<bool>;
}

/// Reads and transactions over the configured database.
#[async_trait]
pub trait Store: KeyMaterialStore + SubscriptionStore + Send + Sync + 'static {
    /// Which database this is.
    fn backend(&self) -> Backend;
    /// Applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// True when every migration shipped in this binary is applied.
    async fn migrations_applied(&self) -> StoreResult<bool>;
    /// A round trip to the database.
    async fn ping(&self) -> StoreResult<()>;
    /// Starts a write transaction.
    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>>;

    async fn get_meta(&self, key: &str) -> StoreResult<Option<String>>;

    async fn find_token_by_hash(&self, hash: &str) -> StoreResult<Option<TokenRow>>;
    /// A token by hash through the read cache: `(row, true)` when the row came from the cache,
    /// so its validity must be checked again where the request's audit row is committed
    /// (`insert_audit_checked`).
    async fn find_token_cached(&self, hash: &str) -> StoreResult<Option<(Arc<TokenRow>, bool)>>;
    async fn get_token(&self, tenant_id: &str, id: &str) -> StoreResult<Option<TokenRow>>;
    async fn list_tokens(
        &self,
        tenant_id: &str,
        after_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<TokenRow>>;
    /// How many tokens were ever created (revoked ones included), across all tenants.
    async fn count_tokens(&self) -> StoreResult<i64>;

    /// The live (not soft-deleted) secret at `path`.
    async fn get_secret(&self, tenant_id: &str, path: &str) -> StoreResult<Option<SecretRow>>;
    /// The secret at `path` even when soft-deleted (to say what a read cannot return).
    async fn get_secret_any_state(
        &self,
        tenant_id: &str,
        path: &str,
    ) -> StoreResult<Option<SecretRow>>;
    /// Per version of the secret at `path` (read since `since_us`, its creation): the last
    /// successful read and the distinct readers since `recent_us` (audit log).
    async fn version_reads(
        &self,
        tenant_id: &str,
        path: &str,
        since_us: i64,
        recent_us: i64,
    ) -> StoreResult<Vec<VersionReads>>;
    /// Who read `version` of `path` in `[from_us, to_us)` (audit log).
    async fn version_readers(
        &self,
        tenant_id: &str,
        path: &str,
        version: i64,
        from_us: i64,
        to_us: i64,
    ) -> StoreResult<VersionReaders>;
    /// A tenant's Vault mount (`secret` is built in and never stored).
    async fn get_mount(&self, tenant_id: &str, name: &str) -> StoreResult<Option<MountRow>>;
    /// One version of a secret (by secret id).
    async fn get_version(&self, secret_id: &str, version: i64) -> StoreResult<Option<VersionRow>>;
    /// A live secret with its current version (`version: None`) or version `n`, through the
    /// read cache. None when the secret or that version does not exist.
    async fn read_secret_cached(
        &self,
        tenant_id: &str,
        path: &str,
        version: Option<i64>,
    ) -> StoreResult<Option<SecretEntry>>;
    /// A secret's rotation schedule through the read cache.
    async fn get_schedule_cached(&self, secret_id: &str) -> StoreResult<Option<Arc<ScheduleRow>>>;
    /// A live secret and its current version in one round trip.
    async fn get_secret_with_current(
        &self,
        tenant_id: &str,
        path: &str,
    ) -> StoreResult<Option<(SecretRow, VersionRow)>>;
    /// Version summaries, newest first.
    async fn list_versions(&self, secret_id: &str) -> StoreResult<Vec<VersionInfo>>;
    async fn list_secrets(&self, q: &SecretListQuery) -> StoreResult<Vec<SecretRow>>;

    async fn get_webhook(&self, tenant_id: &str, id: &str) -> StoreResult<Option<WebhookRow>>;
    async fn list_webhooks(
        &self,
        tenant_id: &str,
        after_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<WebhookRow>>;
    /// Webhooks by id, any tenant (for the delivery worker).
    async fn webhooks_by_ids(&self, ids: &[String]) -> StoreResult<Vec<WebhookRow>>;
    /// Success/latency aggregates of deliveries finished since `since_us`.
    async fn webhook_stats(&self, webhook_id: &str, since_us: i64) -> StoreResult<WebhookStats>;
    async fn last_delivery(&self, webhook_id: &str) -> StoreResult<Option<DeliveryRow>>;
    async fn get_delivery(&self, tenant_id: &str, id: &str) -> StoreResult<Option<DeliveryRow>>;
    /// Deliveries of a webhook, newest first, optionally of one status, before cursor id.
    async fn list_deliveries(
        &self,
        webhook_id: &str,
        status: Option<DeliveryStatus>,
        before_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRow>>;
    /// Leases up to `limit` due pending deliveries until `lease_until_us`, skipping ones leased
    /// elsewhere and those of `exclude_webhooks` (endpoints already using their share).
    async fn claim_due_deliveries(
        &self,
        now_us: i64,
        lease_until_us: i64,
        limit: i64,
        exclude_webhooks: &[String],
    ) -> StoreResult<Vec<DeliveryRow>>;
    /// Gives claimed deliveries back (lease cleared) without an attempt.
    async fn release_deliveries(&self, ids: &[String]) -> StoreResult<()>;
    /// Records one attempt's outcome; false if the delivery was no longer pending (cancelled).
    async fn finish_attempt(&self, outcome: &AttemptRecord, audit: &AuditRow) -> StoreResult<bool>;
    /// Records many outcomes in one transaction (one commit for a whole batch of attempts).
    async fn finish_attempts(&self, items: &[(AttemptRecord, AuditRow)]) -> StoreResult<Vec<bool>>;
    /// How many deliveries are pending and when the oldest was created.
    async fn pending_deliveries(&self) -> StoreResult<(i64, Option<i64>)>;
    /// Rotations due and the oldest due scheduler event at `now_us` (all tenants).
    async fn scheduler_backlog(&self, now_us: i64) -> StoreResult<SchedulerBacklog>;

    async fn get_event(&self, id: &str) -> StoreResult<Option<EventRow>>;
    async fn events_by_ids(&self, ids: &[String]) -> StoreResult<Vec<EventRow>>;
    /// The tenant's events after `after_seq`, oldest first, with optional filters.
    async fn list_events(&self, q: &EventListQuery) -> StoreResult<Vec<EventRow>>;

    async fn get_policy(&self, tenant_id: &str, id: &str) -> StoreResult<Option<PolicyRow>>;
    async fn list_policies(
        &self,
        tenant_id: &str,
        active_only: bool,
        after_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<PolicyRow>>;
    async fn count_attached(&self, tenant_id: &str, policy_id: &str) -> StoreResult<i64>;
    /// The paths of the secrets attached to a policy.
    async fn attached_paths(&self, tenant_id: &str, policy_id: &str) -> StoreResult<Vec<String>>;
    async fn get_schedule(&self, secret_id: &str) -> StoreResult<Option<ScheduleRow>>;
    /// Schedules rotating by `until_us` or already pending/overdue, with their secret paths.
    async fn due_rotations(
        &self,
        tenant_id: &str,
        until_us: i64,
        policy_id: Option<&str>,
    ) -> StoreResult<Vec<(ScheduleRow, String)>>;
    async fn list_history(
        &self,
        tenant_id: &str,
        policy_id: &str,
        status: Option<RotationStatus>,
        before_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<HistoryRow>>;
    async fn history_by_due_event(&self, event_id: &str) -> StoreResult<Option<HistoryRow>>;

    async fn get_secret_policy(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<Option<SecretPolicyRow>>;
    /// A page of a tenant's secret policies by id.
    async fn list_secret_policies(
        &self,
        tenant_id: &str,
        after_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<SecretPolicyRow>>;

    /// Inserts audit rows outside any other transaction (reads, denials).
    async fn insert_audit(&self, rows: &[AuditRow]) -> StoreResult<()>;
    /// Inserts `rows` in one transaction that first checks the `tokens` (ids) still exist and
    /// are not revoked. If some are not, nothing is written and their ids are returned.
    async fn insert_audit_checked(
        &self,
        rows: &[AuditRow],
        tokens: &[String],
    ) -> StoreResult<Vec<String>>;
    /// Where the group-commit audit writer hands read and denial rows (taken once, when the
    /// writer starts, after `SqlStore::start_read_cache`).
    fn audit_sink(&self) -> AuditSink;
    /// Audit rows matching `q`, newest first.
    async fn list_audit(&self, q: &AuditQuery) -> StoreResult<Vec<AuditRow>>;
    /// Counts over the rows matching `q` (limit and cursor ignored).
    async fn audit_summary(&self, q: &AuditQuery) -> StoreResult<AuditSummary>;
    /// Seals up to `limit` unsealed rows in one transaction (one sealer per database at a time)
    /// with `audit::chain::row_hash`. Returns how many were sealed. When another sealer has the
    /// database's turn (another replica's pass), `wait` waits for it to commit and then seals
    /// what is left; otherwise this returns 0 at once, whatever is unsealed.
    async fn seal_audit(&self, limit: i64, wait: bool) -> StoreResult<usize>;
    /// Sealed rows from `from_seq` on, in chain order.
    async fn audit_chain(&self, from_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>>;
    /// Rows not yet sealed.
    async fn count_unsealed_audit(&self) -> StoreResult<i64>;
    /// Deletes sealed rows older than `before_us`, keeping the chain verifiable from the
    /// `anchor_key` meta entry (`{"seq","hash"}` of the last deleted row). Returns the count.
    async fn apply_audit_retention(&self, before_us: i64, anchor_key: &str) -> StoreResult<u64>;
}

/// One write transaction. Dropping it without `commit` rolls back.
#[async_trait]
pub trait StoreTx: SubscriptionTx + Send {
    async fn commit(self: Box<Self>) -> StoreResult<()>;

    async fn put_meta_if_absent(&mut self, key: &str, value: &str) -> StoreResult<()>;

    async fn insert_token(&mut self, t: &TokenRow) -> StoreResult<()>;
    /// Marks a token revoked; false when no such unrevoked token exists in the tenant.
    async fn revoke_token(&mut self, tenant_id: &str, id: &str, now_us: i64) -> StoreResult<bool>;
    /// Revokes every unrevoked token of `kind` except the one hashed `keep_hash` (e.g. the
    /// previous root token); returns the rows it revoked.
    async fn revoke_tokens_of_kind(
        &mut self,
        kind: TokenKind,
        keep_hash: &str,
        now_us: i64,
    ) -> StoreResult<Vec<TokenRow>>;
    /// Removes a token row by hash (to re-create the operator's root token with fresh fields).
    async fn delete_token_by_hash(&mut self, hash: &str) -> StoreResult<()>;

    /// The secret row at `path` (live or soft-deleted), locked for this transaction.
    async fn lock_secret(&mut self, tenant_id: &str, path: &str) -> StoreResult<Option<SecretRow>>;
    async fn insert_secret(&mut self, s: &SecretRow) -> StoreResult<()>;
    /// Writes every mutable field of the secret row.
    async fn update_secret(&mut self, s: &SecretRow) -> StoreResult<()>;
    async fn replace_tags(&mut self, secret_id: &str, tags: &[String]) -> StoreResult<()>;
    async fn insert_version(&mut self, v: &VersionRow) -> StoreResult<()>;
    /// Destroys versions `<= floor` that are not inside a grace period at `now_us`.
    async fn prune_versions(
        &mut self,
        secret_id: &str,
        floor: i64,
        now_us: i64,
    ) -> StoreResult<u64>;
    async fn count_versions(&mut self, secret_id: &str) -> StoreResult<i64>;
    /// Destroys a secret with all its versions and tags.
    async fn delete_secret(&mut self, secret_id: &str) -> StoreResult<()>;
    /// Every secret under `prefix` (live or soft-deleted), locked, by path.
    async fn lock_secrets_under(
        &mut self,
        tenant_id: &str,
        prefix: &str,
    ) -> StoreResult<Vec<SecretRow>>;
    async fn insert_mount(&mut self, m: &MountRow) -> StoreResult<()>;
    /// Locks up to `limit` versions whose grace period ended by `now_us`, not yet reported.
    async fn claim_grace_ended(&mut self, now_us: i64, limit: i64) -> StoreResult<Vec<GraceEnded>>;
    /// Marks a version's grace end as reported (its event is in this transaction).
    async fn mark_grace_reported(&mut self, secret_id: &str, version: i64) -> StoreResult<()>;
    /// True when the mount existed.
    async fn delete_mount(&mut self, tenant_id: &str, name: &str) -> StoreResult<bool>;

    async fn insert_audit(&mut self, row: &AuditRow) -> StoreResult<()>;
    /// The ids among `tokens` that are revoked or gone, read in this transaction (the audit
    /// writer's check of tokens the read cache served).
    async fn invalid_tokens(&mut self, tokens: &[String]) -> StoreResult<Vec<String>>;

    async fn insert_webhook(&mut self, w: &WebhookRow) -> StoreResult<()>;
    async fn update_webhook(&mut self, w: &WebhookRow) -> StoreResult<()>;
    /// Deletes a webhook; false when it did not exist in the tenant.
    async fn delete_webhook(&mut self, tenant_id: &str, id: &str) -> StoreResult<bool>;
    async fn cancel_pending_deliveries(
        &mut self,
        webhook_id: &str,
        now_us: i64,
    ) -> StoreResult<u64>;
    /// Enabled webhooks of a tenant, for routing a new event.
    async fn routable_webhooks(&mut self, tenant_id: &str) -> StoreResult<Vec<WebhookRow>>;
    /// Inserts the transaction's first event and takes the event-sequence lock with it, held
    /// until commit (seq order is commit order); later events use `insert_event`.
    async fn insert_first_event(&mut self, e: &EventRow) -> StoreResult<()>;
    async fn insert_event(&mut self, e: &EventRow) -> StoreResult<()>;
    async fn insert_delivery(&mut self, d: &DeliveryRow) -> StoreResult<()>;

    async fn get_policy(&mut self, tenant_id: &str, id: &str) -> StoreResult<Option<PolicyRow>>;
    /// A secret policy, locked for this transaction (a rotation policy naming it, or its
    /// deletion, waits for the other).
    async fn lock_secret_policy(
        &mut self,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<Option<SecretPolicyRow>>;
    /// A duplicate name is `StoreError::Conflict`.
    async fn insert_secret_policy(&mut self, p: &SecretPolicyRow) -> StoreResult<()>;
    /// A name taken by another policy is `StoreError::Conflict`.
    async fn update_secret_policy(&mut self, p: &SecretPolicyRow) -> StoreResult<()>;
    /// False when it did not exist.
    async fn delete_secret_policy(&mut self, tenant_id: &str, id: &str) -> StoreResult<bool>;
    /// The rotation policies that use a secret policy.
    async fn secret_policy_users(&mut self, tenant_id: &str, id: &str) -> StoreResult<Vec<String>>;
    async fn insert_policy(&mut self, p: &PolicyRow) -> StoreResult<()>;
    async fn update_policy(&mut self, p: &PolicyRow) -> StoreResult<()>;
    /// Deletes a policy and detaches its secrets; false when it did not exist.
    async fn delete_policy(&mut self, tenant_id: &str, id: &str) -> StoreResult<bool>;
    /// The secret's schedule, locked for this transaction.
    async fn lock_schedule(&mut self, secret_id: &str) -> StoreResult<Option<ScheduleRow>>;
    /// [`Store::attached_paths`] inside this transaction (a policy change authorizes on it).
    async fn attached_paths(
        &mut self,
        tenant_id: &str,
        policy_id: &str,
    ) -> StoreResult<Vec<String>>;
    async fn schedules_of_policy(
        &mut self,
        tenant_id: &str,
        policy_id: &str,
    ) -> StoreResult<Vec<ScheduleRow>>;
    async fn upsert_schedule(&mut self, s: &ScheduleRow) -> StoreResult<()>;
    async fn delete_schedule(&mut self, secret_id: &str) -> StoreResult<bool>;
    /// Locks up to `limit` schedules whose next event is due, skipping rows other replicas hold.
    async fn claim_due_schedules(
        &mut self,
        now_us: i64,
        limit: i64,
    ) -> StoreResult<Vec<ScheduleRow>>;
    async fn insert_history(&mut self, h: &HistoryRow) -> StoreResult<()>;
    async fn update_history(&mut self, h: &HistoryRow) -> StoreResult<()>;
    async fn get_history(&mut self, id: &str) -> StoreResult<Option<HistoryRow>>;
    async fn set_version_flags(
        &mut self,
        secret_id: &str,
        version: i64,
        is_rotation: Option<bool>,
        readable_until: Option<i64>,
    ) -> StoreResult<()>;
    async fn secret_by_id(&mut self, id: &str) -> StoreResult<Option<SecretRow>>;
    async fn get_expiry(&mut self, secret_id: &str) -> StoreResult<Option<ExpiryRow>>;
    async fn upsert_expiry(&mut self, e: &ExpiryRow) -> StoreResult<()>;
    async fn delete_expiry(&mut self, secret_id: &str) -> StoreResult<()>;
    /// Locks up to `limit` expiry rows whose next notice is due.
    async fn claim_due_expiry(&mut self, now_us: i64, limit: i64) -> StoreResult<Vec<ExpiryRow>>;
    /// The deliveries of an event as (webhook id, status).
    async fn event_delivery_states(
        &mut self,
        event_id: &str,
    ) -> StoreResult<Vec<(String, DeliveryStatus)>>;
}

/// Filters of an audit query; all optional but the tenant.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub tenant_id: String,
    pub from_us: Option<i64>,
    pub to_us: Option<i64>,
    pub actions: Vec<String>,
    pub identity_id: Option<String>,
    pub identity_type: Option<String>,
    pub path_prefix: Option<String>,
    pub exact_path: Option<String>,
    pub success: Option<bool>,
    pub source_ip: Option<String>,
    pub request_id: Option<String>,
    /// The caller's token path rules: only rows with a path inside them.
    pub path_rules: Vec<String>,
    /// Cursor: rows strictly older than this (ts, id).
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

/// Aggregates over audit rows.
#[derive(Debug, Clone, Default)]
pub struct AuditSummary {
    pub total: i64,
    pub successful: i64,
    pub unique_identities: i64,
    pub by_action: Vec<(String, i64)>,
}

/// Filters of the events feed.
#[derive(Debug, Clone, Default)]
pub struct EventListQuery {
    pub tenant_id: String,
    pub after_seq: i64,
    pub types: Vec<String>,
    pub path_prefix: Option<String>,
    pub limit: i64,
}

/// The outcome of one delivery attempt, as recorded.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub delivery_id: String,
    pub webhook_id: String,
    /// `Pending` (retry scheduled), `Success` or `Failed`.
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub response_code: Option<i64>,
    pub duration_ms: i64,
    pub last_error: Option<String>,
    pub now_us: i64,
    /// New webhook health, if it changes.
    pub webhook_health: Option<WebhookHealth>,
    /// Disable the webhook (410 Gone) with this reason.
    pub disable_reason: Option<String>,
}
