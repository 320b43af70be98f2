//! The `Store` implementation over sqlx's `Any` driver: the pools, the write turn SQLite's
//! writers take, the read cache and the audit appender. The trait impls (`store_impl`,
//! `tx_impl`, `keys_impl`) delegate to the SQL of each aggregate in `sql/`, with what differs
//! per backend from `postgres`/`sqlite`.

use super::errors::{StoreError, StoreResult};
use super::read_cache::{Group, ReadCache};
use super::rows::AuditRow;
use super::sql::{self, Dialect};
use super::sqlite_audit::SqliteAuditAppender;
use super::{postgres, sqlite, Backend};
use sqlx::AnyPool;
use std::sync::Arc;

/// A store on PostgreSQL or SQLite.
#[derive(Clone)]
pub struct SqlStore {
    pub(super) backend: Backend,
    /// Write transactions (on SQLite: the single writer connection).
    pub(super) writer: AnyPool,
    /// Reads (on PostgreSQL the same pool as `writer`).
    pub(super) reader: AnyPool,
    /// Token and secret reads of the hot path (off until `start_read_cache`).
    pub(super) cache: Arc<ReadCache>,
    /// SQLite: the connection and threads that append and flush the audit writer's batches.
    pub(super) sqlite_audit: Option<Arc<SqliteAuditAppender>>,
    /// SQLite: this process's writers (the writer pool's users and the audit appender, which
    /// has a connection of its own) take turns here, in order, instead of meeting in SQLite's
    /// busy handler, which sleeps a millisecond or more per retry. None on PostgreSQL.
    write_gate: Option<Arc<WriteGate>>,
    /// PostgreSQL with `audit_durability = process`: the audit writer's batches commit here,
    /// on connections with `synchronous_commit = off` (None: on `writer`, durable).
    pub(super) audit_pool: Option<AnyPool>,
}

/// The lock SQLite writers of this process take turns on (see `SqlStore::write_gate`).
pub type WriteGate = tokio::sync::Mutex<()>;

/// A turn to write. SQLite connections commit without fsync (`synchronous = NORMAL`): a write
/// is durable once a WAL flush that started after its commit returned (`sqlite_audit` runs
/// them, one `fdatasync` for everyone waiting). So a writer commits on its turn, gives the turn
/// back, and then waits for that flush together with the other writers (`durable`).
pub(super) struct WriteTurn {
    gate: Option<tokio::sync::OwnedMutexGuard<()>>,
    wal: Option<Arc<SqliteAuditAppender>>,
}

impl WriteTurn {
    /// Ends the turn after a committed write; returns once the write is durable (at once on
    /// PostgreSQL, where a commit is durable when it returns).
    pub(super) async fn durable(self) -> StoreResult<()> {
        let WriteTurn { gate, wal } = self;
        drop(gate);
        match wal {
            Some(appender) => appender.sync().await,
            None => Ok(()),
        }
    }
}

impl SqlStore {
    /// Waits for this process's turn to write (SQLite; at once on PostgreSQL). Held until
    /// the write transaction ends; `WriteTurn::durable` then waits for the write to be durable.
    pub(super) async fn write_turn(&self) -> WriteTurn {
        WriteTurn {
            gate: match &self.write_gate {
                Some(gate) => Some(gate.clone().lock_owned().await),
                None => None,
            },
            wal: self.sqlite_audit.clone(),
        }
    }
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// Connects to the database a URL names (`postgres://…` or `sqlite://…`).
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url).ok_or_else(|| {
            StoreError::Unavailable(
                "the database URL must start with postgres:// or sqlite://".into(),
            )
        })?;
        let (writer, reader, sqlite_audit, write_gate) = match backend {
            Backend::Postgres => {
                let pool = postgres::connect(url, max_connections).await?;
                (pool.clone(), pool, None, None)
            }
            Backend::Sqlite => {
                let (writer, reader) = sqlite::connect(url, max_connections.max(2)).await?;
                let file = std::path::PathBuf::from(sqlite::database_file(url));
                let gate = Arc::new(WriteGate::new(()));
                let appender = SqliteAuditAppender::start(file, gate.clone())?;
                (writer, reader, Some(Arc::new(appender)), Some(gate))
            }
        };
        Ok(Self {
            backend,
            writer,
            reader,
            cache: Arc::new(ReadCache::new(1, Default::default())),
            sqlite_audit,
            write_gate,
            audit_pool: None,
        })
    }

    /// Turns on the read cache with room for `capacity` secrets (0: stays off). On SQLite it
    /// is on at once (this process is the only writer). On PostgreSQL a listener for other
    /// processes' commits starts (`cache_listener`): the cache is on while it is connected,
    /// and `on_events` runs when anyone stores events (waking this replica's long-polls).
    pub async fn start_read_cache(
        &mut self,
        url: &str,
        capacity: usize,
        on_events: super::cache_listener::Wake,
    ) {
        if capacity > 0 {
            self.cache = Arc::new(ReadCache::new(capacity, self.cache.stats.clone()));
        }
        match self.backend {
            Backend::Sqlite => self.cache.set_enabled(capacity > 0),
            Backend::Postgres => {
                super::cache_listener::start(
                    url.to_string(),
                    Arc::downgrade(&self.cache),
                    capacity > 0,
                    on_events,
                )
                .await
            }
        }
    }

    /// Sets when the audit writer's rows (reads, listings, denials) count as written:
    /// `Durable` once on disk (the default), `Process` once the database has them.
    pub async fn set_audit_durability(
        &mut self,
        url: &str,
        mode: crate::config::AuditDurability,
    ) -> StoreResult<()> {
        if mode == crate::config::AuditDurability::Durable {
            return Ok(());
        }
        match self.backend {
            Backend::Sqlite => {
                if let Some(a) = &self.sqlite_audit {
                    a.answer_before_flush();
                }
            }
            Backend::Postgres => self.audit_pool = Some(postgres::connect_async_commit(url).await?),
        }
        Ok(())
    }

    /// The read cache (for its statistics).
    pub fn read_cache(&self) -> &Arc<ReadCache> {
        &self.cache
    }

    pub(super) fn dialect(&self) -> &'static Dialect {
        match self.backend {
            Backend::Postgres => &postgres::DIALECT,
            Backend::Sqlite => &sqlite::DIALECT,
        }
    }

    pub(super) fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.backend {
            Backend::Postgres => &postgres::MIGRATOR,
            Backend::Sqlite => &sqlite::MIGRATOR,
        }
    }

    /// Closes both pools.
    pub async fn close(&self) {
        if let Some(a) = &self.sqlite_audit {
            a.close();
        }
        self.writer.close().await;
        self.reader.close().await;
    }

    /// Writes audit rows outside any other transaction after checking the `tokens` are still
    /// valid (else nothing is written and the invalid ones are returned); durable once a later
    /// `sync_audit` returns.
    pub(super) async fn append_audit_checked(
        &self,
        rows: Vec<AuditRow>,
        tokens: Vec<String>,
    ) -> StoreResult<Vec<String>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let invalid = match &self.sqlite_audit {
            // Sealed as they are inserted, on the appender's own connection, which takes its
            // turn on the write gate like this process's other writers.
            Some(appender) => appender.append(rows, tokens).await?,
            // Several batches commit at once (and other replicas write): the sealer chains.
            None => {
                sql::audit::append_checked(&self.writer, self.dialect().begin_write, &rows, &tokens)
                    .await?
            }
        };
        if !invalid.is_empty() {
            self.cache.invalidate(Group::Tokens);
        }
        Ok(invalid)
    }

    /// Returns once every audit row appended before the call is durable.
    pub(super) async fn sync_audit(&self) -> StoreResult<()> {
        match &self.sqlite_audit {
            Some(appender) => appender.sync().await,
            // A PostgreSQL commit is durable when it returns.
            None => Ok(()),
        }
    }
}
