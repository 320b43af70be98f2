//! Metadata changes, soft delete, destroy and restore.

use crate::clock::{from_micros, rfc3339, to_micros};
use crate::domain::events::{self as ev};
use crate::domain::path::SecretPath;
use crate::domain::secret::{MetadataPatch, SOFT_DELETE_RETENTION_DAYS};
use crate::store::{AuditRow, SecretRow};

use super::*;

impl Ops<'_> {
    /// Changes metadata and options without a new version.
    pub async fn patch_metadata(
        &self,
        tenant: &str,
        path: &SecretPath,
        patch: &MetadataPatch,
        options: &WriteOptions,
        audit: AuditRow,
    ) -> Result<SecretRow, SecretError> {
        let now = to_micros(self.now);
        let mut tx = self.store.begin().await?;
        let mut row = live(&mut *tx, tenant, path).await?;
        if let Some(expected) = options.cas {
            if expected != row.current_version {
                return Err(SecretError::VersionConflict {
                    expected,
                    current: row.current_version,
                });
            }
        }
        let old_tags = row.tags.clone();
        let merged = patch.apply(&metadata_of(&row));
        set_metadata(&mut row, &merged);
        apply_options(&mut row, options);
        row.updated_at = now;
        tx.update_secret(&row).await?;
        crate::domain::expiry::sync(&mut *tx, &row, self.now).await?;
        if old_tags != row.tags {
            tx.replace_tags(&row.id, &tags_of(&row)).await?;
        }
        let mut audit = audit;
        audit.version = Some(row.current_version);
        tx.insert_audit(&audit).await?;
        tx.commit().await?;
        self.metrics.secret_write();
        Ok(row)
    }

    /// Soft-deletes (restorable for 30 days) and returns the row and its version count.
    pub async fn soft_delete(
        &self,
        tenant: &str,
        path: &SecretPath,
        audit: AuditRow,
    ) -> Result<(SecretRow, i64), SecretError> {
        let now = to_micros(self.now);
        let mut tx = self.store.begin().await?;
        let mut row = live(&mut *tx, tenant, path).await?;
        row.deleted_at = Some(now);
        row.recoverable_until = Some(to_micros(
            self.now + chrono::Duration::days(SOFT_DELETE_RETENTION_DAYS),
        ));
        tx.update_secret(&row).await?;
        let count = tx.count_versions(&row.id).await?;
        let mut audit = audit;
        audit.version = Some(row.current_version);
        tx.insert_audit(&audit).await?;
        let data = serde_json::json!({
            "version_count": count,
            "deleted_by": audit.identity_id,
            "permanent": false,
            "recoverable_until": row.recoverable_until.map(|e| rfc3339(from_micros(e))),
        });
        self.emit(&mut *tx, &row, ev::SECRET_DELETED, data, &audit)
            .await?;
        tx.commit().await?;
        self.bus.published(1, 1);
        self.metrics.secret_write();
        Ok((row, count))
    }

    /// Destroys every version now (live or soft-deleted).
    pub async fn destroy(
        &self,
        tenant: &str,
        path: &SecretPath,
        audit: AuditRow,
    ) -> Result<(SecretRow, i64), SecretError> {
        let mut tx = self.store.begin().await?;
        let row = tx
            .lock_secret(tenant, path.as_str())
            .await?
            .ok_or_else(|| SecretError::NotFound(path.to_string()))?;
        let count = tx.count_versions(&row.id).await?;
        tx.delete_secret(&row.id).await?;
        let mut audit = audit;
        audit.version = Some(row.current_version);
        tx.insert_audit(&audit).await?;
        let data = serde_json::json!({
            "version_count": count,
            "deleted_by": audit.identity_id,
            "permanent": true,
            "recoverable_until": null,
        });
        self.emit(&mut *tx, &row, ev::SECRET_DELETED, data, &audit)
            .await?;
        tx.commit().await?;
        self.bus.published(1, 1);
        self.metrics.secret_write();
        Ok((row, count))
    }

    /// Undoes a soft delete still inside its retention.
    pub async fn restore(
        &self,
        tenant: &str,
        path: &SecretPath,
        audit: AuditRow,
    ) -> Result<SecretRow, SecretError> {
        let now = to_micros(self.now);
        let mut tx = self.store.begin().await?;
        let mut row = tx
            .lock_secret(tenant, path.as_str())
            .await?
            .filter(|r| r.deleted_at.is_some() && r.recoverable_until.is_some_and(|u| u > now))
            .ok_or_else(|| SecretError::NotFound(path.to_string()))?;
        row.deleted_at = None;
        row.recoverable_until = None;
        row.updated_at = now;
        tx.update_secret(&row).await?;
        let mut audit = audit;
        audit.version = Some(row.current_version);
        tx.insert_audit(&audit).await?;
        let data = serde_json::json!({
            "version": row.current_version,
            "restored_by": audit.identity_id,
        });
        self.emit(&mut *tx, &row, ev::SECRET_RESTORED, data, &audit)
            .await?;
        tx.commit().await?;
        self.bus.published(1, 1);
        self.metrics.secret_write();
        Ok(row)
    }
}
