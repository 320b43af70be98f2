//! `ApiError`: every error the API returns, mapped to status and the SPEC §0 envelope in one place.
//! The body is rendered by the request-context middleware, which adds the request id.

use crate::store::StoreError;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// Every code an [`ApiError`] can carry, with its HTTP status and meaning (SPEC §0 plus the
/// router's own fallbacks). The OpenAPI document's `ErrorCode` enum is built from this list,
/// and a test checks that every code used in the source is listed here.
pub const ERROR_CODES: &[(u16, &str, &str)] = &[
    (400, "invalid_request", "malformed JSON or wrong shape"),
    (
        400,
        "invalid_path",
        "a secret path or prefix breaks the path rules",
    ),
    (
        400,
        "invalid_duration",
        "a duration is not <int><s|m|h|d|w>",
    ),
    (
        400,
        "invalid_cursor",
        "the cursor is not valid for this listing",
    ),
    (400, "invalid_secret_type", "unknown secret_type"),
    (
        400,
        "invalid_glob",
        "a subscription path glob cannot be parsed",
    ),
    (
        401,
        "authentication_required",
        "Authorization header missing or malformed",
    ),
    (401, "token_invalid", "unknown token"),
    (401, "token_expired", "the token has expired"),
    (401, "token_revoked", "the token has been revoked"),
    (403, "insufficient_scope", "the token lacks the scope"),
    (403, "access_denied", "a path rule of the token says no"),
    (404, "not_found", "no such endpoint"),
    (404, "secret_not_found", "no secret at that path"),
    (404, "version_not_found", "no such version"),
    (404, "rotation_policy_not_found", "no such rotation policy"),
    (404, "webhook_not_found", "no such webhook"),
    (404, "delivery_not_found", "no such delivery"),
    (404, "token_not_found", "no such active token"),
    (404, "secret_policy_not_found", "no such secret policy"),
    (
        404,
        "subscription_not_found",
        "no such subscription of this token",
    ),
    (
        405,
        "method_not_allowed",
        "the endpoint does not accept that method",
    ),
    (
        409,
        "version_conflict",
        "check-and-set failed or a concurrent write won",
    ),
    (409, "name_conflict", "duplicate policy or webhook name"),
    (
        409,
        "secret_policy_in_use",
        "a rotation policy uses the secret policy",
    ),
    (
        409,
        "secret_exists",
        "the path is soft-deleted and still restorable",
    ),
    (
        410,
        "secret_expired",
        "the version's grace period has ended",
    ),
    (
        413,
        "payload_too_large",
        "body over 1 MiB or value over 512 KiB",
    ),
    (
        422,
        "validation_error",
        "field-level errors in details.fields",
    ),
    (429, "rate_limited", "too many requests; see Retry-After"),
    (500, "internal_error", "a bug"),
    (503, "service_unavailable", "the store is unreachable"),
    (
        507,
        "insufficient_storage",
        "the store's disk is full; writes resume once space is freed",
    ),
];

/// An API error: HTTP status, stable code, human message, optional details.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
    pub retry_after: Option<u64>,
    /// The request's audit row for this outcome is already written: `Guard::fail` must not
    /// add another.
    pub audited: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
            audited: false,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn invalid_request(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", msg)
    }
    /// 400 for a subscription glob that cannot be parsed (SPEC §10).
    pub fn invalid_glob(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_glob", msg)
    }
    pub fn invalid_path(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_path", msg)
    }
    pub fn invalid_duration(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_duration", msg)
    }
    pub fn invalid_cursor() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
            "the cursor is not valid for this listing",
        )
    }
    pub fn authentication_required(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "authentication_required", msg)
    }
    /// 401 `token_revoked` (found by the auth check, or by the audit writer's check of a
    /// token the read cache served).
    pub fn token_revoked() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "token_revoked",
            "the token has been revoked",
        )
    }
    pub fn insufficient_scope(scope: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            format!("this token lacks the '{scope}' scope"),
        )
        .with_details(json!({ "required_scope": scope }))
    }
    pub fn access_denied(path: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "access_denied",
            format!("this token's path rules do not allow '{path}'"),
        )
    }
    /// 403 `access_denied` for a tenant-wide operation asked by a token with path rules.
    pub fn tenant_wide_only() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "access_denied",
            "this operation spans the whole tenant; it needs a token without path rules",
        )
    }
    pub fn not_found(code: &'static str, msg: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, msg)
    }
    pub fn secret_not_found(path: &str) -> Self {
        Self::not_found("secret_not_found", format!("no secret at '{path}'"))
    }
    pub fn conflict(code: &'static str, msg: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, msg)
    }
    pub fn payload_too_large(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", msg)
    }
    /// 422 with the failing fields in `details.fields`.
    pub fn validation(fields: Vec<FieldError>) -> Self {
        let msg = match fields.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            _ => format!("{} fields are invalid", fields.len()),
        };
        let list: Vec<Value> = fields
            .iter()
            .map(|f| json!({"field": f.field, "message": f.message}))
            .collect();
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_error", msg)
            .with_details(json!({ "fields": list }))
    }
    pub fn validation_one(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }
    /// 429 with `Retry-After: secs`.
    pub fn rate_limited(retry_after_secs: u64, msg: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", msg);
        e.retry_after = Some(retry_after_secs);
        e
    }
    /// 503 with `Retry-After: 1`: the store did not answer; nothing was changed.
    pub fn unavailable() -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "the store is unavailable; retry shortly",
        );
        e.retry_after = Some(1);
        e
    }
    pub fn internal(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", msg)
    }

    /// The JSON envelope, as sent.
    pub fn envelope(&self, request_id: &str) -> Value {
        let mut err = json!({
            "code": self.code,
            "message": self.message,
            "request_id": request_id,
        });
        if let Some(d) = &self.details {
            err["details"] = d.clone();
        }
        json!({ "error": err })
    }
}

/// One failing field of a request body.
#[derive(Debug, Clone)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(cause) => {
                tracing::warn!(error.cause = %cause, "store unavailable");
                ApiError::unavailable()
            }
            StoreError::Conflict(constraint) => {
                tracing::info!(constraint = %constraint, "write lost a race");
                ApiError::conflict(
                    "version_conflict",
                    "a concurrent write changed this resource; retry",
                )
            }
            StoreError::Corrupt(cause) => {
                tracing::error!(error.cause = %cause, "stored data could not be read");
                ApiError::internal("stored data could not be read")
            }
            StoreError::Full(cause) => {
                tracing::error!(error.cause = %cause, "the database's disk is full: writes are refused until space is freed");
                let mut e = ApiError::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "insufficient_storage",
                    "the store's disk is full: nothing was written; retry once space is freed",
                );
                e.retry_after = Some(5);
                e
            }
            StoreError::Rejected(cause) => {
                tracing::info!(error.cause = %cause, "the store refused a value of the request");
                ApiError::invalid_request(
                    "the request holds a character that cannot be stored (such as NUL)",
                )
            }
        }
    }
}

/// A refused verification is 429 with `Retry-After`.
impl From<crate::audit::checkpoint::VerifyError> for ApiError {
    fn from(e: crate::audit::checkpoint::VerifyError) -> Self {
        match e {
            crate::audit::checkpoint::VerifyError::Store(e) => e.into(),
            crate::audit::checkpoint::VerifyError::Limited(r) => {
                let secs = r.retry_after_secs;
                ApiError::rate_limited(secs, r.to_string())
                    .with_details(serde_json::json!({ "retry_after_seconds": secs }))
            }
        }
    }
}

impl From<crate::audit::writer::AuditError> for ApiError {
    fn from(e: crate::audit::writer::AuditError) -> Self {
        match e {
            crate::audit::writer::AuditError::Unavailable(cause) => {
                ApiError::from(StoreError::Unavailable(cause))
            }
            crate::audit::writer::AuditError::Full(cause) => {
                ApiError::from(StoreError::Full(cause))
            }
            // The writer recorded the denial in place of the request's rows.
            crate::audit::writer::AuditError::TokenRevoked => ApiError {
                audited: true,
                ..ApiError::token_revoked()
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = self.status.into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                res.headers_mut().insert("retry-after", v);
            }
        }
        res.extensions_mut().insert(self);
        res
    }
}
