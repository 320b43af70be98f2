//! Secret operations: each one transaction that checks the rules, seals the value, writes the
//! rows and its audit row together. No HTTP and no SQL here: `Store`/`StoreTx` speak domain.

use super::events::{self as ev, NewEvent};
use super::ids::new_id;
use super::path::SecretPath;
use super::secret::{
    prune_floor, Metadata, MetadataPatch, SecretType, DEFAULT_MAX_VERSIONS,
    SOFT_DELETE_RETENTION_DAYS,
};
use crate::bus::EventBus;
use crate::clock::{from_micros, rfc3339, to_micros};
use crate::crypto::envelope::{open, seal, secret_binding, OpenError, Sealed};
use crate::crypto::KeyRing;
use crate::store::{AuditRow, SecretRow, Store, StoreError, StoreTx, VersionRow};
use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

/// Why a secret operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("no secret at '{0}'")]
    NotFound(String),
    #[error("version {version} of '{path}' does not exist")]
    VersionNotFound { path: String, version: i64 },
    #[error("version {version} of '{path}' is past its grace period")]
    VersionExpired { path: String, version: i64 },
    #[error("check-and-set failed: expected version {expected}, current is {current}")]
    VersionConflict { expected: i64, current: i64 },
    #[error(
        "'{0}' is soft-deleted and still restorable: restore it first, or delete it permanently"
    )]
    SoftDeleted(String),
    #[error("the stored value of '{0}' could not be decrypted")]
    Undecryptable(String),
    #[error("no rotation policy '{0}'")]
    PolicyNotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The option fields of a write; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub max_versions: Option<i64>,
    pub cas: Option<i64>,
    /// `Some(None)` clears the expiry.
    pub expires_at: Option<Option<DateTime<Utc>>>,
    pub notify_before: Option<String>,
    pub rotation_policy_id: Option<String>,
}

/// A new version to store.
pub struct WriteRequest {
    pub tenant_id: String,
    pub path: SecretPath,
    /// The serialized JSON object.
    pub value: Zeroizing<Vec<u8>>,
    pub secret_type: Option<SecretType>,
    pub metadata: MetadataPatch,
    pub options: WriteOptions,
    pub actor: String,
    /// Written by the scheduler's auto-generation (reported in `secret.rotated`).
    pub auto_generated: bool,
}

/// What a write did.
#[derive(Debug)]
pub struct WriteOutcome {
    pub secret: SecretRow,
    pub created: bool,
    pub old_version: Option<i64>,
}

/// A decrypted secret version.
pub struct ReadSecret {
    pub secret: SecretRow,
    pub version: i64,
    pub version_created_at: i64,
    pub value: Zeroizing<Vec<u8>>,
}

/// Shared handles every operation needs.
pub struct Ops<'a> {
    pub store: &'a dyn Store,
    pub keys: &'a KeyRing,
    pub now: DateTime<Utc>,
    /// Woken after commits that stored events.
    pub bus: &'a EventBus,
    /// Counts committed writes and completed rotations.
    pub metrics: &'a crate::metrics::Metrics,
}

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

    async fn write_once(
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

        let sealed = seal(
            self.keys,
            &secret_binding(&req.tenant_id, req.path.as_str(), version),
            &req.value,
        );
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
            is_rotation: 0,
            readable_until: None,
        })
        .await?;
        if let Some(p) = &policy {
            let attached = tx.lock_schedule(&row.id).await?;
            if attached.as_ref().is_none_or(|s| s.policy_id != p.id) {
                tx.upsert_schedule(&super::rotation::attach(p, &row, self.now))
                    .await?;
            }
        }
        super::expiry::sync(&mut *tx, &row, self.now).await?;
        let completion = if created {
            None
        } else {
            super::rotation::complete_on_write(
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
        super::outbox::emit(&mut *tx, &events, self.now).await?;
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

    /// Reads the current version, or version `n`.
    pub async fn read(
        &self,
        tenant: &str,
        path: &SecretPath,
        n: Option<i64>,
    ) -> Result<ReadSecret, SecretError> {
        let Some(entry) = self
            .store
            .read_secret_cached(tenant, path.as_str(), n)
            .await?
        else {
            // Not found: ask again without the cache, to tell which part is missing.
            let (secret, v) = self.read_uncached(tenant, path, n).await?;
            return self.open_version(tenant, path, n, &secret, &v).await;
        };
        match self.open_version(tenant, path, n, &entry.0, &entry.1).await {
            // A cached copy may predate a change made behind this process's back (an
            // operator's SQL on SQLite, or a notification still on its way): read again.
            Err(SecretError::Undecryptable(_)) => {
                let (secret, v) = self.read_uncached(tenant, path, n).await?;
                self.open_version(tenant, path, n, &secret, &v).await
            }
            other => other,
        }
    }

    /// Checks a version may still be read, and decrypts it.
    async fn open_version(
        &self,
        tenant: &str,
        path: &SecretPath,
        n: Option<i64>,
        secret: &SecretRow,
        v: &VersionRow,
    ) -> Result<ReadSecret, SecretError> {
        if n.is_some_and(|n| n != secret.current_version)
            && v.readable_until.is_some_and(|u| u <= to_micros(self.now))
        {
            return Err(SecretError::VersionExpired {
                path: path.to_string(),
                version: v.version,
            });
        }
        let sealed = Sealed {
            ciphertext: v.ciphertext.clone(),
            wrapped_key: v.wrapped_key.clone(),
            key_id: v.key_id.clone(),
        };
        let binding = secret_binding(tenant, path.as_str(), v.version);
        if self.keys.get(&sealed.key_id).is_none() {
            // Sealed under a key version rotated in by another process: load it.
            if let Err(e) = crate::domain::master_keys::refresh(self.store, self.keys).await {
                tracing::error!(error.cause = %e, "could not load the master key versions");
            }
        }
        let value = open(self.keys, &binding, &sealed)
            .map_err(|e| {
                match &e {
                    OpenError::UnknownKey(id) => {
                        tracing::error!(secret.path = %path, key_id = %id, "value sealed by a master key that is not loaded")
                    }
                    OpenError::Integrity => {
                        tracing::error!(secret.path = %path, version = v.version, "stored value failed its integrity check")
                    }
                }
                SecretError::Undecryptable(path.to_string())
            })?;
        Ok(ReadSecret {
            version: v.version,
            version_created_at: v.created_at,
            secret: secret.clone(),
            value,
        })
    }

    /// The secret and version straight from the store, with the error naming what is missing.
    async fn read_uncached(
        &self,
        tenant: &str,
        path: &SecretPath,
        n: Option<i64>,
    ) -> Result<(SecretRow, VersionRow), SecretError> {
        let not_found = || SecretError::NotFound(path.to_string());
        match n {
            None => self
                .store
                .get_secret_with_current(tenant, path.as_str())
                .await?
                .ok_or_else(not_found),
            Some(n) => {
                let secret = self
                    .store
                    .get_secret(tenant, path.as_str())
                    .await?
                    .ok_or_else(not_found)?;
                let v = self
                    .store
                    .get_version(&secret.id, n)
                    .await?
                    .ok_or_else(|| SecretError::VersionNotFound {
                        path: path.to_string(),
                        version: n,
                    })?;
                Ok((secret, v))
            }
        }
    }

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
        super::expiry::sync(&mut *tx, &row, self.now).await?;
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

    /// Writes one secret event (and its deliveries) into the open transaction.
    async fn emit(
        &self,
        tx: &mut dyn StoreTx,
        row: &SecretRow,
        event_type: &'static str,
        data: serde_json::Value,
        audit: &AuditRow,
    ) -> Result<(), SecretError> {
        let event = secret_event(row, event_type, data, audit);
        super::outbox::emit(tx, &[event], self.now).await?;
        Ok(())
    }
}

/// A secret event about `row`, attributed like its audit row.
fn secret_event(
    row: &SecretRow,
    event_type: &'static str,
    data: serde_json::Value,
    audit: &AuditRow,
) -> NewEvent {
    NewEvent {
        tenant_id: row.tenant_id.clone(),
        event_type,
        identity_id: Some(audit.identity_id.clone()),
        path: Some(row.path.clone()),
        data,
        request_id: audit.request_id.clone(),
        secret_type: Some(row.secret_type.clone()),
        tags: tags_of(row),
        policy_webhook_ids: Vec::new(),
    }
}

async fn live(
    tx: &mut dyn StoreTx,
    tenant: &str,
    path: &SecretPath,
) -> Result<SecretRow, SecretError> {
    tx.lock_secret(tenant, path.as_str())
        .await?
        .filter(|r| r.deleted_at.is_none())
        .ok_or_else(|| SecretError::NotFound(path.to_string()))
}

fn new_secret_row(req: &WriteRequest, now: i64) -> SecretRow {
    SecretRow {
        id: new_id("sec_"),
        tenant_id: req.tenant_id.clone(),
        path: req.path.to_string(),
        secret_type: SecretType::Json.as_str().to_string(),
        description: None,
        owner: None,
        tags: "[]".into(),
        custom: "{}".into(),
        max_versions: DEFAULT_MAX_VERSIONS,
        current_version: 0,
        created_at: now,
        created_by: req.actor.clone(),
        updated_at: now,
        expires_at: None,
        notify_before: None,
        rotation_policy_id: None,
        deleted_at: None,
        recoverable_until: None,
    }
}

fn apply_write(row: &mut SecretRow, req: &WriteRequest, now: i64) {
    if let Some(t) = req.secret_type {
        row.secret_type = t.as_str().to_string();
    }
    if !req.metadata.is_empty() {
        let merged = req.metadata.apply(&metadata_of(row));
        set_metadata(row, &merged);
    }
    apply_options(row, &req.options);
    row.updated_at = now;
}

fn apply_options(row: &mut SecretRow, o: &WriteOptions) {
    if let Some(m) = o.max_versions {
        row.max_versions = m;
    }
    if let Some(e) = o.expires_at {
        row.expires_at = e.map(to_micros);
    }
    if let Some(n) = &o.notify_before {
        row.notify_before = Some(n.clone());
    }
    if let Some(p) = &o.rotation_policy_id {
        row.rotation_policy_id = Some(p.clone());
    }
}

/// The metadata stored in a row.
pub fn metadata_of(row: &SecretRow) -> Metadata {
    Metadata {
        description: row.description.clone(),
        tags: serde_json::from_str(&row.tags).unwrap_or_default(),
        owner: row.owner.clone(),
        custom: serde_json::from_str(&row.custom).unwrap_or_default(),
    }
}

fn tags_of(row: &SecretRow) -> Vec<String> {
    serde_json::from_str(&row.tags).unwrap_or_default()
}

fn set_metadata(row: &mut SecretRow, m: &Metadata) {
    row.description = m.description.clone();
    row.owner = m.owner.clone();
    row.tags = serde_json::to_string(&m.tags).unwrap_or_else(|_| "[]".into());
    row.custom = serde_json::to_string(&m.custom).unwrap_or_else(|_| "{}".into());
}
