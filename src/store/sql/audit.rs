//! SQL of the audit log's write side through the store's pools: single rows inside other
//! transactions, multi-row inserts that first check the tokens the read cache served
//! (PostgreSQL's group-commit batches), the hash chain's head, the sealer's pass and
//! retention. SQLite's read batches go through `sqlite_audit`, which seals them as it inserts
//! them (with the statements here that it shares). Reads of the log are in `audit_query`.

use super::{meta, placeholders, value_rows, AnyQuery};
use crate::audit::chain;
use crate::store::errors::StoreResult;
use crate::store::rows::AuditRow;
use crate::store::stored_flag::flag;
use sqlx::{Any, AnyConnection, AnyPool, Executor};

macro_rules! audit_cols {
    () => {
        "id, tenant_id, ts, action, identity_type, identity_id, secret_path, version, source_ip, \
         user_agent, success, status_code, duration_ms, request_id, extra_data"
    };
}

const INSERT_AUDIT: &str = concat!(
    "INSERT INTO audit_log (",
    audit_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
);
/// Every audit column including the chain fields, for reads.
pub const AUDIT_SELECT_COLS: &str = concat!(audit_cols!(), ", seq, hash");
/// Followed by ` VALUES (…), …` or by a `SELECT` of such values.
const AUDIT_INSERT_HEAD: &str = concat!("INSERT INTO audit_log (", audit_cols!(), ")");
pub const AUDIT_INSERT_SEALED_HEAD: &str =
    concat!("INSERT INTO audit_log (", audit_cols!(), ", seq, hash)");
pub const AUDIT_COL_COUNT: usize = 15;
/// Followed by `(…)` placeholders: which of those ids are tokens that are not revoked.
pub const VALID_TOKEN_IDS_IN: &str = "SELECT id FROM tokens WHERE revoked_at IS NULL AND id IN ";
pub const AUDIT_CHAIN_HEAD: &str =
    "SELECT seq, hash FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1";
const AUDIT_UNSEALED: &str = concat!(
    "SELECT ",
    audit_cols!(),
    ", seq, hash FROM audit_log WHERE seq IS NULL ORDER BY ts, id LIMIT $1"
);
/// Follows `WITH v(id, seq, hash) AS (VALUES …)`: seals each listed row still unsealed.
const AUDIT_SEAL_ROWS: &str = "UPDATE audit_log SET seq = v.seq, hash = v.hash FROM v \
     WHERE audit_log.id = v.id AND audit_log.seq IS NULL";
const AUDIT_CHAIN_PAGE: &str = concat!(
    "SELECT ",
    audit_cols!(),
    ", seq, hash FROM audit_log WHERE seq IS NOT NULL AND seq >= $1 ORDER BY seq, id LIMIT $2"
);
const AUDIT_COUNT_UNSEALED: &str = "SELECT COUNT(*) FROM audit_log WHERE seq IS NULL";
/// The last row of the chain's longest prefix older than `$1`: retention deletes up to it, so
/// it never deletes a row younger than the cutoff even where seq order and time order differ (a
/// row sealed by the sealer can follow younger rows sealed as they were written).
const AUDIT_LAST_BEFORE: &str = "SELECT seq, hash FROM audit_log WHERE seq IS NOT NULL \
     AND seq < COALESCE((SELECT MIN(seq) FROM audit_log WHERE seq IS NOT NULL AND ts >= $1), \
     9223372036854775807) ORDER BY seq DESC LIMIT 1";
const AUDIT_DELETE_UPTO_SEQ: &str = "DELETE FROM audit_log WHERE seq IS NOT NULL AND seq <= $1";

/// Audit rows per multi-row INSERT (at most 60 × 17 = 1,020 parameters).
pub const ROWS_PER_STATEMENT: usize = 60;
/// Token ids checked per statement.
const TOKENS_PER_STATEMENT: usize = 500;

/// Inserts one row (unsealed), e.g. a mutation's inside its transaction.
pub async fn insert<'e, E: Executor<'e, Database = Any>>(ex: E, row: &AuditRow) -> StoreResult<()> {
    bind_row(sqlx::query(INSERT_AUDIT), row).execute(ex).await?;
    Ok(())
}

/// Inserts `rows` unsealed (the sealer chains them later) in one autocommit statement that
/// writes only if every token in `tokens` is still valid; falls back to a transaction for large
/// batches or when the check failed. Returns the invalid tokens (nothing was written then).
pub async fn append_checked(
    writer: &AnyPool,
    begin: &'static str,
    rows: &[AuditRow],
    tokens: &[String],
) -> StoreResult<Vec<String>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    if rows.len() <= ROWS_PER_STATEMENT && tokens.len() <= TOKENS_PER_STATEMENT {
        // The common case: one round trip instead of begin, check, insert, commit.
        if insert_if(writer, rows, tokens).await? {
            return Ok(Vec::new());
        }
        // Nothing was written: some token is no longer valid (checked below, in a transaction,
        // in case it became valid meanwhile).
    }
    let mut tx = writer.begin_with(begin).await?;
    let invalid = invalid_tokens(&mut tx, tokens).await?;
    if !invalid.is_empty() {
        return Ok(invalid);
    }
    insert_rows(&mut tx, rows).await?;
    tx.commit().await?;
    Ok(Vec::new())
}

/// One autocommit `INSERT … SELECT * FROM (VALUES …)` of `rows` that writes only if every
/// token in `tokens` is valid. True when the rows were written.
async fn insert_if(writer: &AnyPool, rows: &[AuditRow], tokens: &[String]) -> StoreResult<bool> {
    let mut sql = values_sql(rows.len(), " SELECT * FROM (VALUES ", ") AS v");
    if !tokens.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&tokens_valid(
            rows.len() * AUDIT_COL_COUNT + 1,
            tokens.len(),
        ));
    }
    let mut qry = sqlx::query(&sql);
    for r in rows {
        qry = bind_row(qry, r);
    }
    for t in tokens {
        qry = qry.bind(t);
    }
    Ok(qry.execute(writer).await?.rows_affected() == rows.len() as u64)
}

/// Inserts audit rows (unsealed) in the transaction, `ROWS_PER_STATEMENT` per INSERT.
pub async fn insert_rows<R: std::borrow::Borrow<AuditRow>>(
    conn: &mut AnyConnection,
    rows: &[R],
) -> StoreResult<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = values_sql(chunk.len(), " VALUES ", "");
        let mut qry = sqlx::query(&sql);
        for r in chunk {
            qry = bind_row(qry, r.borrow());
        }
        qry.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Seals up to `limit` unsealed rows (oldest first) in one transaction; `lock` is the
/// statement that makes this the only sealer of the database (PostgreSQL), if one is needed:
/// it returns false (and nothing is sealed) when another sealer has the turn and it does not
/// wait for it. Returns how many rows were sealed.
pub async fn seal_unsealed(
    writer: &AnyPool,
    begin: &'static str,
    lock: Option<&str>,
    limit: i64,
) -> StoreResult<usize> {
    let mut tx = writer.begin_with(begin).await?;
    if let Some(lock) = lock {
        let got: bool = sqlx::query_scalar::<_, bool>(lock)
            .fetch_one(&mut *tx)
            .await?;
        if !got {
            return Ok(0);
        }
    }
    let head = chain_head(&mut tx).await?;
    let rows: Vec<AuditRow> = sqlx::query_as(AUDIT_UNSEALED)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
    let links = chain::seal_onto(head, &rows);
    // One statement per 300 rows (a row-by-row UPDATE was most of the sealer's cost).
    for (chunk, seals) in rows.chunks(300).zip(links.chunks(300)) {
        let sql = format!(
            "WITH v(id, seq, hash) AS (VALUES {}) {}",
            value_rows(chunk.len(), 3),
            AUDIT_SEAL_ROWS
        );
        let mut qry = sqlx::query(&sql);
        for (r, (seq, hash)) in chunk.iter().zip(seals) {
            qry = qry.bind(r.id.as_str()).bind(*seq).bind(hash.as_str());
        }
        qry.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(rows.len())
}

/// Sealed rows from `from_seq` on, in chain order.
pub async fn chain_page<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    from_seq: i64,
    limit: i64,
) -> StoreResult<Vec<AuditRow>> {
    Ok(sqlx::query_as(AUDIT_CHAIN_PAGE)
        .bind(from_seq)
        .bind(limit)
        .fetch_all(ex)
        .await?)
}

pub async fn count_unsealed<'e, E: Executor<'e, Database = Any>>(ex: E) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(AUDIT_COUNT_UNSEALED)
        .fetch_one(ex)
        .await?)
}

/// Deletes sealed rows older than `before_us` in one transaction, first storing the last
/// deleted row as the chain's anchor under `anchor_key`. None when there was nothing to delete
/// (nothing was written).
pub async fn apply_retention(
    writer: &AnyPool,
    begin: &'static str,
    lock: Option<&str>,
    before_us: i64,
    anchor_key: &str,
) -> StoreResult<Option<u64>> {
    let mut tx = writer.begin_with(begin).await?;
    // The sealer's turn first (PostgreSQL): two replicas applying retention at once, each with
    // its own cutoff, would otherwise both read the chain before either commits, and the one
    // with the earlier cutoff would move the anchor back behind rows the other deleted (a
    // false `missing_row` in verify). Serialized, the later pass finds nothing left to cut.
    if let Some(lock) = lock {
        sqlx::query_scalar::<_, bool>(lock)
            .fetch_one(&mut *tx)
            .await?;
    }
    let last: Option<(i64, String)> = sqlx::query_as(AUDIT_LAST_BEFORE)
        .bind(before_us)
        .fetch_optional(&mut *tx)
        .await?;
    let Some((seq, hash)) = last else {
        return Ok(None);
    };
    sqlx::query(meta::PUT_META)
        .bind(anchor_key)
        .bind(chain::anchor_value(seq, &hash))
        .execute(&mut *tx)
        .await?;
    let r = sqlx::query(AUDIT_DELETE_UPTO_SEQ)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(r.rows_affected()))
}

/// The chain's last link: the last sealed row, else the retention anchor, else genesis.
pub(super) async fn chain_head(conn: &mut AnyConnection) -> StoreResult<(i64, String)> {
    if let Some(h) = sqlx::query_as::<_, (i64, String)>(AUDIT_CHAIN_HEAD)
        .fetch_optional(&mut *conn)
        .await?
    {
        return Ok(h);
    }
    let anchor = meta::get(&mut *conn, chain::ANCHOR_KEY).await?;
    Ok(chain::start_link(anchor.as_deref()))
}

/// The ids among `tokens` that are revoked or gone, read in the transaction.
pub async fn invalid_tokens(
    conn: &mut AnyConnection,
    tokens: &[String],
) -> StoreResult<Vec<String>> {
    let mut valid: Vec<String> = Vec::with_capacity(tokens.len());
    for chunk in tokens.chunks(TOKENS_PER_STATEMENT) {
        let sql = format!("{}({})", VALID_TOKEN_IDS_IN, placeholders(1, chunk.len()));
        let mut qry = sqlx::query_scalar::<_, String>(&sql);
        for id in chunk {
            qry = qry.bind(id);
        }
        valid.extend(qry.fetch_all(&mut *conn).await?);
    }
    Ok(not_in(tokens, &valid))
}

/// The ids of `tokens` missing from `valid`.
pub fn not_in(tokens: &[String], valid: &[String]) -> Vec<String> {
    tokens
        .iter()
        .filter(|t| !valid.contains(t))
        .cloned()
        .collect()
}

/// A condition true when the `n` token ids bound from placeholder `first` on are all valid.
fn tokens_valid(first: usize, n: usize) -> String {
    format!(
        "(SELECT COUNT(*) FROM tokens WHERE revoked_at IS NULL AND id IN ({})) = {n}",
        placeholders(first, n)
    )
}

/// `INSERT INTO audit_log (…)` + `before` + `n` rows of placeholders + `after`.
fn values_sql(n: usize, before: &str, after: &str) -> String {
    format!(
        "{}{before}{}{after}",
        AUDIT_INSERT_HEAD,
        value_rows(n, AUDIT_COL_COUNT)
    )
}

/// Binds the `AUDIT_COL_COUNT` audit columns of a row.
pub(super) fn bind_row<'q>(qry: AnyQuery<'q>, r: &'q AuditRow) -> AnyQuery<'q> {
    qry.bind(&r.id)
        .bind(&r.tenant_id)
        .bind(r.ts)
        .bind(&r.action)
        .bind(r.identity_type.as_str())
        .bind(&r.identity_id)
        .bind(&r.secret_path)
        .bind(r.version)
        .bind(&r.source_ip)
        .bind(&r.user_agent)
        .bind(flag(r.success))
        .bind(r.status_code)
        .bind(r.duration_ms)
        .bind(&r.request_id)
        .bind(&r.extra_data)
}
