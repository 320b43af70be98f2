//! A pooled connection is handed out only outside any transaction. A write whose COMMIT fails
//! and whose ROLLBACK then fails too (SQLite after a full disk: the engine has already rolled
//! back, so sqlx's ROLLBACK errors and its transaction count stays at 1) would otherwise go
//! back to the pool "inside" a transaction, and every later `BEGIN` on it fails with "begin_with
//! at non-zero transaction depth": writes stay down after the disk has space again. Such a
//! connection is closed when next acquired, and the pool opens a fresh one.

use sqlx::pool::PoolConnectionMetadata;
use sqlx::AnyConnection;
use sqlx::{Any, Database, TransactionManager};

/// The pool's `before_acquire` check: `Ok(false)` closes the connection.
pub fn outside_transaction(
    conn: &mut AnyConnection,
    _meta: PoolConnectionMetadata,
) -> futures_util::future::BoxFuture<'_, Result<bool, sqlx::Error>> {
    let depth = <Any as Database>::TransactionManager::get_transaction_depth(conn);
    if depth != 0 {
        tracing::warn!(
            depth,
            "closing a pooled connection left inside a failed transaction"
        );
    }
    Box::pin(async move { Ok(depth == 0) })
}
