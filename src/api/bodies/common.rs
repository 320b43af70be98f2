//! Shapes shared by every resource: the error envelope and its code list, scope and secret
//! type names, timestamps.

use crate::domain::duration::{parse_list, ApiDuration, DurationError};
use crate::domain::events::ALL_TYPES;
use crate::http::error::ApiError;
use crate::http::error::ERROR_CODES;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// The one error shape (SPEC §0).
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// The body of an error.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// Human-readable; never contains a secret value or token.
    pub message: String,
    /// Extra facts; for `validation_error`, `fields`: `[{"field","message"}]`.
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
    /// The request id, also in the `X-Request-ID` header.
    pub request_id: String,
}

/// A stable error code (the list is `http::error::ERROR_CODES`).
#[derive(Serialize)]
pub struct ErrorCode(pub String);

impl PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        let described: Vec<String> = ERROR_CODES
            .iter()
            .map(|(status, code, meaning)| format!("`{code}` ({status}): {meaning}"))
            .collect();
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ERROR_CODES.iter().map(|(_, code, _)| *code)))
            .description(Some(format!(
                "A stable error code.\n\n{}",
                described.join("\n\n")
            )))
            .into()
    }
}

impl ToSchema for ErrorCode {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ErrorCode")
    }
}

/// An event type, or `*` for every type (webhook subscriptions).
#[derive(Serialize)]
pub struct EventTypeName(pub String);

impl PartialSchema for EventTypeName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(std::iter::once("*").chain(ALL_TYPES)))
            .description(Some("An event type (SPEC §6), or `*` for all"))
            .into()
    }
}

impl ToSchema for EventTypeName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("EventTypeName")
    }
}

/// Checks an `events` list (known event types or `*`, at least one), without duplicates.
pub fn event_types(events: Vec<String>, c: &mut crate::http::typed_body::Checker) -> Vec<String> {
    let mut list: Vec<String> = Vec::new();
    for e in events {
        if e != "*" && !ALL_TYPES.contains(&e.as_str()) {
            c.push(
                "events",
                format!(
                    "unknown event type; use '*' or any of {}",
                    ALL_TYPES.join(", ")
                ),
            );
        } else if !list.contains(&e) {
            list.push(e);
        }
    }
    if list.is_empty() {
        c.push("events", "must be a non-empty list of event types");
    }
    list
}

/// A token scope; `admin` implies every other scope.
#[derive(Serialize, ToSchema)]
pub enum ScopeName {
    #[serde(rename = "secrets:read")]
    SecretsRead,
    #[serde(rename = "secrets:write")]
    SecretsWrite,
    #[serde(rename = "secrets:delete")]
    SecretsDelete,
    #[serde(rename = "secrets:list")]
    SecretsList,
    #[serde(rename = "secrets:rotate")]
    SecretsRotate,
    #[serde(rename = "audit:read")]
    AuditRead,
    #[serde(rename = "audit:export")]
    AuditExport,
    #[serde(rename = "subscriptions:read")]
    SubscriptionsRead,
    #[serde(rename = "subscriptions:write")]
    SubscriptionsWrite,
    #[serde(rename = "admin")]
    Admin,
}

/// The kind of a secret.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecretTypeName {
    Kv,
    Json,
    Certificate,
    SshKey,
    ApiKey,
}

/// Malformed → 400 `invalid_duration`; zero/negative → 422 (SPEC §0).
pub fn duration_error(e: DurationError) -> ApiError {
    field_duration_error(e, "duration")
}

/// Parses the duration in body field `field`: malformed → 400, not positive → 422 on `field`.
pub fn field_duration(s: &str, field: &str) -> Result<ApiDuration, ApiError> {
    ApiDuration::parse(s).map_err(|e| field_duration_error(e, field))
}

/// Timestamps as shown: RFC 3339 of stored microseconds.
pub fn ts(us: i64) -> String {
    crate::clock::rfc3339(crate::clock::from_micros(us))
}

/// An optional stored timestamp as shown.
pub fn opt_ts(us: Option<i64>) -> Option<String> {
    us.map(ts)
}

/// As `duration_error`, naming the body field that failed in `details.fields`.
pub fn field_duration_error(e: DurationError, field: &str) -> ApiError {
    match e {
        DurationError::Malformed(_) => ApiError::invalid_duration(e.to_string()),
        DurationError::NotPositive(_) => ApiError::validation_one(field, e.to_string()),
    }
}

/// A list of durations: `"30d,7d,1d"`, or the same as a list of strings.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum DurationList {
    Joined(String),
    Items(Vec<String>),
}

impl DurationList {
    /// The durations, in the order given; a malformed one is 400 `invalid_duration`.
    pub fn parse(self, field: &str) -> Result<Vec<ApiDuration>, ApiError> {
        match self {
            DurationList::Joined(s) => parse_list(&s).map_err(|e| field_duration_error(e, field)),
            DurationList::Items(items) => items.iter().map(|s| field_duration(s, field)).collect(),
        }
    }
}
