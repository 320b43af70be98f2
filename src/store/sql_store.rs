//! The `Store` implementation over sqlx's `Any` driver: one body of queries for both backends,
//! with the backend-specific parts (pools, migrations, row locks) from `postgres`/`sqlite`.

use super::audit_sql;
use super::errors::{StoreError, StoreResult};
use super::queries as q;
use super::read_cache::{Group, ReadCache};
use super::rotation_sql as rs;
use super::rows::ExpiryRow;
use super::rows::{
    AuditRow, DeliveryRow, EventRow, HistoryRow, PolicyRow, ScheduleRow, SchedulerBacklog,
    SecretRow, TokenRow, VersionInfo, VersionRow, WebhookRow, WebhookStats,
};
use super::sqlite_audit::SqliteAuditAppender;
use super::SecretEntry;
use super::{
    postgres, sqlite, AttemptRecord, AuditQuery, AuditSummary, Backend, EventListQuery,
    SecretListQuery, Store, StoreTx,
};
use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::AnyPool;
use sqlx::{Any, Row, Transaction};
use std::sync::Arc;

/// A store on PostgreSQL or SQLite.
#[derive(Clone)]
pub struct SqlStore {
    backend: Backend,
    /// Write transactions (on SQLite: the single writer connection).
    writer: AnyPool,
    /// Reads (on PostgreSQL the same pool as `writer`).
    reader: AnyPool,
    /// Token and secret reads of the hot path (off until `start_read_cache`).
    cache: Arc<ReadCache>,
    /// SQLite: the connection and threads that append and flush the audit writer's batches.
    sqlite_audit: Option<Arc<SqliteAuditAppender>>,
    /// SQLite: this process's writers (the writer pool's users and the audit appender, which
    /// has a connection of its own) take turns here, in order, instead of meeting in SQLite's
    /// busy handler, which sleeps a millisecond or more per retry. None on PostgreSQL.
    write_gate: Option<Arc<WriteGate>>,
}

/// The lock SQLite writers of this process take turns on (see `SqlStore::write_gate`).
pub type WriteGate = tokio::sync::Mutex<()>;

/// A turn to write. SQLite connections commit without fsync (`synchronous = NORMAL`): a write
/// is durable once a WAL flush that started after its commit returned (`sqlite_audit` runs
/// them, one `fdatasync` for everyone waiting). So a writer commits on its turn, gives the turn
/// back, and then waits for that flush together with the other writers (`durable`).
pub(super) struct WriteTurn {
    gate: Option<tokio::sync::OwnedMutexGuard<()>>,
    wal: Option<Arc<SqliteAuditAppender>>,
}

impl WriteTurn {
    /// Ends the turn after a committed write; returns once the write is durable (at once on
    /// PostgreSQL, where a commit is durable when it returns).
    pub(super) async fn durable(self) -> StoreResult<()> {
        let WriteTurn { gate, wal } = self;
        drop(gate);
        match wal {
            Some(appender) => appender.sync().await,
            None => Ok(()),
        }
    }
}

impl SqlStore {
    /// The pool write statements use (SQLite: the single writer connection).
    pub(super) fn writer_pool(&self) -> &AnyPool {
        &self.writer
    }

    /// Waits for this process's turn to write (SQLite; at once on PostgreSQL). Held until
    /// the write transaction ends; `WriteTurn::durable` then waits for the write to be durable.
    pub(super) async fn write_turn(&self) -> WriteTurn {
        WriteTurn {
            gate: match &self.write_gate {
                Some(gate) => Some(gate.clone().lock_owned().await),
                None => None,
            },
            wal: self.sqlite_audit.clone(),
        }
    }

    /// The pool plain reads use.
    pub(super) fn reader_pool(&self) -> &AnyPool {
        &self.reader
    }
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// Connects to the database a URL names (`postgres://…` or `sqlite://…`).
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url).ok_or_else(|| {
            StoreError::Unavailable(
                "the database URL must start with postgres:// or sqlite://".into(),
            )
        })?;
        let (writer, reader, sqlite_audit, write_gate) = match backend {
            Backend::Postgres => {
                let pool = postgres::connect(url, max_connections).await?;
                (pool.clone(), pool, None, None)
            }
            Backend::Sqlite => {
                let (writer, reader) = sqlite::connect(url, max_connections.max(2)).await?;
                let file = std::path::PathBuf::from(sqlite::database_file(url));
                let gate = Arc::new(WriteGate::new(()));
                let appender = SqliteAuditAppender::start(file, gate.clone())?;
                (writer, reader, Some(Arc::new(appender)), Some(gate))
            }
        };
        Ok(Self {
            backend,
            writer,
            reader,
            cache: Arc::new(ReadCache::new(1, Default::default())),
            sqlite_audit,
            write_gate,
        })
    }

    /// Turns on the read cache with room for `capacity` secrets (0: stays off). On SQLite it
    /// is on at once (this process is the only writer). On PostgreSQL it is on while a
    /// listener for other replicas' commits is connected (`cache_listener`).
    pub async fn start_read_cache(&mut self, url: &str, capacity: usize) {
        if capacity == 0 {
            return;
        }
        self.cache = Arc::new(ReadCache::new(capacity, self.cache.stats.clone()));
        match self.backend {
            Backend::Sqlite => self.cache.set_enabled(true),
            Backend::Postgres => {
                super::cache_listener::start(url.to_string(), Arc::downgrade(&self.cache)).await
            }
        }
    }

    /// The read cache (for its statistics).
    pub fn read_cache(&self) -> &Arc<ReadCache> {
        &self.cache
    }

    fn dialect(&self) -> &'static Dialect {
        match self.backend {
            Backend::Postgres => &POSTGRES,
            Backend::Sqlite => &SQLITE,
        }
    }

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.backend {
            Backend::Postgres => &postgres::MIGRATOR,
            Backend::Sqlite => &sqlite::MIGRATOR,
        }
    }

    /// Closes both pools.
    pub async fn close(&self) {
        if let Some(a) = &self.sqlite_audit {
            a.close();
        }
        self.writer.close().await;
        self.reader.close().await;
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn migrate(&self) -> StoreResult<()> {
        let turn = self.write_turn().await;
        self.migrator().run(&self.writer).await?;
        turn.durable().await
    }

    async fn migrations_applied(&self) -> StoreResult<bool> {
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_all(&self.reader)
                .await
                .or_else(|_| Ok::<_, sqlx::Error>(Vec::new()))?;
        Ok(self.migrator().iter().all(|m| applied.contains(&m.version)))
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>> {
        let turn = self.write_turn().await;
        let tx = self.writer.begin_with(self.dialect().begin_write).await?;
        Ok(Box::new(SqlTx {
            turn,
            tx,
            dialect: self.dialect(),
            cache: self.cache.clone(),
            touched: Vec::new(),
        }))
    }

    async fn get_meta(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar(q::GET_META)
            .bind(key)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn find_token_by_hash(&self, hash: &str) -> StoreResult<Option<TokenRow>> {
        Ok(sqlx::query_as(q::FIND_TOKEN_BY_HASH)
            .bind(hash)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn get_token(&self, tenant_id: &str, id: &str) -> StoreResult<Option<TokenRow>> {
        Ok(sqlx::query_as(q::GET_TOKEN)
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn list_tokens(
        &self,
        tenant_id: &str,
        after_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<TokenRow>> {
        Ok(sqlx::query_as(q::LIST_TOKENS)
            .bind(tenant_id)
            .bind(after_id.unwrap_or(""))
            .bind(limit)
            .fetch_all(&self.reader)
            .await?)
    }

    async fn count_tokens(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(q::COUNT_TOKENS)
            .fetch_one(&self.writer)
            .await?)
    }

    async fn find_token_cached(&self, hash: &str) -> StoreResult<Option<(Arc<TokenRow>, bool)>> {
        if let Some(row) = self.cache.token(hash) {
            return Ok(Some((row, true)));
        }
        let gen = self.cache.generation(Group::Tokens);
        let Some(row) = self.find_token_by_hash(hash).await? else {
            return Ok(None);
        };
        let row = Arc::new(row);
        self.cache.put_token(hash, gen, row.clone());
        Ok(Some((row, false)))
    }

    async fn read_secret_cached(
        &self,
        tenant_id: &str,
        path: &str,
        version: Option<i64>,
    ) -> StoreResult<Option<SecretEntry>> {
        if let Some(hit) = self.cache.secret(tenant_id, path, version) {
            return Ok(Some(hit));
        }
        let gen = self.cache.generation(Group::Secrets);
        let found = match version {
            None => self.get_secret_with_current(tenant_id, path).await?,
            Some(n) => match self.get_secret(tenant_id, path).await? {
                None => None,
                Some(secret) => self.get_version(&secret.id, n).await?.map(|v| (secret, v)),
            },
        };
        let Some(found) = found else { return Ok(None) };
        let entry = Arc::new(found);
        self.cache
            .put_secret(tenant_id, path, version, gen, entry.clone());
        Ok(Some(entry))
    }

    async fn get_schedule_cached(&self, secret_id: &str) -> StoreResult<Option<Arc<ScheduleRow>>> {
        if let Some(hit) = self.cache.schedule(secret_id) {
            return Ok(hit);
        }
        let gen = self.cache.generation(Group::Secrets);
        let found = self.get_schedule(secret_id).await?.map(Arc::new);
        self.cache.put_schedule(secret_id, gen, found.clone());
        Ok(found)
    }

    async fn get_secret(&self, tenant_id: &str, path: &str) -> StoreResult<Option<SecretRow>> {
        Ok(sqlx::query_as(q::GET_LIVE_SECRET)
            .bind(tenant_id)
            .bind(path)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn get_version(&self, secret_id: &str, version: i64) -> StoreResult<Option<VersionRow>> {
        Ok(sqlx::query_as(q::GET_VERSION)
            .bind(secret_id)
            .bind(version)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn get_secret_with_current(
        &self,
        tenant_id: &str,
        path: &str,
    ) -> StoreResult<Option<(SecretRow, VersionRow)>> {
        let row: Option<AnyRow> = sqlx::query(q::GET_SECRET_WITH_CURRENT)
            .bind(tenant_id)
            .bind(path)
            .fetch_optional(&self.reader)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let secret: SecretRow = sqlx::FromRow::from_row(&row)?;
        let version = VersionRow {
            secret_id: secret.id.clone(),
            version: secret.current_version,
            ciphertext: row.try_get("v_ciphertext")?,
            wrapped_key: row.try_get("v_wrapped_key")?,
            key_id: row.try_get("v_key_id")?,
            created_at: row.try_get("v_created_at")?,
            created_by: row.try_get("v_created_by")?,
            is_rotation: row.try_get("v_is_rotation")?,
            readable_until: row.try_get("v_readable_until")?,
        };
        Ok(Some((secret, version)))
    }

    async fn list_versions(&self, secret_id: &str) -> StoreResult<Vec<VersionInfo>> {
        Ok(sqlx::query_as(q::LIST_VERSIONS)
            .bind(secret_id)
            .fetch_all(&self.reader)
            .await?)
    }

    async fn list_secrets(&self, query: &SecretListQuery) -> StoreResult<Vec<SecretRow>> {
        let mut sql = String::from(concat!(
            "SELECT ",
            q::secret_cols!(),
            " FROM secrets s WHERE tenant_id = $1 AND deleted_at IS NULL"
        ));
        let mut binds: Vec<Bind> = vec![Bind::Text(query.tenant_id.clone())];
        let next = |binds: &mut Vec<Bind>, b: Bind| {
            binds.push(b);
            format!("${}", binds.len())
        };
        if let Some(prefix) = &query.prefix {
            let lo = next(&mut binds, Bind::Text(prefix.clone()));
            let hi = next(
                &mut binds,
                Bind::Text(crate::domain::path::prefix_upper_bound(prefix)),
            );
            sql.push_str(&format!(" AND path >= {lo} AND path < {hi}"));
        }
        if !query.path_rules.is_empty() {
            let mut ors = Vec::new();
            for rule in &query.path_rules {
                // Whole segments: the rule's own path, or anything under `rule/`.
                let (exact, lo, hi) = crate::domain::access::rule_bounds(rule);
                let eq = next(&mut binds, Bind::Text(exact));
                let lo = next(&mut binds, Bind::Text(lo));
                let hi = next(&mut binds, Bind::Text(hi));
                ors.push(format!("(path = {eq} OR (path >= {lo} AND path < {hi}))"));
            }
            sql.push_str(&format!(" AND ({})", ors.join(" OR ")));
        }
        if let Some(t) = &query.secret_type {
            let p = next(&mut binds, Bind::Text(t.clone()));
            sql.push_str(&format!(" AND secret_type = {p}"));
        }
        if let Some(tag) = &query.tag {
            let p = next(&mut binds, Bind::Text(tag.clone()));
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM secret_tags t WHERE t.secret_id = s.id AND t.tag = {p})"
            ));
        }
        if let Some(after) = &query.after_path {
            let p = next(&mut binds, Bind::Text(after.clone()));
            sql.push_str(&format!(" AND path > {p}"));
        }
        let p = next(&mut binds, Bind::Int(query.limit));
        sql.push_str(&format!(" ORDER BY path LIMIT {p}"));

        let mut qry = sqlx::query_as::<_, SecretRow>(&sql);
        for b in binds {
            qry = match b {
                Bind::Text(s) => qry.bind(s),
                Bind::Int(i) => qry.bind(i),
            };
        }
        Ok(qry.fetch_all(&self.reader).await?)
    }

    async fn get_webhook(&self, tenant_id: &str, id: &str) -> StoreResult<Option<WebhookRow>> {
        Ok(sqlx::query_as(q::GET_WEBHOOK)
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn list_webhooks(
        &self,
        tenant_id: &str,
        after_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<WebhookRow>> {
        Ok(sqlx::query_as(q::LIST_WEBHOOKS)
            .bind(tenant_id)
            .bind(after_id.unwrap_or(""))
            .bind(limit)
            .fetch_all(&self.reader)
            .await?)
    }

    async fn webhooks_by_ids(&self, ids: &[String]) -> StoreResult<Vec<WebhookRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {} FROM webhooks WHERE id IN ({})",
            WEBHOOK_COLS,
            placeholders(1, ids.len())
        );
        let mut qry = sqlx::query_as::<_, WebhookRow>(&sql);
        for id in ids {
            qry = qry.bind(id);
        }
        Ok(qry.fetch_all(&self.reader).await?)
    }

    async fn webhook_stats(&self, webhook_id: &str, since_us: i64) -> StoreResult<WebhookStats> {
        let row: AnyRow = sqlx::query(q::WEBHOOK_STATS)
            .bind(webhook_id)
            .bind(since_us)
            .fetch_one(&self.reader)
            .await?;
        let avg: Option<f64> = row.try_get::<Option<f64>, _>("avg_ms").ok().flatten();
        Ok(WebhookStats {
            deliveries: row.try_get("n")?,
            successes: row.try_get("ok")?,
            avg_latency_ms: avg,
        })
    }

    async fn last_delivery(&self, webhook_id: &str) -> StoreResult<Option<DeliveryRow>> {
        Ok(sqlx::query_as(q::LAST_DELIVERY)
            .bind(webhook_id)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn get_delivery(&self, tenant_id: &str, id: &str) -> StoreResult<Option<DeliveryRow>> {
        Ok(sqlx::query_as(q::GET_DELIVERY)
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn list_deliveries(
        &self,
        webhook_id: &str,
        status: Option<&str>,
        before_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRow>> {
        let mut sql = format!(
            "SELECT {} FROM deliveries WHERE webhook_id = $1",
            DELIVERY_COLS
        );
        let mut binds = vec![Bind::Text(webhook_id.to_string())];
        if let Some(s) = status {
            binds.push(Bind::Text(s.to_string()));
            sql.push_str(&format!(" AND status = ${}", binds.len()));
        }
        if let Some(b) = before_id {
            binds.push(Bind::Text(b.to_string()));
            sql.push_str(&format!(" AND id < ${}", binds.len()));
        }
        binds.push(Bind::Int(limit));
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", binds.len()));
        let mut qry = sqlx::query_as::<_, DeliveryRow>(&sql);
        for b in binds {
            qry = match b {
                Bind::Text(s) => qry.bind(s),
                Bind::Int(i) => qry.bind(i),
            };
        }
        Ok(qry.fetch_all(&self.reader).await?)
    }

    async fn claim_due_deliveries(
        &self,
        now_us: i64,
        lease_until_us: i64,
        limit: i64,
        exclude_webhooks: &[String],
    ) -> StoreResult<Vec<DeliveryRow>> {
        let exclude = if exclude_webhooks.is_empty() {
            String::new()
        } else {
            format!(
                " AND webhook_id NOT IN ({})",
                placeholders(4, exclude_webhooks.len())
            )
        };
        let sql = self
            .dialect()
            .claim_deliveries
            .replace("{exclude}", &exclude);
        let mut qry = sqlx::query_as(&sql)
            .bind(now_us)
            .bind(lease_until_us)
            .bind(limit);
        for w in exclude_webhooks {
            qry = qry.bind(w);
        }
        // A lease is soft state (it expires): the claim need not wait for a WAL flush.
        let _turn = self.write_turn().await;
        Ok(qry.fetch_all(&self.writer).await?)
    }

    async fn release_deliveries(&self, ids: &[String]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE deliveries SET lease_until = NULL WHERE status = 'pending' AND id IN ({})",
            placeholders(1, ids.len())
        );
        let mut qry = sqlx::query(&sql);
        for id in ids {
            qry = qry.bind(id);
        }
        // A lease is soft state: no need to wait for a WAL flush.
        let _turn = self.write_turn().await;
        qry.execute(&self.writer).await?;
        Ok(())
    }

    async fn finish_attempt(&self, o: &AttemptRecord, audit: &AuditRow) -> StoreResult<bool> {
        let turn = self.write_turn().await;
        let mut tx = self.writer.begin_with(self.dialect().begin_write).await?;
        let recorded = record_attempt(&mut tx, o, audit).await?;
        tx.commit().await?;
        turn.durable().await?;
        Ok(recorded)
    }

    async fn finish_attempts(&self, items: &[(AttemptRecord, AuditRow)]) -> StoreResult<Vec<bool>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let turn = self.write_turn().await;
        let mut tx = self.writer.begin_with(self.dialect().begin_write).await?;
        let out = if needs_one_by_one(items) {
            let mut out = Vec::with_capacity(items.len());
            for (o, audit) in items {
                out.push(record_attempt(&mut tx, o, audit).await?);
            }
            out
        } else {
            record_attempts_bulk(&mut tx, items).await?
        };
        tx.commit().await?;
        turn.durable().await?;
        Ok(out)
    }

    async fn pending_deliveries(&self) -> StoreResult<(i64, Option<i64>)> {
        let row: AnyRow = sqlx::query(q::PENDING_DELIVERY_STATS)
            .fetch_one(&self.reader)
            .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    async fn scheduler_backlog(&self, now_us: i64) -> StoreResult<SchedulerBacklog> {
        let due: AnyRow = sqlx::query(q::ROTATIONS_DUE_COUNT)
            .bind(now_us)
            .fetch_one(&self.reader)
            .await?;
        let oldest: AnyRow = sqlx::query(q::OLDEST_DUE_SCHEDULER_EVENT)
            .bind(now_us)
            .fetch_one(&self.reader)
            .await?;
        Ok(SchedulerBacklog {
            rotations_due: due.try_get(0)?,
            oldest_due_event_at: oldest.try_get(0)?,
        })
    }

    async fn get_event(&self, id: &str) -> StoreResult<Option<EventRow>> {
        Ok(sqlx::query_as(q::GET_EVENT)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn events_by_ids(&self, ids: &[String]) -> StoreResult<Vec<EventRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT seq, id, tenant_id, event_type, ts, identity_id, path, data, request_id \
             FROM events WHERE id IN ({})",
            placeholders(1, ids.len())
        );
        let mut qry = sqlx::query_as::<_, EventRow>(&sql);
        for id in ids {
            qry = qry.bind(id);
        }
        Ok(qry.fetch_all(&self.reader).await?)
    }

    async fn list_events(&self, eq: &EventListQuery) -> StoreResult<Vec<EventRow>> {
        let mut sql = String::from(
            "SELECT seq, id, tenant_id, event_type, ts, identity_id, path, data, request_id \
             FROM events WHERE tenant_id = $1 AND seq > $2",
        );
        let mut binds = vec![Bind::Text(eq.tenant_id.clone()), Bind::Int(eq.after_seq)];
        if !eq.types.is_empty() {
            let first = binds.len() + 1;
            sql.push_str(&format!(
                " AND event_type IN ({})",
                placeholders(first, eq.types.len())
            ));
            binds.extend(eq.types.iter().cloned().map(Bind::Text));
        }
        if let Some(p) = &eq.path_prefix {
            binds.push(Bind::Text(p.clone()));
            let lo = binds.len();
            binds.push(Bind::Text(crate::domain::path::prefix_upper_bound(p)));
            sql.push_str(&format!(" AND path >= ${lo} AND path < ${}", lo + 1));
        }
        binds.push(Bind::Int(eq.limit));
        sql.push_str(&format!(" ORDER BY seq LIMIT ${}", binds.len()));
        let mut qry = sqlx::query_as::<_, EventRow>(&sql);
        for b in binds {
            qry = match b {
                Bind::Text(s) => qry.bind(s),
                Bind::Int(i) => qry.bind(i),
            };
        }
        Ok(qry.fetch_all(&self.reader).await?)
    }

    async fn get_policy(&self, tenant_id: &str, id: &str) -> StoreResult<Option<PolicyRow>> {
        rs::get_policy(&self.reader, tenant_id, id).await
    }

    async fn list_policies(
        &self,
        tenant_id: &str,
        active_only: bool,
        after_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<PolicyRow>> {
        rs::list_policies(
            &self.reader,
            tenant_id,
            active_only,
            after_id.unwrap_or(""),
            limit,
        )
        .await
    }

    async fn count_attached(&self, tenant_id: &str, policy_id: &str) -> StoreResult<i64> {
        rs::count_attached(&self.reader, tenant_id, policy_id).await
    }

    async fn attached_paths(&self, tenant_id: &str, policy_id: &str) -> StoreResult<Vec<String>> {
        rs::attached_paths(&self.reader, tenant_id, policy_id).await
    }

    async fn get_schedule(&self, secret_id: &str) -> StoreResult<Option<ScheduleRow>> {
        rs::get_schedule(&self.reader, secret_id, "").await
    }

    async fn due_rotations(
        &self,
        tenant_id: &str,
        until_us: i64,
        policy_id: Option<&str>,
    ) -> StoreResult<Vec<(ScheduleRow, String)>> {
        rs::due_list(&self.reader, tenant_id, until_us, policy_id).await
    }

    async fn list_history(
        &self,
        tenant_id: &str,
        policy_id: &str,
        status: Option<&str>,
        before_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<HistoryRow>> {
        rs::list_history(&self.reader, tenant_id, policy_id, status, before_id, limit).await
    }

    async fn history_by_due_event(&self, event_id: &str) -> StoreResult<Option<HistoryRow>> {
        rs::history_by_due_event(&self.reader, event_id).await
    }

    async fn insert_audit(&self, rows: &[AuditRow]) -> StoreResult<()> {
        self.insert_audit_checked(rows, &[]).await.map(|_| ())
    }

    async fn insert_audit_checked(
        &self,
        rows: &[AuditRow],
        tokens: &[String],
    ) -> StoreResult<Vec<String>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let invalid = self
            .append_audit_checked(rows.to_vec(), tokens.to_vec())
            .await?;
        if invalid.is_empty() {
            self.sync_audit().await?;
        }
        Ok(invalid)
    }

    async fn append_audit_checked(
        &self,
        rows: Vec<AuditRow>,
        tokens: Vec<String>,
    ) -> StoreResult<Vec<String>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let invalid = match &self.sqlite_audit {
            // Sealed as they are inserted, on the appender's own connection, which takes its
            // turn on the write gate like this process's other writers.
            Some(appender) => appender.append(rows, tokens).await?,
            // Several batches commit at once (and other replicas write): the sealer chains.
            None => {
                audit_sql::append_checked(&self.writer, self.dialect().begin_write, &rows, &tokens)
                    .await?
            }
        };
        if !invalid.is_empty() {
            self.cache.invalidate(Group::Tokens);
        }
        Ok(invalid)
    }

    fn sqlite_appender(&self) -> Option<Arc<SqliteAuditAppender>> {
        self.sqlite_audit.clone()
    }

    async fn sync_audit(&self) -> StoreResult<()> {
        match &self.sqlite_audit {
            Some(appender) => appender.sync().await,
            // A PostgreSQL commit is durable when it returns.
            None => Ok(()),
        }
    }

    async fn list_audit(&self, aq: &AuditQuery) -> StoreResult<Vec<AuditRow>> {
        let mut binds = Vec::new();
        let mut sql = format!(
            "SELECT {} FROM audit_log WHERE {}",
            q::AUDIT_SELECT_COLS,
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
        let mut qry = sqlx::query_as::<_, AuditRow>(&sql);
        for b in binds {
            qry = b.bind_to(qry);
        }
        Ok(qry.fetch_all(&self.reader).await?)
    }

    async fn audit_summary(&self, aq: &AuditQuery) -> StoreResult<AuditSummary> {
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
        let rows = qry.fetch_all(&self.reader).await?;
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
        out.unique_identities = qry.fetch_one(&self.reader).await?;
        Ok(out)
    }

    async fn seal_audit(&self, limit: i64, wait: bool) -> StoreResult<usize> {
        let turn = self.write_turn().await;
        let d = self.dialect();
        let lock = if wait {
            d.lock_sealer
        } else {
            d.try_lock_sealer
        };
        let sealed = audit_sql::seal_unsealed(&self.writer, d.begin_write, lock, limit).await?;
        turn.durable().await?;
        Ok(sealed)
    }

    async fn audit_chain(&self, from_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>> {
        Ok(sqlx::query_as(q::AUDIT_CHAIN_PAGE)
            .bind(from_seq)
            .bind(limit)
            .fetch_all(&self.reader)
            .await?)
    }

    async fn count_unsealed_audit(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(q::AUDIT_COUNT_UNSEALED)
            .fetch_one(&self.reader)
            .await?)
    }

    async fn apply_audit_retention(&self, before_us: i64, anchor_key: &str) -> StoreResult<u64> {
        let turn = self.write_turn().await;
        let mut tx = self.writer.begin_with(self.dialect().begin_write).await?;
        let last: Option<(i64, String)> = sqlx::query_as(q::AUDIT_LAST_BEFORE)
            .bind(before_us)
            .fetch_optional(&mut *tx)
            .await?;
        let Some((seq, hash)) = last else {
            return Ok(0);
        };
        sqlx::query(q::PUT_META)
            .bind(anchor_key)
            .bind(crate::audit::chain::anchor_value(seq, &hash))
            .execute(&mut *tx)
            .await?;
        let r = sqlx::query(q::AUDIT_DELETE_UPTO_SEQ)
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        turn.durable().await?;
        Ok(r.rows_affected())
    }
}

/// Records one attempt's outcome in `tx`; false (and nothing written) if no longer pending.
async fn record_attempt(
    tx: &mut Transaction<'static, Any>,
    o: &AttemptRecord,
    audit: &AuditRow,
) -> StoreResult<bool> {
    let r = sqlx::query(q::FINISH_ATTEMPT)
        .bind(&o.delivery_id)
        .bind(&o.status)
        .bind(o.attempts)
        .bind(o.next_attempt_at)
        .bind(o.response_code)
        .bind(o.duration_ms)
        .bind(&o.last_error)
        .bind(o.now_us)
        .execute(&mut **tx)
        .await?;
    if r.rows_affected() == 0 {
        return Ok(false);
    }
    if let Some(h) = &o.webhook_health {
        sqlx::query(q::SET_WEBHOOK_HEALTH)
            .bind(&o.webhook_id)
            .bind(h)
            .execute(&mut **tx)
            .await?;
    }
    if let Some(reason) = &o.disable_reason {
        sqlx::query(q::DISABLE_WEBHOOK)
            .bind(&o.webhook_id)
            .bind(reason)
            .bind(o.now_us)
            .execute(&mut **tx)
            .await?;
        sqlx::query(q::CANCEL_PENDING_DELIVERIES)
            .bind(&o.webhook_id)
            .bind(o.now_us)
            .execute(&mut **tx)
            .await?;
    }
    audit_sql::bind_row(sqlx::query(q::INSERT_AUDIT), audit)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}

/// Outcomes per statement in [`record_attempts_bulk`]: 8 parameters each, far below both
/// backends' limits on bound parameters.
const ATTEMPTS_PER_STATEMENT: usize = 250;

/// True when a batch must be recorded one outcome after the other: one of them disables its
/// webhook (which cancels that webhook's other pending deliveries, perhaps some of this very
/// batch), or a delivery appears twice (only its first outcome may be recorded).
fn needs_one_by_one(items: &[(AttemptRecord, AuditRow)]) -> bool {
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    items
        .iter()
        .any(|(o, _)| o.disable_reason.is_some() || !seen.insert(o.delivery_id.as_str()))
}

/// Records a batch of outcomes (distinct deliveries, none disabling its webhook) with a few
/// statements instead of three per outcome: one UPDATE … FROM (VALUES …) for the deliveries
/// (RETURNING those still pending), one for the webhooks whose health changes, and multi-row
/// INSERTs of the recorded outcomes' audit rows. Same result as [`record_attempt`] for each
/// in turn: an outcome whose delivery is no longer pending writes nothing and yields false, and
/// a webhook ends with the health of its last recorded outcome that sets one.
async fn record_attempts_bulk(
    tx: &mut Transaction<'static, Any>,
    items: &[(AttemptRecord, AuditRow)],
) -> StoreResult<Vec<bool>> {
    let mut recorded = std::collections::HashSet::with_capacity(items.len());
    for chunk in items.chunks(ATTEMPTS_PER_STATEMENT) {
        // VALUES columns are column1…column8 on both backends.
        let sql = format!(
            "UPDATE deliveries SET status = v.column2, attempts = v.column3, \
             next_attempt_at = v.column4, lease_until = NULL, response_code = v.column5, \
             duration_ms = v.column6, last_error = v.column7, updated_at = v.column8 \
             FROM (VALUES {}) AS v WHERE deliveries.id = v.column1 \
             AND deliveries.status = 'pending' RETURNING deliveries.id",
            value_rows(chunk.len(), 8)
        );
        let mut qry = sqlx::query_scalar::<_, String>(&sql);
        for (o, _) in chunk {
            qry = qry
                .bind(&o.delivery_id)
                .bind(&o.status)
                .bind(o.attempts)
                .bind(o.next_attempt_at)
                .bind(o.response_code)
                .bind(o.duration_ms)
                .bind(&o.last_error)
                .bind(o.now_us);
        }
        recorded.extend(qry.fetch_all(&mut **tx).await?);
    }
    let out: Vec<bool> = items
        .iter()
        .map(|(o, _)| recorded.contains(&o.delivery_id))
        .collect();

    // The last health each webhook is given, in batch order; unchanged rows are not written.
    let mut health: Vec<(&str, &str)> = Vec::new();
    for ((o, _), ok) in items.iter().zip(&out) {
        if let (true, Some(h)) = (*ok, &o.webhook_health) {
            match health.iter_mut().find(|(w, _)| *w == o.webhook_id) {
                Some(e) => e.1 = h,
                None => health.push((&o.webhook_id, h)),
            }
        }
    }
    if !health.is_empty() {
        let sql = format!(
            "UPDATE webhooks SET status = v.column2 FROM (VALUES {}) AS v \
             WHERE webhooks.id = v.column1 AND webhooks.status <> v.column2",
            value_rows(health.len(), 2)
        );
        let mut qry = sqlx::query(&sql);
        for (w, h) in &health {
            qry = qry.bind(*w).bind(*h);
        }
        qry.execute(&mut **tx).await?;
    }

    let audits: Vec<&AuditRow> = items
        .iter()
        .zip(&out)
        .filter(|(_, ok)| **ok)
        .map(|((_, a), _)| a)
        .collect();
    audit_sql::insert_rows(tx, &audits).await?;
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

const WEBHOOK_COLS: &str = q::webhook_cols!();
const DELIVERY_COLS: &str = q::delivery_cols!();

#[derive(Clone)]
enum Bind {
    Text(String),
    Int(i64),
}

impl Bind {
    fn bind_to<'q, O>(
        self,
        qry: sqlx::query::QueryAs<'q, Any, O, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::QueryAs<'q, Any, O, sqlx::any::AnyArguments<'q>> {
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

    fn bind_scalar<'q, O>(
        self,
        qry: sqlx::query::QueryScalar<'q, Any, O, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::QueryScalar<'q, Any, O, sqlx::any::AnyArguments<'q>> {
        match self {
            Bind::Text(s) => qry.bind(s),
            Bind::Int(i) => qry.bind(i),
        }
    }
}

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

/// The SQL that differs between the backends.
struct Dialect {
    /// Starts a write transaction. SQLite's `BEGIN IMMEDIATE` takes the write lock at once
    /// (waiting `busy_timeout` for it): a deferred transaction that has read fails at its first
    /// write if another process (a CLI command) wrote meanwhile.
    begin_write: &'static str,
    lock_row: &'static str,
    /// Appended to a claim SELECT so replicas take disjoint rows.
    skip_locked: &'static str,
    /// Returns true when this transaction may seal (one sealer per database).
    try_lock_sealer: Option<&'static str>,
    /// Waits until this transaction may seal, then returns true.
    lock_sealer: Option<&'static str>,
    lock_event_sequence: Option<&'static str>,
    claim_deliveries: &'static str,
}

static POSTGRES: Dialect = Dialect {
    begin_write: "BEGIN",
    lock_row: postgres::LOCK_ROW,
    skip_locked: " FOR UPDATE SKIP LOCKED",
    try_lock_sealer: Some("SELECT pg_try_advisory_xact_lock(7243002)"),
    lock_sealer: Some("SELECT true FROM pg_advisory_xact_lock(7243002)"),
    lock_event_sequence: postgres::LOCK_EVENT_SEQUENCE,
    claim_deliveries: postgres::CLAIM_DELIVERIES,
};

static SQLITE: Dialect = Dialect {
    begin_write: "BEGIN IMMEDIATE",
    lock_row: sqlite::LOCK_ROW,
    skip_locked: "",
    try_lock_sealer: None,
    lock_sealer: None,
    lock_event_sequence: sqlite::LOCK_EVENT_SEQUENCE,
    claim_deliveries: sqlite::CLAIM_DELIVERIES,
};

/// `($1, …, $cols), ($cols+1, …)`: `rows` tuples of `cols` placeholders, for a VALUES list.
pub(super) fn value_rows(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|i| format!("({})", placeholders(i * cols + 1, cols)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `$first, $first+1, …` placeholders for an IN list of `n` values.
pub(super) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn bind_webhook<'q>(qry: AnyQuery<'q>, w: &'q WebhookRow, with_tenant: bool) -> AnyQuery<'q> {
    let qry = qry.bind(&w.id);
    let qry = if with_tenant {
        qry.bind(&w.tenant_id)
    } else {
        qry
    };
    qry.bind(&w.name)
        .bind(&w.url)
        .bind(&w.description)
        .bind(&w.secret_ciphertext)
        .bind(&w.secret_wrapped_key)
        .bind(&w.secret_key_id)
        .bind(&w.prev_secret_ciphertext)
        .bind(&w.prev_secret_wrapped_key)
        .bind(&w.prev_secret_key_id)
        .bind(w.prev_secret_until)
        .bind(&w.events)
        .bind(&w.filter_path_prefix)
        .bind(&w.filter_secret_type)
        .bind(&w.filter_tags)
        .bind(w.enabled)
        .bind(&w.status)
        .bind(&w.disabled_reason)
}

/// One open write transaction.
struct SqlTx {
    tx: Transaction<'static, Any>,
    dialect: &'static Dialect,
    cache: Arc<ReadCache>,
    /// Cached table groups this transaction changed: invalidated when it commits.
    touched: Vec<Group>,
    /// This process's turn to write (`SqlStore::write_turn`), given back after `tx` (fields
    /// drop in order) or, on commit, before waiting for the write to be durable.
    turn: WriteTurn,
}

impl SqlTx {
    fn touch(&mut self, group: Group) {
        if !self.touched.contains(&group) {
            self.touched.push(group);
        }
    }
}

#[async_trait]
impl StoreTx for SqlTx {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let SqlTx {
            tx,
            cache,
            touched,
            turn,
            ..
        } = *self;
        let result = tx.commit().await;
        // Even a failed commit may have landed: drop cached rows either way.
        for group in &touched {
            cache.invalidate(*group);
        }
        result?;
        turn.durable().await
    }

    async fn put_meta_if_absent(&mut self, key: &str, value: &str) -> StoreResult<()> {
        sqlx::query(q::PUT_META_IF_ABSENT)
            .bind(key)
            .bind(value)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn insert_token(&mut self, t: &TokenRow) -> StoreResult<()> {
        sqlx::query(q::INSERT_TOKEN)
            .bind(&t.id)
            .bind(&t.tenant_id)
            .bind(&t.name)
            .bind(&t.token_hash)
            .bind(&t.identity_id)
            .bind(&t.identity_type)
            .bind(&t.scopes)
            .bind(&t.path_prefixes)
            .bind(&t.kind)
            .bind(t.created_at)
            .bind(&t.created_by)
            .bind(t.expires_at)
            .bind(t.revoked_at)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn revoke_token(&mut self, tenant_id: &str, id: &str, now_us: i64) -> StoreResult<bool> {
        self.touch(Group::Tokens);
        let r = sqlx::query(q::REVOKE_TOKEN)
            .bind(tenant_id)
            .bind(id)
            .bind(now_us)
            .execute(&mut *self.tx)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn revoke_tokens_of_kind(
        &mut self,
        kind: &str,
        keep_hash: &str,
        now_us: i64,
    ) -> StoreResult<Vec<TokenRow>> {
        self.touch(Group::Tokens);
        Ok(sqlx::query_as(q::REVOKE_TOKENS_OF_KIND)
            .bind(kind)
            .bind(now_us)
            .bind(keep_hash)
            .fetch_all(&mut *self.tx)
            .await?)
    }

    async fn delete_token_by_hash(&mut self, hash: &str) -> StoreResult<()> {
        self.touch(Group::Tokens);
        sqlx::query(q::DELETE_TOKEN_BY_HASH)
            .bind(hash)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn lock_secret(&mut self, tenant_id: &str, path: &str) -> StoreResult<Option<SecretRow>> {
        let sql = format!("{}{}", q::SELECT_SECRET_ANY_STATE, self.dialect.lock_row);
        Ok(sqlx::query_as(&sql)
            .bind(tenant_id)
            .bind(path)
            .fetch_optional(&mut *self.tx)
            .await?)
    }

    async fn insert_secret(&mut self, s: &SecretRow) -> StoreResult<()> {
        self.touch(Group::Secrets);
        sqlx::query(q::INSERT_SECRET)
            .bind(&s.id)
            .bind(&s.tenant_id)
            .bind(&s.path)
            .bind(&s.secret_type)
            .bind(&s.description)
            .bind(&s.owner)
            .bind(&s.tags)
            .bind(&s.custom)
            .bind(s.max_versions)
            .bind(s.current_version)
            .bind(s.created_at)
            .bind(&s.created_by)
            .bind(s.updated_at)
            .bind(s.expires_at)
            .bind(&s.notify_before)
            .bind(&s.rotation_policy_id)
            .bind(s.deleted_at)
            .bind(s.recoverable_until)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn update_secret(&mut self, s: &SecretRow) -> StoreResult<()> {
        self.touch(Group::Secrets);
        sqlx::query(q::UPDATE_SECRET)
            .bind(&s.id)
            .bind(&s.secret_type)
            .bind(&s.description)
            .bind(&s.owner)
            .bind(&s.tags)
            .bind(&s.custom)
            .bind(s.max_versions)
            .bind(s.current_version)
            .bind(s.updated_at)
            .bind(s.expires_at)
            .bind(&s.notify_before)
            .bind(&s.rotation_policy_id)
            .bind(s.deleted_at)
            .bind(s.recoverable_until)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn replace_tags(&mut self, secret_id: &str, tags: &[String]) -> StoreResult<()> {
        self.touch(Group::Secrets);
        sqlx::query(q::DELETE_TAGS)
            .bind(secret_id)
            .execute(&mut *self.tx)
            .await?;
        for tag in tags {
            sqlx::query(q::INSERT_TAG)
                .bind(secret_id)
                .bind(tag)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    async fn insert_version(&mut self, v: &VersionRow) -> StoreResult<()> {
        self.touch(Group::Secrets);
        sqlx::query(q::INSERT_VERSION)
            .bind(&v.secret_id)
            .bind(v.version)
            .bind(&v.ciphertext)
            .bind(&v.wrapped_key)
            .bind(&v.key_id)
            .bind(v.created_at)
            .bind(&v.created_by)
            .bind(v.is_rotation)
            .bind(v.readable_until)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn prune_versions(
        &mut self,
        secret_id: &str,
        floor: i64,
        now_us: i64,
    ) -> StoreResult<u64> {
        self.touch(Group::Secrets);
        let r = sqlx::query(q::PRUNE_VERSIONS)
            .bind(secret_id)
            .bind(floor)
            .bind(now_us)
            .execute(&mut *self.tx)
            .await?;
        Ok(r.rows_affected())
    }

    async fn count_versions(&mut self, secret_id: &str) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(q::COUNT_VERSIONS)
            .bind(secret_id)
            .fetch_one(&mut *self.tx)
            .await?)
    }

    async fn delete_secret(&mut self, secret_id: &str) -> StoreResult<()> {
        self.touch(Group::Secrets);
        // Children first: SQLite only cascades with foreign_keys on, and we don't rely on it.
        sqlx::query(q::DELETE_VERSIONS)
            .bind(secret_id)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(q::DELETE_TAGS)
            .bind(secret_id)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(q::DELETE_SECRET)
            .bind(secret_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn insert_audit(&mut self, row: &AuditRow) -> StoreResult<()> {
        audit_sql::bind_row(sqlx::query(q::INSERT_AUDIT), row)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn insert_webhook(&mut self, w: &WebhookRow) -> StoreResult<()> {
        bind_webhook(sqlx::query(q::INSERT_WEBHOOK), w, true)
            .bind(w.created_at)
            .bind(w.updated_at)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn update_webhook(&mut self, w: &WebhookRow) -> StoreResult<()> {
        bind_webhook(sqlx::query(q::UPDATE_WEBHOOK), w, false)
            .bind(w.updated_at)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn delete_webhook(&mut self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        let r = sqlx::query(q::DELETE_WEBHOOK)
            .bind(tenant_id)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn cancel_pending_deliveries(
        &mut self,
        webhook_id: &str,
        now_us: i64,
    ) -> StoreResult<u64> {
        let r = sqlx::query(q::CANCEL_PENDING_DELIVERIES)
            .bind(webhook_id)
            .bind(now_us)
            .execute(&mut *self.tx)
            .await?;
        Ok(r.rows_affected())
    }

    async fn routable_webhooks(&mut self, tenant_id: &str) -> StoreResult<Vec<WebhookRow>> {
        Ok(sqlx::query_as(q::ROUTABLE_WEBHOOKS)
            .bind(tenant_id)
            .fetch_all(&mut *self.tx)
            .await?)
    }

    async fn lock_event_sequence(&mut self) -> StoreResult<()> {
        if let Some(sql) = self.dialect.lock_event_sequence {
            sqlx::query(sql).execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    async fn insert_event(&mut self, e: &EventRow) -> StoreResult<()> {
        sqlx::query(q::INSERT_EVENT)
            .bind(&e.id)
            .bind(&e.tenant_id)
            .bind(&e.event_type)
            .bind(e.ts)
            .bind(&e.identity_id)
            .bind(&e.path)
            .bind(&e.data)
            .bind(&e.request_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn insert_delivery(&mut self, d: &DeliveryRow) -> StoreResult<()> {
        sqlx::query(q::INSERT_DELIVERY)
            .bind(&d.id)
            .bind(&d.tenant_id)
            .bind(&d.webhook_id)
            .bind(&d.event_id)
            .bind(&d.event_type)
            .bind(&d.status)
            .bind(d.attempts)
            .bind(d.next_attempt_at)
            .bind(d.lease_until)
            .bind(d.response_code)
            .bind(d.duration_ms)
            .bind(&d.last_error)
            .bind(d.created_at)
            .bind(d.updated_at)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn get_policy(&mut self, tenant_id: &str, id: &str) -> StoreResult<Option<PolicyRow>> {
        rs::get_policy(&mut *self.tx, tenant_id, id).await
    }

    async fn insert_policy(&mut self, p: &PolicyRow) -> StoreResult<()> {
        rs::insert_policy(&mut self.tx, p).await
    }

    async fn update_policy(&mut self, p: &PolicyRow) -> StoreResult<()> {
        rs::update_policy(&mut self.tx, p).await
    }

    async fn delete_policy(&mut self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        self.touch(Group::Secrets);
        rs::delete_policy(&mut self.tx, tenant_id, id).await
    }

    async fn lock_schedule(&mut self, secret_id: &str) -> StoreResult<Option<ScheduleRow>> {
        rs::get_schedule(&mut *self.tx, secret_id, self.dialect.lock_row).await
    }

    async fn attached_paths(
        &mut self,
        tenant_id: &str,
        policy_id: &str,
    ) -> StoreResult<Vec<String>> {
        rs::attached_paths(&mut *self.tx, tenant_id, policy_id).await
    }

    async fn schedules_of_policy(
        &mut self,
        tenant_id: &str,
        policy_id: &str,
    ) -> StoreResult<Vec<ScheduleRow>> {
        rs::schedules_of_policy(&mut self.tx, tenant_id, policy_id).await
    }

    async fn upsert_schedule(&mut self, s: &ScheduleRow) -> StoreResult<()> {
        self.touch(Group::Secrets);
        rs::upsert_schedule(&mut self.tx, s).await
    }

    async fn delete_schedule(&mut self, secret_id: &str) -> StoreResult<bool> {
        self.touch(Group::Secrets);
        rs::delete_schedule(&mut self.tx, secret_id).await
    }

    async fn claim_due_schedules(
        &mut self,
        now_us: i64,
        limit: i64,
    ) -> StoreResult<Vec<ScheduleRow>> {
        rs::claim_due(&mut self.tx, now_us, limit, self.dialect.skip_locked).await
    }

    async fn insert_history(&mut self, h: &HistoryRow) -> StoreResult<()> {
        rs::insert_history(&mut self.tx, h).await
    }

    async fn update_history(&mut self, h: &HistoryRow) -> StoreResult<()> {
        rs::update_history(&mut self.tx, h).await
    }

    async fn get_history(&mut self, id: &str) -> StoreResult<Option<HistoryRow>> {
        rs::get_history(&mut *self.tx, id).await
    }

    async fn set_version_flags(
        &mut self,
        secret_id: &str,
        version: i64,
        is_rotation: Option<bool>,
        readable_until: Option<i64>,
    ) -> StoreResult<()> {
        self.touch(Group::Secrets);
        rs::set_version_flags(
            &mut self.tx,
            secret_id,
            version,
            is_rotation,
            readable_until,
        )
        .await
    }

    async fn secret_by_id(&mut self, id: &str) -> StoreResult<Option<SecretRow>> {
        rs::secret_by_id(&mut self.tx, id).await
    }

    async fn get_expiry(&mut self, secret_id: &str) -> StoreResult<Option<ExpiryRow>> {
        rs::get_expiry(&mut self.tx, secret_id).await
    }

    async fn upsert_expiry(&mut self, e: &ExpiryRow) -> StoreResult<()> {
        rs::upsert_expiry(&mut self.tx, e).await
    }

    async fn delete_expiry(&mut self, secret_id: &str) -> StoreResult<()> {
        rs::delete_expiry(&mut self.tx, secret_id).await
    }

    async fn claim_due_expiry(&mut self, now_us: i64, limit: i64) -> StoreResult<Vec<ExpiryRow>> {
        rs::claim_due_expiry(&mut self.tx, now_us, limit, self.dialect.skip_locked).await
    }

    async fn event_delivery_states(
        &mut self,
        event_id: &str,
    ) -> StoreResult<Vec<(String, String)>> {
        rs::event_delivery_states(&mut *self.tx, event_id).await
    }
}
