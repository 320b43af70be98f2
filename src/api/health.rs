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
/// How long each readiness check may take before it counts as failed.
const READY_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

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
    // A load balancer asks often and must hear "not ready" at once, not after the pool's
    // acquire timeout: each check gets `READY_CHECK_TIMEOUT`.
    let timed_out = || Some(format!("no answer within {READY_CHECK_TIMEOUT:?}"));
    check(
        "database",
        match tokio::time::timeout(READY_CHECK_TIMEOUT, st.store.migrations_applied()).await {
            Ok(Ok(true)) => None,
            Ok(Ok(false)) => Some("migrations are not applied".into()),
            Ok(Err(_)) => Some("the database is unreachable".into()),
            Err(_) => timed_out(),
        },
    );
    check(
        "encryption",
        match tokio::time::timeout(
            READY_CHECK_TIMEOUT,
            crate::domain::key_probe::probe_opens(st.store.as_ref(), &st.keys),
        )
        .await
        {
            Ok(r) => r.err().map(|e| e.to_string()),
            Err(_) => timed_out(),
        },
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
