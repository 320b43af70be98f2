//! `/v1/secrets` bodies (SPEC §3). `data` appears only in reads.

use super::common::SecretTypeName;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// `PUT /v1/secrets/{path}`.
#[derive(Serialize, ToSchema)]
pub struct SecretWrite {
    /// The value: a JSON object (encrypted at rest; at most 512 KiB).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// Defaults to `json` on the first write; kept afterwards.
    pub secret_type: Option<SecretTypeName>,
    pub metadata: Option<MetadataInput>,
    pub options: Option<WriteOptions>,
}

/// Metadata as sent; omitted fields keep their stored values, `null` clears.
#[derive(Serialize, ToSchema)]
pub struct MetadataInput {
    #[schema(max_length = 1024)]
    pub description: Option<String>,
    /// At most 50 tags of 1 to 128 characters.
    #[schema(max_items = 50)]
    pub tags: Option<Vec<String>>,
    #[schema(max_length = 256)]
    pub owner: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub custom: Option<serde_json::Value>,
}

/// Write options.
#[derive(Serialize, ToSchema)]
pub struct WriteOptions {
    /// Versions kept (default 10).
    #[schema(minimum = 1, maximum = 100)]
    pub max_versions: Option<i64>,
    /// Check-and-set: write only if the current version is this (0 = only if absent);
    /// the `If-Match` header does the same.
    #[schema(minimum = 0)]
    pub cas: Option<i64>,
    /// A duration such as `90d` (`<int><s|m|h|d|w>`, at most 100 years); not with `expires_at`.
    #[schema(example = "90d", pattern = "^[1-9][0-9]{0,4}[smhdw]$")]
    pub expires_in: Option<String>,
    /// An RFC 3339 time in the future; not with `expires_in`; `null` clears.
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    /// Comma-separated durations such as `30d,7d,1d`.
    #[schema(
        example = "30d,7d,1d",
        pattern = "^[1-9][0-9]{0,4}[smhdw](,[1-9][0-9]{0,4}[smhdw]){0,9}$"
    )]
    pub notify_before: Option<String>,
    /// Attaches the secret to this rotation policy (`rot_…`).
    pub rotation_policy_id: Option<String>,
}

/// `PATCH /v1/secrets/{path}/metadata`: changes metadata without a new version. The metadata
/// fields may also be sent bare (`{"tags":[…]}`).
#[derive(Serialize, ToSchema)]
pub struct MetadataPatch {
    pub metadata: Option<MetadataInput>,
    pub options: Option<PatchOptions>,
}

/// Options a metadata patch may change.
#[derive(Serialize, ToSchema)]
pub struct PatchOptions {
    /// Change only if the current version is this one (else 409 `version_conflict`).
    #[schema(minimum = 0)]
    pub cas: Option<i64>,
    #[schema(minimum = 1, maximum = 100)]
    pub max_versions: Option<i64>,
    #[schema(example = "90d", pattern = "^[1-9][0-9]{0,4}[smhdw]$")]
    pub expires_in: Option<String>,
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    #[schema(
        example = "30d,7d,1d",
        pattern = "^[1-9][0-9]{0,4}[smhdw](,[1-9][0-9]{0,4}[smhdw]){0,9}$"
    )]
    pub notify_before: Option<String>,
}

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
    pub secret_type: SecretTypeName,
    pub metadata: Metadata,
}

/// A read of one version.
#[derive(Serialize, ToSchema)]
pub struct SecretRead {
    pub path: String,
    pub version: i64,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub secret_type: SecretTypeName,
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
    pub secret_type: SecretTypeName,
    pub metadata: Metadata,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
    pub expires_at: Option<String>,
    pub notify_before: Option<String>,
    pub max_versions: i64,
    pub rotation_policy_id: Option<String>,
    pub rotation: Option<RotationState>,
    /// Only in `GET …/metadata`.
    #[schema(nullable = false)]
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

/// `POST /v1/secrets/batch`.
#[derive(Serialize, ToSchema)]
pub struct BatchRead {
    #[schema(min_items = 1, max_items = 100)]
    pub paths: Vec<String>,
    pub options: Option<BatchOptions>,
}

/// Batch options.
#[derive(Serialize, ToSchema)]
pub struct BatchOptions {
    pub include_metadata: Option<bool>,
    pub fail_fast: Option<bool>,
    #[schema(minimum = 1)]
    pub version: Option<i64>,
}

/// One secret of a batch.
#[derive(Serialize, ToSchema)]
pub struct BatchEntry {
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub version: i64,
    pub secret_type: SecretTypeName,
    /// With `include_metadata`.
    #[schema(nullable = false)]
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
