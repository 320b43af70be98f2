//! `GET /v1/events`: the tenant's event feed, resumable with `after=<event_id>`, with
//! long-polling (`wait`) so consumers that cannot receive webhooks still miss nothing.

use crate::domain::duration::ApiDuration;
use crate::domain::events::{envelope, ALL_TYPES};
use crate::domain::path::validate_prefix;
use crate::domain::scope::Scope;
use crate::domain::token::Caller;
use crate::http::error::ApiError;
use crate::http::guard::query_map;
use crate::server::AppState;
use crate::store::EventListQuery;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::time::Duration;

/// Longest accepted long-poll.
const MAX_WAIT: Duration = Duration::from_secs(60);

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/events", get(feed))
}

async fn feed(
    State(st): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    crate::http::auth::require_any(&caller, &[Scope::Admin, Scope::AuditRead])?;
    let query = query_map(q.as_deref());
    let limit = super::pagination::limit(query.get("limit").map(String::as_str))?;
    let after_seq = match query.get("after").filter(|a| !a.is_empty()) {
        None => 0,
        Some(id) => match st.store.get_event(id).await? {
            Some(e) if e.tenant_id == caller.tenant_id => e.seq,
            _ => return Err(ApiError::invalid_cursor()),
        },
    };
    let types: Vec<String> = match query.get("types").filter(|t| !t.is_empty()) {
        None => Vec::new(),
        Some(t) => {
            let list: Vec<String> = t.split(',').map(|s| s.trim().to_string()).collect();
            if let Some(bad) = list.iter().find(|t| !ALL_TYPES.contains(&t.as_str())) {
                return Err(ApiError::validation_one(
                    "types",
                    format!("unknown event type '{bad}'"),
                ));
            }
            list
        }
    };
    let path_prefix = query.get("path_prefix").filter(|p| !p.is_empty()).cloned();
    if let Some(p) = &path_prefix {
        validate_prefix(p).map_err(|e| ApiError::invalid_path(e.0))?;
    }
    let wait = match query.get("wait").filter(|w| !w.is_empty()) {
        None => None,
        Some(w) => Some(
            ApiDuration::parse(w)
                .map_err(super::secret_body::duration_error)?
                .as_std()
                .min(MAX_WAIT),
        ),
    };
    let eq = EventListQuery {
        tenant_id: caller.tenant_id.clone(),
        after_seq,
        types,
        path_prefix,
        limit,
    };
    let deadline = wait.map(|w| tokio::time::Instant::now() + w);
    let mut changes = st.bus.subscribe();
    loop {
        changes.borrow_and_update();
        let rows = st.store.list_events(&eq).await?;
        let cursor = rows
            .last()
            .map(|e| e.id.clone())
            .or_else(|| query.get("after").cloned());
        let visible: Vec<Value> = rows
            .iter()
            .filter(|e| {
                caller.path_prefixes.is_empty()
                    || e.path.as_deref().is_some_and(|p| caller.may_access(p))
            })
            .map(envelope)
            .collect();
        let waiting = deadline.is_some_and(|d| tokio::time::Instant::now() < d);
        if !rows.is_empty() || !waiting {
            return Ok(Json(json!({ "events": visible, "cursor": cursor })).into_response());
        }
        if let Some(d) = deadline {
            // Woken by a local commit, or re-check every second for other replicas' events.
            let _ = tokio::time::timeout_at(
                d.min(tokio::time::Instant::now() + Duration::from_secs(1)),
                changes.changed(),
            )
            .await;
        }
    }
}
