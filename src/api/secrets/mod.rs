//! `/v1/secrets`: write, read, versions, metadata, list, batch read, delete, restore.

use crate::domain::path::SecretPath;
use crate::domain::secret_ops::SecretError;
use crate::http::error::ApiError;
use crate::server::AppState;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use utoipa::OpenApi;
use utoipa_axum::routes;

pub(crate) mod list;
mod read;
mod write;

use list::*;
use read::*;
use write::*;

use super::registry::ApiRouter;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(batch))
        // A secret path has slashes: one catch-all serves every documented `{path}…` template,
        // dispatching on the last segment (`versions`, `metadata`, `restore` are reserved).
        .catch_all(
            "/v1/secrets/{*rest}",
            get(get_any)
                .put(put)
                .delete(delete)
                .patch(patch_any)
                .post(post_any),
            PathDocs::openapi(),
        )
}

/// The operations the catch-all serves.
#[derive(OpenApi)]
#[openapi(paths(get_any, put, delete, versions, get_metadata, patch_any, post_any))]
struct PathDocs;

impl From<SecretError> for ApiError {
    fn from(e: SecretError) -> Self {
        let msg = e.to_string();
        match e {
            SecretError::NotFound(_) => ApiError::not_found("secret_not_found", msg),
            SecretError::VersionNotFound { .. } => ApiError::not_found("version_not_found", msg),
            SecretError::VersionExpired { .. } => {
                ApiError::new(StatusCode::GONE, "secret_expired", msg)
            }
            SecretError::VersionConflict { expected, current } => {
                ApiError::conflict("version_conflict", msg).with_details(
                    json!({ "expected_version": expected, "current_version": current }),
                )
            }
            SecretError::SoftDeleted(_) => ApiError::conflict("secret_exists", msg),
            SecretError::Undecryptable(_) => ApiError::internal(msg),
            SecretError::PolicyNotFound(_) => ApiError::not_found("rotation_policy_not_found", msg),
            SecretError::Store(s) => s.into(),
        }
    }
}

/// The rotation schedule of a secret under a policy (one extra query only for those).
async fn schedule_of(
    st: &AppState,
    secret: &crate::store::SecretRow,
) -> Result<Option<std::sync::Arc<crate::store::ScheduleRow>>, ApiError> {
    if secret.rotation_policy_id.is_none() {
        return Ok(None);
    }
    Ok(st.store.get_schedule_cached(&secret.id).await?)
}

pub(crate) fn parse_path(raw: &str) -> Result<SecretPath, ApiError> {
    SecretPath::parse(raw).map_err(|e| ApiError::invalid_path(e.0))
}

/// A path for audit rows even when it failed validation (bounded length).
pub(crate) fn audit_path(raw: &str) -> Option<&str> {
    // Cut at a character boundary: slicing inside a multi-byte character would panic.
    let mut end = raw.len().min(512);
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    Some(&raw[..end])
}

/// `If-Match: "3"` (or `3`, or `W/"3"`) as a check-and-set version.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(v) = headers.get(axum::http::header::IF_MATCH) else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or("").trim();
    let s = s.strip_prefix("W/").unwrap_or(s).trim_matches('"');
    s.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .map(Some)
        .ok_or_else(|| ApiError::invalid_request("If-Match must be a version number such as \"3\""))
}

/// 405 with the `Allow` header (RFC 9110) of what `raw` names: a sub-resource or the secret.
fn method_not_allowed(raw: &str, message: &str) -> Response {
    let allow = if raw.ends_with("/versions") {
        "GET"
    } else if raw.ends_with("/metadata") {
        "GET, PATCH"
    } else if raw.ends_with("/restore") {
        "POST"
    } else {
        "GET, PUT, DELETE"
    };
    let err = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        message,
    );
    ([(axum::http::header::ALLOW, allow)], err).into_response()
}

fn set_etag(res: &mut Response, version: i64) {
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        res.headers_mut().insert(axum::http::header::ETAG, v);
    }
}
