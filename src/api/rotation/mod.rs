//! `/v1/rotation`: policies (CRUD, enable/disable), attaching secrets, forced rotation,
//! history and the due list (SPEC §4).

use crate::clock::{from_micros, rfc3339};
use crate::http::error::ApiError;
use crate::store::{HistoryRow, PolicyRow};
use serde_json::{json, Value};
use utoipa::OpenApi;
use utoipa_axum::routes;

pub(crate) mod attachments;
pub(crate) mod body;
pub(crate) mod forced;
mod policies;

use attachments::*;
use body::*;
use forced::*;
use policies::*;

use super::registry::ApiRouter;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, remove))
        .routes(routes!(enable))
        .routes(routes!(disable))
        .routes(routes!(attach))
        // A secret path has slashes: one catch-all serves the documented `{secret_path}` template.
        .catch_all(
            "/v1/rotation/policies/{id}/secrets/{*path}",
            axum::routing::delete(detach),
            DetachDoc::openapi(),
        )
        .routes(routes!(rotate))
        .routes(routes!(history))
        .routes(routes!(due))
}

#[derive(OpenApi)]
#[openapi(paths(detach))]
struct DetachDoc;

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(
        "rotation_policy_not_found",
        format!("no rotation policy '{id}'"),
    )
}

fn ts(us: i64) -> String {
    rfc3339(from_micros(us))
}

fn opt_ts(us: Option<i64>) -> Value {
    us.map_or(Value::Null, |u| json!(ts(u)))
}

fn view(p: &PolicyRow, secrets_count: i64) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "interval": p.interval_text,
        "interval_seconds": p.interval_seconds,
        "grace_period": p.grace_text,
        "grace_period_seconds": p.grace_seconds,
        "warn_before": p.warn_before,
        "auto_generate": p.auto_generate != 0,
        "webhook_ids": serde_json::from_str::<Value>(&p.webhook_ids).unwrap_or(json!([])),
        "is_active": p.is_active != 0,
        "secrets_count": secrets_count,
        "created_at": ts(p.created_at),
        "updated_at": ts(p.updated_at),
    })
}

/// A RotationHistoryItem.
pub fn history_view(h: &HistoryRow) -> Value {
    json!({
        "id": h.id,
        "policy_id": h.policy_id,
        "secret_path": h.secret_path,
        "trigger": h.trigger,
        "status": h.status,
        "old_version": h.old_version,
        "new_version": h.new_version,
        "started_at": ts(h.started_at),
        "completed_at": opt_ts(h.completed_at),
        "error": h.error,
    })
}
