//! `/v1/secrets`: write, read, versions, metadata, list, batch read, delete, restore.

use super::pagination;
use super::secret_body::{parse_patch, parse_put};
use super::secret_views as view;
use crate::audit::action;
use crate::domain::access::{Need, Reach};
use crate::domain::path::{validate_prefix, SecretPath};
use crate::domain::scope::Scope;
use crate::domain::secret::SecretType;
use crate::domain::secret_ops::{Ops, SecretError, WriteRequest};
use crate::domain::token::Caller;
use crate::http::body::JsonObject;
use crate::http::context::RequestContext;
use crate::http::error::ApiError;
use crate::http::guard::{query_map, Guard};
use crate::server::AppState;
use crate::store::SecretListQuery;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use serde_json::{json, Map, Value};
use utoipa::OpenApi;
use utoipa_axum::routes;

use super::registry::ApiRouter;
use super::schemas::secrets as schema;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(batch))
        // A secret path has slashes: one catch-all serves every documented `{path}…` template,
        // dispatching on the last segment (`versions`, `metadata`, `restore` are reserved).
        .catch_all(
            "/v1/secrets/{*rest}",
            get(get_any)
                .put(put)
                .delete(delete)
                .patch(patch_any)
                .post(post_any),
            PathDocs::openapi(),
        )
}

/// The operations the catch-all serves.
#[derive(OpenApi)]
#[openapi(paths(get_any, put, delete, versions, get_metadata, patch_any, post_any))]
struct PathDocs;

impl From<SecretError> for ApiError {
    fn from(e: SecretError) -> Self {
        let msg = e.to_string();
        match e {
            SecretError::NotFound(_) => ApiError::not_found("secret_not_found", msg),
            SecretError::VersionNotFound { .. } => ApiError::not_found("version_not_found", msg),
            SecretError::VersionExpired { .. } => {
                ApiError::new(StatusCode::GONE, "secret_expired", msg)
            }
            SecretError::VersionConflict { expected, current } => {
                ApiError::conflict("version_conflict", msg).with_details(
                    json!({ "expected_version": expected, "current_version": current }),
                )
            }
            SecretError::SoftDeleted(_) => ApiError::conflict("secret_exists", msg),
            SecretError::Undecryptable(_) => ApiError::internal(msg),
            SecretError::PolicyNotFound(_) => ApiError::not_found("rotation_policy_not_found", msg),
            SecretError::Store(s) => s.into(),
        }
    }
}

/// The rotation schedule of a secret under a policy (one extra query only for those).
async fn schedule_of(
    st: &AppState,
    secret: &crate::store::SecretRow,
) -> Result<Option<std::sync::Arc<crate::store::ScheduleRow>>, ApiError> {
    if secret.rotation_policy_id.is_none() {
        return Ok(None);
    }
    Ok(st.store.get_schedule_cached(&secret.id).await?)
}

fn parse_path(raw: &str) -> Result<SecretPath, ApiError> {
    SecretPath::parse(raw).map_err(|e| ApiError::invalid_path(e.0))
}

fn ops(st: &AppState) -> Ops<'_> {
    Ops {
        store: st.store.as_ref(),
        keys: &st.keys,
        now: st.clock.now(),
        bus: &st.bus,
        metrics: &st.metrics,
    }
}

/// A path for audit rows even when it failed validation (bounded length).
fn audit_path(raw: &str) -> Option<&str> {
    // Cut at a character boundary: slicing inside a multi-byte character would panic.
    let mut end = raw.len().min(512);
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    Some(&raw[..end])
}

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
async fn put(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Result<JsonObject, ApiError>,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    let res = async {
        let path = parse_path(&raw)?;
        g.allow(
            action::WRITE,
            Scope::SecretsWrite,
            Reach::Path(path.as_str()),
        )
        .await?;
        let JsonObject(body) = body?;
        let mut parsed = parse_put(body, st.clock.now())?;
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
        let out = ops(&st).write(&req, row).await?;
        let status = if out.created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        let mut res = (status, Json(view::write_result(&out.secret))).into_response();
        set_etag(&mut res, out.secret.current_version);
        Ok(res)
    }
    .await;
    match res {
        Ok(r) => Ok(r),
        Err(e) => Err(g.fail(action::WRITE, audit_path(&raw), e).await),
    }
}

/// `If-Match: "3"` (or `3`, or `W/"3"`) as a check-and-set version.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(v) = headers.get(axum::http::header::IF_MATCH) else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or("").trim();
    let s = s.strip_prefix("W/").unwrap_or(s).trim_matches('"');
    s.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .map(Some)
        .ok_or_else(|| ApiError::invalid_request("If-Match must be a version number such as \"3\""))
}

/// 405 with the `Allow` header (RFC 9110) of what `raw` names: a sub-resource or the secret.
fn method_not_allowed(raw: &str, message: &str) -> Response {
    let allow = if raw.ends_with("/versions") {
        "GET"
    } else if raw.ends_with("/metadata") {
        "GET, PATCH"
    } else if raw.ends_with("/restore") {
        "POST"
    } else {
        "GET, PUT, DELETE"
    };
    let err = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        message,
    );
    ([(axum::http::header::ALLOW, allow)], err).into_response()
}

fn set_etag(res: &mut Response, version: i64) {
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        res.headers_mut().insert(axum::http::header::ETAG, v);
    }
}

/// Reads the current version, or `version`.
#[utoipa::path(get, path = "/v1/secrets/{path}", tag = "secrets", operation_id = "read_secret",
    params(("path" = String, Path, pattern = "^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,9}$", max_length = 512, description = "The secret path, 1-10 segments of `[A-Za-z0-9._-]`; its `/` may be sent raw or as `%2F`"),
        ("version" = Option<i64>, Query, minimum = 1, description = "Read this version instead of the current one")),
    responses(
        (status = 200, description = "The value and its metadata", body = schema::SecretRead, headers(("ETag" = String, description = "`\"<version>\"`"))),
        (status = 404, description = "`secret_not_found`, `version_not_found`"),
        (status = 410, description = "`secret_expired`: the version's grace period after a rotation has ended"),
    ),
    security(("bearer" = ["secrets:read"])))]
async fn get_any(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(raw): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    if let Some(p) = raw.strip_suffix("/versions") {
        return versions(&g, p).await;
    }
    if let Some(p) = raw.strip_suffix("/metadata") {
        return get_metadata(&g, p).await;
    }
    let res = async {
        let path = parse_path(&raw)?;
        g.allow(action::READ, Scope::SecretsRead, Reach::Path(path.as_str()))
            .await?;
        let query = query_map(q.as_deref());
        let version =
            match query.get("version") {
                None => None,
                Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    ApiError::invalid_request("version must be a positive integer")
                })?),
            };
        let read = ops(&st).read(&caller.tenant_id, &path, version).await?;
        let data: Value = serde_json::from_slice(&read.value)
            .map_err(|_| ApiError::internal("a stored value is not JSON"))?;
        g.record(&[g.row(
            action::READ,
            Some(path.as_str()),
            Some(read.version),
            200,
            Value::Null,
        )])
        .await?;
        st.metrics.secret_reads(1);
        let schedule = schedule_of(&st, &read.secret).await?;
        let mut res = Json(view::read_result(
            &read.secret,
            read.version,
            read.version_created_at,
            data,
            schedule.as_deref(),
        ))
        .into_response();
        set_etag(&mut res, read.version);
        Ok(res)
    }
    .await;
    match res {
        Ok(r) => Ok(r),
        Err(e) => Err(g.fail(action::READ, audit_path(&raw), e).await),
    }
}

/// Lists the versions, newest first.
#[utoipa::path(get, path = "/v1/secrets/{path}/versions", tag = "secrets", operation_id = "secret_versions",
    params(("path" = String, Path, pattern = "^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,9}$", max_length = 512, description = "The secret path, 1-10 segments of `[A-Za-z0-9._-]`; its `/` may be sent raw or as `%2F`")),
    responses(
        (status = 200, description = "The versions", body = schema::VersionList),
        (status = 404, description = "`secret_not_found`"),
    ),
    security(("bearer" = ["secrets:read"]), ("bearer" = ["secrets:list"])))]
async fn versions(g: &Guard<'_>, raw: &str) -> Result<Response, ApiError> {
    let res = async {
        let path = parse_path(raw)?;
        g.allow(
            action::READ_METADATA,
            Need::AnyOf(&[Scope::SecretsRead, Scope::SecretsList]),
            Reach::Path(path.as_str()),
        )
        .await?;
        let secret =
            g.st.store
                .get_secret(&g.caller.tenant_id, path.as_str())
                .await?
                .ok_or_else(|| ApiError::secret_not_found(path.as_str()))?;
        let list = g.st.store.list_versions(&secret.id).await?;
        let versions: Vec<Value> = list
            .iter()
            .map(|v| view::version_entry(v, secret.current_version))
            .collect();
        g.record(&[g.row(
            action::READ_METADATA,
            Some(path.as_str()),
            Some(secret.current_version),
            200,
            json!({ "resource": "versions" }),
        )])
        .await?;
        Ok(Json(json!({ "path": secret.path, "versions": versions })).into_response())
    }
    .await;
    match res {
        Ok(r) => Ok(r),
        Err(e) => Err(g.fail(action::READ_METADATA, audit_path(raw), e).await),
    }
}

/// Everything about the secret but its value.
#[utoipa::path(get, path = "/v1/secrets/{path}/metadata", tag = "secrets", operation_id = "secret_metadata",
    params(("path" = String, Path, pattern = "^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,9}$", max_length = 512, description = "The secret path, 1-10 segments of `[A-Za-z0-9._-]`; its `/` may be sent raw or as `%2F`")),
    responses(
        (status = 200, description = "The metadata", body = schema::SecretInfo),
        (status = 404, description = "`secret_not_found`"),
    ),
    security(("bearer" = ["secrets:list"])))]
async fn get_metadata(g: &Guard<'_>, raw: &str) -> Result<Response, ApiError> {
    let res = async {
        let path = parse_path(raw)?;
        g.allow(
            action::READ_METADATA,
            Scope::SecretsList,
            Reach::Path(path.as_str()),
        )
        .await?;
        let secret =
            g.st.store
                .get_secret(&g.caller.tenant_id, path.as_str())
                .await?
                .ok_or_else(|| ApiError::secret_not_found(path.as_str()))?;
        let count = g.st.store.list_versions(&secret.id).await?.len() as i64;
        g.record(&[g.row(
            action::READ_METADATA,
            Some(path.as_str()),
            Some(secret.current_version),
            200,
            Value::Null,
        )])
        .await?;
        let schedule = schedule_of(g.st, &secret).await?;
        Ok(Json(view::secret_metadata(
            &secret,
            Some(count),
            schedule.as_deref(),
        ))
        .into_response())
    }
    .await;
    match res {
        Ok(r) => Ok(r),
        Err(e) => Err(g.fail(action::READ_METADATA, audit_path(raw), e).await),
    }
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
async fn patch_any(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Result<JsonObject, ApiError>,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    let Some(p) = raw.strip_suffix("/metadata") else {
        return Ok(method_not_allowed(
            &raw,
            "PATCH is only for /v1/secrets/{path}/metadata",
        ));
    };
    let res = async {
        let path = parse_path(p)?;
        g.allow(
            action::WRITE,
            Scope::SecretsWrite,
            Reach::Path(path.as_str()),
        )
        .await?;
        let JsonObject(body) = body?;
        let (patch, mut options) = parse_patch(body, st.clock.now())?;
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
        let secret = ops(&st)
            .patch_metadata(&caller.tenant_id, &path, &patch, &options, row)
            .await?;
        let schedule = schedule_of(&st, &secret).await?;
        Ok(Json(view::secret_metadata(&secret, None, schedule.as_deref())).into_response())
    }
    .await;
    match res {
        Ok(r) => Ok(r),
        Err(e) => Err(g.fail(action::WRITE, audit_path(p), e).await),
    }
}

/// Undoes a soft delete.
#[utoipa::path(post, path = "/v1/secrets/{path}/restore", tag = "secrets", operation_id = "restore_secret",
    params(("path" = String, Path, pattern = "^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,9}$", max_length = 512, description = "The secret path, 1-10 segments of `[A-Za-z0-9._-]`; its `/` may be sent raw or as `%2F`")),
    responses(
        (status = 200, description = "Restored", body = schema::SecretRestored),
        (status = 404, description = "`secret_not_found` (nothing restorable)"),
    ),
    security(("bearer" = ["secrets:delete"])))]
async fn post_any(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    let Some(p) = raw.strip_suffix("/restore") else {
        return Ok(method_not_allowed(
            &raw,
            "POST is only for /v1/secrets/batch and /v1/secrets/{path}/restore",
        ));
    };
    let res = async {
        let path = parse_path(p)?;
        g.allow(
            action::RESTORE,
            Scope::SecretsDelete,
            Reach::Path(path.as_str()),
        )
        .await?;
        let row = g.row(action::RESTORE, Some(path.as_str()), None, 200, Value::Null);
        let secret = ops(&st).restore(&caller.tenant_id, &path, row).await?;
        Ok(Json(json!({
            "path": secret.path,
            "version": secret.current_version,
            "restored": true,
            "restored_at": crate::clock::rfc3339(st.clock.now()),
        }))
        .into_response())
    }
    .await;
    match res {
        Ok(r) => Ok(r),
        Err(e) => Err(g.fail(action::RESTORE, audit_path(p), e).await),
    }
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
async fn delete(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(raw): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
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
    let res = async {
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
        let o = ops(&st);
        let (secret, count) = if permanent {
            o.destroy(&caller.tenant_id, &path, row).await?
        } else {
            o.soft_delete(&caller.tenant_id, &path, row).await?
        };
        Ok(Json(view::deleted(&secret, count, permanent)).into_response())
    }
    .await;
    match res {
        Ok(r) => Ok(r),
        Err(e) => Err(g.fail(act, audit_path(&raw), e).await),
    }
}

/// Lists secrets (never their values), by path.
#[utoipa::path(get, path = "/v1/secrets", tag = "secrets", operation_id = "list_secrets",
    params(
        ("prefix" = Option<String>, Query, description = "Only paths starting with this"),
        ("tag" = Option<String>, Query, description = "Only secrets with this tag"),
        ("secret_type" = Option<super::schemas::common::SecretTypeName>, Query),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size (default 100)"),
        ("cursor" = Option<String>, Query, description = "From the previous page"),
    ),
    responses((status = 200, description = "A page of secrets", body = schema::SecretList)),
    security(("bearer" = ["secrets:list"])))]
async fn list(
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
async fn batch(
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

fn parse_batch(
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
