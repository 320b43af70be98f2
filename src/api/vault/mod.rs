//! Vault's KV v2 dialect (SPEC §12), so tools written for HashiCorp Vault or OpenBao work with
//! only `VAULT_ADDR` changed. Every route here is another door into the same secret operations,
//! authorization and audit as the native API; only the shapes differ (`reply`, `shapes`).
//! These routes are Vault's API and are not in the OpenAPI document (SPEC §12 is their
//! contract).

mod data;
mod door;
mod metadata;
mod reply;
mod shapes;
mod sys;
mod token;

use crate::api::secrets::{audit_path, parse_path};
use crate::domain::kv_mounts::{self, ROOT_MOUNT};
use crate::http::body::read_object;
use crate::http::error::ApiError;
use crate::http::guard::{query_map, Guard};
use crate::server::AppState;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, MethodRouter};
use door::VaultDoor;
use reply::VaultError;

/// The Vault routes, served through `ApiRouter::dialect` beside the native ones: the native
/// paths' first segments are reserved mount names, so a request reaches a mount only where no
/// native route serves it.
pub fn routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        ("/v1/sys/mounts/{*name}", any(sys_mounts)),
        ("/v1/sys/internal/ui/mounts/{*path}", get(ui_mounts)),
        ("/v1/sys/mounts-all/{*path}", get(ui_mounts)),
        ("/v1/sys/audit/{*name}", any(sys_audit)),
        (
            "/v1/auth/token/lookup-self",
            get(lookup_self).post(lookup_self),
        ),
        (
            "/v1/auth/token/renew-self",
            axum::routing::put(renew_self).post(renew_self),
        ),
        ("/v1/{mount}/{*rest}", any(dispatch)),
    ]
}

/// The part (`data` or `metadata`) of a `/v1/{mount}/{part}/…` path a mount would serve.
pub fn kv_part(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v1/")?;
    let mut it = rest.splitn(3, '/');
    match (it.next(), it.next()) {
        (Some(m), Some(part @ ("data" | "metadata"))) if !kv_mounts::is_reserved(m) => Some(part),
        _ => None,
    }
}

/// True for `GET /v1/{mount}/data/{path}` (a secret read, served like the native one).
pub fn is_data_read(path: &str) -> bool {
    kv_part(path) == Some("data")
}

/// `/v1/{mount}/data/…` and `/v1/{mount}/metadata/…`, by method (`LIST` included).
async fn dispatch(
    State(st): State<AppState>,
    Path((mount, rest)): Path<(String, String)>,
    req: Request,
) -> Response {
    if kv_mounts::is_reserved(&mount) {
        // A native path that no native route serves: the native 404.
        return ApiError::not_found("not_found", "no such endpoint").into_response();
    }
    let (mut parts, body) = req.into_parts();
    let door = match VaultDoor::from_request_parts(&mut parts, &st).await {
        Ok(d) => d.0,
        Err(e) => return e.into_response(),
    };
    let (_, _, g) = door.open();
    let prefix = match mount_prefix(&g, &mount).await {
        Ok(Some(p)) => p,
        Ok(None) => return VaultError::no_route(&format!("{mount}/{rest}")).into_response(),
        Err(e) => return VaultError::from(e).into_response(),
    };
    let query = query_map(parts.uri.query());
    let method = parts.method.as_str();
    let result = if let Some(p) = rest.strip_prefix("data/") {
        let native = format!("{prefix}{p}");
        match method {
            "GET" => data::read(&g, &native, query.get("version").map(String::as_str)).await,
            "POST" | "PUT" => data::write(&g, &native, body_of(&parts.headers, body).await).await,
            "DELETE" => {
                return VaultError::method_not_allowed(
                    "deleting single versions is not supported: DELETE …/metadata/{path} destroys every version, and the native API soft-deletes",
                )
                .into_response()
            }
            _ => return VaultError::method_not_allowed("unsupported operation").into_response(),
        }
    } else if let Some(p) = rest
        .strip_prefix("metadata")
        .filter(|p| p.is_empty() || p.starts_with('/'))
    {
        let native = format!("{prefix}{}", p.trim_start_matches('/'));
        let listing =
            method == "LIST" || (method == "GET" && query.get("list").is_some_and(|v| v == "true"));
        match method {
            _ if listing => metadata::list(&g, &native).await,
            "GET" => metadata::read(&g, &native).await,
            "POST" | "PUT" => {
                metadata::write(&g, &native, body_of(&parts.headers, body).await).await
            }
            "DELETE" => metadata::delete(&g, &native).await,
            _ => return VaultError::method_not_allowed("unsupported operation").into_response(),
        }
    } else {
        return VaultError::no_route(&format!("{mount}/{rest}")).into_response();
    };
    result
        .map_err(VaultError::from)
        .unwrap_or_else(IntoResponse::into_response)
}

/// The native path a request names, parsed and authorized for `action` (one call of the
/// guard, which audits a refusal).
async fn authorized_path(
    g: &Guard<'_>,
    action: &str,
    need: impl Into<crate::domain::access::Need>,
    native_path: &str,
) -> Result<crate::domain::path::SecretPath, ApiError> {
    let path = parse_path(native_path)?;
    g.allow(
        action,
        need,
        crate::domain::access::Reach::Path(path.as_str()),
    )
    .await?;
    Ok(path)
}

/// The native path prefix `mount` serves, or None when no such mount exists.
async fn mount_prefix(g: &Guard<'_>, mount: &str) -> Result<Option<String>, ApiError> {
    if mount == ROOT_MOUNT {
        return Ok(Some(String::new()));
    }
    let found = g.st.store.get_mount(&g.caller.tenant_id, mount).await?;
    Ok(found.map(|m| kv_mounts::prefix_of(&m.name)))
}

async fn body_of(
    headers: &HeaderMap,
    body: Body,
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    read_object(headers, body).await
}

/// `POST`/`DELETE /v1/sys/mounts/{name}`.
async fn sys_mounts(
    VaultDoor(door): VaultDoor,
    Path(name): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (_, _, g) = door.open();
    let result = match method.as_str() {
        "POST" | "PUT" => sys::create_mount(&g, &name, body_of(&headers, body).await).await,
        "DELETE" => sys::delete_mount(&g, &name).await,
        _ => return VaultError::method_not_allowed("unsupported operation").into_response(),
    };
    result
        .map_err(VaultError::from)
        .unwrap_or_else(IntoResponse::into_response)
}

/// `GET /v1/sys/internal/ui/mounts/{path}`.
async fn ui_mounts(VaultDoor(door): VaultDoor, Path(path): Path<String>) -> Response {
    let (_, _, g) = door.open();
    sys::mount_of(&g, &path)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// `PUT /v1/sys/audit/{name}`: always refused.
async fn sys_audit(_door: VaultDoor) -> Response {
    sys::audit_device().into_response()
}

async fn lookup_self(VaultDoor(door): VaultDoor) -> Response {
    let (_, _, g) = door.open();
    token::lookup_self(&g)
        .await
        .map_err(VaultError::from)
        .unwrap_or_else(IntoResponse::into_response)
}

async fn renew_self(VaultDoor(door): VaultDoor) -> Response {
    let (_, _, g) = door.open();
    token::renew_self(&g)
}
