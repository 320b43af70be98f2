//! `/v1/rotation` bodies (SPEC §4).

use serde::Serialize;
use utoipa::ToSchema;

/// `POST /v1/rotation/policies` body.
#[derive(Serialize, ToSchema)]
pub struct PolicyCreate {
    /// Unique per tenant; the id is `rot_<name>`.
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,62}$")]
    pub name: String,
    /// A duration such as `90d`.
    #[schema(example = "90d", pattern = "^[1-9][0-9]{0,4}[smhdw]$")]
    pub interval: String,
    #[schema(max_length = 1024)]
    pub description: Option<String>,
    /// Default `48h`.
    #[schema(example = "48h", pattern = "^[1-9][0-9]{0,4}[smhdw]$")]
    pub grace_period: Option<String>,
    /// Warnings before each rotation, e.g. `7d,1d` (a JSON list of durations is accepted too;
    /// empty or null = none).
    #[schema(
        example = "7d,1d",
        pattern = "^$|^[1-9][0-9]{0,4}[smhdw](,[1-9][0-9]{0,4}[smhdw]){0,9}$"
    )]
    pub warn_before: Option<String>,
    /// Let the server write the new value itself (default false).
    pub auto_generate: Option<bool>,
    /// Webhooks that also receive this policy's rotation events.
    pub webhook_ids: Option<Vec<String>>,
}

/// `PATCH /v1/rotation/policies/{id}` body (the name cannot change).
#[derive(Serialize, ToSchema)]
pub struct PolicyPatch {
    #[schema(example = "90d", pattern = "^[1-9][0-9]{0,4}[smhdw]$")]
    pub interval: Option<String>,
    #[schema(max_length = 1024)]
    pub description: Option<String>,
    #[schema(example = "48h", pattern = "^[1-9][0-9]{0,4}[smhdw]$")]
    pub grace_period: Option<String>,
    #[schema(
        example = "7d,1d",
        pattern = "^$|^[1-9][0-9]{0,4}[smhdw](,[1-9][0-9]{0,4}[smhdw]){0,9}$"
    )]
    pub warn_before: Option<String>,
    pub auto_generate: Option<bool>,
    pub webhook_ids: Option<Vec<String>>,
}

/// A rotation policy.
#[derive(Serialize, ToSchema)]
pub struct Policy {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub interval: String,
    pub interval_seconds: i64,
    pub grace_period: String,
    pub grace_period_seconds: i64,
    pub warn_before: String,
    pub auto_generate: bool,
    pub webhook_ids: Vec<String>,
    pub is_active: bool,
    pub secrets_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// `GET /v1/rotation/policies`.
#[derive(Serialize, ToSchema)]
pub struct PolicyList {
    pub data: Vec<Policy>,
    pub has_more: bool,
    pub cursor: Option<String>,
}

/// `POST …/secrets` body.
#[derive(Serialize, ToSchema)]
pub struct AttachRequest {
    #[schema(pattern = "^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,9}$", max_length = 512)]
    pub secret_path: String,
}

/// A secret attached to a policy.
#[derive(Serialize, ToSchema)]
pub struct Attachment {
    pub policy_id: String,
    pub secret_path: String,
    pub assigned_at: String,
    pub last_rotated_at: String,
    pub next_rotation_at: String,
}

/// `POST …/rotate` body; without `secret_paths`, every attached secret.
#[derive(Serialize, ToSchema)]
pub struct RotateRequest {
    pub secret_paths: Option<Vec<String>>,
}

/// One rotation of one secret.
#[derive(Serialize, ToSchema)]
pub struct RotationHistoryItem {
    pub id: String,
    pub policy_id: String,
    pub secret_path: String,
    pub trigger: RotationTrigger,
    pub status: RotationStatus,
    pub old_version: Option<i64>,
    pub new_version: Option<i64>,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub error: Option<String>,
}

/// What started a rotation.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RotationTrigger {
    Schedule,
    Manual,
}

/// State of a rotation.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RotationStatus {
    Pending,
    Success,
    Failed,
    Overdue,
}

/// `GET …/history`.
#[derive(Serialize, ToSchema)]
pub struct HistoryList {
    pub data: Vec<RotationHistoryItem>,
    pub has_more: bool,
    pub cursor: Option<String>,
}

/// A secret due for rotation.
#[derive(Serialize, ToSchema)]
pub struct DueItem {
    pub secret_path: String,
    pub policy_id: String,
    pub next_rotation_at: String,
    pub overdue: bool,
    /// `scheduled`, `pending` or `overdue`.
    pub status: String,
}

/// `GET /v1/rotation/due`.
#[derive(Serialize, ToSchema)]
pub struct DueList {
    pub data: Vec<DueItem>,
    pub count: i64,
}
