//! `/v1/webhooks` (scope admin): CRUD, signing-secret rotation, test, deliveries, redeliver.

use super::pagination;
use super::webhook_body::{parse, WebhookFields};
use crate::clock::{from_micros, rfc3339, to_micros};
use crate::crypto::envelope::seal;
use crate::delivery::attempt::{send, webhook_binding};
use crate::delivery::worker::{delivery_audit, outcome};
use crate::domain::access::Reach;
use crate::domain::events::{envelope, NewEvent, WEBHOOK_TEST};
use crate::domain::outbox::new_delivery;
use crate::domain::scope::Scope;
use crate::domain::token::Caller;
use crate::domain::webhook_ops::WebhookOps;
use crate::http::body::JsonObject;
use crate::http::context::RequestContext;
use crate::http::error::ApiError;
use crate::http::guard::{audited, query_map, Guard};
use crate::server::AppState;
use crate::store::{StoreError, WebhookRow};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use utoipa_axum::routes;

use super::registry::ApiRouter;
use super::schemas::webhooks as schema;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, remove))
        .routes(routes!(test))
        .routes(routes!(deliveries))
        .routes(routes!(redeliver))
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found("webhook_not_found", format!("no webhook '{id}'"))
}

/// Loads a webhook the caller may manage: a missing one, or one whose path filter lies
/// outside the caller's path rules, answers 404 alike (SPEC §2).
async fn load(g: &Guard<'_>, action: &str, id: &str) -> Result<WebhookRow, ApiError> {
    g.allow(action, Scope::Admin, Reach::Filtered).await?;
    let w =
        g.st.store
            .get_webhook(&g.caller.tenant_id, id)
            .await?
            .ok_or_else(|| not_found(id))?;
    g.allow_existing(
        action,
        Scope::Admin,
        Reach::filter(w.filter_path_prefix.as_deref()),
        || not_found(id),
    )
    .await?;
    Ok(w)
}

fn name_conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(_) => {
            ApiError::conflict("name_conflict", "a webhook with this name already exists")
        }
        other => other.into(),
    }
}

fn opt_ts(us: Option<i64>) -> Value {
    us.map_or(Value::Null, |u| json!(rfc3339(from_micros(u))))
}

/// A webhook as shown (never its signing secret).
fn view(w: &WebhookRow) -> Value {
    let events: Value = serde_json::from_str(&w.events).unwrap_or(Value::Null);
    let tags: Value = serde_json::from_str(&w.filter_tags).unwrap_or(Value::Null);
    json!({
        "id": w.id,
        "name": w.name,
        "url": w.url,
        "description": w.description,
        "events": events,
        "filters": {
            "path_prefix": w.filter_path_prefix,
            "secret_type": w.filter_secret_type,
            "tags": tags,
        },
        "enabled": w.enabled != 0,
        "status": if w.enabled == 0 { "disabled" } else { w.status.as_str() },
        "disabled_reason": w.disabled_reason,
        "previous_secret_expires_at": opt_ts(w.prev_secret_until.filter(|_| w.prev_secret_ciphertext.is_some())),
        "created_at": rfc3339(from_micros(w.created_at)),
        "updated_at": rfc3339(from_micros(w.updated_at)),
    })
}

fn delivery_view(d: &crate::store::DeliveryRow) -> Value {
    json!({
        "id": d.id,
        "webhook_id": d.webhook_id,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "timestamp": crate::clock::rfc3339_micros(from_micros(d.created_at)),
        "status": d.status,
        "attempts": d.attempts,
        "response_code": d.response_code,
        "duration_ms": d.duration_ms,
        "next_attempt_at": if d.status == "pending" { opt_ts(Some(d.next_attempt_at)) } else { Value::Null },
        "last_error": d.last_error,
    })
}

/// Seals a signing secret into the webhook row's current slot.
fn set_secret(st: &AppState, w: &mut WebhookRow, secret: &str) {
    let sealed = seal(
        &st.keys,
        &webhook_binding(&w.tenant_id, &w.id),
        secret.as_bytes(),
    );
    w.secret_ciphertext = sealed.ciphertext;
    w.secret_wrapped_key = sealed.wrapped_key;
    w.secret_key_id = sealed.key_id;
}

/// Creates a webhook.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", operation_id = "create_webhook",
    request_body = schema::WebhookCreate,
    responses(
        (status = 201, description = "Created", body = schema::Webhook),
        (status = 409, description = "`name_conflict`"),
    ),
    security(("bearer" = ["admin"])))]
async fn create(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    body: Result<JsonObject, ApiError>,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    audited!(g, "webhook_create", async {
        g.allow("webhook_create", Scope::Admin, Reach::Filtered)
            .await?;
        let JsonObject(body) = body?;
        let f = parse(
            &body,
            true,
            st.config.webhook_allow_http,
            &st.config.webhook_targets(),
        )?;
        let now = to_micros(st.clock.now());
        let mut w = WebhookRow {
            id: crate::domain::ids::new_id("wh_"),
            tenant_id: caller.tenant_id.clone(),
            name: String::new(),
            url: String::new(),
            description: None,
            secret_ciphertext: Vec::new(),
            secret_wrapped_key: Vec::new(),
            secret_key_id: String::new(),
            prev_secret_ciphertext: None,
            prev_secret_wrapped_key: None,
            prev_secret_key_id: None,
            prev_secret_until: None,
            events: "[]".into(),
            filter_path_prefix: None,
            filter_secret_type: None,
            filter_tags: "[]".into(),
            enabled: 1,
            status: "healthy".into(),
            disabled_reason: None,
            created_at: now,
            updated_at: now,
        };
        apply(&st, &mut w, f, now);
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
        Ok((StatusCode::CREATED, Json(view(&w))).into_response())
    })
}

/// Applies validated fields to a row (rotating the signing secret if a new one is given).
fn apply(st: &AppState, w: &mut WebhookRow, f: WebhookFields, now: i64) {
    if let Some(n) = f.name {
        w.name = n;
    }
    if let Some(u) = f.url {
        w.url = u;
    }
    if let Some(d) = f.description {
        w.description = d;
    }
    if let Some(secret) = f.secret {
        let had_secret = !w.secret_ciphertext.is_empty();
        match f.previous_secret_ttl.filter(|_| had_secret) {
            Some(ttl) => {
                // Keep the old secret (re-sealed under the previous-secret binding) for `ttl`.
                let old = crate::delivery::attempt::signing_secret(&st.keys, w);
                if let Some(old) = old {
                    let mut binding = webhook_binding(&w.tenant_id, &w.id);
                    binding.extend_from_slice(b"\0previous");
                    let sealed = seal(&st.keys, &binding, &old);
                    w.prev_secret_ciphertext = Some(sealed.ciphertext);
                    w.prev_secret_wrapped_key = Some(sealed.wrapped_key);
                    w.prev_secret_key_id = Some(sealed.key_id);
                    w.prev_secret_until = Some(now + ttl.seconds() * 1_000_000);
                }
            }
            None => {
                w.prev_secret_ciphertext = None;
                w.prev_secret_wrapped_key = None;
                w.prev_secret_key_id = None;
                w.prev_secret_until = None;
            }
        }
        set_secret(st, w, &secret);
    }
    if let Some(e) = f.events {
        w.events = serde_json::to_string(&e).unwrap_or_else(|_| "[]".into());
    }
    if let Some(p) = f.filter_path_prefix {
        w.filter_path_prefix = p;
    }
    if let Some(t) = f.filter_secret_type {
        w.filter_secret_type = t;
    }
    if let Some(t) = f.filter_tags {
        w.filter_tags = serde_json::to_string(&t).unwrap_or_else(|_| "[]".into());
    }
    if let Some(en) = f.enabled {
        if en && w.enabled == 0 {
            w.status = "healthy".into();
            w.disabled_reason = None;
        }
        w.enabled = i64::from(en);
        if !en {
            w.disabled_reason = Some("disabled by an operator".into());
        }
    }
    w.updated_at = now;
}

/// Lists the tenant's webhooks.
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", operation_id = "list_webhooks",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size (default 100)"),
        ("cursor" = Option<String>, Query, description = "From the previous page"),
    ),
    responses((status = 200, description = "A page of webhooks", body = schema::WebhookList)),
    security(("bearer" = ["admin"])))]
async fn list(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
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
    let list: Vec<Value> = rows.iter().map(view).collect();
    Ok(
        Json(json!({ "webhooks": list, "has_more": cursor.is_some(), "cursor": cursor }))
            .into_response(),
    )
}

/// A webhook with its delivery statistics.
#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks", operation_id = "get_webhook",
    params(("id" = String, Path, min_length = 1, description = "`wh_…`")),
    responses(
        (status = 200, description = "The webhook", body = schema::WebhookDetail),
        (status = 404, description = "`webhook_not_found`"),
    ),
    security(("bearer" = ["admin"])))]
async fn show(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let w = load(&Guard::new(&st, &ctx, &caller), "webhook_read", &id).await?;
    let since = to_micros(st.clock.now() - chrono::Duration::hours(24));
    let stats = st.store.webhook_stats(&w.id, since).await?;
    let last = st.store.last_delivery(&w.id).await?;
    let mut v = view(&w);
    v["statistics"] = json!({
        "deliveries_24h": stats.deliveries,
        "success_rate_24h": if stats.deliveries > 0 { json!(stats.successes as f64 / stats.deliveries as f64) } else { Value::Null },
        "avg_latency_ms": stats.avg_latency_ms,
    });
    v["last_delivery"] = last.as_ref().map_or(Value::Null, delivery_view);
    Ok(Json(v).into_response())
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
async fn update(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<JsonObject, ApiError>,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
    audited!(g, "webhook_update", async {
        let mut w = load(&g, "webhook_update", &id).await?;
        let JsonObject(body) = body?;
        let f = parse(
            &body,
            false,
            st.config.webhook_allow_http,
            &st.config.webhook_targets(),
        )?;
        let rotated = f.secret.is_some();
        apply(&st, &mut w, f, to_micros(st.clock.now()));
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
        Ok(Json(view(&w)).into_response())
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
async fn remove(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let g = Guard::new(&st, &ctx, &caller);
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

/// Sends a `webhook.test` event now, one attempt, and reports the outcome.
#[utoipa::path(post, path = "/v1/webhooks/{id}/test", tag = "webhooks", operation_id = "test_webhook",
    params(("id" = String, Path, min_length = 1, description = "`wh_…`")),
    responses(
        (status = 200, description = "The attempt's outcome", body = schema::TestDelivery),
        (status = 404, description = "`webhook_not_found`"),
    ),
    security(("bearer" = ["admin"])))]
async fn test(
    State(st): State<AppState>,
    caller: Caller,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let w = load(&Guard::new(&st, &ctx, &caller), "webhook_test", &id).await?;
    let now = st.clock.now();
    let event = NewEvent {
        tenant_id: caller.tenant_id.clone(),
        event_type: WEBHOOK_TEST,
        identity_id: Some(caller.identity_id.clone()),
        path: None,
        data: json!({ "webhook_id": w.id, "message": "This is a test delivery from ScaiVault." }),
        request_id: Some(ctx.request_id.to_string()),
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
    let result = send(&st, &w, &event, body.as_bytes(), &delivery.id, now).await;
    // One attempt only: the outcome is final.
    let record = outcome(&st, &delivery, &result, st.clock.now(), true);
    let audit = delivery_audit(&delivery, Some(&event), &result, &record, st.clock.now());
    st.store.finish_attempt(&record, &audit).await?;
    Ok(Json(json!({
        "delivery_id": delivery.id,
        "status": if result.success { "success" } else { "failed" },
        "response_code": result.response_code,
        "duration_ms": result.duration_ms,
        "error": result.error,
    }))
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
async fn deliveries(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let w = load(&Guard::new(&st, &ctx, &caller), "webhook_deliveries", &id).await?;
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
        .list_deliveries(&w.id, status, before.as_deref(), limit + 1)
        .await?;
    let (rows, cursor) = pagination::page(rows, limit, |d| d.id.clone());
    let list: Vec<Value> = rows.iter().map(delivery_view).collect();
    Ok(
        Json(json!({ "deliveries": list, "has_more": cursor.is_some(), "cursor": cursor }))
            .into_response(),
    )
}

/// Queues a new delivery of the same event.
#[utoipa::path(post, path = "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", tag = "webhooks", operation_id = "redeliver",
    params(("id" = String, Path, min_length = 1, description = "`wh_…`"), ("delivery_id" = String, Path, min_length = 1, description = "`del_…`")),
    responses(
        (status = 202, description = "Queued", body = schema::Redelivery),
        (status = 404, description = "`webhook_not_found`, `delivery_not_found`"),
    ),
    security(("bearer" = ["admin"])))]
async fn redeliver(
    State(st): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let w = load(&Guard::new(&st, &ctx, &caller), "webhook_redeliver", &id).await?;
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
        Json(json!({ "delivery_id": fresh.id, "event_id": event.id })),
    )
        .into_response())
}
