//! PostgreSQL: pool set-up, its migrations, and its row-locking clause.

use super::errors::StoreResult;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::AnyPool;
use std::time::Duration;

/// Migrations in the PostgreSQL dialect.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Appended to a single-row SELECT that must lock the row for the rest of the transaction.
pub const LOCK_ROW: &str = " FOR UPDATE";

/// Transaction-scoped lock taken before inserting events (so seq order is commit order).
pub const LOCK_EVENT_SEQUENCE: Option<&str> = Some("SELECT pg_advisory_xact_lock(7243001)");

/// Claims due deliveries; SKIP LOCKED lets replicas claim disjoint sets concurrently.
pub const CLAIM_DELIVERIES: &str = concat!(
    "UPDATE deliveries SET lease_until = $2 WHERE id IN (SELECT id FROM deliveries \
     WHERE status = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1) \
     {exclude} ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING ",
    super::queries::delivery_cols!()
);

/// Opens a pool; several replicas may share the database, so every claim and lock is in SQL.
pub async fn connect(url: &str, max_connections: u32) -> StoreResult<AnyPool> {
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .connect(url)
        .await?;
    Ok(pool)
}
