//! Token creation shared by the API, the CLI and start-up bootstrap, and the token service:
//! each change one transaction with its audit row.

use super::duration::ApiDuration;
use super::ids::new_id;
use super::scope::ScopeSet;
use super::token::NewToken;
use crate::clock::to_micros;
use crate::store::{IdentityType, TokenKind, TokenRow};
use chrono::{DateTime, Utc};

/// Token kinds: how a token came to exist.
pub mod kind {
    use crate::store::TokenKind;
    pub const API: TokenKind = TokenKind::Api;
    pub const BOOTSTRAP: TokenKind = TokenKind::Bootstrap;
    pub const ROOT_ENV: TokenKind = TokenKind::RootEnv;
    pub const DEV_ROOT: TokenKind = TokenKind::DevRoot;
}

/// What a new token should carry.
pub struct TokenSpec<'a> {
    pub tenant_id: &'a str,
    pub name: &'a str,
    pub scopes: &'a ScopeSet,
    pub path_prefixes: &'a [String],
    pub ttl: Option<&'a ApiDuration>,
    pub kind: TokenKind,
    pub created_by: &'a str,
    /// `user:…` for people (root, bootstrap), `sa:…` for service accounts.
    pub is_user: bool,
}

/// Builds the stored row for a token (the plaintext lives only in `NewToken`).
pub fn token_row(spec: &TokenSpec<'_>, token: &NewToken, now: DateTime<Utc>) -> TokenRow {
    let (identity_id, identity_type) = if spec.is_user {
        (format!("user:{}", spec.name), IdentityType::User)
    } else {
        (format!("sa:{}", spec.name), IdentityType::ServiceAccount)
    };
    TokenRow {
        id: new_id("tok_"),
        tenant_id: spec.tenant_id.to_string(),
        name: spec.name.to_string(),
        token_hash: token.hash.clone(),
        identity_id,
        identity_type,
        scopes: serde_json::to_string(&spec.scopes.names()).unwrap_or_else(|_| "[]".into()),
        path_prefixes: serde_json::to_string(spec.path_prefixes).unwrap_or_else(|_| "[]".into()),
        kind: spec.kind,
        created_at: to_micros(now),
        created_by: spec.created_by.to_string(),
        expires_at: spec.ttl.map(|d| to_micros(now + d.as_chrono())),
        revoked_at: None,
    }
}

/// The token service over one store.
pub struct TokenOps<'a> {
    store: &'a dyn crate::store::Store,
}

impl<'a> TokenOps<'a> {
    pub fn new(store: &'a dyn crate::store::Store) -> Self {
        Self { store }
    }

    /// Stores a new token with its audit row.
    pub async fn create(
        &self,
        row: &TokenRow,
        audit: &crate::store::AuditRow,
    ) -> crate::store::StoreResult<()> {
        let mut tx = self.store.begin().await?;
        tx.insert_token(row).await?;
        tx.insert_audit(audit).await?;
        tx.commit().await
    }

    /// Revokes an active token of the tenant; false when there is none.
    pub async fn revoke(
        &self,
        tenant_id: &str,
        id: &str,
        now_us: i64,
        audit: &crate::store::AuditRow,
    ) -> crate::store::StoreResult<bool> {
        let mut tx = self.store.begin().await?;
        if !tx.revoke_token(tenant_id, id, now_us).await? {
            return Ok(false);
        }
        tx.insert_audit(audit).await?;
        tx.commit().await?;
        Ok(true)
    }
}
