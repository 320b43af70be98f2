//! SQL of reading the audit log: the filtered, paged listing and its summary counts.

use super::audit::AUDIT_SELECT_COLS;
use super::{query_as_with, Bind};
use crate::store::errors::StoreResult;
use crate::store::rows::AuditRow;
use crate::store::{AuditQuery, AuditSummary};
use sqlx::{AnyPool, Row};

/// Audit rows matching `aq`, newest first.
pub async fn list(pool: &AnyPool, aq: &AuditQuery) -> StoreResult<Vec<AuditRow>> {
    let mut binds = Vec::new();
    let mut sql = format!(
        "SELECT {} FROM audit_log WHERE {}",
        AUDIT_SELECT_COLS,
        audit_where(aq, &mut binds)
    );
    if let Some((ts, id)) = &aq.before {
        binds.push(Bind::Int(*ts));
        let t = binds.len();
        binds.push(Bind::Text(id.clone()));
        sql.push_str(&format!(
            " AND (ts < ${t} OR (ts = ${t} AND id < ${}))",
            t + 1
        ));
    }
    binds.push(Bind::Int(aq.limit));
    sql.push_str(&format!(
        " ORDER BY ts DESC, id DESC LIMIT ${}",
        binds.len()
    ));
    Ok(query_as_with::<AuditRow>(&sql, binds)
        .fetch_all(pool)
        .await?)
}

/// Counts over the rows matching `aq` (limit and cursor ignored).
pub async fn summary(pool: &AnyPool, aq: &AuditQuery) -> StoreResult<AuditSummary> {
    let mut binds = Vec::new();
    let cond = audit_where(aq, &mut binds);
    let sql = format!(
        "SELECT action, COUNT(*) AS n, CAST(COALESCE(SUM(success), 0) AS BIGINT) AS ok FROM audit_log \
         WHERE {cond} GROUP BY action ORDER BY action"
    );
    let mut qry = sqlx::query(&sql);
    for b in &binds {
        qry = b.clone().bind_any(qry);
    }
    let rows = qry.fetch_all(pool).await?;
    let mut out = AuditSummary::default();
    for r in rows {
        let n: i64 = r.try_get("n")?;
        out.total += n;
        out.successful += r.try_get::<i64, _>("ok")?;
        out.by_action.push((r.try_get("action")?, n));
    }
    let sql = format!("SELECT COUNT(DISTINCT identity_id) FROM audit_log WHERE {cond}");
    let mut qry = sqlx::query_scalar::<_, i64>(&sql);
    for b in binds {
        qry = b.bind_scalar(qry);
    }
    out.unique_identities = qry.fetch_one(pool).await?;
    Ok(out)
}

/// The WHERE clause of an audit query (tenant, filters and path rules), binding as it goes.
fn audit_where(aq: &AuditQuery, binds: &mut Vec<Bind>) -> String {
    let push = |binds: &mut Vec<Bind>, b: Bind| {
        binds.push(b);
        format!("${}", binds.len())
    };
    let mut conds = vec![format!(
        "tenant_id = {}",
        push(binds, Bind::Text(aq.tenant_id.clone()))
    )];
    if let Some(f) = aq.from_us {
        conds.push(format!("ts >= {}", push(binds, Bind::Int(f))));
    }
    if let Some(t) = aq.to_us {
        conds.push(format!("ts < {}", push(binds, Bind::Int(t))));
    }
    if !aq.actions.is_empty() {
        let list: Vec<String> = aq
            .actions
            .iter()
            .map(|a| push(binds, Bind::Text(a.clone())))
            .collect();
        conds.push(format!("action IN ({})", list.join(", ")));
    }
    for (col, val) in [
        ("identity_id", &aq.identity_id),
        ("identity_type", &aq.identity_type),
        ("secret_path", &aq.exact_path),
        ("source_ip", &aq.source_ip),
        ("request_id", &aq.request_id),
    ] {
        if let Some(v) = val {
            conds.push(format!("{col} = {}", push(binds, Bind::Text(v.clone()))));
        }
    }
    if let Some(s) = aq.success {
        conds.push(format!(
            "success = {}",
            push(binds, Bind::Int(i64::from(s)))
        ));
    }
    let range = |binds: &mut Vec<Bind>, p: &str| {
        let lo = push(binds, Bind::Text(p.to_string()));
        let hi = push(
            binds,
            Bind::Text(crate::domain::path::prefix_upper_bound(p)),
        );
        format!("(secret_path >= {lo} AND secret_path < {hi})")
    };
    if let Some(p) = &aq.path_prefix {
        conds.push(range(binds, p));
    }
    if !aq.path_rules.is_empty() {
        // Whole segments: the rule's own path, or anything under `rule/`.
        let ors: Vec<String> = aq
            .path_rules
            .iter()
            .map(|rule| {
                let (exact, lo, hi) = crate::domain::access::rule_bounds(rule);
                let eq = push(binds, Bind::Text(exact));
                let lo = push(binds, Bind::Text(lo));
                let hi = push(binds, Bind::Text(hi));
                format!("(secret_path = {eq} OR (secret_path >= {lo} AND secret_path < {hi}))")
            })
            .collect();
        conds.push(format!("({})", ors.join(" OR ")));
    }
    conds.join(" AND ")
}
