//! A connected, migrated `SqlStore` without a server, for tests at the `Store` trait level:
//! a fresh PostgreSQL database (dropped with the handle) or a fresh SQLite file.

use super::{fresh_pg_database, StoreKind, TestDb};
use scaivault::store::{SqlStore, Store};

/// A store of its own for one test.
pub struct BareStore {
    pub kind: StoreKind,
    pub store: SqlStore,
    pub database_url: String,
    _dir: tempfile::TempDir,
    /// The PostgreSQL database goes with the handle.
    _db: TestDb,
}

impl BareStore {
    /// Connects to a fresh database of `kind` and applies the migrations.
    pub async fn new(kind: StoreKind) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = match kind {
            StoreKind::Postgres => fresh_pg_database().await,
            StoreKind::Sqlite => TestDb::file(format!(
                "sqlite://{}",
                dir.path().join("store.db").display()
            )),
        };
        let database_url = db.to_string();
        let store = SqlStore::connect(&database_url, 4)
            .await
            .expect("store connects");
        store.migrate().await.expect("migrations apply");
        Self {
            kind,
            store,
            database_url,
            _dir: dir,
            _db: db,
        }
    }

    /// A second pool on the same database, for reading or damaging rows as stored.
    pub async fn raw(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::AnyPool::connect(&self.database_url)
            .await
            .expect("direct database connection")
    }
}

impl std::ops::Deref for BareStore {
    type Target = SqlStore;
    fn deref(&self) -> &SqlStore {
        &self.store
    }
}

/// The store as `&dyn Store`, for functions that take one (`audit::chain::verify`).
pub fn as_dyn(s: &BareStore) -> &dyn Store {
    &s.store
}
