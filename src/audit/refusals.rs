//! Refusals are audited and cheap (SPEC §2): the first 401/403 (or hidden 404) of a kind is
//! written at once; identical ones (same source address, identity, action and code) in the
//! next 60 s are only counted, and one row with `extra_data.repeated: N` is written when the
//! window closes (at the next identical refusal after it, or by the sweep that runs every
//! second). A client hammering with a bad token costs one row a minute, not one a request.
//!
//! The windows live in this replica's memory: N replicas write up to N rows a minute per kind.
//! Counts still open at shutdown are written by the final [`RefusalLog::drain`].

use crate::store::AuditRow;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;

/// How long identical refusals are collapsed into one row.
pub const WINDOW_MICROS: i64 = 60 * 1_000_000;
/// Past this many open windows a refusal is written without collapsing (bounded memory).
const MAX_WINDOWS: usize = 100_000;

/// What makes two refusals identical.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    tenant_id: String,
    source_ip: Option<String>,
    identity_id: String,
    action: String,
    code: String,
}

struct Window {
    opened_at: i64,
    repeated: u64,
    /// The first row of the window: the summary row repeats its facts.
    first: AuditRow,
}

/// The open collapse windows of one replica.
#[derive(Default)]
pub struct RefusalLog {
    windows: Mutex<HashMap<Key, Window>>,
}

impl RefusalLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// The rows to write now for the refusal `row` (whose `extra_data` carries its `error`
    /// or `reason` code): the row itself when it opens a window, nothing when it is counted
    /// in an open one, and the closed window's summary first when that one has expired.
    pub fn admit(&self, row: AuditRow) -> Vec<AuditRow> {
        let key = key_of(&row);
        let now = row.ts;
        let Ok(mut windows) = self.windows.lock() else {
            return vec![row];
        };
        if let Some(w) = windows.get_mut(&key) {
            if now < w.opened_at + WINDOW_MICROS {
                w.repeated += 1;
                return Vec::new();
            }
        }
        let mut out = Vec::new();
        if let Some(old) = windows.remove(&key) {
            out.extend(summary(old, now));
        }
        if windows.len() < MAX_WINDOWS {
            windows.insert(
                key,
                Window {
                    opened_at: now,
                    repeated: 0,
                    first: row.clone(),
                },
            );
        }
        out.push(row);
        out
    }

    /// Closes the windows that have expired at `now_us` and returns their summary rows.
    pub fn sweep(&self, now_us: i64) -> Vec<AuditRow> {
        self.take(|w| now_us >= w.opened_at + WINDOW_MICROS, now_us)
    }

    /// Closes every window (at shutdown) and returns their summary rows.
    pub fn drain(&self, now_us: i64) -> Vec<AuditRow> {
        self.take(|_| true, now_us)
    }

    fn take(&self, closed: impl Fn(&Window) -> bool, now_us: i64) -> Vec<AuditRow> {
        let Ok(mut windows) = self.windows.lock() else {
            return Vec::new();
        };
        let keys: Vec<Key> = windows
            .iter()
            .filter(|(_, w)| closed(w))
            .map(|(k, _)| k.clone())
            .collect();
        keys.into_iter()
            .filter_map(|k| windows.remove(&k))
            .filter_map(|w| summary(w, now_us))
            .collect()
    }
}

/// The row that reports a closed window's repeats (none when nothing repeated).
fn summary(w: Window, now_us: i64) -> Option<AuditRow> {
    if w.repeated == 0 {
        return None;
    }
    let mut row = w.first;
    row.id = crate::domain::ids::new_time_ordered_id("log_", now_us);
    row.ts = now_us;
    row.request_id = None;
    row.duration_ms = 0;
    let mut extra: Value = serde_json::from_str(&row.extra_data).unwrap_or_else(|_| json!({}));
    if let Some(obj) = extra.as_object_mut() {
        obj.insert("repeated".into(), json!(w.repeated));
        obj.insert(
            "window_started_at".into(),
            json!(crate::clock::rfc3339_micros(crate::clock::from_micros(
                w.opened_at
            ))),
        );
    }
    row.extra_data = extra.to_string();
    Some(row)
}

/// Writes a refusal's audit row through the collapse windows (nothing when it only counts in
/// an open one); fails like any audit write, so the caller fails closed.
pub async fn record(
    st: &crate::server::AppState,
    row: AuditRow,
) -> Result<(), crate::audit::writer::AuditError> {
    st.audit.record(st.refusals.admit(row)).await
}

/// Writes the summaries of expired windows every second until cancelled, then the open ones.
pub async fn run(st: crate::server::AppState, cancel: tokio_util::sync::CancellationToken) {
    loop {
        let cancelled = tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => false,
            _ = cancel.cancelled() => true,
        };
        let now = crate::clock::to_micros(st.clock.now());
        let rows = if cancelled {
            st.refusals.drain(now)
        } else {
            st.refusals.sweep(now)
        };
        if let Err(e) = st.audit.record(rows).await {
            tracing::warn!(error.cause = ?e, "could not write collapsed refusal rows");
        }
        if cancelled {
            return;
        }
    }
}

fn key_of(row: &AuditRow) -> Key {
    let extra: Value = serde_json::from_str(&row.extra_data).unwrap_or(Value::Null);
    let code = extra
        .get("error")
        .or_else(|| extra.get("reason"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Key {
        tenant_id: row.tenant_id.clone(),
        source_ip: row.source_ip.clone(),
        identity_id: row.identity_id.clone(),
        action: row.action.clone(),
        code: format!("{}:{code}", row.status_code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::IdentityType;

    fn refusal(ts: i64, ip: &str) -> AuditRow {
        AuditRow {
            id: format!("log_{ts}"),
            tenant_id: "tnt_default".into(),
            ts,
            action: "auth_failed".into(),
            identity_type: IdentityType::User,
            identity_id: "anonymous".into(),
            secret_path: None,
            version: None,
            source_ip: Some(ip.into()),
            user_agent: None,
            success: false,
            status_code: 401,
            duration_ms: 1,
            request_id: Some("req_1".into()),
            extra_data: json!({"reason": "token_invalid"}).to_string(),
            seq: None,
            hash: None,
        }
    }

    #[test]
    fn identical_refusals_collapse_into_one_row_per_window() {
        let log = RefusalLog::new();
        assert_eq!(log.admit(refusal(0, "10.0.0.1")).len(), 1);
        for i in 1..=5 {
            assert!(log.admit(refusal(i * 1_000_000, "10.0.0.1")).is_empty());
        }
        assert_eq!(
            log.admit(refusal(2_000_000, "10.0.0.2")).len(),
            1,
            "other source"
        );
        assert!(log.sweep(59_000_000).is_empty(), "window still open");
        let closed = log.sweep(WINDOW_MICROS);
        assert_eq!(closed.len(), 1, "only the window that repeated reports");
        let extra: Value = serde_json::from_str(&closed[0].extra_data).unwrap();
        assert_eq!(extra["repeated"], 5);
        assert_eq!(extra["reason"], "token_invalid");
        assert!(!closed[0].success);
        assert!(
            log.drain(WINDOW_MICROS).is_empty(),
            "10.0.0.2 never repeated"
        );
    }

    #[test]
    fn a_refusal_after_the_window_writes_the_summary_and_itself() {
        let log = RefusalLog::new();
        log.admit(refusal(0, "10.0.0.1"));
        log.admit(refusal(1, "10.0.0.1"));
        let rows = log.admit(refusal(WINDOW_MICROS + 1, "10.0.0.1"));
        assert_eq!(rows.len(), 2);
        assert!(rows[0].extra_data.contains("\"repeated\":1"));
        assert!(!rows[1].extra_data.contains("repeated"));
    }
}
