//! SQL of rotation: policies, the per-secret schedule (one indexed `next_event_at` per
//! rotating secret), the rotation history, and the scheduler's backlog.

use super::Tx;
use crate::store::errors::StoreResult;
use crate::store::rows::{HistoryRow, PolicyRow, ScheduleRow, SchedulerBacklog};
use crate::store::stored_enums::RotationStatus;
use crate::store::stored_flag::flag;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Row};

const POLICY_COLS: &str = "tenant_id, id, name, description, interval_text, interval_seconds, \
     grace_text, grace_seconds, warn_before, auto_generate, webhook_ids, is_active, created_at, updated_at, \
     secret_policy_id";
const SCHEDULE_COLS: &str = "secret_id, tenant_id, policy_id, assigned_at, last_rotated_at, \
     next_rotation_at, status, history_id, due_at, warnings_sent, next_event_at";
const HISTORY_COLS: &str = "id, tenant_id, policy_id, secret_id, secret_path, trigger, status, \
     old_version, new_version, started_at, completed_at, error, due_event_id";

pub async fn get_policy<'e, E: sqlx::Executor<'e, Database = Any>>(
    ex: E,
    tenant: &str,
    id: &str,
) -> StoreResult<Option<PolicyRow>> {
    let sql =
        format!("SELECT {POLICY_COLS} FROM rotation_policies WHERE tenant_id = $1 AND id = $2");
    Ok(sqlx::query_as(&sql)
        .bind(tenant)
        .bind(id)
        .fetch_optional(ex)
        .await?)
}

pub async fn list_policies<'e, E: sqlx::Executor<'e, Database = Any>>(
    ex: E,
    tenant: &str,
    active_only: bool,
    after: &str,
    limit: i64,
) -> StoreResult<Vec<PolicyRow>> {
    let sql = format!(
        "SELECT {POLICY_COLS} FROM rotation_policies WHERE tenant_id = $1 AND id > $2 \
         AND (is_active = 1 OR $3 = 0) ORDER BY id LIMIT $4"
    );
    Ok(sqlx::query_as(&sql)
        .bind(tenant)
        .bind(after)
        .bind(flag(active_only))
        .bind(limit)
        .fetch_all(ex)
        .await?)
}

pub async fn count_attached<'e, E: sqlx::Executor<'e, Database = Any>>(
    ex: E,
    tenant: &str,
    policy_id: &str,
) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM rotation_schedule WHERE tenant_id = $1 AND policy_id = $2",
    )
    .bind(tenant)
    .bind(policy_id)
    .fetch_one(ex)
    .await?)
}

/// The paths of the secrets attached to a policy (soft-deleted ones included), for the
/// authorization of a policy change and the caller-filtered `secrets_count`.
pub async fn attached_paths<'e, E: sqlx::Executor<'e, Database = Any>>(
    ex: E,
    tenant: &str,
    policy_id: &str,
) -> StoreResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT s.path FROM rotation_schedule r JOIN secrets s ON s.id = r.secret_id \
         WHERE r.tenant_id = $1 AND r.policy_id = $2 ORDER BY s.path",
    )
    .bind(tenant)
    .bind(policy_id)
    .fetch_all(ex)
    .await?)
}

pub async fn insert_policy(tx: &mut Tx, p: &PolicyRow) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO rotation_policies ({POLICY_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    );
    bind_policy(sqlx::query(&sql), p).execute(&mut **tx).await?;
    Ok(())
}

pub async fn update_policy(tx: &mut Tx, p: &PolicyRow) -> StoreResult<()> {
    let sql = "UPDATE rotation_policies SET tenant_id = $1, id = $2, name = $3, description = $4, \
         interval_text = $5, interval_seconds = $6, grace_text = $7, grace_seconds = $8, \
         warn_before = $9, auto_generate = $10, webhook_ids = $11, is_active = $12, \
         created_at = $13, updated_at = $14, secret_policy_id = $15 WHERE tenant_id = $1 AND id = $2";
    bind_policy(sqlx::query(sql), p).execute(&mut **tx).await?;
    Ok(())
}

fn bind_policy<'q>(
    q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    p: &'q PolicyRow,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    q.bind(&p.tenant_id)
        .bind(&p.id)
        .bind(&p.name)
        .bind(&p.description)
        .bind(&p.interval_text)
        .bind(p.interval_seconds)
        .bind(&p.grace_text)
        .bind(p.grace_seconds)
        .bind(&p.warn_before)
        .bind(flag(p.auto_generate))
        .bind(&p.webhook_ids)
        .bind(flag(p.is_active))
        .bind(p.created_at)
        .bind(p.updated_at)
        .bind(&p.secret_policy_id)
}

/// Deletes a policy, detaching its secrets. False when it did not exist.
pub async fn delete_policy(tx: &mut Tx, tenant: &str, id: &str) -> StoreResult<bool> {
    sqlx::query("UPDATE secrets SET rotation_policy_id = NULL WHERE tenant_id = $1 AND rotation_policy_id = $2")
        .bind(tenant)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM rotation_schedule WHERE tenant_id = $1 AND policy_id = $2")
        .bind(tenant)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let r = sqlx::query("DELETE FROM rotation_policies WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn get_schedule<'e, E: sqlx::Executor<'e, Database = Any>>(
    ex: E,
    secret_id: &str,
    lock: &str,
) -> StoreResult<Option<ScheduleRow>> {
    let sql = format!("SELECT {SCHEDULE_COLS} FROM rotation_schedule WHERE secret_id = $1{lock}");
    Ok(sqlx::query_as(&sql)
        .bind(secret_id)
        .fetch_optional(ex)
        .await?)
}

pub async fn schedules_of_policy(
    tx: &mut Tx,
    tenant: &str,
    policy_id: &str,
) -> StoreResult<Vec<ScheduleRow>> {
    let sql = format!(
        "SELECT {SCHEDULE_COLS} FROM rotation_schedule WHERE tenant_id = $1 AND policy_id = $2"
    );
    Ok(sqlx::query_as(&sql)
        .bind(tenant)
        .bind(policy_id)
        .fetch_all(&mut **tx)
        .await?)
}

pub async fn upsert_schedule(tx: &mut Tx, s: &ScheduleRow) -> StoreResult<()> {
    sqlx::query("DELETE FROM rotation_schedule WHERE secret_id = $1")
        .bind(&s.secret_id)
        .execute(&mut **tx)
        .await?;
    let sql = format!(
        "INSERT INTO rotation_schedule ({SCHEDULE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    );
    sqlx::query(&sql)
        .bind(&s.secret_id)
        .bind(&s.tenant_id)
        .bind(&s.policy_id)
        .bind(s.assigned_at)
        .bind(s.last_rotated_at)
        .bind(s.next_rotation_at)
        .bind(s.status.as_str())
        .bind(&s.history_id)
        .bind(s.due_at)
        .bind(&s.warnings_sent)
        .bind(s.next_event_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn delete_schedule(tx: &mut Tx, secret_id: &str) -> StoreResult<bool> {
    let r = sqlx::query("DELETE FROM rotation_schedule WHERE secret_id = $1")
        .bind(secret_id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Locks up to `limit` schedules whose next event is due (`skip_locked` on PostgreSQL).
pub async fn claim_due(
    tx: &mut Tx,
    now_us: i64,
    limit: i64,
    skip_locked: &str,
) -> StoreResult<Vec<ScheduleRow>> {
    let sql = format!(
        "SELECT {SCHEDULE_COLS} FROM rotation_schedule WHERE next_event_at IS NOT NULL \
         AND next_event_at <= $1 ORDER BY next_event_at LIMIT $2{skip_locked}"
    );
    Ok(sqlx::query_as(&sql)
        .bind(now_us)
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?)
}

/// Schedules rotating by `until_us` (with the secret's path), optionally overdue ones too.
pub async fn due_list<'e, E: sqlx::Executor<'e, Database = Any>>(
    ex: E,
    tenant: &str,
    until_us: i64,
    policy_id: Option<&str>,
) -> StoreResult<Vec<(ScheduleRow, String)>> {
    let sql = format!(
        "SELECT {}, s.path AS secret_path FROM rotation_schedule r JOIN secrets s ON s.id = r.secret_id \
         WHERE r.tenant_id = $1 AND (r.next_rotation_at <= $2 OR r.status <> 'scheduled') \
         AND ($3 = '' OR r.policy_id = $3) AND s.deleted_at IS NULL ORDER BY r.next_rotation_at LIMIT 1000",
        SCHEDULE_COLS.split(", ").map(|c| format!("r.{c}")).collect::<Vec<_>>().join(", ")
    );
    let rows = sqlx::query(&sql)
        .bind(tenant)
        .bind(until_us)
        .bind(policy_id.unwrap_or(""))
        .fetch_all(ex)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let s: ScheduleRow = sqlx::FromRow::from_row(&r)?;
        out.push((s, r.try_get("secret_path")?));
    }
    Ok(out)
}

pub async fn insert_history(tx: &mut Tx, h: &HistoryRow) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO rotation_history ({HISTORY_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    );
    sqlx::query(&sql)
        .bind(&h.id)
        .bind(&h.tenant_id)
        .bind(&h.policy_id)
        .bind(&h.secret_id)
        .bind(&h.secret_path)
        .bind(h.trigger.as_str())
        .bind(h.status.as_str())
        .bind(h.old_version)
        .bind(h.new_version)
        .bind(h.started_at)
        .bind(h.completed_at)
        .bind(&h.error)
        .bind(&h.due_event_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn update_history(tx: &mut Tx, h: &HistoryRow) -> StoreResult<()> {
    sqlx::query(
        "UPDATE rotation_history SET status = $2, old_version = $3, new_version = $4, \
         completed_at = $5, error = $6, due_event_id = $7 WHERE id = $1",
    )
    .bind(&h.id)
    .bind(h.status.as_str())
    .bind(h.old_version)
    .bind(h.new_version)
    .bind(h.completed_at)
    .bind(&h.error)
    .bind(&h.due_event_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn get_history<'e, E: sqlx::Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> StoreResult<Option<HistoryRow>> {
    let sql = format!("SELECT {HISTORY_COLS} FROM rotation_history WHERE id = $1");
    Ok(sqlx::query_as(&sql).bind(id).fetch_optional(ex).await?)
}

pub async fn history_by_due_event<'e, E: sqlx::Executor<'e, Database = Any>>(
    ex: E,
    event_id: &str,
) -> StoreResult<Option<HistoryRow>> {
    let sql = format!("SELECT {HISTORY_COLS} FROM rotation_history WHERE due_event_id = $1");
    Ok(sqlx::query_as(&sql)
        .bind(event_id)
        .fetch_optional(ex)
        .await?)
}

pub async fn list_history<'e, E: sqlx::Executor<'e, Database = Any>>(
    ex: E,
    tenant: &str,
    policy_id: &str,
    status: Option<RotationStatus>,
    before_id: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<HistoryRow>> {
    let sql = format!(
        "SELECT {HISTORY_COLS} FROM rotation_history WHERE tenant_id = $1 AND policy_id = $2 \
         AND ($3 = '' OR status = $3) AND ($4 = '' OR id < $4) ORDER BY id DESC LIMIT $5"
    );
    Ok(sqlx::query_as(&sql)
        .bind(tenant)
        .bind(policy_id)
        .bind(status.map_or("", RotationStatus::as_str))
        .bind(before_id.unwrap_or(""))
        .bind(limit)
        .fetch_all(ex)
        .await?)
}

/// Rotations due at $1 (the same rule as `GET /v1/rotation/due` with `within_hours=0`).
/// Both arms use a partial index; the per-row scalar lookup of the live secret (primary key)
/// skips soft-deleted and destroyed ones without the planner turning it into a scan of secrets.
const ROTATIONS_DUE_COUNT: &str = "SELECT COUNT(*) FROM rotation_schedule r \
     WHERE ((r.status = 'scheduled' AND r.next_rotation_at <= $1) OR r.status <> 'scheduled') \
     AND (SELECT COUNT(*) FROM secrets s WHERE s.id = r.secret_id AND s.deleted_at IS NULL) = 1";
/// The oldest scheduler event due at $1 (both `next_event_at` columns are indexed).
const OLDEST_DUE_SCHEDULER_EVENT: &str = "SELECT MIN(t) FROM (\
     SELECT MIN(next_event_at) AS t FROM rotation_schedule WHERE next_event_at <= $1 \
     UNION ALL SELECT MIN(next_event_at) AS t FROM expiry_schedule WHERE next_event_at <= $1) due";

/// Rotations due and the oldest due scheduler event at `now_us` (all tenants).
pub async fn backlog(pool: &AnyPool, now_us: i64) -> StoreResult<SchedulerBacklog> {
    let due: AnyRow = sqlx::query(ROTATIONS_DUE_COUNT)
        .bind(now_us)
        .fetch_one(pool)
        .await?;
    let oldest: AnyRow = sqlx::query(OLDEST_DUE_SCHEDULER_EVENT)
        .bind(now_us)
        .fetch_one(pool)
        .await?;
    Ok(SchedulerBacklog {
        rotations_due: due.try_get(0)?,
        oldest_due_event_at: oldest.try_get(0)?,
    })
}
