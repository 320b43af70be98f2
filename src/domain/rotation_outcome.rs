//! What becomes of an open rotation outside the scheduler's tick: an auto-generated value
//! written (completing it), or the rotation failed — by a failed generation, or because every
//! delivery of its `rotation.due` event to the policy's webhooks failed (SPEC §4 rule 7). The
//! scheduler, the delivery worker and a forced rotation all call these through the `Ops`
//! handle; none of them calls another.

use crate::domain::generators::Recipe;
use crate::domain::path::SecretPath;
use crate::domain::rotation::{self, SCHEDULER_IDENTITY};
use crate::domain::secret_ops::{Ops, SecretError, WriteOptions, WriteRequest};
use crate::metrics::rotation_status;
use crate::store::{DeliveryStatus, RotationStatus, StoreResult};
use serde_json::json;

/// Writes a generated value: the recipe of the rotation policy's secret policy, or else the
/// current value with every string replaced (SPEC §9). The write completes the rotation.
/// Error messages name what failed, never a value.
pub async fn auto_rotate(ops: &Ops<'_>, tenant: &str, path: &str) -> Result<(), String> {
    let path = SecretPath::parse(path).map_err(|e| e.0)?;
    let current = ops
        .read(tenant, &path, None)
        .await
        .map_err(|e| e.to_string())?;
    let generated =
        match recipe_of(ops, tenant, current.secret.rotation_policy_id.as_deref()).await? {
            Some(recipe) => serde_json::Value::Object(
                recipe
                    .generate_blocking(ops.now)
                    .await
                    .map_err(|e| e.to_string())?,
            ),
            None => {
                let value: serde_json::Value =
                    serde_json::from_slice(&current.value).map_err(|e| e.to_string())?;
                rotation::generate_value(&value)
            }
        };
    let req = WriteRequest {
        tenant_id: tenant.to_string(),
        path: path.clone(),
        value: zeroize::Zeroizing::new(serde_json::to_vec(&generated).map_err(|e| e.to_string())?),
        secret_type: None,
        metadata: Default::default(),
        // Check-and-set on the version generated from: if another write got there first
        // (a client, or a replica that took the rotation over), that write completed the
        // rotation and this one must not add a second version.
        options: WriteOptions {
            cas: Some(current.version),
            ..WriteOptions::default()
        },
        actor: SCHEDULER_IDENTITY.into(),
        auto_generated: true,
    };
    let audit = crate::audit::system_row(
        tenant,
        SCHEDULER_IDENTITY,
        ops.now,
        "write",
        Some(path.as_str()),
        None,
        json!({ "auto_generated": true }),
    );
    match ops.write(&req, audit).await {
        Ok(_) | Err(SecretError::VersionConflict { .. }) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// The recipe of the secret policy the rotation policy `policy_id` names, if any. A policy
/// that names a missing or inactive secret policy fails the rotation rather than falling back
/// to another kind of value.
async fn recipe_of(
    ops: &Ops<'_>,
    tenant: &str,
    policy_id: Option<&str>,
) -> Result<Option<Recipe>, String> {
    let Some(policy_id) = policy_id else {
        return Ok(None);
    };
    let store_err = |e: crate::store::StoreError| e.to_string();
    let Some(sp_id) = ops
        .store
        .get_policy(tenant, policy_id)
        .await
        .map_err(store_err)?
        .and_then(|p| p.secret_policy_id)
    else {
        return Ok(None);
    };
    let sp = ops
        .store
        .get_secret_policy(tenant, &sp_id)
        .await
        .map_err(store_err)?
        .ok_or_else(|| format!("secret policy '{sp_id}' no longer exists"))?;
    if !sp.is_active {
        return Err(format!("secret policy '{sp_id}' is inactive"));
    }
    serde_json::from_str(&sp.fields)
        .ok()
        .and_then(|f| Recipe::parse(&f).ok())
        .map(Some)
        .ok_or_else(|| format!("secret policy '{sp_id}' holds an unreadable recipe"))
}

/// Marks a rotation failed (if still open) and emits `rotation.failed`.
pub async fn fail_history(
    ops: &Ops<'_>,
    history_id: &str,
    code: &str,
    message: &str,
    attempts: i64,
) -> StoreResult<()> {
    let now = ops.now;
    let mut tx = ops.store.begin().await?;
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
    ops.bus.published(1, 1);
    ops.metrics.rotation(rotation_status::FAILED);
    Ok(())
}

/// After a delivery of a `rotation.due` event failed for good: if every delivery of that event
/// to the policy's own webhooks failed, the rotation failed (SPEC §4 rule 7). Deliveries to
/// other webhooks (a catch-all subscriber, say) neither save nor fail it.
pub async fn on_due_delivery_failed(
    ops: &Ops<'_>,
    event_id: &str,
    attempts: i64,
) -> StoreResult<()> {
    let Some(h) = ops.store.history_by_due_event(event_id).await? else {
        return Ok(());
    };
    let Some(policy) = ops.store.get_policy(&h.tenant_id, &h.policy_id).await? else {
        return Ok(());
    };
    let states = {
        let mut tx = ops.store.begin().await?;
        let s = tx.event_delivery_states(event_id).await?;
        tx.commit().await?;
        s
    };
    let policy_hooks: Vec<String> = serde_json::from_str(&policy.webhook_ids).unwrap_or_default();
    if all_failed(&policy_hooks, &states) {
        fail_history(
            ops,
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
