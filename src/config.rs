//! Configuration: defaults < `config/scaivault.toml` (or `--config FILE`) < `SCAIVAULT_*` env.
//! Validated once at start; an invalid setting stops the start with one line naming it.

use crate::domain::duration::{parse_list, ApiDuration};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The config file read when `--config` is not given (silently skipped if absent).
pub const DEFAULT_CONFIG_FILE: &str = "config/scaivault.toml";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// A start-up configuration error: which setting, and why.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {env} ({key}): {reason}")]
pub struct ConfigError {
    pub key: String,
    pub env: String,
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(key: &str, reason: impl Into<String>) -> Self {
        Self {
            key: key.to_string(),
            env: format!("SCAIVAULT_{}", key.to_uppercase()),
            reason: reason.into(),
        }
    }
}

/// Every setting's key; `SCAIVAULT_<KEY>` is its environment name. Other `SCAIVAULT_*`
/// variables are not settings and are ignored, while an unknown key in the file is an error.
const KNOWN_KEYS: &[&str] = &[
    "listen",
    "header_read_timeout",
    "database_url",
    "database_max_connections",
    "data_dir",
    "master_key",
    "master_key_file",
    "root_token",
    "scheduler_tick",
    "webhook_retry_schedule",
    "webhook_timeout",
    "webhook_allow_http",
    "webhook_deny_cidrs",
    "webhook_allow_cidrs",
    "tls_cert",
    "tls_key",
    "log_format",
    "webhook_concurrency",
    "read_cache_entries",
    "audit_retention",
    "audit_reads",
    "audit_durability",
    "audit_mirror",
    "metrics_listen",
    "rate_limit_reads",
    "rate_limit_writes",
    "rate_limit_admin",
    "rate_limit_unauthenticated",
];

/// Settings as written (file or env), before validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: String,
    header_read_timeout: String,
    database_url: Option<String>,
    database_max_connections: u32,
    data_dir: String,
    master_key: Option<String>,
    master_key_file: Option<String>,
    root_token: Option<String>,
    scheduler_tick: String,
    webhook_retry_schedule: String,
    webhook_timeout: String,
    webhook_allow_http: Option<bool>,
    webhook_deny_cidrs: String,
    webhook_allow_cidrs: Option<String>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    log_format: Option<String>,
    webhook_concurrency: usize,
    read_cache_entries: usize,
    audit_retention: Option<String>,
    audit_reads: bool,
    audit_durability: Option<String>,
    audit_mirror: Option<String>,
    metrics_listen: Option<String>,
    rate_limit_reads: u32,
    rate_limit_writes: u32,
    rate_limit_admin: u32,
    rate_limit_unauthenticated: u32,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8210".into(),
            header_read_timeout: "10s".into(),
            database_url: None,
            database_max_connections: 16,
            data_dir: "./data".into(),
            master_key: None,
            master_key_file: None,
            root_token: None,
            scheduler_tick: "10s".into(),
            webhook_retry_schedule: "30s,5m,30m,2h,8h,24h".into(),
            webhook_timeout: "10s".into(),
            webhook_allow_http: None,
            webhook_deny_cidrs: crate::delivery::target::DEFAULT_DENY_CIDRS.into(),
            webhook_allow_cidrs: None,
            tls_cert: None,
            tls_key: None,
            log_format: None,
            webhook_concurrency: 64,
            read_cache_entries: 10_000,
            audit_retention: None,
            audit_reads: true,
            audit_durability: None,
            audit_mirror: None,
            metrics_listen: None,
            rate_limit_reads: 0,
            rate_limit_writes: 0,
            rate_limit_admin: 0,
            rate_limit_unauthenticated: 20,
        }
    }
}

/// The validated configuration the server runs with.
#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// A connection whose request headers have not all arrived this long after it opened (or
    /// after the previous response) is closed (SPEC §13: half-sent requests hold nothing).
    pub header_read_timeout: ApiDuration,
    pub database_url: String,
    pub database_max_connections: u32,
    pub data_dir: PathBuf,
    pub master_key: Option<SecretString>,
    pub master_key_file: Option<PathBuf>,
    pub root_token: Option<SecretString>,
    pub scheduler_tick: ApiDuration,
    pub webhook_retry_schedule: Vec<ApiDuration>,
    pub webhook_timeout: ApiDuration,
    pub webhook_allow_http: bool,
    /// Webhook targets never called (SPEC §5a) unless `webhook_allow_cidrs` opens them.
    pub webhook_deny_cidrs: Vec<ipnet::IpNet>,
    /// Ranges opened on purpose; beats the deny list (`--dev`: loopback).
    pub webhook_allow_cidrs: Vec<ipnet::IpNet>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub log_format: Option<LogFormat>,
    /// `serve --dev`: generated master key, plain-HTTP webhooks, a fresh root token each start.
    pub dev: bool,
    /// Most webhook attempts in flight at once.
    pub webhook_concurrency: usize,
    /// Secrets (and as many tokens) the in-process read cache holds; 0 turns it off.
    pub read_cache_entries: usize,
    /// Write audit rows for reads, listings and denials (group commit). Off only to measure
    /// what auditing costs: it breaks the audit guarantee of SPEC §7.
    pub audit_reads: bool,
    /// When a read's response may go: once its audit row is durable (default), or once the
    /// database has it (survives a crash of scaivault, not of the machine).
    pub audit_durability: AuditDurability,
    /// Audit rows older than this are deleted (None: keep forever).
    pub audit_retention: Option<ApiDuration>,
    /// Every committed audit row also written as a JSON line here (`audit::mirror`).
    pub audit_mirror: Option<crate::audit::mirror::MirrorTarget>,
    /// How often the delivery worker looks for due work when nothing woke it (real time).
    pub worker_poll_interval: std::time::Duration,
    /// A second listener serving `/metrics` without auth (None: only the admin-token route).
    pub metrics_listen: Option<SocketAddr>,
    /// Requests per minute per token and category (0: that category is not limited).
    pub rate_limits: RateLimits,
}

/// When the audit row of a read (or listing, or denial) must be safe before its response
/// goes out (`SCAIVAULT_AUDIT_DURABILITY`). Writes are always durable before they answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AuditDurability {
    /// On disk (fsync'd): survives a power loss.
    #[default]
    Durable,
    /// Handed to the database (SQLite WAL commit without waiting for its flush; PostgreSQL
    /// `synchronous_commit = off`): survives a crash of scaivault, not of the machine.
    Process,
}

impl AuditDurability {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "durable" => Some(Self::Durable),
            "process" => Some(Self::Process),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Durable => "durable",
            Self::Process => "process",
        }
    }
}

/// Per-token request budgets, requests per minute; 0 turns a category's limit off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimits {
    pub reads: u32,
    pub writes: u32,
    pub admin: u32,
    /// Requests without a valid token, per second per source address (burst 10×; 0: off).
    pub unauthenticated: u32,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("header_read_timeout", &self.header_read_timeout.as_str())
            .field("database_url", &redact_url(&self.database_url))
            .field("database_max_connections", &self.database_max_connections)
            .field("data_dir", &self.data_dir)
            .field(
                "master_key",
                &self.master_key.as_ref().map(|_| "[redacted]"),
            )
            .field("master_key_file", &self.master_key_file)
            .field(
                "root_token",
                &self.root_token.as_ref().map(|_| "[redacted]"),
            )
            .field("scheduler_tick", &self.scheduler_tick.as_str())
            .field("webhook_timeout", &self.webhook_timeout.as_str())
            .field("webhook_allow_http", &self.webhook_allow_http)
            .field("tls_cert", &self.tls_cert)
            .field("dev", &self.dev)
            .field("metrics_listen", &self.metrics_listen)
            .field("audit_durability", &self.audit_durability)
            .field("audit_mirror", &self.audit_mirror)
            .field("rate_limits", &self.rate_limits)
            .finish_non_exhaustive()
    }
}

/// Hides the password of a database URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:[redacted]{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl Config {
    /// Loads defaults, then the config file, then the environment.
    pub fn load(file: Option<&Path>, dev: bool) -> Result<Self, ConfigError> {
        let fig = Self::figment(file)?;
        let raw: RawConfig = fig.extract().map_err(|e| {
            let key = e.path.join(".");
            let key = if key.is_empty() {
                "config".to_string()
            } else {
                key
            };
            ConfigError::new(&key, e.kind.to_string())
        })?;
        Self::validate(raw, dev)
    }

    /// Where each setting's effective value came from: `default`, the file, or `env NAME`.
    pub fn sources(file: Option<&Path>) -> Vec<(&'static str, String)> {
        let Ok(fig) = Self::figment(file) else {
            return Vec::new();
        };
        KNOWN_KEYS
            .iter()
            .map(|key| {
                let source = match fig.find_metadata(key) {
                    Some(m) if m.name.contains("SCAIVAULT_") => {
                        format!("env SCAIVAULT_{}", key.to_uppercase())
                    }
                    Some(m) if m.name.contains("environment") => {
                        format!("env {}", key.to_uppercase())
                    }
                    Some(m) => match &m.source {
                        Some(figment::Source::File(f)) => format!("file {}", f.display()),
                        _ => "default".into(),
                    },
                    None => "default".into(),
                };
                (*key, source)
            })
            .collect()
    }

    /// Defaults, then the file, then the environment (not yet extracted).
    fn figment(file: Option<&Path>) -> Result<Figment, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(RawConfig::default()));
        match file {
            Some(f) => {
                if !f.exists() {
                    return Err(ConfigError {
                        key: "config".into(),
                        env: "--config".into(),
                        reason: format!("file {} does not exist", f.display()),
                    });
                }
                fig = fig.merge(Toml::file(f));
            }
            None => fig = fig.merge(Toml::file(DEFAULT_CONFIG_FILE)),
        }
        fig = fig
            .merge(Env::raw().only(&["DATABASE_URL"]))
            .merge(Env::prefixed("SCAIVAULT_").only(KNOWN_KEYS));
        Ok(fig)
    }

    fn validate(raw: RawConfig, dev: bool) -> Result<Self, ConfigError> {
        let listen = raw.listen.parse().map_err(|_| {
            ConfigError::new("listen", format!("'{}' is not host:port", raw.listen))
        })?;
        let data_dir = PathBuf::from(&raw.data_dir);
        let database_url = raw
            .database_url
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("scaivault.db").display()));
        if crate::store::Backend::from_url(&database_url).is_none() {
            return Err(ConfigError::new(
                "database_url",
                "must start with postgres://, postgresql:// or sqlite://",
            ));
        }
        if raw.database_max_connections == 0 {
            return Err(ConfigError::new(
                "database_max_connections",
                "must be at least 1",
            ));
        }
        let dur = |key: &str, v: &str| {
            ApiDuration::parse(v).map_err(|e| ConfigError::new(key, e.to_string()))
        };
        let scheduler_tick = dur("scheduler_tick", &raw.scheduler_tick)?;
        let header_read_timeout = dur("header_read_timeout", &raw.header_read_timeout)?;
        let webhook_timeout = dur("webhook_timeout", &raw.webhook_timeout)?;
        let webhook_retry_schedule = parse_list(&raw.webhook_retry_schedule)
            .map_err(|e| ConfigError::new("webhook_retry_schedule", e.to_string()))?;
        let cidrs = |key: &str, v: &str| {
            crate::delivery::target::parse_cidrs(v).map_err(|e| ConfigError::new(key, e))
        };
        let webhook_deny_cidrs = cidrs("webhook_deny_cidrs", &raw.webhook_deny_cidrs)?;
        let webhook_allow_cidrs = match raw.webhook_allow_cidrs.as_deref() {
            Some(v) => cidrs("webhook_allow_cidrs", v)?,
            None if dev => cidrs(
                "webhook_allow_cidrs",
                crate::delivery::target::DEV_ALLOW_CIDRS,
            )?,
            None => Vec::new(),
        };
        let log_format = match raw.log_format.as_deref() {
            None | Some("") => None,
            Some("pretty") => Some(LogFormat::Pretty),
            Some("json") => Some(LogFormat::Json),
            Some(other) => {
                return Err(ConfigError::new(
                    "log_format",
                    format!("'{other}' is not one of pretty, json"),
                ))
            }
        };
        if raw.read_cache_entries > 10_000_000 {
            return Err(ConfigError::new(
                "read_cache_entries",
                "must be at most 10000000 (0 turns the cache off)",
            ));
        }
        if raw.webhook_concurrency == 0 || raw.webhook_concurrency > 4096 {
            return Err(ConfigError::new(
                "webhook_concurrency",
                "must be from 1 to 4096",
            ));
        }
        // An empty value counts as unset, so `SCAIVAULT_TLS_KEY=` never silently means plain HTTP.
        let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        if set(&raw.tls_cert) != set(&raw.tls_key) {
            return Err(ConfigError::new(
                if set(&raw.tls_cert) {
                    "tls_key"
                } else {
                    "tls_cert"
                },
                "TLS needs both SCAIVAULT_TLS_CERT and SCAIVAULT_TLS_KEY",
            ));
        }
        let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let root_token = non_empty(raw.root_token);
        if let Some(t) = &root_token {
            if t.len() < 24 {
                return Err(ConfigError::new(
                    "root_token",
                    "must be at least 24 characters (use `skt_` + 32 random characters)",
                ));
            }
        }
        Ok(Self {
            listen,
            header_read_timeout,
            database_url,
            database_max_connections: raw.database_max_connections,
            data_dir,
            master_key: non_empty(raw.master_key).map(SecretString::from),
            master_key_file: non_empty(raw.master_key_file).map(PathBuf::from),
            root_token: root_token.map(SecretString::from),
            scheduler_tick,
            webhook_retry_schedule,
            webhook_timeout,
            webhook_allow_http: raw.webhook_allow_http.unwrap_or(dev),
            webhook_deny_cidrs,
            webhook_allow_cidrs,
            tls_cert: non_empty(raw.tls_cert).map(PathBuf::from),
            tls_key: non_empty(raw.tls_key).map(PathBuf::from),
            log_format,
            dev,
            webhook_concurrency: raw.webhook_concurrency,
            read_cache_entries: raw.read_cache_entries,
            audit_reads: raw.audit_reads,
            audit_durability: match non_empty(raw.audit_durability) {
                None => AuditDurability::Durable,
                Some(v) => AuditDurability::parse(&v).ok_or_else(|| {
                    ConfigError::new("audit_durability", "must be durable or process")
                })?,
            },
            audit_retention: match non_empty(raw.audit_retention) {
                None => None,
                Some(v) => Some(dur("audit_retention", &v)?),
            },
            audit_mirror: match non_empty(raw.audit_mirror) {
                None => None,
                Some(v) => Some(
                    crate::audit::mirror::MirrorTarget::parse(&v)
                        .map_err(|e| ConfigError::new("audit_mirror", e))?,
                ),
            },
            worker_poll_interval: std::time::Duration::from_millis(500),
            metrics_listen: match non_empty(raw.metrics_listen) {
                None => None,
                Some(v) => Some(v.parse().map_err(|_| {
                    ConfigError::new("metrics_listen", format!("'{v}' is not host:port"))
                })?),
            },
            rate_limits: RateLimits {
                reads: raw.rate_limit_reads,
                writes: raw.rate_limit_writes,
                admin: raw.rate_limit_admin,
                unauthenticated: raw.rate_limit_unauthenticated,
            },
        })
    }

    /// The deny and allow lists webhook targets are checked against.
    pub fn webhook_targets(&self) -> crate::delivery::target::TargetRules {
        crate::delivery::target::TargetRules {
            deny: self.webhook_deny_cidrs.clone(),
            allow: self.webhook_allow_cidrs.clone(),
        }
    }

    /// Defaults for a given database URL, for embedding and tests.
    pub fn with_database(database_url: &str) -> Self {
        let mut c = Self::validate(RawConfig::default(), false).unwrap_or_else(|_| unreachable!());
        c.database_url = database_url.to_string();
        c
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
