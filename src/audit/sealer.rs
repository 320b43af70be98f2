//! The sealer loop: chains newly committed audit rows (one sealer per database at a time) and
//! applies the retention setting. "Run one pass" is separate from the loop so tests drive it.

use super::chain::ANCHOR_KEY;
use crate::server::AppState;
use crate::store::StoreResult;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Rows sealed per transaction: small enough that SQLite's single writer is never held for
/// long (each read's audit batch queues behind a sealing transaction).
const SEAL_BATCH: i64 = 250;

/// Seals everything unsealed now (in batches); returns how many rows were sealed.
pub async fn seal_all(st: &AppState) -> StoreResult<usize> {
    let mut total = 0;
    loop {
        let n = st.store.seal_audit(SEAL_BATCH).await?;
        total += n;
        if n < SEAL_BATCH as usize {
            return Ok(total);
        }
    }
}

/// Deletes sealed rows older than the retention period (if one is set).
pub async fn apply_retention(st: &AppState) -> StoreResult<u64> {
    let Some(keep) = &st.config.audit_retention else {
        return Ok(0);
    };
    let before = st.clock.now() - keep.as_chrono();
    let n = st
        .store
        .apply_audit_retention(crate::clock::to_micros(before), ANCHOR_KEY)
        .await?;
    if n > 0 {
        tracing::info!(deleted = n, "audit retention applied");
    }
    Ok(n)
}

/// Seals every second until cancelled; applies retention once a minute.
pub async fn run(st: AppState, cancel: CancellationToken) {
    let mut passes: u64 = 0;
    loop {
        if let Err(e) = seal_all(&st).await {
            tracing::warn!(error.cause = %e, "audit sealer pass failed");
        }
        if passes.is_multiple_of(60) {
            if let Err(e) = apply_retention(&st).await {
                tracing::warn!(error.cause = %e, "audit retention failed");
            }
        }
        passes += 1;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = cancel.cancelled() => break,
        }
    }
    let _ = seal_all(&st).await;
}
