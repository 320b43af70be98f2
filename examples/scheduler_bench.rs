//! Scheduler tick time at scale: 100,000 secrets under a rotation policy, ticked with none due
//! and with 1,000 due. `cargo run --release --example scheduler_bench -- [sqlite|postgres URL] [N]`
//! (bench/scheduler.sh runs both stores).

use chrono::{Duration, TimeZone, Utc};
use scaivault::clock::{to_micros, ManualClock};
use scaivault::config::Config;
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Instant;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sqlite:///tmp/scaivault-scheduler-bench.db".into());
    let n: i64 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default(),
    );
    let mut config = Config::with_database(&url);
    let (_, key) = scaivault::crypto::MasterKey::generate();
    config.master_key = Some(SecretString::from(key.to_string()));
    config.root_token = Some(SecretString::from(
        "skt_scheduler_bench_token_0123456789".to_string(),
    ));
    config.data_dir = std::env::temp_dir();
    let app = scaivault::App::build(config, Arc::new(clock.clone())).await?;
    let st = app.state.clone();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await?;
    let now = to_micros(clock_now(&clock));
    let due_at = now + 90 * 86_400 * 1_000_000;
    sqlx::query("INSERT INTO rotation_policies (tenant_id, id, name, description, interval_text, interval_seconds, grace_text, grace_seconds, warn_before, auto_generate, webhook_ids, is_active, created_at, updated_at) VALUES ('tnt_default', 'rot_bench', 'bench', NULL, '90d', 7776000, '48h', 172800, '', 0, '[]', 1, $1, $1)")
        .bind(now)
        .execute(&pool)
        .await?;
    let started = Instant::now();
    let chunk = 500;
    let mut i = 0;
    while i < n {
        let end = (i + chunk).min(n);
        let mut s = String::from("INSERT INTO secrets (id, tenant_id, path, secret_type, description, owner, tags, custom, max_versions, current_version, created_at, created_by, updated_at, expires_at, notify_before, rotation_policy_id, deleted_at, recoverable_until) VALUES ");
        let mut r = String::from("INSERT INTO rotation_schedule (secret_id, tenant_id, policy_id, assigned_at, last_rotated_at, next_rotation_at, status, history_id, due_at, warnings_sent, next_event_at) VALUES ");
        for k in i..end {
            if k > i {
                s.push(',');
                r.push(',');
            }
            s.push_str(&format!("('sec_b{k}', 'tnt_default', 'bench/{k:06}', 'json', NULL, NULL, '[]', '{{}}', 10, 1, {now}, 'bench', {now}, NULL, NULL, 'rot_bench', NULL, NULL)"));
            r.push_str(&format!("('sec_b{k}', 'tnt_default', 'rot_bench', {now}, {now}, {due_at}, 'scheduled', NULL, NULL, '[]', {due_at})"));
        }
        sqlx::query(&s).execute(&pool).await?;
        sqlx::query(&r).execute(&pool).await?;
        i = end;
    }
    println!(
        "seeded {n} attached secrets in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let _ = sqlx::query("ANALYZE").execute(&pool).await;

    let mut none_due = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let r = scaivault::scheduler::tick(&st).await?;
        none_due.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(r.handled, 0);
    }
    none_due.sort_by(f64::total_cmp);
    // Make 1,000 due now.
    sqlx::query("UPDATE rotation_schedule SET next_event_at = $1, next_rotation_at = $1 WHERE secret_id IN (SELECT secret_id FROM rotation_schedule ORDER BY secret_id LIMIT 1000)")
        .bind(now)
        .execute(&pool)
        .await?;
    clock.advance(Duration::seconds(1));
    let t = Instant::now();
    let r = scaivault::scheduler::tick(&st).await?;
    let due_ms = t.elapsed().as_secs_f64() * 1000.0;
    println!(
        "RESULT store={} secrets={n} tick_none_due_p50_ms={:.2} tick_none_due_max_ms={:.2} tick_1000_due_ms={:.1} opened={}",
        st.store.backend().as_str(),
        none_due[none_due.len() / 2],
        none_due[none_due.len() - 1],
        due_ms,
        r.opened
    );
    Ok(())
}

fn clock_now(c: &ManualClock) -> chrono::DateTime<Utc> {
    use scaivault::clock::Clock;
    c.now()
}
