//! Persistence behind one trait. Handlers and domain code speak to `Store` and `StoreTx` in
//! domain terms; SQL lives only in this folder. PostgreSQL and SQLite share query text
//! (`queries`), and each backend module holds what differs: connection set-up, migrations,
//! row locking.

mod backend;
mod errors;
mod postgres;
mod queries;
pub mod rows;
mod sql_store;
mod sqlite;

pub use backend::Backend;
pub use errors::{StoreError, StoreResult};
pub use rows::*;
pub use sql_store::SqlStore;

use async_trait::async_trait;

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

/// Reads and transactions over the configured database.
#[async_trait]
pub trait Store: Send + Sync + 'static {
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
    /// One version of a secret (by secret id).
    async fn get_version(&self, secret_id: &str, version: i64) -> StoreResult<Option<VersionRow>>;
    /// A live secret and its current version in one round trip.
    async fn get_secret_with_current(
        &self,
        tenant_id: &str,
        path: &str,
    ) -> StoreResult<Option<(SecretRow, VersionRow)>>;
    /// Version summaries, newest first.
    async fn list_versions(&self, secret_id: &str) -> StoreResult<Vec<VersionInfo>>;
    async fn list_secrets(&self, q: &SecretListQuery) -> StoreResult<Vec<SecretRow>>;

    /// Inserts audit rows outside any other transaction (reads, denials).
    async fn insert_audit(&self, rows: &[AuditRow]) -> StoreResult<()>;
    /// Audit rows of a tenant, newest first (query API comes with the audit issue).
    async fn list_audit_for_path(
        &self,
        tenant_id: &str,
        path: &str,
        limit: i64,
    ) -> StoreResult<Vec<AuditRow>>;
}

/// One write transaction. Dropping it without `commit` rolls back.
#[async_trait]
pub trait StoreTx: Send {
    async fn commit(self: Box<Self>) -> StoreResult<()>;

    async fn put_meta_if_absent(&mut self, key: &str, value: &str) -> StoreResult<()>;

    async fn insert_token(&mut self, t: &TokenRow) -> StoreResult<()>;
    /// Marks a token revoked; false when no such unrevoked token exists in the tenant.
    async fn revoke_token(&mut self, tenant_id: &str, id: &str, now_us: i64) -> StoreResult<bool>;
    /// Revokes every unrevoked token of `kind` (e.g. the previous dev root token).
    async fn revoke_tokens_of_kind(&mut self, kind: &str, now_us: i64) -> StoreResult<u64>;
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

    async fn insert_audit(&mut self, row: &AuditRow) -> StoreResult<()>;
}
