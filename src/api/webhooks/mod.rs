//! `/v1/webhooks` (scope admin): CRUD, signing-secret rotation, test, deliveries, redeliver.

use crate::clock::{from_micros, rfc3339};
use crate::domain::access::Reach;
use crate::domain::scope::Scope;
use crate::http::error::ApiError;
use crate::http::guard::Guard;
use crate::store::{StoreError, WebhookRow};
use serde_json::{json, Value};
use utoipa_axum::routes;

mod apply;
mod crud;
mod deliveries;

use apply::*;
use crud::*;
use deliveries::*;

use super::registry::ApiRouter;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, remove))
        .routes(routes!(test))
        .routes(routes!(deliveries))
        .routes(routes!(redeliver))
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found("webhook_not_found", format!("no webhook '{id}'"))
}

/// Loads a webhook the caller may manage: a missing one, or one whose path filter lies
/// outside the caller's path rules, answers 404 alike (SPEC §2).
async fn load(g: &Guard<'_>, action: &str, id: &str) -> Result<WebhookRow, ApiError> {
    g.allow(action, Scope::Admin, Reach::Filtered).await?;
    let w =
        g.st.store
            .get_webhook(&g.caller.tenant_id, id)
            .await?
            .ok_or_else(|| not_found(id))?;
    g.allow_existing(
        action,
        Scope::Admin,
        Reach::filter(w.filter_path_prefix.as_deref()),
        || not_found(id),
    )
    .await?;
    Ok(w)
}

fn name_conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(_) => {
            ApiError::conflict("name_conflict", "a webhook with this name already exists")
        }
        other => other.into(),
    }
}

fn opt_ts(us: Option<i64>) -> Value {
    us.map_or(Value::Null, |u| json!(rfc3339(from_micros(u))))
}

/// A webhook as shown (never its signing secret).
fn view(w: &WebhookRow) -> Value {
    let events: Value = serde_json::from_str(&w.events).unwrap_or(Value::Null);
    let tags: Value = serde_json::from_str(&w.filter_tags).unwrap_or(Value::Null);
    json!({
        "id": w.id,
        "name": w.name,
        "url": w.url,
        "description": w.description,
        "events": events,
        "filters": {
            "path_prefix": w.filter_path_prefix,
            "secret_type": w.filter_secret_type,
            "tags": tags,
        },
        "enabled": w.enabled != 0,
        "status": if w.enabled == 0 { "disabled" } else { w.status.as_str() },
        "disabled_reason": w.disabled_reason,
        "previous_secret_expires_at": opt_ts(w.prev_secret_until.filter(|_| w.prev_secret_ciphertext.is_some())),
        "created_at": rfc3339(from_micros(w.created_at)),
        "updated_at": rfc3339(from_micros(w.updated_at)),
    })
}

fn delivery_view(d: &crate::store::DeliveryRow) -> Value {
    json!({
        "id": d.id,
        "webhook_id": d.webhook_id,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "timestamp": crate::clock::rfc3339_micros(from_micros(d.created_at)),
        "status": d.status,
        "attempts": d.attempts,
        "response_code": d.response_code,
        "duration_ms": d.duration_ms,
        "next_attempt_at": if d.status == "pending" { opt_ts(Some(d.next_attempt_at)) } else { Value::Null },
        "last_error": d.last_error,
    })
}
