//! Forced rotation, a policy's history, and the list of secrets due for rotation.

use crate::api::pagination;
use crate::clock::to_micros;
use crate::domain::access::Reach;
use crate::domain::path::SecretPath;
use crate::domain::policy_ops::{ForceRequest, PolicyOps};
use crate::domain::scope::Scope;
use crate::domain::token::Caller;
use crate::http::body::JsonObject;
use crate::http::context::RequestContext;
use crate::http::error::ApiError;
use crate::http::guard::{query_map, Guard};
use crate::server::AppState;
use crate::store::HistoryRow;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::api::schemas::rotation as schema;

use super::*;

/// Forces a rotation of the given (or all attached) secrets; a pending one is returned as is.
#[utoipa::path(post, path = "/v1/rotation/policies/{id}/rotate", tag = "rotation", operation_id = "rotate",
    params(("id" = String, Path, min_length = 1, description = "`rot_<name>`")),
    request_body(content = Option<schema::RotateRequest>, description = "Optional; without it, every attached secret"),
    responses(
        (status = 200, description = "One history item per secret", body = Vec<schema::RotationHistoryItem>),
        (status = 404, description = "`rotation_policy_not_found`, `secret_not_found`"),
    ),
    security(("bearer" = ["secrets:rotate"])))]
pub(super) async fn rotate(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<JsonObject, ApiError>,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    match rotate_inner(&st, &g, &id, body).await {
        Ok(r) => Ok(r),
        Err(e) => Err(g.fail("rotate", None, e).await),
    }
}

/// The `secret_paths` of a forced-rotation body (None: every attached secret).
pub(crate) fn rotate_paths(
    body: &serde_json::Map<String, Value>,
) -> Result<Option<Vec<SecretPath>>, ApiError> {
    let list = || ApiError::validation_one("secret_paths", "must be a list of paths");
    match body.get("secret_paths") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                let raw = v.as_str().ok_or_else(list)?;
                SecretPath::parse(raw).map_err(|e| ApiError::invalid_path(e.0))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(list()),
    }
}

pub(super) async fn rotate_inner(
    st: &AppState,
    g: &Guard<'_>,
    id: &str,
    body: Result<JsonObject, ApiError>,
) -> Result<Response, ApiError> {
    g.allow("rotate", Scope::SecretsRotate, Reach::Filtered)
        .await?;
    let JsonObject(body) = body?;
    let caller = g.caller;
    let p = st
        .store
        .get_policy(&caller.tenant_id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    // Paths are parsed and authorized before the transaction opens: a refusal writes its
    // audit row, which on SQLite waits for the write turn an open transaction holds.
    let named = rotate_paths(&body)?;
    for path in named.iter().flatten() {
        g.allow("rotate", Scope::SecretsRotate, Reach::Path(path.as_str()))
            .await?;
    }
    let named: Option<Vec<String>> =
        named.map(|ps| ps.into_iter().map(|p| p.as_str().to_string()).collect());
    let audit = |path: &str, version: i64, h: &HistoryRow| {
        g.row(
            "rotate",
            Some(path),
            Some(version),
            200,
            json!({ "trigger": "manual", "rotation_policy_id": p.id, "history_id": h.id }),
        )
    };
    let ops = PolicyOps::new(st.store.as_ref());
    let forced = ops
        .force(
            &p,
            &ForceRequest {
                named: named.as_deref(),
                sees: &|path| g.sees(Reach::Path(path)),
                actor: &caller.identity_id,
                request_id: Some(&g.ctx.request_id),
            },
            st.clock.now(),
            &audit,
        )
        .await
        .map_err(policy_error)?;
    st.bus.published(forced.len(), forced.len());
    for f in forced.iter().filter(|f| f.opened && p.auto_generate != 0) {
        if let Err(msg) = crate::scheduler::auto_rotate(st, &caller.tenant_id, &f.secret_path).await
        {
            crate::scheduler::fail_history(st, &f.history.id, "auto_generate_failed", &msg, 1)
                .await?;
        }
    }
    // Read again so auto-generated rotations show their outcome.
    let items = ops
        .refresh(forced.into_iter().map(|f| f.history).collect())
        .await?;
    Ok(Json(Value::Array(items.iter().map(history_view).collect())).into_response())
}

/// A policy's rotation history, newest first.
#[utoipa::path(get, path = "/v1/rotation/policies/{id}/history", tag = "rotation", operation_id = "rotation_history",
    params(
        ("id" = String, Path, min_length = 1, description = "`rot_<name>`"),
        ("status" = Option<schema::RotationStatus>, Query),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size (default 100)"),
        ("cursor" = Option<String>, Query, description = "From the previous page"),
    ),
    responses(
        (status = 200, description = "A page of history items", body = schema::HistoryList),
        (status = 404, description = "`rotation_policy_not_found`"),
    ),
    security(("bearer" = ["audit:read"])))]
pub(super) async fn history(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    g.allow("rotation_history", Scope::AuditRead, Reach::Filtered)
        .await?;
    st.store
        .get_policy(&caller.tenant_id, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let query = query_map(q.as_deref());
    let status = match query.get("status").map(String::as_str) {
        None | Some("") => None,
        Some(s @ ("pending" | "success" | "failed" | "overdue")) => Some(s),
        Some(_) => {
            return Err(ApiError::validation_one(
                "status",
                "must be pending, success, failed or overdue",
            ))
        }
    };
    let limit = pagination::limit(query.get("limit").map(String::as_str))?;
    let before = pagination::decode(query.get("cursor").map(String::as_str))?;
    let rows = st
        .store
        .list_history(&caller.tenant_id, &id, status, before.as_deref(), limit + 1)
        .await?;
    let (rows, cursor) = pagination::page(rows, limit, |h| h.id.clone());
    let data: Vec<Value> = rows
        .iter()
        .filter(|h| g.sees(Reach::Path(&h.secret_path)))
        .map(history_view)
        .collect();
    Ok(
        Json(json!({ "data": data, "has_more": cursor.is_some(), "cursor": cursor }))
            .into_response(),
    )
}

/// Secrets due for rotation within the window (and overdue ones).
#[utoipa::path(get, path = "/v1/rotation/due", tag = "rotation", operation_id = "rotation_due",
    params(
        ("within_hours" = Option<i64>, Query, minimum = 0, maximum = 8784, description = "Default 24"),
        ("include_overdue" = Option<bool>, Query, description = "Default true"),
        ("policy_id" = Option<String>, Query),
    ),
    responses((status = 200, description = "Due secrets", body = schema::DueList)),
    security(("bearer" = ["secrets:rotate"])))]
pub(super) async fn due(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    g.allow("rotation_due", Scope::SecretsRotate, Reach::Filtered)
        .await?;
    let query = query_map(q.as_deref());
    let hours = match query.get("within_hours").filter(|v| !v.is_empty()) {
        None => 24,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|h| (0..=24 * 366).contains(h))
            .ok_or_else(|| {
                ApiError::validation_one("within_hours", "must be an integer from 0 to 8784")
            })?,
    };
    let include_overdue = !matches!(
        query.get("include_overdue").map(String::as_str),
        Some("false" | "0")
    );
    let now = st.clock.now();
    let until = to_micros(now + chrono::Duration::hours(hours));
    let rows = st
        .store
        .due_rotations(
            &caller.tenant_id,
            until,
            query
                .get("policy_id")
                .map(String::as_str)
                .filter(|p| !p.is_empty()),
        )
        .await?;
    let data: Vec<Value> = rows
        .iter()
        .filter(|(_, path)| g.sees(Reach::Path(path)))
        .filter_map(|(s, path)| {
            let overdue = s.status == "overdue";
            (include_overdue || !overdue).then(|| {
                json!({ "secret_path": path, "policy_id": s.policy_id, "next_rotation_at": ts(s.next_rotation_at), "overdue": overdue, "status": s.status })
            })
        })
        .collect();
    Ok(Json(json!({ "count": data.len(), "data": data })).into_response())
}
