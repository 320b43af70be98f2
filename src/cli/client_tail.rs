//! `scaivault events tail` and `scaivault audit tail`: print a feed oldest first and follow it.
//! Each line ends with the row's id; `--after ID` resumes after it, so a consumer that stopped
//! misses nothing. Events long-poll `GET /v1/events?after=…&wait=30s`. The audit log is read
//! newest first by time, so audit tail polls `GET /v1/audit/logs?from=…` once a second with a
//! few seconds of overlap (rows commit a little after their timestamp) and skips rows it has
//! printed. Piped, each row is one JSON line; on a terminal, one readable line.

use super::client_args::{AuditCommand, EventsCommand, TailArgs};
use super::client_output::{cell, json_line, wants_json};
use super::output::line;
use crate::client::{ApiClient, ClientSettings};
use crate::clock::{from_micros, rfc3339_micros};
use reqwest::Method;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// How long one long poll of the event feed waits on the server.
const EVENT_WAIT: &str = "30s";
/// How far back each audit poll reaches before the newest row printed.
const AUDIT_OVERLAP_US: i64 = 5_000_000;
/// Pause between audit polls while following.
const AUDIT_POLL: Duration = Duration::from_secs(1);

pub(super) async fn events(cmd: EventsCommand) -> anyhow::Result<()> {
    let EventsCommand::Tail(args) = cmd;
    let client = ApiClient::new(&ClientSettings::load()?)?;
    let json = wants_json(args.out);
    let mut after = args.after.clone();
    loop {
        let mut q: Vec<(&str, String)> = vec![("limit", "1000".into())];
        if let Some(a) = &after {
            q.push(("after", a.clone()));
        }
        if !args.types.is_empty() {
            q.push(("types", args.types.join(",")));
        }
        if let Some(p) = &args.path_prefix {
            q.push(("path_prefix", p.clone()));
        }
        if !args.once {
            q.push(("wait", EVENT_WAIT.into()));
        }
        let url = client.url(&["events"], &q);
        let r = client
            .call_with_timeout(Method::GET, url, None, Duration::from_secs(75))
            .await?;
        let events = r["events"].as_array().cloned().unwrap_or_default();
        for e in &events {
            if json {
                json_line(e)?;
            } else {
                line(format_args!(
                    "{}  {:<20}  {}  {}",
                    cell(&e["timestamp"]),
                    cell(&e["event_type"]),
                    cell(&e["path"]),
                    cell(&e["event_id"])
                ))?;
            }
        }
        let cursor = r["cursor"].as_str().map(str::to_string);
        let moved = cursor.is_some() && cursor != after;
        if cursor.is_some() {
            after = cursor;
        }
        if args.once && events.is_empty() && !moved {
            break;
        }
    }
    resume_hint(after.as_deref());
    Ok(())
}

pub(super) async fn audit(cmd: AuditCommand) -> anyhow::Result<()> {
    let AuditCommand::Tail(args) = cmd;
    let client = ApiClient::new(&ClientSettings::load()?)?;
    let json = wants_json(args.out);
    // Rows at or before `floor` (where this tail starts) are never printed; `mark` is the newest
    // row printed, each poll reaches back from it by the overlap.
    let floor: (i64, String) = match &args.after {
        Some(id) => (
            id_micros(id)
                .ok_or_else(|| anyhow::anyhow!("--after {id} is not an audit row id (log_…)"))?,
            id.clone(),
        ),
        None => newest(&client).await?.unwrap_or((0, String::new())),
    };
    let mut mark = floor.clone();
    let mut seen: HashMap<String, i64> = HashMap::new();
    loop {
        let rows = since(&client, &args, mark.0 - AUDIT_OVERLAP_US).await?;
        let mut fresh: Vec<(i64, String, Value)> = rows
            .into_iter()
            .filter_map(|r| {
                let id = r["id"].as_str()?.to_string();
                let ts = ts_micros(&r["timestamp"])?;
                Some((ts, id, r))
            })
            .filter(|(ts, id, _)| {
                !seen.contains_key(id) && (*ts, id.as_str()) > (floor.0, floor.1.as_str())
            })
            .collect();
        fresh.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        for (ts, id, r) in &fresh {
            if json {
                json_line(r)?;
            } else {
                line(format_args!(
                    "{}  {:<14}  {:<5}  {}  {}  {}",
                    cell(&r["timestamp"]),
                    cell(&r["action"]),
                    cell(&r["status_code"]),
                    cell(&r["identity_id"]),
                    cell(&r["secret_path"]),
                    id
                ))?;
            }
            seen.insert(id.clone(), *ts);
            if (*ts, id.as_str()) > (mark.0, mark.1.as_str()) {
                mark = (*ts, id.clone());
            }
        }
        // Rows older than the overlap are never asked for again.
        seen.retain(|_, ts| *ts >= mark.0 - AUDIT_OVERLAP_US);
        if args.once {
            break;
        }
        tokio::time::sleep(AUDIT_POLL).await;
    }
    resume_hint(Some(mark.1.as_str()).filter(|m| !m.is_empty()));
    Ok(())
}

/// Every row from `from_us` on (all pages of the newest-first query).
async fn since(client: &ApiClient, args: &TailArgs, from_us: i64) -> anyhow::Result<Vec<Value>> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q: Vec<(&str, String)> = vec![
            ("limit", "1000".into()),
            ("from", rfc3339_micros(from_micros(from_us.max(0)))),
        ];
        if !args.types.is_empty() {
            q.push(("action", args.types.join(",")));
        }
        if let Some(p) = &args.path_prefix {
            q.push(("path_prefix", p.clone()));
        }
        if let Some(c) = &cursor {
            q.push(("cursor", c.clone()));
        }
        let r = client.get(&["audit", "logs"], &q).await?;
        rows.extend(r["logs"].as_array().cloned().unwrap_or_default());
        match r["cursor"].as_str() {
            Some(c) if r["has_more"].as_bool() == Some(true) => cursor = Some(c.to_string()),
            _ => return Ok(rows),
        }
    }
}

/// The newest row's (timestamp, id), where following "from now" starts.
async fn newest(client: &ApiClient) -> anyhow::Result<Option<(i64, String)>> {
    let r = client
        .get(&["audit", "logs"], &[("limit", "1".into())])
        .await?;
    Ok(r["logs"].get(0).and_then(|row| {
        Some((
            ts_micros(&row["timestamp"])?,
            row["id"].as_str()?.to_string(),
        ))
    }))
}

fn ts_micros(v: &Value) -> Option<i64> {
    let t = chrono::DateTime::parse_from_rfc3339(v.as_str()?).ok()?;
    Some(t.with_timezone(&chrono::Utc).timestamp_micros())
}

/// The time written into a time-ordered id (`log_` + 9 base-62 digits of microseconds + …).
pub(crate) fn id_micros(id: &str) -> Option<i64> {
    const SORTABLE: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let (_, rest) = id.split_once('_')?;
    let digits = rest.get(..9)?;
    digits.bytes().try_fold(0i64, |acc, c| {
        let d = SORTABLE.iter().position(|&s| s == c)? as i64;
        acc.checked_mul(62)?.checked_add(d)
    })
}

fn resume_hint(after: Option<&str>) {
    if let Some(a) = after {
        eprintln!("scaivault: resume with --after {a}");
    }
}

#[cfg(test)]
mod tests {
    use super::id_micros;

    #[test]
    fn the_time_of_an_audit_id() {
        for us in [0_i64, 1, 1_767_268_800_000_000] {
            let id = crate::domain::ids::new_time_ordered_id("log_", us);
            assert_eq!(id_micros(&id), Some(us), "{id}");
        }
        assert_eq!(id_micros("log_"), None);
    }
}
