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
