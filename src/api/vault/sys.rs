//! Vault's system paths that KV clients call: creating and deleting mounts, the mount lookup
//! the `vault` CLI makes before each `kv` command, and `sys/audit`, which refuses (audit is
//! built in and always on).

use super::reply::{ok, VaultError, PERMISSION_DENIED};
use crate::audit::action;
use crate::domain::access::Reach;
use crate::domain::kv_mounts::{self, MountNameError, ROOT_MOUNT};
use crate::domain::scope::Scope;
use crate::domain::secret_ops::MountError;
use crate::http::error::ApiError;
use crate::http::guard::{audited, Guard};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

impl From<MountNameError> for ApiError {
    fn from(e: MountNameError) -> Self {
        ApiError::invalid_request(e.to_string())
    }
}

impl From<MountError> for ApiError {
    fn from(e: MountError) -> Self {
        match e {
            MountError::Exists(_) => ApiError::invalid_request(e.to_string()),
            MountError::NotFound(_) => ApiError::not_found("not_found", e.to_string()),
            MountError::Store(s) => s.into(),
        }
    }
}

/// `POST /v1/sys/mounts/{name}` `{"type":"kv","options":{"version":"2"}}` (admin without
/// path rules): 204.
pub async fn create_mount(
    g: &Guard<'_>,
    raw: &str,
    body: Result<Map<String, Value>, ApiError>,
) -> Result<Response, ApiError> {
    audited!(g, action::MOUNT_CREATE, async {
        g.allow(action::MOUNT_CREATE, Scope::Admin, Reach::Tenant)
            .await?;
        let body = body?;
        let kind = body.get("type").and_then(Value::as_str).unwrap_or("");
        let version = body.get("options").and_then(|o| o.get("version"));
        let v2 = match kind {
            "kv-v2" => true,
            "kv" => {
                matches!(version, Some(Value::String(s)) if s == "2")
                    || version.and_then(Value::as_i64) == Some(2)
            }
            _ => false,
        };
        if !v2 {
            return Err(ApiError::invalid_request(
                "only the KV version 2 engine is served: send {\"type\":\"kv\",\"options\":{\"version\":\"2\"}}",
            ));
        }
        let name = kv_mounts::parse_name(raw)?;
        let row = g.row(
            action::MOUNT_CREATE,
            None,
            None,
            204,
            json!({ "mount": name }),
        );
        g.st.ops()
            .create_mount(&g.caller.tenant_id, name, row)
            .await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// `DELETE /v1/sys/mounts/{name}`: removes the mount and destroys its secrets; 204 (also when
/// there was no such mount, as Vault answers).
pub async fn delete_mount(g: &Guard<'_>, raw: &str) -> Result<Response, ApiError> {
    audited!(g, action::MOUNT_DELETE, async {
        g.allow(action::MOUNT_DELETE, Scope::Admin, Reach::Tenant)
            .await?;
        let trimmed = raw.trim_end_matches('/');
        if trimmed == ROOT_MOUNT {
            return Err(ApiError::invalid_request(
                "'secret/' is the tenant's root and cannot be removed",
            ));
        }
        let name = kv_mounts::parse_name(raw)?;
        let row = g.row(
            action::MOUNT_DELETE,
            None,
            None,
            204,
            json!({ "mount": name }),
        );
        match g
            .st
            .ops()
            .delete_mount(&g.caller.tenant_id, name, row)
            .await
        {
            Ok(_) | Err(MountError::NotFound(_)) => Ok(StatusCode::NO_CONTENT.into_response()),
            Err(e) => Err(e.into()),
        }
    })
}

/// `GET /v1/sys/internal/ui/mounts/{path}`: the mount serving `path`; 403 when none does.
pub async fn mount_of(g: &Guard<'_>, path: &str) -> Result<Response, VaultError> {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let known = first == ROOT_MOUNT
        || (!kv_mounts::is_reserved(first)
            && !first.is_empty()
            && g.st
                .store
                .get_mount(&g.caller.tenant_id, first)
                .await
                .map_err(ApiError::from)?
                .is_some());
    if !known {
        return Err(VaultError::new(StatusCode::FORBIDDEN, PERMISSION_DENIED));
    }
    Ok(ok(
        g.ctx,
        json!({
            "path": format!("{first}/"),
            "type": "kv",
            "description": "",
            "accessor": format!("kv_{first}"),
            "options": { "version": "2" },
            "config": { "default_lease_ttl": 0, "max_lease_ttl": 0, "force_no_cache": false },
            "local": false,
            "seal_wrap": false,
            "external_entropy_access": false,
        }),
    ))
}

/// `PUT /v1/sys/audit/{name}`: refused; audit is built in.
pub fn audit_device() -> VaultError {
    VaultError::bad_request("audit is built in and always on")
}
