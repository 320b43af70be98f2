//! The group-commit audit writer: request handlers hand their rows to one task that inserts
//! whatever has queued up in one transaction and wakes each waiter only after the commit.
//! Many concurrent reads share one commit (one fsync), and no response goes out before its row
//! is durable; if the store is down, every waiter gets the error (the request fails closed).
//! On PostgreSQL a few batches commit at once on separate connections (the server merges their
//! WAL flushes), so the next batch fills while the previous ones are being flushed; SQLite has
//! one writer connection, so there one batch is in flight at a time.

use crate::store::{AuditRow, Store, StoreError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Largest batch written in one transaction.
const MAX_BATCH_ROWS: usize = 1000;

/// Batches committing at the same time on PostgreSQL.
const POSTGRES_BATCHES_IN_FLIGHT: usize = 4;

type Job = (Vec<AuditRow>, oneshot::Sender<Result<(), String>>);

/// Batch statistics (exposed in metrics and benchmarks).
#[derive(Debug)]
pub struct WriterStats {
    pub batches: AtomicU64,
    pub rows: AtomicU64,
    pub last_batch_rows: AtomicU64,
    /// Rows per committed batch (`scaivault_audit_batch_size`).
    pub batch_size: prometheus_client::metrics::histogram::Histogram,
}

impl Default for WriterStats {
    fn default() -> Self {
        Self {
            batches: AtomicU64::default(),
            rows: AtomicU64::default(),
            last_batch_rows: AtomicU64::default(),
            batch_size: crate::metrics::audit_batch_histogram(),
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
    pub async fn record(&self, rows: Vec<AuditRow>) -> Result<(), StoreError> {
        if rows.is_empty() || !self.enabled {
            return Ok(());
        }
        let (done, wait) = oneshot::channel();
        self.tx
            .send((rows, done))
            .await
            .map_err(|_| StoreError::Unavailable("the audit writer has stopped".into()))?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Unavailable(e)),
            Err(_) => Err(StoreError::Unavailable(
                "the audit writer has stopped".into(),
            )),
        }
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
        let mut rows = first.0;
        let mut waiters = vec![first.1];
        while rows.len() < MAX_BATCH_ROWS {
            match rx.try_recv() {
                Ok((more, w)) => {
                    rows.extend(more);
                    waiters.push(w);
                }
                Err(_) => break,
            }
        }
        let (store, stats) = (store.clone(), stats.clone());
        tokio::spawn(async move {
            let result = store.insert_audit(&rows).await.map_err(|e| e.to_string());
            drop(slot);
            if result.is_ok() {
                stats.batches.fetch_add(1, Ordering::Relaxed);
                stats.rows.fetch_add(rows.len() as u64, Ordering::Relaxed);
                stats
                    .last_batch_rows
                    .store(rows.len() as u64, Ordering::Relaxed);
                stats.batch_size.observe(rows.len() as f64);
            }
            for w in waiters {
                let _ = w.send(result.clone());
            }
        });
    }
}
