//! After a fault: proves nothing acknowledged was lost. Every 2xx write reads back with its
//! value, every 2xx read has its audit row, every stored event reached the receiver (each
//! delivery always with the same `event_id`), no rotation stays `pending` past the auto-write
//! lease, the audit chain verifies, and an SQLite file passes `PRAGMA integrity_check`.

use super::load::Ledger;
use super::target::Target;
use crate::common::receiver::Receiver;
use crate::common::StoreKind;
use reqwest::Method as M;
use scaivault::domain::rotation::AUTO_WRITE_LEASE_SECS;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// What the checks found; `lost()` must be 0.
#[derive(Debug, Default)]
pub struct Verdict {
    pub lost_writes: usize,
    pub lost_reads: usize,
    pub lost_events: usize,
    pub writes_without_event: usize,
    /// Deliveries that arrived with more than one `event_id` (must be 0).
    pub changed_event_ids: usize,
    /// Receipts beyond the first per event (at-least-once: allowed, reported).
    pub duplicates: usize,
    pub stuck_pending: usize,
    pub verify_ok: bool,
    /// Audit rows the sealer had not chained 30 s after the load (a sealer that did not resume).
    pub unsealed: i64,
    pub integrity: String,
}

impl Verdict {
    pub fn lost(&self) -> usize {
        self.lost_writes
            + self.lost_reads
            + self.lost_events
            + self.writes_without_event
            + self.changed_event_ids
            + self.stuck_pending
            + usize::from(!self.verify_ok)
            + self.unsealed as usize
            + usize::from(self.integrity != "ok" && self.integrity != "-")
    }
}

async fn any_pool(db_url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(db_url)
        .await
        .expect("connect to the store for the checks")
}

/// Runs every check; the server at `t` must be up.
pub async fn check(
    t: &Target,
    db_url: &str,
    kind: StoreKind,
    ledger: &Ledger,
    rx: &Receiver,
) -> Verdict {
    let pool = any_pool(db_url).await;
    let mut v = Verdict {
        stuck_pending: stuck_rotations(&pool).await,
        lost_writes: lost_writes(t, ledger).await,
        ..Verdict::default()
    };

    let like = format!("chaos-{}-%", t.tag);
    let audited: HashSet<String> = sqlx::query_scalar::<_, String>(
        "SELECT request_id FROM audit_log WHERE action = 'read' AND request_id LIKE $1",
    )
    .bind(&like)
    .fetch_all(&pool)
    .await
    .expect("audit rows")
    .into_iter()
    .collect();
    v.lost_reads = ledger
        .reads
        .lock()
        .unwrap()
        .iter()
        .filter(|r| !audited.contains(*r))
        .count();

    let created: HashSet<String> = sqlx::query_scalar::<_, String>(
        "SELECT path FROM events WHERE event_type = 'secret.created'",
    )
    .fetch_all(&pool)
    .await
    .expect("events")
    .into_iter()
    .collect();
    v.writes_without_event = ledger
        .writes
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| !created.contains(p))
        .count();
    let (lost, changed, dups) = deliveries(&pool, rx).await;
    (v.lost_events, v.changed_event_ids, v.duplicates) = (lost, changed, dups);

    (v.verify_ok, v.unsealed) = verify(t, &pool).await;
    v.integrity = match kind {
        StoreKind::Sqlite => sqlx::query_scalar::<_, String>("PRAGMA integrity_check")
            .fetch_one(&pool)
            .await
            .unwrap_or_else(|e| format!("error: {e}")),
        StoreKind::Postgres => "-".to_string(),
    };
    pool.close().await;
    v
}

/// Every acknowledged write, read back through the API (16 at a time).
async fn lost_writes(t: &Target, ledger: &Ledger) -> usize {
    use futures_util::StreamExt;
    let writes = ledger.writes.lock().unwrap().clone();
    futures_util::stream::iter(writes)
        .map(|(path, n)| async move {
            let b = t
                .call_until(M::GET, &format!("/v1/secrets/{path}"), None, 200)
                .await;
            usize::from(b["data"]["n"] != n)
        })
        .buffer_unordered(16)
        .fold(0, |acc, x| async move { acc + x })
        .await
}

/// Rotations pending now that are still pending after the auto-write lease (and a few ticks)
/// passed: a takeover would have finished them by then.
async fn stuck_rotations(pool: &sqlx::AnyPool) -> usize {
    let q = "SELECT id FROM rotation_history WHERE status = 'pending'";
    let pending: HashSet<String> = sqlx::query_scalar::<_, String>(q)
        .fetch_all(pool)
        .await
        .expect("history")
        .into_iter()
        .collect();
    let deadline = Instant::now() + Duration::from_secs(AUTO_WRITE_LEASE_SECS as u64 + 15);
    loop {
        let still: HashSet<String> = sqlx::query_scalar::<_, String>(q)
            .fetch_all(pool)
            .await
            .expect("history")
            .into_iter()
            .collect();
        let stuck = pending.intersection(&still).count();
        if stuck == 0 || Instant::now() > deadline {
            return stuck;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits (bounded) until every event stored now has reached the receiver (its webhook takes
/// every event type); returns (events never received, deliveries seen with two event ids,
/// duplicate receipts).
async fn deliveries(pool: &sqlx::AnyPool, rx: &Receiver) -> (usize, usize, usize) {
    let stored: HashSet<String> = sqlx::query_scalar::<_, String>("SELECT id FROM events")
        .fetch_all(pool)
        .await
        .expect("deliveries")
        .into_iter()
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = rx.received();
        let seen: HashSet<&str> = got.iter().map(|r| r.event_id.as_str()).collect();
        let missing = stored.iter().filter(|e| !seen.contains(e.as_str())).count();
        if missing == 0 || Instant::now() > deadline {
            let mut by_delivery: HashMap<&str, HashSet<&str>> = HashMap::new();
            let mut per_event: HashMap<&str, usize> = HashMap::new();
            for r in &got {
                let body_id = r.body["event_id"].as_str().unwrap_or("");
                let ids = by_delivery.entry(r.delivery_id.as_str()).or_default();
                ids.insert(r.event_id.as_str());
                ids.insert(body_id);
                *per_event.entry(r.event_id.as_str()).or_default() += 1;
            }
            let changed = by_delivery.values().filter(|s| s.len() > 1).count();
            let dups = per_event.values().map(|n| n - 1).sum();
            return (missing, changed, dups);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the sealer has chained every row written before now (rotations go on writing
/// new ones), then one full verify run; (chain ok, those rows still unsealed after 30 s).
async fn verify(t: &Target, pool: &sqlx::AnyPool) -> (bool, i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let before = scaivault::clock::to_micros(chrono::Utc::now());
    let unsealed = loop {
        let unsealed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE seq IS NULL AND ts < $1")
                .bind(before)
                .fetch_one(pool)
                .await
                .expect("unsealed rows");
        if unsealed == 0 || Instant::now() > deadline {
            break unsealed;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let b = t
        .call_until(M::GET, "/v1/audit/verify?full=true", None, 200)
        .await;
    if b["ok"] != true {
        eprintln!("chaos: audit verify failed: {b}");
    }
    (b["ok"] == true, unsealed)
}
