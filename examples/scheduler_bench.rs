//! Scheduler tick time at scale: N (default 100,000) secrets under a rotation policy, ticked
//! with none due and with 1,000 due.
//! `cargo run --release --example scheduler_bench -- [sqlite|postgres URL] [N]`
//! (`bench/run.sh` runs it on both stores).
//!
//! The secrets are written straight into the database in multi-row INSERTs (seconds, not the
//! minutes N API writes would take), but in the server's own format: each has a version 1
//! sealed with the crate's envelope encryption under the master key in `SCAIVAULT_MASTER_KEY`
//! (a random one if unset; `SCAIVAULT_ROOT_TOKEN` likewise for the root token), so a `scaivault serve` started afterwards on the same database with
//! the same key can read them (bench/run.sh measures its memory that way). The clock starts at
//! the current time, so for such a server nothing but the 1,000 made due here is due for 90 days.
//!
//! Prints one line: `RESULT store=… secrets=N seed_s=… tick_none_due_p50_ms=…
//! tick_none_due_max_ms=… tick_1000_due_ms=… opened=…`.

use chrono::{Duration, DurationRound, Utc};
use scaivault::clock::{to_micros, Clock, ManualClock};
use scaivault::config::Config;
use scaivault::crypto::binding::SecretSlot;
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Instant;

const TENANT: &str = "tnt_default";
/// Secrets per INSERT statement (two blobs bound per version row).
const CHUNK: usize = 500;
/// Ticks timed with nothing due.
const TICKS: usize = 20;
/// Secrets made due for the last tick.
const DUE: i64 = 1_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sqlite:///tmp/scaivault-scheduler-bench.db".into());
    let n: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let start = Utc::now()
        .duration_trunc(Duration::seconds(1))
        .unwrap_or_else(|_| Utc::now());
    let clock = ManualClock::new(start);
    let mut config = Config::with_database(&url);
    let key = match std::env::var("SCAIVAULT_MASTER_KEY") {
        Ok(k) if !k.is_empty() => k,
        _ => scaivault::crypto::MasterKey::generate().1.to_string(),
    };
    config.master_key = Some(SecretString::from(key));
    let token = std::env::var("SCAIVAULT_ROOT_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "skt_scheduler_bench_token_0123456789".to_string());
    config.root_token = Some(SecretString::from(token));
    config.data_dir = std::env::temp_dir();
    let app = scaivault::App::build(config, Arc::new(clock.clone())).await?;
    let st = app.state.clone();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await?;
    let now = to_micros(clock.now());
    let due_at = now + 90 * 86_400 * 1_000_000;
    sqlx::query("INSERT INTO rotation_policies (tenant_id, id, name, description, interval_text, interval_seconds, grace_text, grace_seconds, warn_before, auto_generate, webhook_ids, is_active, created_at, updated_at) VALUES ('tnt_default', 'rot_bench', 'bench', NULL, '90d', 7776000, '48h', 172800, '', 0, '[]', 1, $1, $1)")
        .bind(now)
        .execute(&pool)
        .await?;

    let started = Instant::now();
    let mut i = 0;
    while i < n {
        let end = (i + CHUNK).min(n);
        let mut s = String::from("INSERT INTO secrets (id, tenant_id, path, secret_type, description, owner, tags, custom, max_versions, current_version, created_at, created_by, updated_at, expires_at, notify_before, rotation_policy_id, deleted_at, recoverable_until) VALUES ");
        let mut v = String::from("INSERT INTO secret_versions (secret_id, version, ciphertext, wrapped_key, key_id, created_at, created_by, is_rotation, readable_until, aad_version) VALUES ");
        let mut r = String::from("INSERT INTO rotation_schedule (secret_id, tenant_id, policy_id, assigned_at, last_rotated_at, next_rotation_at, status, history_id, due_at, warnings_sent, next_event_at) VALUES ");
        let mut blobs = Vec::with_capacity(2 * (end - i));
        for k in i..end {
            if k > i {
                s.push(',');
                v.push(',');
                r.push(',');
            }
            let id = scaivault::domain::ids::new_id("sec_");
            let path = format!("bench/{k:06}");
            let value = format!(
                r#"{{"client_id":"3MVG9-bench-{k:06}","client_secret":"0123456789abcdef0123456789abcdef"}}"#
            );
            let sealed = scaivault::crypto::seal(
                &st.keys,
                &SecretSlot {
                    tenant: TENANT,
                    secret_id: &id,
                    path: &path,
                    version: 1,
                }
                .current(),
                value.as_bytes(),
            );
            let key_id = sealed.key_id;
            s.push_str(&format!("('{id}', '{TENANT}', '{path}', 'json', NULL, NULL, '[]', '{{}}', 10, 1, {now}, 'bench', {now}, NULL, NULL, 'rot_bench', NULL, NULL)"));
            let b = blobs.len();
            v.push_str(&format!(
                "('{id}', 1, ${}, ${}, '{key_id}', {now}, 'bench', 0, NULL, 2)",
                b + 1,
                b + 2
            ));
            blobs.push(sealed.ciphertext);
            blobs.push(sealed.wrapped_key);
            r.push_str(&format!("('{id}', '{TENANT}', 'rot_bench', {now}, {now}, {due_at}, 'scheduled', NULL, NULL, '[]', {due_at})"));
        }
        let mut tx = pool.begin().await?;
        sqlx::query(&s).execute(&mut *tx).await?;
        let mut qv = sqlx::query(&v);
        for blob in blobs {
            qv = qv.bind(blob);
        }
        qv.execute(&mut *tx).await?;
        sqlx::query(&r).execute(&mut *tx).await?;
        tx.commit().await?;
        i = end;
    }
    let seed_s = started.elapsed().as_secs_f64();
    let _ = sqlx::query("ANALYZE").execute(&pool).await;

    let mut none_due = Vec::with_capacity(TICKS);
    for _ in 0..TICKS {
        let t = Instant::now();
        let r = scaivault::scheduler::tick(&st).await?;
        none_due.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(r.handled, 0);
    }
    none_due.sort_by(f64::total_cmp);
    // Make DUE of them due now.
    sqlx::query("UPDATE rotation_schedule SET next_event_at = $1, next_rotation_at = $1 WHERE secret_id IN (SELECT secret_id FROM rotation_schedule ORDER BY secret_id LIMIT $2)")
        .bind(now)
        .bind(DUE)
        .execute(&pool)
        .await?;
    clock.advance(Duration::seconds(1));
    let t = Instant::now();
    let r = scaivault::scheduler::tick(&st).await?;
    let due_ms = t.elapsed().as_secs_f64() * 1000.0;
    println!(
        "RESULT store={} secrets={n} seed_s={seed_s:.1} tick_none_due_p50_ms={:.2} tick_none_due_max_ms={:.2} tick_{DUE}_due_ms={:.1} opened={}",
        st.store.backend().as_str(),
        none_due[none_due.len() / 2],
        none_due[none_due.len() - 1],
        due_ms,
        r.opened
    );
    Ok(())
}
