//! `/v1/audit`: query (newest first, cursor pagination), per-secret and per-identity views,
//! summary, streaming export (JSON Lines or CSV, itself audited), and chain verification.

use super::audit_csv;
use super::pagination;
use crate::audit::action;
use crate::audit::chain::{verify, Verdict};
use crate::clock::{from_micros, rfc3339_micros, to_micros};
use crate::domain::access::Reach;
use crate::domain::path::{validate_prefix, SecretPath};
use crate::domain::scope::Scope;
use crate::domain::token::Caller;
use crate::http::body::JsonObject;
use crate::http::context::RequestContext;
use crate::http::error::ApiError;
use crate::http::guard::{query_map, Guard};
use crate::server::AppState;
use crate::store::{AuditQuery, AuditRow};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use utoipa::OpenApi;
use utoipa_axum::routes;

use super::registry::ApiRouter;
use super::schemas::audit as schema;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(logs))
        // A secret path has slashes: one catch-all serves the documented `{path}` template.
        .catch_all(
            "/v1/audit/secrets/{*path}",
            get(by_secret),
            SecretAuditDoc::openapi(),
        )
        .routes(routes!(by_identity))
        .routes(routes!(summary))
        .routes(routes!(export))
        .routes(routes!(verify_chain))
}

#[derive(OpenApi)]
#[openapi(paths(by_secret))]
struct SecretAuditDoc;

/// One row as the API shows it.
pub fn row_view(r: &AuditRow) -> Value {
    json!({
        "id": r.id,
        "timestamp": rfc3339_micros(from_micros(r.ts)),
        "action": r.action,
        "identity_type": r.identity_type,
        "identity_id": r.identity_id,
        "secret_path": r.secret_path,
        "version": r.version,
        "source_ip": r.source_ip,
        "user_agent": r.user_agent,
        "success": r.success != 0,
        "status_code": r.status_code,
        "duration_ms": r.duration_ms,
        "request_id": r.request_id,
        "extra_data": serde_json::from_str::<Value>(&r.extra_data).unwrap_or(Value::Null),
        "seq": r.seq,
    })
}

fn time_param(v: Option<&String>, name: &str) -> Result<Option<i64>, ApiError> {
    match v.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| Some(to_micros(t.with_timezone(&chrono::Utc))))
            .map_err(|_| {
                ApiError::invalid_request(format!("{name} must be an RFC 3339 timestamp"))
            }),
    }
}

/// Builds a query from URL (or export `filters`) parameters.
pub(crate) fn build_query(
    caller: &Caller,
    p: &HashMap<String, String>,
) -> Result<AuditQuery, ApiError> {
    let get = |k: &str| p.get(k).filter(|v| !v.is_empty()).cloned();
    let success = match p.get("success").map(String::as_str) {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(ApiError::validation_one("success", "must be true or false")),
    };
    let identity_type = get("identity_type");
    if let Some(t) = &identity_type {
        if !["user", "service_account", "system"].contains(&t.as_str()) {
            return Err(ApiError::validation_one(
                "identity_type",
                "must be user, service_account or system",
            ));
        }
    }
    let path_prefix = get("path_prefix");
    if let Some(pp) = &path_prefix {
        validate_prefix(pp).map_err(|e| ApiError::invalid_path(e.0))?;
    }
    let before = match pagination::decode(p.get("cursor").map(String::as_str))? {
        None => None,
        Some(c) => {
            let (ts, id) = c.split_once('|').ok_or_else(ApiError::invalid_cursor)?;
            Some((
                ts.parse::<i64>().map_err(|_| ApiError::invalid_cursor())?,
                id.to_string(),
            ))
        }
    };
    Ok(AuditQuery {
        tenant_id: caller.tenant_id.clone(),
        from_us: time_param(p.get("from"), "from")?,
        to_us: time_param(p.get("to"), "to")?,
        actions: get("action")
            .map(|a| {
                a.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        identity_id: get("identity_id"),
        identity_type,
        path_prefix,
        exact_path: None,
        success,
        source_ip: get("source_ip"),
        request_id: get("request_id"),
        path_rules: caller.path_prefixes.clone(),
        before,
        limit: pagination::limit(p.get("limit").map(String::as_str))?,
    })
}

/// Runs a page query: `limit + 1` rows, then the page and its cursor.
async fn page(st: &AppState, mut q: AuditQuery) -> Result<(Vec<Value>, Option<String>), ApiError> {
    let limit = q.limit;
    q.limit = limit + 1;
    let rows = st.store.list_audit(&q).await?;
    let (rows, cursor) = pagination::page(rows, limit, |r| format!("{}|{}", r.ts, r.id));
    Ok((rows.iter().map(row_view).collect(), cursor))
}

/// Audit rows, newest first.
#[utoipa::path(get, path = "/v1/audit/logs", tag = "audit", operation_id = "audit_logs",
    params(
        schema::AuditFilters,
    ),
    responses((status = 200, description = "A page of rows", body = schema::AuditLogs)),
    security(("bearer" = ["audit:read"])))]
async fn logs(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    Guard::new(&st, &ctx, &caller)
        .allow("audit_logs", Scope::AuditRead, Reach::Filtered)
        .await?;
    let query = build_query(&caller, &query_map(q.as_deref()))?;
    let (logs, cursor) = page(&st, query).await?;
    Ok(
        Json(json!({ "logs": logs, "has_more": cursor.is_some(), "cursor": cursor }))
            .into_response(),
    )
}

/// Reads, writes, rotations and distinct identities over the last 30 days.
async fn period_summary(st: &AppState, mut q: AuditQuery) -> Result<Value, ApiError> {
    q.from_us = Some(to_micros(st.clock.now() - chrono::Duration::days(30)));
    q.to_us = None;
    q.actions = Vec::new();
    q.before = None;
    let s = st.store.audit_summary(&q).await?;
    let count = |a: &str| {
        s.by_action
            .iter()
            .find(|(x, _)| x == a)
            .map_or(0, |(_, n)| *n)
    };
    Ok(json!({
        "period_days": 30,
        "reads": count("read"),
        "writes": count("write"),
        "rotations": count("rotate"),
        "unique_identities": s.unique_identities,
    }))
}

/// One secret's audit rows with a 30-day summary.
#[utoipa::path(get, path = "/v1/audit/secrets/{path}", tag = "audit", operation_id = "audit_secret",
    params(
        ("path" = String, Path, pattern = "^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,9}$", description = "The secret path; it may contain `/` (raw or as `%2F`)"),
        schema::AuditFilters,
    ),
    responses((status = 200, description = "Summary and a page of rows", body = schema::SecretAudit)),
    security(("bearer" = ["audit:read"])))]
async fn by_secret(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(raw): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    g.allow("audit_secret", Scope::AuditRead, Reach::Filtered)
        .await?;
    let path = SecretPath::parse(&raw).map_err(|e| ApiError::invalid_path(e.0))?;
    g.allow("audit_secret", Scope::AuditRead, Reach::Path(path.as_str()))
        .await?;
    let mut query = build_query(&caller, &query_map(q.as_deref()))?;
    query.exact_path = Some(path.to_string());
    let summary = period_summary(&st, query.clone()).await?;
    let (logs, cursor) = page(&st, query).await?;
    Ok(Json(json!({ "secret_path": path.as_str(), "summary": summary, "logs": logs, "has_more": cursor.is_some(), "cursor": cursor })).into_response())
}

/// One identity's audit rows with a 30-day summary.
#[utoipa::path(get, path = "/v1/audit/identities/{identity_id}", tag = "audit", operation_id = "audit_identity",
    params(
        ("identity_id" = String, Path, min_length = 1, description = "e.g. `user:alice`, `sa:deployer`"),
        schema::AuditFilters,
    ),
    responses((status = 200, description = "Summary and a page of rows", body = schema::IdentityAudit)),
    security(("bearer" = ["audit:read"])))]
async fn by_identity(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(identity): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    Guard::new(&st, &ctx, &caller)
        .allow("audit_identity", Scope::AuditRead, Reach::Filtered)
        .await?;
    let mut query = build_query(&caller, &query_map(q.as_deref()))?;
    query.identity_id = Some(identity.clone());
    let summary = period_summary(&st, query.clone()).await?;
    let (logs, cursor) = page(&st, query).await?;
    Ok(Json(json!({ "identity_id": identity, "summary": summary, "logs": logs, "has_more": cursor.is_some(), "cursor": cursor })).into_response())
}

/// Counts of audit rows by outcome and action.
#[utoipa::path(get, path = "/v1/audit/summary", tag = "audit", operation_id = "audit_summary",
    params(
        schema::AuditFilters,
    ),
    responses((status = 200, description = "Counts", body = schema::AuditSummary)),
    security(("bearer" = ["audit:read"])))]
async fn summary(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    Guard::new(&st, &ctx, &caller)
        .allow("audit_summary", Scope::AuditRead, Reach::Filtered)
        .await?;
    let p = query_map(q.as_deref());
    let mut query = build_query(&caller, &p)?;
    query.before = None;
    let s = st.store.audit_summary(&query).await?;
    let by_action: Map<String, Value> = s
        .by_action
        .iter()
        .map(|(a, n)| (a.clone(), json!(n)))
        .collect();
    Ok(Json(json!({
        "total_events": s.total,
        "successful_events": s.successful,
        "failed_events": s.total - s.successful,
        "unique_identities": s.unique_identities,
        "by_action": by_action,
    }))
    .into_response())
}

/// Verifies the audit hash chain.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit", operation_id = "audit_verify",
    params(("from_seq" = Option<i64>, Query, minimum = 1, description = "Start here instead of the beginning")),
    responses((status = 200, description = "The verdict", body = schema::ChainVerdict)),
    security(("bearer" = ["audit:read"])))]
async fn verify_chain(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    Guard::new(&st, &ctx, &caller)
        .allow("audit_verify", Scope::AuditRead, Reach::Filtered)
        .await?;
    let p = query_map(q.as_deref());
    let from =
        match p.get("from_seq").filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                ApiError::validation_one("from_seq", "must be a positive integer")
            })?),
        };
    let unsealed = st.store.count_unsealed_audit().await?;
    Ok(Json(match verify(st.store.as_ref(), from).await? {
        Verdict::Ok { checked, head_seq, head_hash } => json!({ "ok": true, "checked": checked, "head_seq": head_seq, "head_hash": head_hash, "unsealed": unsealed }),
        Verdict::Broken { checked, first_bad_seq, reason } => json!({ "ok": false, "checked": checked, "first_bad_seq": first_bad_seq, "reason": reason, "unsealed": unsealed }),
    })
    .into_response())
}

/// An export body as query parameters (its `filters`, `from`, `to`), and whether it asks for CSV.
pub(crate) fn export_params(
    body: &serde_json::Map<String, Value>,
) -> Result<(HashMap<String, String>, bool), ApiError> {
    let csv = match body
        .get("format")
        .and_then(Value::as_str)
        .unwrap_or("jsonl")
    {
        "jsonl" => false,
        "csv" => true,
        _ => return Err(ApiError::validation_one("format", "must be jsonl or csv")),
    };
    let mut params: HashMap<String, String> = HashMap::new();
    if let Some(Value::Object(f)) = body.get("filters") {
        for (k, v) in f {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Array(a) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                Value::Null => continue,
                other => other.to_string(),
            };
            params.insert(k.clone(), s);
        }
    }
    for k in ["from", "to"] {
        if let Some(v) = body.get(k).and_then(Value::as_str) {
            params.insert(k.to_string(), v.to_string());
        }
    }
    params.insert("limit".into(), "1000".into());
    Ok((params, csv))
}

/// Streams the matching rows as a file (JSON Lines or CSV); the export is itself audited.
#[utoipa::path(post, path = "/v1/audit/export", tag = "audit", operation_id = "audit_export",
    request_body(content = Option<schema::ExportRequest>, description = "Optional; without it, every row as JSON Lines"),
    responses((status = 200, description = "The file, streamed", content(
        (String = "application/x-ndjson"),
        (String = "text/csv"),
    ))),
    security(("bearer" = ["audit:export"])))]
async fn export(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    body: Result<JsonObject, ApiError>,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    let res: Result<(AuditQuery, bool), ApiError> = async {
        g.allow(action::EXPORT_CREATED, Scope::AuditExport, Reach::Filtered)
            .await?;
        let JsonObject(body) = body?;
        let (params, csv) = export_params(&body)?;
        let q = build_query(&caller, &params)?;
        let row = g.row(
            action::EXPORT_CREATED,
            None,
            None,
            200,
            json!({ "format": if csv { "csv" } else { "jsonl" }, "filters": body.get("filters") }),
        );
        g.record(&[row]).await?;
        Ok((q, csv))
    }
    .await;
    let (q, csv) = match res {
        Ok(x) => x,
        Err(e) => return Err(g.fail(action::EXPORT_CREATED, None, e).await),
    };
    let store = st.store.clone();
    let header_line = csv.then(audit_csv::header_line);
    // Page through the rows, one chunk per page, until the end.
    let stream = futures_util::stream::unfold((Some(q), header_line), move |(next, header)| {
        let store = store.clone();
        async move {
            if let Some(h) = header {
                return Some((Ok::<_, std::io::Error>(h), (next, None)));
            }
            let mut q = next?;
            let limit = q.limit;
            q.limit = limit + 1;
            let mut rows = match store.list_audit(&q).await {
                Ok(r) => r,
                Err(e) => return Some((Err(std::io::Error::other(e.to_string())), (None, None))),
            };
            let more = rows.len() as i64 > limit;
            rows.truncate(limit as usize);
            let mut chunk = String::new();
            for r in &rows {
                let v = row_view(r);
                if csv {
                    chunk.push_str(&audit_csv::line(&v));
                } else {
                    chunk.push_str(&v.to_string());
                    chunk.push('\n');
                }
            }
            let following = if more {
                rows.last().map(|r| {
                    q.before = Some((r.ts, r.id.clone()));
                    q.limit = limit;
                    q
                })
            } else {
                None
            };
            if chunk.is_empty() {
                return None;
            }
            Some((Ok(chunk), (following, None)))
        }
    });
    let content_type = if csv {
        "text/csv; charset=utf-8"
    } else {
        "application/x-ndjson"
    };
    let name = if csv { "audit.csv" } else { "audit.jsonl" };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
