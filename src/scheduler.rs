//! The rotation scheduler: every tick it claims only the schedules whose next event is due
//! (an indexed column, so cost grows with due work, not with the number of secrets), handles
//! each in a transaction with its events, history and audit row, then writes auto-generated
//! values. Replicas claim with SKIP LOCKED, so nothing fires twice.

use crate::clock::to_micros;
use crate::domain::path::SecretPath;
use crate::domain::rotation::{self, Step, SCHEDULER_IDENTITY};
use crate::domain::secret_ops::{Ops, WriteOptions, WriteRequest};
use crate::metrics::rotation_status;
use crate::server::AppState;
use crate::store::{AuditRow, DeliveryStatus, RotationStatus, RotationTrigger, StoreResult};
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
            match auto_rotate(st, &tenant, &path).await {
                Ok(()) => report.auto_rotated += 1,
                Err(msg) => {
                    report.failed += 1;
                    if let Err(e) =
                        fail_history(st, &history_id, "auto_generate_failed", &msg, 1).await
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
            return Ok(report);
        }
    }
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

/// Writes a generated value (same keys, new random strings); the write completes the rotation.
pub async fn auto_rotate(st: &AppState, tenant: &str, path: &str) -> Result<(), String> {
    let path = SecretPath::parse(path).map_err(|e| e.0)?;
    let ops = Ops {
        store: st.store.as_ref(),
        keys: &st.keys,
        now: st.clock.now(),
        bus: &st.bus,
        metrics: &st.metrics,
    };
    let current = ops
        .read(tenant, &path, None)
        .await
        .map_err(|e| e.to_string())?;
    let value: serde_json::Value =
        serde_json::from_slice(&current.value).map_err(|e| e.to_string())?;
    let generated = rotation::generate_value(&value);
    let req = WriteRequest {
        tenant_id: tenant.to_string(),
        path: path.clone(),
        value: zeroize::Zeroizing::new(serde_json::to_vec(&generated).map_err(|e| e.to_string())?),
        secret_type: None,
        metadata: Default::default(),
        options: WriteOptions::default(),
        actor: SCHEDULER_IDENTITY.into(),
        auto_generated: true,
    };
    let audit = crate::audit::system_row(
        tenant,
        SCHEDULER_IDENTITY,
        st.clock.now(),
        "write",
        Some(path.as_str()),
        None,
        json!({ "auto_generated": true }),
    );
    ops.write(&req, audit)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Marks a rotation failed (if still open) and emits `rotation.failed`.
pub async fn fail_history(
    st: &AppState,
    history_id: &str,
    code: &str,
    message: &str,
    attempts: i64,
) -> StoreResult<()> {
    let now = st.clock.now();
    let mut tx = st.store.begin().await?;
    let Some(mut h) = tx.get_history(history_id).await? else {
        return Ok(());
    };
    if !matches!(h.status, RotationStatus::Pending | RotationStatus::Overdue) {
        return Ok(());
    }
    let (Some(p), Some(secret)) = (
        tx.get_policy(&h.tenant_id, &h.policy_id).await?,
        tx.secret_by_id(&h.secret_id).await?,
    ) else {
        return Ok(());
    };
    rotation::fail(&mut *tx, &mut h, &p, &secret, code, message, attempts, now).await?;
    tx.commit().await?;
    st.bus.published(1, 1);
    st.metrics.rotation(rotation_status::FAILED);
    Ok(())
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

/// After a delivery of a `rotation.due` event failed for good: if every delivery of that event
/// to the policy's own webhooks failed, the rotation failed (SPEC §4 rule 7). Deliveries to
/// other webhooks (a catch-all subscriber, say) neither save nor fail it.
pub async fn on_due_delivery_failed(
    st: &AppState,
    event_id: &str,
    attempts: i64,
) -> StoreResult<()> {
    let Some(h) = st.store.history_by_due_event(event_id).await? else {
        return Ok(());
    };
    let Some(policy) = st.store.get_policy(&h.tenant_id, &h.policy_id).await? else {
        return Ok(());
    };
    let states = {
        let mut tx = st.store.begin().await?;
        let s = tx.event_delivery_states(event_id).await?;
        tx.commit().await?;
        s
    };
    let policy_hooks: Vec<String> = serde_json::from_str(&policy.webhook_ids).unwrap_or_default();
    if all_failed(&policy_hooks, &states) {
        fail_history(
            st,
            &h.id,
            "delivery_failed",
            "every delivery of the rotation.due event to the policy's webhooks exhausted its retries",
            attempts,
        )
        .await?;
    }
    Ok(())
}

/// True when the event went to at least one of `hooks` and every such delivery has ended
/// without success (failed, or cancelled with its webhook). `states` are (webhook id, status) of all its deliveries.
fn all_failed(hooks: &[String], states: &[(String, DeliveryStatus)]) -> bool {
    let mut ours = states.iter().filter(|(w, _)| hooks.contains(w)).peekable();
    ours.peek().is_some()
        && ours
            .all(|(_, status)| !matches!(status, DeliveryStatus::Pending | DeliveryStatus::Success))
}

#[cfg(test)]
mod tests {
    use super::all_failed;
    use crate::store::DeliveryStatus::{self, Failed, Pending, Success};

    fn states(list: &[(&str, DeliveryStatus)]) -> Vec<(String, DeliveryStatus)> {
        list.iter().map(|(w, s)| (w.to_string(), *s)).collect()
    }

    #[test]
    fn only_the_policys_webhooks_decide() {
        let hooks = vec!["wh_p".to_string(), "wh_q".to_string()];
        // Another webhook's success does not save the rotation.
        assert!(all_failed(
            &hooks,
            &states(&[("wh_p", Failed), ("wh_all", Success)])
        ));
        assert!(all_failed(
            &hooks,
            &states(&[("wh_p", Failed), ("wh_q", Failed)])
        ));
        assert!(!all_failed(
            &hooks,
            &states(&[("wh_p", Failed), ("wh_q", Pending)])
        ));
        assert!(!all_failed(
            &hooks,
            &states(&[("wh_p", Failed), ("wh_q", Success)])
        ));
        // Only other webhooks failed: not the policy's delivery, not a failed rotation.
        assert!(!all_failed(&hooks, &states(&[("wh_all", Failed)])));
        assert!(!all_failed(&[], &states(&[("wh_all", Failed)])));
    }
}
