//! The Vault routes' way in: the same authentication as the native API (the token from
//! `X-Vault-Token` or `Authorization: Bearer`), refusals as Vault shapes them, and
//! `X-Vault-Namespace`, which must be empty or name the token's tenant.

use super::reply::VaultError;
use crate::audit::action;
use crate::http::door::Door;
use crate::http::error::ApiError;
use crate::server::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;

/// An authenticated Vault request.
pub struct VaultDoor(pub Door);

impl FromRequestParts<AppState> for VaultDoor {
    type Rejection = VaultError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, VaultError> {
        let door = Door::from_request_parts(parts, state).await?;
        let namespace = parts
            .headers
            .get("x-vault-namespace")
            .map(|v| v.to_str().unwrap_or("\u{fffd}").trim().trim_matches('/'));
        if let Some(ns) = namespace.filter(|ns| !ns.is_empty() && *ns != door.caller.tenant_id) {
            let (_, _, g) = door.open();
            let refused = ApiError::new(
                StatusCode::FORBIDDEN,
                "access_denied",
                format!("namespace '{ns}' is not this token's tenant"),
            );
            // 403 `permission denied`, or 503 when the refusal could not be audited.
            return Err(g.refuse(vault_action(parts), None, refused).await.into());
        }
        Ok(VaultDoor(door))
    }
}

/// The audit action a refused Vault request is recorded under, from its method.
fn vault_action(parts: &Parts) -> &'static str {
    match parts.method.as_str() {
        "GET" | "LIST" => action::READ,
        "DELETE" => action::DESTROY,
        _ => action::WRITE,
    }
}
