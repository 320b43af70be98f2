//! Test harness: the real router on a real socket (127.0.0.1:0) over a fresh database — one
//! PostgreSQL database or one SQLite file per test — with a `ManualClock` the test drives.
//!
//! PostgreSQL comes from `SCAIVAULT_TEST_PG_URL` (default postgres://postgres@127.0.0.1:5432/postgres);
//! if it is unreachable the PostgreSQL half of every test FAILS (never skips): both stores are
//! always tested. `scripts/test.sh` finds or starts a server and sets the variable.

#![allow(dead_code)]

pub mod bare_store;
pub mod receiver;

use chrono::{TimeZone, Utc};
use reqwest::{Method, StatusCode};
use scaivault::clock::ManualClock;
use scaivault::config::Config;
use scaivault::{App, AppState};
use secrecy::SecretString;
use serde_json::Value;
use sqlx::Connection;
use sqlx::Row;
use std::sync::Arc;

/// Which store a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Postgres,
    Sqlite,
}

/// Generates `mod NAME { postgres(), sqlite() }` test wrappers for `async fn NAME(kind: StoreKind)`.
#[macro_export]
macro_rules! both_stores {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::common::StoreKind::Postgres).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::common::StoreKind::Sqlite).await
                }
            }
        )+
    };
}

/// The admin URL of the test PostgreSQL server.
pub fn pg_admin_url() -> String {
    std::env::var("SCAIVAULT_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A test's database URL. A PostgreSQL database made by [`fresh_pg_database`] is dropped when
/// this guard is dropped — when its test ends, passed or failed (unwinding drops it too) — not
/// at the next run. Derefs to the URL.
pub struct TestDb {
    url: String,
    drop_pg: bool,
}

impl TestDb {
    /// A URL with nothing to drop (an SQLite file inside the test's temporary folder).
    pub fn file(url: String) -> Self {
        Self {
            url,
            drop_pg: false,
        }
    }
}

impl std::ops::Deref for TestDb {
    type Target = String;
    fn deref(&self) -> &String {
        &self.url
    }
}

impl std::fmt::Display for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.drop_pg {
            drop_pg_database(&self.url);
        }
    }
}

/// Creates a fresh, empty PostgreSQL database; it is dropped with the returned guard.
pub async fn fresh_pg_database() -> TestDb {
    let admin = pg_admin_url();
    let name = format!("svt_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::postgres::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| {
            panic!("PostgreSQL at {admin} is unreachable ({e}); run the suite with scripts/test.sh")
        });
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let _ = conn.close().await;
    let url = match admin.rfind('/') {
        Some(i) if admin[..i].ends_with(|c: char| c != '/') => format!("{}/{name}", &admin[..i]),
        _ => format!("{}/{name}", admin.trim_end_matches('/')),
    };
    TestDb { url, drop_pg: true }
}

/// The fixed start of every test clock.
pub fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0)
        .single()
        .expect("valid time")
}

/// Opens loopback to webhooks, as `serve --dev` does: the receivers run on 127.0.0.1, which the
/// default deny list refuses (SPEC §5a). A test of the defaults clears `webhook_allow_cidrs`.
pub fn allow_loopback_webhooks(config: &mut Config) {
    config.webhook_allow_cidrs =
        scaivault::delivery::target::parse_cidrs(scaivault::delivery::target::DEV_ALLOW_CIDRS)
            .expect("loopback CIDRs");
}

/// A running server plus everything a test needs to talk to it.
pub struct TestApp {
    pub kind: StoreKind,
    pub base: String,
    pub client: reqwest::Client,
    pub root_token: String,
    pub clock: ManualClock,
    pub state: AppState,
    pub database_url: String,
    /// The SQLite file (SQLite only).
    pub sqlite_file: Option<std::path::PathBuf>,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
    /// Dropped last: the PostgreSQL database goes when the test ends.
    _db: TestDb,
}

/// A second server started by [`TestApp::serve_replica`]; stops when dropped.
pub struct Replica {
    pub base: String,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// Drops a test's PostgreSQL database (`svt_…`, from [`fresh_pg_database`]) and returns once
/// it is gone. `WITH (FORCE)` ends the connections a stopping server still holds. It runs on a
/// thread of its own with its own runtime (the caller may be inside a runtime, even unwinding
/// from a failed assertion) and is joined, so the database is gone when the test ends.
pub fn drop_pg_database(database_url: &str) {
    let Some(name) = database_url.rsplit('/').next().map(str::to_string) else {
        return;
    };
    if !name.starts_with("svt_") {
        return;
    }
    let dropper = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            if let Ok(mut conn) = sqlx::postgres::PgConnection::connect(&pg_admin_url()).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
                let _ = conn.close().await;
            }
        });
    });
    let _ = dropper.join();
}

/// A response as a test sees it.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    /// The error code of an error envelope (panics with the body otherwise).
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error envelope: {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestApp {
    pub async fn spawn(kind: StoreKind) -> Self {
        Self::spawn_with(kind, |_| {}).await
    }

    /// Spawns with a config tweak applied before start.
    pub async fn spawn_with(kind: StoreKind, tweak: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_custom(kind, tweak, false).await
    }

    /// Spawns on the wall clock instead of the manual one (for real-time retry schedules).
    pub async fn spawn_real_clock(kind: StoreKind, tweak: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_custom(kind, tweak, true).await
    }

    async fn spawn_custom(
        kind: StoreKind,
        tweak: impl FnOnce(&mut Config),
        real_clock: bool,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let (db, sqlite_file) = match kind {
            StoreKind::Postgres => (fresh_pg_database().await, None),
            StoreKind::Sqlite => {
                let f = dir.path().join("scaivault.db");
                (TestDb::file(format!("sqlite://{}", f.display())), Some(f))
            }
        };
        let database_url = db.to_string();
        let mut config = Config::with_database(&database_url);
        config.data_dir = dir.path().to_path_buf();
        config.database_max_connections = 8;
        let (_, key_text) = scaivault::crypto::MasterKey::generate();
        config.master_key = Some(SecretString::from(key_text.to_string()));
        let root_token = format!("skt_test_{}", uuid::Uuid::new_v4().simple());
        config.root_token = Some(SecretString::from(root_token.clone()));
        config.webhook_allow_http = true;
        allow_loopback_webhooks(&mut config);
        config.worker_poll_interval = std::time::Duration::from_millis(50);
        tweak(&mut config);
        let clock = ManualClock::new(t0());
        let app_clock: Arc<dyn scaivault::clock::Clock> = if real_clock {
            Arc::new(scaivault::clock::SystemClock)
        } else {
            Arc::new(clock.clone())
        };
        let app = App::build(config, app_clock).await.expect("app builds");
        let state = app.state.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = app
                .serve(listener, async move {
                    let _ = rx.await;
                })
                .await;
        });
        Self {
            kind,
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            root_token,
            clock,
            state,
            database_url,
            sqlite_file,
            _dir: dir,
            _shutdown: tx,
            _db: db,
        }
    }

    /// A second replica on this test's database, master key and clock (built, not serving).
    pub async fn replica(&self) -> App {
        let mut config = Config::with_database(&self.database_url);
        config.master_key = self.state.config.master_key.clone();
        config.data_dir = self.state.config.data_dir.clone();
        allow_loopback_webhooks(&mut config);
        App::build(config, Arc::new(self.clock.clone()))
            .await
            .expect("second replica builds")
    }

    /// Another `serve` process (a restart, or one more replica) on this test's database,
    /// master key and clock, with `tweak` applied to its config; it serves on its own port
    /// until the returned handle drops.
    pub async fn serve_replica(&self, tweak: impl FnOnce(&mut Config)) -> Replica {
        let mut config = Config::with_database(&self.database_url);
        config.master_key = self.state.config.master_key.clone();
        config.data_dir = self.state.config.data_dir.clone();
        config.database_max_connections = 8;
        allow_loopback_webhooks(&mut config);
        tweak(&mut config);
        let app = App::build(config, Arc::new(self.clock.clone()))
            .await
            .expect("replica builds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = app
                .serve(listener, async move {
                    let _ = rx.await;
                })
                .await;
        });
        Replica {
            base: format!("http://{addr}"),
            _shutdown: tx,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let mut rb = self.client.request(method, self.url(path));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let res = rb.send().await.expect("request sent");
        Self::into_resp(res).await
    }

    /// Turns a reqwest response into a `Resp` (body parsed as JSON, or Null when empty).
    pub async fn into_resp(res: reqwest::Response) -> Resp {
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    /// GET with the root token.
    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, Some(&self.root_token), None)
            .await
    }

    /// PUT with the root token.
    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.call(Method::PUT, path, Some(&self.root_token), Some(body))
            .await
    }

    /// POST with the root token.
    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.call(Method::POST, path, Some(&self.root_token), Some(body))
            .await
    }

    /// DELETE with the root token.
    pub async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, Some(&self.root_token), None)
            .await
    }

    /// Stores `data` at `path` with the root token, asserting success.
    pub async fn put_secret(&self, path: &str, data: Value) -> Resp {
        let r = self
            .put(
                &format!("/v1/secrets/{path}"),
                &serde_json::json!({ "data": data }),
            )
            .await;
        assert!(r.status.is_success(), "PUT {path}: {} {}", r.status, r.body);
        r
    }

    /// Creates a token through the API with the root token; returns (id, token).
    pub async fn create_token(
        &self,
        name: &str,
        scopes: &[&str],
        path_prefixes: &[&str],
    ) -> (String, String) {
        let r = self
            .post(
                "/v1/auth/tokens",
                &serde_json::json!({ "name": name, "scopes": scopes, "path_prefixes": path_prefixes }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "create token: {}", r.body);
        (
            r.body["id"].as_str().expect("id").to_string(),
            r.body["token"].as_str().expect("token").to_string(),
        )
    }

    /// A direct connection pool to this test's database (for reading rows as stored).
    pub async fn db(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::AnyPool::connect(&self.database_url)
            .await
            .expect("direct database connection")
    }

    /// Creates a token of another tenant directly in the store; returns its plaintext.
    pub async fn token_in_tenant(&self, tenant: &str, scopes: &[&str]) -> String {
        use scaivault::domain::scope::ScopeSet;
        use scaivault::domain::token::NewToken;
        use scaivault::domain::token_ops::{kind, token_row, TokenSpec};
        use secrecy::ExposeSecret;
        let scopes = ScopeSet::parse(scopes.iter().copied()).expect("scopes");
        let token = NewToken::generate();
        let row = token_row(
            &TokenSpec {
                tenant_id: tenant,
                name: "other",
                scopes: &scopes,
                path_prefixes: &[],
                ttl: None,
                kind: kind::API,
                created_by: "test",
                is_user: false,
            },
            &token,
            self.clock_now(),
        );
        let mut tx = self.state.store.begin().await.expect("begin");
        tx.insert_token(&row).await.expect("insert token");
        tx.commit().await.expect("commit");
        token.plaintext.expose_secret().to_string()
    }

    /// Closes every open refusal window now (as shutdown or the per-second sweep would) and
    /// writes their `repeated` rows, so a test counts refusals without waiting a minute.
    pub async fn close_refusal_windows(&self) {
        let now = scaivault::clock::to_micros(self.clock_now());
        let rows = self.state.refusals.drain(now);
        if !rows.is_empty() {
            self.state
                .audit
                .record(rows)
                .await
                .expect("write refusal summaries");
        }
    }

    /// Refusals of `identity` as the audit log counts them: each failed row is one refusal,
    /// or `extra_data.repeated` of them for a collapsed window's summary row. Closes the open
    /// windows first. Returns (action, status_code, count) per row.
    pub async fn refusals_of(&self, identity: &str) -> Vec<(String, i64, i64)> {
        self.close_refusal_windows().await;
        let db = self.db().await;
        sqlx::query(
            "SELECT action, status_code, extra_data FROM audit_log \
             WHERE identity_id = $1 AND success = 0 ORDER BY ts",
        )
        .bind(identity)
        .fetch_all(&db)
        .await
        .expect("audit rows")
        .into_iter()
        .map(|r| {
            let extra: Value =
                serde_json::from_str(&r.get::<String, _>("extra_data")).unwrap_or(Value::Null);
            (
                r.get::<String, _>("action"),
                r.get::<i64, _>("status_code"),
                extra["repeated"].as_i64().unwrap_or(1),
            )
        })
        .collect()
    }

    pub fn clock_now(&self) -> chrono::DateTime<Utc> {
        use scaivault::clock::Clock;
        self.clock.now()
    }
}
