//! SQL of subscriptions (SPEC §10): the subscription rows (read joined with their owner
//! token's state) and the queue of unacknowledged events of polling subscriptions.

use super::placeholders;
use crate::store::errors::StoreResult;
use crate::store::rows::{EventRow, SubscriptionRow};
use sqlx::{Any, AnyConnection, Executor};

const COLS: &str = "s.id, s.tenant_id, s.name, s.identity_id, s.token_id, s.paths, s.events, \
     s.delivery_type, s.buffer_size, s.webhook_id, s.status, s.dropped_events, s.created_at, \
     s.updated_at, t.path_prefixes AS owner_rules, t.revoked_at AS owner_revoked_at, \
     t.expires_at AS owner_expires_at";
const FROM: &str = "subscriptions s LEFT JOIN tokens t ON t.id = s.token_id";

pub async fn get<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    id: &str,
) -> StoreResult<Option<SubscriptionRow>> {
    let sql = format!("SELECT {COLS} FROM {FROM} WHERE s.tenant_id = $1 AND s.id = $2");
    Ok(sqlx::query_as(&sql)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(ex)
        .await?)
}

/// The subscription that owns webhook `webhook_id`, if one does.
pub async fn by_webhook<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    webhook_id: &str,
) -> StoreResult<Option<SubscriptionRow>> {
    let sql = format!("SELECT {COLS} FROM {FROM} WHERE s.webhook_id = $1");
    Ok(sqlx::query_as(&sql)
        .bind(webhook_id)
        .fetch_optional(ex)
        .await?)
}

/// A page of a tenant's subscriptions by id after `after` ("" for the first), only those of
/// token `owner` when given.
pub async fn list<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    owner: Option<&str>,
    after: &str,
    limit: i64,
) -> StoreResult<Vec<SubscriptionRow>> {
    let sql = format!(
        "SELECT {COLS} FROM {FROM} WHERE s.tenant_id = $1 AND s.id > $2 \
         AND ($3 = '' OR s.token_id = $3) ORDER BY s.id LIMIT $4"
    );
    Ok(sqlx::query_as(&sql)
        .bind(tenant_id)
        .bind(after)
        .bind(owner.unwrap_or(""))
        .bind(limit)
        .fetch_all(ex)
        .await?)
}

/// The tenant's active subscriptions (routing at emit time).
pub async fn routable<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
) -> StoreResult<Vec<SubscriptionRow>> {
    let sql = format!("SELECT {COLS} FROM {FROM} WHERE s.tenant_id = $1 AND s.status = 'active'");
    Ok(sqlx::query_as(&sql).bind(tenant_id).fetch_all(ex).await?)
}

/// Inserts a subscription (a duplicate name for the same owner: `StoreError::Conflict`).
pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    s: &SubscriptionRow,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO subscriptions (id, tenant_id, name, identity_id, token_id, paths, events, \
         delivery_type, buffer_size, webhook_id, status, dropped_events, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&s.id)
    .bind(&s.tenant_id)
    .bind(&s.name)
    .bind(&s.identity_id)
    .bind(&s.token_id)
    .bind(&s.paths)
    .bind(&s.events)
    .bind(&s.delivery_type)
    .bind(s.buffer_size)
    .bind(&s.webhook_id)
    .bind(&s.status)
    .bind(s.dropped_events)
    .bind(s.created_at)
    .bind(s.updated_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// Writes the fields a PATCH may change.
pub async fn update<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    s: &SubscriptionRow,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE subscriptions SET name = $2, paths = $3, events = $4, buffer_size = $5, \
         status = $6, updated_at = $7 WHERE id = $1",
    )
    .bind(&s.id)
    .bind(&s.name)
    .bind(&s.paths)
    .bind(&s.events)
    .bind(s.buffer_size)
    .bind(&s.status)
    .bind(s.updated_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// Deletes a subscription and its queue; false when there was none.
pub async fn delete(conn: &mut AnyConnection, tenant_id: &str, id: &str) -> StoreResult<bool> {
    let r = sqlx::query("DELETE FROM subscriptions WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    if r.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query("DELETE FROM subscription_events WHERE subscription_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

/// Queues `event_id` for subscription `id`, then drops the oldest entries beyond `buffer`
/// and counts them in `dropped_events`; returns how many were dropped.
pub async fn enqueue(
    conn: &mut AnyConnection,
    id: &str,
    event_id: &str,
    buffer: i64,
) -> StoreResult<u64> {
    sqlx::query("INSERT INTO subscription_events (subscription_id, event_id) VALUES ($1, $2)")
        .bind(id)
        .bind(event_id)
        .execute(&mut *conn)
        .await?;
    let dropped = sqlx::query(
        "DELETE FROM subscription_events WHERE subscription_id = $1 AND seq <= \
         (SELECT seq FROM subscription_events WHERE subscription_id = $1 \
          ORDER BY seq DESC LIMIT 1 OFFSET $2)",
    )
    .bind(id)
    .bind(buffer)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if dropped > 0 {
        sqlx::query("UPDATE subscriptions SET dropped_events = dropped_events + $2 WHERE id = $1")
            .bind(id)
            .bind(i64::try_from(dropped).unwrap_or(i64::MAX))
            .execute(&mut *conn)
            .await?;
    }
    Ok(dropped)
}

/// The oldest `limit` unacknowledged events of subscription `id`, in order.
pub async fn queue<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    limit: i64,
) -> StoreResult<Vec<EventRow>> {
    Ok(sqlx::query_as(
        "SELECT e.seq, e.id, e.tenant_id, e.event_type, e.ts, e.identity_id, e.path, e.data, \
         e.request_id FROM subscription_events q JOIN events e ON e.id = q.event_id \
         WHERE q.subscription_id = $1 ORDER BY q.seq LIMIT $2",
    )
    .bind(id)
    .bind(limit)
    .fetch_all(ex)
    .await?)
}

/// How many events subscription `id` holds unacknowledged.
pub async fn queue_len<'e, E: Executor<'e, Database = Any>>(ex: E, id: &str) -> StoreResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM subscription_events WHERE subscription_id = $1")
            .bind(id)
            .fetch_one(ex)
            .await?,
    )
}

/// Unacknowledged events of every subscription (the backlog gauge).
pub async fn backlog<'e, E: Executor<'e, Database = Any>>(ex: E) -> StoreResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM subscription_events")
            .fetch_one(ex)
            .await?,
    )
}

/// Removes `event_ids` from subscription `id`'s queue; returns how many were there.
pub async fn ack(conn: &mut AnyConnection, id: &str, event_ids: &[String]) -> StoreResult<u64> {
    let mut removed = 0;
    for chunk in event_ids.chunks(500) {
        let sql = format!(
            "DELETE FROM subscription_events WHERE subscription_id = $1 AND event_id IN ({})",
            placeholders(2, chunk.len())
        );
        let mut qry = sqlx::query(&sql).bind(id);
        for e in chunk {
            qry = qry.bind(e);
        }
        removed += qry.execute(&mut *conn).await?.rows_affected();
    }
    Ok(removed)
}
