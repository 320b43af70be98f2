//! What the Vault routes answer (SPEC §12): the response envelope, and errors as Vault shapes
//! them (`{"errors":[…]}`, auth failures 403 `permission denied`, a missing path 404 with an
//! empty list), mapped in one place from the native [`ApiError`].

use crate::http::context::RequestContext;
use crate::http::error::ApiError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};

/// Vault's message for every refused token or permission.
pub const PERMISSION_DENIED: &str = "permission denied";

/// The envelope around `data` (serialized straight from this struct: the read path builds
/// no intermediate JSON tree).
#[derive(Serialize)]
pub struct Envelope<'a, D: Serialize> {
    request_id: &'a str,
    lease_id: &'static str,
    renewable: bool,
    lease_duration: u64,
    data: D,
    wrap_info: Option<()>,
    warnings: Option<()>,
    /// Only `renew-self` fills it.
    pub auth: Option<Value>,
}

/// The envelope around `data`, with this request's id.
pub fn envelope<'a, D: Serialize>(ctx: &'a RequestContext, data: D) -> Envelope<'a, D> {
    Envelope {
        request_id: &ctx.request_id,
        lease_id: "",
        renewable: false,
        lease_duration: 0,
        data,
        wrap_info: None,
        warnings: None,
        auth: None,
    }
}

/// `status` with `body` as JSON.
pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut res = (status, bytes).into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            res
        }
        Err(_) => {
            VaultError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// 200 with the envelope around `data`.
pub fn ok(ctx: &RequestContext, data: impl Serialize) -> Response {
    json_response(StatusCode::OK, &envelope(ctx, data))
}

/// An error as Vault answers it.
#[derive(Debug)]
pub struct VaultError {
    pub status: StatusCode,
    pub errors: Vec<String>,
    pub retry_after: Option<u64>,
}

impl VaultError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            errors: vec![message.into()],
            retry_after: None,
        }
    }

    /// 404 with an empty list: Vault's answer for a path that holds nothing.
    pub fn not_found() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// 404 for a path no mount serves.
    pub fn no_route(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("no handler for route \"{path}\". route entry not found."),
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, message)
    }
}

impl From<ApiError> for VaultError {
    fn from(e: ApiError) -> Self {
        let retry_after = e.retry_after;
        let mut out = match (e.status.as_u16(), e.code) {
            (401 | 403, _) => VaultError::new(StatusCode::FORBIDDEN, PERMISSION_DENIED),
            (404 | 410, _) => VaultError::not_found(),
            (409, "version_conflict") => {
                VaultError::bad_request("check-and-set parameter did not match the current version")
            }
            (409, _) => VaultError::bad_request(e.message),
            (422, _) => {
                // Each failing field as one message.
                let fields = e
                    .details
                    .as_ref()
                    .and_then(|d| d.get("fields"))
                    .and_then(Value::as_array)
                    .map(|list| {
                        list.iter()
                            .map(|f| {
                                format!(
                                    "{}: {}",
                                    f["field"].as_str().unwrap_or("body"),
                                    f["message"].as_str().unwrap_or("is invalid")
                                )
                            })
                            .collect::<Vec<_>>()
                    })
                    .filter(|l| !l.is_empty())
                    .unwrap_or_else(|| vec![e.message.clone()]);
                VaultError {
                    status: StatusCode::BAD_REQUEST,
                    errors: fields,
                    retry_after: None,
                }
            }
            (500, _) => VaultError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
            _ => VaultError::new(e.status, e.message),
        };
        out.retry_after = retry_after;
        out
    }
}

impl IntoResponse for VaultError {
    fn into_response(self) -> Response {
        let mut res = json_response(self.status, &json!({ "errors": self.errors }));
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_errors_become_vault_shapes() {
        let cases = [
            (ApiError::token_revoked(), 403, vec![PERMISSION_DENIED]),
            (
                ApiError::access_denied("team-b/x"),
                403,
                vec![PERMISSION_DENIED],
            ),
            (ApiError::secret_not_found("a"), 404, vec![]),
            (
                ApiError::conflict("version_conflict", "expected 1, current 2"),
                400,
                vec!["check-and-set parameter did not match the current version"],
            ),
            (
                ApiError::validation_one("options.max_versions", "must be 1 to 100"),
                400,
                vec!["options.max_versions: must be 1 to 100"],
            ),
            (
                ApiError::internal("a stored value is not JSON"),
                500,
                vec!["internal error"],
            ),
        ];
        for (native, status, errors) in cases {
            let v = VaultError::from(native);
            assert_eq!(v.status.as_u16(), status);
            assert_eq!(v.errors, errors);
        }
        let limited = VaultError::from(ApiError::rate_limited(7, "slow down"));
        assert_eq!(limited.status.as_u16(), 429);
        assert_eq!(limited.retry_after, Some(7));
    }
}
