//! SQL of master key versions and of re-wrapping data keys (`keys rotate`, `keys rewrap`).
//! Every swap is conditional on the stored wrapped key being the one that was re-wrapped, so
//! a concurrent change is never overwritten.

use crate::crypto::binding::AAD_CURRENT;
use crate::store::errors::StoreResult;
use crate::store::rows::{
    KeySwap, MasterKeyVersionRow, VersionSwap, WebhookSecretSlot, WrappedVersionRow,
    WrappedWebhookRow,
};
use sqlx::AnyPool;

pub async fn list_versions(pool: &AnyPool) -> StoreResult<Vec<MasterKeyVersionRow>> {
    Ok(sqlx::query_as(
        "SELECT version, key_id, wrapped_key, root_key_id, created_at \
         FROM master_key_versions ORDER BY version",
    )
    .fetch_all(pool)
    .await?)
}

/// False when `row.version` (or its key id) already exists: another rotation won the race.
pub async fn insert_version(pool: &AnyPool, row: &MasterKeyVersionRow) -> StoreResult<bool> {
    let r = sqlx::query(
        "INSERT INTO master_key_versions (version, key_id, wrapped_key, root_key_id, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(row.version)
    .bind(&row.key_id)
    .bind(&row.wrapped_key)
    .bind(&row.root_key_id)
    .bind(row.created_at)
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// How many secret versions (a data key not wrapped by `active`, or sealed with an older
/// binding format) and webhooks (a data key not wrapped by `active`) are left to re-wrap.
pub async fn count_stale(pool: &AnyPool, active: &str) -> StoreResult<(i64, i64)> {
    let versions: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM secret_versions WHERE key_id <> $1 OR aad_version <> $2",
    )
    .bind(active)
    .bind(AAD_CURRENT)
    .fetch_one(pool)
    .await?;
    let webhooks: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhooks WHERE secret_key_id <> $1 \
         OR (prev_secret_key_id IS NOT NULL AND prev_secret_key_id <> $1)",
    )
    .bind(active)
    .fetch_one(pool)
    .await?;
    Ok((versions, webhooks))
}

/// The next `limit` secret versions after `(secret_id, version)` whose key is not `active` or
/// whose binding format is not the current one.
pub async fn stale_versions(
    pool: &AnyPool,
    active: &str,
    after: (&str, i64),
    limit: i64,
) -> StoreResult<Vec<WrappedVersionRow>> {
    Ok(sqlx::query_as(
        "SELECT v.secret_id, v.version, s.tenant_id, s.path, v.wrapped_key, v.key_id, \
         v.aad_version FROM secret_versions v JOIN secrets s ON s.id = v.secret_id \
         WHERE (v.key_id <> $1 OR v.aad_version <> $5) \
         AND (v.secret_id > $2 OR (v.secret_id = $2 AND v.version > $3)) \
         ORDER BY v.secret_id, v.version LIMIT $4",
    )
    .bind(active)
    .bind(after.0)
    .bind(after.1)
    .bind(limit)
    .bind(AAD_CURRENT)
    .fetch_all(pool)
    .await?)
}

/// Swaps a version's data key (and, when re-sealed, its ciphertext and binding format).
pub async fn swap_version_key(
    pool: &AnyPool,
    secret_id: &str,
    version: i64,
    swap: VersionSwap<'_>,
) -> StoreResult<bool> {
    const WHERE: &str = " WHERE secret_id = $3 AND version = $4 AND key_id = $5 \
         AND wrapped_key = $6 AND aad_version = $7";
    let sql = match swap.new_ciphertext {
        None => format!(
            "UPDATE secret_versions SET wrapped_key = $1, key_id = $2, aad_version = $8{WHERE}"
        ),
        Some(_) => format!(
            "UPDATE secret_versions SET wrapped_key = $1, key_id = $2, aad_version = $8, \
             ciphertext = $9{WHERE}"
        ),
    };
    let k = swap.key;
    let mut q = sqlx::query(&sql)
        .bind(k.new_wrapped)
        .bind(k.new_key_id)
        .bind(secret_id)
        .bind(version)
        .bind(k.old_key_id)
        .bind(k.old_wrapped)
        .bind(swap.old_aad_version)
        .bind(swap.new_aad_version);
    if let Some(ct) = swap.new_ciphertext {
        q = q.bind(ct);
    }
    let r = q.execute(pool).await?;
    Ok(r.rows_affected() == 1)
}

pub async fn stale_webhooks(pool: &AnyPool, active: &str) -> StoreResult<Vec<WrappedWebhookRow>> {
    Ok(sqlx::query_as(
        "SELECT id, tenant_id, secret_wrapped_key, secret_key_id, prev_secret_wrapped_key, \
         prev_secret_key_id FROM webhooks WHERE secret_key_id <> $1 \
         OR (prev_secret_key_id IS NOT NULL AND prev_secret_key_id <> $1) ORDER BY id",
    )
    .bind(active)
    .fetch_all(pool)
    .await?)
}

pub async fn swap_webhook_key(
    pool: &AnyPool,
    webhook_id: &str,
    slot: WebhookSecretSlot,
    swap: KeySwap<'_>,
) -> StoreResult<bool> {
    let sql = match slot {
        WebhookSecretSlot::Current => {
            "UPDATE webhooks SET secret_wrapped_key = $1, secret_key_id = $2 \
             WHERE id = $3 AND secret_key_id = $4 AND secret_wrapped_key = $5"
        }
        WebhookSecretSlot::Previous => {
            "UPDATE webhooks SET prev_secret_wrapped_key = $1, prev_secret_key_id = $2 \
             WHERE id = $3 AND prev_secret_key_id = $4 AND prev_secret_wrapped_key = $5"
        }
    };
    let r = sqlx::query(sql)
        .bind(swap.new_wrapped)
        .bind(swap.new_key_id)
        .bind(webhook_id)
        .bind(swap.old_key_id)
        .bind(swap.old_wrapped)
        .execute(pool)
        .await?;
    Ok(r.rows_affected() == 1)
}
