//! Per-request context: the request id (echoed or minted), client facts for audit rows, the
//! caller's identity once known; renders `ApiError` envelopes and writes one log line per request.

use super::error::ApiError;
use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Facts about the current request that handlers and audit rows need.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub request_id: Arc<str>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// The request's URI path (for audit rows of denied requests).
    pub path: Arc<str>,
    pub started: Instant,
    identity: Arc<OnceLock<String>>,
}

impl RequestContext {
    fn from_request(req: &Request) -> Self {
        let request_id = req
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|s| is_sane_request_id(s))
            .map(Arc::from)
            .unwrap_or_else(|| Arc::from(crate::domain::ids::new_id("req_")));
        let source_ip = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        let user_agent = req
            .headers()
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect());
        Self {
            request_id,
            source_ip,
            user_agent,
            path: Arc::from(req.uri().path()),
            started: Instant::now(),
            identity: Arc::new(OnceLock::new()),
        }
    }

    /// Records who is calling, for the request log line.
    pub fn set_identity(&self, identity: &str) {
        let _ = self.identity.set(identity.to_string());
    }

    /// Milliseconds since the request arrived.
    pub fn elapsed_ms(&self) -> i64 {
        i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX)
    }
}

/// Echo a client's request id only if it is short and plain.
fn is_sane_request_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestContext>()
            .cloned()
            .unwrap_or_else(|| RequestContext {
                request_id: Arc::from(crate::domain::ids::new_id("req_")),
                source_ip: None,
                user_agent: None,
                path: Arc::from(parts.uri.path()),
                started: Instant::now(),
                identity: Arc::new(OnceLock::new()),
            }))
    }
}

/// The outermost middleware: sets up the context, renders errors, tags and logs the response.
pub async fn request_context(mut req: Request, next: Next) -> Response {
    let ctx = RequestContext::from_request(&req);
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    // The route template (`/v1/secrets/{*path}`); unmatched requests log `-`.
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "-".to_string(), |m| m.as_str().to_string());
    req.extensions_mut().insert(ctx.clone());

    let mut res = next.run(req).await;

    if let Some(err) = res.extensions_mut().remove::<ApiError>() {
        let (mut parts, _) = res.into_parts();
        let body = Json(err.envelope(&ctx.request_id)).into_response();
        let (body_parts, body) = body.into_parts();
        parts.headers.extend(body_parts.headers);
        if err.status.is_server_error() {
            tracing::warn!(
                error.code = err.code,
                request_id = %ctx.request_id,
                "request failed: {}",
                err.message
            );
        }
        res = Response::from_parts(parts, body);
    }
    if let Ok(v) = HeaderValue::from_str(&ctx.request_id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    let status = res.status();
    let identity = ctx.identity.get().map(String::as_str).unwrap_or("-");
    let latency_ms = ctx.started.elapsed().as_secs_f64() * 1000.0;
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(%method, path, route, status = status.as_u16(), latency_ms, request_id = %ctx.request_id, identity, "request");
    } else {
        tracing::info!(%method, path, route, status = status.as_u16(), latency_ms, request_id = %ctx.request_id, identity, "request");
    }
    res
}
