//! `/v1/health`, `/v1/health/ready`, `/v1/version`: unauthenticated.

use crate::clock::rfc3339_micros;
use crate::server::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use utoipa_axum::routes;

use super::bodies::auth as schema;
use super::registry::ApiRouter;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(version))
}

/// Liveness: the process is up.
#[utoipa::path(get, path = "/v1/health", tag = "health", operation_id = "health",
    responses((status = 200, description = "The process is up", body = schema::Health)))]

async fn health(State(st): State<AppState>) -> Json<Value> {
    Json(json!({ "status": "healthy", "timestamp": rfc3339_micros(st.clock.now()) }))
}

/// Readiness: the store answers, migrations are applied and the master key opens a probe.
#[utoipa::path(get, path = "/v1/health/ready", tag = "health", operation_id = "ready",
    responses(
        (status = 200, description = "Ready", body = schema::Readiness),
        (status = 503, description = "Not ready: `status` is `not_ready`, `errors` says why", body = schema::Readiness),
    ))]
async fn ready(State(st): State<AppState>) -> Response {
    let mut checks = Map::new();
    let mut errors = Map::new();
    match st.store.migrations_applied().await {
        Ok(true) => {
            checks.insert("database".into(), json!("ok"));
        }
        Ok(false) => {
            checks.insert("database".into(), json!("error"));
            errors.insert("database".into(), json!("migrations are not applied"));
        }
        Err(_) => {
            checks.insert("database".into(), json!("error"));
            errors.insert("database".into(), json!("the database is unreachable"));
        }
    }
    match crate::bootstrap::probe_opens(st.store.as_ref(), &st.keys).await {
        Ok(()) => {
            checks.insert("encryption".into(), json!("ok"));
        }
        Err(e) => {
            checks.insert("encryption".into(), json!("error"));
            errors.insert("encryption".into(), json!(e.to_string()));
        }
    }
    if errors.is_empty() {
        Json(json!({ "status": "ready", "checks": checks })).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not_ready", "checks": checks, "errors": errors })),
        )
            .into_response()
    }
}

/// The server version and commit.
#[utoipa::path(get, path = "/v1/version", tag = "health", operation_id = "version",
    responses((status = 200, description = "Version", body = schema::Version)))]
async fn version() -> Json<Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "commit": option_env!("SCAIVAULT_COMMIT").unwrap_or("unknown"),
    }))
}
