//! `/v1/health`, `/v1/health/ready`, `/v1/version`: unauthenticated.

use crate::clock::rfc3339_micros;
use crate::server::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::collections::BTreeMap;
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

async fn health(State(st): State<AppState>) -> Json<schema::Health> {
    Json(schema::Health {
        status: "healthy".into(),
        timestamp: rfc3339_micros(st.clock.now()),
    })
}

/// Readiness: the store answers, migrations are applied and the master key opens a probe.
#[utoipa::path(get, path = "/v1/health/ready", tag = "health", operation_id = "ready",
    responses(
        (status = 200, description = "Ready", body = schema::Readiness),
        (status = 503, description = "Not ready: `status` is `not_ready`, `errors` says why", body = schema::Readiness),
    ))]
async fn ready(State(st): State<AppState>) -> Response {
    let mut checks = BTreeMap::new();
    let mut errors = BTreeMap::new();
    let mut check = |name: &str, failure: Option<String>| {
        let state = if failure.is_some() { "error" } else { "ok" };
        checks.insert(name.to_string(), state.to_string());
        if let Some(why) = failure {
            errors.insert(name.to_string(), why);
        }
    };
    check(
        "database",
        match st.store.migrations_applied().await {
            Ok(true) => None,
            Ok(false) => Some("migrations are not applied".into()),
            Err(_) => Some("the database is unreachable".into()),
        },
    );
    check(
        "encryption",
        crate::domain::key_probe::probe_opens(st.store.as_ref(), &st.keys)
            .await
            .err()
            .map(|e| e.to_string()),
    );
    let ready = errors.is_empty();
    let body = schema::Readiness {
        status: if ready { "ready" } else { "not_ready" }.into(),
        checks,
        errors: (!ready).then_some(errors),
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// The server version and commit.
#[utoipa::path(get, path = "/v1/version", tag = "health", operation_id = "version",
    responses((status = 200, description = "Version", body = schema::Version)))]
async fn version() -> Json<schema::Version> {
    Json(schema::Version {
        version: env!("CARGO_PKG_VERSION").into(),
        commit: option_env!("SCAIVAULT_COMMIT").unwrap_or("unknown").into(),
    })
}
