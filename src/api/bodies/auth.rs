//! `/v1/auth` and `/v1/health…` bodies (SPEC §2, §8): requests parsed and checked, answers
//! built from rows. A token's value appears only in the answer that creates it.

use super::common::{field_duration, opt_ts, ts, ScopeName};
use crate::clock::rfc3339;
use crate::domain::duration::ApiDuration;
use crate::domain::path::validate_prefix;
use crate::domain::scope::ScopeSet;
use crate::domain::token::{valid_token_name, Caller};
use crate::http::error::ApiError;
use crate::http::typed_body::Checker;
use crate::store::TokenRow;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use zeroize::Zeroizing;

/// `GET /v1/auth/whoami`.
#[derive(Serialize, ToSchema)]
pub struct Whoami {
    pub identity_id: String,
    /// `user` or `service_account`.
    pub identity_type: String,
    pub tenant_id: String,
    pub token_id: String,
    #[schema(value_type = Vec<ScopeName>)]
    pub scopes: Vec<String>,
    pub path_prefixes: Vec<String>,
    pub token_expires_at: Option<String>,
}

/// A token as listed (never its value or hash).
#[derive(Serialize, ToSchema)]
pub struct Token {
    pub id: String,
    pub name: String,
    pub identity_id: String,
    pub identity_type: String,
    pub tenant_id: String,
    #[schema(value_type = Vec<ScopeName>)]
    pub scopes: Vec<String>,
    pub path_prefixes: Vec<String>,
    pub created_at: String,
    pub created_by: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    #[schema(value_type = TokenStatus)]
    pub status: String,
}

/// Whether a token can be used.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    Active,
    Expired,
    Revoked,
}

/// `POST /v1/auth/tokens` answer: the token with its value, shown this once.
#[derive(Serialize, ToSchema)]
pub struct NewToken {
    #[serde(flatten)]
    pub fields: Token,
    /// `skt_…`; store it now, it is never shown again.
    pub token: String,
}

/// `GET /v1/auth/tokens`.
#[derive(Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<Token>,
    pub has_more: bool,
    pub cursor: Option<String>,
}

/// `POST /v1/auth/tokens` body.
#[derive(Deserialize, ToSchema)]
pub struct TokenCreate {
    /// 1-64 of letters, digits, `.`, `_`, `-`.
    #[schema(value_type = String, pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub name: Option<String>,
    #[schema(value_type = Vec<ScopeName>, min_items = 1)]
    pub scopes: Option<Vec<String>>,
    /// Lifetime such as `90d`; none = no expiry.
    #[schema(example = "90d", pattern = "^[1-9][0-9]{0,4}[smhdw]$")]
    pub ttl: Option<String>,
    /// Path rules; a path-restricted caller must give rules inside its own.
    pub path_prefixes: Option<Vec<String>>,
}

/// A checked token-create body.
pub struct TokenSpecBody {
    pub name: String,
    pub scopes: ScopeSet,
    pub ttl: Option<ApiDuration>,
    pub path_prefixes: Vec<String>,
}

impl TokenCreate {
    /// The token to mint.
    pub fn check(self, mut c: Checker) -> Result<TokenSpecBody, ApiError> {
        let name = match self.name {
            Some(n) if valid_token_name(&n) => Some(n),
            _ => {
                c.push(
                    "name",
                    "is required: 1-64 of letters, digits, '.', '_', '-'",
                );
                None
            }
        };
        let scopes = match self.scopes {
            Some(names) if !names.is_empty() => {
                match ScopeSet::parse(names.iter().map(String::as_str)) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        c.push("scopes", e);
                        None
                    }
                }
            }
            _ => {
                c.push("scopes", "is required: a non-empty list of scope names");
                None
            }
        };
        let ttl = match self.ttl {
            None => None,
            Some(s) => Some(field_duration(&s, "ttl")?),
        };
        let mut path_prefixes = Vec::new();
        for p in self.path_prefixes.unwrap_or_default() {
            if p.is_empty() {
                c.push("path_prefixes", "must be a list of non-empty path prefixes");
            } else {
                validate_prefix(&p).map_err(|e| ApiError::invalid_path(e.0))?;
                path_prefixes.push(p);
            }
        }
        let spec = name.zip(scopes).map(|(name, scopes)| TokenSpecBody {
            name,
            scopes,
            ttl,
            path_prefixes,
        });
        c.finish(spec)
    }
}

/// `POST /v1/auth/introspect` body.
#[derive(Deserialize, ToSchema)]
pub struct IntrospectRequest {
    #[schema(value_type = String)]
    pub token: Option<Zeroizing<String>>,
}

impl IntrospectRequest {
    /// The token to look at.
    pub fn check(self, mut c: Checker) -> Result<Zeroizing<String>, ApiError> {
        let token = c.required("token", self.token);
        c.finish(token)
    }
}

/// `POST /v1/auth/introspect` answer: `{"active":false}` for an unknown, expired or revoked
/// token (or one of another tenant), else `active:true` with the token's fields.
#[derive(Serialize, ToSchema, Default)]
pub struct Introspection {
    pub active: bool,
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_id: Option<String>,
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_type: Option<String>,
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[schema(value_type = Option<Vec<ScopeName>>, nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_prefixes: Option<Vec<String>>,
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[schema(value_type = Option<String>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Option<String>>,
    #[schema(value_type = Option<String>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Option<String>>,
    #[schema(value_type = Option<TokenStatus>, nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl From<Token> for Introspection {
    /// An active token's introspection.
    fn from(t: Token) -> Self {
        Introspection {
            active: true,
            id: Some(t.id),
            name: Some(t.name),
            identity_id: Some(t.identity_id),
            identity_type: Some(t.identity_type),
            tenant_id: Some(t.tenant_id),
            scopes: Some(t.scopes),
            path_prefixes: Some(t.path_prefixes),
            created_at: Some(t.created_at),
            created_by: Some(t.created_by),
            expires_at: Some(t.expires_at),
            revoked_at: Some(t.revoked_at),
            status: Some(t.status),
        }
    }
}

impl Token {
    /// A stored token as shown at `now_us`.
    pub fn of(t: &TokenRow, now_us: i64) -> Self {
        let status = if t.revoked_at.is_some() {
            "revoked"
        } else if t.expires_at.is_some_and(|e| e <= now_us) {
            "expired"
        } else {
            "active"
        };
        Token {
            id: t.id.clone(),
            name: t.name.clone(),
            identity_id: t.identity_id.clone(),
            identity_type: t.identity_type.as_str().to_string(),
            tenant_id: t.tenant_id.clone(),
            scopes: serde_json::from_str(&t.scopes).unwrap_or_default(),
            path_prefixes: serde_json::from_str(&t.path_prefixes).unwrap_or_default(),
            created_at: ts(t.created_at),
            created_by: t.created_by.clone(),
            expires_at: opt_ts(t.expires_at),
            revoked_at: opt_ts(t.revoked_at),
            status: status.into(),
        }
    }
}

impl From<&Caller> for Whoami {
    fn from(caller: &Caller) -> Self {
        Whoami {
            identity_id: caller.identity_id.clone(),
            identity_type: caller.identity_type.as_str().to_string(),
            tenant_id: caller.tenant_id.clone(),
            token_id: caller.token_id.clone(),
            scopes: caller.scopes.names(),
            path_prefixes: caller.path_prefixes.clone(),
            token_expires_at: caller.expires_at.map(rfc3339),
        }
    }
}

/// `GET /v1/health`.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `healthy`.
    pub status: String,
    pub timestamp: String,
}

/// `GET /v1/health/ready`: `ready` (200) or `not_ready` (503) with the failing checks.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: String,
    /// `database` and `encryption`: `ok` or `error`.
    pub checks: BTreeMap<String, String>,
    /// Why a check failed (only when not ready).
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<BTreeMap<String, String>>,
}

/// `GET /v1/version`.
#[derive(Serialize, ToSchema)]
pub struct Version {
    pub version: String,
    pub commit: String,
}
