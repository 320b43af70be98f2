//! The group-commit audit writer: request handlers hand their rows over, and whatever has
//! queued up is inserted in one transaction; each waiter is woken only after that commit is
//! durable. Many concurrent reads share one commit (one fsync), and no response goes out before
//! its row is durable; if the store is down, every waiter gets the error (the request fails
//! closed).
//!
//! Where rows go is the store's `AuditSink`. On PostgreSQL the rows go to one task here, which
//! commits one batch at a time, sealed onto the hash chain as it is inserted under the
//! sealer's lock (`store::sql::audit_sealed`), so the next batch fills while the previous one
//! commits. On SQLite they go straight to the store's audit appender thread
//! (`store::SqliteAuditAppender`), which groups, seals, commits and flushes them the same way
//! with one writer and without a task in between.

use crate::store::{AuditBatches, AuditRow, AuditSink, SqliteAuditAppender, Store, StoreError};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Largest batch written in one transaction.
const MAX_BATCH_ROWS: usize = 1000;

/// One request's rows, the token to check again if it came from the read cache, and the
/// request waiting for the commit (to the writer task, or to SQLite's appender thread).
pub struct Job {
    pub rows: Vec<AuditRow>,
    pub recheck: Option<Recheck>,
    pub done: oneshot::Sender<Result<(), AuditError>>,
}

impl Job {
    /// This request's outcome once its batch, written with `revoked` tokens, committed.
    pub fn outcome(&self, revoked: &HashSet<String>) -> Result<(), AuditError> {
        match &self.recheck {
            Some(r) if revoked.contains(&r.token_id) => Err(AuditError::TokenRevoked),
            _ => Ok(()),
        }
    }
}

/// The rows one transaction writes for `jobs`, and the cached tokens it must check first. A job
/// whose token is in `revoked` gets one denial row instead of its rows.
pub fn batch_rows(jobs: &[Job], revoked: &HashSet<String>) -> (Vec<AuditRow>, Vec<String>) {
    let mut check: Vec<String> = Vec::new();
    let mut rows: Vec<AuditRow> = Vec::with_capacity(jobs.len());
    for job in jobs {
        match &job.recheck {
            Some(r) if revoked.contains(&r.token_id) => {
                if let Some(first) = job.rows.first() {
                    rows.push(denial(first.clone(), &r.request_path));
                }
                continue;
            }
            Some(r) if !check.contains(&r.token_id) => check.push(r.token_id.clone()),
            _ => {}
        }
        rows.extend(job.rows.iter().cloned());
    }
    (rows, check)
}

/// A token the read cache served, to be checked where the request's rows commit.
#[derive(Debug, Clone)]
pub struct Recheck {
    pub token_id: String,
    /// The request's URI path, for the denial row written if the token is no longer valid.
    pub request_path: String,
}

/// Why rows were not written.
#[derive(Debug, Clone)]
pub enum AuditError {
    /// The store failed (the request fails closed with 503).
    Unavailable(String),
    /// The database's disk is full (the request fails closed with 507, like a write).
    Full(String),
    /// The request's token was revoked or deleted after the read cache loaded it; a denial row
    /// was written instead (401).
    TokenRevoked,
}

impl AuditError {
    /// Why a batch failed, keeping a full disk apart from an outage so the reader is told so.
    pub fn from_store(e: &StoreError) -> Self {
        match e {
            StoreError::Full(cause) => AuditError::Full(cause.clone()),
            other => AuditError::Unavailable(other.to_string()),
        }
    }
}

/// Batch statistics (exposed in metrics and benchmarks).
#[derive(Debug)]
pub struct WriterStats {
    pub batches: AtomicU64,
    pub rows: AtomicU64,
    pub last_batch_rows: AtomicU64,
    /// Rows per committed batch (`scaivault_audit_batch_size`).
    pub batch_size: prometheus_client::metrics::histogram::Histogram,
    /// Seconds each committed batch took in the store (`scaivault_audit_commit_seconds`).
    pub commit_seconds: prometheus_client::metrics::histogram::Histogram,
}

impl WriterStats {
    /// Counts one durable batch of `rows` rows that took `seconds` from the start of its write
    /// until it was durable.
    pub fn record_batch(&self, rows: usize, seconds: f64) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.rows.fetch_add(rows as u64, Ordering::Relaxed);
        self.last_batch_rows.store(rows as u64, Ordering::Relaxed);
        self.batch_size.observe(rows as f64);
        self.commit_seconds.observe(seconds);
    }
}

impl Default for WriterStats {
    fn default() -> Self {
        Self {
            batches: AtomicU64::default(),
            rows: AtomicU64::default(),
            last_batch_rows: AtomicU64::default(),
            batch_size: crate::metrics::audit_batch_histogram(),
            commit_seconds: crate::metrics::audit_commit_histogram(),
        }
    }
}

/// Where rows go.
#[derive(Clone)]
enum Route {
    /// The writer task (PostgreSQL).
    Task(mpsc::Sender<Job>),
    /// SQLite's appender thread.
    Appender(Arc<SqliteAuditAppender>),
}

/// A handle to the writer; cheap to clone.
#[derive(Clone)]
pub struct AuditWriter {
    route: Route,
    pub stats: Arc<WriterStats>,
    enabled: bool,
}

impl AuditWriter {
    /// Starts the writer task over `store`; `enabled: false` drops rows (benchmarks only).
    pub fn start(store: Arc<dyn Store>, enabled: bool) -> Self {
        let stats = Arc::new(WriterStats::default());
        let route = match store.audit_sink() {
            AuditSink::Appender(appender) => {
                appender.count_into(stats.clone());
                Route::Appender(appender)
            }
            AuditSink::Batches(batches) => {
                let (tx, rx) = mpsc::channel::<Job>(8192);
                tokio::spawn(run(batches, rx, stats.clone()));
                Route::Task(tx)
            }
        };
        Self {
            route,
            stats,
            enabled,
        }
    }

    /// Rows written and batches committed so far, and the mean batch size.
    pub fn summary(&self) -> (u64, u64, f64) {
        let rows = self.stats.rows.load(Ordering::Relaxed);
        let batches = self.stats.batches.load(Ordering::Relaxed);
        (
            rows,
            batches,
            if batches > 0 {
                rows as f64 / batches as f64
            } else {
                0.0
            },
        )
    }

    /// Returns once `rows` are committed.
    pub async fn record(&self, rows: Vec<AuditRow>) -> Result<(), AuditError> {
        self.record_checked(rows, None).await
    }

    /// Returns once `rows` are committed, in a transaction that first checks the token of
    /// `recheck` (one the read cache served) is still valid; if it is not, one denial row is
    /// written in their place and the result is `TokenRevoked`.
    pub async fn record_checked(
        &self,
        rows: Vec<AuditRow>,
        recheck: Option<Recheck>,
    ) -> Result<(), AuditError> {
        if rows.is_empty() || !self.enabled {
            return Ok(());
        }
        let stopped = || AuditError::Unavailable("the audit writer has stopped".into());
        let (done, wait) = oneshot::channel();
        match &self.route {
            Route::Appender(appender) => appender.submit(Job {
                rows,
                recheck,
                done,
            })?,
            Route::Task(tx) => tx
                .send(Job {
                    rows,
                    recheck,
                    done,
                })
                .await
                .map_err(|_| stopped())?,
        }
        wait.await.unwrap_or_else(|_| Err(stopped()))
    }
}

async fn run(batches: AuditBatches, mut rx: mpsc::Receiver<Job>, stats: Arc<WriterStats>) {
    let slots = Arc::new(Semaphore::new(batches.in_flight()));
    while let Some(first) = rx.recv().await {
        // Wait for a free slot first: rows keep queueing meanwhile and join this batch.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        // Take what is queued and leave at once: PostgreSQL does better with more, smaller
        // commits in flight (its WAL flush groups them) than with one larger one.
        let mut jobs = vec![first];
        let mut queued = jobs[0].rows.len();
        while queued < MAX_BATCH_ROWS {
            match rx.try_recv() {
                Ok(job) => {
                    queued += job.rows.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let (batches, stats) = (batches.clone(), stats.clone());
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            // Durable once committed (PostgreSQL).
            let (result, revoked, written) = commit_batch(&batches, &jobs).await;
            drop(slot);
            if result.is_ok() {
                stats.record_batch(written, started.elapsed().as_secs_f64());
            }
            for job in jobs {
                let outcome = match &result {
                    Err(e) => Err(AuditError::from_store(e)),
                    Ok(()) => job.outcome(&revoked),
                };
                let _ = job.done.send(outcome);
            }
        });
    }
}

/// Writes the jobs' rows in one transaction that checks the cached tokens. A job whose token
/// turns out revoked gets one denial row instead of its rows, and the batch is written again.
/// Returns the outcome, the revoked token ids and the number of rows written.
async fn commit_batch(
    batches: &AuditBatches,
    jobs: &[Job],
) -> (Result<(), StoreError>, HashSet<String>, usize) {
    let mut revoked: HashSet<String> = HashSet::new();
    loop {
        let (rows, check) = batch_rows(jobs, &revoked);
        let written = rows.len();
        match batches.append_checked(rows, check).await {
            Ok(bad) if bad.is_empty() => return (Ok(()), revoked, written),
            Ok(bad) => revoked.extend(bad),
            Err(e) => return (Err(e), revoked, 0),
        }
    }
}

/// The row recorded in place of a request whose cached token was revoked meanwhile: the same
/// row the auth check writes when it finds the token revoked.
fn denial(mut row: AuditRow, request_path: &str) -> AuditRow {
    row.action = super::action::AUTH_FAILED.to_string();
    row.secret_path = None;
    row.version = None;
    row.success = false;
    row.status_code = 401;
    row.extra_data =
        serde_json::json!({ "reason": "token_revoked", "path": request_path }).to_string();
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A read whose audit row hit a full disk is answered 507 like a write, not 503 (found by
    /// the disk-full chaos run: the cause was flattened into "unavailable").
    #[test]
    fn a_full_disk_stays_a_full_disk() {
        let full = AuditError::from_store(&StoreError::Full("database or disk is full".into()));
        assert!(matches!(full, AuditError::Full(_)));
        let api = crate::http::error::ApiError::from(full);
        assert_eq!(api.status.as_u16(), 507);
        assert_eq!(api.code, "insufficient_storage");
        assert!(api.retry_after.is_some());
        let down = AuditError::from_store(&StoreError::Unavailable("refused".into()));
        assert_eq!(
            crate::http::error::ApiError::from(down).status.as_u16(),
            503
        );
    }
}
