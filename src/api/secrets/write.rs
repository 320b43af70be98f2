//! Secret writes: create or update a value, change metadata, restore, delete and destroy.

use crate::audit::action;
use crate::domain::access::Reach;
use crate::domain::scope::Scope;
use crate::domain::secret_ops::WriteRequest;
use crate::http::door::Door;
use crate::http::error::ApiError;
use crate::http::guard::{audited, query_map};
use crate::http::typed_body::JsonBody;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::api::bodies::secrets as schema;

use super::*;

/// Writes a new version (the first creates the secret).
#[utoipa::path(put, path = "/v1/secrets/{path}", tag = "secrets", operation_id = "write_secret",
    params(("path" = String, Path, pattern = "^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,9}$", max_length = 512, description = "The secret path, 1-10 segments of `[A-Za-z0-9._-]`; its `/` may be sent raw or as `%2F`"),
        ("If-Match" = Option<String>, Header, description = "`\"<version>\"`: the same as `options.cas`")),
    request_body = schema::SecretWrite,
    responses(
        (status = 200, description = "A new version", body = schema::SecretWritten, headers(("ETag" = String, description = "`\"<version>\"`"))),
        (status = 201, description = "Created (version 1)", body = schema::SecretWritten, headers(("ETag" = String, description = "`\"<version>\"`"))),
        (status = 404, description = "`rotation_policy_not_found` (`options.rotation_policy_id`)"),
        (status = 409, description = "`version_conflict` (check-and-set failed), `secret_exists` (soft-deleted: restore it first)"),
    ),
    security(("bearer" = ["secrets:write"])))]
pub(super) async fn put(
    door: Door,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Result<JsonBody<schema::SecretWrite>, ApiError>,
) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    audited!(g, action::WRITE, audit_path(&raw), async {
        let path = parse_path(&raw)?;
        g.allow(
            action::WRITE,
            Scope::SecretsWrite,
            Reach::Path(path.as_str()),
        )
        .await?;
        let JsonBody { body, check } = body?;
        let mut parsed = body.check(check, st.clock.now())?;
        if parsed.options.cas.is_none() {
            parsed.options.cas = if_match(&headers)?;
        }
        let req = WriteRequest {
            tenant_id: caller.tenant_id.clone(),
            path,
            value: parsed.value,
            secret_type: parsed.secret_type,
            metadata: parsed.metadata,
            options: parsed.options,
            actor: caller.identity_id.clone(),
            auto_generated: false,
        };
        let row = g.row(
            action::WRITE,
            Some(req.path.as_str()),
            None,
            200,
            Value::Null,
        );
        let out = st.ops().write(&req, row).await?;
        let status = if out.created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        let mut res = (status, Json(schema::SecretWritten::from(&out.secret))).into_response();
        set_etag(&mut res, out.secret.current_version);
        Ok(res)
    })
}

/// Changes metadata (and expiry, `max_versions`) without a new version.
#[utoipa::path(patch, path = "/v1/secrets/{path}/metadata", tag = "secrets", operation_id = "patch_secret_metadata",
    params(("path" = String, Path, pattern = "^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,9}$", max_length = 512, description = "The secret path, 1-10 segments of `[A-Za-z0-9._-]`; its `/` may be sent raw or as `%2F`"),
        ("If-Match" = Option<String>, Header, description = "`\"<version>\"`: the same as `options.cas`")),
    request_body = schema::MetadataPatch,
    responses(
        (status = 200, description = "The changed metadata", body = schema::SecretInfo),
        (status = 404, description = "`secret_not_found`"),
        (status = 409, description = "`version_conflict`: `options.cas` (or `If-Match`) is not the current version"),
    ),
    security(("bearer" = ["secrets:write"])))]
pub(super) async fn patch_any(
    door: Door,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Result<JsonBody<schema::MetadataPatch>, ApiError>,
) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    let Some(p) = raw.strip_suffix("/metadata") else {
        return Ok(method_not_allowed(
            &raw,
            "PATCH is only for /v1/secrets/{path}/metadata",
        ));
    };
    audited!(g, action::WRITE, audit_path(p), async {
        let path = parse_path(p)?;
        g.allow(
            action::WRITE,
            Scope::SecretsWrite,
            Reach::Path(path.as_str()),
        )
        .await?;
        let JsonBody { body, check } = body?;
        let (patch, mut options) = body.check(check, st.clock.now())?;
        if options.cas.is_none() {
            options.cas = if_match(&headers)?;
        }
        let row = g.row(
            action::WRITE,
            Some(path.as_str()),
            None,
            200,
            json!({ "metadata_only": true }),
        );
        let secret = st
            .ops()
            .patch_metadata(&caller.tenant_id, &path, &patch, &options, row)
            .await?;
        let schedule = schedule_of(st, &secret).await?;
        Ok(Json(schema::SecretInfo::of(&secret, None, schedule.as_deref())).into_response())
    })
}

/// Undoes a soft delete.
#[utoipa::path(post, path = "/v1/secrets/{path}/restore", tag = "secrets", operation_id = "restore_secret",
    params(("path" = String, Path, pattern = "^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,9}$", max_length = 512, description = "The secret path, 1-10 segments of `[A-Za-z0-9._-]`; its `/` may be sent raw or as `%2F`")),
    responses(
        (status = 200, description = "Restored", body = schema::SecretRestored),
        (status = 404, description = "`secret_not_found` (nothing restorable)"),
    ),
    security(("bearer" = ["secrets:delete"])))]
pub(super) async fn post_any(door: Door, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    let Some(p) = raw.strip_suffix("/restore") else {
        return Ok(method_not_allowed(
            &raw,
            "POST is only for /v1/secrets/batch and /v1/secrets/{path}/restore",
        ));
    };
    audited!(g, action::RESTORE, audit_path(p), async {
        let path = parse_path(p)?;
        g.allow(
            action::RESTORE,
            Scope::SecretsDelete,
            Reach::Path(path.as_str()),
        )
        .await?;
        let row = g.row(action::RESTORE, Some(path.as_str()), None, 200, Value::Null);
        let secret = st.ops().restore(&caller.tenant_id, &path, row).await?;
        Ok(Json(schema::SecretRestored {
            path: secret.path,
            version: secret.current_version,
            restored: true,
            restored_at: crate::clock::rfc3339(st.clock.now()),
        })
        .into_response())
    })
}

/// Soft-deletes (restorable for 30 days), or with `permanent=true` destroys every version now.
#[utoipa::path(delete, path = "/v1/secrets/{path}", tag = "secrets", operation_id = "delete_secret",
    params(("path" = String, Path, pattern = "^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,9}$", max_length = 512, description = "The secret path, 1-10 segments of `[A-Za-z0-9._-]`; its `/` may be sent raw or as `%2F`"),
        ("permanent" = Option<bool>, Query, description = "Destroy all versions now")),
    responses(
        (status = 200, description = "Deleted", body = schema::SecretDeleted),
        (status = 404, description = "`secret_not_found`"),
    ),
    security(("bearer" = ["secrets:delete"])))]
pub(super) async fn delete(
    door: Door,
    Path(raw): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    let query = query_map(q.as_deref());
    let permanent = match query.get("permanent").map(String::as_str) {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(_) => {
            let e = ApiError::invalid_request("permanent must be true or false");
            return Err(g.fail(action::DELETE, audit_path(&raw), e).await);
        }
    };
    let act = if permanent {
        action::DESTROY
    } else {
        action::DELETE
    };
    audited!(g, act, audit_path(&raw), async {
        let path = parse_path(&raw)?;
        g.allow(act, Scope::SecretsDelete, Reach::Path(path.as_str()))
            .await?;
        let row = g.row(
            act,
            Some(path.as_str()),
            None,
            200,
            json!({ "permanent": permanent }),
        );
        let o = st.ops();
        let (secret, count) = if permanent {
            o.destroy(&caller.tenant_id, &path, row).await?
        } else {
            o.soft_delete(&caller.tenant_id, &path, row).await?
        };
        Ok(Json(schema::SecretDeleted::of(&secret, count, permanent)).into_response())
    })
}
