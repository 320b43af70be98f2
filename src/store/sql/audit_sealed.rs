//! PostgreSQL: the audit writer's batches sealed as they are inserted, so the background sealer
//! never rewrites them. A sealing UPDATE changes `seq`, which indexes use, so it cannot be a
//! HOT update: it doubled the WAL records of every audited read (13.4 per read measured, 6 of
//! them the sealer's). The sealer's lock serializes batches (across replicas too); the writer
//! grows each batch while the previous one commits.
//!
//! Two ways in. `append_after` is the common one: the writer remembers the head its last batch
//! left, seals the rows onto it here, and one autocommit call of `scaivault_append_audit`
//! (migration 0015) checks the tokens, takes the lock and inserts them if that is still the
//! head: one round trip. `append_sealed` is the transaction that reads the head under the lock
//! (begin, tokens, lock, head, insert, commit: six round trips), for the first batch and
//! whenever the head moved.

use super::audit::{
    bind_row, chain_head, invalid_tokens, AUDIT_COL_COUNT, AUDIT_INSERT_SEALED_HEAD,
};
use super::value_rows;
use crate::audit::chain;
use crate::store::errors::{StoreError, StoreResult};
use crate::store::rows::AuditRow;
use crate::store::stored_flag::flag;
use serde::Serialize;
use sqlx::AnyPool;

/// Rows per INSERT (17 parameters each).
const ROWS_PER_STATEMENT: usize = 60;

/// The chain's last link: (seq, hash).
pub type Head = (i64, String);

/// What a batch came to.
#[derive(Debug, PartialEq)]
pub enum Appended {
    /// Written and committed; the head it left.
    Written(Head),
    /// Nothing written: these tokens are revoked or gone.
    Invalid(Vec<String>),
    /// Nothing written (`append_after` only): the chain's head is no longer the one given; the
    /// current one, or None when no row is sealed (the head is then the retention anchor).
    Moved(Option<Head>),
}

/// Writes `rows`, sealed onto `head` as `links` (`chain::seal_onto`), in one round trip, if
/// `head` is still the chain's last sealed row and every token in `tokens` is valid.
pub async fn append_after(
    writer: &AnyPool,
    head: &Head,
    links: &[Head],
    rows: &[AuditRow],
    tokens: &[String],
) -> StoreResult<Appended> {
    let records: Vec<SealedRecord> = rows
        .iter()
        .zip(links)
        .map(|(r, (seq, hash))| SealedRecord::new(r, *seq, hash))
        .collect();
    let (inserted, invalid, seq, hash): (i64, Option<String>, Option<i64>, Option<String>) =
        sqlx::query_as(APPEND_AUDIT)
            .bind(to_json(&records)?)
            .bind(to_json(tokens)?)
            .bind(head.0)
            .bind(head.1.as_str())
            .fetch_one(writer)
            .await?;
    Ok(match (inserted, invalid) {
        (_, Some(ids)) => Appended::Invalid(serde_json::from_str(&ids).map_err(|e| {
            StoreError::Unavailable(format!("unexpected token list from the database: {e}"))
        })?),
        (-1, None) => Appended::Moved(seq.zip(hash)),
        (n, None) if n == rows.len() as i64 => {
            Appended::Written(links.last().cloned().unwrap_or_else(|| head.clone()))
        }
        (n, None) => {
            return Err(StoreError::Unavailable(format!(
                "the audit batch wrote {n} of {} rows",
                rows.len()
            )))
        }
    })
}

const APPEND_AUDIT: &str = "SELECT inserted, invalid_tokens, head_seq, head_hash \
     FROM scaivault_append_audit($1, $2, $3, $4)";

/// One row as `json_populate_recordset` reads it: keys are `audit_log`'s column names.
#[derive(Serialize)]
struct SealedRecord<'a> {
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
    seq: i64,
    hash: &'a str,
}

impl<'a> SealedRecord<'a> {
    fn new(r: &'a AuditRow, seq: i64, hash: &'a str) -> Self {
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
            seq,
            hash,
        }
    }
}

fn to_json<T: Serialize + ?Sized>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v)
        .map_err(|e| StoreError::Unavailable(format!("cannot encode the audit batch: {e}")))
}

/// Writes `rows` sealed onto the chain in a transaction that reads the head under the lock,
/// after checking `tokens` are still valid. `lock` takes the sealer's lock until the
/// transaction ends. The head the rows left, or the invalid tokens (nothing written then).
pub async fn append_sealed(
    writer: &AnyPool,
    begin: &'static str,
    lock: &'static str,
    rows: &[AuditRow],
    tokens: &[String],
) -> StoreResult<Result<Head, Vec<String>>> {
    let mut tx = writer.begin_with(begin).await?;
    let invalid = invalid_tokens(&mut tx, tokens).await?;
    if !invalid.is_empty() {
        return Ok(Err(invalid));
    }
    sqlx::query(lock).execute(&mut *tx).await?;
    let head = chain_head(&mut tx).await?;
    let links = chain::seal_onto(head.clone(), rows);
    for (chunk, seals) in rows
        .chunks(ROWS_PER_STATEMENT)
        .zip(links.chunks(ROWS_PER_STATEMENT))
    {
        let sql = format!(
            "{} VALUES {}",
            AUDIT_INSERT_SEALED_HEAD,
            value_rows(chunk.len(), AUDIT_COL_COUNT + 2)
        );
        let mut qry = sqlx::query(&sql);
        for (r, (seq, hash)) in chunk.iter().zip(seals) {
            qry = bind_row(qry, r).bind(*seq).bind(hash.as_str());
        }
        qry.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(Ok(links.last().cloned().unwrap_or(head)))
}
