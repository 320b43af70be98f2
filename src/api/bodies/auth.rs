//! `/v1/auth` and `/v1/health…` bodies (SPEC §2, §8).

use super::common::ScopeName;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// `GET /v1/auth/whoami`.
#[derive(Serialize, ToSchema)]
pub struct Whoami {
    pub identity_id: String,
    /// `user` or `service_account`.
    pub identity_type: String,
    pub tenant_id: String,
    pub token_id: String,
    pub scopes: Vec<ScopeName>,
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
    pub scopes: Vec<ScopeName>,
    pub path_prefixes: Vec<String>,
    pub created_at: String,
    pub created_by: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub status: TokenStatus,
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
#[derive(Serialize, ToSchema)]
pub struct TokenCreate {
    /// 1-64 of letters, digits, `.`, `_`, `-`.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub name: String,
    #[schema(min_items = 1)]
    pub scopes: Vec<ScopeName>,
    /// Lifetime such as `90d`; none = no expiry.
    #[schema(example = "90d", pattern = "^[1-9][0-9]{0,4}[smhdw]$")]
    pub ttl: Option<String>,
    /// Path rules; a path-restricted caller must give rules inside its own.
    pub path_prefixes: Option<Vec<String>>,
}

/// `POST /v1/auth/introspect` body.
#[derive(Serialize, ToSchema)]
pub struct IntrospectRequest {
    pub token: String,
}

/// `POST /v1/auth/introspect` answer: `{"active":false}` for an unknown, expired or revoked
/// token (or one of another tenant), else `active:true` with the token's fields.
#[derive(Serialize, ToSchema)]
pub struct Introspection {
    pub active: bool,
    #[schema(nullable = false)]
    pub id: Option<String>,
    #[schema(nullable = false)]
    pub name: Option<String>,
    #[schema(nullable = false)]
    pub identity_id: Option<String>,
    #[schema(nullable = false)]
    pub identity_type: Option<String>,
    #[schema(nullable = false)]
    pub tenant_id: Option<String>,
    #[schema(nullable = false)]
    pub scopes: Option<Vec<ScopeName>>,
    #[schema(nullable = false)]
    pub path_prefixes: Option<Vec<String>>,
    #[schema(nullable = false)]
    pub created_at: Option<String>,
    #[schema(nullable = false)]
    pub created_by: Option<String>,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    #[schema(nullable = false)]
    pub status: Option<TokenStatus>,
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
    pub errors: Option<BTreeMap<String, String>>,
}

/// `GET /v1/version`.
#[derive(Serialize, ToSchema)]
pub struct Version {
    pub version: String,
    pub commit: String,
}
