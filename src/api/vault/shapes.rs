//! The KV v2 objects Vault clients parse (SPEC §12), built from native rows: a version's
//! metadata, a secret's metadata with its versions, `custom_metadata`.

use crate::clock::{from_micros, to_micros};
use crate::store::{SecretRow, VersionInfo};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// A time as Vault writes it (RFC 3339, UTC, up to nanosecond digits).
pub fn vault_time(us: i64) -> String {
    from_micros(us).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// `deletion_time` of a version: the soft delete of its secret, or the end of its grace
/// period (past or to come); `""` when neither.
pub fn deletion_time(secret: &SecretRow, readable_until: Option<i64>) -> String {
    secret
        .deleted_at
        .or(readable_until)
        .map(vault_time)
        .unwrap_or_default()
}

/// True when a version can no longer be read: its secret is soft-deleted or its grace is over.
pub fn is_deleted(secret: &SecretRow, readable_until: Option<i64>, now: DateTime<Utc>) -> bool {
    secret.deleted_at.is_some() || readable_until.is_some_and(|u| u <= to_micros(now))
}

/// The native `metadata.custom` as Vault's string map (`null` when empty); values that are
/// not strings are given as their JSON text.
pub fn custom_metadata(secret: &SecretRow) -> Value {
    if secret.custom == "{}" {
        return Value::Null;
    }
    let custom: Map<String, Value> = serde_json::from_str(&secret.custom).unwrap_or_default();
    if custom.is_empty() {
        return Value::Null;
    }
    let strings: Map<String, Value> = custom
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => (k, Value::String(s)),
            other => (k, Value::String(other.to_string())),
        })
        .collect();
    Value::Object(strings)
}

/// The metadata of one version, as a read or a write answers it.
#[derive(Serialize)]
pub struct VersionMetadata {
    version: i64,
    created_time: String,
    deletion_time: String,
    destroyed: bool,
    custom_metadata: Value,
}

/// A read's `data`: the value (`null` for a deleted version) and its version's metadata.
#[derive(Serialize)]
pub struct KvRead {
    pub data: Value,
    pub metadata: VersionMetadata,
}

pub fn version_metadata(
    secret: &SecretRow,
    version: i64,
    created_at: i64,
    readable_until: Option<i64>,
) -> VersionMetadata {
    VersionMetadata {
        version,
        created_time: vault_time(created_at),
        deletion_time: deletion_time(secret, readable_until),
        destroyed: false,
        custom_metadata: custom_metadata(secret),
    }
}

/// A secret's metadata with every version still stored.
pub fn secret_metadata(secret: &SecretRow, versions: &[VersionInfo]) -> Value {
    let listed: Map<String, Value> = versions
        .iter()
        .map(|v| {
            (
                v.version.to_string(),
                json!({
                    "created_time": vault_time(v.created_at),
                    "deletion_time": deletion_time(secret, v.readable_until),
                    "destroyed": false,
                }),
            )
        })
        .collect();
    let oldest = versions.iter().map(|v| v.version).min().unwrap_or(0);
    json!({
        "versions": listed,
        "current_version": secret.current_version,
        "oldest_version": oldest,
        "created_time": vault_time(secret.created_at),
        "updated_time": vault_time(secret.updated_at),
        "max_versions": secret.max_versions,
        "cas_required": false,
        "delete_version_after": "0s",
        "custom_metadata": custom_metadata(secret),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc_with_fraction_only_when_present() {
        assert_eq!(vault_time(1_700_000_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(
            vault_time(1_700_000_000_123_456),
            "2023-11-14T22:13:20.123456Z"
        );
    }
}
