//! The auth extractor: `Authorization: Bearer skt_…` (or Vault's `X-Vault-Token`) → `Caller`, or 401 with an `auth_failed`
//! audit row. Each request looks the token up, so a revocation applies on the next request.

use super::context::RequestContext;
use super::error::ApiError;
use crate::audit::{self, Actor};
use crate::clock::{from_micros, to_micros};
use crate::crypto::token_hash;
use crate::domain::scope::ScopeSet;
use crate::domain::token::{Caller, DEFAULT_TENANT};
use crate::server::AppState;
use crate::store::{IdentityType, TokenRow};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde_json::json;
use std::sync::Arc;

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticated(parts, state).await.map(|(_, caller)| caller)
    }
}

/// Authenticates a request: its context and caller, or the refusal (audited and collapsed).
pub(super) async fn authenticated(
    parts: &mut Parts,
    state: &AppState,
) -> Result<(RequestContext, Caller), ApiError> {
    let ctx = RequestContext::from_request_parts(parts, state)
        .await
        .unwrap_or_else(|never| match never {});
    let presented = presented_token(parts);
    let path = parts.uri.path();
    let cacheable = parts.method == axum::http::Method::GET
        && (path == "/v1/secrets"
            || path.starts_with("/v1/secrets/")
            || crate::api::vault::is_data_read(path));
    match authenticate(state, presented, cacheable).await {
        Ok(caller) => {
            ctx.set_identity(&caller.identity_id);
            super::rate_limit::check(state, parts, &caller.token_id)?;
            Ok((ctx, caller))
        }
        Err((err, known)) if err.status == StatusCode::UNAUTHORIZED => {
            // A revoked or expired token still says whose it was; an unknown one does not.
            let actor = match &known {
                Some(t) => Actor {
                    tenant_id: &t.tenant_id,
                    identity_id: &t.identity_id,
                    identity_type: t.identity_type,
                },
                None => Actor {
                    tenant_id: DEFAULT_TENANT,
                    identity_id: "anonymous",
                    identity_type: IdentityType::User,
                },
            };
            let source = ctx.source_ip.as_deref().unwrap_or("-");
            let limited = state.rate_limits.refuse_unauthenticated(source);
            let (status, code) = match limited {
                Some(_) => (429, "rate_limited"),
                None => (401, err.code),
            };
            let row = audit::row(
                &ctx,
                actor,
                state.clock.now(),
                audit::action::AUTH_FAILED,
                None,
                None,
                status,
                json!({ "reason": code, "path": parts.uri.path() }),
            );
            // Identical refusals within a minute are one row (`audit::refusals`).
            audit::refusals::record(state, row).await?;
            match limited {
                Some(secs) => Err(ApiError::rate_limited(
                    secs,
                    format!("too many requests without a valid token from this address; retry in {secs}s"),
                )),
                None => Err(err),
            }
        }
        Err((err, _)) => Err(err),
    }
}

/// The token a request presents: `Authorization: Bearer …`, or else Vault's `X-Vault-Token`
/// header (SPEC §12; the Vault clients send only that one).
#[derive(Clone, Copy)]
enum Presented<'a> {
    Authorization(&'a str),
    VaultToken(&'a str),
    Nothing,
}

fn presented_token(parts: &Parts) -> Presented<'_> {
    let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
    match (
        header(axum::http::header::AUTHORIZATION.as_str()),
        header("x-vault-token"),
    ) {
        (Some(h), _) => Presented::Authorization(h),
        (None, Some(t)) => Presented::VaultToken(t),
        (None, None) => Presented::Nothing,
    }
}

/// Looks the bearer token up. `cacheable` requests (secret reads, which all commit an audit row
/// through the writer) may be served from the read cache; their caller is marked so the writer
/// checks the token again in the audit transaction. A failure carries the token row when the
/// token exists (revoked or expired), for the audit row.
async fn authenticate(
    state: &AppState,
    header: Presented<'_>,
    cacheable: bool,
) -> Result<Caller, (ApiError, Option<Arc<TokenRow>>)> {
    let (row, from_cache) = find_token(state, header, cacheable)
        .await
        .map_err(|e| (e, None))?;
    let now = to_micros(state.clock.now());
    if row.revoked_at.is_some() {
        return Err((ApiError::token_revoked(), Some(row)));
    }
    if row.expires_at.is_some_and(|e| e <= now) {
        return Err((
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "token_expired",
                "the token has expired",
            ),
            Some(row),
        ));
    }
    let mut caller = caller_from_row(&row).map_err(|e| (e, None))?;
    caller.recheck_token = from_cache;
    Ok(caller)
}

/// The stored token the `Authorization` header names, and whether it came from the cache.
async fn find_token(
    state: &AppState,
    header: Presented<'_>,
    cacheable: bool,
) -> Result<(Arc<TokenRow>, bool), ApiError> {
    let token = match header {
        Presented::Nothing => {
            return Err(ApiError::authentication_required(
                "send 'Authorization: Bearer <token>'",
            ))
        }
        Presented::Authorization(h) => h
            .strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::authentication_required(
                    "the Authorization header must be 'Bearer <token>'",
                )
            })?,
        Presented::VaultToken(t) => Some(t.trim()).filter(|t| !t.is_empty()).ok_or_else(|| {
            ApiError::authentication_required("the X-Vault-Token header is empty")
        })?,
    };
    let hash = token_hash(token);
    let found = if cacheable {
        state.store.find_token_cached(&hash).await?
    } else {
        state
            .store
            .find_token_by_hash(&hash)
            .await?
            .map(|row| (Arc::new(row), false))
    };
    found.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "token_invalid",
            "the token is not valid",
        )
    })
}

/// Builds the caller a stored token row describes.
pub fn caller_from_row(row: &TokenRow) -> Result<Caller, ApiError> {
    let scope_names: Vec<String> = serde_json::from_str(&row.scopes)
        .map_err(|_| ApiError::internal("a stored token has unreadable scopes"))?;
    let scopes = ScopeSet::parse(scope_names.iter().map(String::as_str))
        .map_err(|_| ApiError::internal("a stored token has an unknown scope"))?;
    let path_prefixes: Vec<String> = serde_json::from_str(&row.path_prefixes)
        .map_err(|_| ApiError::internal("a stored token has unreadable path rules"))?;
    Ok(Caller {
        token_id: row.id.clone(),
        identity_id: row.identity_id.clone(),
        identity_type: row.identity_type,
        tenant_id: row.tenant_id.clone(),
        scopes,
        path_prefixes,
        expires_at: row.expires_at.map(from_micros),
        recheck_token: false,
    })
}
