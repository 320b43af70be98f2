//! `GET /v1/metrics` (scope admin) on the API listener, and the unauthenticated `/metrics` and
//! `/v1/metrics` of the separate `SCAIVAULT_METRICS_LISTEN` listener (SPEC §8).

use crate::domain::access::Reach;
use crate::domain::scope::Scope;
use crate::http::door::Door;
use crate::http::error::ApiError;
use crate::server::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use utoipa_axum::routes;

use super::registry::ApiRouter;

pub fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(with_admin_token))
}

/// The router of the separate metrics listener: no auth, nothing but the exposition at
/// `GET /metrics` and `GET /v1/metrics` (not part of the API, so not in the OpenAPI registry).
pub fn public_router(state: AppState) -> Router {
    Router::new()
        .fallback(public_exposition)
        .with_state(state)
        .layer(axum::middleware::from_fn(
            crate::http::context::request_context,
        ))
}

async fn public_exposition(
    State(st): State<AppState>,
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> Result<Response, ApiError> {
    if !matches!(uri.path(), "/metrics" | "/v1/metrics") {
        return Ok(StatusCode::NOT_FOUND.into_response());
    }
    if method != axum::http::Method::GET {
        return Ok(StatusCode::METHOD_NOT_ALLOWED.into_response());
    }
    exposition(State(st.clone())).await
}

/// Prometheus/OpenMetrics text of SPEC §8 (scope admin).
#[utoipa::path(
    get,
    path = "/v1/metrics",
    tag = "meta",
    operation_id = "metrics",
    responses((status = 200, description = "Metrics in the OpenMetrics text format", content_type = "application/openmetrics-text", body = String)),
    security(("bearer" = ["admin"]))
)]
async fn with_admin_token(door: Door) -> Result<Response, ApiError> {
    let (st, _, g) = door.open();
    // Metrics span the whole tenant (and the process): an admin without path rules.
    g.allow("metrics", Scope::Admin, Reach::Tenant).await?;
    exposition(State(st.clone())).await
}

async fn exposition(State(st): State<AppState>) -> Result<Response, ApiError> {
    let text = crate::metrics::render(&st).await?;
    Ok(([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response())
}
