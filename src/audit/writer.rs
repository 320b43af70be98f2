//! The group-commit audit writer: request handlers hand their rows to one task that inserts
//! whatever has queued up in one transaction and wakes each waiter only after the commit.
//! Many concurrent reads share one commit (one fsync), and no response goes out before its row
//! is durable; if the store is down, every waiter gets the error (the request fails closed).
//! On PostgreSQL a few batches commit at once on separate connections (the server merges their
//! WAL flushes), so the next batch fills while the previous ones are being flushed. SQLite has
//! one writer, so there one batch is written at a time, but a batch is flushed to disk
//! (`Store::sync_audit`) after it gives up its slot: the next batch is written meanwhile.

use crate::store::{AuditRow, Store, StoreError};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Largest batch written in one transaction.
const MAX_BATCH_ROWS: usize = 1000;

/// Batches committing at the same time on PostgreSQL.
const POSTGRES_BATCHES_IN_FLIGHT: usize = 4;

/// One request's rows, the token to check again if it came from the read cache, and the
/// request waiting for the commit.
struct Job {
    rows: Vec<AuditRow>,
    recheck: Option<Recheck>,
    done: oneshot::Sender<Result<(), AuditError>>,
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
    /// The request's token was revoked or deleted after the read cache loaded it; a denial row
    /// was written instead (401).
    TokenRevoked,
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

/// A handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct AuditWriter {
    tx: mpsc::Sender<Job>,
    pub stats: Arc<WriterStats>,
    enabled: bool,
}

impl AuditWriter {
    /// Starts the writer task over `store`; `enabled: false` drops rows (benchmarks only).
    pub fn start(store: Arc<dyn Store>, enabled: bool) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(8192);
        let stats = Arc::new(WriterStats::default());
        let in_flight = match store.backend() {
            crate::store::Backend::Postgres => POSTGRES_BATCHES_IN_FLIGHT,
            crate::store::Backend::Sqlite => 1,
        };
        tokio::spawn(run(store, rx, stats.clone(), in_flight));
        Self { tx, stats, enabled }
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
        self.tx
            .send(Job {
                rows,
                recheck,
                done,
            })
            .await
            .map_err(|_| stopped())?;
        wait.await.unwrap_or_else(|_| Err(stopped()))
    }
}

async fn run(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<Job>,
    stats: Arc<WriterStats>,
    in_flight: usize,
) {
    let slots = Arc::new(Semaphore::new(in_flight));
    while let Some(first) = rx.recv().await {
        // Wait for a free slot first: rows keep queueing meanwhile and join this batch.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut jobs = vec![first];
        let mut queued = jobs[0].rows.len();
        // Take what is queued. With one batch in flight (SQLite), let the runtime run once
        // more (requests just answered by the previous commit are about to hand over their
        // next rows) and take those too. PostgreSQL does better with more, smaller commits in
        // flight (its WAL flush groups them), so there the batch leaves at once.
        let passes = if in_flight == 1 { 2 } else { 1 };
        for pass in 0..passes {
            while queued < MAX_BATCH_ROWS {
                match rx.try_recv() {
                    Ok(job) => {
                        queued += job.rows.len();
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
            if pass + 1 < passes && queued < MAX_BATCH_ROWS {
                tokio::task::yield_now().await;
            }
        }
        let (store, stats) = (store.clone(), stats.clone());
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let (result, revoked, written) = commit_batch(store.as_ref(), &jobs).await;
            // The next batch may be written while this one is being made durable.
            drop(slot);
            let result = match result {
                Ok(()) => store.sync_audit().await,
                Err(e) => Err(e),
            };
            let took = started.elapsed().as_secs_f64();
            if result.is_ok() {
                stats.batches.fetch_add(1, Ordering::Relaxed);
                stats.rows.fetch_add(written as u64, Ordering::Relaxed);
                stats
                    .last_batch_rows
                    .store(written as u64, Ordering::Relaxed);
                stats.batch_size.observe(written as f64);
                stats.commit_seconds.observe(took);
            }
            for job in jobs {
                let outcome = match (&result, &job.recheck) {
                    (Err(e), _) => Err(AuditError::Unavailable(e.to_string())),
                    (Ok(()), Some(r)) if revoked.contains(&r.token_id) => {
                        Err(AuditError::TokenRevoked)
                    }
                    (Ok(()), _) => Ok(()),
                };
                let _ = job.done.send(outcome);
            }
        });
    }
}

/// Writes the jobs' rows in one transaction that checks the cached tokens (committed, not yet
/// synced). A job whose token turns out revoked gets one denial row instead of its rows, and
/// the batch is written again. Returns the outcome, the revoked token ids and the number of
/// rows written.
async fn commit_batch(
    store: &dyn Store,
    jobs: &[Job],
) -> (Result<(), StoreError>, HashSet<String>, usize) {
    let mut revoked: HashSet<String> = HashSet::new();
    loop {
        let mut check: Vec<String> = Vec::new();
        let mut rows: Vec<AuditRow> = Vec::new();
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
        let written = rows.len();
        match store.append_audit_checked(rows, check).await {
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
    row.success = 0;
    row.status_code = 401;
    row.extra_data =
        serde_json::json!({ "reason": "token_revoked", "path": request_path }).to_string();
    row
}
