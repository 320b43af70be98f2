//! JSON request bodies: size-limited, any content type accepted (curl -d sends form type),
//! malformed JSON → 400 `invalid_request`, oversize → 413 `payload_too_large`, a NUL character
//! in any string or key outside the top-level `data` (a secret value, stored encrypted)
//! → 400 `invalid_request` (SPEC §13: the stores' text columns cannot all hold it).

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
        let (parts, body) = req.into_parts();
        read_object(&parts.headers, body).await.map(Self)
    }
}

/// Reads a body of at most [`MAX_BODY_BYTES`] and parses it with [`parse_object`].
pub async fn read_object(
    headers: &axum::http::HeaderMap,
    body: Body,
) -> Result<Map<String, Value>, ApiError> {
    let too_large = || {
        ApiError::payload_too_large(format!(
            "the request body is larger than {} bytes",
            MAX_BODY_BYTES
        ))
    };
    if let Some(len) = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > MAX_BODY_BYTES {
            return Err(too_large());
        }
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| too_large())?;
    parse_object(&bytes)
}

/// Parses a whole request body as the handlers get it: blank → empty object, otherwise a JSON
/// object without NUL outside `data` (sync, so the fuzz targets call exactly this).
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Map::new());
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::invalid_request(format!(
            "the request body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    match value {
        Value::Object(m) => match nul_field(&m) {
            Some(field) => Err(ApiError::invalid_request(format!(
                "'{field}' holds a NUL character (\\u0000); only secret values may hold one"
            ))
            .with_details(serde_json::json!({ "field": field }))),
            None => Ok(m),
        },
        _ => Err(ApiError::invalid_request(
            "the request body must be a JSON object",
        )),
    }
}

/// The first field (dotted, `[i]` for array items) of a body whose key or string value holds
/// a NUL, skipping the top-level `data`.
fn nul_field(body: &Map<String, Value>) -> Option<String> {
    body.iter()
        .filter(|(k, _)| k.as_str() != "data")
        .find_map(|(k, v)| nul_in(k, v))
}

fn nul_in(at: &str, v: &Value) -> Option<String> {
    if at.contains('\0') {
        return Some(crate::audit::without_nul(at));
    }
    match v {
        Value::String(s) if s.contains('\0') => Some(at.to_string()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_in(&format!("{at}[{i}]"), item)),
        Value::Object(m) => m
            .iter()
            .find_map(|(k, item)| nul_in(&format!("{at}.{k}"), item)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(v: Value) -> Option<String> {
        match v {
            Value::Object(m) => nul_field(&m),
            _ => None,
        }
    }

    #[test]
    fn finds_nul_outside_the_secret_value() {
        assert_eq!(field(json!({"data": {"k": "a\u{0}"}})), None);
        assert_eq!(field(json!({"name": "ok", "n": 1})), None);
        assert_eq!(
            field(json!({"metadata": {"tags": ["x", "y\u{0}"]}})).as_deref(),
            Some("metadata.tags[1]")
        );
        assert_eq!(
            field(json!({"metadata": {"custom": {"k\u{0}": "v"}}})).as_deref(),
            Some("metadata.custom.k\u{fffd}")
        );
        assert_eq!(
            field(json!({"options": {"data": "\u{0}"}})).as_deref(),
            Some("options.data")
        );
    }
}
