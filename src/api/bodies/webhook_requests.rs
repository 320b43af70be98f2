//! `/v1/webhooks` request bodies (SPEC §5): parsed by serde, checked by `check`, documented by
//! utoipa. The signing secret is never echoed, not even in an error.

use super::common::{event_types, field_duration, EventTypeName, SecretTypeName};
use crate::delivery::target::{validate_url, TargetRules};
use crate::domain::duration::ApiDuration;
use crate::domain::secret::SecretType;
use crate::http::error::ApiError;
use crate::http::typed_body::{Checker, Patch};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

/// Routing filters of a webhook (sent and shown; `null` clears a filter).
#[derive(Serialize, Deserialize, ToSchema, Default)]
pub struct WebhookFilters {
    #[schema(value_type = Option<String>)]
    #[serde(default)]
    pub path_prefix: Patch<String>,
    #[schema(value_type = Option<SecretTypeName>)]
    #[serde(default)]
    pub secret_type: Patch<String>,
    pub tags: Option<Vec<String>>,
}

/// `POST /v1/webhooks` body.
#[derive(Deserialize, ToSchema)]
pub struct WebhookCreate {
    #[schema(value_type = String, pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub name: Option<String>,
    /// `https://` (or `http://` when allowed by configuration).
    #[schema(
        value_type = String,
        pattern = "^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~-]*)*$",
        max_length = 2048
    )]
    pub url: Option<String>,
    /// The HMAC signing secret, 16 to 512 bytes.
    #[schema(value_type = String, min_length = 16, max_length = 512)]
    pub secret: Option<Zeroizing<String>>,
    /// Event types, or `*` for all.
    #[schema(value_type = Vec<EventTypeName>, min_items = 1)]
    pub events: Option<Vec<String>>,
    #[schema(value_type = Option<String>, max_length = 1024)]
    #[serde(default)]
    pub description: Patch<String>,
    pub filters: Option<WebhookFilters>,
    pub enabled: Option<bool>,
}

/// `PATCH /v1/webhooks/{id}` body: any field of a create; a new `secret` rotates the signing
/// secret, the previous one staying valid for `previous_secret_ttl`.
#[derive(Deserialize, ToSchema, Default)]
pub struct WebhookPatch {
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub name: Option<String>,
    #[schema(
        pattern = "^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~-]*)*$",
        max_length = 2048
    )]
    pub url: Option<String>,
    #[schema(value_type = Option<String>, min_length = 16, max_length = 512)]
    pub secret: Option<Zeroizing<String>>,
    /// A duration such as `24h`.
    #[schema(example = "24h", pattern = "^[1-9][0-9]{0,4}[smhdw]$")]
    pub previous_secret_ttl: Option<String>,
    #[schema(value_type = Option<Vec<EventTypeName>>, min_items = 1)]
    pub events: Option<Vec<String>>,
    #[schema(value_type = Option<String>, max_length = 1024)]
    #[serde(default)]
    pub description: Patch<String>,
    pub filters: Option<WebhookFilters>,
    pub enabled: Option<bool>,
}

/// Checked webhook fields; `None` = not given.
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

/// Where a webhook may point (configuration).
pub struct Targets<'a> {
    pub allow_http: bool,
    pub rules: &'a TargetRules,
}

impl WebhookCreate {
    /// The fields of a new webhook: name, url, secret and events are required.
    pub fn check(self, mut c: Checker, targets: &Targets) -> Result<WebhookFields, ApiError> {
        for (field, given) in [
            ("name", self.name.is_some()),
            ("url", self.url.is_some()),
            ("secret", self.secret.is_some()),
            ("events", self.events.is_some()),
        ] {
            if !given {
                c.push(field, "is required");
            }
        }
        WebhookPatch {
            name: self.name,
            url: self.url,
            secret: self.secret,
            previous_secret_ttl: None,
            events: self.events,
            description: self.description,
            filters: self.filters,
            enabled: self.enabled,
        }
        .check(c, targets)
    }
}

impl WebhookPatch {
    /// The fields to change.
    pub fn check(self, mut c: Checker, targets: &Targets) -> Result<WebhookFields, ApiError> {
        let mut f = WebhookFields::default();
        if let Some(n) = self.name {
            match crate::domain::token::valid_token_name(&n) {
                true => f.name = Some(n),
                false => c.push("name", "1-64 of letters, digits, '.', '_', '-'"),
            }
        }
        if let Some(u) = self.url {
            match validate_url(&u, targets.allow_http, targets.rules) {
                Ok(_) => f.url = Some(u),
                Err(msg) => c.push("url", msg),
            }
        }
        match self.description.map(|d| (d.len() <= 1024).then_some(d)) {
            Some(d) => f.description = d.into_option(),
            None => c.push("description", "must be a string of at most 1024 characters"),
        }
        if let Some(s) = self.secret {
            match (16..=512).contains(&s.len()) {
                true => f.secret = Some(s),
                false => c.push("secret", "must be a string of 16 to 512 bytes"),
            }
        }
        if let Some(ttl) = self.previous_secret_ttl {
            let ttl = field_duration(&ttl, "previous_secret_ttl")?;
            f.previous_secret_ttl = Some(ttl);
        }
        if let Some(events) = self.events {
            f.events = Some(event_types(events, &mut c));
        }
        if let Some(filters) = self.filters {
            match filters.path_prefix {
                Patch::Keep => {}
                Patch::Clear => f.filter_path_prefix = Some(None),
                Patch::Set(p) => match crate::domain::path::validate_prefix(&p) {
                    Ok(()) => f.filter_path_prefix = Some(Some(p).filter(|p| !p.is_empty())),
                    Err(e) => return Err(ApiError::invalid_path(e.0)),
                },
            }
            match filters
                .secret_type
                .map(|t| SecretType::parse(&t).is_some().then_some(t))
            {
                Some(t) => f.filter_secret_type = t.into_option(),
                None => c.push(
                    "filters.secret_type",
                    "must be one of kv, json, certificate, ssh_key, api_key",
                ),
            }
            f.filter_tags = filters.tags;
        }
        f.enabled = self.enabled;
        c.finish(Some(f))
    }
}
