//! `scaivault token create|list|revoke`: token management directly on the configured store.

use super::output::line;
use super::TokenCommand;
use crate::clock::{from_micros, rfc3339};
use crate::config::Config;
use crate::domain::duration::ApiDuration;
use crate::domain::path::validate_prefix;
use crate::domain::scope::ScopeSet;
use crate::domain::token::{
    normalize_tenant, valid_tenant, valid_token_name, NewToken, DEFAULT_TENANT,
};
use crate::domain::token_ops::{kind, token_row, TokenOps, TokenSpec};
use crate::store::Store;
use secrecy::ExposeSecret;

/// Failure of a token command, shown as one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(String);

fn tenant_of(t: Option<String>) -> Result<String, CliError> {
    match t {
        None => Ok(DEFAULT_TENANT.to_string()),
        Some(t) if valid_tenant(&t) => Ok(normalize_tenant(&t)),
        Some(_) => Err(CliError(
            "--tenant must be 1-64 of a-z, 0-9, '_', '-'".into(),
        )),
    }
}

/// Runs one token command against the configured, existing database (migrating it first).
pub async fn run(config: &Config, cmd: TokenCommand) -> anyhow::Result<()> {
    let store = super::store_access::open_existing(config).await?;
    let now = chrono::Utc::now();
    match cmd {
        TokenCommand::Create {
            name,
            scopes,
            ttl,
            path_prefix: path_prefixes,
            tenant,
        } => {
            if !valid_token_name(&name) {
                return Err(CliError(
                    "--name must be 1-64 of letters, digits, '.', '_', '-'".into(),
                )
                .into());
            }
            let scopes = ScopeSet::parse(scopes.iter().map(String::as_str)).map_err(CliError)?;
            if scopes.is_empty() {
                return Err(CliError("--scopes needs at least one scope".into()).into());
            }
            let ttl = ttl
                .map(|t| ApiDuration::parse(&t).map_err(|e| CliError(format!("--ttl: {e}"))))
                .transpose()?;
            for p in &path_prefixes {
                validate_prefix(p).map_err(|e| CliError(format!("--path-prefix: {e}")))?;
            }
            let tenant = tenant_of(tenant)?;
            let token = NewToken::generate();
            let row = token_row(
                &TokenSpec {
                    tenant_id: &tenant,
                    name: &name,
                    scopes: &scopes,
                    path_prefixes: &path_prefixes,
                    ttl: ttl.as_ref(),
                    kind: kind::API,
                    created_by: "cli",
                    is_user: false,
                },
                &token,
                now,
            );
            let audit = cli_audit_row(
                &tenant,
                crate::audit::action::TOKEN_CREATE,
                now,
                serde_json::json!({ "token_id": row.id, "name": row.name }),
            );
            TokenOps::new(&store).create(&row, &audit).await?;
            eprintln!(
                "created {} ({}) in {}; the token is shown once:",
                row.id, row.identity_id, row.tenant_id
            );
            line(token.plaintext.expose_secret())?;
        }
        TokenCommand::List { tenant } => {
            let tenant = tenant_of(tenant)?;
            let mut after: Option<String> = None;
            line(format_args!(
                "{:<26} {:<24} {:<10} {:<22} SCOPES",
                "ID", "NAME", "STATUS", "EXPIRES"
            ))?;
            loop {
                let rows = store.list_tokens(&tenant, after.as_deref(), 500).await?;
                for t in &rows {
                    let status = if t.revoked_at.is_some() {
                        "revoked"
                    } else if t.expires_at.is_some_and(|e| e <= now.timestamp_micros()) {
                        "expired"
                    } else {
                        "active"
                    };
                    let expires = t
                        .expires_at
                        .map(|e| rfc3339(from_micros(e)))
                        .unwrap_or_else(|| "never".into());
                    line(format_args!(
                        "{:<26} {:<24} {:<10} {:<22} {}",
                        t.id, t.name, status, expires, t.scopes
                    ))?;
                }
                match rows.last() {
                    Some(last) if rows.len() == 500 => after = Some(last.id.clone()),
                    _ => break,
                }
            }
        }
        TokenCommand::Revoke { id, tenant } => {
            let tenant = tenant_of(tenant)?;
            let audit = cli_audit_row(
                &tenant,
                crate::audit::action::TOKEN_REVOKE,
                now,
                serde_json::json!({ "token_id": id }),
            );
            if !TokenOps::new(&store)
                .revoke(&tenant, &id, now.timestamp_micros(), &audit)
                .await?
            {
                return Err(CliError(format!("no active token '{id}' in {tenant}")).into());
            }
            line(format_args!("revoked {id}"))?;
        }
    }
    store.close().await;
    Ok(())
}

/// The audit row of a token change made from the command line (identity `system:cli`), in the
/// token's tenant.
fn cli_audit_row(
    tenant: &str,
    action: &str,
    now: chrono::DateTime<chrono::Utc>,
    extra: serde_json::Value,
) -> crate::store::AuditRow {
    crate::audit::system_row(tenant, "system:cli", now, action, None, None, extra)
}
