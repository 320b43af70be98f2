//! Secret policy operations (SPEC §9): each change is one transaction that writes the policy
//! and its audit row together. A policy a rotation policy uses cannot be deleted; the row is
//! locked first, so a rotation policy naming it meanwhile (which locks it too) is seen.

use crate::store::{AuditRow, SecretPolicyRow, Store, StoreError};

/// Why a secret policy operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum SecretPolicyError {
    #[error("no secret policy '{0}'")]
    NotFound(String),
    #[error("a secret policy with that name already exists")]
    NameConflict,
    #[error("secret policy '{id}' is used by rotation policies {users:?}")]
    InUse { id: String, users: Vec<String> },
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for SecretPolicyError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(_) => SecretPolicyError::NameConflict,
            other => SecretPolicyError::Store(other),
        }
    }
}

/// The secret policy service over one store.
pub struct SecretPolicyOps<'a> {
    store: &'a dyn Store,
}

impl<'a> SecretPolicyOps<'a> {
    pub fn new(store: &'a dyn Store) -> Self {
        Self { store }
    }

    /// Stores a new policy.
    pub async fn create(
        &self,
        p: &SecretPolicyRow,
        audit: &AuditRow,
    ) -> Result<(), SecretPolicyError> {
        let mut tx = self.store.begin().await?;
        tx.insert_secret_policy(p).await?;
        tx.insert_audit(audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Saves a changed policy (it must still exist).
    pub async fn update(
        &self,
        p: &SecretPolicyRow,
        audit: &AuditRow,
    ) -> Result<(), SecretPolicyError> {
        let mut tx = self.store.begin().await?;
        if tx.lock_secret_policy(&p.tenant_id, &p.id).await?.is_none() {
            return Err(SecretPolicyError::NotFound(p.id.clone()));
        }
        tx.update_secret_policy(p).await?;
        tx.insert_audit(audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a policy no rotation policy uses.
    pub async fn delete(
        &self,
        tenant_id: &str,
        id: &str,
        audit: &AuditRow,
    ) -> Result<(), SecretPolicyError> {
        let mut tx = self.store.begin().await?;
        if tx.lock_secret_policy(tenant_id, id).await?.is_none() {
            return Err(SecretPolicyError::NotFound(id.to_string()));
        }
        let users = tx.secret_policy_users(tenant_id, id).await?;
        if !users.is_empty() {
            return Err(SecretPolicyError::InUse {
                id: id.to_string(),
                users,
            });
        }
        tx.delete_secret_policy(tenant_id, id).await?;
        tx.insert_audit(audit).await?;
        tx.commit().await?;
        Ok(())
    }
}
