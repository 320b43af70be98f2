//! SQL of secret policies (`secret_policies`, SPEC §9) and of the rotation policies that use
//! one.

use crate::store::errors::StoreResult;
use crate::store::rows::SecretPolicyRow;
use crate::store::stored_flag::flag;
use sqlx::{Any, Executor};

const COLS: &str = "tenant_id, id, name, description, policy_type, fields, is_active, \
     created_at, updated_at";

pub async fn get<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    id: &str,
    lock_row: &str,
) -> StoreResult<Option<SecretPolicyRow>> {
    let sql =
        format!("SELECT {COLS} FROM secret_policies WHERE tenant_id = $1 AND id = $2{lock_row}");
    Ok(sqlx::query_as(&sql)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(ex)
        .await?)
}

/// A page of a tenant's secret policies by id, after `after` ("" for the first page).
pub async fn list<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    after: &str,
    limit: i64,
) -> StoreResult<Vec<SecretPolicyRow>> {
    let sql = format!(
        "SELECT {COLS} FROM secret_policies WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    );
    Ok(sqlx::query_as(&sql)
        .bind(tenant_id)
        .bind(after)
        .bind(limit)
        .fetch_all(ex)
        .await?)
}

/// Inserts a policy (a duplicate name is a unique violation: `StoreError::Conflict`).
pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    p: &SecretPolicyRow,
) -> StoreResult<()> {
    let sql =
        format!("INSERT INTO secret_policies ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
    sqlx::query(&sql)
        .bind(&p.tenant_id)
        .bind(&p.id)
        .bind(&p.name)
        .bind(&p.description)
        .bind(&p.policy_type)
        .bind(&p.fields)
        .bind(flag(p.is_active))
        .bind(p.created_at)
        .bind(p.updated_at)
        .execute(ex)
        .await?;
    Ok(())
}

/// Writes every mutable field (a name taken by another policy: `StoreError::Conflict`).
pub async fn update<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    p: &SecretPolicyRow,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE secret_policies SET name = $3, description = $4, policy_type = $5, fields = $6, \
         is_active = $7, updated_at = $8 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(&p.tenant_id)
    .bind(&p.id)
    .bind(&p.name)
    .bind(&p.description)
    .bind(&p.policy_type)
    .bind(&p.fields)
    .bind(flag(p.is_active))
    .bind(p.updated_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// True when a policy was there to delete.
pub async fn delete<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    id: &str,
) -> StoreResult<bool> {
    let r = sqlx::query("DELETE FROM secret_policies WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(ex)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// The ids of the rotation policies whose `secret_policy_id` is `id`.
pub async fn users<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    id: &str,
) -> StoreResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM rotation_policies WHERE tenant_id = $1 AND secret_policy_id = $2 \
         ORDER BY id",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_all(ex)
    .await?)
}
