//! Webhook create, list, read, change and delete: authorize through the guard, call the
//! webhook service, answer.

use crate::api::pagination;
use crate::clock::to_micros;
use crate::domain::access::Reach;
use crate::domain::scope::Scope;
use crate::domain::webhook_ops::WebhookOps;
use crate::http::door::Door;
use crate::http::error::ApiError;
use crate::http::guard::{audited, query_map};
use crate::http::typed_body::JsonBody;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::api::bodies::webhooks as schema;

use super::*;

/// Creates a webhook.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", operation_id = "create_webhook",
    request_body = schema::WebhookCreate,
    responses(
        (status = 201, description = "Created", body = schema::Webhook),
        (status = 409, description = "`name_conflict`"),
    ),
    security(("bearer" = ["admin"])))]
pub(super) async fn create(
    door: Door,
    body: Result<JsonBody<schema::WebhookCreate>, ApiError>,
) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    audited!(g, "webhook_create", async {
        g.allow("webhook_create", Scope::Admin, Reach::Filtered)
            .await?;
        let JsonBody { body, check } = body?;
        let f = body.check(check, &targets(st, &st.config.webhook_targets()))?;
        let now = to_micros(st.clock.now());
        let mut w = blank_row(&caller.tenant_id, now);
        apply(st, &mut w, f, now);
        // A path-restricted admin's webhook needs a path filter inside its rules.
        g.allow(
            "webhook_create",
            Scope::Admin,
            Reach::filter(w.filter_path_prefix.as_deref()),
        )
        .await?;
        let audit = g.row(
            "webhook_create",
            None,
            None,
            201,
            json!({ "webhook_id": w.id, "name": w.name }),
        );
        WebhookOps::new(st.store.as_ref())
            .create(&w, &audit)
            .await
            .map_err(name_conflict)?;
        Ok((StatusCode::CREATED, Json(schema::Webhook::from(&w))).into_response())
    })
}

/// Lists the tenant's webhooks.
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", operation_id = "list_webhooks",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size (default 100)"),
        ("cursor" = Option<String>, Query, description = "From the previous page"),
    ),
    responses((status = 200, description = "A page of webhooks", body = schema::WebhookList)),
    security(("bearer" = ["admin"])))]
pub(super) async fn list(door: Door, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    g.allow("webhook_list", Scope::Admin, Reach::Filtered)
        .await?;
    let query = query_map(q.as_deref());
    let limit = pagination::limit(query.get("limit").map(String::as_str))?;
    let after = pagination::decode(query.get("cursor").map(String::as_str))?;
    // A path-restricted admin sees only webhooks filtered inside its rules.
    let rows = pagination::read_visible(
        after,
        limit,
        |from| {
            let store = &st.store;
            let tenant = &caller.tenant_id;
            async move {
                store
                    .list_webhooks(tenant, from.as_deref(), limit + 1)
                    .await
            }
        },
        |w| w.id.clone(),
        |w| g.sees(Reach::filter(w.filter_path_prefix.as_deref())),
    )
    .await?;
    let (rows, cursor) = pagination::page(rows, limit, |w| w.id.clone());
    Ok(Json(schema::WebhookList {
        webhooks: rows.iter().map(schema::Webhook::from).collect(),
        has_more: cursor.is_some(),
        cursor,
    })
    .into_response())
}

/// A webhook with its delivery statistics.
#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks", operation_id = "get_webhook",
    params(("id" = String, Path, min_length = 1, description = "`wh_…`")),
    responses(
        (status = 200, description = "The webhook", body = schema::WebhookDetail),
        (status = 404, description = "`webhook_not_found`"),
    ),
    security(("bearer" = ["admin"])))]
pub(super) async fn show(door: Door, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (st, _, g) = door.open();
    let w = load(&g, "webhook_read", &id).await?;
    let since = to_micros(st.clock.now() - chrono::Duration::hours(24));
    let stats = st.store.webhook_stats(&w.id, since).await?;
    let last = st.store.last_delivery(&w.id).await?;
    Ok(Json(schema::WebhookDetail {
        webhook: (&w).into(),
        statistics: schema::WebhookStatistics {
            deliveries_24h: stats.deliveries,
            success_rate_24h: (stats.deliveries > 0)
                .then(|| stats.successes as f64 / stats.deliveries as f64),
            avg_latency_ms: stats.avg_latency_ms,
        },
        last_delivery: last.as_ref().map(schema::Delivery::from),
    })
    .into_response())
}

/// Changes a webhook; a new `secret` rotates the signing secret.
#[utoipa::path(patch, path = "/v1/webhooks/{id}", tag = "webhooks", operation_id = "update_webhook",
    params(("id" = String, Path, min_length = 1, description = "`wh_…`")),
    request_body(content = Option<schema::WebhookPatch>, description = "Fields to change; an empty body changes nothing"),
    responses(
        (status = 200, description = "The changed webhook", body = schema::Webhook),
        (status = 404, description = "`webhook_not_found`"),
        (status = 409, description = "`name_conflict`"),
    ),
    security(("bearer" = ["admin"])))]
pub(super) async fn update(
    door: Door,
    Path(id): Path<String>,
    body: Result<JsonBody<schema::WebhookPatch>, ApiError>,
) -> Result<Response, ApiError> {
    let (st, _, g) = door.open();
    audited!(g, "webhook_update", async {
        let mut w = load(&g, "webhook_update", &id).await?;
        let JsonBody { body, check } = body?;
        let f = body.check(check, &targets(st, &st.config.webhook_targets()))?;
        let rotated = f.secret.is_some();
        apply(st, &mut w, f, to_micros(st.clock.now()));
        // The changed filter must still lie inside the caller's rules.
        g.allow(
            "webhook_update",
            Scope::Admin,
            Reach::filter(w.filter_path_prefix.as_deref()),
        )
        .await?;
        let audit = g.row(
            "webhook_update",
            None,
            None,
            200,
            json!({ "webhook_id": w.id, "secret_rotated": rotated }),
        );
        WebhookOps::new(st.store.as_ref())
            .update(&w, &audit, to_micros(st.clock.now()))
            .await
            .map_err(name_conflict)?;
        Ok(Json(schema::Webhook::from(&w)).into_response())
    })
}

/// Deletes a webhook; its pending deliveries are cancelled.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks", operation_id = "delete_webhook",
    params(("id" = String, Path, min_length = 1, description = "`wh_…`")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`webhook_not_found`"),
    ),
    security(("bearer" = ["admin"])))]
pub(super) async fn remove(door: Door, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    audited!(g, "webhook_delete", async {
        load(&g, "webhook_delete", &id).await?;
        let audit = g.row(
            "webhook_delete",
            None,
            None,
            204,
            json!({ "webhook_id": id }),
        );
        let now = to_micros(st.clock.now());
        if !WebhookOps::new(st.store.as_ref())
            .delete(&caller.tenant_id, &id, &audit, now)
            .await?
        {
            return Err(not_found(&id));
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
