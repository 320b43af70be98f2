//! SQL of expiry notices: one row per secret with an `expires_at`, and its next notice.

use super::Tx;
use crate::store::errors::StoreResult;
use crate::store::rows::ExpiryRow;
use crate::store::stored_flag::flag;

const EXPIRY_COLS: &str =
    "secret_id, tenant_id, expires_at, notify_before, notices_sent, expired_sent, next_event_at";

pub async fn get(tx: &mut Tx, secret_id: &str) -> StoreResult<Option<ExpiryRow>> {
    let sql = format!("SELECT {EXPIRY_COLS} FROM expiry_schedule WHERE secret_id = $1");
    Ok(sqlx::query_as(&sql)
        .bind(secret_id)
        .fetch_optional(&mut **tx)
        .await?)
}

pub async fn upsert(tx: &mut Tx, e: &ExpiryRow) -> StoreResult<()> {
    sqlx::query("DELETE FROM expiry_schedule WHERE secret_id = $1")
        .bind(&e.secret_id)
        .execute(&mut **tx)
        .await?;
    let sql =
        format!("INSERT INTO expiry_schedule ({EXPIRY_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)");
    sqlx::query(&sql)
        .bind(&e.secret_id)
        .bind(&e.tenant_id)
        .bind(e.expires_at)
        .bind(&e.notify_before)
        .bind(&e.notices_sent)
        .bind(flag(e.expired_sent))
        .bind(e.next_event_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, secret_id: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM expiry_schedule WHERE secret_id = $1")
        .bind(secret_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Locks up to `limit` expiry rows whose next notice is due (`skip_locked` on PostgreSQL).
pub async fn claim_due(
    tx: &mut Tx,
    now_us: i64,
    limit: i64,
    skip_locked: &str,
) -> StoreResult<Vec<ExpiryRow>> {
    let sql = format!(
        "SELECT {EXPIRY_COLS} FROM expiry_schedule WHERE next_event_at IS NOT NULL \
         AND next_event_at <= $1 ORDER BY next_event_at LIMIT $2{skip_locked}"
    );
    Ok(sqlx::query_as(&sql)
        .bind(now_us)
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?)
}
