//! The SQL of each aggregate, one file per aggregate, with one query text for both backends
//! (`$n` placeholders work in PostgreSQL and SQLite alike); the few statements that differ
//! are in a `Dialect` (`postgres::DIALECT`, `sqlite::DIALECT`).

pub mod audit;
pub mod audit_query;
pub mod audit_sealed;
pub mod deliveries;
pub mod events;
pub mod expiry;
pub mod grace;
pub mod keys;
pub mod meta;
pub mod mounts;
pub mod rotation;
pub mod secret_policies;
pub mod secrets;
pub mod subscriptions;
pub mod tokens;
pub mod version_reads;
pub mod webhooks;

use sqlx::{Any, Transaction};

/// A write transaction over either backend.
pub type Tx = Transaction<'static, Any>;
/// A statement with its bound parameters.
pub type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;
type AnyQueryAs<'q, O> = sqlx::query::QueryAs<'q, Any, O, sqlx::any::AnyArguments<'q>>;
type AnyQueryScalar<'q, O> = sqlx::query::QueryScalar<'q, Any, O, sqlx::any::AnyArguments<'q>>;

/// The SQL that differs between the backends.
pub struct Dialect {
    /// Starts a write transaction. SQLite's `BEGIN IMMEDIATE` takes the write lock at once
    /// (waiting `busy_timeout` for it): a deferred transaction that has read fails at its first
    /// write if another process (a CLI command) wrote meanwhile.
    pub begin_write: &'static str,
    /// Appended to a single-row SELECT that must lock the row for the rest of the transaction.
    pub lock_row: &'static str,
    /// Appended to a claim SELECT so replicas take disjoint rows.
    pub skip_locked: &'static str,
    /// Returns true when this transaction may seal (one sealer per database).
    pub try_lock_sealer: Option<&'static str>,
    /// Waits until this transaction may seal, then returns true.
    pub lock_sealer: Option<&'static str>,
    /// Inserts the first event of a transaction (`events::INSERT_EVENT`'s parameters) with
    /// the statement that takes the transaction-scoped event-sequence lock first, so seq order
    /// is commit order. None: the plain insert (SQLite: the write gate serializes writers).
    pub insert_event_locking: Option<&'static str>,
    /// Claims due deliveries (`{exclude}` is replaced by the excluded webhooks' condition).
    pub claim_deliveries: &'static str,
}

/// `($1, …, $cols), ($cols+1, …)`: `rows` tuples of `cols` placeholders, for a VALUES list.
pub fn value_rows(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|i| format!("({})", placeholders(i * cols + 1, cols)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `$first, $first+1, …` placeholders for an IN list of `n` values.
pub fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A parameter of a query built at run time (listings with optional filters).
#[derive(Clone)]
pub enum Bind {
    Text(String),
    Int(i64),
}

impl Bind {
    fn bind_to<O>(self, qry: AnyQueryAs<'_, O>) -> AnyQueryAs<'_, O> {
        match self {
            Bind::Text(s) => qry.bind(s),
            Bind::Int(i) => qry.bind(i),
        }
    }

    fn bind_any(self, qry: AnyQuery<'_>) -> AnyQuery<'_> {
        match self {
            Bind::Text(s) => qry.bind(s),
            Bind::Int(i) => qry.bind(i),
        }
    }

    fn bind_scalar<O>(self, qry: AnyQueryScalar<'_, O>) -> AnyQueryScalar<'_, O> {
        match self {
            Bind::Text(s) => qry.bind(s),
            Bind::Int(i) => qry.bind(i),
        }
    }
}

/// A `query_as` of `sql` with `binds` bound in order.
fn query_as_with<'q, O>(sql: &'q str, binds: Vec<Bind>) -> AnyQueryAs<'q, O>
where
    O: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
{
    binds
        .into_iter()
        .fold(sqlx::query_as::<_, O>(sql), |qry, b| b.bind_to(qry))
}
