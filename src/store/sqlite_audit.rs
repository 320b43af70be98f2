//! SQLite's audit appender: read and denial rows go straight from the request to a thread that
//! owns a connection of its own (`sqlite_audit_tx`). It takes whatever rows have queued up,
//! seals them into the hash chain as it inserts them in one transaction committed without
//! fsync (`synchronous = NORMAL`), and hands the group to a second thread, which makes it
//! durable with one `fdatasync` of the WAL file for every group committed before that flush
//! started, and only then answers the group's requests. So the next group is written while
//! the previous one is being flushed, and a row passes two thread hand-offs on its way, not
//! the async writer task's and `sqlx` worker's.
//!
//! Durability: SQLite appends a commit's WAL frames with `write` before COMMIT returns; an
//! `fdatasync` of the WAL started after that makes them durable, as `synchronous = FULL`
//! would have. The WAL header written when SQLite starts reusing the file is synced by SQLite
//! itself (NORMAL does that), and checkpoints sync the database file.
//!
//! The appender writes only on its turn on the store's write gate, like this process's other
//! writers, so it never busy-waits on its own process; another process's write lock is waited
//! for in short steps.

use super::errors::{StoreError, StoreResult};
use super::rows::AuditRow;
use super::sql_store::WriteGate;
use super::sqlite_audit_tx::{append, open, AppendConn};
use crate::audit::writer::{batch_rows, AuditError, Job, WriterStats};
use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::Instant;
use tokio::sync::oneshot;

/// Most rows the append thread takes into one transaction.
const MAX_GROUP_ROWS: usize = 1000;

/// A batch appended without its durability (`SqliteAuditAppender::append`).
struct Batch {
    rows: Vec<AuditRow>,
    tokens: Vec<String>,
    done: oneshot::Sender<StoreResult<Vec<String>>>,
}

/// What the append thread is given.
enum Work {
    Request(Job),
    Batch(Batch),
}

/// A request's reply channel and its outcome, sent once the WAL is flushed.
type Answer = (
    oneshot::Sender<Result<(), AuditError>>,
    Result<(), AuditError>,
);

/// What the sync thread is given.
enum Flush {
    /// A group of requests whose rows were committed when `started` was read.
    Group {
        answers: Vec<Answer>,
        rows: usize,
        started: Instant,
    },
    /// A caller of `sync`.
    Waiter(oneshot::Sender<Result<(), String>>),
}

/// Handle to the append and sync threads; they stop when it is closed or dropped.
pub struct SqliteAuditAppender {
    work: Mutex<Option<mpsc::Sender<Work>>>,
    flushes: Mutex<Option<mpsc::Sender<Flush>>>,
    stats: Arc<OnceLock<Arc<WriterStats>>>,
    /// `audit_durability = process`: requests are answered once their group committed,
    /// without waiting for the WAL flush.
    before_flush: Arc<AtomicBool>,
}

impl std::fmt::Debug for SqliteAuditAppender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteAuditAppender")
            .finish_non_exhaustive()
    }
}

impl SqliteAuditAppender {
    /// Starts the threads for the database file `db` (opened at the first batch); the append
    /// thread writes on its turn on `gate`.
    pub fn start(db: PathBuf, gate: Arc<WriteGate>) -> StoreResult<Self> {
        let (work, work_rx) = mpsc::channel::<Work>();
        let (flushes, flush_rx) = mpsc::channel::<Flush>();
        let stats: Arc<OnceLock<Arc<WriterStats>>> = Arc::default();
        let wal = wal_path(&db);
        let spawned = |e: std::io::Error| {
            StoreError::Unavailable(format!("cannot start the audit appender thread: {e}"))
        };
        let to_flush = flushes.clone();
        let before_flush: Arc<AtomicBool> = Arc::default();
        let answer = Answering {
            before_flush: before_flush.clone(),
            stats: stats.clone(),
        };
        std::thread::Builder::new()
            .name("audit-append".into())
            .spawn(move || append_loop(&db, &gate, work_rx, to_flush, &answer))
            .map_err(spawned)?;
        let flush_stats = stats.clone();
        std::thread::Builder::new()
            .name("audit-sync".into())
            .spawn(move || sync_loop(&wal, flush_rx, &flush_stats))
            .map_err(spawned)?;
        Ok(Self {
            work: Mutex::new(Some(work)),
            flushes: Mutex::new(Some(flushes)),
            stats,
            before_flush,
        })
    }

    /// From now on, answer each request once its rows are committed to the WAL, without
    /// waiting for the WAL's `fdatasync` (`audit_durability = process`: the rows survive a
    /// crash of this process, not of the machine). Writes still wait for the flush.
    pub fn answer_before_flush(&self) {
        self.before_flush.store(true, Ordering::Relaxed);
    }

    /// Where the group statistics of `submit`ted rows are counted (once; later calls are
    /// ignored).
    pub fn count_into(&self, stats: Arc<WriterStats>) {
        let _ = self.stats.set(stats);
    }

    /// Hands one request's rows to the append thread; `job.done` gets the outcome once they
    /// are durable (or could not be written). Fails if the threads have stopped.
    pub fn submit(&self, job: Job) -> Result<(), AuditError> {
        let sent = lock(&self.work)
            .as_ref()
            .is_some_and(|tx| tx.send(Work::Request(job)).is_ok());
        if sent {
            Ok(())
        } else {
            Err(AuditError::Unavailable(stopped().to_string()))
        }
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
        let sent = lock(&self.work)
            .as_ref()
            .is_some_and(|tx| tx.send(Work::Batch(Batch { rows, tokens, done })).is_ok());
        if !sent {
            return Err(stopped());
        }
        wait.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Returns once every batch appended before the call is durable.
    pub async fn sync(&self) -> StoreResult<()> {
        let (done, wait) = oneshot::channel();
        let sent = lock(&self.flushes)
            .as_ref()
            .is_some_and(|tx| tx.send(Flush::Waiter(done)).is_ok());
        if !sent {
            return Err(stopped());
        }
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Unavailable(flush_failed(&e))),
            Err(_) => Err(stopped()),
        }
    }

    /// Stops the threads once the queued work is done (the connection closes with them).
    pub fn close(&self) {
        lock(&self.work).take();
        lock(&self.flushes).take();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the audit appender has stopped".into())
}

fn flush_failed(e: &str) -> String {
    format!("cannot flush the audit log to disk: {e}")
}

/// The WAL file SQLite keeps beside `db`.
fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// When the append thread answers a group's requests.
struct Answering {
    before_flush: Arc<AtomicBool>,
    stats: Arc<OnceLock<Arc<WriterStats>>>,
}

fn append_loop(
    db: &Path,
    gate: &WriteGate,
    work: mpsc::Receiver<Work>,
    flushes: mpsc::Sender<Flush>,
    answering: &Answering,
) {
    let mut conn: Option<AppendConn> = None;
    let mut next: Option<Work> = None;
    loop {
        let first = match next.take() {
            Some(w) => w,
            None => match work.recv() {
                Ok(w) => w,
                Err(_) => return,
            },
        };
        match first {
            Work::Batch(b) => {
                let result = {
                    let _turn = gate.blocking_lock();
                    with_conn(db, &mut conn, |c| append(c, &b.rows, &b.tokens))
                };
                let _ = b.done.send(result);
            }
            Work::Request(job) => {
                // Everything queued meanwhile joins this group (up to MAX_GROUP_ROWS).
                let mut group = vec![job];
                let mut queued = group[0].rows.len();
                while queued < MAX_GROUP_ROWS {
                    match work.try_recv() {
                        Ok(Work::Request(j)) => {
                            queued += j.rows.len();
                            group.push(j);
                        }
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let started = Instant::now();
                let (outcomes, rows) = {
                    let _turn = gate.blocking_lock();
                    append_group(db, &mut conn, &group)
                };
                let answers: Vec<Answer> =
                    group.into_iter().map(|j| j.done).zip(outcomes).collect();
                if rows == 0 || answering.before_flush.load(Ordering::Relaxed) {
                    // Nothing was committed (the store failed): nothing to flush. Or the
                    // process durability mode: committed is enough.
                    if rows > 0 {
                        if let Some(s) = answering.stats.get() {
                            s.record_batch(rows, started.elapsed().as_secs_f64());
                        }
                    }
                    for (done, outcome) in answers {
                        let _ = done.send(outcome);
                    }
                    continue;
                }
                let group = Flush::Group {
                    answers,
                    rows,
                    started,
                };
                if let Err(mpsc::SendError(Flush::Group { answers, .. })) = flushes.send(group) {
                    for (done, _) in answers {
                        let _ = done.send(Err(AuditError::Unavailable(stopped().to_string())));
                    }
                }
            }
        }
    }
}

/// Runs `f` on the connection, opening it first if needed; after an error the connection is
/// opened afresh for the next batch (the file may have been replaced or repaired).
fn with_conn<T>(
    db: &Path,
    conn: &mut Option<AppendConn>,
    f: impl FnOnce(&mut AppendConn) -> StoreResult<T>,
) -> StoreResult<T> {
    let result = match conn.as_mut() {
        Some(c) => f(c),
        None => open(db).and_then(|c| f(conn.insert(c))),
    };
    if result.is_err() {
        *conn = None;
    }
    result
}

/// Writes the group's rows in one transaction that checks the cached tokens. A request whose
/// token turns out revoked gets one denial row instead of its rows (the row the auth check
/// writes for a revoked token), and the group is written again. Returns each request's
/// outcome and the number of rows committed (0 if the store failed).
fn append_group(
    db: &Path,
    conn: &mut Option<AppendConn>,
    group: &[Job],
) -> (Vec<Result<(), AuditError>>, usize) {
    let mut revoked: HashSet<String> = HashSet::new();
    loop {
        let (rows, check) = batch_rows(group, &revoked);
        match with_conn(db, conn, |c| append(c, &rows, &check)) {
            Ok(bad) if bad.is_empty() => {
                let outcomes = group.iter().map(|j| j.outcome(&revoked)).collect();
                return (outcomes, rows.len());
            }
            Ok(bad) => revoked.extend(bad),
            Err(e) => {
                let failed = AuditError::from_store(&e);
                return (group.iter().map(|_| Err(failed.clone())).collect(), 0);
            }
        }
    }
}

fn sync_loop(wal: &Path, flushes: mpsc::Receiver<Flush>, stats: &OnceLock<Arc<WriterStats>>) {
    let mut file: Option<File> = None;
    while let Ok(first) = flushes.recv() {
        // Everything queued now was committed before this flush starts: one fdatasync covers
        // it all.
        let mut pending = vec![first];
        pending.extend(flushes.try_iter());
        let result = sync_wal(wal, &mut file).map_err(|e| e.to_string());
        if result.is_err() {
            file = None;
        }
        for flush in pending {
            match flush {
                Flush::Waiter(w) => {
                    let _ = w.send(result.clone());
                }
                Flush::Group {
                    answers,
                    rows,
                    started,
                } => match &result {
                    Ok(()) => {
                        if let Some(s) = stats.get() {
                            s.record_batch(rows, started.elapsed().as_secs_f64());
                        }
                        for (done, outcome) in answers {
                            let _ = done.send(outcome);
                        }
                    }
                    Err(e) => {
                        let failed = AuditError::Unavailable(flush_failed(e));
                        for (done, _) in answers {
                            let _ = done.send(Err(failed.clone()));
                        }
                    }
                },
            }
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
