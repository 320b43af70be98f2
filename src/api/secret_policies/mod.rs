//! `/v1/secret-policies`: recipes of generated values (SPEC §9). Any admin may read them and
//! preview what they make; creating, changing and deleting one is tenant-wide work, for an
//! admin without path rules.

use crate::domain::generators::Recipe;
use crate::domain::secret_policy_ops::SecretPolicyError;
use crate::http::error::ApiError;
use crate::server::AppState;
use crate::store::SecretPolicyRow;
use utoipa_axum::routes;

mod crud;
mod preview;

use crud::*;
use preview::*;

use super::registry::ApiRouter;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, remove))
        .routes(routes!(preview))
}

/// The answer for a secret policy that does not exist (in the caller's tenant).
pub(crate) fn not_found(id: &str) -> ApiError {
    ApiError::not_found(
        "secret_policy_not_found",
        format!("no secret policy '{id}'"),
    )
}

/// The answer to a refused secret policy operation.
fn ops_error(e: SecretPolicyError, name: &str) -> ApiError {
    match e {
        SecretPolicyError::NotFound(id) => not_found(&id),
        SecretPolicyError::NameConflict => ApiError::conflict(
            "name_conflict",
            format!("a secret policy named '{name}' already exists"),
        ),
        SecretPolicyError::InUse { id, users } => ApiError::conflict(
            "secret_policy_in_use",
            format!(
                "secret policy '{id}' is used by rotation policies {}: point them elsewhere first",
                users.join(", ")
            ),
        )
        .with_details(serde_json::json!({ "rotation_policy_ids": users })),
        SecretPolicyError::Store(e) => e.into(),
    }
}

/// A policy of the caller's tenant.
async fn load(st: &AppState, tenant_id: &str, id: &str) -> Result<SecretPolicyRow, ApiError> {
    st.store
        .get_secret_policy(tenant_id, id)
        .await?
        .ok_or_else(|| not_found(id))
}

/// The stored recipe (checked when it was saved; a failure here is a damaged row).
pub(crate) fn recipe_of(p: &SecretPolicyRow) -> Result<Recipe, ApiError> {
    serde_json::from_str(&p.fields)
        .ok()
        .and_then(|f| Recipe::parse(&f).ok())
        .ok_or_else(|| {
            ApiError::internal(format!(
                "secret policy '{}' holds an unreadable recipe",
                p.id
            ))
        })
}
