//! The rotation scheduler: every tick it claims only the schedules whose next event is due
//! (an indexed column, so cost grows with due work, not with the number of secrets), handles
//! each in a transaction with its events, history and audit row, then writes auto-generated
//! values. Replicas claim with SKIP LOCKED, so nothing fires twice.

use crate::clock::to_micros;
use crate::domain::rotation::{self, Step, SCHEDULER_IDENTITY};
use crate::domain::rotation_outcome::{auto_rotate, fail_history};
use crate::metrics::rotation_status;
use crate::server::AppState;
use crate::store::{AuditRow, RotationTrigger, StoreResult};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const CLAIM_BATCH: i64 = 200;

/// What one tick did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    pub handled: usize,
    pub warned: usize,
    pub opened: usize,
    pub overdue: usize,
    pub auto_rotated: usize,
    pub failed: usize,
    /// `secret.expiring` / `secret.expired` events sent.
    pub expiry_notices: usize,
    /// `rotation.grace_ended` events sent.
    pub grace_ended: usize,
    /// Auto-generated rotations taken over after their writer died.
    pub retried: usize,
}

/// Handles everything due now; returns what it did.
pub async fn tick(st: &AppState) -> StoreResult<TickReport> {
    let mut report = TickReport::default();
    loop {
        let now = st.clock.now();
        let mut tx = st.store.begin().await?;
        let claimed = tx.claim_due_schedules(to_micros(now), CLAIM_BATCH).await?;
        let n = claimed.len();
        let mut autos = Vec::new();
        let mut overdue = 0;
        for mut s in claimed {
            report.handled += 1;
            let policy = tx.get_policy(&s.tenant_id, &s.policy_id).await?;
            let secret = tx.secret_by_id(&s.secret_id).await?;
            let (Some(p), Some(secret)) = (policy, secret.filter(|x| x.deleted_at.is_none()))
            else {
                s.next_event_at = None;
                tx.upsert_schedule(&s).await?;
                continue;
            };
            match rotation::step(&mut *tx, &mut s, &p, &secret, now).await? {
                Step::Nothing => {}
                Step::Warned => report.warned += 1,
                Step::Overdue => {
                    report.overdue += 1;
                    overdue += 1;
                }
                Step::Retry { history_id } => {
                    report.retried += 1;
                    autos.push((secret.tenant_id.clone(), secret.path.clone(), history_id));
                }
                Step::Opened { auto, history_id } => {
                    report.opened += 1;
                    tx.insert_audit(&rotate_audit(
                        &secret.tenant_id,
                        &secret.path,
                        secret.current_version,
                        &p.id,
                        &history_id,
                        now,
                    ))
                    .await?;
                    if auto {
                        autos.push((secret.tenant_id.clone(), secret.path.clone(), history_id));
                    }
                }
            }
        }
        tx.commit().await?;
        st.bus.published(n, n);
        for _ in 0..overdue {
            st.metrics.rotation(rotation_status::OVERDUE);
        }
        for (tenant, path, history_id) in autos {
            match auto_rotate(&st.ops(), &tenant, &path).await {
                Ok(()) => report.auto_rotated += 1,
                Err(msg) => {
                    report.failed += 1;
                    if let Err(e) =
                        fail_history(&st.ops(), &history_id, "auto_generate_failed", &msg, 1).await
                    {
                        tracing::warn!(error.cause = %e, "could not record a failed rotation");
                    }
                }
            }
        }
        if (n as i64) < CLAIM_BATCH {
            break;
        }
    }
    loop {
        let now = st.clock.now();
        let mut tx = st.store.begin().await?;
        let claimed = tx.claim_due_expiry(to_micros(now), CLAIM_BATCH).await?;
        let n = claimed.len();
        let mut sent = 0;
        for mut e in claimed {
            report.handled += 1;
            match tx
                .secret_by_id(&e.secret_id)
                .await?
                .filter(|s| s.deleted_at.is_none())
            {
                Some(secret) => {
                    sent += crate::domain::expiry::step(&mut *tx, &mut e, &secret, now).await?
                }
                None => tx.delete_expiry(&e.secret_id).await?,
            }
        }
        tx.commit().await?;
        report.expiry_notices += sent;
        st.bus.published(sent, sent);
        if (n as i64) < CLAIM_BATCH {
            break;
        }
    }
    let ended = crate::domain::grace_ended::report(st.store.as_ref(), st.clock.now()).await?;
    report.grace_ended = ended;
    st.bus.published(ended, ended);
    Ok(report)
}

/// The audit row of a rotation the scheduler opened.
fn rotate_audit(
    tenant: &str,
    path: &str,
    version: i64,
    policy_id: &str,
    history_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> AuditRow {
    crate::audit::system_row(
        tenant,
        SCHEDULER_IDENTITY,
        now,
        "rotate",
        Some(path),
        Some(version),
        json!({ "trigger": RotationTrigger::Schedule.as_str(), "rotation_policy_id": policy_id, "history_id": history_id }),
    )
}

/// Ticks every `SCAIVAULT_SCHEDULER_TICK` until cancelled.
pub async fn run(st: AppState, cancel: CancellationToken) {
    let every = st.config.scheduler_tick.as_std();
    loop {
        // Picks up a key version another process rotated in (new writes then use it).
        if let Err(e) = crate::domain::master_keys::refresh(st.store.as_ref(), &st.keys).await {
            tracing::warn!(error.cause = %e, "could not refresh the master key versions");
        }
        match tick(&st).await {
            Ok(r) if r.handled > 0 => tracing::info!(
                handled = r.handled,
                opened = r.opened,
                warned = r.warned,
                overdue = r.overdue,
                "rotation scheduler tick"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error.cause = %e, "rotation scheduler tick failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = cancel.cancelled() => break,
        }
    }
}
