//! SQL of secrets: the header row, its tags and its encrypted versions.

use super::{query_as_with, Bind};
use crate::store::errors::StoreResult;
use crate::store::rows::{SecretRow, VersionInfo, VersionRow};
use crate::store::stored_flag::{flag, StoredFlag};
use crate::store::SecretListQuery;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Executor, Row};

macro_rules! secret_cols {
    () => {
        "id, tenant_id, path, secret_type, description, owner, tags, custom, max_versions, \
         current_version, created_at, created_by, updated_at, expires_at, notify_before, \
         rotation_policy_id, deleted_at, recoverable_until, alert_on_read"
    };
}

const GET_LIVE_SECRET: &str = concat!(
    "SELECT ",
    secret_cols!(),
    " FROM secrets WHERE tenant_id = $1 AND path = $2 AND deleted_at IS NULL"
);
/// Every secret column, for a query that adds its own condition.
pub(super) const SELECT_SECRETS: &str = concat!("SELECT ", secret_cols!(), " FROM secrets");
const SELECT_SECRET_ANY_STATE: &str = concat!(
    "SELECT ",
    secret_cols!(),
    " FROM secrets WHERE tenant_id = $1 AND path = $2"
);
const SECRET_BY_ID: &str = concat!("SELECT ", secret_cols!(), " FROM secrets WHERE id = $1");
const INSERT_SECRET: &str = concat!(
    "INSERT INTO secrets (",
    secret_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
);
const UPDATE_SECRET: &str = "UPDATE secrets SET secret_type = $2, description = $3, \
     owner = $4, tags = $5, custom = $6, max_versions = $7, current_version = $8, \
     updated_at = $9, expires_at = $10, notify_before = $11, rotation_policy_id = $12, \
     deleted_at = $13, recoverable_until = $14, alert_on_read = $15 WHERE id = $1";
const DELETE_TAGS: &str = "DELETE FROM secret_tags WHERE secret_id = $1";
const INSERT_TAG: &str =
    "INSERT INTO secret_tags (secret_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING";
const DELETE_SECRET: &str = "DELETE FROM secrets WHERE id = $1";
const DELETE_VERSIONS: &str = "DELETE FROM secret_versions WHERE secret_id = $1";

const INSERT_VERSION: &str = "INSERT INTO secret_versions (secret_id, version, ciphertext, \
     wrapped_key, key_id, created_at, created_by, is_rotation, readable_until, aad_version) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const GET_VERSION: &str = "SELECT secret_id, version, ciphertext, wrapped_key, key_id, \
     created_at, created_by, is_rotation, readable_until, aad_version FROM secret_versions \
     WHERE secret_id = $1 AND version = $2";
const GET_SECRET_WITH_CURRENT: &str = concat!(
    "SELECT s.",
    "id, s.tenant_id, s.path, s.secret_type, s.description, s.owner, s.tags, s.custom, \
     s.max_versions, s.current_version, s.created_at, s.created_by, s.updated_at, s.expires_at, \
     s.notify_before, s.rotation_policy_id, s.deleted_at, s.recoverable_until, s.alert_on_read, \
     v.ciphertext AS v_ciphertext, v.wrapped_key AS v_wrapped_key, v.key_id AS v_key_id, \
     v.created_at AS v_created_at, v.created_by AS v_created_by, v.is_rotation AS v_is_rotation, \
     v.readable_until AS v_readable_until, v.aad_version AS v_aad_version \
     FROM secrets s JOIN secret_versions v ON v.secret_id = s.id AND v.version = s.current_version \
     WHERE s.tenant_id = $1 AND s.path = $2 AND s.deleted_at IS NULL"
);
const LIST_VERSIONS: &str = "SELECT version, created_at, created_by, is_rotation, \
     readable_until FROM secret_versions WHERE secret_id = $1 ORDER BY version DESC";
const COUNT_VERSIONS: &str = "SELECT COUNT(*) FROM secret_versions WHERE secret_id = $1";
const PRUNE_VERSIONS: &str = "DELETE FROM secret_versions WHERE secret_id = $1 \
     AND version <= $2 AND (readable_until IS NULL OR (readable_until <= $3 AND grace_reported = 1))";

/// The live (not soft-deleted) secret at `path`.
pub async fn get_live<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    path: &str,
) -> StoreResult<Option<SecretRow>> {
    Ok(sqlx::query_as(GET_LIVE_SECRET)
        .bind(tenant_id)
        .bind(path)
        .fetch_optional(ex)
        .await?)
}

/// The secret at `path`, live or soft-deleted, without a lock.
pub async fn get_any_state<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    path: &str,
) -> StoreResult<Option<SecretRow>> {
    Ok(sqlx::query_as(SELECT_SECRET_ANY_STATE)
        .bind(tenant_id)
        .bind(path)
        .fetch_optional(ex)
        .await?)
}

/// The secret at `path`, live or soft-deleted; `lock_row` is the dialect's locking clause.
pub async fn lock<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    path: &str,
    lock_row: &str,
) -> StoreResult<Option<SecretRow>> {
    let sql = format!("{SELECT_SECRET_ANY_STATE}{lock_row}");
    Ok(sqlx::query_as(&sql)
        .bind(tenant_id)
        .bind(path)
        .fetch_optional(ex)
        .await?)
}

pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> StoreResult<Option<SecretRow>> {
    Ok(sqlx::query_as(SECRET_BY_ID)
        .bind(id)
        .fetch_optional(ex)
        .await?)
}

/// A live secret and its current version in one round trip.
pub async fn get_with_current<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    path: &str,
) -> StoreResult<Option<(SecretRow, VersionRow)>> {
    let row: Option<AnyRow> = sqlx::query(GET_SECRET_WITH_CURRENT)
        .bind(tenant_id)
        .bind(path)
        .fetch_optional(ex)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let secret: SecretRow = sqlx::FromRow::from_row(&row)?;
    let version = VersionRow {
        secret_id: secret.id.clone(),
        version: secret.current_version,
        ciphertext: row.try_get("v_ciphertext")?,
        wrapped_key: row.try_get("v_wrapped_key")?,
        key_id: row.try_get("v_key_id")?,
        created_at: row.try_get("v_created_at")?,
        created_by: row.try_get("v_created_by")?,
        is_rotation: row.try_get::<StoredFlag, _>("v_is_rotation")?.try_into()?,
        readable_until: row.try_get("v_readable_until")?,
        aad_version: row.try_get("v_aad_version")?,
    };
    Ok(Some((secret, version)))
}

/// A tenant's live secrets matching the listing's filters, by path.
pub async fn list<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    query: &SecretListQuery,
) -> StoreResult<Vec<SecretRow>> {
    let mut sql = String::from(concat!(
        "SELECT ",
        secret_cols!(),
        " FROM secrets s WHERE tenant_id = $1 AND deleted_at IS NULL"
    ));
    let mut binds: Vec<Bind> = vec![Bind::Text(query.tenant_id.clone())];
    let next = |binds: &mut Vec<Bind>, b: Bind| {
        binds.push(b);
        format!("${}", binds.len())
    };
    if let Some(prefix) = &query.prefix {
        let lo = next(&mut binds, Bind::Text(prefix.clone()));
        let hi = next(
            &mut binds,
            Bind::Text(crate::domain::path::prefix_upper_bound(prefix)),
        );
        sql.push_str(&format!(" AND path >= {lo} AND path < {hi}"));
    }
    if !query.path_rules.is_empty() {
        let mut ors = Vec::new();
        for rule in &query.path_rules {
            // Whole segments: the rule's own path, or anything under `rule/`.
            let (exact, lo, hi) = crate::domain::access::rule_bounds(rule);
            let eq = next(&mut binds, Bind::Text(exact));
            let lo = next(&mut binds, Bind::Text(lo));
            let hi = next(&mut binds, Bind::Text(hi));
            ors.push(format!("(path = {eq} OR (path >= {lo} AND path < {hi}))"));
        }
        sql.push_str(&format!(" AND ({})", ors.join(" OR ")));
    }
    if let Some(t) = &query.secret_type {
        let p = next(&mut binds, Bind::Text(t.clone()));
        sql.push_str(&format!(" AND secret_type = {p}"));
    }
    if let Some(tag) = &query.tag {
        let p = next(&mut binds, Bind::Text(tag.clone()));
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM secret_tags t WHERE t.secret_id = s.id AND t.tag = {p})"
        ));
    }
    if let Some(after) = &query.after_path {
        let p = next(&mut binds, Bind::Text(after.clone()));
        sql.push_str(&format!(" AND path > {p}"));
    }
    let p = next(&mut binds, Bind::Int(query.limit));
    sql.push_str(&format!(" ORDER BY path LIMIT {p}"));
    Ok(query_as_with::<SecretRow>(&sql, binds)
        .fetch_all(ex)
        .await?)
}

pub async fn insert<'e, E: Executor<'e, Database = Any>>(ex: E, s: &SecretRow) -> StoreResult<()> {
    sqlx::query(INSERT_SECRET)
        .bind(&s.id)
        .bind(&s.tenant_id)
        .bind(&s.path)
        .bind(s.secret_type.as_str())
        .bind(&s.description)
        .bind(&s.owner)
        .bind(&s.tags)
        .bind(&s.custom)
        .bind(s.max_versions)
        .bind(s.current_version)
        .bind(s.created_at)
        .bind(&s.created_by)
        .bind(s.updated_at)
        .bind(s.expires_at)
        .bind(&s.notify_before)
        .bind(&s.rotation_policy_id)
        .bind(s.deleted_at)
        .bind(s.recoverable_until)
        .bind(flag(s.alert_on_read))
        .execute(ex)
        .await?;
    Ok(())
}

/// Writes every mutable field of the secret row.
pub async fn update<'e, E: Executor<'e, Database = Any>>(ex: E, s: &SecretRow) -> StoreResult<()> {
    sqlx::query(UPDATE_SECRET)
        .bind(&s.id)
        .bind(s.secret_type.as_str())
        .bind(&s.description)
        .bind(&s.owner)
        .bind(&s.tags)
        .bind(&s.custom)
        .bind(s.max_versions)
        .bind(s.current_version)
        .bind(s.updated_at)
        .bind(s.expires_at)
        .bind(&s.notify_before)
        .bind(&s.rotation_policy_id)
        .bind(s.deleted_at)
        .bind(s.recoverable_until)
        .bind(flag(s.alert_on_read))
        .execute(ex)
        .await?;
    Ok(())
}

pub async fn replace_tags(
    conn: &mut AnyConnection,
    secret_id: &str,
    tags: &[String],
) -> StoreResult<()> {
    sqlx::query(DELETE_TAGS)
        .bind(secret_id)
        .execute(&mut *conn)
        .await?;
    for tag in tags {
        sqlx::query(INSERT_TAG)
            .bind(secret_id)
            .bind(tag)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Destroys a secret with all its versions and tags.
pub async fn delete(conn: &mut AnyConnection, secret_id: &str) -> StoreResult<()> {
    // Children first: SQLite only cascades with foreign_keys on, and we don't rely on it.
    for sql in [DELETE_VERSIONS, DELETE_TAGS, DELETE_SECRET] {
        sqlx::query(sql).bind(secret_id).execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn get_version<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    secret_id: &str,
    version: i64,
) -> StoreResult<Option<VersionRow>> {
    Ok(sqlx::query_as(GET_VERSION)
        .bind(secret_id)
        .bind(version)
        .fetch_optional(ex)
        .await?)
}

/// Version summaries, newest first.
pub async fn list_versions<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    secret_id: &str,
) -> StoreResult<Vec<VersionInfo>> {
    Ok(sqlx::query_as(LIST_VERSIONS)
        .bind(secret_id)
        .fetch_all(ex)
        .await?)
}

pub async fn insert_version<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    v: &VersionRow,
) -> StoreResult<()> {
    sqlx::query(INSERT_VERSION)
        .bind(&v.secret_id)
        .bind(v.version)
        .bind(&v.ciphertext)
        .bind(&v.wrapped_key)
        .bind(&v.key_id)
        .bind(v.created_at)
        .bind(&v.created_by)
        .bind(flag(v.is_rotation))
        .bind(v.readable_until)
        .bind(v.aad_version)
        .execute(ex)
        .await?;
    Ok(())
}

/// Destroys versions `<= floor` that are not inside a grace period at `now_us`.
pub async fn prune_versions<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    secret_id: &str,
    floor: i64,
    now_us: i64,
) -> StoreResult<u64> {
    let r = sqlx::query(PRUNE_VERSIONS)
        .bind(secret_id)
        .bind(floor)
        .bind(now_us)
        .execute(ex)
        .await?;
    Ok(r.rows_affected())
}

pub async fn count_versions<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    secret_id: &str,
) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(COUNT_VERSIONS)
        .bind(secret_id)
        .fetch_one(ex)
        .await?)
}

/// Marks a version as a rotation result, or sets how long a superseded one stays readable.
pub async fn set_version_flags(
    conn: &mut AnyConnection,
    secret_id: &str,
    version: i64,
    is_rotation: Option<bool>,
    readable_until: Option<i64>,
) -> StoreResult<()> {
    if let Some(r) = is_rotation {
        sqlx::query(
            "UPDATE secret_versions SET is_rotation = $3 WHERE secret_id = $1 AND version = $2",
        )
        .bind(secret_id)
        .bind(version)
        .bind(flag(r))
        .execute(&mut *conn)
        .await?;
    }
    if let Some(u) = readable_until {
        sqlx::query(
            "UPDATE secret_versions SET readable_until = $3 WHERE secret_id = $1 AND version = $2",
        )
        .bind(secret_id)
        .bind(version)
        .bind(u)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
