//! `scaivault keys rotate|rewrap`: master key rotation directly on the configured store. Both
//! leave a row in the default tenant's audit log (identity `system:cli`). A rewrap that met
//! rows it could not open finishes the rest, lists those rows (ids and paths, never a value)
//! and exits non-zero.

use super::KeysCommand;
use crate::config::Config;
use crate::domain::master_keys::rotate;
use crate::domain::rewrap::{rewrap_all, RewrapProgress};
use crate::store::Store;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::io::IsTerminal;

/// Runs one keys command against the configured, existing database (migrating it first).
pub async fn run(config: &Config, cmd: KeysCommand) -> anyhow::Result<()> {
    let ring = crate::bootstrap::load_master_key(config)?;
    let store = super::store_access::open_existing(config).await?;
    crate::bootstrap::check_probe(&store, &ring).await?;
    let now = Utc::now();
    match cmd {
        KeysCommand::Rotate => {
            let k = rotate(&store, &ring, now).await?;
            audit(&store, "key_rotate", now, json!({ "key_version": k.version, "key_id": k.key_id, "previous_key_id": k.previous_key_id })).await?;
            println!(
                "master key version {} ({}) is now active; {} stays loaded for decryption.\n\
                 Running servers switch within one scheduler tick. Next: `scaivault keys rewrap`.",
                k.version, k.key_id, k.previous_key_id
            );
        }
        KeysCommand::Rewrap { batch_size } => {
            let bar = progress_bar();
            let report = rewrap_all(&store, &ring, batch_size, |p: &RewrapProgress| {
                if let Some(bar) = &bar {
                    bar.set_length(p.total.max(0) as u64);
                    bar.set_position((p.rewrapped + p.skipped).max(0) as u64);
                }
            })
            .await?;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            let p = &report.progress;
            audit(&store, "key_rewrap", Utc::now(), json!({ "key_id": report.active_key_id, "rewrapped": p.rewrapped, "resealed": p.resealed, "skipped": p.skipped, "unopenable": p.unopenable, "remaining": report.remaining })).await?;
            println!(
                "re-wrapped {} data keys under {} ({} values re-sealed to the current binding; {} changed meanwhile and were skipped); {} left under older keys or bindings",
                p.rewrapped, report.active_key_id, p.resealed, p.skipped, report.remaining
            );
            if p.unopenable > 0 {
                println!(
                    "{} stored rows could not be opened and were left as they are:",
                    p.unopenable
                );
                for u in &report.unopenable {
                    println!("  {}: {}", u.what, u.cause);
                }
                if p.unopenable > report.unopenable.len() as i64 {
                    println!(
                        "  … and {} more",
                        p.unopenable - report.unopenable.len() as i64
                    );
                }
                anyhow::bail!(
                    "{} stored rows could not be opened (listed above): restore them from a backup \
                     or destroy them, then run `scaivault keys rewrap` again",
                    p.unopenable
                );
            }
            if report.remaining > 0 {
                println!("run `scaivault keys rewrap` again to finish them");
            }
        }
    }
    Ok(())
}

fn progress_bar() -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "re-wrapping {bar:40} {pos}/{len} data keys ({per_sec}, {eta} left)",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}

async fn audit(
    store: &dyn Store,
    action: &str,
    now: DateTime<Utc>,
    extra: Value,
) -> anyhow::Result<()> {
    let row = crate::audit::system_row(
        crate::domain::token::DEFAULT_TENANT,
        "system:cli",
        now,
        action,
        None,
        None,
        extra,
    );
    store.insert_audit(&[row]).await?;
    Ok(())
}
