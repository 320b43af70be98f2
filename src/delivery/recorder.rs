//! Group commit for delivery outcomes: attempt tasks hand their outcome (and audit row) to one
//! task that records whatever has queued up in a single transaction, so a burst of deliveries
//! costs one transaction of a few statements (`Store::finish_attempts`), one commit (one fsync
//! on SQLite), per batch instead of a transaction of three or four statements per delivery.
//! Used on both backends.

use crate::store::{AttemptRecord, AuditRow, Store};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

const MAX_BATCH: usize = 500;

type Job = (
    AttemptRecord,
    AuditRow,
    oneshot::Sender<Result<bool, String>>,
);

/// A handle to the recorder task.
#[derive(Clone)]
pub struct OutcomeRecorder {
    tx: mpsc::Sender<Job>,
}

impl OutcomeRecorder {
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(4096);
        tokio::spawn(run(store, rx));
        Self { tx }
    }

    /// Returns once the outcome is committed: true if recorded, false if the delivery was no
    /// longer pending (cancelled meanwhile).
    pub async fn record(&self, outcome: AttemptRecord, audit: AuditRow) -> Result<bool, String> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send((outcome, audit, done))
            .await
            .map_err(|_| "the outcome recorder has stopped".to_string())?;
        wait.await
            .map_err(|_| "the outcome recorder has stopped".to_string())?
    }
}

async fn run(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let items: Vec<(AttemptRecord, AuditRow)> = jobs
            .iter()
            .map(|(o, a, _)| (o.clone(), a.clone()))
            .collect();
        match store.finish_attempts(&items).await {
            Ok(flags) => {
                for ((_, _, done), ok) in jobs.into_iter().zip(flags) {
                    let _ = done.send(Ok(ok));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for (_, _, done) in jobs {
                    let _ = done.send(Err(msg.clone()));
                }
            }
        }
    }
}
