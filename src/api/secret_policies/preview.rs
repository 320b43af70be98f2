//! `POST /v1/secret-policies/{id}/preview`: generate a recipe's values once, for the caller's
//! eyes only: nothing is stored, and the audit row names the fields, never their values.

use super::{load, recipe_of};
use crate::api::bodies::secret_policies as schema;
use crate::domain::access::Reach;
use crate::domain::scope::Scope;
use crate::http::door::Door;
use crate::http::error::ApiError;
use crate::http::guard::audited;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Generates the policy's values once, without storing them.
#[utoipa::path(post, path = "/v1/secret-policies/{id}/preview", tag = "secret-policies", operation_id = "preview_secret_policy",
    params(("id" = String, Path, min_length = 1, description = "`sp_…`")),
    responses(
        (status = 200, description = "Freshly generated values (never stored)", body = schema::Preview),
        (status = 404, description = "`secret_policy_not_found`"),
    ),
    security(("bearer" = ["admin"])))]
pub(super) async fn preview(door: Door, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (st, caller, g) = door.open();
    audited!(g, "secret_policy_preview", async {
        g.allow("secret_policy_preview", Scope::Admin, Reach::Filtered)
            .await?;
        let p = load(st, &caller.tenant_id, &id).await?;
        let recipe = recipe_of(&p)?;
        let fields = recipe.field_names();
        let data = recipe
            .generate_blocking(st.clock.now())
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        // The row is durable before the values leave (ARCHITECTURE rule 6).
        g.record(&[g.row(
            "secret_policy_preview",
            None,
            None,
            200,
            json!({ "secret_policy_id": p.id, "fields": fields }),
        )])
        .await?;
        Ok((
            [(header::CACHE_CONTROL, "no-store")],
            Json(schema::Preview { data }),
        )
            .into_response())
    })
}
