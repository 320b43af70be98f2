//! `/v1/webhooks` (scope admin): CRUD, signing-secret rotation, test, deliveries, redeliver.

use crate::domain::access::Reach;
use crate::domain::scope::Scope;
use crate::http::error::ApiError;
use crate::http::guard::Guard;
use crate::store::{StoreError, WebhookRow};

use utoipa_axum::routes;

pub(crate) mod apply;
mod crud;
mod deliveries;

use apply::*;
use crud::*;
use deliveries::*;

use super::registry::ApiRouter;

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
