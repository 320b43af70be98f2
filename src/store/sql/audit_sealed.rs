//! PostgreSQL: the audit writer's batches sealed as they are inserted, so the background sealer
//! never rewrites them. A sealing UPDATE changes `seq`, which indexes use, so it cannot be a
//! HOT update: it doubled the WAL records of every audited read (13.4 per read measured, 6 of
//! them the sealer's).
//!
//! One autocommit call of `scaivault_append_audit_sealing` (migration 0016) per batch: it
//! checks the tokens the read cache served, takes the sealer's lock (which serializes batches,
//! across replicas too, and the sealer's own transactions) and reads the head. The writer
//! remembers the head its last batch left and seals the rows onto it here; if that is still
//! the head they are inserted as they are. If not (another replica's batch or the sealer
//! moved it), the function seals them itself onto the head it found, from each row's
//! canonical bytes computed here (`chain::canonical_tail`): one round trip either way.

use crate::audit::chain;
use crate::store::errors::{StoreError, StoreResult};
use crate::store::rows::AuditRow;
use crate::store::stored_flag::flag;
use serde::Serialize;
use sqlx::AnyPool;

/// The chain's last link: (seq, hash).
pub type Head = (i64, String);

/// Writes `rows`, sealed onto the chain's head, in one round trip, if every token in `tokens`
/// (ids) is still valid; `after` is the head the rows are sealed onto here, if one is known.
/// The head the rows left, or the invalid tokens (nothing written then). Durable when it
/// returns, unless the pool's connections commit asynchronously.
pub async fn append_sealing(
    writer: &AnyPool,
    after: Option<&Head>,
    rows: &[AuditRow],
    tokens: &[String],
) -> StoreResult<Result<Head, Vec<String>>> {
    let tails: Vec<String> = rows.iter().map(chain::canonical_tail).collect();
    let links = after.map(|h| chain::seal_tails_onto(h.clone(), &tails));
    let records: Vec<Record> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| Record::new(r, links.as_ref().and_then(|l| l.get(i))))
        .collect();
    let (inserted, invalid, seq, hash): (i64, Option<String>, Option<i64>, Option<String>) =
        sqlx::query_as(APPEND_AUDIT)
            .bind(to_json(&records)?)
            .bind(to_json(&tails)?)
            .bind(to_json(tokens)?)
            .bind(after.map(|h| h.0))
            .bind(after.map(|h| h.1.as_str()))
            .fetch_one(writer)
            .await?;
    if let Some(ids) = invalid {
        return Ok(Err(serde_json::from_str(&ids).map_err(|e| {
            StoreError::Unavailable(format!("unexpected token list from the database: {e}"))
        })?));
    }
    // No head back: the rows went in as sealed here.
    let left = seq.zip(hash).or_else(|| links.and_then(|mut l| l.pop()));
    match left {
        Some(head) if inserted == rows.len() as i64 => Ok(Ok(head)),
        _ => Err(StoreError::Unavailable(format!(
            "the audit batch wrote {inserted} of {} rows",
            rows.len()
        ))),
    }
}

const APPEND_AUDIT: &str = "SELECT inserted, invalid_tokens, head_seq, head_hash \
     FROM scaivault_append_audit_sealing($1, $2, $3, $4, $5)";

/// One row as `json_populate_recordset` reads it: keys are `audit_log`'s column names.
#[derive(Serialize)]
struct Record<'a> {
    id: &'a str,
    tenant_id: &'a str,
    ts: i64,
    action: &'a str,
    identity_type: &'a str,
    identity_id: &'a str,
    secret_path: Option<&'a str>,
    version: Option<i64>,
    source_ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    success: i64,
    status_code: i64,
    duration_ms: i64,
    request_id: Option<&'a str>,
    extra_data: &'a str,
    /// As sealed onto the remembered head (None when none is known).
    seq: Option<i64>,
    hash: Option<&'a str>,
}

impl<'a> Record<'a> {
    fn new(r: &'a AuditRow, link: Option<&'a Head>) -> Self {
        Self {
            id: &r.id,
            tenant_id: &r.tenant_id,
            ts: r.ts,
            action: &r.action,
            identity_type: r.identity_type.as_str(),
            identity_id: &r.identity_id,
            secret_path: r.secret_path.as_deref(),
            version: r.version,
            source_ip: r.source_ip.as_deref(),
            user_agent: r.user_agent.as_deref(),
            success: flag(r.success),
            status_code: r.status_code,
            duration_ms: r.duration_ms,
            request_id: r.request_id.as_deref(),
            extra_data: &r.extra_data,
            seq: link.map(|l| l.0),
            hash: link.map(|l| l.1.as_str()),
        }
    }
}

fn to_json<T: Serialize + ?Sized>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v)
        .map_err(|e| StoreError::Unavailable(format!("cannot encode the audit batch: {e}")))
}
