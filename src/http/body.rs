//! JSON request bodies: size-limited, any content type accepted (curl -d sends form type),
//! malformed JSON → 400 `invalid_request`, oversize → 413 `payload_too_large`.

use super::error::ApiError;
use axum::body::Body;
use axum::extract::{FromRequest, Request};
use serde_json::{Map, Value};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A request body parsed as a JSON object (an empty body is an empty object).
#[derive(Debug)]
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let too_large = || {
            ApiError::payload_too_large(format!(
                "the request body is larger than {} bytes",
                MAX_BODY_BYTES
            ))
        };
        if let Some(len) = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
        {
            if len > MAX_BODY_BYTES {
                return Err(too_large());
            }
        }
        let body: Body = req.into_body();
        let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|_| too_large())?;
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(Self(Map::new()));
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::invalid_request(format!(
                "the request body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        match value {
            Value::Object(m) => Ok(Self(m)),
            _ => Err(ApiError::invalid_request(
                "the request body must be a JSON object",
            )),
        }
    }
}
