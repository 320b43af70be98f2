//! Polling a subscription and acknowledging what it returned (SPEC §10). A poll returns the
//! oldest unacknowledged events in order, waiting up to `timeout` seconds for one; events
//! stay until acknowledged, so an event polled and not acknowledged comes back on the next
//! poll. What the owner token may not read now is removed instead of returned.

use super::{load, schema};
use crate::audit::action;
use crate::clock::to_micros;
use crate::domain::events::envelope;
use crate::domain::scope::Scope;
use crate::domain::subscriptions::ops::SubscriptionOps;
use crate::domain::subscriptions::{owner_may_read, MAX_POLL_SECONDS, POLLING};
use crate::http::door::Door;
use crate::http::error::ApiError;
use crate::http::guard::{audited, query_map, Guard};
use crate::http::typed_body::JsonBody;
use crate::store::{EventRow, SubscriptionRow};
use axum::extract::{Path, RawQuery};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// Events a poll returns when `max_events` is not given.
const DEFAULT_MAX_EVENTS: i64 = 100;
/// Most events one poll returns.
const MAX_EVENTS: i64 = 1000;
/// How often a waiting poll looks again without a wake-up (a safety net: local commits and,
/// on PostgreSQL, other replicas' events wake it at once).
const RECHECK: Duration = Duration::from_secs(1);

/// The oldest unacknowledged events, waiting up to `timeout` seconds for one.
#[utoipa::path(get, path = "/v1/subscriptions/{id}/poll", tag = "subscriptions", operation_id = "poll_subscription",
    params(
        ("id" = String, Path, min_length = 1, description = "`sub_…`"),
        ("timeout" = Option<u64>, Query, minimum = 0, maximum = 60, description = "Seconds to wait for an event (default 30; `30s` also accepted)"),
        ("max_events" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Most events returned (default 100)"),
    ),
    responses(
        (status = 200, description = "Events in order (none when the timeout passed)", body = schema::PollResult),
        (status = 400, description = "`invalid_request`: the subscription delivers to a webhook"),
        (status = 404, description = "`subscription_not_found`"),
        (status = 422, description = "`validation_error`: `timeout` or `max_events` out of range"),
    ),
    security(("bearer" = ["subscriptions:read"])))]
pub(super) async fn poll(
    door: Door,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let (st, _, g) = door.open();
    let act = action::SUBSCRIPTION_EVENT;
    let s = load(&g, act, Scope::SubscriptionsRead, &id).await?;
    audited!(g, act, async {
        if s.delivery_type != POLLING {
            return Err(ApiError::invalid_request(
                "this subscription delivers to a webhook; only polling subscriptions are polled",
            ));
        }
        let query = query_map(q.as_deref());
        let (wait, max) = poll_params(&query)?;
        let deadline = Instant::now() + wait;
        let mut changes = st.bus.subscribe();
        loop {
            changes.borrow_and_update();
            if let Some(page) = next_page(&g, &s, max).await? {
                return Ok(page);
            }
            let now = Instant::now();
            if now >= deadline || st.bus.is_stopping() {
                return Ok(Json(schema::PollResult {
                    events: Vec::new(),
                    has_more: false,
                })
                .into_response());
            }
            tokio::select! {
                _ = tokio::time::timeout_at(deadline.min(now + RECHECK), changes.changed()) => {}
                _ = st.bus.stopped() => {}
            }
        }
    })
}

/// The events to return now, if any: the owner's current rights are checked on each (read
/// again, so a token revoked during a long poll gets nothing more), and what it may not
/// read is removed from the queue. Audited as `subscription_event`.
async fn next_page(
    g: &Guard<'_>,
    s: &SubscriptionRow,
    max: i64,
) -> Result<Option<Response>, ApiError> {
    loop {
        let rows = g.st.store.subscription_queue(&s.id, max + 1).await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let Some(fresh) = g.st.store.get_subscription(&s.tenant_id, &s.id).await? else {
            return Err(super::not_found(&s.id));
        };
        let now_us = to_micros(g.st.clock.now());
        let (mut visible, hidden): (Vec<EventRow>, Vec<EventRow>) =
            rows.into_iter().partition(|e| {
                e.path
                    .as_deref()
                    .is_some_and(|p| owner_may_read(&fresh, p, now_us))
            });
        if !hidden.is_empty() {
            let ids: Vec<String> = hidden.into_iter().map(|e| e.id).collect();
            SubscriptionOps::new(g.st.store.as_ref())
                .remove(&s.id, &ids)
                .await?;
        }
        if visible.is_empty() {
            continue;
        }
        let has_more = visible.len() as i64 > max;
        visible.truncate(usize::try_from(max).unwrap_or(usize::MAX));
        let row = g.row(
            action::SUBSCRIPTION_EVENT,
            None,
            None,
            200,
            json!({
                "subscription_id": s.id,
                "events": visible.len(),
                "first_event_id": visible.first().map(|e| &e.id),
                "last_event_id": visible.last().map(|e| &e.id),
            }),
        );
        g.record(&[row]).await?;
        return Ok(Some(
            Json(schema::PollResult {
                events: visible.iter().map(envelope).collect(),
                has_more,
            })
            .into_response(),
        ));
    }
}

/// `timeout` (seconds, or a duration such as `30s`; at most 60) and `max_events`.
fn poll_params(query: &HashMap<String, String>) -> Result<(Duration, i64), ApiError> {
    let wait = match query.get("timeout").filter(|t| !t.is_empty()) {
        None => Duration::from_secs(30),
        Some(t) if t.bytes().all(|b| b.is_ascii_digit()) => {
            Duration::from_secs(t.parse::<u64>().unwrap_or(u64::MAX))
        }
        Some(t) => crate::domain::duration::ApiDuration::parse(t)
            .map_err(crate::api::bodies::common::duration_error)?
            .as_std(),
    };
    if wait > Duration::from_secs(MAX_POLL_SECONDS) {
        return Err(ApiError::validation_one(
            "timeout",
            format!("must be at most {MAX_POLL_SECONDS} seconds"),
        ));
    }
    let max = match query.get("max_events").filter(|m| !m.is_empty()) {
        None => DEFAULT_MAX_EVENTS,
        Some(m) => match m.parse::<i64>() {
            Ok(n) if (1..=MAX_EVENTS).contains(&n) => n,
            _ => {
                return Err(ApiError::validation_one(
                    "max_events",
                    format!("must be a whole number from 1 to {MAX_EVENTS}"),
                ))
            }
        },
    };
    Ok((wait, max))
}

/// Acknowledges events: they are not returned again.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/ack", tag = "subscriptions", operation_id = "ack_subscription",
    params(("id" = String, Path, min_length = 1, description = "`sub_…`")),
    request_body = schema::AckBody,
    responses(
        (status = 200, description = "How many of the events were waiting", body = schema::AckResult),
        (status = 404, description = "`subscription_not_found`"),
        (status = 422, description = "`validation_error`"),
    ),
    security(("bearer" = ["subscriptions:read"])))]
pub(super) async fn ack(
    door: Door,
    Path(id): Path<String>,
    body: Result<JsonBody<schema::AckBody>, ApiError>,
) -> Result<Response, ApiError> {
    let (st, _, g) = door.open();
    let s = load(&g, "subscription_ack", Scope::SubscriptionsRead, &id).await?;
    let JsonBody { body, check } = body?;
    let ids = body.check(check)?;
    let acknowledged = SubscriptionOps::new(st.store.as_ref())
        .remove(&s.id, &ids)
        .await?;
    Ok(Json(schema::AckResult { acknowledged }).into_response())
}
