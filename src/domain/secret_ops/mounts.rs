//! Vault mounts (SPEC §12): creating one, and deleting one with every secret under it, each in
//! one transaction with its audit rows and `secret.deleted` events.

use crate::clock::to_micros;
use crate::domain::events::{self as ev};
use crate::domain::kv_mounts::prefix_of;
use crate::store::{AuditRow, MountRow};

use super::*;

/// Why a mount change was refused.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error("path is already in use at {0}/")]
    Exists(String),
    #[error("no mount at {0}/")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Ops<'_> {
    /// Creates mount `name` (checked by `kv_mounts::parse_name`).
    pub async fn create_mount(
        &self,
        tenant: &str,
        name: &str,
        audit: AuditRow,
    ) -> Result<MountRow, MountError> {
        let row = MountRow {
            tenant_id: tenant.to_string(),
            name: name.to_string(),
            created_at: to_micros(self.now),
            created_by: audit.identity_id.clone(),
        };
        let mut tx = self.store.begin().await?;
        if self.store.get_mount(tenant, name).await?.is_some() {
            return Err(MountError::Exists(name.to_string()));
        }
        match tx.insert_mount(&row).await {
            Err(StoreError::Conflict(_)) => return Err(MountError::Exists(name.to_string())),
            other => other?,
        }
        tx.insert_audit(&audit).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Deletes mount `name` and destroys every secret under its prefix (each with a `destroy`
    /// audit row and a permanent `secret.deleted` event); returns how many were destroyed.
    pub async fn delete_mount(
        &self,
        tenant: &str,
        name: &str,
        mut audit: AuditRow,
    ) -> Result<usize, MountError> {
        let mut tx = self.store.begin().await?;
        if !tx.delete_mount(tenant, name).await? {
            return Err(MountError::NotFound(name.to_string()));
        }
        let doomed = tx.lock_secrets_under(tenant, &prefix_of(name)).await?;
        let mut events = Vec::with_capacity(doomed.len());
        for row in &doomed {
            let count = tx.count_versions(&row.id).await?;
            tx.delete_secret(&row.id).await?;
            let mut destroyed = audit.clone();
            destroyed.id = crate::domain::ids::new_time_ordered_id("log_", audit.ts);
            destroyed.action = crate::audit::action::DESTROY.to_string();
            destroyed.secret_path = Some(row.path.clone());
            destroyed.version = Some(row.current_version);
            destroyed.status_code = 204;
            destroyed.extra_data = serde_json::json!({ "mount": name }).to_string();
            tx.insert_audit(&destroyed).await?;
            let data = serde_json::json!({
                "version_count": count,
                "deleted_by": audit.identity_id,
                "permanent": true,
                "recoverable_until": null,
            });
            events.push(secret_event(row, ev::SECRET_DELETED, data, &destroyed));
        }
        audit.extra_data =
            serde_json::json!({ "mount": name, "secrets_destroyed": doomed.len() }).to_string();
        tx.insert_audit(&audit).await?;
        let (rows, deliveries) = crate::domain::outbox::emit(&mut *tx, &events, self.now).await?;
        tx.commit().await?;
        if !rows.is_empty() {
            self.bus.published(rows.len(), deliveries);
            self.metrics.secret_write();
        }
        Ok(doomed.len())
    }
}
