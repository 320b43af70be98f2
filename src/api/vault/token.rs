//! `auth/token/lookup-self` and `renew-self`: the caller's own token as Vault describes one.
//! Tokens are not renewable (their lifetime is fixed when created), and these answers never
//! hold the token itself.

use super::reply::{envelope, json_response, ok};
use crate::clock::{from_micros, to_micros};
use crate::http::error::ApiError;
use crate::http::guard::Guard;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

/// Seconds the caller's token has left (0: no expiry).
fn remaining_secs(g: &Guard<'_>) -> i64 {
    g.caller
        .expires_at
        .map(|e| ((to_micros(e) - to_micros(g.st.clock.now())) / 1_000_000).max(0))
        .unwrap_or(0)
}

/// `GET /v1/auth/token/lookup-self`.
pub async fn lookup_self(g: &Guard<'_>) -> Result<Response, ApiError> {
    let token =
        g.st.store
            .get_token(&g.caller.tenant_id, &g.caller.token_id)
            .await?;
    let (name, created_at) = token
        .map(|t| (t.name, t.created_at))
        .unwrap_or_else(|| (String::new(), 0));
    let ttl = remaining_secs(g);
    let creation_ttl = g
        .caller
        .expires_at
        .map(|e| ((to_micros(e) - created_at) / 1_000_000).max(0))
        .unwrap_or(0);
    let data = json!({
        "accessor": g.caller.token_id,
        // Vault puts the token itself here; scaivault never sends a token back, so `id` is
        // the token's id (the same as `accessor`).
        "id": g.caller.token_id,
        "creation_time": created_at / 1_000_000,
        "creation_ttl": creation_ttl,
        "display_name": name,
        "entity_id": "",
        "expire_time": g.caller.expires_at.map(crate::clock::rfc3339),
        "explicit_max_ttl": creation_ttl,
        "issue_time": crate::clock::rfc3339(from_micros(created_at)),
        "meta": { "tenant_id": g.caller.tenant_id, "identity_id": g.caller.identity_id },
        "num_uses": 0,
        "orphan": true,
        "path": "auth/token/create",
        "policies": g.caller.scopes.names(),
        "renewable": false,
        "ttl": ttl,
        "type": "service",
    });
    Ok(ok(g.ctx, data))
}

/// `PUT /v1/auth/token/renew-self`: nothing to renew; the `auth` block says so.
pub fn renew_self(g: &Guard<'_>) -> Response {
    let mut body = envelope(g.ctx, serde_json::Value::Null);
    body.auth = Some(json!({
        "accessor": g.caller.token_id,
        "policies": g.caller.scopes.names(),
        "token_policies": g.caller.scopes.names(),
        "metadata": { "tenant_id": g.caller.tenant_id },
        "lease_duration": remaining_secs(g),
        "renewable": false,
        "entity_id": "",
        "token_type": "service",
        "orphan": true,
    }));
    json_response(StatusCode::OK, &body)
}
