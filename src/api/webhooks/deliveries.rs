//! A webhook's test delivery, its delivery list, and redelivery.

use crate::api::pagination;
use crate::clock::to_micros;
use crate::delivery::attempt::send;
use crate::delivery::worker::{delivery_audit, outcome};
use crate::domain::events::{envelope, NewEvent, WEBHOOK_TEST};
use crate::domain::outbox::new_delivery;
use crate::domain::webhook_ops::WebhookOps;
use crate::http::door::Door;
use crate::http::error::ApiError;
use crate::http::guard::query_map;
use crate::store::DeliveryStatus;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::api::bodies::webhooks as schema;

use super::*;

/// Sends a `webhook.test` event now, one attempt, and reports the outcome.
#[utoipa::path(post, path = "/v1/webhooks/{id}/test", tag = "webhooks", operation_id = "test_webhook",
    params(("id" = String, Path, min_length = 1, description = "`wh_…`")),
    responses(
        (status = 200, description = "The attempt's outcome", body = schema::TestDelivery),
        (status = 404, description = "`webhook_not_found`"),
    ),
    security(("bearer" = ["admin"])))]
pub(super) async fn test(door: Door, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    let w = load(&g, "webhook_test", &id).await?;
    let now = st.clock.now();
    let event = NewEvent {
        tenant_id: caller.tenant_id.clone(),
        event_type: WEBHOOK_TEST,
        identity_id: Some(caller.identity_id.clone()),
        path: None,
        data: json!({ "webhook_id": w.id, "message": "This is a test delivery from ScaiVault." }),
        request_id: Some(g.ctx.request_id.to_string()),
        secret_type: None,
        tags: Vec::new(),
        policy_webhook_ids: Vec::new(),
    }
    .to_row(now);
    // Leased by this request, so the worker leaves it alone while we send it.
    let mut delivery = new_delivery(&event, &w.id, now);
    delivery.lease_until = Some(to_micros(
        now + st.config.webhook_timeout.as_chrono() + chrono::Duration::seconds(30),
    ));
    WebhookOps::new(st.store.as_ref())
        .queue_test(&event, &delivery)
        .await?;
    st.bus.published(1, 0);
    let body = envelope(&event).to_string();
    let result = send(st, &w, &event, body.as_bytes(), &delivery.id, now).await;
    // One attempt only: the outcome is final.
    let record = outcome(st, &delivery, &result, st.clock.now(), true);
    let audit = delivery_audit(&delivery, Some(&event), &result, &record, st.clock.now());
    st.store.finish_attempt(&record, &audit).await?;
    Ok(Json(schema::TestDelivery {
        delivery_id: delivery.id,
        status: if result.success { "success" } else { "failed" }.into(),
        response_code: result.response_code.map(i64::from),
        duration_ms: result.duration_ms,
        error: result.error,
    })
    .into_response())
}

/// A webhook's deliveries, newest first.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks", operation_id = "list_deliveries",
    params(
        ("id" = String, Path, min_length = 1, description = "`wh_…`"),
        ("status" = Option<schema::DeliveryStatus>, Query, description = "Only deliveries in this state"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size (default 100)"),
        ("cursor" = Option<String>, Query, description = "From the previous page"),
    ),
    responses(
        (status = 200, description = "A page of deliveries", body = schema::DeliveryList),
        (status = 404, description = "`webhook_not_found`"),
    ),
    security(("bearer" = ["admin"])))]
pub(super) async fn deliveries(
    door: Door,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let (st, _, g) = door.open();
    let w = load(&g, "webhook_deliveries", &id).await?;
    let query = query_map(q.as_deref());
    let status = match query.get("status").map(String::as_str) {
        None | Some("") => None,
        Some(s @ ("success" | "failed" | "pending" | "cancelled")) => Some(s),
        Some(_) => {
            return Err(ApiError::validation_one(
                "status",
                "must be success, failed, pending or cancelled",
            ))
        }
    };
    let limit = pagination::limit(query.get("limit").map(String::as_str))?;
    let before = pagination::decode(query.get("cursor").map(String::as_str))?;
    let rows = st
        .store
        .list_deliveries(
            &w.id,
            status.and_then(DeliveryStatus::parse),
            before.as_deref(),
            limit + 1,
        )
        .await?;
    let (rows, cursor) = pagination::page(rows, limit, |d| d.id.clone());
    Ok(Json(schema::DeliveryList {
        deliveries: rows.iter().map(schema::Delivery::from).collect(),
        has_more: cursor.is_some(),
        cursor,
    })
    .into_response())
}

/// Queues a new delivery of the same event.
#[utoipa::path(post, path = "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", tag = "webhooks", operation_id = "redeliver",
    params(("id" = String, Path, min_length = 1, description = "`wh_…`"), ("delivery_id" = String, Path, min_length = 1, description = "`del_…`")),
    responses(
        (status = 202, description = "Queued", body = schema::Redelivery),
        (status = 404, description = "`webhook_not_found`, `delivery_not_found`"),
    ),
    security(("bearer" = ["admin"])))]
pub(super) async fn redeliver(
    door: Door,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    let w = load(&g, "webhook_redeliver", &id).await?;
    let d = st
        .store
        .get_delivery(&caller.tenant_id, &delivery_id)
        .await?
        .filter(|d| d.webhook_id == w.id)
        .ok_or_else(|| {
            ApiError::not_found(
                "delivery_not_found",
                format!("no delivery '{delivery_id}' for this webhook"),
            )
        })?;
    let event = st.store.get_event(&d.event_id).await?.ok_or_else(|| {
        ApiError::not_found(
            "delivery_not_found",
            "the delivery's event no longer exists",
        )
    })?;
    let fresh = new_delivery(&event, &w.id, st.clock.now());
    WebhookOps::new(st.store.as_ref()).redeliver(&fresh).await?;
    st.bus.published(0, 1);
    Ok((
        StatusCode::ACCEPTED,
        Json(schema::Redelivery {
            delivery_id: fresh.id,
            event_id: event.id,
        }),
    )
        .into_response())
}
