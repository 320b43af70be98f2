//! Fault 2: scaivault killed with `kill -9` under the mixed load and started again, several
//! times, on both stores. After the last restart nothing acknowledged is lost, every event is
//! delivered (at least once, always with the same `event_id`), no rotation is left `pending`,
//! and the SQLite file passes `PRAGMA integrity_check`.

use super::check::check;
use super::load::{Load, LoadSpec};
use super::report::{assert_clean, full, line};
use super::target::{server_env, Target, HOOK_SECRET};
use crate::binary::{database, free_port, master_key, root_token, Server};
use crate::common::receiver::Receiver;
use crate::common::StoreKind;
use std::time::{Duration, Instant};

async fn kill_9_under_load(kind: StoreKind) {
    let cycles = if full() { 10 } else { 2 };
    let dir = tempfile::tempdir().expect("temp dir");
    let db = database(kind, dir.path()).await;
    let (key, root, port) = (master_key(), root_token(), free_port());
    let env = server_env(&db, &key, &root);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut srv = Server::start(dir.path(), &[], port, &env, &root).await;
    let rx = Receiver::start(HOOK_SECRET).await;
    let t = Target::new(&srv.base, &root, "kill9");
    t.prepare(&rx).await;
    let load = Load::start(&srv.base, &root, &LoadSpec::mixed("kill9"));
    let mut worst = Duration::ZERO;
    for cycle in 0..cycles {
        load.ledger.more_ok("load before the kill", 30).await;
        let killed_at = Instant::now();
        srv.kill9().await;
        srv = Server::start(dir.path(), &[], port, &env, &root).await;
        let took = load
            .ledger
            .recovery_after(killed_at, Duration::from_secs(30), || {
                format!("no recovery after kill {cycle}")
            })
            .await;
        worst = worst.max(took);
    }
    load.ledger.more_ok("load after the last restart", 30).await;
    let ledger = load.stop().await;
    let v = check(&t, &db, kind, &ledger, &rx).await;
    let store = match kind {
        StoreKind::Postgres => "postgres",
        StoreKind::Sqlite => "sqlite",
    };
    let text = line("kill-9", store, cycles, &ledger, worst, &v);
    assert_clean(&text, &ledger, &v);
    let (ok, out) = srv.stop().await;
    assert!(ok, "scaivault did not stop cleanly:\n{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_postgres() {
    kill_9_under_load(StoreKind::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_sqlite() {
    kill_9_under_load(StoreKind::Sqlite).await
}
