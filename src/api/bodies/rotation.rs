//! `/v1/rotation` response bodies (SPEC §4), built from stored rows. The request bodies are
//! in `rotation_requests`.

use super::common::ts;
use crate::store::{HistoryRow, PolicyRow, ScheduleRow, ScheduleStatus};
use serde::Serialize;
use utoipa::ToSchema;

pub use super::rotation_requests::*;

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
    /// The secret policy `auto_generate` uses, if any.
    pub secret_policy_id: Option<String>,
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

/// A secret attached to a policy.
#[derive(Serialize, ToSchema)]
pub struct Attachment {
    pub policy_id: String,
    pub secret_path: String,
    pub assigned_at: String,
    pub last_rotated_at: String,
    pub next_rotation_at: String,
}

/// One rotation of one secret.
#[derive(Serialize, ToSchema)]
pub struct RotationHistoryItem {
    pub id: String,
    pub policy_id: String,
    pub secret_path: String,
    #[schema(value_type = RotationTrigger)]
    pub trigger: String,
    #[schema(value_type = RotationStatus)]
    pub status: String,
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

impl Policy {
    /// A policy as shown, with the number of attached secrets the caller may see.
    pub fn of(p: &PolicyRow, secrets_count: i64) -> Self {
        Policy {
            id: p.id.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            interval: p.interval_text.clone(),
            interval_seconds: p.interval_seconds,
            grace_period: p.grace_text.clone(),
            grace_period_seconds: p.grace_seconds,
            warn_before: p.warn_before.clone(),
            auto_generate: p.auto_generate,
            webhook_ids: serde_json::from_str(&p.webhook_ids).unwrap_or_default(),
            secret_policy_id: p.secret_policy_id.clone(),
            is_active: p.is_active,
            secrets_count,
            created_at: ts(p.created_at),
            updated_at: ts(p.updated_at),
        }
    }
}

impl From<&HistoryRow> for RotationHistoryItem {
    fn from(h: &HistoryRow) -> Self {
        RotationHistoryItem {
            id: h.id.clone(),
            policy_id: h.policy_id.clone(),
            secret_path: h.secret_path.clone(),
            trigger: h.trigger.as_str().to_string(),
            status: h.status.as_str().to_string(),
            old_version: h.old_version,
            new_version: h.new_version,
            started_at: ts(h.started_at),
            completed_at: h.completed_at.map(ts),
            error: h.error.clone(),
        }
    }
}

impl Attachment {
    /// A secret's schedule under a policy.
    pub fn of(policy_id: &str, secret_path: &str, s: &ScheduleRow) -> Self {
        Attachment {
            policy_id: policy_id.to_string(),
            secret_path: secret_path.to_string(),
            assigned_at: ts(s.assigned_at),
            last_rotated_at: ts(s.last_rotated_at),
            next_rotation_at: ts(s.next_rotation_at),
        }
    }
}

impl DueItem {
    /// A secret's due rotation.
    pub fn of(s: &ScheduleRow, secret_path: &str) -> Self {
        DueItem {
            secret_path: secret_path.to_string(),
            policy_id: s.policy_id.clone(),
            next_rotation_at: ts(s.next_rotation_at),
            overdue: s.status == ScheduleStatus::Overdue,
            status: s.status.as_str().to_string(),
        }
    }
}
