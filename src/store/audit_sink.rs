//! Where the group-commit audit writer (`audit::writer`) hands read and denial rows: the store
//! hands out one `AuditSink` when the writer starts (`Store::audit_sink`).

use super::errors::StoreResult;
use super::read_cache::{Group, ReadCache};
use super::rows::AuditRow;
use super::sql;
use super::sqlite_audit::SqliteAuditAppender;
use sqlx::AnyPool;
use std::sync::Arc;

/// The audit writer's way into the database.
#[derive(Clone, Debug)]
pub enum AuditSink {
    /// SQLite: the appender thread groups, seals, commits and flushes rows itself; each
    /// request's rows go straight to it.
    Appender(Arc<SqliteAuditAppender>),
    /// PostgreSQL: the writer groups requests into batches and commits several at once here.
    Batches(AuditBatches),
}

/// PostgreSQL's side of the audit writer: commits a batch of rows, sealed onto the chain,
/// through the store's writer pool (or the `process` durability pool), after checking the
/// tokens the read cache served.
#[derive(Clone)]
pub struct AuditBatches {
    pub(super) writer: AnyPool,
    /// The dialect's `BEGIN` (for batches too large for one statement).
    pub(super) begin: &'static str,
    /// The store's read cache (tokens found revoked drop the cached ones).
    pub(super) cache: Arc<ReadCache>,
    /// The sealer's lock: batches are sealed as they are inserted (`sql::audit_sealed`).
    pub(super) seal_lock: &'static str,
}

impl std::fmt::Debug for AuditBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditBatches").finish_non_exhaustive()
    }
}

impl AuditBatches {
    /// Batches committing at once: one, as each holds the sealer's lock until it commits (the
    /// next batch grows meanwhile).
    pub fn in_flight(&self) -> usize {
        1
    }

    /// Writes `rows` (unsealed: the sealer chains them) in one transaction that first checks
    /// the `tokens` (ids) still exist and are not revoked. If some are not, nothing is written
    /// and their ids are returned. Durable when it returns (a PostgreSQL commit is), but with
    /// `audit_durability = process`, when the database has the rows.
    pub async fn append_checked(
        &self,
        rows: Vec<AuditRow>,
        tokens: Vec<String>,
    ) -> StoreResult<Vec<String>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let invalid = sql::audit_sealed::append_sealed(
            &self.writer,
            self.begin,
            self.seal_lock,
            &rows,
            &tokens,
        )
        .await?;
        if !invalid.is_empty() {
            self.cache.invalidate(Group::Tokens);
        }
        Ok(invalid)
    }
}
