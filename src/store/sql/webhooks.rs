//! SQL of webhook endpoints (their signing secrets sealed like secret values).

use super::{placeholders, AnyQuery};
use crate::store::errors::StoreResult;
use crate::store::rows::WebhookRow;
use crate::store::stored_flag::flag;
use sqlx::{Any, Executor};

macro_rules! webhook_cols {
    () => {
        "id, tenant_id, name, url, description, secret_ciphertext, secret_wrapped_key, \
         secret_key_id, prev_secret_ciphertext, prev_secret_wrapped_key, prev_secret_key_id, \
         prev_secret_until, events, filter_path_prefix, filter_secret_type, filter_tags, enabled, \
         status, disabled_reason, created_at, updated_at, subscription_id"
    };
}

const WEBHOOK_COLS: &str = webhook_cols!();
const INSERT_WEBHOOK: &str = concat!(
    "INSERT INTO webhooks (",
    webhook_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)"
);
const UPDATE_WEBHOOK: &str = "UPDATE webhooks SET name = $2, url = $3, description = $4, \
     secret_ciphertext = $5, secret_wrapped_key = $6, secret_key_id = $7, \
     prev_secret_ciphertext = $8, prev_secret_wrapped_key = $9, prev_secret_key_id = $10, \
     prev_secret_until = $11, events = $12, filter_path_prefix = $13, filter_secret_type = $14, \
     filter_tags = $15, enabled = $16, status = $17, disabled_reason = $18, updated_at = $19 \
     WHERE id = $1";
const GET_WEBHOOK: &str = concat!(
    "SELECT ",
    webhook_cols!(),
    " FROM webhooks WHERE tenant_id = $1 AND id = $2 AND subscription_id IS NULL"
);
const LIST_WEBHOOKS: &str = concat!(
    "SELECT ",
    webhook_cols!(),
    " FROM webhooks WHERE tenant_id = $1 AND id > $2 AND subscription_id IS NULL ORDER BY id LIMIT $3"
);
const ROUTABLE_WEBHOOKS: &str = concat!(
    "SELECT ",
    webhook_cols!(),
    " FROM webhooks WHERE tenant_id = $1 AND enabled = 1 AND subscription_id IS NULL"
);
const DELETE_WEBHOOK: &str = "DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2";
/// `$1` webhook id, `$2` health (`healthy`/`failing`); only a change is written.
pub const SET_WEBHOOK_HEALTH: &str =
    "UPDATE webhooks SET status = $2 WHERE id = $1 AND status <> $2";
/// `$1` webhook id, `$2` reason, `$3` now.
pub const DISABLE_WEBHOOK: &str =
    "UPDATE webhooks SET enabled = 0, disabled_reason = $2, updated_at = $3 WHERE id = $1";

pub async fn get<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    id: &str,
) -> StoreResult<Option<WebhookRow>> {
    Ok(sqlx::query_as(GET_WEBHOOK)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(ex)
        .await?)
}

/// A tenant's webhooks after `after_id` (`""`: from the start), by id.
pub async fn list<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    after_id: &str,
    limit: i64,
) -> StoreResult<Vec<WebhookRow>> {
    Ok(sqlx::query_as(LIST_WEBHOOKS)
        .bind(tenant_id)
        .bind(after_id)
        .bind(limit)
        .fetch_all(ex)
        .await?)
}

/// Webhooks by id, any tenant.
pub async fn by_ids<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    ids: &[String],
) -> StoreResult<Vec<WebhookRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {} FROM webhooks WHERE id IN ({})",
        WEBHOOK_COLS,
        placeholders(1, ids.len())
    );
    let mut qry = sqlx::query_as::<_, WebhookRow>(&sql);
    for id in ids {
        qry = qry.bind(id);
    }
    Ok(qry.fetch_all(ex).await?)
}

/// Enabled webhooks of a tenant, for routing a new event.
pub async fn routable<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
) -> StoreResult<Vec<WebhookRow>> {
    Ok(sqlx::query_as(ROUTABLE_WEBHOOKS)
        .bind(tenant_id)
        .fetch_all(ex)
        .await?)
}

pub async fn insert<'e, E: Executor<'e, Database = Any>>(ex: E, w: &WebhookRow) -> StoreResult<()> {
    bind_webhook(sqlx::query(INSERT_WEBHOOK), w, true)
        .bind(w.created_at)
        .bind(w.updated_at)
        .bind(&w.subscription_id)
        .execute(ex)
        .await?;
    Ok(())
}

pub async fn update<'e, E: Executor<'e, Database = Any>>(ex: E, w: &WebhookRow) -> StoreResult<()> {
    bind_webhook(sqlx::query(UPDATE_WEBHOOK), w, false)
        .bind(w.updated_at)
        .execute(ex)
        .await?;
    Ok(())
}

/// False when it did not exist in the tenant.
pub async fn delete<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    id: &str,
) -> StoreResult<bool> {
    let r = sqlx::query(DELETE_WEBHOOK)
        .bind(tenant_id)
        .bind(id)
        .execute(ex)
        .await?;
    Ok(r.rows_affected() == 1)
}

fn bind_webhook<'q>(qry: AnyQuery<'q>, w: &'q WebhookRow, with_tenant: bool) -> AnyQuery<'q> {
    let qry = qry.bind(&w.id);
    let qry = if with_tenant {
        qry.bind(&w.tenant_id)
    } else {
        qry
    };
    qry.bind(&w.name)
        .bind(&w.url)
        .bind(&w.description)
        .bind(&w.secret_ciphertext)
        .bind(&w.secret_wrapped_key)
        .bind(&w.secret_key_id)
        .bind(&w.prev_secret_ciphertext)
        .bind(&w.prev_secret_wrapped_key)
        .bind(&w.prev_secret_key_id)
        .bind(w.prev_secret_until)
        .bind(&w.events)
        .bind(&w.filter_path_prefix)
        .bind(&w.filter_secret_type)
        .bind(&w.filter_tags)
        .bind(flag(w.enabled))
        .bind(w.status.as_str())
        .bind(&w.disabled_reason)
}
