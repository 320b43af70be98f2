//! Attaching secrets to a policy and detaching them.

use crate::domain::access::Reach;
use crate::domain::path::SecretPath;
use crate::domain::policy_ops::PolicyOps;
use crate::domain::scope::Scope;
use crate::domain::token::Caller;
use crate::http::body::JsonObject;
use crate::http::context::RequestContext;
use crate::http::error::ApiError;
use crate::http::guard::{audited, Guard};
use crate::server::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::api::schemas::rotation as schema;

use super::*;

/// The `secret_path` of an attach body.
pub(crate) fn attach_path(body: &serde_json::Map<String, Value>) -> Result<SecretPath, ApiError> {
    let raw = body
        .get("secret_path")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::validation_one("secret_path", "is required"))?;
    SecretPath::parse(raw).map_err(|e| ApiError::invalid_path(e.0))
}

/// Attaches a secret (moving it from any other policy).
#[utoipa::path(post, path = "/v1/rotation/policies/{id}/secrets", tag = "rotation", operation_id = "attach_secret",
    params(("id" = String, Path, min_length = 1, description = "`rot_<name>`")),
    request_body = schema::AttachRequest,
    responses(
        (status = 201, description = "Attached", body = schema::Attachment),
        (status = 404, description = "`rotation_policy_not_found`, `secret_not_found`"),
    ),
    security(("bearer" = ["admin"])))]
pub(super) async fn attach(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<JsonObject, ApiError>,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    audited!(g, "rotation_policy_update", async {
        g.allow("rotation_policy_update", Scope::Admin, Reach::Filtered)
            .await?;
        let JsonObject(body) = body?;
        let path = attach_path(&body)?;
        g.allow(
            "rotation_policy_update",
            Scope::Admin,
            Reach::Path(path.as_str()),
        )
        .await?;
        let p = st
            .store
            .get_policy(&caller.tenant_id, &id)
            .await?
            .ok_or_else(|| not_found(&id))?;
        let audit = |version| {
            g.row(
                "rotation_policy_update",
                Some(path.as_str()),
                Some(version),
                201,
                json!({ "policy_id": p.id, "attached": true }),
            )
        };
        let schedule = PolicyOps::new(st.store.as_ref())
            .attach(&p, path.as_str(), st.clock.now(), audit)
            .await
            .map_err(policy_error)?;
        Ok((
            StatusCode::CREATED,
            Json(json!({
                "policy_id": p.id,
                "secret_path": path.as_str(),
                "assigned_at": ts(schedule.assigned_at),
                "last_rotated_at": ts(schedule.last_rotated_at),
                "next_rotation_at": ts(schedule.next_rotation_at),
            })),
        )
            .into_response())
    })
}

/// Detaches a secret.
#[utoipa::path(delete, path = "/v1/rotation/policies/{id}/secrets/{secret_path}", tag = "rotation", operation_id = "detach_secret",
    params(
        ("id" = String, Path, min_length = 1, description = "`rot_<name>`"),
        ("secret_path" = String, Path, pattern = "^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,9}$", description = "The secret path; it may contain `/` (raw or as `%2F`)"),
    ),
    responses(
        (status = 204, description = "Detached"),
        (status = 404, description = "`rotation_policy_not_found`, `secret_not_found` (also when not attached to this policy)"),
    ),
    security(("bearer" = ["admin"])))]
pub(super) async fn detach(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path((id, raw)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    audited!(g, "rotation_policy_update", async {
        g.allow("rotation_policy_update", Scope::Admin, Reach::Filtered)
            .await?;
        let path = SecretPath::parse(&raw).map_err(|e| ApiError::invalid_path(e.0))?;
        // Refused before any lookup, so the answer says nothing of what exists there.
        g.allow(
            "rotation_policy_update",
            Scope::Admin,
            Reach::Path(path.as_str()),
        )
        .await?;
        st.store
            .get_policy(&caller.tenant_id, &id)
            .await?
            .ok_or_else(|| not_found(&id))?;
        let audit = g.row(
            "rotation_policy_update",
            Some(path.as_str()),
            None,
            204,
            json!({ "policy_id": id, "attached": false }),
        );
        PolicyOps::new(st.store.as_ref())
            .detach(&caller.tenant_id, &id, path.as_str(), &audit)
            .await
            .map_err(policy_error)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
