//! SQLite's audit appender: the group-commit writer's batches go through a connection of their
//! own, on a thread of their own, which seals each batch into the hash chain as it inserts it
//! (one IMMEDIATE transaction: token check, chain head, prepared single-row inserts). That
//! connection commits without fsync (`synchronous = NORMAL`); a second thread makes appended
//! batches durable with one `fdatasync` of the WAL file per group of callers. So the next
//! batch is being written while the previous one is being flushed, and the writer waits for
//! neither the `sqlx` worker hand-offs nor per-statement argument conversion.
//!
//! Durability: a caller of `append` may answer its request only after a later `sync` returned.
//! SQLite appends a commit's WAL frames with `write` before COMMIT returns; an `fdatasync` of
//! the WAL started after that makes them durable, as `synchronous = FULL` would have. The WAL
//! header written when SQLite starts reusing the file is synced by SQLite itself (NORMAL does
//! that), and checkpoints sync the database file.
//!
//! Callers in this process serialize their writes on the store's single writer connection (the
//! caller holds it while `append` runs), so this connection never busy-waits on its own
//! process; another process's writes are waited for with `busy_timeout`.

use super::errors::{StoreError, StoreResult};
use super::queries as q;
use super::rows::AuditRow;
use crate::audit::chain;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::oneshot;

/// How long the appender waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings of the appender's connection (the WAL mode itself is the database's, set by the
/// store's pools; `open` checks it).
const PRAGMAS: &str =
    "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 10000;";

/// One batch for the append thread.
struct AppendJob {
    rows: Vec<AuditRow>,
    tokens: Vec<String>,
    done: oneshot::Sender<StoreResult<Vec<String>>>,
}

/// One caller waiting for the WAL to be flushed.
type SyncWaiter = oneshot::Sender<Result<(), String>>;

/// Handle to the append and sync threads; they stop when it is closed or dropped.
pub struct SqliteAuditAppender {
    jobs: Mutex<Option<mpsc::Sender<AppendJob>>>,
    syncs: Mutex<Option<mpsc::Sender<SyncWaiter>>>,
}

impl std::fmt::Debug for SqliteAuditAppender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteAuditAppender")
            .finish_non_exhaustive()
    }
}

impl SqliteAuditAppender {
    /// Starts the threads for the database file `db` (opened at the first batch).
    pub fn start(db: PathBuf) -> StoreResult<Self> {
        let (jobs, job_rx) = mpsc::channel::<AppendJob>();
        let (syncs, sync_rx) = mpsc::channel::<SyncWaiter>();
        let wal = wal_path(&db);
        let spawned = |e: std::io::Error| {
            StoreError::Unavailable(format!("cannot start the audit appender thread: {e}"))
        };
        std::thread::Builder::new()
            .name("audit-append".into())
            .spawn(move || append_loop(&db, job_rx))
            .map_err(spawned)?;
        std::thread::Builder::new()
            .name("audit-sync".into())
            .spawn(move || sync_loop(&wal, sync_rx))
            .map_err(spawned)?;
        Ok(Self {
            jobs: Mutex::new(Some(jobs)),
            syncs: Mutex::new(Some(syncs)),
        })
    }

    /// Inserts `rows` sealed onto the chain, in one transaction that first checks the
    /// `tokens` are still valid; if some are not, nothing is written and their ids are
    /// returned. The rows are committed but durable only once a later `sync` returns.
    pub async fn append(
        &self,
        rows: Vec<AuditRow>,
        tokens: Vec<String>,
    ) -> StoreResult<Vec<String>> {
        let (done, wait) = oneshot::channel();
        let sent = lock(&self.jobs)
            .as_ref()
            .is_some_and(|tx| tx.send(AppendJob { rows, tokens, done }).is_ok());
        if !sent {
            return Err(stopped());
        }
        wait.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Returns once every batch appended before the call is durable.
    pub async fn sync(&self) -> StoreResult<()> {
        let (done, wait) = oneshot::channel();
        let sent = lock(&self.syncs)
            .as_ref()
            .is_some_and(|tx| tx.send(done).is_ok());
        if !sent {
            return Err(stopped());
        }
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Unavailable(format!(
                "cannot flush the audit log to disk: {e}"
            ))),
            Err(_) => Err(stopped()),
        }
    }

    /// Stops the threads once the queued work is done (the connection closes with them).
    pub fn close(&self) {
        lock(&self.jobs).take();
        lock(&self.syncs).take();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the audit appender has stopped".into())
}

/// The WAL file SQLite keeps beside `db`.
fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

fn append_loop(db: &Path, jobs: mpsc::Receiver<AppendJob>) {
    let mut conn: Option<Connection> = None;
    while let Ok(job) = jobs.recv() {
        let result = match conn.as_mut() {
            Some(c) => append(c, &job.rows, &job.tokens),
            None => open(db).and_then(|c| append(conn.insert(c), &job.rows, &job.tokens)),
        };
        if result.is_err() {
            // Open afresh for the next batch (the file may have been replaced or repaired).
            conn = None;
        }
        let _ = job.done.send(result);
    }
}

fn open(db: &Path) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(unavailable)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(unavailable)?;
    conn.execute_batch(PRAGMAS).map_err(unavailable)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .map_err(unavailable)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "the audit appender needs the database in WAL mode, found {mode}"
        )));
    }
    Ok(conn)
}

/// One batch: BEGIN IMMEDIATE (this connection holds the write lock, so the head read here is
/// the one the rows follow), token check, head, inserts, COMMIT.
fn append(conn: &mut Connection, rows: &[AuditRow], tokens: &[String]) -> StoreResult<Vec<String>> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(unavailable)?;
    let invalid = invalid_tokens(&tx, tokens)?;
    if !invalid.is_empty() {
        return Ok(invalid); // dropping `tx` rolls back
    }
    let links = chain::seal_onto(chain_head(&tx)?, rows);
    {
        let mut insert = tx
            .prepare_cached(&insert_sealed_sql())
            .map_err(unavailable)?;
        for (r, (seq, hash)) in rows.iter().zip(&links) {
            insert
                .execute(params![
                    r.id,
                    r.tenant_id,
                    r.ts,
                    r.action,
                    r.identity_type,
                    r.identity_id,
                    r.secret_path,
                    r.version,
                    r.source_ip,
                    r.user_agent,
                    r.success,
                    r.status_code,
                    r.duration_ms,
                    r.request_id,
                    r.extra_data,
                    seq,
                    hash,
                ])
                .map_err(store_error)?;
        }
    }
    tx.commit().map_err(unavailable)?;
    Ok(Vec::new())
}

/// `INSERT INTO audit_log (…, seq, hash) VALUES (?, …)` for one row.
fn insert_sealed_sql() -> String {
    let marks = vec!["?"; q::AUDIT_COL_COUNT + 2].join(", ");
    format!("{} VALUES ({marks})", q::AUDIT_INSERT_SEALED_HEAD)
}

/// The chain's last link: the last sealed row, else the retention anchor, else genesis.
fn chain_head(conn: &Connection) -> StoreResult<(i64, String)> {
    let last = conn
        .prepare_cached(q::AUDIT_CHAIN_HEAD)
        .and_then(|mut s| {
            s.query_row([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                .optional()
        })
        .map_err(unavailable)?;
    if let Some(head) = last {
        return Ok(head);
    }
    let anchor: Option<String> = conn
        .query_row(q::GET_META, [chain::ANCHOR_KEY], |r| r.get(0))
        .optional()
        .map_err(unavailable)?;
    Ok(chain::start_link(anchor.as_deref()))
}

/// The ids among `tokens` that are revoked or gone.
fn invalid_tokens(conn: &Connection, tokens: &[String]) -> StoreResult<Vec<String>> {
    if tokens.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "{}({})",
        q::VALID_TOKEN_IDS_IN,
        vec!["?"; tokens.len()].join(", ")
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(unavailable)?;
    let valid = stmt
        .query_map(rusqlite::params_from_iter(tokens), |r| {
            r.get::<_, String>(0)
        })
        .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
        .map_err(unavailable)?;
    Ok(super::audit_sql::not_in(tokens, &valid))
}

fn sync_loop(wal: &Path, waiters: mpsc::Receiver<SyncWaiter>) {
    let mut file: Option<File> = None;
    while let Ok(first) = waiters.recv() {
        // Everybody queued now appended before this flush starts: one fdatasync covers all.
        let mut group = vec![first];
        group.extend(waiters.try_iter());
        let result = sync_wal(wal, &mut file).map_err(|e| e.to_string());
        if result.is_err() {
            file = None;
        }
        for w in group {
            let _ = w.send(result.clone());
        }
    }
}

/// `fdatasync` of the WAL file, reopened when SQLite replaced it.
fn sync_wal(wal: &Path, cached: &mut Option<File>) -> std::io::Result<()> {
    let on_disk = std::fs::metadata(wal)?;
    let current = match cached.take() {
        Some(f) if f.metadata().is_ok_and(|m| same_file(&m, &on_disk)) => f,
        _ => File::open(wal)?,
    };
    let file = cached.insert(current);
    file.sync_data()
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    false
}

fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// A uniqueness violation is a conflict (an audit id written twice); the rest is unavailable.
fn store_error(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Conflict(e.to_string()),
        _ => unavailable(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wal_path_is_the_database_path_with_wal_appended() {
        assert_eq!(
            wal_path(Path::new("/data/scaivault.db")),
            PathBuf::from("/data/scaivault.db-wal")
        );
    }

    #[test]
    fn sync_follows_a_replaced_wal_file_and_reports_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("db-wal");
        std::fs::write(&wal, b"first").unwrap();
        let mut cached = None;
        sync_wal(&wal, &mut cached).unwrap();
        let first = cached.as_ref().unwrap().metadata().unwrap();

        // SQLite removed the file and made a new one (while the old one is still open here, so
        // the new one can't reuse its inode): the next sync must flush the new one.
        std::fs::remove_file(&wal).unwrap();
        std::fs::write(&wal, b"second").unwrap();
        sync_wal(&wal, &mut cached).unwrap();
        let second = cached.as_ref().unwrap().metadata().unwrap();
        assert!(!same_file(&first, &second));
        assert!(same_file(&second, &std::fs::metadata(&wal).unwrap()));

        // No WAL file at all is an error (the caller answers 503), not a silent success.
        std::fs::remove_file(&wal).unwrap();
        assert!(sync_wal(&wal, &mut cached).is_err());
    }
}
