//! `/v1/audit` bodies (SPEC §7). Rows never hold a secret value or token.

use crate::clock::{from_micros, rfc3339_micros};
use crate::http::error::ApiError;
use crate::http::typed_body::Checker;
use crate::store::AuditRow;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// The filters every audit listing takes (SPEC §7), as query parameters. Only describes the
/// query string for the OpenAPI document; the handlers parse it themselves.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "read by the OpenAPI derive only")]
pub struct AuditFilters {
    /// RFC 3339; rows at or after
    #[param(format = DateTime, nullable = false)]
    from: Option<String>,
    /// RFC 3339; rows before
    #[param(format = DateTime, nullable = false)]
    to: Option<String>,
    /// Comma-separated actions
    #[param(nullable = false)]
    action: Option<String>,
    #[param(nullable = false)]
    identity_id: Option<String>,
    /// `user`, `service_account` or `system`
    #[param(nullable = false)]
    identity_type: Option<String>,
    #[param(nullable = false)]
    path_prefix: Option<String>,
    #[param(nullable = false)]
    success: Option<bool>,
    #[param(nullable = false)]
    source_ip: Option<String>,
    #[param(nullable = false)]
    request_id: Option<String>,
    /// Page size (default 100)
    #[param(minimum = 1, maximum = 1000, nullable = false)]
    limit: Option<i64>,
    /// From the previous page
    #[param(nullable = false)]
    cursor: Option<String>,
}

/// One audit row.
#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: String,
    pub timestamp: String,
    pub action: String,
    /// `user`, `service_account` or `system`.
    pub identity_type: String,
    pub identity_id: String,
    pub secret_path: Option<String>,
    pub version: Option<i64>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub success: bool,
    pub status_code: i64,
    pub duration_ms: i64,
    pub request_id: Option<String>,
    #[schema(value_type = Object)]
    pub extra_data: serde_json::Value,
    /// Position in the hash chain (null until sealed).
    pub seq: Option<i64>,
}

/// `GET /v1/audit/logs`.
#[derive(Serialize, ToSchema)]
pub struct AuditLogs {
    pub logs: Vec<AuditEntry>,
    pub has_more: bool,
    pub cursor: Option<String>,
}

/// Counts over the last 30 days.
#[derive(Serialize, ToSchema)]
pub struct PeriodSummary {
    pub period_days: i64,
    pub reads: i64,
    pub writes: i64,
    pub rotations: i64,
    pub unique_identities: i64,
}

/// `GET /v1/audit/secrets/{path}`.
#[derive(Serialize, ToSchema)]
pub struct SecretAudit {
    pub secret_path: String,
    pub summary: PeriodSummary,
    pub logs: Vec<AuditEntry>,
    pub has_more: bool,
    pub cursor: Option<String>,
}

/// `GET /v1/audit/identities/{identity_id}`.
#[derive(Serialize, ToSchema)]
pub struct IdentityAudit {
    pub identity_id: String,
    pub summary: PeriodSummary,
    pub logs: Vec<AuditEntry>,
    pub has_more: bool,
    pub cursor: Option<String>,
}

/// `GET /v1/audit/summary`.
#[derive(Serialize, ToSchema)]
pub struct AuditSummary {
    pub total_events: i64,
    pub successful_events: i64,
    pub failed_events: i64,
    pub unique_identities: i64,
    pub by_action: BTreeMap<String, i64>,
}

/// `GET /v1/audit/verify`: `ok` with the head of the chain, or the first bad row.
#[derive(Serialize, ToSchema)]
pub struct ChainVerdict {
    pub ok: bool,
    pub checked: i64,
    /// Rows not yet sealed into the chain.
    pub unsealed: i64,
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_seq: Option<i64>,
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_hash: Option<String>,
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bad_seq: Option<i64>,
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `incremental` (from the checkpoint), `full` (from the chain's start) or `from_seq`.
    pub mode: String,
    /// The first seq this run checked; rows before it were not read by this run.
    pub from_seq: i64,
    /// The last verified head stored after this run (null: none yet).
    pub checkpoint_seq: Option<i64>,
}

/// `POST /v1/audit/export` body.
#[derive(Deserialize, ToSchema)]
pub struct ExportRequest {
    pub format: Option<ExportFormat>,
    #[schema(format = DateTime)]
    pub from: Option<String>,
    #[schema(format = DateTime)]
    pub to: Option<String>,
    /// Any `GET /v1/audit/logs` query parameter (`action`, `identity_id`, `path_prefix`, …).
    #[schema(value_type = Option<Object>)]
    pub filters: Option<Map<String, Value>>,
}

/// Export file format.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    #[default]
    Jsonl,
    Csv,
}

/// A checked export body.
pub struct CheckedExport {
    pub format: ExportFormat,
    /// The filters as query parameters.
    pub params: Vec<(String, String)>,
    /// The filters as sent (for the audit row).
    pub filters: Option<Value>,
}

impl ExportRequest {
    /// The format, and the filters as query parameters (`from`/`to` beside `filters` win).
    pub fn check(self, c: Checker) -> Result<CheckedExport, ApiError> {
        let mut params = Vec::new();
        for (k, v) in self.filters.iter().flatten() {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Array(a) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                Value::Null => continue,
                other => other.to_string(),
            };
            params.push((k.clone(), s));
        }
        for (k, v) in [("from", self.from), ("to", self.to)] {
            if let Some(v) = v {
                params.push((k.to_string(), v));
            }
        }
        let format = self.format.unwrap_or_default();
        c.finish(Some(CheckedExport {
            format,
            params,
            filters: self.filters.map(Value::Object),
        }))
    }
}

impl From<&AuditRow> for AuditEntry {
    /// One row as the API shows it.
    fn from(r: &AuditRow) -> Self {
        AuditEntry {
            id: r.id.clone(),
            timestamp: rfc3339_micros(from_micros(r.ts)),
            action: r.action.clone(),
            identity_type: r.identity_type.as_str().to_string(),
            identity_id: r.identity_id.clone(),
            secret_path: r.secret_path.clone(),
            version: r.version,
            source_ip: r.source_ip.clone(),
            user_agent: r.user_agent.clone(),
            success: r.success,
            status_code: r.status_code,
            duration_ms: r.duration_ms,
            request_id: r.request_id.clone(),
            extra_data: serde_json::from_str(&r.extra_data).unwrap_or(Value::Null),
            seq: r.seq,
        }
    }
}
