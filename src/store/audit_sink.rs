//! Where the group-commit audit writer (`audit::writer`) hands read and denial rows: the store
//! hands out one `AuditSink` when the writer starts (`Store::audit_sink`).

use super::errors::StoreResult;
use super::read_cache::{Group, ReadCache};
use super::rows::AuditRow;
use super::sql;
use super::sql::audit_sealed::{Appended, Head};
use super::sqlite_audit::SqliteAuditAppender;
use sqlx::AnyPool;
use std::sync::{Arc, Mutex};

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
    /// The head the last batch left, while it is known (`sql::audit_sealed::append_after`).
    pub(super) head: Arc<Mutex<Option<Head>>>,
}

impl std::fmt::Debug for AuditBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditBatches").finish_non_exhaustive()
    }
}

impl AuditBatches {
    /// Batches committing at once: one, as each holds the sealer's lock until it commits (the
    /// next batch grows meanwhile). Two were tried, the second sealed onto the head the first
    /// would leave: whenever the second reached the lock first, or the first was resealed, the
    /// batch after had to be resealed too, and so on down the line; 30 % fewer reads per second.
    pub fn in_flight(&self) -> usize {
        1
    }

    /// Writes `rows`, sealed onto the chain, in one transaction that first checks the `tokens`
    /// (ids) still exist and are not revoked. If some are not, nothing is written and their ids
    /// are returned. Durable when it returns (a PostgreSQL commit is), but with
    /// `audit_durability = process`, when the database has the rows.
    pub async fn append_checked(
        &self,
        rows: Vec<AuditRow>,
        tokens: Vec<String>,
    ) -> StoreResult<Vec<String>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        // Taken: after an error the head is read afresh.
        let after = self.remembered().take();
        let invalid = match self.append(after.clone(), &rows, &tokens).await? {
            Ok(left) => {
                *self.remembered() = Some(left);
                return Ok(Vec::new());
            }
            Err(invalid) => invalid,
        };
        *self.remembered() = after;
        self.cache.invalidate(Group::Tokens);
        Ok(invalid)
    }

    /// One round trip after the head the last batch left (sealed again once if another writer
    /// moved it: other replicas' batches, the sealer sealing writes); without one, or if it
    /// moved again, the transaction that reads it under the lock. The head the rows left, or
    /// the invalid tokens (nothing written then).
    async fn append(
        &self,
        mut after: Option<Head>,
        rows: &[AuditRow],
        tokens: &[String],
    ) -> StoreResult<Result<Head, Vec<String>>> {
        for _ in 0..2 {
            let Some(h) = after.take() else { break };
            let links = crate::audit::chain::seal_onto(h.clone(), rows);
            match sql::audit_sealed::append_after(&self.writer, &h, &links, rows, tokens).await? {
                Appended::Written(left) => return Ok(Ok(left)),
                Appended::Invalid(ids) => return Ok(Err(ids)),
                Appended::Moved(now) => after = now,
            }
        }
        sql::audit_sealed::append_sealed(&self.writer, self.begin, self.seal_lock, rows, tokens)
            .await
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, Option<Head>> {
        self.head.lock().unwrap_or_else(|e| e.into_inner())
    }
}
