//! SQL of who read which version of a secret, answered from the audit log's
//! `(tenant_id, secret_path, ts)` index (SPEC §11): no extra write per read.

use crate::store::errors::StoreResult;
use crate::store::rows::{VersionReaders, VersionReads};
use sqlx::{AnyPool, Row};

const VERSION_READS: &str = "SELECT version, MAX(ts) AS last_read_at, \
     COUNT(DISTINCT CASE WHEN ts >= $4 THEN identity_id END) AS readers_recent \
     FROM audit_log WHERE tenant_id = $1 AND secret_path = $2 AND ts >= $3 \
     AND action = 'read' AND success = 1 AND version IS NOT NULL GROUP BY version";

const READERS_OF_VERSION: &str = "SELECT identity_id, COUNT(*) AS reads, MAX(ts) AS last_ts \
     FROM audit_log WHERE tenant_id = $1 AND secret_path = $2 AND ts >= $3 AND ts < $4 \
     AND action = 'read' AND success = 1 AND version = $5 GROUP BY identity_id ORDER BY identity_id";

/// Per version of `path` read since `since_us`: the last successful read, and how many
/// distinct identities read it since `recent_us`.
pub async fn per_version(
    pool: &AnyPool,
    tenant_id: &str,
    path: &str,
    since_us: i64,
    recent_us: i64,
) -> StoreResult<Vec<VersionReads>> {
    let rows = sqlx::query(VERSION_READS)
        .bind(tenant_id)
        .bind(path)
        .bind(since_us)
        .bind(recent_us)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(VersionReads {
                version: r.try_get("version")?,
                last_read_at: r.try_get("last_read_at")?,
                readers_recent: r.try_get("readers_recent")?,
            })
        })
        .collect()
}

/// Who read `version` of `path` in `[from_us, to_us)`, how often, and when last.
pub async fn readers_of(
    pool: &AnyPool,
    tenant_id: &str,
    path: &str,
    version: i64,
    from_us: i64,
    to_us: i64,
) -> StoreResult<VersionReaders> {
    let rows = sqlx::query(READERS_OF_VERSION)
        .bind(tenant_id)
        .bind(path)
        .bind(from_us)
        .bind(to_us)
        .bind(version)
        .fetch_all(pool)
        .await?;
    let mut out = VersionReaders::default();
    for r in &rows {
        out.readers.push(r.try_get("identity_id")?);
        out.reads += r.try_get::<i64, _>("reads")?;
        let last: i64 = r.try_get("last_ts")?;
        out.last_read_at = Some(out.last_read_at.map_or(last, |l: i64| l.max(last)));
    }
    Ok(out)
}
