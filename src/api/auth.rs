//! `/v1/auth`: whoami, introspect, and token management (create, list, revoke).

use super::pagination;
use super::secret_body::duration_error;
use crate::audit::action;
use crate::clock::{from_micros, rfc3339, to_micros};
use crate::crypto::token_hash;
use crate::domain::access::Reach;
use crate::domain::duration::{ApiDuration, DurationError};
use crate::domain::path::validate_prefix;
use crate::domain::scope::{Scope, ScopeSet};
use crate::domain::token::{valid_token_name, Caller, NewToken};
use crate::domain::token_ops::{kind, token_row, TokenOps, TokenSpec};
use crate::http::body::JsonObject;
use crate::http::context::RequestContext;
use crate::http::error::{ApiError, FieldError};
use crate::http::guard::{query_map, Guard};
use crate::server::AppState;
use crate::store::TokenRow;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use utoipa_axum::routes;

use super::registry::ApiRouter;
use super::schemas::auth as schema;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(whoami))
        .routes(routes!(introspect))
        .routes(routes!(create, list))
        .routes(routes!(revoke))
}

/// The caller's identity, tenant, scopes and path rules.
#[utoipa::path(get, path = "/v1/auth/whoami", tag = "auth", operation_id = "whoami",
    responses((status = 200, description = "The caller", body = schema::Whoami)),
    security(("bearer" = [])))]

async fn whoami(caller: Caller) -> Json<Value> {
    Json(json!({
        "identity_id": caller.identity_id,
        "identity_type": caller.identity_type,
        "tenant_id": caller.tenant_id,
        "token_id": caller.token_id,
        "scopes": caller.scopes.names(),
        "path_prefixes": caller.path_prefixes,
        "token_expires_at": caller.expires_at.map(rfc3339),
    }))
}

/// A stored token's path rules (a JSON list); unreadable rules read as one rule no caller
/// with rules covers, so such a token stays hidden from path-restricted admins.
fn stored_rules(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_else(|_| vec![String::from("/")])
}

/// A token as listed (never its value or hash).
fn token_view(t: &TokenRow, now_us: i64) -> Value {
    let scopes: Value = serde_json::from_str(&t.scopes).unwrap_or(Value::Null);
    let prefixes: Value = serde_json::from_str(&t.path_prefixes).unwrap_or(Value::Null);
    let status = if t.revoked_at.is_some() {
        "revoked"
    } else if t.expires_at.is_some_and(|e| e <= now_us) {
        "expired"
    } else {
        "active"
    };
    json!({
        "id": t.id,
        "name": t.name,
        "identity_id": t.identity_id,
        "identity_type": t.identity_type,
        "tenant_id": t.tenant_id,
        "scopes": scopes,
        "path_prefixes": prefixes,
        "created_at": rfc3339(from_micros(t.created_at)),
        "created_by": t.created_by,
        "expires_at": t.expires_at.map(|e| rfc3339(from_micros(e))),
        "revoked_at": t.revoked_at.map(|e| rfc3339(from_micros(e))),
        "status": status,
    })
}

/// Whether a token is active, and its fields if so.
#[utoipa::path(post, path = "/v1/auth/introspect", tag = "auth", operation_id = "introspect",
    request_body = schema::IntrospectRequest,
    responses((status = 200, description = "`active` and, when active, the token", body = schema::Introspection)),
    security(("bearer" = ["admin"])))]
async fn introspect(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    body: Result<JsonObject, ApiError>,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    g.allow("introspect", Scope::Admin, Reach::Filtered).await?;
    let JsonObject(body) = body?;
    let token = introspect_token(&body)?;
    let now = to_micros(st.clock.now());
    let found = st.store.find_token_by_hash(&token_hash(token)).await?;
    // A token outside a path-restricted admin's rules is as good as unknown to it.
    let active = found.filter(|t| {
        t.tenant_id == caller.tenant_id
            && g.sees(Reach::rules(&stored_rules(&t.path_prefixes)))
            && t.revoked_at.is_none()
            && t.expires_at.is_none_or(|e| e > now)
    });
    Ok(Json(match active {
        None => json!({ "active": false }),
        Some(t) => {
            let mut v = token_view(&t, now);
            v["active"] = json!(true);
            v
        }
    })
    .into_response())
}

/// The `token` of an introspection body.
pub(crate) fn introspect_token(body: &serde_json::Map<String, Value>) -> Result<&str, ApiError> {
    body.get("token")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::validation_one("token", "is required (a string)"))
}

pub(crate) struct CreateBody {
    name: String,
    scopes: ScopeSet,
    ttl: Option<ApiDuration>,
    path_prefixes: Vec<String>,
}

pub(crate) fn parse_create(body: &serde_json::Map<String, Value>) -> Result<CreateBody, ApiError> {
    let mut errors = Vec::new();
    let name = match body.get("name").and_then(Value::as_str) {
        Some(n) if valid_token_name(n) => n.to_string(),
        _ => {
            errors.push(FieldError::new(
                "name",
                "is required: 1-64 of letters, digits, '.', '_', '-'",
            ));
            String::new()
        }
    };
    let scopes = match body.get("scopes") {
        Some(Value::Array(a)) if !a.is_empty() => {
            let names: Option<Vec<&str>> = a.iter().map(Value::as_str).collect();
            match names.map(ScopeSet::parse) {
                Some(Ok(s)) => s,
                Some(Err(e)) => {
                    errors.push(FieldError::new("scopes", e));
                    ScopeSet::default()
                }
                None => {
                    errors.push(FieldError::new("scopes", "must be a list of scope names"));
                    ScopeSet::default()
                }
            }
        }
        _ => {
            errors.push(FieldError::new(
                "scopes",
                "is required: a non-empty list of scope names",
            ));
            ScopeSet::default()
        }
    };
    let ttl = match body.get("ttl") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(ApiDuration::parse(s).map_err(|e| match e {
            // Name the failing field (the shared helper can only say "duration").
            DurationError::NotPositive(_) => ApiError::validation_one("ttl", e.to_string()),
            DurationError::Malformed(_) => duration_error(e),
        })?),
        Some(_) => {
            errors.push(FieldError::new(
                "ttl",
                "must be a duration string such as 90d",
            ));
            None
        }
    };
    let path_prefixes = match body.get("path_prefixes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => {
            let mut out = Vec::new();
            for p in a {
                match p.as_str() {
                    Some(s) if !s.is_empty() => {
                        validate_prefix(s).map_err(|e| ApiError::invalid_path(e.0))?;
                        out.push(s.to_string());
                    }
                    _ => {
                        errors.push(FieldError::new(
                            "path_prefixes",
                            "must be a list of non-empty path prefixes",
                        ));
                        break;
                    }
                }
            }
            out
        }
        Some(_) => {
            errors.push(FieldError::new(
                "path_prefixes",
                "must be a list of path prefixes",
            ));
            Vec::new()
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    Ok(CreateBody {
        name,
        scopes,
        ttl,
        path_prefixes,
    })
}

/// Creates a token; its value is in the answer, once.
#[utoipa::path(post, path = "/v1/auth/tokens", tag = "auth", operation_id = "create_token",
    request_body = schema::TokenCreate,
    responses((status = 201, description = "Created; `token` is shown only now", body = schema::NewToken)),
    security(("bearer" = ["admin"])))]
async fn create(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    body: Result<JsonObject, ApiError>,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    let res = async {
        g.allow(action::TOKEN_CREATE, Scope::Admin, Reach::Filtered)
            .await?;
        let JsonObject(body) = body?;
        let b = parse_create(&body)?;
        // A path-restricted admin can only mint tokens inside its own rules.
        g.allow(
            action::TOKEN_CREATE,
            Scope::Admin,
            Reach::rules(&b.path_prefixes),
        )
        .await?;
        let now = st.clock.now();
        let token = NewToken::generate();
        let row = token_row(
            &TokenSpec {
                tenant_id: &caller.tenant_id,
                name: &b.name,
                scopes: &b.scopes,
                path_prefixes: &b.path_prefixes,
                ttl: b.ttl.as_ref(),
                kind: kind::API,
                created_by: &caller.identity_id,
                is_user: false,
            },
            &token,
            now,
        );
        let audit = g.row(
            action::TOKEN_CREATE,
            None,
            None,
            201,
            json!({ "token_id": row.id, "name": row.name }),
        );
        TokenOps::new(st.store.as_ref())
            .create(&row, &audit)
            .await?;
        let mut v = token_view(&row, to_micros(now));
        v["token"] = json!(token.plaintext.expose_secret());
        Ok((StatusCode::CREATED, Json(v)).into_response())
    }
    .await;
    match res {
        Ok(r) => Ok(r),
        Err(e) => Err(g.fail(action::TOKEN_CREATE, None, e).await),
    }
}

/// Lists the tenant's tokens (never their values); a path-restricted admin sees only the
/// tokens restricted to its own paths.
#[utoipa::path(get, path = "/v1/auth/tokens", tag = "auth", operation_id = "list_tokens",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size (default 100)"),
        ("cursor" = Option<String>, Query, description = "From the previous page"),
    ),
    responses((status = 200, description = "A page of tokens", body = schema::TokenList)),
    security(("bearer" = ["admin"])))]
async fn list(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    g.allow("token_list", Scope::Admin, Reach::Filtered).await?;
    let query = query_map(q.as_deref());
    let limit = pagination::limit(query.get("limit").map(String::as_str))?;
    let after = pagination::decode(query.get("cursor").map(String::as_str))?;
    // A path-restricted admin sees only the tokens inside its own rules.
    let rows = pagination::read_visible(
        after,
        limit,
        |from| {
            let store = &st.store;
            let tenant = &caller.tenant_id;
            async move { store.list_tokens(tenant, from.as_deref(), limit + 1).await }
        },
        |t| t.id.clone(),
        |t| g.sees(Reach::rules(&stored_rules(&t.path_prefixes))),
    )
    .await?;
    let (rows, cursor) = pagination::page(rows, limit, |t| t.id.clone());
    let now = to_micros(st.clock.now());
    let tokens: Vec<Value> = rows.iter().map(|t| token_view(t, now)).collect();
    Ok(
        Json(json!({ "tokens": tokens, "has_more": cursor.is_some(), "cursor": cursor }))
            .into_response(),
    )
}

/// Revokes a token, effective on the next request on every replica.
#[utoipa::path(delete, path = "/v1/auth/tokens/{id}", tag = "auth", operation_id = "revoke_token",
    params(("id" = String, Path, min_length = 1, description = "`tok_…`")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "`access_denied`: the caller is path-restricted and the token reaches beyond its paths"),
        (status = 404, description = "`token_not_found`"),
    ),
    security(("bearer" = ["admin"])))]
async fn revoke(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    let res = async {
        g.allow(action::TOKEN_REVOKE, Scope::Admin, Reach::Filtered)
            .await?;
        let missing = || ApiError::not_found("token_not_found", format!("no active token '{id}'"));
        if !caller.path_prefixes.is_empty() {
            // A token reaching beyond a path-restricted admin's rules is hidden from it.
            let target = st
                .store
                .get_token(&caller.tenant_id, &id)
                .await?
                .ok_or_else(missing)?;
            g.allow_existing(
                action::TOKEN_REVOKE,
                Scope::Admin,
                Reach::rules(&stored_rules(&target.path_prefixes)),
                missing,
            )
            .await?;
        }
        let audit = g.row(
            action::TOKEN_REVOKE,
            None,
            None,
            204,
            json!({ "token_id": id }),
        );
        let now = to_micros(st.clock.now());
        if !TokenOps::new(st.store.as_ref())
            .revoke(&caller.tenant_id, &id, now, &audit)
            .await?
        {
            return Err(missing());
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    match res {
        Ok(r) => Ok(r),
        Err(e) => Err(g.fail(action::TOKEN_REVOKE, None, e).await),
    }
}
