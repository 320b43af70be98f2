//! SQL of the audit log's write side through the store's pools: multi-row inserts that first
//! check the tokens the read cache served (PostgreSQL's group-commit batches, and rows written
//! inside other transactions), the hash chain's head and the sealer's pass. SQLite's batches
//! go through `sqlite_audit`, which seals them as it inserts them.

use super::errors::StoreResult;
use super::queries as q;
use super::rows::AuditRow;
use crate::audit::chain;
use sqlx::{Any, AnyPool, Transaction};

type Tx = Transaction<'static, Any>;
type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

/// Audit rows per multi-row INSERT (at most 60 × 17 = 1,020 parameters).
pub const ROWS_PER_STATEMENT: usize = 60;
/// Token ids checked per statement.
const TOKENS_PER_STATEMENT: usize = 500;

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
            rows.len() * q::AUDIT_COL_COUNT + 1,
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
    tx: &mut Tx,
    rows: &[R],
) -> StoreResult<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = values_sql(chunk.len(), " VALUES ", "");
        let mut qry = sqlx::query(&sql);
        for r in chunk {
            qry = bind_row(qry, r.borrow());
        }
        qry.execute(&mut **tx).await?;
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
    let rows: Vec<AuditRow> = sqlx::query_as(q::AUDIT_UNSEALED)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
    let links = chain::seal_onto(head, &rows);
    // One statement per 300 rows (a row-by-row UPDATE was most of the sealer's cost).
    for (chunk, seals) in rows.chunks(300).zip(links.chunks(300)) {
        let sql = format!(
            "WITH v(id, seq, hash) AS (VALUES {}) {}",
            super::sql_store::value_rows(chunk.len(), 3),
            q::AUDIT_SEAL_ROWS
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

/// The chain's last link: the last sealed row, else the retention anchor, else genesis.
async fn chain_head(tx: &mut Tx) -> StoreResult<(i64, String)> {
    if let Some(h) = sqlx::query_as::<_, (i64, String)>(q::AUDIT_CHAIN_HEAD)
        .fetch_optional(&mut **tx)
        .await?
    {
        return Ok(h);
    }
    let anchor = sqlx::query_scalar::<_, String>(q::GET_META)
        .bind(chain::ANCHOR_KEY)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(chain::start_link(anchor.as_deref()))
}

/// The ids among `tokens` that are revoked or gone, read in the transaction.
async fn invalid_tokens(tx: &mut Tx, tokens: &[String]) -> StoreResult<Vec<String>> {
    let mut valid: Vec<String> = Vec::with_capacity(tokens.len());
    for chunk in tokens.chunks(TOKENS_PER_STATEMENT) {
        let sql = format!(
            "{}({})",
            q::VALID_TOKEN_IDS_IN,
            super::sql_store::placeholders(1, chunk.len())
        );
        let mut qry = sqlx::query_scalar::<_, String>(&sql);
        for id in chunk {
            qry = qry.bind(id);
        }
        valid.extend(qry.fetch_all(&mut **tx).await?);
    }
    Ok(not_in(tokens, &valid))
}

/// The ids of `tokens` missing from `valid`.
pub(super) fn not_in(tokens: &[String], valid: &[String]) -> Vec<String> {
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
        super::sql_store::placeholders(first, n)
    )
}

/// `INSERT INTO audit_log (…)` + `before` + `n` rows of placeholders + `after`.
fn values_sql(n: usize, before: &str, after: &str) -> String {
    format!(
        "{}{before}{}{after}",
        q::AUDIT_INSERT_HEAD,
        super::sql_store::value_rows(n, q::AUDIT_COL_COUNT)
    )
}

/// Binds the `AUDIT_COL_COUNT` audit columns of a row.
pub fn bind_row<'q>(qry: AnyQuery<'q>, r: &'q AuditRow) -> AnyQuery<'q> {
    qry.bind(&r.id)
        .bind(&r.tenant_id)
        .bind(r.ts)
        .bind(&r.action)
        .bind(&r.identity_type)
        .bind(&r.identity_id)
        .bind(&r.secret_path)
        .bind(r.version)
        .bind(&r.source_ip)
        .bind(&r.user_agent)
        .bind(r.success)
        .bind(r.status_code)
        .bind(r.duration_ms)
        .bind(&r.request_id)
        .bind(&r.extra_data)
}
