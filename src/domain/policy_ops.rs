//! Rotation policy operations: each change is one transaction that checks its rules, writes the
//! policy, the affected schedules (and rotations) and the audit row together. The caller's path
//! rules (its path rules) are checked against the attached secrets' paths inside the
//! transaction, so a secret attached meanwhile is seen.

use super::access::{self, Denial};
use super::rotation;
use crate::store::{
    AuditRow, HistoryRow, PolicyRow, RotationTrigger, ScheduleRow, ScheduleStatus, Store,
    StoreError, StoreTx,
};
use chrono::{DateTime, Utc};

/// Why a policy operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("no rotation policy '{0}'")]
    NotFound(String),
    #[error("no secret at '{0}'")]
    SecretNotFound(String),
    #[error("'{path}' is not attached to {policy}")]
    NotAttached { path: String, policy: String },
    #[error("the caller's path rules do not reach every secret of the policy")]
    Denied(Denial),
    #[error("no secret policy '{0}'")]
    SecretPolicyNotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A rotation opened (or found pending) by a forced rotation.
pub struct Forced {
    pub history: HistoryRow,
    pub secret_path: String,
    /// True when this call opened it (false: rule 8 returned a pending one).
    pub opened: bool,
}

/// Who forces a rotation of what.
#[derive(Clone, Copy)]
pub struct ForceRequest<'r> {
    /// The named secrets, or `None` for every attached secret `sees` accepts.
    pub named: Option<&'r [String]>,
    pub sees: &'r (dyn Fn(&str) -> bool + Sync),
    pub actor: &'r str,
    pub request_id: Option<&'r str>,
}

/// The rotation policy service over one store.
pub struct PolicyOps<'a> {
    store: &'a dyn Store,
}

impl<'a> PolicyOps<'a> {
    pub fn new(store: &'a dyn Store) -> Self {
        Self { store }
    }

    /// Stores a new policy (a duplicate name is `PolicyError::Store(StoreError::Conflict)`).
    pub async fn create(&self, p: &PolicyRow, audit: &AuditRow) -> Result<(), PolicyError> {
        let mut tx = self.store.begin().await?;
        secret_policy_check(&mut *tx, p).await?;
        tx.insert_policy(p).await?;
        tx.insert_audit(audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Saves a changed policy and recomputes its secrets' schedules.
    pub async fn save(
        &self,
        p: &PolicyRow,
        audit: &AuditRow,
        now: DateTime<Utc>,
        rules: &[String],
    ) -> Result<(), PolicyError> {
        let mut tx = self.store.begin().await?;
        attached_check(&mut *tx, &p.tenant_id, &p.id, rules).await?;
        secret_policy_check(&mut *tx, p).await?;
        tx.update_policy(p).await?;
        for mut s in tx.schedules_of_policy(&p.tenant_id, &p.id).await? {
            rotation::reschedule(&mut s, p, now);
            tx.upsert_schedule(&s).await?;
        }
        tx.insert_audit(audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a policy (its secrets are detached).
    pub async fn delete(
        &self,
        tenant_id: &str,
        id: &str,
        audit: &AuditRow,
        rules: &[String],
    ) -> Result<(), PolicyError> {
        let mut tx = self.store.begin().await?;
        attached_check(&mut *tx, tenant_id, id, rules).await?;
        if !tx.delete_policy(tenant_id, id).await? {
            return Err(PolicyError::NotFound(id.to_string()));
        }
        tx.insert_audit(audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Attaches a live secret to `p` (moving it from any other policy); `audit` gets the
    /// secret's current version.
    pub async fn attach(
        &self,
        p: &PolicyRow,
        path: &str,
        now: DateTime<Utc>,
        audit: impl FnOnce(i64) -> AuditRow,
    ) -> Result<ScheduleRow, PolicyError> {
        let mut tx = self.store.begin().await?;
        let mut secret = tx
            .lock_secret(&p.tenant_id, path)
            .await?
            .filter(|s| s.deleted_at.is_none())
            .ok_or_else(|| PolicyError::SecretNotFound(path.to_string()))?;
        let schedule = rotation::attach(p, &secret, now);
        tx.upsert_schedule(&schedule).await?;
        secret.rotation_policy_id = Some(p.id.clone());
        tx.update_secret(&secret).await?;
        tx.insert_audit(&audit(secret.current_version)).await?;
        tx.commit().await?;
        Ok(schedule)
    }

    /// Detaches a secret from policy `id`.
    pub async fn detach(
        &self,
        tenant_id: &str,
        id: &str,
        path: &str,
        audit: &AuditRow,
    ) -> Result<(), PolicyError> {
        let mut tx = self.store.begin().await?;
        let mut secret = tx
            .lock_secret(tenant_id, path)
            .await?
            .ok_or_else(|| PolicyError::SecretNotFound(path.to_string()))?;
        match tx.lock_schedule(&secret.id).await? {
            Some(s) if s.policy_id == id => {}
            _ => {
                return Err(PolicyError::NotAttached {
                    path: path.to_string(),
                    policy: id.to_string(),
                })
            }
        }
        tx.delete_schedule(&secret.id).await?;
        secret.rotation_policy_id = None;
        tx.update_secret(&secret).await?;
        tx.insert_audit(audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forces a rotation of the named secrets of `p`, or of every attached live secret the
    /// request `sees`. A pending rotation is returned as it is (rule 8). `audit` builds
    /// the row of each rotation opened.
    pub async fn force(
        &self,
        p: &PolicyRow,
        req: &ForceRequest<'_>,
        now: DateTime<Utc>,
        audit: &(dyn Fn(&str, i64, &HistoryRow) -> AuditRow + Sync),
    ) -> Result<Vec<Forced>, PolicyError> {
        let ForceRequest {
            named,
            sees,
            actor,
            request_id,
        } = *req;
        let mut tx = self.store.begin().await?;
        let mut targets = Vec::new();
        match named {
            None => {
                for s in tx.schedules_of_policy(&p.tenant_id, &p.id).await? {
                    if let Some(secret) = tx
                        .secret_by_id(&s.secret_id)
                        .await?
                        .filter(|x| x.deleted_at.is_none() && sees(&x.path))
                    {
                        targets.push(secret);
                    }
                }
            }
            Some(paths) => {
                for path in paths {
                    let secret = tx
                        .lock_secret(&p.tenant_id, path)
                        .await?
                        .filter(|s| s.deleted_at.is_none())
                        .ok_or_else(|| PolicyError::SecretNotFound(path.clone()))?;
                    targets.push(secret);
                }
            }
        }
        let mut out = Vec::new();
        for secret in &targets {
            let Some(mut s) = tx
                .lock_schedule(&secret.id)
                .await?
                .filter(|s| s.policy_id == p.id)
            else {
                return Err(PolicyError::NotAttached {
                    path: secret.path.clone(),
                    policy: p.id.clone(),
                });
            };
            if s.status != ScheduleStatus::Scheduled {
                // Rule 8: a pending rotation is returned, not opened twice.
                if let Some(h) = match &s.history_id {
                    Some(hid) => tx.get_history(hid).await?,
                    None => None,
                } {
                    out.push(Forced {
                        history: h,
                        secret_path: secret.path.clone(),
                        opened: false,
                    });
                    continue;
                }
            }
            let h = rotation::open(
                &mut *tx,
                &mut s,
                p,
                secret,
                RotationTrigger::Manual,
                now,
                actor,
                request_id,
            )
            .await?;
            tx.insert_audit(&audit(&secret.path, secret.current_version, &h))
                .await?;
            out.push(Forced {
                history: h,
                secret_path: secret.path.clone(),
                opened: true,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    /// The stored state of history items (after auto-generated rotations ran).
    pub async fn refresh(&self, items: Vec<HistoryRow>) -> Result<Vec<HistoryRow>, StoreError> {
        let mut tx = self.store.begin().await?;
        let mut out = Vec::with_capacity(items.len());
        for h in items {
            out.push(tx.get_history(&h.id).await?.unwrap_or(h));
        }
        tx.commit().await?;
        Ok(out)
    }
}

/// Fails unless the secret policy `p` names (if any) exists; it stays locked until `tx` ends,
/// so it cannot be deleted under a policy that is starting to use it.
async fn secret_policy_check(tx: &mut dyn StoreTx, p: &PolicyRow) -> Result<(), PolicyError> {
    match &p.secret_policy_id {
        Some(id) if tx.lock_secret_policy(&p.tenant_id, id).await?.is_none() => {
            Err(PolicyError::SecretPolicyNotFound(id.clone()))
        }
        _ => Ok(()),
    }
}

/// Fails unless every secret attached to policy `id` lies inside the caller's path `rules`
/// (read inside `tx`; no rules reach everything, and nothing is read).
async fn attached_check(
    tx: &mut dyn StoreTx,
    tenant_id: &str,
    id: &str,
    rules: &[String],
) -> Result<(), PolicyError> {
    if rules.is_empty() {
        return Ok(());
    }
    let attached = tx.attached_paths(tenant_id, id).await?;
    access::paths_within(rules, &attached).map_err(PolicyError::Denied)
}
