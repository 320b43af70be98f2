//! SQL of deliveries (one per event and matching webhook): the outbox rows, their claims by
//! the delivery worker, and the recording of each attempt's outcome.

use super::webhooks::{DISABLE_WEBHOOK, SET_WEBHOOK_HEALTH};
use super::{audit, placeholders, query_as_with, value_rows, Bind};
use crate::store::errors::StoreResult;
use crate::store::rows::{AuditRow, DeliveryRow, WebhookStats};
use crate::store::stored_enums::{DeliveryStatus, WebhookHealth};
use crate::store::AttemptRecord;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row};

macro_rules! delivery_cols {
    () => {
        "id, tenant_id, webhook_id, event_id, event_type, status, attempts, next_attempt_at, \
         lease_until, response_code, duration_ms, last_error, created_at, updated_at"
    };
}

pub(crate) use delivery_cols;

const DELIVERY_COLS: &str = delivery_cols!();
const INSERT_DELIVERY: &str = concat!(
    "INSERT INTO deliveries (",
    delivery_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
);
const GET_DELIVERY: &str = concat!(
    "SELECT ",
    delivery_cols!(),
    " FROM deliveries WHERE tenant_id = $1 AND id = $2"
);
const LAST_DELIVERY: &str = concat!(
    "SELECT ",
    delivery_cols!(),
    " FROM deliveries WHERE webhook_id = $1 AND attempts > 0 ORDER BY updated_at DESC, id DESC LIMIT 1"
);
const FINISH_ATTEMPT: &str = "UPDATE deliveries SET status = $2, attempts = $3, \
     next_attempt_at = $4, lease_until = NULL, response_code = $5, duration_ms = $6, \
     last_error = $7, updated_at = $8 WHERE id = $1 AND status = 'pending'";
const CANCEL_PENDING_DELIVERIES: &str = "UPDATE deliveries SET status = 'cancelled', \
     updated_at = $2, lease_until = NULL WHERE webhook_id = $1 AND status = 'pending'";
const WEBHOOK_STATS: &str = "SELECT COUNT(*) AS n, \
     COALESCE(SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END), 0) AS ok, \
     CAST(AVG(duration_ms) AS DOUBLE PRECISION) AS avg_ms FROM deliveries \
     WHERE webhook_id = $1 AND updated_at >= $2 AND status IN ('success', 'failed')";
const PENDING_DELIVERY_STATS: &str = "SELECT COUNT(*), MIN(created_at) FROM deliveries \
     WHERE status = 'pending'";

pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    d: &DeliveryRow,
) -> StoreResult<()> {
    sqlx::query(INSERT_DELIVERY)
        .bind(&d.id)
        .bind(&d.tenant_id)
        .bind(&d.webhook_id)
        .bind(&d.event_id)
        .bind(&d.event_type)
        .bind(d.status.as_str())
        .bind(d.attempts)
        .bind(d.next_attempt_at)
        .bind(d.lease_until)
        .bind(d.response_code)
        .bind(d.duration_ms)
        .bind(&d.last_error)
        .bind(d.created_at)
        .bind(d.updated_at)
        .execute(ex)
        .await?;
    Ok(())
}

pub async fn get<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    id: &str,
) -> StoreResult<Option<DeliveryRow>> {
    Ok(sqlx::query_as(GET_DELIVERY)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(ex)
        .await?)
}

/// The webhook's most recently attempted delivery.
pub async fn last<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    webhook_id: &str,
) -> StoreResult<Option<DeliveryRow>> {
    Ok(sqlx::query_as(LAST_DELIVERY)
        .bind(webhook_id)
        .fetch_optional(ex)
        .await?)
}

/// Deliveries of a webhook, newest first, optionally of one status, before cursor id.
pub async fn list<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    webhook_id: &str,
    status: Option<DeliveryStatus>,
    before_id: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<DeliveryRow>> {
    let mut sql = format!("SELECT {DELIVERY_COLS} FROM deliveries WHERE webhook_id = $1");
    let mut binds = vec![Bind::Text(webhook_id.to_string())];
    if let Some(s) = status {
        binds.push(Bind::Text(s.as_str().to_string()));
        sql.push_str(&format!(" AND status = ${}", binds.len()));
    }
    if let Some(b) = before_id {
        binds.push(Bind::Text(b.to_string()));
        sql.push_str(&format!(" AND id < ${}", binds.len()));
    }
    binds.push(Bind::Int(limit));
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", binds.len()));
    Ok(query_as_with::<DeliveryRow>(&sql, binds)
        .fetch_all(ex)
        .await?)
}

/// The dialect's claim statement (`template`) for `excluded` webhooks left out, built before
/// the write turn is taken.
pub fn claim_sql(template: &str, excluded: usize) -> String {
    let exclude = if excluded == 0 {
        String::new()
    } else {
        format!(" AND webhook_id NOT IN ({})", placeholders(4, excluded))
    };
    template.replace("{exclude}", &exclude)
}

/// Leases due pending deliveries with `sql` from [`claim_sql`].
pub async fn claim_due(
    writer: &AnyPool,
    sql: &str,
    now_us: i64,
    lease_until_us: i64,
    limit: i64,
    exclude_webhooks: &[String],
) -> StoreResult<Vec<DeliveryRow>> {
    let mut qry = sqlx::query_as(sql)
        .bind(now_us)
        .bind(lease_until_us)
        .bind(limit);
    for w in exclude_webhooks {
        qry = qry.bind(w);
    }
    Ok(qry.fetch_all(writer).await?)
}

/// The statement giving `n` claimed deliveries back (lease cleared).
pub fn release_sql(n: usize) -> String {
    format!(
        "UPDATE deliveries SET lease_until = NULL WHERE status = 'pending' AND id IN ({})",
        placeholders(1, n)
    )
}

/// Gives the claimed deliveries `ids` back with `sql` from [`release_sql`].
pub async fn release(writer: &AnyPool, sql: &str, ids: &[String]) -> StoreResult<()> {
    let mut qry = sqlx::query(sql);
    for id in ids {
        qry = qry.bind(id);
    }
    qry.execute(writer).await?;
    Ok(())
}

pub async fn cancel_pending<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    webhook_id: &str,
    now_us: i64,
) -> StoreResult<u64> {
    let r = sqlx::query(CANCEL_PENDING_DELIVERIES)
        .bind(webhook_id)
        .bind(now_us)
        .execute(ex)
        .await?;
    Ok(r.rows_affected())
}

/// Success/latency aggregates of a webhook's deliveries finished since `since_us`.
pub async fn webhook_stats<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    webhook_id: &str,
    since_us: i64,
) -> StoreResult<WebhookStats> {
    let row: AnyRow = sqlx::query(WEBHOOK_STATS)
        .bind(webhook_id)
        .bind(since_us)
        .fetch_one(ex)
        .await?;
    let avg: Option<f64> = row.try_get::<Option<f64>, _>("avg_ms").ok().flatten();
    Ok(WebhookStats {
        deliveries: row.try_get("n")?,
        successes: row.try_get("ok")?,
        avg_latency_ms: avg,
    })
}

/// How many deliveries are pending and when the oldest was created.
pub async fn pending_stats<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> StoreResult<(i64, Option<i64>)> {
    let row: AnyRow = sqlx::query(PENDING_DELIVERY_STATS).fetch_one(ex).await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// The deliveries of an event as (webhook id, status).
pub async fn states_of_event<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    event_id: &str,
) -> StoreResult<Vec<(String, DeliveryStatus)>> {
    Ok(
        sqlx::query_as("SELECT webhook_id, status FROM deliveries WHERE event_id = $1")
            .bind(event_id)
            .fetch_all(ex)
            .await?,
    )
}

/// Records one attempt's outcome; false (and nothing written) if no longer pending.
pub async fn record_attempt(
    conn: &mut AnyConnection,
    o: &AttemptRecord,
    audit_row: &AuditRow,
) -> StoreResult<bool> {
    let r = sqlx::query(FINISH_ATTEMPT)
        .bind(&o.delivery_id)
        .bind(o.status.as_str())
        .bind(o.attempts)
        .bind(o.next_attempt_at)
        .bind(o.response_code)
        .bind(o.duration_ms)
        .bind(&o.last_error)
        .bind(o.now_us)
        .execute(&mut *conn)
        .await?;
    if r.rows_affected() == 0 {
        return Ok(false);
    }
    if let Some(h) = o.webhook_health {
        sqlx::query(SET_WEBHOOK_HEALTH)
            .bind(&o.webhook_id)
            .bind(h.as_str())
            .execute(&mut *conn)
            .await?;
    }
    if let Some(reason) = &o.disable_reason {
        sqlx::query(DISABLE_WEBHOOK)
            .bind(&o.webhook_id)
            .bind(reason)
            .bind(o.now_us)
            .execute(&mut *conn)
            .await?;
        cancel_pending(&mut *conn, &o.webhook_id, o.now_us).await?;
    }
    audit::insert(&mut *conn, audit_row).await?;
    Ok(true)
}

/// Outcomes per statement in [`record_attempts_bulk`]: 8 parameters each, far below both
/// backends' limits on bound parameters.
const ATTEMPTS_PER_STATEMENT: usize = 250;

/// True when a batch must be recorded one outcome after the other: one of them disables its
/// webhook (which cancels that webhook's other pending deliveries, perhaps some of this very
/// batch), or a delivery appears twice (only its first outcome may be recorded).
pub fn needs_one_by_one(items: &[(AttemptRecord, AuditRow)]) -> bool {
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    items
        .iter()
        .any(|(o, _)| o.disable_reason.is_some() || !seen.insert(o.delivery_id.as_str()))
}

/// Records a batch of outcomes (distinct deliveries, none disabling its webhook) with a few
/// statements instead of three per outcome: one UPDATE … FROM (VALUES …) for the deliveries
/// (RETURNING those still pending), one for the webhooks whose health changes, and multi-row
/// INSERTs of the recorded outcomes' audit rows. Same result as [`record_attempt`] for each
/// in turn: an outcome whose delivery is no longer pending writes nothing and yields false, and
/// a webhook ends with the health of its last recorded outcome that sets one.
pub async fn record_attempts_bulk(
    conn: &mut AnyConnection,
    items: &[(AttemptRecord, AuditRow)],
) -> StoreResult<Vec<bool>> {
    let mut recorded = std::collections::HashSet::with_capacity(items.len());
    for chunk in items.chunks(ATTEMPTS_PER_STATEMENT) {
        // VALUES columns are column1…column8 on both backends.
        let sql = format!(
            "UPDATE deliveries SET status = v.column2, attempts = v.column3, \
             next_attempt_at = v.column4, lease_until = NULL, response_code = v.column5, \
             duration_ms = v.column6, last_error = v.column7, updated_at = v.column8 \
             FROM (VALUES {}) AS v WHERE deliveries.id = v.column1 \
             AND deliveries.status = 'pending' RETURNING deliveries.id",
            value_rows(chunk.len(), 8)
        );
        let mut qry = sqlx::query_scalar::<_, String>(&sql);
        for (o, _) in chunk {
            qry = qry
                .bind(&o.delivery_id)
                .bind(o.status.as_str())
                .bind(o.attempts)
                .bind(o.next_attempt_at)
                .bind(o.response_code)
                .bind(o.duration_ms)
                .bind(&o.last_error)
                .bind(o.now_us);
        }
        recorded.extend(qry.fetch_all(&mut *conn).await?);
    }
    let out: Vec<bool> = items
        .iter()
        .map(|(o, _)| recorded.contains(&o.delivery_id))
        .collect();

    // The last health each webhook is given, in batch order; unchanged rows are not written.
    let mut health: Vec<(&str, &str)> = Vec::new();
    for ((o, _), ok) in items.iter().zip(&out) {
        if let (true, Some(h)) = (*ok, o.webhook_health.map(WebhookHealth::as_str)) {
            match health.iter_mut().find(|(w, _)| *w == o.webhook_id) {
                Some(e) => e.1 = h,
                None => health.push((&o.webhook_id, h)),
            }
        }
    }
    if !health.is_empty() {
        let sql = format!(
            "UPDATE webhooks SET status = v.column2 FROM (VALUES {}) AS v \
             WHERE webhooks.id = v.column1 AND webhooks.status <> v.column2",
            value_rows(health.len(), 2)
        );
        let mut qry = sqlx::query(&sql);
        for (w, h) in &health {
            qry = qry.bind(*w).bind(*h);
        }
        qry.execute(&mut *conn).await?;
    }

    let audits: Vec<&AuditRow> = items
        .iter()
        .zip(&out)
        .filter(|(_, ok)| **ok)
        .map(|((_, a), _)| a)
        .collect();
    audit::insert_rows(conn, &audits).await?;
    Ok(out)
}
