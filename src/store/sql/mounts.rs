//! SQL of Vault KV v2 mounts (`vault_mounts`), and the secrets a mount's prefix holds.

use super::secrets::SELECT_SECRETS;
use crate::store::errors::StoreResult;
use crate::store::rows::{MountRow, SecretRow};
use sqlx::{Any, Executor};

const GET_MOUNT: &str = "SELECT tenant_id, name, created_at, created_by FROM vault_mounts \
     WHERE tenant_id = $1 AND name = $2";
const INSERT_MOUNT: &str = "INSERT INTO vault_mounts (tenant_id, name, created_at, created_by) \
     VALUES ($1, $2, $3, $4)";
const DELETE_MOUNT: &str = "DELETE FROM vault_mounts WHERE tenant_id = $1 AND name = $2";

pub async fn get<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    name: &str,
) -> StoreResult<Option<MountRow>> {
    Ok(sqlx::query_as(GET_MOUNT)
        .bind(tenant_id)
        .bind(name)
        .fetch_optional(ex)
        .await?)
}

pub async fn insert<'e, E: Executor<'e, Database = Any>>(ex: E, m: &MountRow) -> StoreResult<()> {
    sqlx::query(INSERT_MOUNT)
        .bind(&m.tenant_id)
        .bind(&m.name)
        .bind(m.created_at)
        .bind(&m.created_by)
        .execute(ex)
        .await?;
    Ok(())
}

/// True when a mount was there to delete.
pub async fn delete<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    name: &str,
) -> StoreResult<bool> {
    let r = sqlx::query(DELETE_MOUNT)
        .bind(tenant_id)
        .bind(name)
        .execute(ex)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Every secret (live or soft-deleted) whose path starts with `prefix`, locked with `lock_row`.
pub async fn secrets_under<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    prefix: &str,
    lock_row: &str,
) -> StoreResult<Vec<SecretRow>> {
    let hi = crate::domain::path::prefix_upper_bound(prefix);
    let sql = format!(
        "{SELECT_SECRETS} WHERE tenant_id = $1 AND path >= $2 AND path < $3 ORDER BY path{lock_row}"
    );
    Ok(sqlx::query_as(&sql)
        .bind(tenant_id)
        .bind(prefix)
        .bind(hi)
        .fetch_all(ex)
        .await?)
}
