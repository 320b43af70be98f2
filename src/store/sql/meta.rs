//! SQL of the `meta` key-value table and of the database itself (round trip, migrations).

use crate::store::errors::StoreResult;
use sqlx::{Any, AnyPool, Executor};

pub const GET_META: &str = "SELECT value FROM meta WHERE key = $1";
pub const PUT_META_IF_ABSENT: &str =
    "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";
pub const PUT_META: &str = "INSERT INTO meta (key, value) VALUES ($1, $2) \
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";

pub async fn get<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    key: &str,
) -> StoreResult<Option<String>> {
    Ok(sqlx::query_scalar(GET_META)
        .bind(key)
        .fetch_optional(ex)
        .await?)
}

pub async fn put_if_absent<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    key: &str,
    value: &str,
) -> StoreResult<()> {
    sqlx::query(PUT_META_IF_ABSENT)
        .bind(key)
        .bind(value)
        .execute(ex)
        .await?;
    Ok(())
}

/// Replaces a meta value only if it still is `old` (compare-and-set).
pub async fn replace(pool: &AnyPool, key: &str, old: &str, new: &str) -> StoreResult<bool> {
    let r = sqlx::query("UPDATE meta SET value = $1 WHERE key = $2 AND value = $3")
        .bind(new)
        .bind(key)
        .bind(old)
        .execute(pool)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// A round trip to the database.
pub async fn ping(pool: &AnyPool) -> StoreResult<()> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}

/// The versions of the migrations applied successfully (none when the table is missing).
pub async fn applied_migrations(pool: &AnyPool) -> StoreResult<Vec<i64>> {
    Ok(
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_all(pool)
            .await
            .or_else(|_| Ok::<_, sqlx::Error>(Vec::new()))?,
    )
}
