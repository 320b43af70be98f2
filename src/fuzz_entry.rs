//! Entry points for the fuzz targets (`fuzz/`) and property tests: one function per request
//! body (or query string) the API reads, each running the handler's own parsing on raw bytes
//! and answering `Err("<status> <code>: <message>")` on a refusal, plus the crate-private
//! renderers the targets check. Thin wrappers only: when a body's parsing moves, re-point the
//! wrapper, keep its name.

use crate::api::{self, bodies};
use crate::domain::scope::ScopeSet;
use crate::domain::token::Caller;
use crate::http::body::parse_object;
use crate::http::error::ApiError;
use crate::http::guard::query_map;
use crate::http::typed_body::JsonBody;
use crate::store::PolicyRow;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

type Parsed = Result<(), String>;

/// A named body parser.
pub type BodyParser = (&'static str, fn(&[u8]) -> Parsed);

fn refusal(e: ApiError) -> String {
    format!("{} {}: {}", e.status.as_u16(), e.code, e.message)
}

fn object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    parse_object(bytes).map_err(refusal)
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
}

/// An unrestricted admin, for the parsers that build a query for their caller.
fn root() -> Caller {
    Caller {
        token_id: "tok_fuzz".into(),
        identity_id: "sa:fuzz".into(),
        identity_type: crate::store::IdentityType::ServiceAccount,
        tenant_id: "tnt_default".into(),
        scopes: ScopeSet::parse(["admin"]).unwrap_or_default(),
        path_prefixes: Vec::new(),
        expires_at: None,
        recheck_token: false,
    }
}

/// Parses `bytes` as the JSON object body `T`, collecting wrong-typed fields.
fn typed<T: DeserializeOwned>(bytes: &[u8]) -> Result<JsonBody<T>, String> {
    crate::http::typed_body::parse(object(bytes)?).map_err(refusal)
}

/// `PUT /v1/secrets/{path}`.
pub fn parse_secret_put(bytes: &[u8]) -> Parsed {
    let b = typed::<bodies::secrets::SecretWrite>(bytes)?;
    b.body.check(b.check, now()).map(drop).map_err(refusal)
}

/// `PATCH /v1/secrets/{path}/metadata`.
pub fn parse_secret_patch(bytes: &[u8]) -> Parsed {
    let b = typed::<bodies::secrets::MetadataPatch>(bytes)?;
    b.body.check(b.check, now()).map(drop).map_err(refusal)
}

/// `POST /v1/secrets/batch`.
pub fn parse_secret_batch(bytes: &[u8]) -> Parsed {
    let b = typed::<bodies::secrets::BatchRead>(bytes)?;
    b.body.check(b.check).map(drop).map_err(refusal)
}

/// `POST /v1/auth/tokens`.
pub fn parse_token_create(bytes: &[u8]) -> Parsed {
    let b = typed::<bodies::auth::TokenCreate>(bytes)?;
    b.body.check(b.check).map(drop).map_err(refusal)
}

/// `POST /v1/auth/introspect`.
pub fn parse_token_introspect(bytes: &[u8]) -> Parsed {
    let b = typed::<bodies::auth::IntrospectRequest>(bytes)?;
    b.body.check(b.check).map(drop).map_err(refusal)
}

fn target_rules() -> crate::delivery::target::TargetRules {
    use crate::delivery::target::{parse_cidrs, TargetRules, DEFAULT_DENY_CIDRS};
    TargetRules {
        deny: parse_cidrs(DEFAULT_DENY_CIDRS).unwrap_or_default(),
        allow: Vec::new(),
    }
}

/// `POST /v1/webhooks`.
pub fn parse_webhook_create(bytes: &[u8]) -> Parsed {
    let rules = target_rules();
    let targets = bodies::webhooks::Targets {
        allow_http: false,
        rules: &rules,
    };
    let b = typed::<bodies::webhooks::WebhookCreate>(bytes)?;
    b.body.check(b.check, &targets).map(drop).map_err(refusal)
}

/// `PATCH /v1/webhooks/{id}` (a new `secret` here is the secret rotation).
pub fn parse_webhook_update(bytes: &[u8]) -> Parsed {
    let rules = target_rules();
    let targets = bodies::webhooks::Targets {
        allow_http: false,
        rules: &rules,
    };
    let b = typed::<bodies::webhooks::WebhookPatch>(bytes)?;
    b.body.check(b.check, &targets).map(drop).map_err(refusal)
}

/// The row a create starts from (as the handler builds it), or a stored 90d policy to patch.
fn policy_row(create: bool) -> PolicyRow {
    let (interval, secs) = if create {
        ("", 0)
    } else {
        ("90d", 90 * 86_400)
    };
    PolicyRow {
        tenant_id: "tnt_default".into(),
        id: String::new(),
        name: String::new(),
        description: None,
        interval_text: interval.into(),
        interval_seconds: secs,
        grace_text: "48h".into(),
        grace_seconds: 48 * 3600,
        warn_before: String::new(),
        auto_generate: false,
        webhook_ids: "[]".into(),
        is_active: true,
        created_at: 0,
        updated_at: 0,
        secret_policy_id: None,
    }
}

/// `POST /v1/rotation/policies` (without the store lookup of `webhook_ids`).
pub fn parse_policy_create(bytes: &[u8]) -> Parsed {
    let b = typed::<bodies::rotation::PolicyCreate>(bytes)?;
    b.body
        .apply(b.check, &mut policy_row(true))
        .map(drop)
        .map_err(refusal)
}

/// `PATCH /v1/rotation/policies/{id}` (without the store lookup of `webhook_ids`).
pub fn parse_policy_update(bytes: &[u8]) -> Parsed {
    let b = typed::<bodies::rotation::PolicyPatch>(bytes)?;
    b.body
        .apply(b.check, &mut policy_row(false))
        .map(drop)
        .map_err(refusal)
}

/// A secret policy row as a create starts it.
fn secret_policy_row() -> crate::store::SecretPolicyRow {
    crate::store::SecretPolicyRow {
        tenant_id: "tnt_default".into(),
        id: "sp_fuzz".into(),
        name: String::new(),
        description: None,
        policy_type: "custom".into(),
        fields: "[]".into(),
        is_active: true,
        created_at: 0,
        updated_at: 0,
    }
}

/// `POST /v1/secret-policies` (the recipe's checks included).
pub fn parse_secret_policy_create(bytes: &[u8]) -> Parsed {
    let b = typed::<bodies::secret_policies::SecretPolicyCreate>(bytes)?;
    b.body
        .apply(b.check, &mut secret_policy_row())
        .map_err(refusal)
}

/// `PATCH /v1/secret-policies/{id}`.
pub fn parse_secret_policy_update(bytes: &[u8]) -> Parsed {
    let b = typed::<bodies::secret_policies::SecretPolicyPatch>(bytes)?;
    b.body
        .apply(b.check, &mut secret_policy_row())
        .map_err(refusal)
}

/// `POST /v1/rotation/policies/{id}/secrets`.
pub fn parse_policy_attach(bytes: &[u8]) -> Parsed {
    let b = typed::<bodies::rotation::AttachRequest>(bytes)?;
    let raw = b.body.check(b.check).map_err(refusal)?;
    crate::domain::path::SecretPath::parse(&raw)
        .map(drop)
        .map_err(|e| refusal(ApiError::invalid_path(e.0)))
}

/// `POST /v1/rotation/policies/{id}/rotate`.
pub fn parse_policy_rotate(bytes: &[u8]) -> Parsed {
    let b = typed::<bodies::rotation::RotateRequest>(bytes)?;
    b.check.finish(Some(())).map_err(refusal)?;
    for raw in b.body.secret_paths.unwrap_or_default() {
        crate::domain::path::SecretPath::parse(&raw)
            .map_err(|e| refusal(ApiError::invalid_path(e.0)))?;
    }
    Ok(())
}

/// `POST /v1/audit/export`.
pub fn parse_audit_export(bytes: &[u8]) -> Parsed {
    let b = typed::<bodies::audit::ExportRequest>(bytes)?;
    let checked = b.body.check(b.check).map_err(refusal)?;
    let mut params: std::collections::HashMap<String, String> =
        checked.params.into_iter().collect();
    params.insert("limit".into(), "1000".into());
    api::audit::build_query(&root(), &params)
        .map(drop)
        .map_err(refusal)
}

/// The query string of `GET /v1/audit/logs` (and the other audit lists).
pub fn parse_audit_query(bytes: &[u8]) -> Parsed {
    let raw = String::from_utf8_lossy(bytes);
    let params = query_map(Some(&raw));
    api::audit::build_query(&root(), &params)
        .map(drop)
        .map_err(refusal)
}

/// The query string of `GET /v1/events` (all but `after`, which is looked up in the store).
pub fn parse_events_query(bytes: &[u8]) -> Parsed {
    let raw = String::from_utf8_lossy(bytes);
    api::events::feed_params(&query_map(Some(&raw)))
        .map(drop)
        .map_err(refusal)
}

/// Every body parser above, by name, for targets and tests that run them all.
pub const BODY_PARSERS: [BodyParser; 17] = [
    ("secret_put", parse_secret_put),
    ("secret_patch", parse_secret_patch),
    ("secret_batch", parse_secret_batch),
    ("token_create", parse_token_create),
    ("token_introspect", parse_token_introspect),
    ("webhook_create", parse_webhook_create),
    ("webhook_update", parse_webhook_update),
    ("policy_create", parse_policy_create),
    ("policy_update", parse_policy_update),
    ("policy_attach", parse_policy_attach),
    ("policy_rotate", parse_policy_rotate),
    ("audit_export", parse_audit_export),
    ("audit_query", parse_audit_query),
    ("events_query", parse_events_query),
    ("json_object", |b| object(b).map(drop)),
    ("secret_policy_create", parse_secret_policy_create),
    ("secret_policy_update", parse_secret_policy_update),
];

/// The CSV export's columns, in order.
pub const AUDIT_CSV_COLUMNS: [&str; 14] = api::audit_csv::COLUMNS;

/// One audit row view as the CSV export writes it (`POST /v1/audit/export` with `csv`).
pub fn audit_csv_line(row: &Value) -> String {
    api::audit_csv::line(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fuzz seeds of `request_bodies` (first byte: the parser) as an ordinary test: no
    /// refusal is a 5xx, and each parser accepts its valid seed (so fuzzing starts past the
    /// refusals).
    #[test]
    fn seeds_parse_or_are_refused_as_4xx() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/request_bodies");
        let mut accepted = std::collections::BTreeSet::new();
        for entry in std::fs::read_dir(dir).expect("seed folder") {
            let bytes = std::fs::read(entry.expect("entry").path()).expect("seed");
            let Some((&pick, body)) = bytes.split_first() else {
                continue;
            };
            let (name, parse) = BODY_PARSERS[pick as usize % BODY_PARSERS.len()];
            match parse(body) {
                Ok(()) => {
                    accepted.insert(name);
                }
                Err(e) => assert!(e.starts_with('4'), "{name}: {e}"),
            }
        }
        let all: std::collections::BTreeSet<_> = BODY_PARSERS.iter().map(|(n, _)| *n).collect();
        assert_eq!(accepted, all);
    }
}
