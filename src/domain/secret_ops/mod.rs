//! Secret operations: each one transaction that checks the rules, seals the value, writes the
//! rows and its audit row together. No HTTP and no SQL here: `Store`/`StoreTx` speak domain.

use crate::bus::EventBus;
use crate::clock::to_micros;
use crate::crypto::KeyRing;
use crate::domain::events::NewEvent;
use crate::domain::ids::new_id;
use crate::domain::path::SecretPath;
use crate::domain::secret::{Metadata, MetadataPatch, SecretType, DEFAULT_MAX_VERSIONS};
use crate::store::{AuditRow, SecretRow, Store, StoreError, StoreTx};
use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

mod lifecycle;
mod mounts;
mod read;
mod read_alerts;
mod write;

pub use mounts::MountError;

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
    /// Every successful read emits `secret.accessed` (SPEC §11).
    pub alert_on_read: Option<bool>,
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
    /// When a superseded version stops being readable (its grace period's end).
    pub readable_until: Option<i64>,
    pub value: Zeroizing<Vec<u8>>,
}

impl ReadSecret {
    /// This read as a read alert wants it: `[(secret, version)]` when the secret is flagged
    /// `alert_on_read`, else empty.
    pub fn alert(&self) -> Vec<(&SecretRow, i64)> {
        if self.secret.alert_on_read {
            vec![(&self.secret, self.version)]
        } else {
            Vec::new()
        }
    }
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
        crate::domain::outbox::emit(tx, &[event], self.now).await?;
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
        secret_type: Some(row.secret_type),
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
        secret_type: SecretType::Json,
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
        alert_on_read: false,
    }
}

fn apply_write(row: &mut SecretRow, req: &WriteRequest, now: i64) {
    if let Some(t) = req.secret_type {
        row.secret_type = t;
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
    if let Some(a) = o.alert_on_read {
        row.alert_on_read = a;
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
