//! `/v1/secrets` request bodies (SPEC §3): parsed by serde, checked by `check`, documented by
//! utoipa. Messages never echo a submitted value.

use super::common::SecretTypeName;
use super::common::{field_duration, DurationList};
use crate::domain::duration::list_to_string;
use crate::domain::secret::{
    MetadataPatch as DomainPatch, SecretType, MAX_CUSTOM_METADATA_BYTES, MAX_MAX_VERSIONS,
    MAX_VALUE_BYTES,
};
use crate::domain::secret_ops::WriteOptions as DomainOptions;
use crate::http::error::ApiError;
use crate::http::typed_body::{Checker, Patch};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use zeroize::Zeroizing;

/// `PUT /v1/secrets/{path}`.
#[derive(Deserialize, ToSchema)]
pub struct SecretWrite {
    /// The value: a JSON object (encrypted at rest; at most 512 KiB).
    #[schema(value_type = Object)]
    pub data: Option<Map<String, Value>>,
    /// Defaults to `json` on the first write; kept afterwards.
    #[schema(value_type = Option<SecretTypeName>)]
    pub secret_type: Option<String>,
    pub metadata: Option<MetadataInput>,
    pub options: Option<WriteOptions>,
}

/// Metadata as sent; omitted fields keep their stored values, `null` clears.
#[derive(Deserialize, ToSchema, Default)]
pub struct MetadataInput {
    #[schema(value_type = Option<String>, max_length = 1024)]
    #[serde(default)]
    pub description: Patch<String>,
    /// At most 50 tags of 1 to 128 characters.
    #[schema(value_type = Option<Vec<String>>, max_items = 50)]
    #[serde(default)]
    pub tags: Patch<Vec<String>>,
    #[schema(value_type = Option<String>, max_length = 256)]
    #[serde(default)]
    pub owner: Patch<String>,
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub custom: Patch<Map<String, Value>>,
}

/// Write options.
#[derive(Deserialize, ToSchema, Default)]
pub struct WriteOptions {
    /// Versions kept (default 10).
    #[schema(minimum = 1, maximum = 100)]
    pub max_versions: Option<i64>,
    /// Check-and-set: write only if the current version is this (0 = only if absent);
    /// the `If-Match` header does the same.
    #[schema(minimum = 0)]
    pub cas: Option<i64>,
    /// A duration such as `90d` (`<int><s|m|h|d|w>`, at most 100 years); not with `expires_at`.
    #[schema(example = "90d", pattern = "^[1-9][0-9]{0,4}[smhdw]$")]
    pub expires_in: Option<String>,
    /// An RFC 3339 time in the future; not with `expires_in`; `null` clears.
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(default)]
    pub expires_at: Patch<String>,
    /// Comma-separated durations such as `30d,7d,1d`.
    #[schema(
        value_type = Option<String>,
        example = "30d,7d,1d",
        pattern = "^[1-9][0-9]{0,4}[smhdw](,[1-9][0-9]{0,4}[smhdw]){0,9}$"
    )]
    pub notify_before: Option<DurationList>,
    /// Attaches the secret to this rotation policy (`rot_…`).
    pub rotation_policy_id: Option<String>,
    /// Every successful read emits `secret.accessed` (honey tokens, the most sensitive
    /// credentials); `false` turns it off.
    pub alert_on_read: Option<bool>,
}

/// `PATCH /v1/secrets/{path}/metadata`: changes metadata without a new version. The metadata
/// fields may also be sent bare (`{"tags":[…]}`).
#[derive(Deserialize, ToSchema)]
pub struct MetadataPatch {
    pub metadata: Option<MetadataInput>,
    pub options: Option<PatchOptions>,
    /// The bare form: metadata fields at the top level (used when `metadata` is absent).
    #[serde(default)]
    #[schema(ignore)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(ignore)]
    pub tags: Patch<Vec<String>>,
    #[serde(default)]
    #[schema(ignore)]
    pub owner: Patch<String>,
    #[serde(default)]
    #[schema(ignore)]
    pub custom: Patch<Map<String, Value>>,
}

/// Options a metadata patch may change.
#[derive(Deserialize, ToSchema, Default)]
pub struct PatchOptions {
    /// Change only if the current version is this one (else 409 `version_conflict`).
    #[schema(minimum = 0)]
    pub cas: Option<i64>,
    #[schema(minimum = 1, maximum = 100)]
    pub max_versions: Option<i64>,
    #[schema(example = "90d", pattern = "^[1-9][0-9]{0,4}[smhdw]$")]
    pub expires_in: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(default)]
    pub expires_at: Patch<String>,
    #[schema(
        value_type = Option<String>,
        example = "30d,7d,1d",
        pattern = "^[1-9][0-9]{0,4}[smhdw](,[1-9][0-9]{0,4}[smhdw]){0,9}$"
    )]
    pub notify_before: Option<DurationList>,
    /// Every successful read emits `secret.accessed`; `false` turns it off.
    pub alert_on_read: Option<bool>,
}

/// `POST /v1/secrets/batch`.
#[derive(Deserialize, ToSchema)]
pub struct BatchRead {
    #[schema(value_type = Vec<String>, min_items = 1, max_items = 100)]
    pub paths: Option<Vec<String>>,
    pub options: Option<BatchOptions>,
}

/// Batch options.
#[derive(Deserialize, ToSchema, Default)]
pub struct BatchOptions {
    pub include_metadata: Option<bool>,
    pub fail_fast: Option<bool>,
    #[schema(minimum = 1)]
    pub version: Option<i64>,
}

/// A checked PUT body.
pub struct PutBody {
    pub value: Zeroizing<Vec<u8>>,
    pub secret_type: Option<SecretType>,
    pub metadata: DomainPatch,
    pub options: DomainOptions,
}

/// A checked batch body.
pub struct BatchBody {
    pub paths: Vec<String>,
    pub include_metadata: bool,
    pub fail_fast: bool,
    pub version: Option<i64>,
}

impl SecretWrite {
    /// The write this body asks for; `now` anchors `expires_in`.
    pub fn check(self, mut c: Checker, now: DateTime<Utc>) -> Result<PutBody, ApiError> {
        let value = c
            .required("data", self.data)
            .map(|d| Zeroizing::new(serde_json::to_vec(&d).unwrap_or_default()));
        if value.as_ref().is_some_and(|v| v.len() > MAX_VALUE_BYTES) {
            return Err(ApiError::payload_too_large(format!(
                "the secret value is larger than {MAX_VALUE_BYTES} bytes"
            )));
        }
        let secret_type = match self.secret_type {
            None => None,
            Some(s) => Some(SecretType::parse(&s).ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_secret_type",
                    "secret_type must be one of kv, json, certificate, ssh_key, api_key",
                )
            })?),
        };
        let metadata = self.metadata.unwrap_or_default().check("metadata.", &mut c);
        let o = self.options.unwrap_or_default();
        let options = DomainOptions {
            rotation_policy_id: o.rotation_policy_id,
            alert_on_read: o.alert_on_read,
            ..common_options(
                Common {
                    max_versions: o.max_versions,
                    cas: o.cas,
                    expires_in: o.expires_in,
                    expires_at: o.expires_at,
                    notify_before: o.notify_before,
                },
                now,
                &mut c,
            )?
        };
        let parsed = value.map(|value| PutBody {
            value,
            secret_type,
            metadata,
            options,
        });
        c.finish(parsed)
    }
}

impl MetadataPatch {
    /// The metadata change and options this body asks for (at least one of them).
    pub fn check(
        self,
        mut c: Checker,
        now: DateTime<Utc>,
    ) -> Result<(DomainPatch, DomainOptions), ApiError> {
        let patch = match self.metadata {
            Some(m) => m.check("metadata.", &mut c),
            None => MetadataInput {
                description: self.description,
                tags: self.tags,
                owner: self.owner,
                custom: self.custom,
            }
            .check("", &mut c),
        };
        let o = self.options.unwrap_or_default();
        let options = DomainOptions {
            alert_on_read: o.alert_on_read,
            ..common_options(
                Common {
                    max_versions: o.max_versions,
                    cas: o.cas,
                    expires_in: o.expires_in,
                    expires_at: o.expires_at,
                    notify_before: o.notify_before,
                },
                now,
                &mut c,
            )?
        };
        if c.is_clean()
            && patch.is_empty()
            && options.max_versions.is_none()
            && options.expires_at.is_none()
            && options.notify_before.is_none()
            && options.alert_on_read.is_none()
        {
            c.push(
                "metadata",
                "name at least one of description, tags, owner, custom, or options",
            );
        }
        c.finish(Some((patch, options)))
    }
}

impl MetadataInput {
    fn check(self, prefix: &str, c: &mut Checker) -> DomainPatch {
        let field = |name: &str| format!("{prefix}{name}");
        let mut patch = DomainPatch::default();
        match self.description.map(|d| (d.len() <= 1024).then_some(d)) {
            Some(p) => patch.description = p.into_option(),
            None => c.push(&field("description"), "must be at most 1024 characters"),
        }
        match self.owner.map(|o| (o.len() <= 256).then_some(o)) {
            Some(p) => patch.owner = p.into_option(),
            None => c.push(&field("owner"), "must be at most 256 characters"),
        }
        match self.tags {
            Patch::Keep => {}
            Patch::Clear => patch.tags = Some(Vec::new()),
            Patch::Set(items) => {
                let mut tags: Vec<String> = Vec::new();
                for t in items {
                    if t.is_empty() || t.len() > 128 {
                        c.push(
                            &field("tags"),
                            "must be a list of strings of 1 to 128 characters",
                        );
                    } else if !tags.contains(&t) {
                        tags.push(t);
                    }
                }
                if tags.len() > 50 {
                    c.push(&field("tags"), "at most 50 tags");
                }
                patch.tags = Some(tags);
            }
        }
        match self.custom {
            Patch::Keep => {}
            Patch::Clear => patch.custom = Some(BTreeMap::new()),
            Patch::Set(m)
                if serde_json::to_vec(&m).map_or(usize::MAX, |v| v.len())
                    > MAX_CUSTOM_METADATA_BYTES =>
            {
                c.push(
                    &field("custom"),
                    format!("must be at most {MAX_CUSTOM_METADATA_BYTES} bytes of JSON"),
                )
            }
            Patch::Set(m) => patch.custom = Some(m.into_iter().collect()),
        }
        patch
    }
}

impl BatchRead {
    /// The paths and options of a batch read.
    pub fn check(self, mut c: Checker) -> Result<BatchBody, ApiError> {
        let paths = c.required("paths", self.paths);
        match paths.as_ref().map(Vec::len) {
            Some(0) => c.push("paths", "name at least one path"),
            Some(n) if n > 100 => c.push("paths", "at most 100 paths per batch"),
            _ => {}
        }
        let o = self.options.unwrap_or_default();
        if o.version.is_some_and(|v| v < 1) {
            c.push("options.version", "must be a positive integer");
        }
        let body = paths.map(|paths| BatchBody {
            paths,
            include_metadata: o.include_metadata.unwrap_or(false),
            fail_fast: o.fail_fast.unwrap_or(false),
            version: o.version,
        });
        c.finish(body)
    }
}

/// The options a write and a metadata patch share.
struct Common {
    max_versions: Option<i64>,
    cas: Option<i64>,
    expires_in: Option<String>,
    expires_at: Patch<String>,
    notify_before: Option<DurationList>,
}

fn common_options(
    o: Common,
    now: DateTime<Utc>,
    c: &mut Checker,
) -> Result<DomainOptions, ApiError> {
    let mut out = DomainOptions::default();
    match o.max_versions {
        Some(n) if !(1..=MAX_MAX_VERSIONS).contains(&n) => c.push(
            "options.max_versions",
            format!("must be an integer from 1 to {MAX_MAX_VERSIONS}"),
        ),
        n => out.max_versions = n,
    }
    // A check-and-set applies to a metadata patch as well as to a write.
    match o.cas {
        Some(n) if n < 0 => c.push("options.cas", "must be a non-negative integer"),
        n => out.cas = n,
    }
    match (o.expires_in, o.expires_at) {
        (Some(_), Patch::Set(_)) => c.push(
            "options.expires_at",
            "give expires_in or expires_at, not both",
        ),
        (Some(s), _) => {
            let d = field_duration(&s, "options.expires_in")?;
            out.expires_at = Some(Some(now + d.as_chrono()));
        }
        (None, Patch::Keep) => {}
        (None, Patch::Clear) => out.expires_at = Some(None),
        (None, Patch::Set(s)) => match DateTime::parse_from_rfc3339(&s) {
            Ok(t) if t.with_timezone(&Utc) > now => out.expires_at = Some(Some(t.into())),
            Ok(_) => c.push("options.expires_at", "must be in the future"),
            Err(_) => c.push("options.expires_at", "must be an RFC 3339 timestamp"),
        },
    }
    if let Some(list) = o.notify_before {
        out.notify_before = Some(list_to_string(&list.parse("options.notify_before")?));
    }
    Ok(out)
}
