//! `/v1/rotation`: policies (CRUD, enable/disable), attaching secrets, forced rotation,
//! history and the due list (SPEC §4).

use crate::http::error::ApiError;
use utoipa::OpenApi;
use utoipa_axum::routes;

pub(crate) mod attachments;
pub(crate) mod body;
pub(crate) mod forced;
mod policies;

use attachments::*;
use body::*;
use forced::*;
use policies::*;

use super::registry::ApiRouter;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, remove))
        .routes(routes!(enable))
        .routes(routes!(disable))
        .routes(routes!(attach))
        // A secret path has slashes: one catch-all serves the documented `{secret_path}` template.
        .catch_all(
            "/v1/rotation/policies/{id}/secrets/{*path}",
            axum::routing::delete(detach),
            DetachDoc::openapi(),
        )
        .routes(routes!(rotate))
        .routes(routes!(history))
        .routes(routes!(due))
}

#[derive(OpenApi)]
#[openapi(paths(detach))]
struct DetachDoc;

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(
        "rotation_policy_not_found",
        format!("no rotation policy '{id}'"),
    )
}
