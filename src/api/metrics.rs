//! `GET /v1/metrics` (scope admin) on the API listener, and the unauthenticated `/metrics` and
//! `/v1/metrics` of the separate `SCAIVAULT_METRICS_LISTEN` listener (SPEC §8).

use crate::domain::scope::Scope;
use crate::domain::token::Caller;
use crate::http::error::ApiError;
use crate::server::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/metrics", get(with_admin_token))
}

/// The router of the separate metrics listener: no auth, nothing but the exposition.
pub fn public_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(exposition))
        .route("/v1/metrics", get(exposition))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(state)
        .layer(axum::middleware::from_fn(
            crate::http::context::request_context,
        ))
}

async fn with_admin_token(
    State(st): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    crate::http::auth::require(&caller, Scope::Admin)?;
    exposition(State(st)).await
}

async fn exposition(State(st): State<AppState>) -> Result<Response, ApiError> {
    let text = crate::metrics::render(&st).await?;
    Ok(([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response())
}
