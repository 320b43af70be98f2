//! Secret policy CRUD: authorize, check the body, call the service, answer.

use super::{load, ops_error};
use crate::api::bodies::secret_policies as schema;
use crate::api::pagination;
use crate::clock::to_micros;
use crate::domain::access::Reach;
use crate::domain::ids::new_id;
use crate::domain::scope::Scope;
use crate::domain::secret_policy_ops::SecretPolicyOps;
use crate::http::door::Door;
use crate::http::error::ApiError;
use crate::http::guard::{audited, query_map};
use crate::http::typed_body::JsonBody;
use crate::store::SecretPolicyRow;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Creates a secret policy.
#[utoipa::path(post, path = "/v1/secret-policies", tag = "secret-policies", operation_id = "create_secret_policy",
    request_body = schema::SecretPolicyCreate,
    responses(
        (status = 201, description = "Created", body = schema::SecretPolicy),
        (status = 403, description = "`insufficient_scope`, `access_denied` (an admin with path rules)"),
        (status = 409, description = "`name_conflict`"),
        (status = 422, description = "`validation_error`: each failing field, e.g. `fields[0].config.length`"),
    ),
    security(("bearer" = ["admin"])))]
pub(super) async fn create(
    door: Door,
    body: Result<JsonBody<schema::SecretPolicyCreate>, ApiError>,
) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    audited!(g, "secret_policy_create", async {
        g.allow("secret_policy_create", Scope::Admin, Reach::Tenant)
            .await?;
        let JsonBody { body, check } = body?;
        let now = to_micros(st.clock.now());
        let mut p = SecretPolicyRow {
            tenant_id: caller.tenant_id.clone(),
            id: new_id("sp_"),
            name: String::new(),
            description: None,
            policy_type: "custom".into(),
            fields: "[]".into(),
            is_active: true,
            created_at: now,
            updated_at: now,
        };
        body.apply(check, &mut p)?;
        let audit = g.row(
            "secret_policy_create",
            None,
            None,
            201,
            json!({ "secret_policy_id": p.id, "name": p.name }),
        );
        SecretPolicyOps::new(st.store.as_ref())
            .create(&p, &audit)
            .await
            .map_err(|e| ops_error(e, &p.name))?;
        Ok((StatusCode::CREATED, Json(schema::SecretPolicy::from(&p))).into_response())
    })
}

/// Lists the tenant's secret policies.
#[utoipa::path(get, path = "/v1/secret-policies", tag = "secret-policies", operation_id = "list_secret_policies",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size (default 100)"),
        ("cursor" = Option<String>, Query, description = "From the previous page"),
    ),
    responses((status = 200, description = "A page of secret policies", body = schema::SecretPolicyList)),
    security(("bearer" = ["admin"])))]
pub(super) async fn list(door: Door, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    g.allow("secret_policy_list", Scope::Admin, Reach::Filtered)
        .await?;
    let query = query_map(q.as_deref());
    let limit = pagination::limit(query.get("limit").map(String::as_str))?;
    let after = pagination::decode(query.get("cursor").map(String::as_str))?;
    let rows = st
        .store
        .list_secret_policies(&caller.tenant_id, after.as_deref(), limit + 1)
        .await?;
    let (rows, cursor) = pagination::page(rows, limit, |p| p.id.clone());
    Ok(Json(schema::SecretPolicyList {
        secret_policies: rows.iter().map(Into::into).collect(),
        has_more: cursor.is_some(),
        cursor,
    })
    .into_response())
}

/// A secret policy.
#[utoipa::path(get, path = "/v1/secret-policies/{id}", tag = "secret-policies", operation_id = "get_secret_policy",
    params(("id" = String, Path, min_length = 1, description = "`sp_…`")),
    responses(
        (status = 200, description = "The policy", body = schema::SecretPolicy),
        (status = 404, description = "`secret_policy_not_found`"),
    ),
    security(("bearer" = ["admin"])))]
pub(super) async fn show(door: Door, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    g.allow("secret_policy_read", Scope::Admin, Reach::Filtered)
        .await?;
    let p = load(st, &caller.tenant_id, &id).await?;
    Ok(Json(schema::SecretPolicy::from(&p)).into_response())
}

/// Changes a secret policy (`fields` is replaced whole). Rotation policies using it write
/// the new recipe from their next rotation on.
#[utoipa::path(patch, path = "/v1/secret-policies/{id}", tag = "secret-policies", operation_id = "update_secret_policy",
    params(("id" = String, Path, min_length = 1, description = "`sp_…`")),
    request_body(content = Option<schema::SecretPolicyPatch>, description = "Fields to change; an empty body changes nothing"),
    responses(
        (status = 200, description = "The changed policy", body = schema::SecretPolicy),
        (status = 403, description = "`insufficient_scope`, `access_denied` (an admin with path rules)"),
        (status = 404, description = "`secret_policy_not_found`"),
        (status = 409, description = "`name_conflict`"),
    ),
    security(("bearer" = ["admin"])))]
pub(super) async fn update(
    door: Door,
    Path(id): Path<String>,
    body: Result<JsonBody<schema::SecretPolicyPatch>, ApiError>,
) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    audited!(g, "secret_policy_update", async {
        g.allow("secret_policy_update", Scope::Admin, Reach::Tenant)
            .await?;
        let mut p = load(st, &caller.tenant_id, &id).await?;
        let JsonBody { body, check } = body?;
        body.apply(check, &mut p)?;
        p.updated_at = to_micros(st.clock.now());
        let audit = g.row(
            "secret_policy_update",
            None,
            None,
            200,
            json!({ "secret_policy_id": p.id, "name": p.name }),
        );
        SecretPolicyOps::new(st.store.as_ref())
            .update(&p, &audit)
            .await
            .map_err(|e| ops_error(e, &p.name))?;
        Ok(Json(schema::SecretPolicy::from(&p)).into_response())
    })
}

/// Deletes a secret policy no rotation policy uses.
#[utoipa::path(delete, path = "/v1/secret-policies/{id}", tag = "secret-policies", operation_id = "delete_secret_policy",
    params(("id" = String, Path, min_length = 1, description = "`sp_…`")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "`insufficient_scope`, `access_denied` (an admin with path rules)"),
        (status = 404, description = "`secret_policy_not_found`"),
        (status = 409, description = "`secret_policy_in_use`: `details.rotation_policy_ids` lists its users"),
    ),
    security(("bearer" = ["admin"])))]
pub(super) async fn remove(door: Door, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    audited!(g, "secret_policy_delete", async {
        g.allow("secret_policy_delete", Scope::Admin, Reach::Tenant)
            .await?;
        let audit = g.row(
            "secret_policy_delete",
            None,
            None,
            204,
            json!({ "secret_policy_id": id }),
        );
        SecretPolicyOps::new(st.store.as_ref())
            .delete(&caller.tenant_id, &id, &audit)
            .await
            .map_err(|e| ops_error(e, ""))?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
