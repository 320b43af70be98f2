//! `/v1/audit`: query (newest first, cursor pagination), per-secret and per-identity views,
//! summary, streaming export (JSON Lines or CSV, itself audited), and chain verification.

use super::audit_csv;
use super::pagination;
use crate::audit::action;
use crate::audit::chain::Verdict;
use crate::clock::to_micros;
use crate::domain::access::Reach;
use crate::domain::path::{validate_prefix, SecretPath};
use crate::domain::scope::Scope;
use crate::domain::token::Caller;
use crate::http::door::Door;
use crate::http::error::ApiError;
use crate::http::guard::query_map;
use crate::http::typed_body::JsonBody;
use crate::server::AppState;
use crate::store::AuditQuery;
use axum::body::Body;
use axum::extract::{Path, RawQuery};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use serde_json::json;
use std::collections::HashMap;
use utoipa::OpenApi;
use utoipa_axum::routes;

use super::bodies::audit as schema;
use super::registry::ApiRouter;

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
async fn page(
    st: &AppState,
    mut q: AuditQuery,
) -> Result<(Vec<schema::AuditEntry>, Option<String>), ApiError> {
    let limit = q.limit;
    q.limit = limit + 1;
    let rows = st.store.list_audit(&q).await?;
    let (rows, cursor) = pagination::page(rows, limit, |r| format!("{}|{}", r.ts, r.id));
    Ok((rows.iter().map(Into::into).collect(), cursor))
}

/// Audit rows, newest first.
#[utoipa::path(get, path = "/v1/audit/logs", tag = "audit", operation_id = "audit_logs",
    params(
        schema::AuditFilters,
    ),
    responses((status = 200, description = "A page of rows", body = schema::AuditLogs)),
    security(("bearer" = ["audit:read"])))]
async fn logs(door: Door, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    g.allow("audit_logs", Scope::AuditRead, Reach::Filtered)
        .await?;
    let query = build_query(caller, &query_map(q.as_deref()))?;
    let (logs, cursor) = page(st, query).await?;
    Ok(Json(schema::AuditLogs {
        logs,
        has_more: cursor.is_some(),
        cursor,
    })
    .into_response())
}

/// Reads, writes, rotations and distinct identities over the last 30 days.
async fn period_summary(
    st: &AppState,
    mut q: AuditQuery,
) -> Result<schema::PeriodSummary, ApiError> {
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
    Ok(schema::PeriodSummary {
        period_days: 30,
        reads: count("read"),
        writes: count("write"),
        rotations: count("rotate"),
        unique_identities: s.unique_identities,
    })
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
    door: Door,
    Path(raw): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    g.allow("audit_secret", Scope::AuditRead, Reach::Filtered)
        .await?;
    let path = SecretPath::parse(&raw).map_err(|e| ApiError::invalid_path(e.0))?;
    g.allow("audit_secret", Scope::AuditRead, Reach::Path(path.as_str()))
        .await?;
    let mut query = build_query(caller, &query_map(q.as_deref()))?;
    query.exact_path = Some(path.to_string());
    let summary = period_summary(st, query.clone()).await?;
    let (logs, cursor) = page(st, query).await?;
    Ok(Json(schema::SecretAudit {
        secret_path: path.to_string(),
        summary,
        logs,
        has_more: cursor.is_some(),
        cursor,
    })
    .into_response())
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
    door: Door,
    Path(identity): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    g.allow("audit_identity", Scope::AuditRead, Reach::Filtered)
        .await?;
    let mut query = build_query(caller, &query_map(q.as_deref()))?;
    query.identity_id = Some(identity.clone());
    let summary = period_summary(st, query.clone()).await?;
    let (logs, cursor) = page(st, query).await?;
    Ok(Json(schema::IdentityAudit {
        identity_id: identity,
        summary,
        logs,
        has_more: cursor.is_some(),
        cursor,
    })
    .into_response())
}

/// Counts of audit rows by outcome and action.
#[utoipa::path(get, path = "/v1/audit/summary", tag = "audit", operation_id = "audit_summary",
    params(
        schema::AuditFilters,
    ),
    responses((status = 200, description = "Counts", body = schema::AuditSummary)),
    security(("bearer" = ["audit:read"])))]
async fn summary(door: Door, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    g.allow("audit_summary", Scope::AuditRead, Reach::Filtered)
        .await?;
    let p = query_map(q.as_deref());
    let mut query = build_query(caller, &p)?;
    query.before = None;
    let s = st.store.audit_summary(&query).await?;
    Ok(Json(schema::AuditSummary {
        total_events: s.total,
        successful_events: s.successful,
        failed_events: s.total - s.successful,
        unique_identities: s.unique_identities,
        by_action: s.by_action.into_iter().collect(),
    })
    .into_response())
}

/// Verifies the audit hash chain: by default only the rows after the last verified checkpoint
/// (`audit::checkpoint`), limited per tenant (`audit::verify_limits`).
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit", operation_id = "audit_verify",
    params(
        ("from_seq" = Option<i64>, Query, minimum = 1, description = "Verify from this seq, trusting the stored hash of the row before it; never moves the checkpoint. Not with `full`"),
        ("full" = Option<bool>, Query, description = "Verify from the chain's start instead of from the last checkpoint (the default); catches a change at or before the checkpoint that a default run does not re-read"),
    ),
    responses((status = 200, description = "The verdict, with which rows it covered (`mode`, `from_seq`, `checked`, `checkpoint_seq`)", body = schema::ChainVerdict)),
    security(("bearer" = ["audit:read"])))]
async fn verify_chain(door: Door, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    use crate::audit::checkpoint::{run, Request};
    g.allow("audit_verify", Scope::AuditRead, Reach::Filtered)
        .await?;
    let p = query_map(q.as_deref());
    let from =
        match p.get("from_seq").filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                ApiError::validation_one("from_seq", "must be a positive integer")
            })?),
        };
    let req = Request::parse(p.get("full").map(String::as_str), from)
        .map_err(|m| ApiError::validation_one("full", m))?;
    let unsealed = st.store.count_unsealed_audit().await?;
    let o = run(
        st.store.as_ref(),
        &st.verify_limits,
        &caller.tenant_id,
        st.clock.now(),
        req,
    )
    .await?;
    let mut v = schema::ChainVerdict {
        ok: false,
        checked: 0,
        unsealed,
        head_seq: None,
        head_hash: None,
        first_bad_seq: None,
        reason: None,
        mode: o.mode.as_str().to_string(),
        from_seq: o.from_seq,
        checkpoint_seq: o.checkpoint_seq,
    };
    match o.verdict {
        Verdict::Ok {
            checked,
            head_seq,
            head_hash,
        } => {
            v.ok = true;
            v.checked = checked;
            v.head_seq = Some(head_seq);
            v.head_hash = Some(head_hash);
        }
        Verdict::Broken {
            checked,
            first_bad_seq,
            reason,
        } => {
            v.checked = checked;
            v.first_bad_seq = Some(first_bad_seq);
            v.reason = Some(reason.to_string());
        }
    }
    Ok(Json(v).into_response())
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
    door: Door,
    body: Result<JsonBody<schema::ExportRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    let res: Result<(AuditQuery, bool), ApiError> = async {
        g.allow(action::EXPORT_CREATED, Scope::AuditExport, Reach::Filtered)
            .await?;
        let JsonBody { body, check } = body?;
        let checked = body.check(check)?;
        let csv = checked.format == schema::ExportFormat::Csv;
        let mut params: HashMap<String, String> = checked.params.into_iter().collect();
        params.insert("limit".into(), "1000".into());
        let q = build_query(caller, &params)?;
        let row = g.row(
            action::EXPORT_CREATED,
            None,
            None,
            200,
            json!({ "format": if csv { "csv" } else { "jsonl" }, "filters": checked.filters }),
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
                let entry = schema::AuditEntry::from(r);
                if csv {
                    chunk.push_str(&audit_csv::line(
                        &serde_json::to_value(&entry).unwrap_or_default(),
                    ));
                } else {
                    chunk.push_str(&serde_json::to_string(&entry).unwrap_or_default());
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
