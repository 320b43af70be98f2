//! HTTP plumbing: router assembly, middleware, the error envelope, extractors.

pub mod auth;
pub mod body;
pub mod context;
pub mod door;
pub mod error;
pub mod guard;
pub mod listener;
pub mod rate_limit;
pub mod track;
pub mod typed_body;
pub mod undecodable;

use crate::server::AppState;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use error::ApiError;

/// The whole API: every resource's routes, the fallback, and the layers around them.
pub fn router(state: AppState) -> Router {
    // Routes are registered (and documented) in `crate::api::routes`, not here.
    let (api, _openapi) = crate::api::routes().into_parts();
    api.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone())
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .layer(axum::middleware::from_fn(run_to_completion))
        .layer(axum::middleware::from_fn(
            undecodable::refuse_undecodable_path,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit,
        ))
        .layer(axum::middleware::from_fn(context::request_context))
        .layer(axum::middleware::from_fn_with_state(state, track::track))
}

/// Runs each request that may write on its own task, so a client that disconnects cannot cancel
/// it halfway: a cancelled future could drop a database transaction between BEGIN and COMMIT
/// and hand the connection back to the pool still inside it (sqlx 0.8), and a write that
/// started finishes with its audit row and events either way. GET and HEAD handlers open no
/// transaction (their audit rows are committed by the audit writer's own task whether or not
/// the request waits), so they run in place and skip the task's spawn and cross-thread wake-up.
async fn run_to_completion(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    match tokio::spawn(next.run(req)).await {
        Ok(res) => res,
        Err(_) => panic_response(Box::new("request task failed")),
    }
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not accept that method",
    )
}

/// A panic is a bug: answer 500 without echoing the panic message (it could hold data).
fn panic_response(_err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::internal("internal error").into_response()
}
