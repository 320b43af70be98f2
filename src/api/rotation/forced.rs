//! Forced rotation, a policy's history, and the list of secrets due for rotation.

use crate::api::pagination;
use crate::clock::to_micros;
use crate::domain::access::Reach;
use crate::domain::path::SecretPath;
use crate::domain::policy_ops::{ForceRequest, PolicyOps};
use crate::domain::rotation_outcome::{auto_rotate, fail_history};
use crate::domain::scope::Scope;
use crate::http::door::Door;
use crate::http::error::ApiError;
use crate::http::guard::{query_map, Guard};
use crate::http::typed_body::JsonBody;
use crate::server::AppState;
use crate::store::{HistoryRow, RotationStatus};
use axum::extract::{Path, RawQuery};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::api::bodies::rotation as schema;

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
    door: Door,
    Path(id): Path<String>,
    body: Result<JsonBody<schema::RotateRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let (st, _, g) = door.open();
    match rotate_inner(st, &g, &id, body).await {
        Ok(r) => Ok(r),
        Err(e) => Err(g.fail("rotate", None, e).await),
    }
}

pub(super) async fn rotate_inner(
    st: &AppState,
    g: &Guard<'_>,
    id: &str,
    body: Result<JsonBody<schema::RotateRequest>, ApiError>,
) -> Result<Response, ApiError> {
    g.allow("rotate", Scope::SecretsRotate, Reach::Filtered)
        .await?;
    let JsonBody { body, check } = body?;
    check.finish(Some(()))?;
    let caller = g.caller;
    let p = st
        .store
        .get_policy(&caller.tenant_id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    // Paths are parsed and authorized before the transaction opens: a refusal writes its
    // audit row, which on SQLite waits for the write turn an open transaction holds.
    let named = match body.secret_paths {
        None => None,
        Some(raws) => {
            let mut paths = Vec::new();
            for raw in raws {
                let path = SecretPath::parse(&raw).map_err(|e| ApiError::invalid_path(e.0))?;
                g.allow("rotate", Scope::SecretsRotate, Reach::Path(path.as_str()))
                    .await?;
                paths.push(path);
            }
            Some(paths)
        }
    };
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
    for f in forced.iter().filter(|f| f.opened && p.auto_generate) {
        let ops = st.ops();
        if let Err(msg) = auto_rotate(&ops, &caller.tenant_id, &f.secret_path).await {
            fail_history(&ops, &f.history.id, "auto_generate_failed", &msg, 1).await?;
        }
    }
    // Read again so auto-generated rotations show their outcome. Otherwise answer what was
    // opened: a fast webhook receiver may already have completed it, and the answer to a
    // forced rotation should not depend on that race.
    let opened: Vec<HistoryRow> = forced.into_iter().map(|f| f.history).collect();
    let items = if p.auto_generate {
        ops.refresh(opened).await?
    } else {
        opened
    };
    let items: Vec<schema::RotationHistoryItem> = items.iter().map(Into::into).collect();
    Ok(Json(items).into_response())
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
    door: Door,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
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
        .list_history(
            &caller.tenant_id,
            &id,
            status.and_then(RotationStatus::parse),
            before.as_deref(),
            limit + 1,
        )
        .await?;
    let (rows, cursor) = pagination::page(rows, limit, |h| h.id.clone());
    Ok(Json(schema::HistoryList {
        data: rows
            .iter()
            .filter(|h| g.sees(Reach::Path(&h.secret_path)))
            .map(Into::into)
            .collect(),
        has_more: cursor.is_some(),
        cursor,
    })
    .into_response())
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
pub(super) async fn due(door: Door, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
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
    let data: Vec<schema::DueItem> = rows
        .iter()
        .filter(|(_, path)| g.sees(Reach::Path(path)))
        .map(|(s, path)| schema::DueItem::of(s, path))
        .filter(|d| include_overdue || !d.overdue)
        .collect();
    Ok(Json(schema::DueList {
        count: data.len() as i64,
        data,
    })
    .into_response())
}
