//! `scaivault config check`: loads the configuration exactly as `serve` does, runs every start-up
//! check that needs no database (settings, master key, TLS files), and prints the effective
//! settings with their source, secrets shown as `[redacted]`.

use crate::config::Config;
use std::path::Path;

/// The exit code for an invalid configuration.
pub const EXIT_INVALID: i32 = 2;

/// Prints the settings (exit 0) or the error `serve` would stop with (exit 2).
pub fn run(file: Option<&Path>) -> i32 {
    match check(file) {
        Ok(lines) => {
            // A reader that stops early (`config check | head`) is not an error.
            let _ = std::iter::once("configuration is valid; effective settings:".to_string())
                .chain(lines)
                .try_for_each(super::output::line);
            0
        }
        Err(e) => {
            eprintln!("scaivault: {e}");
            EXIT_INVALID
        }
    }
}

/// The effective settings, one `key = value  # source` line each, or the first error.
pub fn check(file: Option<&Path>) -> Result<Vec<String>, String> {
    let config = Config::load(file, false).map_err(|e| e.to_string())?;
    crate::bootstrap::load_master_key(&config).map_err(|e| e.to_string())?;
    if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
        crate::tls::check(cert, key).map_err(|e| e.to_string())?;
    }
    let sources = Config::sources(file);
    Ok(settings(&config)
        .into_iter()
        .map(|(key, value)| {
            let source = sources
                .iter()
                .find(|(k, _)| *k == key)
                .map_or("default", |(_, s)| s.as_str());
            format!("{key} = {value}  # {source}")
        })
        .collect())
}

fn quoted(s: impl std::fmt::Display) -> String {
    format!("{:?}", s.to_string())
}

fn optional(v: Option<String>) -> String {
    v.unwrap_or_else(|| "(unset)".into())
}

fn secret(set: bool) -> String {
    if set { "[redacted]" } else { "(unset)" }.into()
}

/// Every setting as it will be used; secrets never appear.
fn settings(c: &Config) -> Vec<(&'static str, String)> {
    let path = |p: &Option<std::path::PathBuf>| optional(p.as_ref().map(|p| quoted(p.display())));
    vec![
        ("listen", quoted(c.listen)),
        (
            "header_read_timeout",
            quoted(c.header_read_timeout.as_str()),
        ),
        ("database_url", quoted(redact_database_url(&c.database_url))),
        (
            "database_max_connections",
            c.database_max_connections.to_string(),
        ),
        ("data_dir", quoted(c.data_dir.display())),
        ("master_key", secret(c.master_key.is_some())),
        ("master_key_file", path(&c.master_key_file)),
        ("root_token", secret(c.root_token.is_some())),
        ("scheduler_tick", quoted(c.scheduler_tick.as_str())),
        (
            "webhook_retry_schedule",
            quoted(
                c.webhook_retry_schedule
                    .iter()
                    .map(|d| d.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ),
        ("webhook_timeout", quoted(c.webhook_timeout.as_str())),
        ("webhook_allow_http", c.webhook_allow_http.to_string()),
        (
            "webhook_deny_cidrs",
            quoted(
                c.webhook_deny_cidrs
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ),
        (
            "webhook_allow_cidrs",
            quoted(
                c.webhook_allow_cidrs
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ),
        ("tls_cert", path(&c.tls_cert)),
        ("tls_key", path(&c.tls_key)),
        (
            "log_format",
            optional(c.log_format.map(|f| {
                quoted(match f {
                    crate::config::LogFormat::Json => "json",
                    crate::config::LogFormat::Pretty => "pretty",
                })
            })),
        ),
        ("webhook_concurrency", c.webhook_concurrency.to_string()),
        ("read_cache_entries", c.read_cache_entries.to_string()),
        (
            "audit_retention",
            optional(c.audit_retention.as_ref().map(|d| quoted(d.as_str()))),
        ),
        ("audit_reads", c.audit_reads.to_string()),
        ("audit_durability", quoted(c.audit_durability.as_str())),
        (
            "audit_mirror",
            optional(c.audit_mirror.as_ref().map(|m| quoted(m.as_setting()))),
        ),
        ("metrics_listen", optional(c.metrics_listen.map(quoted))),
        ("rate_limit_reads", c.rate_limits.reads.to_string()),
        ("rate_limit_writes", c.rate_limits.writes.to_string()),
        ("rate_limit_admin", c.rate_limits.admin.to_string()),
        (
            "rate_limit_unauthenticated",
            c.rate_limits.unauthenticated.to_string(),
        ),
    ]
}

/// The URL's password (user-info or a `password=` parameter) replaced by `[redacted]`.
fn redact_database_url(url: &str) -> String {
    let url = crate::config::redact_url(url);
    let Some((base, query)) = url.split_once('?') else {
        return url;
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=[redacted]"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::redact_database_url;

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_database_url("postgres://u:pw@db/x?sslmode=require&password=pw2"),
            "postgres://u:[redacted]@db/x?sslmode=require&password=[redacted]"
        );
        assert_eq!(
            redact_database_url("sqlite:///data/x.db"),
            "sqlite:///data/x.db"
        );
    }
}
