//! JSON renderings of secrets (SPEC §3 response shapes). `data` appears only in reads.

use crate::clock::{from_micros, rfc3339};
use crate::domain::secret_ops::metadata_of;
use crate::store::{ScheduleRow, SecretRow, VersionInfo};
use serde_json::{json, Value};

fn ts(us: i64) -> String {
    rfc3339(from_micros(us))
}

fn opt_ts(us: Option<i64>) -> Value {
    us.map_or(Value::Null, |u| Value::String(ts(u)))
}

/// The metadata object of a secret.
pub fn metadata(row: &SecretRow) -> Value {
    let m = metadata_of(row);
    json!({
        "description": m.description,
        "tags": m.tags,
        "owner": m.owner,
        "custom": m.custom,
    })
}

/// The rotation block: null unless the secret is under a policy.
pub fn rotation(schedule: Option<&ScheduleRow>) -> Value {
    match schedule {
        None => Value::Null,
        Some(s) => json!({
            "policy_id": s.policy_id,
            "last_rotated_at": ts(s.last_rotated_at),
            "next_rotation_at": ts(s.next_rotation_at),
            "status": s.status,
        }),
    }
}

/// About how many bytes a secret takes in a listing: its stored metadata plus the fixed fields.
pub fn listed_size(row: &SecretRow) -> usize {
    const FIXED: usize = 512;
    FIXED
        + row.path.len()
        + row.custom.len()
        + row.tags.len()
        + row.description.as_ref().map_or(0, String::len)
        + row.owner.as_ref().map_or(0, String::len)
        + row.notify_before.as_ref().map_or(0, String::len)
}

/// The answer to a write.
pub fn write_result(row: &SecretRow) -> Value {
    json!({
        "path": row.path,
        "version": row.current_version,
        "created_at": ts(row.updated_at),
        "secret_type": row.secret_type,
        "metadata": metadata(row),
    })
}

/// Everything but the value.
pub fn secret_metadata(
    row: &SecretRow,
    version_count: Option<i64>,
    schedule: Option<&ScheduleRow>,
) -> Value {
    let mut v = json!({
        "path": row.path,
        "version": row.current_version,
        "secret_type": row.secret_type,
        "metadata": metadata(row),
        "created_at": ts(row.created_at),
        "created_by": row.created_by,
        "updated_at": ts(row.updated_at),
        "expires_at": opt_ts(row.expires_at),
        "notify_before": row.notify_before,
        "max_versions": row.max_versions,
        "rotation_policy_id": schedule.map(|s| s.policy_id.clone()),
        "rotation": rotation(schedule),
    });
    if let Some(n) = version_count {
        v["version_count"] = json!(n);
    }
    v
}

/// A read: the value of `version` with the secret's metadata.
pub fn read_result(
    row: &SecretRow,
    version: i64,
    version_created_at: i64,
    data: Value,
    schedule: Option<&ScheduleRow>,
) -> Value {
    json!({
        "path": row.path,
        "version": version,
        "data": data,
        "secret_type": row.secret_type,
        "metadata": metadata(row),
        "created_at": ts(row.created_at),
        "updated_at": ts(row.updated_at),
        "version_created_at": ts(version_created_at),
        "expires_at": opt_ts(row.expires_at),
        "rotation_policy_id": schedule.map(|s| s.policy_id.clone()),
        "rotation": rotation(schedule),
    })
}

/// One entry of `/versions`.
pub fn version_entry(v: &VersionInfo, current: i64) -> Value {
    json!({
        "version": v.version,
        "is_current": v.version == current,
        "created_at": ts(v.created_at),
        "created_by": v.created_by,
        "is_rotation": v.is_rotation != 0,
        "readable_until": opt_ts(v.readable_until),
    })
}

/// The answer to a delete.
pub fn deleted(row: &SecretRow, version_count: i64, permanent: bool) -> Value {
    json!({
        "path": row.path,
        "deleted": true,
        "permanent": permanent,
        "version_count": version_count,
        "deleted_at": opt_ts(row.deleted_at),
        "recoverable_until": if permanent { Value::Null } else { opt_ts(row.recoverable_until) },
    })
}
