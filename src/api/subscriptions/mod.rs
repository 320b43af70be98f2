//! `/v1/subscriptions` (SPEC §10): a token's own glob-scoped event streams. Only the owning
//! token, or an admin without path rules, sees or changes one (others get 404); polling and
//! acknowledging need `subscriptions:read`, changes `subscriptions:write`.

use crate::api::bodies::subscriptions as schema;
use crate::domain::access::Reach;
use crate::domain::scope::Scope;
use crate::domain::subscriptions::ops::SubscriptionError;
use crate::http::error::ApiError;
use crate::http::guard::Guard;
use crate::store::{SubscriptionRow, WebhookRow};
use utoipa_axum::routes;

mod crud;
mod poll;

use crud::*;
use poll::*;

use super::registry::ApiRouter;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, remove))
        .routes(routes!(poll))
        .routes(routes!(ack))
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found("subscription_not_found", format!("no subscription '{id}'"))
}

/// Loads a subscription the caller may use with scope `need`: one of another token answers
/// 404 like a missing one (SPEC §10).
async fn load(
    g: &Guard<'_>,
    action: &str,
    need: Scope,
    id: &str,
) -> Result<SubscriptionRow, ApiError> {
    g.allow(action, need, Reach::Filtered).await?;
    let s =
        g.st.store
            .get_subscription(&g.caller.tenant_id, id)
            .await?
            .ok_or_else(|| not_found(id))?;
    g.allow_existing(action, need, Reach::OwnedBy(&s.token_id), || not_found(id))
        .await?;
    Ok(s)
}

/// The webhook a webhook subscription delivers through (None for a polling one).
async fn own_webhook(g: &Guard<'_>, s: &SubscriptionRow) -> Result<Option<WebhookRow>, ApiError> {
    match &s.webhook_id {
        Some(id) => Ok(g
            .st
            .store
            .webhooks_by_ids(std::slice::from_ref(id))
            .await?
            .pop()),
        None => Ok(None),
    }
}

/// The shown form of a subscription, with its webhook's url and health when it has one.
async fn shown(g: &Guard<'_>, s: &SubscriptionRow) -> Result<schema::Subscription, ApiError> {
    let webhook = own_webhook(g, s).await?;
    let health = webhook.as_ref().map(|w| match w.enabled {
        true => w.status.as_str().to_string(),
        false => "disabled".to_string(),
    });
    Ok(schema::Subscription::new(s, webhook.map(|w| w.url), health))
}

fn ops_error(e: SubscriptionError, name: &str) -> ApiError {
    match e {
        SubscriptionError::NameConflict => ApiError::conflict(
            "name_conflict",
            format!("this token already has a subscription named '{name}'"),
        ),
        SubscriptionError::Store(e) => e.into(),
    }
}
