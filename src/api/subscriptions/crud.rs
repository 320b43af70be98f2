//! Subscription create, list, read, change and delete: authorize through the guard, call the
//! subscription service, answer.

use super::{load, not_found, ops_error, own_webhook, schema, shown};
use crate::api::pagination;
use crate::api::webhooks::apply::{blank_row, set_secret, targets};
use crate::audit::action;
use crate::clock::to_micros;
use crate::domain::access::Reach;
use crate::domain::ids::new_id;
use crate::domain::scope::Scope;
use crate::domain::subscriptions::ops::SubscriptionOps;
use crate::domain::subscriptions::{ACTIVE, DEFAULT_BUFFER, POLLING, WEBHOOK};
use crate::http::door::Door;
use crate::http::error::ApiError;
use crate::http::guard::{audited, query_map};
use crate::http::typed_body::JsonBody;
use crate::server::AppState;
use crate::store::{SubscriptionRow, WebhookRow};
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Creates a subscription owned by the calling token.
#[utoipa::path(post, path = "/v1/subscriptions", tag = "subscriptions", operation_id = "create_subscription",
    request_body = schema::SubscriptionCreate,
    responses(
        (status = 201, description = "Created", body = schema::Subscription),
        (status = 400, description = "`invalid_glob`"),
        (status = 403, description = "`insufficient_scope`, `access_denied` (a glob outside the token's path rules)"),
        (status = 409, description = "`name_conflict`"),
        (status = 422, description = "`validation_error`"),
    ),
    security(("bearer" = ["subscriptions:write"])))]
pub(super) async fn create(
    door: Door,
    body: Result<JsonBody<schema::SubscriptionCreate>, ApiError>,
) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    let act = action::SUBSCRIPTION_CREATE;
    audited!(g, act, async {
        g.allow(act, Scope::SubscriptionsWrite, Reach::Filtered)
            .await?;
        let JsonBody { body, check } = body?;
        let f = body.check(check, &targets(st, &st.config.webhook_targets()))?;
        let globs = f.globs.clone().unwrap_or_default();
        for glob in &globs {
            g.allow(act, Scope::SubscriptionsWrite, Reach::Glob(glob))
                .await?;
        }
        let now = to_micros(st.clock.now());
        let kind = f.kind.clone().unwrap_or_else(|| POLLING.to_string());
        let mut s = SubscriptionRow {
            id: new_id("sub_"),
            tenant_id: caller.tenant_id.clone(),
            name: f.name.clone().unwrap_or_default(),
            identity_id: caller.identity_id.clone(),
            token_id: caller.token_id.clone(),
            paths: "[]".into(),
            events: "[]".into(),
            delivery_type: kind.clone(),
            buffer_size: DEFAULT_BUFFER,
            webhook_id: None,
            status: ACTIVE.into(),
            dropped_events: 0,
            created_at: now,
            updated_at: now,
            owner_rules: serde_json::to_string(&caller.path_prefixes).ok(),
            owner_revoked_at: None,
            owner_expires_at: caller.expires_at.map(to_micros),
        };
        let mut webhook = (kind == WEBHOOK).then(|| {
            let mut w = blank_row(&caller.tenant_id, now);
            w.name = s.id.clone();
            w.description = Some(format!("delivers subscription {}", s.id));
            w.subscription_id = Some(s.id.clone());
            s.webhook_id = Some(w.id.clone());
            w
        });
        apply(st, &mut s, webhook.as_mut(), &f, now);
        let audit = g.row(
            act,
            None,
            None,
            201,
            json!({ "subscription_id": s.id, "name": s.name, "delivery": s.delivery_type }),
        );
        SubscriptionOps::new(st.store.as_ref())
            .create(&s, webhook.as_ref(), &audit)
            .await
            .map_err(|e| ops_error(e, &s.name))?;
        let mut out = shown(&g, &s).await?;
        out.pending_events = (kind == POLLING).then_some(0);
        Ok((StatusCode::CREATED, Json(out)).into_response())
    })
}

/// Lists the caller's subscriptions (every subscription of the tenant for an admin without
/// path rules).
#[utoipa::path(get, path = "/v1/subscriptions", tag = "subscriptions", operation_id = "list_subscriptions",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size (default 100)"),
        ("cursor" = Option<String>, Query, description = "From the previous page"),
    ),
    responses((status = 200, description = "A page of subscriptions", body = schema::SubscriptionList)),
    security(("bearer" = ["subscriptions:read"])))]
pub(super) async fn list(door: Door, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    g.allow(
        "subscription_list",
        Scope::SubscriptionsRead,
        Reach::Filtered,
    )
    .await?;
    let query = query_map(q.as_deref());
    let limit = pagination::limit(query.get("limit").map(String::as_str))?;
    let after = pagination::decode(query.get("cursor").map(String::as_str))?;
    let all = g.judge(Scope::Admin, Reach::Tenant).is_ok();
    let owner = (!all).then_some(caller.token_id.as_str());
    let rows = st
        .store
        .list_subscriptions(&caller.tenant_id, owner, after.as_deref(), limit + 1)
        .await?;
    let (rows, cursor) = pagination::page(rows, limit, |s| s.id.clone());
    let mut subscriptions = Vec::with_capacity(rows.len());
    for s in &rows {
        subscriptions.push(shown(&g, s).await?);
    }
    Ok(Json(schema::SubscriptionList {
        subscriptions,
        has_more: cursor.is_some(),
        cursor,
    })
    .into_response())
}

/// A subscription, with how many events wait unacknowledged.
#[utoipa::path(get, path = "/v1/subscriptions/{id}", tag = "subscriptions", operation_id = "get_subscription",
    params(("id" = String, Path, min_length = 1, description = "`sub_…`")),
    responses(
        (status = 200, description = "The subscription", body = schema::Subscription),
        (status = 404, description = "`subscription_not_found`"),
    ),
    security(("bearer" = ["subscriptions:read"])))]
pub(super) async fn show(door: Door, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (st, _, g) = door.open();
    let s = load(&g, "subscription_read", Scope::SubscriptionsRead, &id).await?;
    let mut out = shown(&g, &s).await?;
    if s.delivery_type == POLLING {
        out.pending_events = Some(st.store.subscription_queue_len(&s.id).await?);
    }
    Ok(Json(out).into_response())
}

/// Changes a subscription: name, globs, event types, `status` (`paused` receives nothing
/// new), the polling buffer, or the webhook's url and signing secret.
#[utoipa::path(patch, path = "/v1/subscriptions/{id}", tag = "subscriptions", operation_id = "update_subscription",
    params(("id" = String, Path, min_length = 1, description = "`sub_…`")),
    request_body(content = Option<schema::SubscriptionPatch>, description = "Fields to change; an empty body changes nothing"),
    responses(
        (status = 200, description = "The changed subscription", body = schema::Subscription),
        (status = 400, description = "`invalid_glob`"),
        (status = 403, description = "`access_denied` (a glob outside the token's path rules)"),
        (status = 404, description = "`subscription_not_found`"),
        (status = 409, description = "`name_conflict`"),
        (status = 422, description = "`validation_error`"),
    ),
    security(("bearer" = ["subscriptions:write"])))]
pub(super) async fn update(
    door: Door,
    Path(id): Path<String>,
    body: Result<JsonBody<schema::SubscriptionPatch>, ApiError>,
) -> Result<Response, ApiError> {
    let (st, _, g) = door.open();
    let act = action::SUBSCRIPTION_UPDATE;
    audited!(g, act, async {
        let mut s = load(&g, act, Scope::SubscriptionsWrite, &id).await?;
        let JsonBody { body, check } = body?;
        let f = body.check(
            check,
            &targets(st, &st.config.webhook_targets()),
            &s.delivery_type,
        )?;
        for glob in f.globs.as_deref().unwrap_or_default() {
            g.allow(act, Scope::SubscriptionsWrite, Reach::Glob(glob))
                .await?;
        }
        let mut webhook = own_webhook(&g, &s).await?;
        let now = to_micros(st.clock.now());
        apply(st, &mut s, webhook.as_mut(), &f, now);
        let audit = g.row(
            act,
            None,
            None,
            200,
            json!({ "subscription_id": s.id, "secret_rotated": f.secret.is_some() }),
        );
        SubscriptionOps::new(st.store.as_ref())
            .update(&s, webhook.as_ref(), &audit)
            .await
            .map_err(|e| ops_error(e, &s.name))?;
        Ok(Json(shown(&g, &s).await?).into_response())
    })
}

/// Deletes a subscription with its unacknowledged events; its webhook's pending deliveries
/// are cancelled.
#[utoipa::path(delete, path = "/v1/subscriptions/{id}", tag = "subscriptions", operation_id = "delete_subscription",
    params(("id" = String, Path, min_length = 1, description = "`sub_…`")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`subscription_not_found`"),
    ),
    security(("bearer" = ["subscriptions:write"])))]
pub(super) async fn remove(door: Door, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (st, _, g) = door.open();
    let act = action::SUBSCRIPTION_DELETE;
    audited!(g, act, async {
        let s = load(&g, act, Scope::SubscriptionsWrite, &id).await?;
        let audit = g.row(act, None, None, 204, json!({ "subscription_id": s.id }));
        let now = to_micros(st.clock.now());
        if !SubscriptionOps::new(st.store.as_ref())
            .delete(&s, &audit, now)
            .await?
        {
            return Err(not_found(&id));
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// Applies checked fields to a subscription and its webhook.
fn apply(
    st: &AppState,
    s: &mut SubscriptionRow,
    webhook: Option<&mut WebhookRow>,
    f: &schema::SubscriptionFields,
    now: i64,
) {
    if let Some(n) = &f.name {
        s.name = n.clone();
    }
    if let Some(globs) = &f.globs {
        let list: Vec<&str> = globs.iter().map(|g| g.as_str()).collect();
        s.paths = serde_json::to_string(&list).unwrap_or_else(|_| "[]".into());
    }
    if let Some(e) = &f.events {
        s.events = serde_json::to_string(e).unwrap_or_else(|_| "[]".into());
    }
    if let Some(b) = f.buffer_size {
        s.buffer_size = b;
    }
    if let Some(status) = &f.status {
        s.status = status.clone();
    }
    s.updated_at = now;
    if let Some(w) = webhook {
        if let Some(u) = &f.url {
            w.url = u.clone();
        }
        if let Some(secret) = &f.secret {
            set_secret(st, w, secret);
        }
        w.events = s.events.clone();
        let active = s.status == ACTIVE;
        if active && !w.enabled {
            w.disabled_reason = None;
        }
        if !active {
            w.disabled_reason = Some("the subscription is paused".into());
        }
        w.enabled = active;
        w.updated_at = now;
    }
}
