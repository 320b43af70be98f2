//! `GET /v1/events`: the tenant's event feed, resumable with `after=<event_id>`, with
//! long-polling (`wait`) so consumers that cannot receive webhooks still miss nothing.

use crate::domain::access::{Need, Reach};
use crate::domain::duration::ApiDuration;
use crate::domain::events::{envelope, ALL_TYPES};
use crate::domain::path::validate_prefix;
use crate::domain::scope::Scope;
use crate::http::door::Door;
use crate::http::error::ApiError;
use crate::http::guard::query_map;
use crate::store::EventListQuery;
use axum::extract::RawQuery;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;
use utoipa_axum::routes;

use super::bodies::webhooks as schema;
use super::registry::ApiRouter;

/// Longest accepted long-poll.
const MAX_WAIT: Duration = Duration::from_secs(60);

pub fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(feed))
}

/// The feed's query parameters but `after`: page size, types, path prefix and long-poll wait.
pub(crate) type FeedParams = (i64, Vec<String>, Option<String>, Option<Duration>);

/// Reads and checks the feed's query parameters but `after` (which needs the store).
pub(crate) fn feed_params(query: &HashMap<String, String>) -> Result<FeedParams, ApiError> {
    let limit = super::pagination::limit(query.get("limit").map(String::as_str))?;
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
                .map_err(super::bodies::common::duration_error)?
                .as_std()
                .min(MAX_WAIT),
        ),
    };
    Ok((limit, types, path_prefix, wait))
}

/// The tenant's events after `after`, oldest first; with `wait`, long-polls until one exists.
#[utoipa::path(get, path = "/v1/events", tag = "events", operation_id = "events",
    params(
        ("after" = Option<String>, Query, description = "Resume after this `evt_…` id (the previous `cursor`)"),
        ("types" = Option<String>, Query, description = "Comma-separated event types"),
        ("path_prefix" = Option<String>, Query, description = "Only events of paths with this prefix"),
        ("wait" = Option<String>, Query, description = "Long-poll up to this duration (at most 60s), e.g. `30s`"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size (default 100)"),
    ),
    responses((status = 200, description = "Events and the cursor to resume from", body = schema::EventFeed)),
    security(("bearer" = ["admin"]), ("bearer" = ["audit:read"])))]

async fn feed(door: Door, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    g.allow(
        "events",
        Need::AnyOf(&[Scope::Admin, Scope::AuditRead]),
        Reach::Filtered,
    )
    .await?;
    let query = query_map(q.as_deref());
    let (limit, types, path_prefix, wait) = feed_params(&query)?;
    let after_seq = match query.get("after").filter(|a| !a.is_empty()) {
        None => 0,
        Some(id) => match st.store.get_event(id).await? {
            Some(e) if e.tenant_id == caller.tenant_id => e.seq,
            _ => return Err(ApiError::invalid_cursor()),
        },
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
            .filter(|e| match e.path.as_deref() {
                Some(p) => g.sees(Reach::Path(p)),
                None => g.sees(Reach::Tenant),
            })
            .map(envelope)
            .collect();
        let waiting =
            deadline.is_some_and(|d| tokio::time::Instant::now() < d) && !st.bus.is_stopping();
        if !rows.is_empty() || !waiting {
            return Ok(Json(schema::EventFeed {
                events: visible,
                cursor,
            })
            .into_response());
        }
        if let Some(d) = deadline {
            // Woken by a commit (this replica's, or another's through NOTIFY on PostgreSQL),
            // by the server stopping, or re-check every second.
            tokio::select! {
                _ = tokio::time::timeout_at(
                    d.min(tokio::time::Instant::now() + Duration::from_secs(1)),
                    changes.changed(),
                ) => {}
                _ = st.bus.stopped() => {}
            }
        }
    }
}
