//! Rotation rules (SPEC §4): schedule math, opening a rotation (due event or auto-generation),
//! completing it on the next write, overdue and failure. All in the caller's transaction; no
//! HTTP and no SQL here.

use super::events::{self as ev, NewEvent};
use crate::clock::{from_micros, rfc3339, to_micros};
use crate::store::{
    HistoryRow, PolicyRow, RotationStatus, RotationTrigger, ScheduleRow, ScheduleStatus, SecretRow,
    StoreResult, StoreTx,
};
use chrono::{DateTime, Utc};
use serde_json::json;

/// Identity of scheduled rotation work.
pub const SCHEDULER_IDENTITY: &str = "system:rotation-scheduler";

/// How long an opened auto-generated rotation may wait for its write before the scheduler
/// tries again: the process that opened it writes right after its commit, so one still open
/// after this long lost its writer (a crash, a killed replica) and any replica takes it over.
pub const AUTO_WRITE_LEASE_SECS: i64 = 30;

/// The next look at an open auto-generated rotation: after the write lease, or at its
/// overdue time if that comes first.
fn auto_retry_at(s: &ScheduleRow, p: &PolicyRow, now_us: i64) -> Option<i64> {
    let lease_end = now_us + AUTO_WRITE_LEASE_SECS * 1_000_000;
    Some(next_event_at(s, p).map_or(lease_end, |t| t.min(lease_end)))
}

/// The warn_before offsets of a policy in seconds, with their written form.
pub fn warnings(p: &PolicyRow) -> Vec<(i64, String)> {
    super::duration::parse_list(&p.warn_before)
        .map(|l| {
            l.iter()
                .map(|d| (d.seconds(), d.as_str().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn sent(s: &ScheduleRow) -> Vec<i64> {
    serde_json::from_str(&s.warnings_sent).unwrap_or_default()
}

/// The earliest moment something must happen for this schedule (None: nothing to do).
pub fn next_event_at(s: &ScheduleRow, p: &PolicyRow) -> Option<i64> {
    if !p.is_active {
        return None;
    }
    match s.status {
        ScheduleStatus::Scheduled => {
            let done = sent(s);
            warnings(p)
                .iter()
                .filter(|(secs, _)| !done.contains(secs))
                .map(|(secs, _)| s.next_rotation_at - secs * 1_000_000)
                .chain(std::iter::once(s.next_rotation_at))
                .min()
        }
        ScheduleStatus::Pending => s.due_at.map(|d| d + p.grace_seconds * 1_000_000),
        ScheduleStatus::Overdue => None,
    }
}

/// Marks every warning whose moment is already past as done (skipped), then recomputes.
fn skip_past_warnings(s: &mut ScheduleRow, p: &PolicyRow, now_us: i64) {
    let mut done = sent(s);
    for (secs, _) in warnings(p) {
        if s.next_rotation_at - secs * 1_000_000 <= now_us && !done.contains(&secs) {
            done.push(secs);
        }
    }
    s.warnings_sent = serde_json::to_string(&done).unwrap_or_else(|_| "[]".into());
    s.next_event_at = next_event_at(s, p);
}

/// A new schedule for a secret attached now.
pub fn attach(p: &PolicyRow, secret: &SecretRow, now: DateTime<Utc>) -> ScheduleRow {
    let now_us = to_micros(now);
    let mut s = ScheduleRow {
        secret_id: secret.id.clone(),
        tenant_id: secret.tenant_id.clone(),
        policy_id: p.id.clone(),
        assigned_at: now_us,
        last_rotated_at: now_us,
        next_rotation_at: now_us + p.interval_seconds * 1_000_000,
        status: ScheduleStatus::Scheduled,
        history_id: None,
        due_at: None,
        warnings_sent: "[]".into(),
        next_event_at: None,
    };
    skip_past_warnings(&mut s, p, now_us);
    s
}

/// Recomputes after a policy change or re-enable: past warnings are skipped, due fires at once.
pub fn reschedule(s: &mut ScheduleRow, p: &PolicyRow, now: DateTime<Utc>) {
    if s.status == ScheduleStatus::Scheduled {
        s.next_rotation_at = s.last_rotated_at + p.interval_seconds * 1_000_000;
        skip_past_warnings(s, p, to_micros(now));
    } else {
        s.next_event_at = next_event_at(s, p);
    }
}

fn event(
    secret: &SecretRow,
    p: &PolicyRow,
    kind: &'static str,
    data: serde_json::Value,
    actor: &str,
    request_id: Option<&str>,
) -> NewEvent {
    NewEvent {
        tenant_id: secret.tenant_id.clone(),
        event_type: kind,
        identity_id: Some(actor.to_string()),
        path: Some(secret.path.clone()),
        data,
        request_id: request_id.map(str::to_string),
        secret_type: Some(secret.secret_type),
        tags: serde_json::from_str(&secret.tags).unwrap_or_default(),
        policy_webhook_ids: serde_json::from_str(&p.webhook_ids).unwrap_or_default(),
    }
}

fn ts(us: i64) -> String {
    rfc3339(from_micros(us))
}

/// Opens a rotation (`trigger` schedule or manual). Without auto-generation it emits
/// `rotation.due` (due_now) and waits for the next write; with it, the caller writes the new
/// value after commit. Returns the pending history item.
#[expect(clippy::too_many_arguments)]
pub async fn open(
    tx: &mut dyn StoreTx,
    s: &mut ScheduleRow,
    p: &PolicyRow,
    secret: &SecretRow,
    trigger: RotationTrigger,
    now: DateTime<Utc>,
    actor: &str,
    request_id: Option<&str>,
) -> StoreResult<HistoryRow> {
    let now_us = to_micros(now);
    let mut h = HistoryRow {
        id: super::events::new_sortable_id("rh_", now),
        tenant_id: secret.tenant_id.clone(),
        policy_id: p.id.clone(),
        secret_id: secret.id.clone(),
        secret_path: secret.path.clone(),
        trigger,
        status: RotationStatus::Pending,
        old_version: Some(secret.current_version),
        new_version: None,
        started_at: now_us,
        completed_at: None,
        error: None,
        due_event_id: None,
    };
    if !p.auto_generate {
        let due = event(
            secret,
            p,
            ev::ROTATION_DUE,
            json!({
                "rotation_policy_id": p.id,
                "rotation_policy_name": p.name,
                "due_now": true,
                "threshold": null,
                "next_rotation_at": ts(s.next_rotation_at.min(now_us)),
                "current_version": secret.current_version,
                "auto_generate": false,
            }),
            actor,
            request_id,
        );
        let (rows, _) = super::outbox::emit(tx, &[due], now).await?;
        h.due_event_id = rows.first().map(|r| r.id.clone());
    }
    tx.insert_history(&h).await?;
    s.status = ScheduleStatus::Pending;
    s.history_id = Some(h.id.clone());
    s.due_at = Some(now_us);
    s.next_event_at = if p.auto_generate {
        auto_retry_at(s, p, now_us)
    } else {
        next_event_at(s, p)
    };
    tx.upsert_schedule(s).await?;
    Ok(h)
}

/// What completing a rotation on a write produced.
pub struct Completion {
    pub events: Vec<NewEvent>,
}

/// Called inside a write's transaction after the new version is stored: if a rotation is
/// pending (or overdue) for this secret, it completes — history success, the previous version
/// readable until the grace period ends, the clock reset to now.
#[expect(clippy::too_many_arguments)]
pub async fn complete_on_write(
    tx: &mut dyn StoreTx,
    secret: &SecretRow,
    old_version: i64,
    new_version: i64,
    auto_generated: bool,
    now: DateTime<Utc>,
    actor: &str,
    request_id: Option<&str>,
) -> StoreResult<Option<Completion>> {
    let Some(mut s) = tx.lock_schedule(&secret.id).await? else {
        return Ok(None);
    };
    if s.status == ScheduleStatus::Scheduled {
        return Ok(None);
    }
    let Some(p) = tx.get_policy(&secret.tenant_id, &s.policy_id).await? else {
        return Ok(None);
    };
    let now_us = to_micros(now);
    let grace_end = now_us + p.grace_seconds * 1_000_000;
    tx.set_version_flags(&secret.id, old_version, None, Some(grace_end))
        .await?;
    tx.set_version_flags(&secret.id, new_version, Some(true), None)
        .await?;
    let mut trigger = RotationTrigger::Schedule;
    if let Some(hid) = &s.history_id {
        if let Some(mut h) = tx.get_history(hid).await? {
            trigger = h.trigger;
            h.status = RotationStatus::Success;
            h.old_version = Some(old_version);
            h.new_version = Some(new_version);
            h.completed_at = Some(now_us);
            h.error = None;
            tx.update_history(&h).await?;
        }
    }
    s.status = ScheduleStatus::Scheduled;
    s.history_id = None;
    s.due_at = None;
    s.last_rotated_at = now_us;
    s.next_rotation_at = now_us + p.interval_seconds * 1_000_000;
    s.warnings_sent = "[]".into();
    skip_past_warnings(&mut s, &p, now_us);
    tx.upsert_schedule(&s).await?;
    let rotated = event(
        secret,
        &p,
        ev::SECRET_ROTATED,
        json!({
            "old_version": old_version,
            "new_version": new_version,
            "rotation_policy_id": p.id,
            "rotation_policy_name": p.name,
            "grace_period_ends": ts(grace_end),
            "auto_generated": auto_generated,
        }),
        actor,
        request_id,
    );
    let completed = event(
        secret,
        &p,
        ev::ROTATION_COMPLETED,
        json!({
            "rotation_policy_id": p.id,
            "old_version": old_version,
            "new_version": new_version,
            "auto_generated": auto_generated,
            "trigger": trigger,
        }),
        actor,
        request_id,
    );
    Ok(Some(Completion {
        events: vec![rotated, completed],
    }))
}

/// What one scheduler step did to a schedule.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Nothing,
    Warned,
    /// A rotation opened; `auto` means the caller must now write the generated value.
    Opened {
        auto: bool,
        history_id: String,
    },
    Overdue,
    /// An auto-generated rotation still open after its write lease (its writer died): the
    /// caller writes the generated value again.
    Retry {
        history_id: String,
    },
}

/// Handles one due schedule at `now` (scheduler tick), in the caller's transaction.
pub async fn step(
    tx: &mut dyn StoreTx,
    s: &mut ScheduleRow,
    p: &PolicyRow,
    secret: &SecretRow,
    now: DateTime<Utc>,
) -> StoreResult<Step> {
    let now_us = to_micros(now);
    if !p.is_active {
        s.next_event_at = None;
        tx.upsert_schedule(s).await?;
        return Ok(Step::Nothing);
    }
    match s.status {
        ScheduleStatus::Scheduled if now_us >= s.next_rotation_at => {
            let trigger = RotationTrigger::Schedule;
            let h = open(tx, s, p, secret, trigger, now, SCHEDULER_IDENTITY, None).await?;
            Ok(Step::Opened {
                auto: p.auto_generate,
                history_id: h.id,
            })
        }
        ScheduleStatus::Scheduled => {
            // Warnings whose moment has come (late ones after downtime are sent once).
            let mut done = sent(s);
            let mut events = Vec::new();
            for (secs, text) in warnings(p) {
                let at = s.next_rotation_at - secs * 1_000_000;
                if at <= now_us && !done.contains(&secs) {
                    done.push(secs);
                    events.push(event(
                        secret,
                        p,
                        ev::ROTATION_DUE,
                        json!({
                            "rotation_policy_id": p.id,
                            "rotation_policy_name": p.name,
                            "due_now": false,
                            "threshold": text,
                            "next_rotation_at": ts(s.next_rotation_at),
                            "current_version": secret.current_version,
                            "auto_generate": p.auto_generate,
                        }),
                        SCHEDULER_IDENTITY,
                        None,
                    ));
                }
            }
            s.warnings_sent = serde_json::to_string(&done).unwrap_or_else(|_| "[]".into());
            s.next_event_at = next_event_at(s, p);
            tx.upsert_schedule(s).await?;
            let warned = !events.is_empty();
            super::outbox::emit(tx, &events, now).await?;
            Ok(if warned { Step::Warned } else { Step::Nothing })
        }
        ScheduleStatus::Pending
            if s.due_at
                .is_some_and(|d| now_us >= d + p.grace_seconds * 1_000_000) =>
        {
            let due_at = s.due_at.unwrap_or(now_us);
            let overdue = event(
                secret,
                p,
                ev::ROTATION_OVERDUE,
                json!({
                    "rotation_policy_id": p.id,
                    "due_at": ts(due_at),
                    "overdue_since": ts(due_at + p.grace_seconds * 1_000_000),
                    "current_version": secret.current_version,
                }),
                SCHEDULER_IDENTITY,
                None,
            );
            super::outbox::emit(tx, &[overdue], now).await?;
            if let Some(hid) = &s.history_id {
                if let Some(mut h) = tx.get_history(hid).await? {
                    h.status = RotationStatus::Overdue;
                    tx.update_history(&h).await?;
                }
            }
            s.status = ScheduleStatus::Overdue;
            s.next_event_at = None;
            tx.upsert_schedule(s).await?;
            Ok(Step::Overdue)
        }
        ScheduleStatus::Pending if p.auto_generate => {
            let open = match &s.history_id {
                Some(id) => tx
                    .get_history(id)
                    .await?
                    .filter(|h| h.status == RotationStatus::Pending),
                None => None,
            };
            match open {
                Some(h) => {
                    s.next_event_at = auto_retry_at(s, p, now_us);
                    tx.upsert_schedule(s).await?;
                    Ok(Step::Retry { history_id: h.id })
                }
                None => {
                    s.next_event_at = next_event_at(s, p);
                    tx.upsert_schedule(s).await?;
                    Ok(Step::Nothing)
                }
            }
        }
        _ => {
            s.next_event_at = next_event_at(s, p);
            tx.upsert_schedule(s).await?;
            Ok(Step::Nothing)
        }
    }
}

/// Marks a rotation failed (history `failed`) and emits `rotation.failed`.
#[expect(clippy::too_many_arguments)]
pub async fn fail(
    tx: &mut dyn StoreTx,
    h: &mut HistoryRow,
    p: &PolicyRow,
    secret: &SecretRow,
    code: &str,
    message: &str,
    attempts: i64,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    h.status = RotationStatus::Failed;
    h.error = Some(format!("{code}: {message}"));
    h.completed_at = Some(to_micros(now));
    tx.update_history(h).await?;
    let failed = event(
        secret,
        p,
        ev::ROTATION_FAILED,
        json!({
            "rotation_policy_id": p.id,
            "error": {"code": code, "message": message},
            "attempts": attempts,
        }),
        SCHEDULER_IDENTITY,
        None,
    );
    super::outbox::emit(tx, &[failed], now).await?;
    Ok(())
}

/// The generated value of an auto-rotation without a secret policy: the same shape, each
/// string at any depth (inside objects and arrays) replaced by 32 random URL-safe characters;
/// numbers, booleans and nulls kept.
pub fn generate_value(current: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match current {
        Value::String(_) => Value::String(super::ids::random_urlsafe(32)),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), generate_value(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(generate_value).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod generate_tests {
    use super::generate_value;
    use serde_json::{json, Value};

    #[test]
    fn every_string_at_any_depth_is_replaced_and_the_shape_kept() {
        let old = json!({"a": ["x", {"b": "y"}, [["z"]]], "n": 5, "t": true, "z": null});
        let new = generate_value(&old);
        let s = |v: &Value| v.as_str().map(str::len);
        assert_eq!(s(&new["a"][0]), Some(32));
        assert_eq!(s(&new["a"][1]["b"]), Some(32));
        assert_eq!(s(&new["a"][2][0][0]), Some(32));
        assert_ne!(new["a"][0], "x");
        assert_eq!(new["n"], 5);
        assert_eq!(new["t"], true);
        assert_eq!(new["z"], Value::Null);
        assert_eq!(new["a"].as_array().map(Vec::len), Some(3));
    }
}
