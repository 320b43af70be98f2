//! Rotation policy CRUD and enable/disable: authorize, call the policy service, answer.

use crate::api::pagination;
use crate::clock::to_micros;
use crate::domain::access::Reach;
use crate::domain::policy_ops::{PolicyError, PolicyOps};
use crate::domain::scope::Scope;
use crate::http::door::Door;
use crate::http::error::ApiError;
use crate::http::guard::{audited, denial_error, query_map, Guard};
use crate::http::typed_body::JsonBody;
use crate::server::AppState;
use crate::store::{PolicyRow, StoreError};
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::api::bodies::rotation as schema;

use super::*;

/// Creates a rotation policy.
#[utoipa::path(post, path = "/v1/rotation/policies", tag = "rotation", operation_id = "create_policy",
    request_body = schema::PolicyCreate,
    responses(
        (status = 201, description = "Created", body = schema::Policy),
        (status = 404, description = "`webhook_not_found` (a `webhook_ids` entry), `secret_policy_not_found`"),
        (status = 409, description = "`name_conflict`"),
    ),
    security(("bearer" = ["admin"])))]
pub(super) async fn create(
    door: Door,
    body: Result<JsonBody<schema::PolicyCreate>, ApiError>,
) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    audited!(g, "rotation_policy_create", async {
        g.allow("rotation_policy_create", Scope::Admin, Reach::Filtered)
            .await?;
        let JsonBody { body, check } = body?;
        let now = to_micros(st.clock.now());
        let mut p = PolicyRow {
            tenant_id: caller.tenant_id.clone(),
            id: String::new(),
            name: String::new(),
            description: None,
            interval_text: String::new(),
            interval_seconds: 0,
            grace_text: "48h".into(),
            grace_seconds: 48 * 3600,
            warn_before: String::new(),
            auto_generate: false,
            webhook_ids: "[]".into(),
            is_active: true,
            created_at: now,
            updated_at: now,
            secret_policy_id: None,
        };
        let webhooks = body.apply(check, &mut p)?;
        check_webhooks(st, &g, webhooks.as_deref()).await?;
        let audit = g.row(
            "rotation_policy_create",
            None,
            None,
            201,
            json!({ "policy_id": p.id }),
        );
        PolicyOps::new(st.store.as_ref())
            .create(&p, &audit)
            .await
            .map_err(|e| match e {
                PolicyError::Store(StoreError::Conflict(_)) => ApiError::conflict(
                    "name_conflict",
                    format!("a rotation policy named '{}' already exists", p.name),
                ),
                other => policy_error(other),
            })?;
        Ok((StatusCode::CREATED, Json(schema::Policy::of(&p, 0))).into_response())
    })
}

/// Lists rotation policies.
#[utoipa::path(get, path = "/v1/rotation/policies", tag = "rotation", operation_id = "list_policies",
    params(
        ("active_only" = Option<bool>, Query),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size (default 100)"),
        ("cursor" = Option<String>, Query, description = "From the previous page"),
    ),
    responses((status = 200, description = "A page of policies", body = schema::PolicyList)),
    security(("bearer" = ["admin"])))]
pub(super) async fn list(door: Door, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    g.allow("rotation_policy_list", Scope::Admin, Reach::Filtered)
        .await?;
    let query = query_map(q.as_deref());
    let limit = pagination::limit(query.get("limit").map(String::as_str))?;
    let after = pagination::decode(query.get("cursor").map(String::as_str))?;
    let active_only = matches!(
        query.get("active_only").map(String::as_str),
        Some("true" | "1")
    );
    let rows = st
        .store
        .list_policies(&caller.tenant_id, active_only, after.as_deref(), limit + 1)
        .await?;
    let (rows, cursor) = pagination::page(rows, limit, |p| p.id.clone());
    let mut data = Vec::new();
    for p in &rows {
        data.push(schema::Policy::of(p, visible_count(&g, &p.id).await?));
    }
    Ok(Json(schema::PolicyList {
        data,
        has_more: cursor.is_some(),
        cursor,
    })
    .into_response())
}

/// A rotation policy.
#[utoipa::path(get, path = "/v1/rotation/policies/{id}", tag = "rotation", operation_id = "get_policy",
    params(("id" = String, Path, min_length = 1, description = "`rot_<name>`")),
    responses(
        (status = 200, description = "The policy", body = schema::Policy),
        (status = 404, description = "`rotation_policy_not_found`"),
    ),
    security(("bearer" = ["admin"])))]
pub(super) async fn show(door: Door, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    g.allow("rotation_policy_read", Scope::Admin, Reach::Filtered)
        .await?;
    let p = st
        .store
        .get_policy(&caller.tenant_id, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(schema::Policy::of(&p, visible_count(&g, &id).await?)).into_response())
}

/// How many of a policy's secrets the caller's path rules reach (SPEC §2: a path-restricted
/// admin's `secrets_count` shows only its paths).
pub(super) async fn visible_count(g: &Guard<'_>, policy_id: &str) -> Result<i64, ApiError> {
    if g.caller.path_prefixes.is_empty() {
        return Ok(g
            .st
            .store
            .count_attached(&g.caller.tenant_id, policy_id)
            .await?);
    }
    let paths =
        g.st.store
            .attached_paths(&g.caller.tenant_id, policy_id)
            .await?;
    Ok(paths.iter().filter(|p| g.sees(Reach::Path(p))).count() as i64)
}

/// Loads a policy the caller may change: every attached secret must lie inside its path
/// rules (else 403 `access_denied`, SPEC §2), checked again in the writing transaction.
pub(super) async fn load_for_change(
    g: &Guard<'_>,
    action: &str,
    id: &str,
) -> Result<PolicyRow, ApiError> {
    g.allow(action, Scope::Admin, Reach::Filtered).await?;
    let p =
        g.st.store
            .get_policy(&g.caller.tenant_id, id)
            .await?
            .ok_or_else(|| not_found(id))?;
    if !g.caller.path_prefixes.is_empty() {
        let attached = g.st.store.attached_paths(&g.caller.tenant_id, id).await?;
        g.allow(action, Scope::Admin, Reach::Paths(&attached))
            .await?;
    }
    Ok(p)
}

/// Saves a changed policy and recomputes its secrets' schedules in one transaction.
pub(super) async fn save_and_reschedule(
    st: &AppState,
    g: &Guard<'_>,
    p: &PolicyRow,
    audit: crate::store::AuditRow,
) -> Result<(), ApiError> {
    PolicyOps::new(st.store.as_ref())
        .save(p, &audit, st.clock.now(), &g.caller.path_prefixes)
        .await
        .map_err(policy_error)
}

/// The answer to a refused policy operation.
pub(super) fn policy_error(e: PolicyError) -> ApiError {
    match e {
        PolicyError::NotFound(id) => not_found(&id),
        PolicyError::SecretNotFound(path) => ApiError::secret_not_found(&path),
        PolicyError::NotAttached { path, policy } => ApiError::not_found(
            "secret_not_found",
            format!("'{path}' is not attached to {policy}"),
        ),
        PolicyError::Denied(d) => denial_error(d),
        PolicyError::SecretPolicyNotFound(id) => crate::api::secret_policies::not_found(&id),
        PolicyError::Store(e) => e.into(),
    }
}

/// Changes a policy and reschedules its secrets.
#[utoipa::path(patch, path = "/v1/rotation/policies/{id}", tag = "rotation", operation_id = "update_policy",
    params(("id" = String, Path, min_length = 1, description = "`rot_<name>`")),
    request_body(content = Option<schema::PolicyPatch>, description = "Fields to change; an empty body changes nothing"),
    responses(
        (status = 200, description = "The changed policy", body = schema::Policy),
        (status = 404, description = "`rotation_policy_not_found`, `webhook_not_found`, `secret_policy_not_found`"),
    ),
    security(("bearer" = ["admin"])))]
pub(super) async fn update(
    door: Door,
    Path(id): Path<String>,
    body: Result<JsonBody<schema::PolicyPatch>, ApiError>,
) -> Result<Response, ApiError> {
    let (st, _, g) = door.open();
    audited!(g, "rotation_policy_update", async {
        let mut p = load_for_change(&g, "rotation_policy_update", &id).await?;
        let JsonBody { body, check } = body?;
        let webhooks = body.apply(check, &mut p)?;
        check_webhooks(st, &g, webhooks.as_deref()).await?;
        p.updated_at = to_micros(st.clock.now());
        save_and_reschedule(
            st,
            &g,
            &p,
            g.row(
                "rotation_policy_update",
                None,
                None,
                200,
                json!({ "policy_id": p.id }),
            ),
        )
        .await?;
        Ok(Json(schema::Policy::of(&p, visible_count(&g, &id).await?)).into_response())
    })
}

pub(super) async fn set_active(
    st: &AppState,
    g: &Guard<'_>,
    id: &str,
    active: bool,
) -> Result<Response, ApiError> {
    let mut p = load_for_change(g, "rotation_policy_update", id).await?;
    p.is_active = active;
    p.updated_at = to_micros(st.clock.now());
    save_and_reschedule(
        st,
        g,
        &p,
        g.row(
            "rotation_policy_update",
            None,
            None,
            200,
            json!({ "policy_id": p.id, "is_active": active }),
        ),
    )
    .await?;
    if active {
        st.bus.deliveries.notify_one();
    }
    Ok(Json(schema::Policy::of(&p, visible_count(g, id).await?)).into_response())
}

/// Resumes the schedule; anything already due fires at once.
#[utoipa::path(post, path = "/v1/rotation/policies/{id}/enable", tag = "rotation", operation_id = "enable_policy",
    params(("id" = String, Path, min_length = 1, description = "`rot_<name>`")),
    responses(
        (status = 200, description = "The policy", body = schema::Policy),
        (status = 404, description = "`rotation_policy_not_found`"),
    ),
    security(("bearer" = ["admin"])))]
pub(super) async fn enable(door: Door, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (st, _, g) = door.open();
    audited!(g, "rotation_policy_update", set_active(st, &g, &id, true))
}

/// Pauses the schedule.
#[utoipa::path(post, path = "/v1/rotation/policies/{id}/disable", tag = "rotation", operation_id = "disable_policy",
    params(("id" = String, Path, min_length = 1, description = "`rot_<name>`")),
    responses(
        (status = 200, description = "The policy", body = schema::Policy),
        (status = 404, description = "`rotation_policy_not_found`"),
    ),
    security(("bearer" = ["admin"])))]
pub(super) async fn disable(door: Door, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (st, _, g) = door.open();
    audited!(g, "rotation_policy_update", set_active(st, &g, &id, false))
}

/// Deletes a policy; its secrets are detached.
#[utoipa::path(delete, path = "/v1/rotation/policies/{id}", tag = "rotation", operation_id = "delete_policy",
    params(("id" = String, Path, min_length = 1, description = "`rot_<name>`")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`rotation_policy_not_found`"),
    ),
    security(("bearer" = ["admin"])))]
pub(super) async fn remove(door: Door, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    audited!(g, "rotation_policy_delete", async {
        load_for_change(&g, "rotation_policy_delete", &id).await?;
        let audit = g.row(
            "rotation_policy_delete",
            None,
            None,
            204,
            json!({ "policy_id": id }),
        );
        PolicyOps::new(st.store.as_ref())
            .delete(&caller.tenant_id, &id, &audit, &caller.path_prefixes)
            .await
            .map_err(policy_error)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
