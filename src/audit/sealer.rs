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

/// Seals every row committed before the call (in batches); returns how many rows this call
/// sealed. If another sealer of the database (this server's loop, another replica's) is in a
/// pass, waits for it to commit first: its pass may have read the unsealed rows before the
/// newest ones committed, so returning at once would leave those unsealed.
pub async fn seal_all(st: &AppState) -> StoreResult<usize> {
    seal_batches(st, true).await
}

/// Seals what is unsealed in batches; a pass that finds another sealer at work returns 0 at
/// once unless `wait` (that sealer, or the next pass, gets the rest).
async fn seal_batches(st: &AppState, wait: bool) -> StoreResult<usize> {
    let mut total = 0;
    loop {
        let n = st.store.seal_audit(SEAL_BATCH, wait).await?;
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

/// Seals every second until cancelled (skipping a pass while another replica seals); applies
/// retention once a minute.
pub async fn run(st: AppState, cancel: CancellationToken) {
    let mut passes: u64 = 0;
    loop {
        if let Err(e) = seal_batches(&st, false).await {
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
