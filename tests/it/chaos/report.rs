//! One line per fault run, in a fixed shape `scripts/chaos.sh` collects into the README table:
//! requests sent, 2xx, 503/507, other statuses, connection errors, recovery time and lost items.

use super::check::Verdict;
use super::load::Ledger;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Prints the fault's line (stdout; `--nocapture` shows it) and returns it.
pub fn line(
    fault: &str,
    store: &str,
    cycles: usize,
    l: &Ledger,
    recovery: Duration,
    v: &Verdict,
) -> String {
    let other_detail: Vec<String> = l
        .other
        .lock()
        .unwrap()
        .iter()
        .map(|(s, (n, body))| format!("{s}x{n}:{body}"))
        .collect();
    let text = format!(
        "chaos: fault={fault} store={store} cycles={cycles} sent={} 2xx={} 503/507={} (507={}) other={} conn_errors={} \
         recovery_max_ms={} slowest_failure_ms={} (write {}, read {}) no_retry_after={} lost={} \
         [writes={}/{} reads={}/{} events={} writes_without_event={} changed_event_ids={} \
         duplicate_receipts={} stuck_pending={} unsealed={} verify={} integrity={}]{}",
        l.sent.load(Ordering::Relaxed),
        l.ok.load(Ordering::Relaxed),
        l.unavailable.load(Ordering::Relaxed),
        l.insufficient_storage.load(Ordering::Relaxed),
        l.other_count(),
        l.conn_errors.load(Ordering::Relaxed),
        recovery.as_millis(),
        l.slowest_failure.lock().unwrap().as_millis(),
        l.slowest_failed_write.lock().unwrap().as_millis(),
        l.slowest_failed_read.lock().unwrap().as_millis(),
        l.no_retry_after.load(Ordering::Relaxed),
        v.lost(),
        v.lost_writes,
        l.writes.lock().unwrap().len(),
        v.lost_reads,
        l.reads.lock().unwrap().len(),
        v.lost_events,
        v.writes_without_event,
        v.changed_event_ids,
        v.duplicates,
        v.stuck_pending,
        v.unsealed,
        if v.verify_ok { "ok" } else { "FAILED" },
        v.integrity,
        if other_detail.is_empty() {
            String::new()
        } else {
            format!(" other_statuses={other_detail:?}")
        }
    );
    println!("{text}");
    text
}

/// The assertions every fault shares: nothing lost, no 500 or other surprise, every 503 says
/// when to retry.
pub fn assert_clean(text: &str, l: &Ledger, v: &Verdict) {
    assert_eq!(v.lost(), 0, "lost acknowledged work: {text}");
    assert_eq!(
        l.other_count(),
        0,
        "statuses other than 2xx/503/507: {text}"
    );
    assert_eq!(
        l.no_retry_after.load(Ordering::Relaxed),
        0,
        "a 503/507 without Retry-After: {text}"
    );
}

/// The full-size run (`scripts/chaos.sh`) or the short one the default suite runs.
pub fn full() -> bool {
    std::env::var("SCAIVAULT_CHAOS").is_ok_and(|v| v == "full")
}

/// A time bound: the figure in the full run; in the default suite, which runs beside
/// hundreds of other tests on a 2-core machine, a loose one (10 s) that still catches a hang.
pub fn bound(full_run: std::time::Duration) -> std::time::Duration {
    if full() {
        full_run
    } else {
        full_run.max(std::time::Duration::from_secs(10))
    }
}
