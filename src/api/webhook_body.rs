//! Parsing of webhook create/patch bodies into validated fields (SPEC §5).

use crate::delivery::target::validate_url;
use crate::domain::duration::ApiDuration;
use crate::domain::events::ALL_TYPES;
use crate::domain::secret::SecretType;
use crate::http::error::{ApiError, FieldError};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

/// Validated webhook fields; `None` = not given.
#[derive(Default)]
pub struct WebhookFields {
    pub name: Option<String>,
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    pub secret: Option<Zeroizing<String>>,
    pub previous_secret_ttl: Option<ApiDuration>,
    pub events: Option<Vec<String>>,
    pub filter_path_prefix: Option<Option<String>>,
    pub filter_secret_type: Option<Option<String>>,
    pub filter_tags: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// Parses a body; `create` requires name, url, secret and events.
pub fn parse(
    body: &Map<String, Value>,
    create: bool,
    allow_http: bool,
    targets: &crate::delivery::target::TargetRules,
) -> Result<WebhookFields, ApiError> {
    let mut errors = Vec::new();
    let mut f = WebhookFields::default();
    match body.get("name") {
        None | Some(Value::Null) => {}
        Some(Value::String(n)) if crate::domain::token::valid_token_name(n) => {
            f.name = Some(n.clone())
        }
        Some(_) => errors.push(FieldError::new(
            "name",
            "1-64 of letters, digits, '.', '_', '-'",
        )),
    }
    match body.get("url") {
        None | Some(Value::Null) => {}
        Some(Value::String(u)) => match validate_url(u, allow_http, targets) {
            Ok(_) => f.url = Some(u.clone()),
            Err(msg) => errors.push(FieldError::new("url", msg)),
        },
        Some(_) => errors.push(FieldError::new("url", "must be a string")),
    }
    match body.get("description") {
        None => {}
        Some(Value::Null) => f.description = Some(None),
        Some(Value::String(d)) if d.len() <= 1024 => f.description = Some(Some(d.clone())),
        Some(_) => errors.push(FieldError::new(
            "description",
            "must be a string of at most 1024 characters",
        )),
    }
    match body.get("secret") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.len() >= 16 && s.len() <= 512 => {
            f.secret = Some(Zeroizing::new(s.clone()))
        }
        Some(_) => errors.push(FieldError::new(
            "secret",
            "must be a string of 16 to 512 bytes",
        )),
    }
    match body.get("previous_secret_ttl") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            f.previous_secret_ttl =
                Some(ApiDuration::parse(s).map_err(super::bodies::common::duration_error)?)
        }
        Some(_) => errors.push(FieldError::new(
            "previous_secret_ttl",
            "must be a duration such as 24h",
        )),
    }
    match body.get("events") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) if !a.is_empty() => {
            let mut list = Vec::new();
            for e in a {
                match e.as_str() {
                    Some(t) if t == "*" || ALL_TYPES.contains(&t) => {
                        if !list.iter().any(|x: &String| x == t) {
                            list.push(t.to_string());
                        }
                    }
                    _ => {
                        errors.push(FieldError::new(
                            "events",
                            format!(
                                "unknown event type; use '*' or any of {}",
                                ALL_TYPES.join(", ")
                            ),
                        ));
                        break;
                    }
                }
            }
            f.events = Some(list);
        }
        Some(_) => errors.push(FieldError::new(
            "events",
            "must be a non-empty list of event types",
        )),
    }
    match body.get("filters") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            match m.get("path_prefix") {
                None => {}
                Some(Value::Null) => f.filter_path_prefix = Some(None),
                Some(Value::String(p)) => match crate::domain::path::validate_prefix(p) {
                    Ok(()) => {
                        f.filter_path_prefix = Some(Some(p.clone()).filter(|p| !p.is_empty()))
                    }
                    Err(e) => return Err(ApiError::invalid_path(e.0)),
                },
                Some(_) => errors.push(FieldError::new("filters.path_prefix", "must be a string")),
            }
            match m.get("secret_type") {
                None => {}
                Some(Value::Null) => f.filter_secret_type = Some(None),
                Some(Value::String(t)) if SecretType::parse(t).is_some() => {
                    f.filter_secret_type = Some(Some(t.clone()))
                }
                Some(_) => errors.push(FieldError::new(
                    "filters.secret_type",
                    "must be one of kv, json, certificate, ssh_key, api_key",
                )),
            }
            match m.get("tags") {
                None | Some(Value::Null) => {}
                Some(Value::Array(a)) => match a
                    .iter()
                    .map(|t| t.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                {
                    Some(tags) => f.filter_tags = Some(tags),
                    None => {
                        errors.push(FieldError::new("filters.tags", "must be a list of strings"))
                    }
                },
                Some(_) => {
                    errors.push(FieldError::new("filters.tags", "must be a list of strings"))
                }
            }
        }
        Some(_) => errors.push(FieldError::new("filters", "must be an object")),
    }
    match body.get("enabled") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => f.enabled = Some(*b),
        Some(_) => errors.push(FieldError::new("enabled", "must be true or false")),
    }
    if create {
        for (field, missing) in [
            ("name", f.name.is_none()),
            ("url", f.url.is_none()),
            ("secret", f.secret.is_none()),
            ("events", f.events.is_none()),
        ] {
            if missing && !errors.iter().any(|e| e.field == field) {
                errors.push(FieldError::new(field, "is required"));
            }
        }
    }
    if errors.is_empty() {
        Ok(f)
    } else {
        Err(ApiError::validation(errors))
    }
}
