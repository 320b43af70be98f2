//! Secret shapes: types, metadata, and the rules for versions (pruning, grace).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Default and maximum number of versions kept per secret.
pub const DEFAULT_MAX_VERSIONS: i64 = 10;
pub const MAX_MAX_VERSIONS: i64 = 100;
/// Largest accepted serialized `data` value, in bytes.
pub const MAX_VALUE_BYTES: usize = 512 * 1024;
/// Largest accepted `metadata.custom`, serialized as JSON, in bytes: metadata is returned by
/// every listing, up to 1000 secrets a page.
pub const MAX_CUSTOM_METADATA_BYTES: usize = 16 * 1024;
/// How long a soft-deleted secret can be restored.
pub const SOFT_DELETE_RETENTION_DAYS: i64 = 30;

/// What kind of value a secret holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretType {
    Kv,
    Json,
    Certificate,
    SshKey,
    ApiKey,
}

impl SecretType {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "kv" => Self::Kv,
            "json" => Self::Json,
            "certificate" => Self::Certificate,
            "ssh_key" => Self::SshKey,
            "api_key" => Self::ApiKey,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kv => "kv",
            Self::Json => "json",
            Self::Certificate => "certificate",
            Self::SshKey => "ssh_key",
            Self::ApiKey => "api_key",
        }
    }
}

/// Descriptive, non-secret information about a secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub owner: Option<String>,
    #[serde(default)]
    pub custom: BTreeMap<String, serde_json::Value>,
}

/// A partial metadata update: fields present replace, fields absent keep their stored value.
#[derive(Debug, Clone, Default)]
pub struct MetadataPatch {
    pub description: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub owner: Option<Option<String>>,
    pub custom: Option<BTreeMap<String, serde_json::Value>>,
}

impl MetadataPatch {
    /// Applies this patch on top of `base`.
    pub fn apply(&self, base: &Metadata) -> Metadata {
        Metadata {
            description: self
                .description
                .clone()
                .unwrap_or_else(|| base.description.clone()),
            tags: self.tags.clone().unwrap_or_else(|| base.tags.clone()),
            owner: self.owner.clone().unwrap_or_else(|| base.owner.clone()),
            custom: self.custom.clone().unwrap_or_else(|| base.custom.clone()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.description.is_none()
            && self.tags.is_none()
            && self.owner.is_none()
            && self.custom.is_none()
    }
}

/// Versions to destroy after a write: all at or below `current - max_versions`,
/// except those still inside a grace period at `now_us`.
pub fn prune_floor(current_version: i64, max_versions: i64) -> i64 {
    current_version - max_versions
}
