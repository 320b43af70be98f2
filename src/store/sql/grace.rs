//! SQL of grace-period ends: superseded versions whose `readable_until` has passed and whose
//! `rotation.grace_ended` event is not sent yet (partial index `secret_versions_grace_due`).

use crate::store::errors::StoreResult;
use crate::store::rows::GraceEnded;
use sqlx::{Any, Executor};

/// Locks up to `limit` versions whose grace ended by `now_us` and is not reported yet
/// (`skip_locked` on PostgreSQL, so replicas take disjoint rows).
pub async fn claim<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    now_us: i64,
    limit: i64,
    skip_locked: &str,
) -> StoreResult<Vec<GraceEnded>> {
    let sql = format!(
        "SELECT secret_id, version, readable_until FROM secret_versions \
         WHERE readable_until IS NOT NULL AND grace_reported = 0 AND readable_until <= $1 \
         ORDER BY readable_until LIMIT $2{skip_locked}"
    );
    Ok(sqlx::query_as(&sql)
        .bind(now_us)
        .bind(limit)
        .fetch_all(ex)
        .await?)
}

pub async fn mark_reported<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    secret_id: &str,
    version: i64,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE secret_versions SET grace_reported = 1 WHERE secret_id = $1 AND version = $2",
    )
    .bind(secret_id)
    .bind(version)
    .execute(ex)
    .await?;
    Ok(())
}
