//! The in-process read cache of the hot path: token lookups and secret reads (the row and its
//! sealed version; values stay encrypted here and are opened per request).
//!
//! Every entry carries the generation of its table group at the moment its query started. A
//! committed change bumps the generation, which turns every older entry into a miss; a reader
//! whose query raced a commit stores its row under the old generation, so it is never served.
//! Generations are bumped by this process's own commits (before the writer's response goes
//! out), and on PostgreSQL by `LISTEN scaivault_cache` for other replicas' and other processes'
//! commits (see `cache_listener`). While that listener is not connected the cache is off.
//!
//! Tokens served from here are checked again by the audit writer inside the transaction that
//! makes the read's audit row durable, so a revocation made anywhere applies to the next read.

use super::rows::{ScheduleRow, SecretRow, TokenRow, VersionRow};
use prometheus_client::metrics::counter::Counter;
use quick_cache::sync::Cache;
use quick_cache::Equivalent;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Which group of tables a change touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// `secrets`, `secret_versions`, `secret_tags`, `rotation_schedule`: what a read shows.
    Secrets,
    /// `api_tokens`.
    Tokens,
}

/// A secret and the version a read asked for (the current one, or `?version=N`).
pub type SecretEntry = Arc<(SecretRow, VersionRow)>;

type SecretKey = (String, String, Option<i64>);

/// Hit and miss counts, shared with the metrics registry
/// (`scaivault_read_cache_hits_total`, `scaivault_read_cache_misses_total`).
#[derive(Debug, Default, Clone)]
pub struct CacheStats {
    pub hits: Counter,
    pub misses: Counter,
}

/// The cache; one per store handle.
pub struct ReadCache {
    tokens: Cache<String, (u64, Arc<TokenRow>)>,
    secrets: Cache<SecretKey, (u64, SecretEntry)>,
    /// Rotation schedules by secret id (None: the secret has none).
    schedules: Cache<String, (u64, Option<Arc<ScheduleRow>>)>,
    token_gen: AtomicU64,
    secret_gen: AtomicU64,
    /// False while the cache cannot learn of other processes' commits (PostgreSQL listener
    /// down), or when it was configured off.
    enabled: AtomicBool,
    pub stats: CacheStats,
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache")
            .field("enabled", &self.enabled.load(Ordering::Relaxed))
            .field("tokens", &self.tokens.len())
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

impl ReadCache {
    /// A cache of at most `capacity` secrets and as many tokens, counting into `stats`; it
    /// starts off.
    pub fn new(capacity: usize, stats: CacheStats) -> Self {
        let capacity = capacity.max(1);
        Self {
            tokens: Cache::new(capacity),
            secrets: Cache::new(capacity),
            schedules: Cache::new(capacity),
            token_gen: AtomicU64::new(0),
            secret_gen: AtomicU64::new(0),
            enabled: AtomicBool::new(false),
            stats,
        }
    }

    /// Turns the cache on or off; either way every entry held so far is dropped.
    pub fn set_enabled(&self, on: bool) {
        self.invalidate(Group::Tokens);
        self.invalidate(Group::Secrets);
        self.enabled.store(on, Ordering::SeqCst);
        self.invalidate(Group::Tokens);
        self.invalidate(Group::Secrets);
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::SeqCst)
    }

    /// Makes every entry of `group` loaded before now a miss.
    pub fn invalidate(&self, group: Group) {
        self.gen_of(group).fetch_add(1, Ordering::SeqCst);
    }

    /// The generation to tag a load with; read it before the query starts.
    pub fn generation(&self, group: Group) -> u64 {
        self.gen_of(group).load(Ordering::SeqCst)
    }

    fn gen_of(&self, group: Group) -> &AtomicU64 {
        match group {
            Group::Secrets => &self.secret_gen,
            Group::Tokens => &self.token_gen,
        }
    }

    /// The entry under `key` if it was loaded in `group`'s current generation, counted as a
    /// hit or a miss; always a miss while the cache is off.
    fn fetch<K, Q, V>(&self, cache: &Cache<K, (u64, V)>, group: Group, key: &Q) -> Option<V>
    where
        K: Eq + Hash,
        Q: Hash + Equivalent<K> + ?Sized,
        V: Clone,
    {
        if !self.is_enabled() {
            return None;
        }
        let now = self.generation(group);
        let hit = cache.get(key).filter(|(g, _)| *g == now).map(|(_, v)| v);
        let counter = if hit.is_some() {
            &self.stats.hits
        } else {
            &self.stats.misses
        };
        counter.inc();
        hit
    }

    /// Stores `value`, loaded by a query that started in generation `gen` (nothing while off).
    fn keep<K: Eq + Hash, V: Clone>(&self, cache: &Cache<K, (u64, V)>, key: K, gen: u64, value: V) {
        if self.is_enabled() {
            cache.insert(key, (gen, value));
        }
    }

    /// The token row stored under its hash, if loaded in the current generation.
    pub fn token(&self, hash: &str) -> Option<Arc<TokenRow>> {
        self.fetch(&self.tokens, Group::Tokens, hash)
    }

    /// Stores a token row loaded by a query that started in generation `gen`.
    pub fn put_token(&self, hash: &str, gen: u64, row: Arc<TokenRow>) {
        self.keep(&self.tokens, hash.to_string(), gen, row);
    }

    /// A secret read, if loaded in the current generation.
    pub fn secret(&self, tenant: &str, path: &str, version: Option<i64>) -> Option<SecretEntry> {
        let key = (tenant.to_string(), path.to_string(), version);
        self.fetch(&self.secrets, Group::Secrets, &key)
    }

    /// Stores a secret read loaded by a query that started in generation `gen`.
    pub fn put_secret(
        &self,
        tenant: &str,
        path: &str,
        version: Option<i64>,
        gen: u64,
        e: SecretEntry,
    ) {
        let key = (tenant.to_string(), path.to_string(), version);
        self.keep(&self.secrets, key, gen, e);
    }

    /// A secret's rotation schedule (or the fact it has none), if loaded in the current
    /// generation.
    pub fn schedule(&self, secret_id: &str) -> Option<Option<Arc<ScheduleRow>>> {
        self.fetch(&self.schedules, Group::Secrets, secret_id)
    }

    /// Stores a schedule lookup made by a query that started in generation `gen`.
    pub fn put_schedule(&self, secret_id: &str, gen: u64, s: Option<Arc<ScheduleRow>>) {
        self.keep(&self.schedules, secret_id.to_string(), gen, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> Arc<TokenRow> {
        Arc::new(TokenRow {
            id: "tok_1".into(),
            tenant_id: "default".into(),
            name: "t".into(),
            token_hash: "h".into(),
            identity_id: "svc".into(),
            identity_type: crate::store::IdentityType::ServiceAccount,
            scopes: "[]".into(),
            path_prefixes: "[]".into(),
            kind: crate::store::TokenKind::Api,
            created_at: 0,
            created_by: "root".into(),
            expires_at: None,
            revoked_at: None,
        })
    }

    #[test]
    fn an_entry_loaded_before_a_change_is_a_miss() {
        let c = ReadCache::new(10, CacheStats::default());
        c.set_enabled(true);
        let gen = c.generation(Group::Tokens);
        c.put_token("h", gen, token());
        assert!(c.token("h").is_some());
        c.invalidate(Group::Secrets);
        assert!(c.token("h").is_some(), "a secret change keeps tokens");
        c.invalidate(Group::Tokens);
        assert!(c.token("h").is_none());
    }

    #[test]
    fn a_load_that_raced_a_change_is_never_served() {
        let c = ReadCache::new(10, CacheStats::default());
        c.set_enabled(true);
        let gen = c.generation(Group::Tokens);
        c.invalidate(Group::Tokens); // a commit lands while the query runs
        c.put_token("h", gen, token());
        assert!(c.token("h").is_none());
    }

    #[test]
    fn a_disabled_cache_holds_nothing() {
        let c = ReadCache::new(10, CacheStats::default());
        c.put_token("h", 0, token());
        assert!(c.token("h").is_none());
        c.set_enabled(true);
        assert!(c.token("h").is_none());
    }
}
