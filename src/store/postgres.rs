//! PostgreSQL: pool set-up, its migrations, and the SQL it needs that SQLite does not.

use super::errors::StoreResult;
use super::sql::Dialect;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::AnyPool;
use std::time::Duration;

/// Migrations in the PostgreSQL dialect.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// What PostgreSQL's SQL does differently: row locks, `SKIP LOCKED` claims so replicas take
/// disjoint rows, and advisory locks for the event sequence and the sealer.
pub static DIALECT: Dialect = Dialect {
    begin_write: "BEGIN",
    lock_row: " FOR UPDATE",
    skip_locked: " FOR UPDATE SKIP LOCKED",
    try_lock_sealer: Some("SELECT pg_try_advisory_xact_lock(7243002)"),
    lock_sealer: Some("SELECT true FROM pg_advisory_xact_lock(7243002)"),
    insert_event_locking: Some(super::sql::events::INSERT_EVENT_LOCKING_PG),
    claim_deliveries: concat!(
        "UPDATE deliveries SET lease_until = $2 WHERE id IN (SELECT id FROM deliveries \
         WHERE status = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1) \
         {exclude} ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING ",
        super::sql::deliveries::delivery_cols!()
    ),
};

/// How long a request waits for a pooled connection. While PostgreSQL refuses connections
/// (stopped, restarting, crash recovery) sqlx keeps retrying the connect until this runs out,
/// so it is also how long a request takes to get its 503 during an outage: short, so clients
/// hear `Retry-After` instead of hanging (it was 5 s; the chaos harness measured 5 s 503s).
/// Waiting longer than this for a free connection means the pool is overloaded anyway.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// Opens a pool; several replicas may share the database, so every claim and lock is in SQL.
pub async fn connect(url: &str, max_connections: u32) -> StoreResult<AnyPool> {
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .before_acquire(super::pool_health::outside_transaction)
        .connect(url)
        .await?;
    Ok(pool)
}

/// Connections of the audit writer in `audit_durability = process` mode: a commit returns
/// once PostgreSQL has it in its WAL buffers, without waiting for the WAL flush (it survives
/// a crash of scaivault; a crash of the database server can lose the last few hundred
/// milliseconds of such rows). Only the audit writer's batches use it.
pub async fn connect_async_commit(url: &str) -> StoreResult<AnyPool> {
    use sqlx::Executor;
    let pool = AnyPoolOptions::new()
        .max_connections(AUDIT_CONNECTIONS)
        .min_connections(0)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .before_acquire(super::pool_health::outside_transaction)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute("SET synchronous_commit = off").await?;
                Ok(())
            })
        })
        .connect(url)
        .await?;
    Ok(pool)
}

/// Connections of the audit writer's own pool: its batches in flight, and one more.
const AUDIT_CONNECTIONS: u32 = 5;
