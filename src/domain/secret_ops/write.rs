//! Writing a secret: version 1 or the next version, with check-and-set, pruning, rotation
//! completion and its events, in one transaction.

use crate::clock::{from_micros, rfc3339, to_micros};
use crate::crypto::binding::{SecretSlot, AAD_CURRENT};
use crate::crypto::envelope::seal;
use crate::domain::events::{self as ev};
use crate::domain::secret::prune_floor;
use crate::store::{AuditRow, StoreError, VersionRow};

use super::*;

impl Ops<'_> {
    /// Creates the secret (version 1) or adds its next version.
    /// The audit row's status is set to 201 or 200 to match the outcome.
    pub async fn write(
        &self,
        req: &WriteRequest,
        audit: AuditRow,
    ) -> Result<WriteOutcome, SecretError> {
        // A create that loses a race against another create sees a unique violation:
        // retry once, and the second attempt finds (and locks) the winner's row.
        match self.write_once(req, audit.clone()).await {
            Err(SecretError::Store(StoreError::Conflict(_))) => self.write_once(req, audit).await,
            other => other,
        }
    }

    pub(super) async fn write_once(
        &self,
        req: &WriteRequest,
        mut audit: AuditRow,
    ) -> Result<WriteOutcome, SecretError> {
        let now = to_micros(self.now);
        let mut tx = self.store.begin().await?;
        let mut existing = tx.lock_secret(&req.tenant_id, req.path.as_str()).await?;
        if let Some(s) = &existing {
            if s.deleted_at.is_some() {
                if s.recoverable_until.is_some_and(|r| r > now) {
                    return Err(SecretError::SoftDeleted(req.path.to_string()));
                }
                // Past retention: the old secret is gone for good; start afresh.
                tx.delete_secret(&s.id).await?;
                existing = None;
            }
        }
        let current = existing.as_ref().map_or(0, |s| s.current_version);
        if let Some(expected) = req.options.cas {
            if expected != current {
                return Err(SecretError::VersionConflict { expected, current });
            }
        }
        let created = existing.is_none();
        let policy = match &req.options.rotation_policy_id {
            None => None,
            Some(id) => Some(
                tx.get_policy(&req.tenant_id, id)
                    .await?
                    .ok_or_else(|| SecretError::PolicyNotFound(id.clone()))?,
            ),
        };
        let mut row = existing.unwrap_or_else(|| new_secret_row(req, now));
        let old_tags = row.tags.clone();
        apply_write(&mut row, req, now);
        let version = current + 1;
        row.current_version = version;

        let slot = SecretSlot {
            tenant: &req.tenant_id,
            secret_id: &row.id,
            path: req.path.as_str(),
            version,
        };
        let sealed = seal(self.keys, &slot.current(), &req.value);
        if created {
            tx.insert_secret(&row).await?;
        } else {
            tx.update_secret(&row).await?;
        }
        if created || old_tags != row.tags {
            tx.replace_tags(&row.id, &tags_of(&row)).await?;
        }
        tx.insert_version(&VersionRow {
            secret_id: row.id.clone(),
            version,
            ciphertext: sealed.ciphertext,
            wrapped_key: sealed.wrapped_key,
            key_id: sealed.key_id,
            created_at: now,
            created_by: req.actor.clone(),
            is_rotation: false,
            readable_until: None,
            aad_version: AAD_CURRENT,
        })
        .await?;
        if let Some(p) = &policy {
            let attached = tx.lock_schedule(&row.id).await?;
            if attached.as_ref().is_none_or(|s| s.policy_id != p.id) {
                tx.upsert_schedule(&crate::domain::rotation::attach(p, &row, self.now))
                    .await?;
            }
        }
        crate::domain::expiry::sync(&mut *tx, &row, self.now).await?;
        let completion = if created {
            None
        } else {
            crate::domain::rotation::complete_on_write(
                &mut *tx,
                &row,
                current,
                version,
                req.auto_generated,
                self.now,
                &req.actor,
                audit.request_id.as_deref(),
            )
            .await?
        };
        // After the grace period is set on the superseded version, so pruning keeps it.
        tx.prune_versions(&row.id, prune_floor(version, row.max_versions), now)
            .await?;
        audit.version = Some(version);
        audit.status_code = if created { 201 } else { 200 };
        tx.insert_audit(&audit).await?;
        let data = if created {
            serde_json::json!({
                "version": version,
                "secret_type": row.secret_type,
                "created_by": req.actor,
                "tags": tags_of(&row),
                "expires_at": row.expires_at.map(|e| rfc3339(from_micros(e))),
            })
        } else {
            serde_json::json!({
                "old_version": current,
                "new_version": version,
                "updated_by": req.actor,
                "is_rotation": completion.is_some(),
            })
        };
        let kind = if created {
            ev::SECRET_CREATED
        } else {
            ev::SECRET_UPDATED
        };
        let mut events = vec![secret_event(&row, kind, data, &audit)];
        let rotated = completion.is_some();
        if let Some(c) = completion {
            events.extend(c.events);
        }
        crate::domain::outbox::emit(&mut *tx, &events, self.now).await?;
        tx.commit().await?;
        self.bus.published(1, 1);
        self.metrics.secret_write();
        if rotated {
            self.metrics
                .rotation(crate::metrics::rotation_status::SUCCESS);
        }
        Ok(WriteOutcome {
            secret: row,
            created,
            old_version: (!created).then_some(current),
        })
    }
}
