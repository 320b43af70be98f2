//! Where the group-commit audit writer (`audit::writer`) hands read and denial rows: the store
//! hands out one `AuditSink` when the writer starts (`Store::audit_sink`).

use super::errors::StoreResult;
use super::read_cache::{Group, ReadCache};
use super::rows::AuditRow;
use super::sql;
use super::sql::audit_sealed::Head;
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
    /// The store's read cache (tokens found revoked drop the cached ones).
    pub(super) cache: Arc<ReadCache>,
    /// The head the last batch left, while it is known: the next batch is sealed onto it
    /// here, and the database seals it again only if the head has moved since.
    pub(super) head: Arc<Mutex<Option<Head>>>,
}

impl std::fmt::Debug for AuditBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditBatches").finish_non_exhaustive()
    }
}

impl AuditBatches {
    /// Batches committing at once: one. The database can seal a batch after taking the
    /// sealer's lock (`sql::audit_sealed`), so two could be in flight (the second would wait,
    /// parsed, for the lock, and be sealed there), but measured that way (2026-12-06,
    /// PostgreSQL, c16, every batch sealed in the database) reads were
    /// 10-25 % slower: the batches were smaller (5 rows, not 8) and cost more CPU per read,
    /// while the part each batch holds the lock for (head, seal, insert, flush) stayed serial.
    pub fn in_flight(&self) -> usize {
        IN_FLIGHT
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
        // Taken: after an error the database's head is used.
        let after = self.remembered().take();
        match sql::audit_sealed::append_sealing(&self.writer, after.as_ref(), &rows, &tokens)
            .await?
        {
            Ok(left) => {
                *self.remembered() = Some(left);
                Ok(Vec::new())
            }
            Err(invalid) => {
                *self.remembered() = after;
                self.cache.invalidate(Group::Tokens);
                Ok(invalid)
            }
        }
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, Option<Head>> {
        self.head.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// See `AuditBatches::in_flight`.
const IN_FLIGHT: usize = 1;
