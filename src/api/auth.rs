//! `/v1/auth`: whoami, introspect, and token management (create, list, revoke).

use super::pagination;
use crate::audit::action;
use crate::clock::to_micros;
use crate::crypto::token_hash;
use crate::domain::access::Reach;
use crate::domain::scope::Scope;
use crate::domain::token::{Caller, NewToken};
use crate::domain::token_ops::{kind, token_row, TokenOps, TokenSpec};
use crate::http::door::Door;
use crate::http::error::ApiError;
use crate::http::guard::{audited, query_map};
use crate::http::typed_body::JsonBody;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use secrecy::ExposeSecret;
use serde_json::json;
use utoipa_axum::routes;

use super::bodies::auth as schema;
use super::registry::ApiRouter;

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

async fn whoami(caller: Caller) -> Json<schema::Whoami> {
    Json((&caller).into())
}

/// A stored token's path rules (a JSON list); unreadable rules read as one rule no caller
/// with rules covers, so such a token stays hidden from path-restricted admins.
fn stored_rules(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_else(|_| vec![String::from("/")])
}

/// Whether a token is active, and its fields if so.
#[utoipa::path(post, path = "/v1/auth/introspect", tag = "auth", operation_id = "introspect",
    request_body = schema::IntrospectRequest,
    responses((status = 200, description = "`active` and, when active, the token", body = schema::Introspection)),
    security(("bearer" = ["admin"])))]
async fn introspect(
    door: Door,
    body: Result<JsonBody<schema::IntrospectRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    g.allow("introspect", Scope::Admin, Reach::Filtered).await?;
    let JsonBody { body, check } = body?;
    let token = body.check(check)?;
    let now = to_micros(st.clock.now());
    let found = st.store.find_token_by_hash(&token_hash(&token)).await?;
    // A token outside a path-restricted admin's rules is as good as unknown to it.
    let active = found.filter(|t| {
        t.tenant_id == caller.tenant_id
            && g.sees(Reach::rules(&stored_rules(&t.path_prefixes)))
            && t.revoked_at.is_none()
            && t.expires_at.is_none_or(|e| e > now)
    });
    Ok(Json(match active {
        None => schema::Introspection::default(),
        Some(t) => schema::Token::of(&t, now).into(),
    })
    .into_response())
}

/// Creates a token; its value is in the answer, once.
#[utoipa::path(post, path = "/v1/auth/tokens", tag = "auth", operation_id = "create_token",
    request_body = schema::TokenCreate,
    responses((status = 201, description = "Created; `token` is shown only now", body = schema::NewToken)),
    security(("bearer" = ["admin"])))]
async fn create(
    door: Door,
    body: Result<JsonBody<schema::TokenCreate>, ApiError>,
) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    audited!(g, action::TOKEN_CREATE, None, async {
        g.allow(action::TOKEN_CREATE, Scope::Admin, Reach::Filtered)
            .await?;
        let JsonBody { body, check } = body?;
        let b = body.check(check)?;
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
        let created = schema::NewToken {
            fields: schema::Token::of(&row, to_micros(now)),
            token: token.plaintext.expose_secret().to_string(),
        };
        Ok((StatusCode::CREATED, Json(created)).into_response())
    })
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
async fn list(door: Door, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
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
    Ok(Json(schema::TokenList {
        tokens: rows.iter().map(|t| schema::Token::of(t, now)).collect(),
        has_more: cursor.is_some(),
        cursor,
    })
    .into_response())
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
async fn revoke(door: Door, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    audited!(g, action::TOKEN_REVOKE, None, async {
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
    })
}
