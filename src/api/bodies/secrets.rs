//! `/v1/secrets` response bodies (SPEC §3), built from stored rows. `data` appears only in
//! reads. The request bodies are in `secret_requests`.

use super::common::SecretTypeName;
use super::common::{opt_ts, ts};
use crate::domain::secret_ops::metadata_of;
use crate::store::{ScheduleRow, SecretRow, VersionInfo, VersionReads};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

pub use super::secret_requests::*;

/// Metadata as stored.
#[derive(Serialize, ToSchema)]
pub struct Metadata {
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub owner: Option<String>,
    #[schema(value_type = Object)]
    pub custom: BTreeMap<String, serde_json::Value>,
}

/// The rotation state of a secret under a policy.
#[derive(Serialize, ToSchema)]
pub struct RotationState {
    pub policy_id: String,
    pub last_rotated_at: String,
    pub next_rotation_at: String,
    /// `scheduled`, `pending` or `overdue`.
    pub status: String,
}

/// The answer to a write (never the data).
#[derive(Serialize, ToSchema)]
pub struct SecretWritten {
    pub path: String,
    pub version: i64,
    pub created_at: String,
    #[schema(value_type = SecretTypeName)]
    pub secret_type: String,
    pub metadata: Metadata,
}

/// A read of one version.
#[derive(Serialize, ToSchema)]
pub struct SecretRead {
    pub path: String,
    pub version: i64,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    #[schema(value_type = SecretTypeName)]
    pub secret_type: String,
    pub metadata: Metadata,
    pub created_at: String,
    pub updated_at: String,
    pub version_created_at: String,
    pub expires_at: Option<String>,
    pub rotation_policy_id: Option<String>,
    pub rotation: Option<RotationState>,
}

/// Everything about a secret but its value.
#[derive(Serialize, ToSchema)]
pub struct SecretInfo {
    pub path: String,
    pub version: i64,
    #[schema(value_type = SecretTypeName)]
    pub secret_type: String,
    pub metadata: Metadata,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
    pub expires_at: Option<String>,
    pub notify_before: Option<String>,
    pub max_versions: i64,
    /// Every successful read emits `secret.accessed`.
    pub alert_on_read: bool,
    pub rotation_policy_id: Option<String>,
    pub rotation: Option<RotationState>,
    /// Only in `GET …/metadata`.
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_count: Option<i64>,
}

/// `GET /v1/secrets`.
#[derive(Serialize, ToSchema)]
pub struct SecretList {
    pub secrets: Vec<SecretInfo>,
    pub has_more: bool,
    pub cursor: Option<String>,
}

/// One version, newest first.
#[derive(Serialize, ToSchema)]
pub struct VersionEntry {
    pub version: i64,
    pub is_current: bool,
    pub created_at: String,
    pub created_by: String,
    pub is_rotation: bool,
    /// End of the grace period of a superseded version, if any.
    pub readable_until: Option<String>,
    /// The last successful read of this version (null if never, or read auditing is off).
    pub last_read_at: Option<String>,
    /// Distinct identities that read this version in the last 24 hours.
    pub readers_24h: i64,
}

/// `GET /v1/secrets/{path}/versions`.
#[derive(Serialize, ToSchema)]
pub struct VersionList {
    pub path: String,
    pub versions: Vec<VersionEntry>,
}

/// The answer to a delete.
#[derive(Serialize, ToSchema)]
pub struct SecretDeleted {
    pub path: String,
    pub deleted: bool,
    pub permanent: bool,
    pub version_count: i64,
    pub deleted_at: Option<String>,
    /// Null for a permanent delete.
    pub recoverable_until: Option<String>,
}

/// The answer to a restore.
#[derive(Serialize, ToSchema)]
pub struct SecretRestored {
    pub path: String,
    pub version: i64,
    pub restored: bool,
    pub restored_at: String,
}

/// One secret of a batch.
#[derive(Serialize, ToSchema)]
pub struct BatchEntry {
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub version: i64,
    #[schema(value_type = SecretTypeName)]
    pub secret_type: String,
    /// With `include_metadata`.
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// One failed path of a batch.
#[derive(Serialize, ToSchema)]
pub struct BatchError {
    pub code: super::common::ErrorCode,
    pub message: String,
}

/// The answer to a batch read: per path, a secret or an error.
#[derive(Serialize, ToSchema)]
pub struct BatchResult {
    pub secrets: BTreeMap<String, BatchEntry>,
    pub errors: BTreeMap<String, BatchError>,
}

impl From<&SecretRow> for Metadata {
    fn from(row: &SecretRow) -> Self {
        let m = metadata_of(row);
        Metadata {
            description: m.description,
            tags: m.tags,
            owner: m.owner,
            custom: m.custom,
        }
    }
}

impl From<&ScheduleRow> for RotationState {
    fn from(s: &ScheduleRow) -> Self {
        RotationState {
            policy_id: s.policy_id.clone(),
            last_rotated_at: ts(s.last_rotated_at),
            next_rotation_at: ts(s.next_rotation_at),
            status: s.status.as_str().to_string(),
        }
    }
}

impl From<&SecretRow> for SecretWritten {
    fn from(row: &SecretRow) -> Self {
        SecretWritten {
            path: row.path.clone(),
            version: row.current_version,
            created_at: ts(row.updated_at),
            secret_type: row.secret_type.as_str().to_string(),
            metadata: row.into(),
        }
    }
}

impl SecretInfo {
    /// Everything but the value; `version_count` only for `GET …/metadata`.
    pub fn of(row: &SecretRow, version_count: Option<i64>, schedule: Option<&ScheduleRow>) -> Self {
        SecretInfo {
            path: row.path.clone(),
            version: row.current_version,
            secret_type: row.secret_type.as_str().to_string(),
            metadata: row.into(),
            created_at: ts(row.created_at),
            created_by: row.created_by.clone(),
            updated_at: ts(row.updated_at),
            expires_at: opt_ts(row.expires_at),
            notify_before: row.notify_before.clone(),
            max_versions: row.max_versions,
            alert_on_read: row.alert_on_read,
            rotation_policy_id: schedule.map(|s| s.policy_id.clone()),
            rotation: schedule.map(RotationState::from),
            version_count,
        }
    }

    /// About how many bytes this secret takes in a listing: its stored metadata plus the
    /// fixed fields.
    pub fn listed_size(row: &SecretRow) -> usize {
        const FIXED: usize = 512;
        FIXED
            + row.path.len()
            + row.custom.len()
            + row.tags.len()
            + row.description.as_ref().map_or(0, String::len)
            + row.owner.as_ref().map_or(0, String::len)
            + row.notify_before.as_ref().map_or(0, String::len)
    }
}

impl SecretRead {
    /// A read: the value of `version` with the secret's metadata.
    pub fn of(
        row: &SecretRow,
        version: i64,
        version_created_at: i64,
        data: serde_json::Value,
        schedule: Option<&ScheduleRow>,
    ) -> Self {
        SecretRead {
            path: row.path.clone(),
            version,
            data,
            secret_type: row.secret_type.as_str().to_string(),
            metadata: row.into(),
            created_at: ts(row.created_at),
            updated_at: ts(row.updated_at),
            version_created_at: ts(version_created_at),
            expires_at: opt_ts(row.expires_at),
            rotation_policy_id: schedule.map(|s| s.policy_id.clone()),
            rotation: schedule.map(RotationState::from),
        }
    }
}

impl VersionEntry {
    /// One entry of `/versions`, with how it was read (`reads`: from the audit log).
    pub fn of(v: &VersionInfo, current: i64, reads: Option<&VersionReads>) -> Self {
        VersionEntry {
            last_read_at: opt_ts(reads.and_then(|r| r.last_read_at)),
            readers_24h: reads.map_or(0, |r| r.readers_recent),
            version: v.version,
            is_current: v.version == current,
            created_at: ts(v.created_at),
            created_by: v.created_by.clone(),
            is_rotation: v.is_rotation,
            readable_until: opt_ts(v.readable_until),
        }
    }
}

impl SecretDeleted {
    /// The answer to a delete.
    pub fn of(row: &SecretRow, version_count: i64, permanent: bool) -> Self {
        SecretDeleted {
            path: row.path.clone(),
            deleted: true,
            permanent,
            version_count,
            deleted_at: opt_ts(row.deleted_at),
            recoverable_until: if permanent {
                None
            } else {
                opt_ts(row.recoverable_until)
            },
        }
    }
}
