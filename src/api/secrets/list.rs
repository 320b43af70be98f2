//! Listing secrets (filtered to the caller's paths) and the batch read.

use crate::api::pagination;
use crate::api::secret_views as view;
use crate::audit::action;
use crate::domain::access::Reach;
use crate::domain::path::validate_prefix;
use crate::domain::scope::Scope;
use crate::domain::secret::SecretType;
use crate::domain::token::Caller;
use crate::http::body::JsonObject;
use crate::http::context::RequestContext;
use crate::http::error::ApiError;
use crate::http::guard::{query_map, Guard};
use crate::server::AppState;
use crate::store::SecretListQuery;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use crate::api::schemas::secrets as schema;

use super::*;

/// Lists secrets (never their values), by path.
#[utoipa::path(get, path = "/v1/secrets", tag = "secrets", operation_id = "list_secrets",
    params(
        ("prefix" = Option<String>, Query, description = "Only paths starting with this"),
        ("tag" = Option<String>, Query, description = "Only secrets with this tag"),
        ("secret_type" = Option<crate::api::schemas::common::SecretTypeName>, Query),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size (default 100)"),
        ("cursor" = Option<String>, Query, description = "From the previous page"),
    ),
    responses((status = 200, description = "A page of secrets", body = schema::SecretList)),
    security(("bearer" = ["secrets:list"])))]
pub(super) async fn list(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    let query = query_map(q.as_deref());
    let res = async {
        g.allow(action::LIST, Scope::SecretsList, Reach::Filtered)
            .await?;
        let prefix = query.get("prefix").filter(|p| !p.is_empty()).cloned();
        if let Some(p) = &prefix {
            validate_prefix(p).map_err(|e| ApiError::invalid_path(e.0))?;
        }
        let secret_type = match query.get("secret_type").filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => Some(
                SecretType::parse(t)
                    .ok_or_else(|| {
                        ApiError::new(
                            StatusCode::BAD_REQUEST,
                            "invalid_secret_type",
                            "secret_type must be one of kv, json, certificate, ssh_key, api_key",
                        )
                    })?
                    .as_str()
                    .to_string(),
            ),
        };
        let limit = pagination::limit(query.get("limit").map(String::as_str))?;
        let after = pagination::decode(query.get("cursor").map(String::as_str))?;
        let base = SecretListQuery {
            tenant_id: caller.tenant_id.clone(),
            prefix: prefix.clone(),
            tag: query.get("tag").filter(|t| !t.is_empty()).cloned(),
            secret_type,
            path_rules: caller.path_prefixes.clone(),
            after_path: None,
            limit: 0,
        };
        // Metadata can be large (older rows predate its bound): the page also ends at a size.
        let (rows, cursor) = pagination::fill(
            limit,
            after,
            |r| r.path.clone(),
            view::listed_size,
            |after_path, limit| {
                let q = SecretListQuery {
                    after_path,
                    limit,
                    ..base.clone()
                };
                let store = st.store.clone();
                async move { store.list_secrets(&q).await }
            },
        )
        .await?;
        g.record(&[g.row(
            action::LIST,
            prefix.as_deref(),
            None,
            200,
            json!({ "count": rows.len() }),
        )])
        .await?;
        let secrets: Vec<Value> = rows
            .iter()
            .map(|r| view::secret_metadata(r, None, None))
            .collect();
        Ok(
            Json(json!({ "secrets": secrets, "has_more": cursor.is_some(), "cursor": cursor }))
                .into_response(),
        )
    }
    .await;
    match res {
        Ok(r) => Ok(r),
        Err(e) => Err(g.fail(action::LIST, None, e).await),
    }
}

/// Reads up to 100 secrets; each path is authorized and audited on its own.
#[utoipa::path(post, path = "/v1/secrets/batch", tag = "secrets", operation_id = "batch_read",
    request_body = schema::BatchRead,
    responses((status = 200, description = "Per path, the secret or the error", body = schema::BatchResult)),
    security(("bearer" = ["secrets:read"])))]
pub(super) async fn batch(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    body: Result<JsonObject, ApiError>,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    let res = async {
        g.allow(action::READ, Scope::SecretsRead, Reach::Filtered)
            .await?;
        let JsonObject(body) = body?;
        let (paths, include_metadata, fail_fast, version) = parse_batch(&body)?;
        let o = ops(&st);
        let mut secrets = Map::new();
        let mut errors = Map::new();
        let mut rows = Vec::new();
        for raw in paths {
            let one = async {
                let path = parse_path(&raw)?;
                // This loop writes each path's row itself (batch:true), refusals included.
                g.judge(Scope::SecretsRead, Reach::Path(path.as_str()))?;
                let read = o.read(&caller.tenant_id, &path, version).await?;
                let data: Value = serde_json::from_slice(&read.value)
                    .map_err(|_| ApiError::internal("a stored value is not JSON"))?;
                Ok::<_, ApiError>((read, data))
            }
            .await;
            match one {
                Ok((read, data)) => {
                    rows.push(g.row(action::READ, Some(&raw), Some(read.version), 200, json!({ "batch": true })));
                    let mut entry = json!({ "data": data, "version": read.version, "secret_type": read.secret.secret_type });
                    if include_metadata {
                        entry["metadata"] = view::metadata(&read.secret);
                    }
                    secrets.insert(raw, entry);
                }
                Err(e) => {
                    if e.status.is_server_error() && e.status != StatusCode::INTERNAL_SERVER_ERROR {
                        return Err(e);
                    }
                    rows.push(g.row(action::READ, audit_path(&raw), None, e.status.as_u16(), json!({ "batch": true, "error": e.code })));
                    errors.insert(raw, json!({ "code": e.code, "message": e.message }));
                    if fail_fast {
                        break;
                    }
                }
            }
        }
        g.record(&rows).await?;
        st.metrics.secret_reads(secrets.len() as u64);
        Ok(Json(json!({ "secrets": secrets, "errors": errors })).into_response())
    }
    .await;
    match res {
        Ok(r) => Ok(r),
        Err(e) => Err(g.fail(action::READ, None, e).await),
    }
}

pub(crate) fn parse_batch(
    body: &Map<String, Value>,
) -> Result<(Vec<String>, bool, bool, Option<i64>), ApiError> {
    let paths = match body.get("paths") {
        Some(Value::Array(a)) if a.is_empty() => {
            return Err(ApiError::validation_one("paths", "name at least one path"))
        }
        Some(Value::Array(a)) if a.len() > 100 => {
            return Err(ApiError::validation_one(
                "paths",
                "at most 100 paths per batch",
            ))
        }
        Some(Value::Array(a)) => a
            .iter()
            .map(|p| p.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| ApiError::validation_one("paths", "must be a list of strings"))?,
        None => return Err(ApiError::validation_one("paths", "is required")),
        Some(_) => {
            return Err(ApiError::validation_one(
                "paths",
                "must be a list of strings",
            ))
        }
    };
    let empty = Map::new();
    let opts = match body.get("options") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(o)) => o,
        Some(_) => return Err(ApiError::validation_one("options", "must be an object")),
    };
    let flag = |name: &str| match opts.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::validation_one(
            &format!("options.{name}"),
            "must be true or false",
        )),
    };
    let version = match opts.get("version") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().filter(|n| *n >= 1).ok_or_else(|| {
            ApiError::validation_one("options.version", "must be a positive integer")
        })?),
    };
    Ok((
        paths,
        flag("include_metadata")?,
        flag("fail_fast")?,
        version,
    ))
}
