//! SQLite, the embedded default: WAL mode, one writer connection (SQLite has one writer at a
//! time; queueing in the pool beats busy-retries), several reader connections. Commits do not
//! fsync (`synchronous = NORMAL`): a writer waits for a shared WAL flush after its commit
//! instead (`WriteTurn::durable`, `sqlite_audit`), so concurrent writes share one `fdatasync`
//! and none holds the write lock while the disk flushes. The audit appender (`sqlite_audit`)
//! has a connection of its own and takes its turn on the store's write gate like the rest.

use super::errors::{StoreError, StoreResult};
use super::sql::Dialect;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::AnyPool;
use sqlx::Executor;
use std::time::Duration;

/// Migrations in the SQLite dialect.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// What SQLite's SQL does differently: `BEGIN IMMEDIATE`, and no row locks (the single writer
/// connection serializes write transactions, event inserts and claims).
pub static DIALECT: Dialect = Dialect {
    begin_write: "BEGIN IMMEDIATE",
    lock_row: "",
    skip_locked: "",
    try_lock_sealer: None,
    lock_sealer: None,
    insert_event_locking: None,
    claim_deliveries: concat!(
        "UPDATE deliveries SET lease_until = $2 WHERE id IN (SELECT id FROM deliveries \
         WHERE status = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1) \
         {exclude} ORDER BY next_attempt_at LIMIT $3) RETURNING ",
        super::sql::deliveries::delivery_cols!()
    ),
};

/// `wal_autocheckpoint` is only a backstop (40 MB of WAL): checkpoints normally run in the
/// background (`checkpoint_loop`), so a request's commit never pays for copying the WAL.
const PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 10000;";

/// How often the background checkpoint runs.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Opens the writer pool (one connection) and the reader pool over the same file.
pub async fn connect(url: &str, readers: u32) -> StoreResult<(AnyPool, AnyPool)> {
    let url = prepare_url(url)?;
    let writer = options(1).connect(&url).await?;
    let reader = options(readers).connect(&url).await?;
    // The WAL and shared-memory files exist now: make sure none is looser than the database.
    super::sqlite_files::tighten(std::path::Path::new(database_file(&url)))
        .map_err(|e| StoreError::Unavailable(format!("cannot restrict the database files: {e}")))?;
    tokio::spawn(checkpoint_loop(reader.clone()));
    Ok((writer, reader))
}

/// Copies committed WAL frames into the database file from a reader connection (PASSIVE:
/// never waits for or blocks the writer), until the pool is closed.
async fn checkpoint_loop(pool: AnyPool) {
    loop {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::debug!(error.cause = %e, "background WAL checkpoint failed");
        }
    }
}

fn options(max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire(false)
        .before_acquire(super::pool_health::outside_transaction)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(PRAGMAS).await?;
                Ok(())
            })
        })
}

/// The URL after its scheme.
fn url_rest(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

/// The database file a `sqlite://` URL names (empty or `:memory:` when it names none).
pub fn database_file(url: &str) -> &str {
    let rest = url_rest(url);
    rest.split('?').next().unwrap_or(rest)
}

/// Creates the database folder (`0700`) and file (`0600`) when missing (`sqlite_files`).
fn prepare_url(url: &str) -> StoreResult<String> {
    let rest = url_rest(url);
    let file = database_file(url);
    if file.is_empty() || file == ":memory:" {
        return Err(StoreError::Unavailable(
            "an in-memory SQLite database would lose every secret at exit; name a file".into(),
        ));
    }
    super::sqlite_files::prepare(std::path::Path::new(file)).map_err(|e| {
        StoreError::Unavailable(format!("cannot prepare the database file {file}: {e}"))
    })?;
    if rest.contains("mode=") {
        Ok(format!("sqlite://{rest}"))
    } else if rest.contains('?') {
        Ok(format!("sqlite://{rest}&mode=rwc"))
    } else {
        Ok(format!("sqlite://{rest}?mode=rwc"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::{Any, Database, TransactionManager};

    /// The state a failed COMMIT and ROLLBACK leave (SQLite after a full disk): a pooled
    /// connection whose transaction count is still 1. The next write must get a usable
    /// connection, not "begin_with at non-zero transaction depth" for ever.
    #[tokio::test]
    async fn a_connection_left_inside_a_transaction_is_replaced() {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let (writer, _reader) = connect(&url, 1).await.unwrap();
        let mut conn = writer.acquire().await.unwrap();
        <Any as Database>::TransactionManager::begin(&mut conn, Some("BEGIN IMMEDIATE".into()))
            .await
            .unwrap();
        // Back to the pool without COMMIT or ROLLBACK, as after both failed.
        drop(conn);
        let mut tx = writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .expect("a fresh connection");
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
}
