//! `/v1/rotation` request bodies (SPEC §4): parsed by serde, checked and applied to a policy
//! row by `apply`, documented by utoipa.

use super::common::{field_duration, DurationList};
use crate::domain::duration::list_to_string;
use crate::domain::rotation;
use crate::http::error::ApiError;
use crate::http::typed_body::{Checker, Patch};
use crate::store::PolicyRow;
use serde::Deserialize;
use utoipa::ToSchema;

/// `POST /v1/rotation/policies` body.
#[derive(Deserialize, ToSchema)]
pub struct PolicyCreate {
    /// Unique per tenant; the id is `rot_<name>`.
    #[schema(value_type = String, pattern = "^[a-z0-9][a-z0-9_-]{0,62}$")]
    pub name: Option<String>,
    /// A duration such as `90d`.
    #[schema(value_type = String, example = "90d", pattern = "^[1-9][0-9]{0,4}[smhdw]$")]
    pub interval: Option<String>,
    #[schema(value_type = Option<String>, max_length = 1024)]
    #[serde(default)]
    pub description: Patch<String>,
    /// Default `48h`.
    #[schema(example = "48h", pattern = "^[1-9][0-9]{0,4}[smhdw]$")]
    pub grace_period: Option<String>,
    /// Warnings before each rotation, e.g. `7d,1d` (a JSON list of durations is accepted too;
    /// empty or null = none).
    #[schema(
        value_type = Option<String>,
        example = "7d,1d",
        pattern = "^$|^[1-9][0-9]{0,4}[smhdw](,[1-9][0-9]{0,4}[smhdw]){0,9}$"
    )]
    #[serde(default)]
    pub warn_before: Patch<DurationList>,
    /// Let the server write the new value itself (default false).
    pub auto_generate: Option<bool>,
    /// Webhooks that also receive this policy's rotation events.
    pub webhook_ids: Option<Vec<String>>,
    /// The secret policy (`sp_…`) whose recipe `auto_generate` writes as the new version;
    /// without one, every string of the current value is replaced (SPEC §9).
    #[schema(value_type = Option<String>, example = "sp_0123456789abcdefghij")]
    #[serde(default)]
    pub secret_policy_id: Patch<String>,
}

/// `PATCH /v1/rotation/policies/{id}` body (the name cannot change).
#[derive(Deserialize, ToSchema, Default)]
pub struct PolicyPatch {
    #[schema(example = "90d", pattern = "^[1-9][0-9]{0,4}[smhdw]$")]
    pub interval: Option<String>,
    #[schema(value_type = Option<String>, max_length = 1024)]
    #[serde(default)]
    pub description: Patch<String>,
    #[schema(example = "48h", pattern = "^[1-9][0-9]{0,4}[smhdw]$")]
    pub grace_period: Option<String>,
    #[schema(
        value_type = Option<String>,
        example = "7d,1d",
        pattern = "^$|^[1-9][0-9]{0,4}[smhdw](,[1-9][0-9]{0,4}[smhdw]){0,9}$"
    )]
    #[serde(default)]
    pub warn_before: Patch<DurationList>,
    pub auto_generate: Option<bool>,
    pub webhook_ids: Option<Vec<String>>,
    /// A secret policy id, or null to go back to replacing every string.
    #[schema(value_type = Option<String>, example = "sp_0123456789abcdefghij")]
    #[serde(default)]
    pub secret_policy_id: Patch<String>,
    /// Refused: the name is part of the id.
    #[schema(ignore)]
    pub name: Option<serde::de::IgnoredAny>,
}

/// `POST …/secrets` body.
#[derive(Deserialize, ToSchema)]
pub struct AttachRequest {
    #[schema(
        value_type = String,
        pattern = "^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){0,9}$",
        max_length = 512
    )]
    pub secret_path: Option<String>,
}

impl AttachRequest {
    /// The path to attach (not yet validated as a path).
    pub fn check(self, mut c: Checker) -> Result<String, ApiError> {
        let path = c.required("secret_path", self.secret_path);
        c.finish(path)
    }
}

/// `POST …/rotate` body; without `secret_paths`, every attached secret.
#[derive(Deserialize, ToSchema, Default)]
pub struct RotateRequest {
    pub secret_paths: Option<Vec<String>>,
}

/// Whether `n` is a valid policy name.
pub fn valid_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

impl PolicyCreate {
    /// Sets up a new policy row from this body; returns the `webhook_ids` it names, which the
    /// caller must find (and see) before saving.
    pub fn apply(self, mut c: Checker, p: &mut PolicyRow) -> Result<Option<Vec<String>>, ApiError> {
        match self.name {
            Some(n) if valid_name(&n) => {
                p.id = format!("rot_{n}");
                p.name = n;
            }
            _ => c.push("name", "is required: [a-z0-9][a-z0-9_-]{0,62}"),
        }
        if self.interval.is_none() {
            c.push("interval", "is required, e.g. 90d");
        }
        PolicyPatch {
            interval: self.interval,
            description: self.description,
            grace_period: self.grace_period,
            warn_before: self.warn_before,
            auto_generate: self.auto_generate,
            webhook_ids: self.webhook_ids,
            secret_policy_id: self.secret_policy_id,
            name: None,
        }
        .apply(c, p)
    }
}

impl PolicyPatch {
    /// Applies this body to `p`; returns the `webhook_ids` it names, which the caller must
    /// find (and see) before saving.
    pub fn apply(self, mut c: Checker, p: &mut PolicyRow) -> Result<Option<Vec<String>>, ApiError> {
        if self.name.is_some() {
            c.push("name", "cannot be changed (it is part of the id)");
        }
        match self.description.map(|d| (d.len() <= 1024).then_some(d)) {
            Some(d) => {
                if let Some(d) = d.into_option() {
                    p.description = d;
                }
            }
            None => c.push("description", "must be a string of at most 1024 characters"),
        }
        if let Some(s) = self.interval {
            let d = field_duration(&s, "interval")?;
            p.interval_text = d.as_str().to_string();
            p.interval_seconds = d.seconds();
        }
        if let Some(s) = self.grace_period {
            let d = field_duration(&s, "grace_period")?;
            p.grace_text = d.as_str().to_string();
            p.grace_seconds = d.seconds();
        }
        match self.warn_before {
            Patch::Keep => {}
            Patch::Clear => p.warn_before = String::new(),
            Patch::Set(DurationList::Joined(s)) if s.trim().is_empty() => {
                p.warn_before = String::new()
            }
            Patch::Set(list) => p.warn_before = list_to_string(&list.parse("warn_before")?),
        }
        if let Some(b) = self.auto_generate {
            p.auto_generate = b;
        }
        match self.secret_policy_id {
            Patch::Keep => {}
            Patch::Clear => p.secret_policy_id = None,
            Patch::Set(id) if !id.is_empty() && id.len() <= 128 => p.secret_policy_id = Some(id),
            Patch::Set(_) => c.push("secret_policy_id", "must be a secret policy id (sp_…)"),
        }
        if let Some(ids) = &self.webhook_ids {
            p.webhook_ids = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
        }
        if let Some(w) = rotation::warnings(p)
            .iter()
            .find(|(secs, _)| *secs >= p.interval_seconds)
        {
            c.push(
                "warn_before",
                format!("{} is not shorter than the interval", w.1),
            );
        }
        c.finish(Some(self.webhook_ids))
    }
}
