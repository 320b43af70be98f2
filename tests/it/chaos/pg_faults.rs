//! Fault 1: PostgreSQL restarted (`pg_ctl stop -m fast` then start) and killed (`-m
//! immediate`: crash recovery at the next start) under the mixed load, on a throwaway cluster.
//! While it is down every request answers 503 with `Retry-After` (never a 500, never a hang),
//! `/v1/health/ready` says not ready and the process stays up; once PostgreSQL accepts
//! connections again, writes and reads succeed within 2 s without a restart of scaivault, and
//! nothing acknowledged is lost.

use super::check::check;
use super::load::{wait_until, Load, LoadSpec};
use super::pg_cluster::Cluster;
use super::report::{assert_clean, bound, full, line};
use super::target::{server_env, Target, HOOK_SECRET};
use crate::binary::{free_port, master_key, root_token, Server};
use crate::common::receiver::Receiver;
use crate::common::StoreKind;
use std::time::{Duration, Instant};

/// Longest a recovery may take, from PostgreSQL accepting connections to a write and a read
/// both succeeding.
const RECOVERY_LIMIT: Duration = Duration::from_secs(2);

/// Longest a request may wait for its 503 while PostgreSQL is down: the pool's 2 s acquire
/// timeout plus a margin for a loaded machine (before: 5 s, and 10 s for requests that then
/// tried to write a failure audit row to the same unreachable store).
const FAILURE_LIMIT: Duration = Duration::from_secs(3);

async fn outage(mode: &str, fault: &str) {
    let (cycles, down_for) = if full() {
        (5, Duration::from_secs(5))
    } else {
        (1, Duration::from_millis(500))
    };
    let cluster = Cluster::start().await;
    let db = cluster.create_db("chaos").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (key, root, port) = (master_key(), root_token(), free_port());
    let env = server_env(&db, &key, &root);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut srv = Server::start(dir.path(), &[], port, &env, &root).await;
    let rx = Receiver::start(HOOK_SECRET).await;
    let t = Target::new(&srv.base, &root, fault);
    t.prepare(&rx).await;
    let load = Load::start(&srv.base, &root, &LoadSpec::mixed(fault));
    let ready = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let mut worst = Duration::ZERO;
    let mut listen_worst = Duration::ZERO;
    for cycle in 0..cycles {
        // Some acknowledged work before each outage.
        load.ledger.more_ok("load before the outage", 20).await;
        cluster.stop(mode).await;
        let down_at = Instant::now();
        // Not ready, answered promptly (the check's budget is 1 s).
        loop {
            let started = Instant::now();
            let r = ready
                .get(format!("{}/v1/health/ready", srv.base))
                .send()
                .await
                .expect("ready answers while the store is down");
            assert!(started.elapsed() < Duration::from_secs(3), "ready hung");
            if r.status().as_u16() == 503 {
                break;
            }
            assert!(
                down_at.elapsed() < Duration::from_secs(10),
                "ready stayed ready"
            );
        }
        let u0 = load
            .ledger
            .unavailable
            .load(std::sync::atomic::Ordering::Relaxed);
        wait_until("503s while down", || {
            load.ledger
                .unavailable
                .load(std::sync::atomic::Ordering::Relaxed)
                >= u0 + 8
                && down_at.elapsed() >= down_for
        })
        .await;
        assert!(
            srv.alive(),
            "scaivault exited while PostgreSQL was down:\n{}",
            srv.output()
        );
        cluster.start_again().await;
        let up_at = Instant::now();
        let took = load
            .ledger
            .recovery_after(up_at, Duration::from_secs(30), || {
                format!("no recovery within 30 s (cycle {cycle})")
            })
            .await;
        worst = worst.max(took);
        // The read cache is on again only once the LISTEN connection is back: its hit
        // counter moves again under the read load.
        let hits0 = cache_hits(&ready, &srv.base, &root).await;
        let listen_deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if cache_hits(&ready, &srv.base, &root).await > hits0 {
                break;
            }
            assert!(
                Instant::now() < listen_deadline,
                "the read cache stayed off: LISTEN never came back (cycle {cycle})"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        listen_worst = listen_worst.max(up_at.elapsed());
    }
    // Work after the last recovery, so resumed deliveries and rotations are checked too.
    load.ledger.more_ok("load after recovery", 50).await;
    let ledger = load.stop().await;
    let r = ready
        .get(format!("{}/v1/health/ready", srv.base))
        .send()
        .await
        .expect("ready");
    assert_eq!(r.status().as_u16(), 200, "ready again after recovery");
    let v = check(&t, &db, StoreKind::Postgres, &ledger, &rx).await;
    let text = line(fault, "postgres", cycles, &ledger, worst, &v);
    println!(
        "chaos: {fault}: read cache back on (LISTEN reconnected) within {} ms of PostgreSQL accepting connections",
        listen_worst.as_millis()
    );
    assert_clean(&text, &ledger, &v);
    assert!(
        ledger
            .unavailable
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0,
        "the outage was not seen: {text}"
    );
    let (recovery_limit, failure_limit) = (bound(RECOVERY_LIMIT), bound(FAILURE_LIMIT));
    assert!(
        worst <= recovery_limit,
        "recovery slower than {recovery_limit:?}: {text}"
    );
    let slowest = *ledger.slowest_failure.lock().unwrap();
    assert!(slowest <= failure_limit, "a 503 took {slowest:?}: {text}");
    assert!(
        listen_worst <= recovery_limit,
        "LISTEN came back only after {listen_worst:?}: {text}"
    );
    let (ok, out) = srv.stop().await;
    assert!(ok, "scaivault did not stop cleanly:\n{out}");
}

/// The server's `scaivault_read_cache_hits_total` counter (0 if the scrape fails).
async fn cache_hits(client: &reqwest::Client, base: &str, token: &str) -> f64 {
    let Ok(r) = client
        .get(format!("{base}/v1/metrics"))
        .bearer_auth(token)
        .send()
        .await
    else {
        return 0.0;
    };
    let text = r.text().await.unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("scaivault_read_cache_hits"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load() {
    outage("fast", "pg-restart").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_under_load() {
    outage("immediate", "pg-kill").await
}
