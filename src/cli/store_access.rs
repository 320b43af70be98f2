//! How the store-level admin commands (`token`, `keys`) open the store: they say which store they
//! use (on stderr, without credentials) and never create one. A missing SQLite file or a database
//! without scaivault's schema is an error naming it, so a command run from the wrong folder does
//! not silently work on a new, empty database.

use crate::config::Config;
use crate::store::{Backend, SqlStore, Store};
use sqlx::Connection;

/// Why the configured store cannot be used by an admin command.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NoStore(String);

/// The database URL as shown to people: the password replaced by `[redacted]`.
pub fn store_label(url: &str) -> String {
    crate::config::redact_url(url)
}

/// The file a `sqlite:` URL names.
fn sqlite_file(url: &str) -> &str {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    rest.split('?').next().unwrap_or(rest)
}

/// Opens the configured store for an admin command: announces it on stderr, refuses a store that
/// does not exist yet or holds no scaivault schema, then applies pending migrations.
pub async fn open_existing(config: &Config) -> anyhow::Result<SqlStore> {
    let url = &config.database_url;
    let label = store_label(url);
    eprintln!("scaivault: using store {label}");
    let hint = "start `scaivault serve` (or run `scaivault migrate`) with this configuration \
                first, or point SCAIVAULT_DATABASE_URL (or --config) at the existing store";
    if Backend::from_url(url) == Some(Backend::Sqlite) {
        let file = std::path::Path::new(sqlite_file(url));
        match std::fs::metadata(file) {
            Ok(m) if m.len() > 0 => {}
            Ok(_) => {
                return Err(NoStore(format!(
                    "{} is empty: not a scaivault store; {hint}",
                    file.display()
                ))
                .into())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(NoStore(format!(
                    "no store at {} (relative to {}); {hint}",
                    file.display(),
                    std::env::current_dir()
                        .map(|d| d.display().to_string())
                        .unwrap_or_else(|_| "the current folder".into())
                ))
                .into())
            }
            Err(e) => return Err(NoStore(format!("cannot read {}: {e}", file.display())).into()),
        }
    }
    check_schema(url, &label, hint).await?;
    let store = SqlStore::connect(url, 2).await?;
    store.migrate().await?;
    Ok(store)
}

/// Refuses a database on which scaivault never ran its migrations.
async fn check_schema(url: &str, label: &str, hint: &str) -> Result<(), NoStore> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .map_err(|e| NoStore(format!("cannot open the store {label}: {e}")))?;
    let applied = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await;
    let _ = conn.close().await;
    match applied {
        Ok(n) if n > 0 => Ok(()),
        _ => Err(NoStore(format!(
            "{label} holds no scaivault schema; {hint}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::sqlite_file;

    #[test]
    fn sqlite_file_of_a_url() {
        assert_eq!(sqlite_file("sqlite://./data/x.db?mode=rwc"), "./data/x.db");
        assert_eq!(sqlite_file("sqlite:///data/x.db"), "/data/x.db");
        assert_eq!(sqlite_file("sqlite:x.db"), "x.db");
    }
}
