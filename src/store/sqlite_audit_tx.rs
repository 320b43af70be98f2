//! The audit appender's SQLite transaction (`sqlite_audit` runs it on its own thread): one
//! IMMEDIATE transaction per batch checks the cached tokens, reads the chain head, inserts the
//! rows sealed onto it with one prepared statement, and commits with `synchronous = NORMAL`
//! (no fsync: the appender's sync thread flushes the WAL afterwards).
//!
//! While no other connection has committed since the appender's last transaction (`PRAGMA
//! data_version` unchanged), the chain head is the one that transaction left and the tokens
//! it found valid are still valid, so both are taken from memory instead of being read again.

use super::errors::{StoreError, StoreResult};
use super::rows::AuditRow;
use super::sql::audit as q;
use super::sql::meta::GET_META;
use super::stored_flag::flag;
use crate::audit::chain;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use std::collections::HashSet;
use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

/// How long the appender waits for another connection's write lock (another process's: this
/// process's writers take turns on the store's write gate first).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings of the appender's connection (the WAL mode itself is the database's, set by the
/// store's pools; `open` checks it).
const PRAGMAS: &str =
    "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 10000;";

/// Waits for another connection's write lock in steps of 50 µs, up to `BUSY_TIMEOUT`
/// (SQLite's own handler sleeps a millisecond or more per retry).
fn short_busy_wait(attempt: i32) -> bool {
    const STEP: Duration = Duration::from_micros(50);
    if u128::from(attempt.unsigned_abs()) * STEP.as_micros() >= BUSY_TIMEOUT.as_micros() {
        return false;
    }
    std::thread::sleep(STEP);
    true
}

/// The appender's connection and what its last transaction left.
pub(super) struct AppendConn {
    conn: Connection,
    seen: Option<Seen>,
}

/// The state after the appender's last commit, valid while `data_version` is unchanged.
struct Seen {
    data_version: i64,
    head: (i64, String),
    valid_tokens: HashSet<String>,
}

/// Most token ids remembered as valid (more are checked in the database again).
const MAX_VALID_TOKENS: usize = 10_000;

/// Opens the appender's connection to the database file `db` (which must be in WAL mode).
pub(super) fn open(db: &Path) -> StoreResult<AppendConn> {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(unavailable)?;
    conn.busy_handler(Some(short_busy_wait))
        .map_err(unavailable)?;
    conn.execute_batch(PRAGMAS).map_err(unavailable)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .map_err(unavailable)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "the audit appender needs the database in WAL mode, found {mode}"
        )));
    }
    Ok(AppendConn { conn, seen: None })
}

/// Appends one batch: BEGIN IMMEDIATE (this connection holds the write lock, so the head found
/// here is the one the rows follow), token check, head (remembered, or read if another
/// connection committed since), inserts, COMMIT.
pub(super) fn append(
    ac: &mut AppendConn,
    rows: &[AuditRow],
    tokens: &[String],
) -> StoreResult<Vec<String>> {
    let tx = ac
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(unavailable)?;
    let data_version: i64 = tx
        .prepare_cached("PRAGMA data_version")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(unavailable)?;
    // What the last commit left, if nobody else has committed since.
    let seen = ac.seen.take().filter(|s| s.data_version == data_version);
    let (head, mut valid_tokens) = match seen {
        Some(s) => (s.head, s.valid_tokens),
        None => (chain_head(&tx)?, HashSet::new()),
    };
    let unchecked: Vec<String> = tokens
        .iter()
        .filter(|t| !valid_tokens.contains(*t))
        .cloned()
        .collect();
    let invalid = invalid_tokens(&tx, &unchecked)?;
    if !invalid.is_empty() {
        return Ok(invalid); // dropping `tx` rolls back; `seen` is read afresh next time
    }
    if valid_tokens.len() + unchecked.len() > MAX_VALID_TOKENS {
        valid_tokens.clear();
    }
    valid_tokens.extend(unchecked);
    let links = chain::seal_onto(head.clone(), rows);
    {
        let mut insert = tx.prepare_cached(&INSERT_SEALED).map_err(unavailable)?;
        for (r, (seq, hash)) in rows.iter().zip(&links) {
            insert
                .execute(params![
                    r.id,
                    r.tenant_id,
                    r.ts,
                    r.action,
                    r.identity_type.as_str(),
                    r.identity_id,
                    r.secret_path,
                    r.version,
                    r.source_ip,
                    r.user_agent,
                    flag(r.success),
                    r.status_code,
                    r.duration_ms,
                    r.request_id,
                    r.extra_data,
                    seq,
                    hash,
                ])
                .map_err(store_error)?;
        }
    }
    tx.commit().map_err(unavailable)?;
    // This connection's own commit leaves its data_version as it was.
    ac.seen = Some(Seen {
        data_version,
        head: links.last().cloned().unwrap_or(head),
        valid_tokens,
    });
    Ok(Vec::new())
}

/// `INSERT INTO audit_log (…, seq, hash) VALUES (?, …)` for one row.
static INSERT_SEALED: LazyLock<String> = LazyLock::new(|| {
    let marks = vec!["?"; q::AUDIT_COL_COUNT + 2].join(", ");
    format!("{} VALUES ({marks})", q::AUDIT_INSERT_SEALED_HEAD)
});

/// The chain's last link: the last sealed row, else the retention anchor, else genesis.
fn chain_head(conn: &Connection) -> StoreResult<(i64, String)> {
    let last = conn
        .prepare_cached(q::AUDIT_CHAIN_HEAD)
        .and_then(|mut s| {
            s.query_row([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                .optional()
        })
        .map_err(unavailable)?;
    if let Some(head) = last {
        return Ok(head);
    }
    let anchor: Option<String> = conn
        .query_row(GET_META, [chain::ANCHOR_KEY], |r| r.get(0))
        .optional()
        .map_err(unavailable)?;
    Ok(chain::start_link(anchor.as_deref()))
}

/// The ids among `tokens` that are revoked or gone.
fn invalid_tokens(conn: &Connection, tokens: &[String]) -> StoreResult<Vec<String>> {
    if tokens.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "{}({})",
        q::VALID_TOKEN_IDS_IN,
        vec!["?"; tokens.len()].join(", ")
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(unavailable)?;
    let valid = stmt
        .query_map(rusqlite::params_from_iter(tokens), |r| {
            r.get::<_, String>(0)
        })
        .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
        .map_err(unavailable)?;
    Ok(q::not_in(tokens, &valid))
}

pub(super) fn unavailable(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DiskFull) => StoreError::Full(e.to_string()),
        _ => StoreError::Unavailable(e.to_string()),
    }
}

/// A uniqueness violation is a conflict (an audit id written twice); the rest is unavailable.
fn store_error(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Conflict(e.to_string()),
        _ => unavailable(e),
    }
}
