//! Audit rows: built here from the request context and caller, written by the store — inside
//! the mutation's own transaction for writes, before the response is sent for reads and denials.

pub mod chain;
pub mod checkpoint;
pub mod mirror;
pub mod refusals;
pub mod sealer;
pub mod verify_limits;
pub mod writer;

use crate::clock::to_micros;
use crate::domain::ids::new_time_ordered_id;
use crate::domain::token::Caller;
use crate::http::context::RequestContext;
use crate::store::{AuditRow, IdentityType};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Audit actions of SPEC §7.
pub mod action {
    pub const READ: &str = "read";
    pub const WRITE: &str = "write";
    pub const DELETE: &str = "delete";
    pub const RESTORE: &str = "restore";
    pub const DESTROY: &str = "destroy";
    pub const LIST: &str = "list";
    pub const READ_METADATA: &str = "read_metadata";
    pub const TOKEN_CREATE: &str = "token_create";
    pub const TOKEN_REVOKE: &str = "token_revoke";
    pub const AUTH_FAILED: &str = "auth_failed";
    pub const EXPORT_CREATED: &str = "export_created";
    /// A Vault KV v2 mount created or deleted (SPEC §12).
    pub const MOUNT_CREATE: &str = "mount_create";
    pub const MOUNT_DELETE: &str = "mount_delete";
    /// Subscriptions (SPEC §10): changes, and each poll that returned events.
    pub const SUBSCRIPTION_CREATE: &str = "subscription_create";
    pub const SUBSCRIPTION_UPDATE: &str = "subscription_update";
    pub const SUBSCRIPTION_DELETE: &str = "subscription_delete";
    pub const SUBSCRIPTION_EVENT: &str = "subscription_event";
}

/// Who did it, for rows written before a caller is known (auth failures, system work).
pub struct Actor<'a> {
    pub tenant_id: &'a str,
    pub identity_id: &'a str,
    pub identity_type: IdentityType,
}

impl<'a> From<&'a Caller> for Actor<'a> {
    fn from(c: &'a Caller) -> Self {
        Actor {
            tenant_id: &c.tenant_id,
            identity_id: &c.identity_id,
            identity_type: c.identity_type,
        }
    }
}

/// `text` with each NUL replaced by U+FFFD: audit rows keep what a refused request sent
/// (a path with `%00`), and PostgreSQL text cannot hold NUL — a failed audit insert would
/// fail the request closed (503) instead of refusing it. `extra_data` is JSON text, where
/// serde already writes NUL as `\u0000`.
pub fn without_nul(text: &str) -> String {
    if text.contains('\0') {
        text.replace('\0', "\u{fffd}")
    } else {
        text.to_string()
    }
}

/// Builds one audit row for a request.
#[expect(clippy::too_many_arguments)]
pub fn row(
    ctx: &RequestContext,
    actor: Actor<'_>,
    now: DateTime<Utc>,
    action: &str,
    path: Option<&str>,
    version: Option<i64>,
    status: u16,
    extra: Value,
) -> AuditRow {
    AuditRow {
        id: new_time_ordered_id("log_", to_micros(now)),
        tenant_id: actor.tenant_id.to_string(),
        ts: to_micros(now),
        action: action.to_string(),
        identity_type: actor.identity_type,
        identity_id: without_nul(actor.identity_id),
        secret_path: path.map(without_nul),
        version,
        source_ip: ctx.source_ip.clone(),
        user_agent: ctx.user_agent.as_deref().map(without_nul),
        success: status < 400,
        status_code: i64::from(status),
        duration_ms: ctx.elapsed_ms(),
        request_id: Some(ctx.request_id.to_string()),
        extra_data: if extra.is_null() {
            "{}".to_string()
        } else {
            extra.to_string()
        },
        seq: None,
        hash: None,
    }
}

/// Builds the audit row of background or command-line work (no request): a success with
/// status 200 unless the caller overrides fields.
pub fn system_row(
    tenant_id: &str,
    identity_id: &str,
    now: DateTime<Utc>,
    action: &str,
    path: Option<&str>,
    version: Option<i64>,
    extra: Value,
) -> AuditRow {
    AuditRow {
        id: new_time_ordered_id("log_", to_micros(now)),
        tenant_id: tenant_id.to_string(),
        ts: to_micros(now),
        action: action.to_string(),
        identity_type: IdentityType::System,
        identity_id: without_nul(identity_id),
        secret_path: path.map(without_nul),
        version,
        source_ip: None,
        user_agent: None,
        success: true,
        status_code: 200,
        duration_ms: 0,
        request_id: None,
        extra_data: extra.to_string(),
        seq: None,
        hash: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_never_reaches_an_audit_row() {
        let now = chrono::Utc::now();
        let row = system_row("t", "sa:x\0", now, "read", Some("a\0b"), None, Value::Null);
        assert_eq!(row.secret_path.as_deref(), Some("a\u{fffd}b"));
        assert_eq!(row.identity_id, "sa:x\u{fffd}");
        assert_eq!(without_nul("plain"), "plain");
    }
}
