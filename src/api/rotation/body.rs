//! Reading a rotation policy body (create and patch) into a policy row, all field errors
//! collected into one 422.

use crate::api::secret_body::duration_error;
use crate::domain::access::Reach;
use crate::domain::duration::{list_to_string, parse_list, ApiDuration};
use crate::domain::rotation;
use crate::http::error::{ApiError, FieldError};
use crate::http::guard::Guard;
use crate::server::AppState;
use crate::store::PolicyRow;
use serde_json::{Map, Value};

pub(super) fn valid_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// Applies a create/patch body to a policy row (collecting field errors).
pub(super) async fn apply_body(
    st: &AppState,
    g: &Guard<'_>,
    p: &mut PolicyRow,
    body: &Map<String, Value>,
    create: bool,
) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if let Some(ids) = read_fields(p, body, create, &mut errors)? {
        for id in &ids {
            // A webhook outside the caller's rules is as missing as an unknown one.
            let missing = || ApiError::not_found("webhook_not_found", format!("no webhook '{id}'"));
            let w = st
                .store
                .get_webhook(&g.caller.tenant_id, id)
                .await?
                .ok_or_else(missing)?;
            if !g.sees(Reach::filter(w.filter_path_prefix.as_deref())) {
                return Err(missing());
            }
        }
        p.webhook_ids = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
    }
    finish(p, errors)
}

/// The store-free part of [`apply_body`]: every field but the webhooks' existence, into `p`
/// and `errors`; returns the `webhook_ids` to look up, when given.
pub(crate) fn read_fields(
    p: &mut PolicyRow,
    body: &Map<String, Value>,
    create: bool,
    errors: &mut Vec<FieldError>,
) -> Result<Option<Vec<String>>, ApiError> {
    if create {
        match body.get("name").and_then(Value::as_str) {
            Some(n) if valid_name(n) => {
                p.name = n.to_string();
                p.id = format!("rot_{n}");
            }
            _ => errors.push(FieldError::new(
                "name",
                "is required: [a-z0-9][a-z0-9_-]{0,62}",
            )),
        }
    } else if body.contains_key("name") {
        errors.push(FieldError::new(
            "name",
            "cannot be changed (it is part of the id)",
        ));
    }
    match body.get("description") {
        None => {}
        Some(Value::Null) => p.description = None,
        Some(Value::String(d)) if d.len() <= 1024 => p.description = Some(d.clone()),
        Some(_) => errors.push(FieldError::new(
            "description",
            "must be a string of at most 1024 characters",
        )),
    }
    match body.get("interval") {
        None if create => errors.push(FieldError::new("interval", "is required, e.g. 90d")),
        None => {}
        Some(Value::String(s)) => {
            let d = ApiDuration::parse(s).map_err(duration_error)?;
            p.interval_text = d.as_str().to_string();
            p.interval_seconds = d.seconds();
        }
        Some(_) => errors.push(FieldError::new(
            "interval",
            "must be a duration string such as 90d",
        )),
    }
    match body.get("grace_period") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            let d = ApiDuration::parse(s).map_err(duration_error)?;
            p.grace_text = d.as_str().to_string();
            p.grace_seconds = d.seconds();
        }
        Some(_) => errors.push(FieldError::new(
            "grace_period",
            "must be a duration string such as 48h",
        )),
    }
    match body.get("warn_before") {
        None => {}
        Some(Value::Null) => p.warn_before = String::new(),
        Some(Value::String(s)) if s.trim().is_empty() => p.warn_before = String::new(),
        Some(Value::String(s)) => {
            p.warn_before = list_to_string(&parse_list(s).map_err(duration_error)?)
        }
        Some(Value::Array(a)) => {
            let mut list = Vec::new();
            for v in a {
                match v.as_str() {
                    Some(s) => list.push(ApiDuration::parse(s).map_err(duration_error)?),
                    None => {
                        errors.push(FieldError::new(
                            "warn_before",
                            "must be a string like 7d,1d or a list of durations",
                        ));
                        break;
                    }
                }
            }
            p.warn_before = list_to_string(&list);
        }
        Some(_) => errors.push(FieldError::new(
            "warn_before",
            "must be a string like 7d,1d or a list of durations",
        )),
    }
    match body.get("auto_generate") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => p.auto_generate = i64::from(*b),
        Some(_) => errors.push(FieldError::new("auto_generate", "must be true or false")),
    }
    let list = || FieldError::new("webhook_ids", "must be a list of webhook ids");
    match body.get("webhook_ids") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => {
            let ids: Option<Vec<String>> =
                a.iter().map(|v| v.as_str().map(str::to_string)).collect();
            if ids.is_none() {
                errors.push(list());
            }
            Ok(ids)
        }
        Some(_) => {
            errors.push(list());
            Ok(None)
        }
    }
}

/// The checks across fields (warnings shorter than the interval), then every field error.
pub(crate) fn finish(p: &PolicyRow, errors: Vec<FieldError>) -> Result<(), ApiError> {
    let mut errors = errors;
    if let Some(w) = rotation::warnings(p)
        .iter()
        .find(|(secs, _)| *secs >= p.interval_seconds)
    {
        errors.push(FieldError::new(
            "warn_before",
            format!("{} is not shorter than the interval", w.1),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}
