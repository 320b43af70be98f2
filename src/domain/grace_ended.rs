//! `rotation.grace_ended` (SPEC §11): when a superseded version's grace period ends, one event
//! says whether consumers still used it during the grace period: how many reads, the last one,
//! and who read it, answered from the audit log (no extra write per read). Each version is
//! reported once; the scheduler's tick runs this, and replicas claim disjoint versions.

use super::events::{self as ev, NewEvent};
use crate::clock::{from_micros, rfc3339, to_micros};
use crate::store::{Store, StoreResult};
use chrono::{DateTime, Utc};
use serde_json::json;

/// Versions handled per transaction.
const BATCH: i64 = 100;

/// Sends the event of every grace period ended by `now`; returns how many were sent.
pub async fn report(store: &dyn Store, now: DateTime<Utc>) -> StoreResult<usize> {
    let mut sent = 0;
    loop {
        let mut tx = store.begin().await?;
        let due = tx.claim_grace_ended(to_micros(now), BATCH).await?;
        let mut events = Vec::with_capacity(due.len());
        for g in &due {
            tx.mark_grace_reported(&g.secret_id, g.version).await?;
            let Some(secret) = tx
                .secret_by_id(&g.secret_id)
                .await?
                .filter(|s| s.deleted_at.is_none())
            else {
                continue;
            };
            // The grace period began when the next version superseded this one.
            let versions = store.list_versions(&secret.id).await?;
            let start = versions
                .iter()
                .find(|v| v.version == g.version + 1)
                .map_or(secret.created_at, |v| v.created_at);
            let readers = store
                .version_readers(
                    &secret.tenant_id,
                    &secret.path,
                    g.version,
                    start,
                    g.readable_until,
                )
                .await?;
            let policy = match &secret.rotation_policy_id {
                Some(id) => tx.get_policy(&secret.tenant_id, id).await?,
                None => None,
            };
            events.push(NewEvent {
                tenant_id: secret.tenant_id.clone(),
                event_type: ev::ROTATION_GRACE_ENDED,
                identity_id: Some(super::rotation::SCHEDULER_IDENTITY.to_string()),
                path: Some(secret.path.clone()),
                data: json!({
                    "rotation_policy_id": secret.rotation_policy_id,
                    "old_version": g.version,
                    "grace_period_ended": rfc3339(from_micros(g.readable_until)),
                    "reads_during_grace": readers.reads,
                    "last_read_at": readers.last_read_at.map(|t| rfc3339(from_micros(t))),
                    "readers": readers.readers,
                }),
                request_id: None,
                secret_type: Some(secret.secret_type),
                tags: serde_json::from_str(&secret.tags).unwrap_or_default(),
                policy_webhook_ids: policy
                    .map(|p| serde_json::from_str(&p.webhook_ids).unwrap_or_default())
                    .unwrap_or_default(),
            });
        }
        let (stored, _) = super::outbox::emit(&mut *tx, &events, now).await?;
        tx.commit().await?;
        sent += stored.len();
        if (due.len() as i64) < BATCH {
            return Ok(sent);
        }
    }
}
