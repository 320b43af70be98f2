//! Parsing of secret request bodies into domain requests, collecting every field error (422)
//! with messages that never echo a submitted value.

use crate::domain::duration::{parse_list, ApiDuration, DurationError};
use crate::domain::secret::{
    MetadataPatch, SecretType, MAX_CUSTOM_METADATA_BYTES, MAX_MAX_VERSIONS, MAX_VALUE_BYTES,
};
use crate::domain::secret_ops::WriteOptions;
use crate::http::error::{ApiError, FieldError};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use zeroize::Zeroizing;

/// A parsed PUT body.
pub struct PutBody {
    pub value: Zeroizing<Vec<u8>>,
    pub secret_type: Option<SecretType>,
    pub metadata: MetadataPatch,
    pub options: WriteOptions,
}

/// Parses `{"data", "secret_type", "metadata", "options"}`.
pub fn parse_put(body: Map<String, Value>, now: DateTime<Utc>) -> Result<PutBody, ApiError> {
    let mut errors = Vec::new();
    let value = match body.get("data") {
        None | Some(Value::Null) => {
            errors.push(FieldError::new("data", "is required (a JSON object)"));
            None
        }
        Some(Value::Object(_)) => body
            .get("data")
            .map(|d| Zeroizing::new(serde_json::to_vec(d).unwrap_or_default())),
        Some(_) => {
            errors.push(FieldError::new("data", "must be a JSON object"));
            None
        }
    };
    if let Some(v) = &value {
        if v.len() > MAX_VALUE_BYTES {
            return Err(ApiError::payload_too_large(format!(
                "the secret value is larger than {} bytes",
                MAX_VALUE_BYTES
            )));
        }
    }
    let secret_type = match body.get("secret_type") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match SecretType::parse(s) {
            Some(t) => Some(t),
            None => {
                return Err(ApiError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "invalid_secret_type",
                    "secret_type must be one of kv, json, certificate, ssh_key, api_key",
                ))
            }
        },
        Some(_) => {
            errors.push(FieldError::new("secret_type", "must be a string"));
            None
        }
    };
    let metadata = match body.get("metadata") {
        None | Some(Value::Null) => MetadataPatch::default(),
        Some(Value::Object(m)) => parse_metadata(m, "metadata.", &mut errors),
        Some(_) => {
            errors.push(FieldError::new("metadata", "must be an object"));
            MetadataPatch::default()
        }
    };
    let options = match body.get("options") {
        None | Some(Value::Null) => WriteOptions::default(),
        Some(Value::Object(o)) => parse_options(o, now, true, &mut errors)?,
        Some(_) => {
            errors.push(FieldError::new("options", "must be an object"));
            WriteOptions::default()
        }
    };
    match (value, errors.is_empty()) {
        (Some(value), true) => Ok(PutBody {
            value,
            secret_type,
            metadata,
            options,
        }),
        _ => Err(ApiError::validation(errors)),
    }
}

/// Parses a PATCH …/metadata body: `{"metadata":{…},"options":{…}}` or the metadata fields bare.
pub fn parse_patch(
    body: Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<(MetadataPatch, WriteOptions), ApiError> {
    let mut errors = Vec::new();
    let (meta_obj, prefix) = match body.get("metadata") {
        Some(Value::Object(m)) => (m.clone(), "metadata."),
        Some(_) => {
            errors.push(FieldError::new("metadata", "must be an object"));
            (Map::new(), "metadata.")
        }
        None => (body.clone(), ""),
    };
    let patch = parse_metadata(&meta_obj, prefix, &mut errors);
    let options = match body.get("options") {
        None | Some(Value::Null) => WriteOptions::default(),
        Some(Value::Object(o)) => parse_options(o, now, false, &mut errors)?,
        Some(_) => {
            errors.push(FieldError::new("options", "must be an object"));
            WriteOptions::default()
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    if patch.is_empty()
        && options.max_versions.is_none()
        && options.expires_at.is_none()
        && options.notify_before.is_none()
    {
        return Err(ApiError::validation_one(
            "metadata",
            "name at least one of description, tags, owner, custom, or options",
        ));
    }
    Ok((patch, options))
}

fn parse_metadata(
    m: &Map<String, Value>,
    prefix: &str,
    errors: &mut Vec<FieldError>,
) -> MetadataPatch {
    let mut patch = MetadataPatch::default();
    let field = |name: &str| format!("{prefix}{name}");
    match m.get("description") {
        None => {}
        Some(Value::Null) => patch.description = Some(None),
        Some(Value::String(s)) if s.len() <= 1024 => patch.description = Some(Some(s.clone())),
        Some(Value::String(_)) => errors.push(FieldError::new(
            &field("description"),
            "must be at most 1024 characters",
        )),
        Some(_) => errors.push(FieldError::new(&field("description"), "must be a string")),
    }
    match m.get("owner") {
        None => {}
        Some(Value::Null) => patch.owner = Some(None),
        Some(Value::String(s)) if s.len() <= 256 => patch.owner = Some(Some(s.clone())),
        Some(Value::String(_)) => errors.push(FieldError::new(
            &field("owner"),
            "must be at most 256 characters",
        )),
        Some(_) => errors.push(FieldError::new(&field("owner"), "must be a string")),
    }
    match m.get("tags") {
        None => {}
        Some(Value::Null) => patch.tags = Some(Vec::new()),
        Some(Value::Array(items)) => {
            let mut tags = Vec::new();
            for t in items {
                match t.as_str() {
                    Some(s) if !s.is_empty() && s.len() <= 128 => {
                        if !tags.iter().any(|x: &String| x == s) {
                            tags.push(s.to_string());
                        }
                    }
                    _ => {
                        errors.push(FieldError::new(
                            &field("tags"),
                            "must be a list of strings of 1 to 128 characters",
                        ));
                        break;
                    }
                }
            }
            if tags.len() > 50 {
                errors.push(FieldError::new(&field("tags"), "at most 50 tags"));
            }
            patch.tags = Some(tags);
        }
        Some(_) => errors.push(FieldError::new(&field("tags"), "must be a list of strings")),
    }
    match m.get("custom") {
        None => {}
        Some(Value::Null) => patch.custom = Some(BTreeMap::new()),
        Some(Value::Object(c))
            if serde_json::to_vec(c).map_or(usize::MAX, |v| v.len())
                > MAX_CUSTOM_METADATA_BYTES =>
        {
            errors.push(FieldError::new(
                &field("custom"),
                format!("must be at most {MAX_CUSTOM_METADATA_BYTES} bytes of JSON"),
            ))
        }
        Some(Value::Object(c)) => patch.custom = Some(c.clone().into_iter().collect()),
        Some(_) => errors.push(FieldError::new(&field("custom"), "must be an object")),
    }
    patch
}

fn parse_options(
    o: &Map<String, Value>,
    now: DateTime<Utc>,
    allow_write_only: bool,
    errors: &mut Vec<FieldError>,
) -> Result<WriteOptions, ApiError> {
    let mut out = WriteOptions::default();
    match o.get("max_versions") {
        None | Some(Value::Null) => {}
        Some(v) => match v.as_i64() {
            Some(n) if (1..=MAX_MAX_VERSIONS).contains(&n) => out.max_versions = Some(n),
            _ => errors.push(FieldError::new(
                "options.max_versions",
                format!("must be an integer from 1 to {MAX_MAX_VERSIONS}"),
            )),
        },
    }
    // A check-and-set applies to a metadata patch as well as to a write.
    match o.get("cas") {
        None | Some(Value::Null) => {}
        Some(v) => match v.as_i64() {
            Some(n) if n >= 0 => out.cas = Some(n),
            _ => errors.push(FieldError::new(
                "options.cas",
                "must be a non-negative integer",
            )),
        },
    }
    if allow_write_only {
        match o.get("rotation_policy_id") {
            None | Some(Value::Null) => {}
            Some(Value::String(id)) => out.rotation_policy_id = Some(id.clone()),
            Some(_) => errors.push(FieldError::new(
                "options.rotation_policy_id",
                "must be a string",
            )),
        }
    }
    let expires_in = o.get("expires_in").filter(|v| !v.is_null());
    let expires_at = o.get("expires_at");
    match (expires_in, expires_at) {
        (Some(_), Some(v)) if !v.is_null() => errors.push(FieldError::new(
            "options.expires_at",
            "give expires_in or expires_at, not both",
        )),
        (Some(Value::String(s)), _) => {
            let d = duration(s, "options.expires_in")?;
            out.expires_at = Some(Some(now + d.as_chrono()));
        }
        (Some(_), _) => errors.push(FieldError::new(
            "options.expires_in",
            "must be a duration string such as 90d",
        )),
        (None, Some(Value::Null)) => out.expires_at = Some(None),
        (None, Some(Value::String(s))) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => {
                let t = t.with_timezone(&Utc);
                if t <= now {
                    errors.push(FieldError::new(
                        "options.expires_at",
                        "must be in the future",
                    ));
                } else {
                    out.expires_at = Some(Some(t));
                }
            }
            Err(_) => errors.push(FieldError::new(
                "options.expires_at",
                "must be an RFC 3339 timestamp",
            )),
        },
        (None, Some(_)) => errors.push(FieldError::new(
            "options.expires_at",
            "must be an RFC 3339 timestamp",
        )),
        (None, None) => {}
    }
    match o.get("notify_before") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            let list =
                parse_list(s).map_err(|e| field_duration_error(e, "options.notify_before"))?;
            out.notify_before = Some(crate::domain::duration::list_to_string(&list));
        }
        Some(Value::Array(items)) => {
            let mut list = Vec::new();
            for i in items {
                match i.as_str() {
                    Some(s) => list.push(duration(s, "options.notify_before")?),
                    None => {
                        errors.push(FieldError::new(
                            "options.notify_before",
                            "must be a list of duration strings",
                        ));
                        break;
                    }
                }
            }
            out.notify_before = Some(crate::domain::duration::list_to_string(&list));
        }
        Some(_) => errors.push(FieldError::new(
            "options.notify_before",
            "must be a duration list such as 30d,7d,1d",
        )),
    }
    Ok(out)
}

fn duration(s: &str, field: &str) -> Result<ApiDuration, ApiError> {
    ApiDuration::parse(s).map_err(|e| field_duration_error(e, field))
}

/// As `duration_error`, naming the body field that failed in `details.fields`.
fn field_duration_error(e: DurationError, field: &str) -> ApiError {
    match e {
        DurationError::Malformed(_) => ApiError::invalid_duration(e.to_string()),
        DurationError::NotPositive(_) => ApiError::validation_one(field, e.to_string()),
    }
}

/// Malformed → 400 `invalid_duration`; zero/negative → 422 (SPEC §0).
pub fn duration_error(e: DurationError) -> ApiError {
    field_duration_error(e, "duration")
}
