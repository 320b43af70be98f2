//! `/v1/health`, `/v1/health/ready`, `/v1/version`: unauthenticated.

use crate::clock::rfc3339_micros;
use crate::server::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/health/ready", get(ready))
        .route("/v1/version", get(version))
}

async fn health(State(st): State<AppState>) -> Json<Value> {
    Json(json!({ "status": "healthy", "timestamp": rfc3339_micros(st.clock.now()) }))
}

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

async fn version() -> Json<Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "commit": option_env!("SCAIVAULT_COMMIT").unwrap_or("unknown"),
    }))
}
